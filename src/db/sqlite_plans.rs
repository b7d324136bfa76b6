//! SQLite's query planner stability guarantee, turned on for every connection.
//!
//! SQLite (3.51 here) looks at some bound values while it plans a statement: an integer bound to
//! `LIMIT ?` (which every page and every `.one()` query binds), a text bound as a `LIKE` pattern,
//! a value compared with a partial index's `WHERE`. Each such parameter marks the prepared
//! statement, and binding a new value to it expires the statement, so the driver's statement
//! cache saves nothing: every execution parses and plans the SQL again (`sqlite3Reprepare`, 4 %
//! of the metric list's CPU in `benches/batching.md`). With the guarantee on, plans do not depend
//! on bound values, a cached statement is reused as is, and the plan a query gets no longer
//! changes with its arguments.

use sea_orm::sqlx::sqlite::SqliteConnection;

/// Turns the guarantee on for `conn` (called as each pooled connection opens, before it prepares
/// anything).
pub async fn stabilize(conn: &mut SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    set(conn, 1).await.map(|_| ())
}

/// Whether the guarantee is on for `conn`.
pub async fn is_stable(conn: &mut SqliteConnection) -> Result<bool, sea_orm::sqlx::Error> {
    set(conn, -1).await.map(|on| on == 1)
}

/// `SQLITE_DBCONFIG_ENABLE_QPSG` with `value` (1 on, 0 off, negative to only read it); the value
/// after the call.
async fn set(conn: &mut SqliteConnection, value: i32) -> Result<i32, sea_orm::sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut now: std::ffi::c_int = -1;
    // SAFETY: `db` is this connection's open handle, held locked by `handle` (no other thread
    // uses it meanwhile); this option takes an int and a pointer to an int that SQLite writes the
    // new setting to, which `now` outlives.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(
            db,
            libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG,
            value as std::ffi::c_int,
            &mut now as *mut std::ffi::c_int,
        )
    };
    if rc != libsqlite3_sys::SQLITE_OK {
        return Err(sea_orm::sqlx::Error::Protocol(format!(
            "SQLITE_DBCONFIG_ENABLE_QPSG failed with code {rc}"
        )));
    }
    Ok(now)
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnectionTrait, Statement};

    /// Every connection the pool opens has the guarantee on, and a statement whose `LIMIT` is
    /// bound still answers by the value bound at each execution.
    #[tokio::test]
    async fn pooled_connections_plan_without_bound_values() {
        let dir = std::env::temp_dir().join(format!("lift-plans-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("plans.db").display());
        let db = crate::db::connect(&url).await.expect("connect");
        let pool = db.get_sqlite_connection_pool();
        let (mut a, mut b) = (
            pool.acquire().await.expect("a connection"),
            pool.acquire().await.expect("another connection"),
        );
        assert!(super::is_stable(&mut a).await.expect("read the setting"));
        assert!(super::is_stable(&mut b).await.expect("read the setting"));
        drop((a, b));
        for limit in [1i64, 3, 2] {
            let rows = db
                .query_all_raw(Statement::from_sql_and_values(
                    db.get_database_backend(),
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) \
                     SELECT i FROM n LIMIT ?",
                    [limit.into()],
                ))
                .await
                .expect("query");
            assert_eq!(rows.len() as i64, limit);
        }
        db.close().await.ok();
        let _ = std::fs::remove_dir_all(dir);
    }
}
