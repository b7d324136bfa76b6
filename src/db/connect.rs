//! Opening the database (SQLite file or PostgreSQL) and starting write transactions.

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

pub type Db = DatabaseConnection;

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Connects to `url`. For SQLite, the parent directory of the file is created, the journal is put
/// in WAL mode (readers never wait for the writer) and the pool is kept small: SQLite has one writer.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        if let Some(path) = sqlite_path(url) {
            if let Some(dir) = std::path::Path::new(&path).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
        }
        // A writer waits for the write lock instead of failing with "database is locked": under
        // heavy fan-out load the lock holder can be descheduled for seconds (measured: 5 s, the
        // driver's default, was too short at 10,000 subscribers).
        options
            .max_connections(4)
            .min_connections(1)
            .map_sqlx_sqlite_opts(|o| o.busy_timeout(SQLITE_BUSY_TIMEOUT));
    } else {
        options.max_connections(20).min_connections(1);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

/// The file path of an SQLite URL (`sqlite://data/lift.db?mode=rwc` → `data/lift.db`), or `None`
/// for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| path.to_owned())
}

/// Begins a transaction for a mutation. On SQLite it takes the write lock up front (`BEGIN
/// IMMEDIATE`), so two writers queue instead of failing when one upgrades from read to write.
pub async fn begin_write(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::sqlite_path;

    #[test]
    fn sqlite_paths_are_read_from_urls() {
        assert_eq!(
            sqlite_path("sqlite://data/lift.db?mode=rwc").as_deref(),
            Some("data/lift.db")
        );
        assert_eq!(
            sqlite_path("sqlite:/tmp/x.db").as_deref(),
            Some("/tmp/x.db")
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(sqlite_path("postgres://localhost/lift"), None);
    }
}
