//! Test support: SQLite's query plan of a statement, on a freshly migrated database, to check
//! that what lift reads is found through indexes (the cost follows the rows read, not the size
//! of the tables).

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// A migrated SQLite database in a directory of its own; removed when dropped.
pub struct PlanDb {
    pub db: DatabaseConnection,
    dir: std::path::PathBuf,
}

impl PlanDb {
    pub async fn new() -> PlanDb {
        let dir = std::env::temp_dir().join(format!("lift-plan-{}", uuid::Uuid::now_v7()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("plan.db").display());
        let db = crate::startup::connect_and_migrate(&url)
            .await
            .expect("connect");
        PlanDb { db, dir }
    }

    /// The steps of SQLite's plan for `query` (`EXPLAIN QUERY PLAN`'s `detail` column).
    pub async fn plan(&self, query: &Statement) -> Vec<String> {
        let explain = Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!("EXPLAIN QUERY PLAN {}", query.sql),
            query.values.clone().map(|v| v.0).unwrap_or_default(),
        );
        self.db
            .query_all_raw(explain)
            .await
            .expect("a plan")
            .iter()
            .map(|row| row.try_get::<String>("", "detail").expect("detail"))
            .collect()
    }

    /// Asserts that no step of `query`'s plan scans a table whole.
    pub async fn assert_no_scan(&self, query: &Statement) {
        let plan = self.plan(query).await;
        assert!(
            plan.iter().all(|step| !step.starts_with("SCAN")),
            "{}: {plan:?}",
            query.sql
        );
    }
}

impl Drop for PlanDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
