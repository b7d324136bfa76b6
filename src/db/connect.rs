//! Opening the database (SQLite file or PostgreSQL) and starting write transactions.

use std::time::Duration;

use sea_orm::sqlx::{sqlite::SqliteSynchronous, Connection};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

use crate::configuration::{DatabaseSettings, Settings};

pub type Db = DatabaseConnection;

const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a pooled PostgreSQL connection may sit idle before it is pinged when taken.
const POSTGRES_PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Connects to `url` with every other database setting at its default.
pub async fn connect(url: &str) -> anyhow::Result<Db> {
    let mut settings = Settings::defaults().database;
    settings.database_url = url.to_owned();
    connect_with(&settings).await
}

/// Connects as `settings` say. For SQLite, the parent directory of the file is created, the
/// journal is put in WAL mode (readers never wait for the writer), every commit is synced to disk
/// before it is acknowledged, and the pool is kept small: SQLite has one writer.
///
/// Waiting for a connection (and opening one) is bounded by the acquire timeout, so a database
/// outage answers quickly. A connection released while its driver still counts an open
/// transaction is closed instead of pooled (see `still_in_transaction`).
pub async fn connect_with(settings: &DatabaseSettings) -> anyhow::Result<Db> {
    let url = settings.database_url.as_str();
    let acquire = Duration::from_secs(settings.database_acquire_timeout_seconds);
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .sqlx_logging(false)
        .connect_timeout(acquire)
        .acquire_timeout(acquire);
    if url.starts_with("sqlite:") {
        if let Some(path) = sqlite_path(url) {
            let path = std::path::Path::new(&path);
            if let Some(dir) = path.parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir)?;
                }
            }
            create_private(path)?;
        }
        // A writer waits for the write lock instead of failing with "database is locked": under
        // heavy fan-out load the lock holder can be descheduled for seconds (measured: 5 s, the
        // driver's default, was too short at 10,000 subscribers).
        // `synchronous=FULL` in WAL mode syncs the log at every commit: an acknowledged write
        // survives a power failure (NORMAL may lose the last commits).
        // The driver runs each connection on a thread of its own and hands rows to the caller
        // through a channel of `row_buffer_size` (50 by default): a page of 50 items and its
        // look-ahead row fill it, so the thread stops and is woken again for the rest. 256 lets
        // every page (at most 100 items) through in one go: measured, 27 → 20 thread switches per
        // request of the metric list without attachments (`benches/batching.md`).
        // No ping when a connection is taken from the pool (the driver's default pings every
        // time): an SQLite connection is a file opened in this process, with no server or network
        // that could drop it, and the ping is a round trip to its worker thread before every
        // statement. Measured in `benches/batching.md`.
        options
            .max_connections(4)
            .min_connections(1)
            .test_before_acquire(false)
            .map_sqlx_sqlite_opts(|o| {
                o.busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .synchronous(SqliteSynchronous::Full)
                    .row_buffer_size(256)
            })
            .map_sqlx_sqlite_pool_opts(|o| {
                o.after_connect(|conn, _| Box::pin(super::sqlite_plans::stabilize(conn)))
                    .after_release(|conn, _| {
                        Box::pin(async move {
                            // The driver counts a transaction from its BEGIN until its end has run,
                            // so a count of 0 means none is open or queued to roll back, and the
                            // connection returns without a round trip to its worker thread (most
                            // releases: every read outside a transaction).
                            if !conn.is_in_transaction() {
                                return Ok(true);
                            }
                            // The ping runs after any rollback queued when a transaction was dropped.
                            conn.ping().await?;
                            Ok(!still_in_transaction(conn.is_in_transaction()))
                        })
                    })
            });
    } else {
        // PostgreSQL ends a failed transaction itself and the driver's count follows it.
        // A connection taken from the pool is pinged only when it sat idle for a second or more:
        // that is how connections a server restart or a network cut dropped while pooled are
        // found and replaced before a statement fails on them, while a busy pool, whose
        // connections come back within milliseconds, saves a network round trip before every
        // statement. The driver also pings every connection it takes back, so one that broke
        // while in use is closed there. Measured in `benches/batching.md`.
        options
            .max_connections(20)
            .min_connections(1)
            .test_before_acquire_if_idle_for(POSTGRES_PING_AFTER_IDLE);
    }
    let db = Database::connect(options).await?;
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

/// Whether a connection coming back to the pool is still inside a transaction by its driver's
/// count. That happens when SQLite ended the transaction itself: on `SQLITE_FULL` or an I/O error
/// it rolls the whole transaction back, and on a failed COMMIT it does the same, so the driver's
/// ROLLBACK fails ("no transaction is active") and its depth stays at 1. Pooled, such a
/// connection runs the next `BEGIN` as a `SAVEPOINT`; after an ordinary error (a conflict) its
/// `ROLLBACK TO` leaves that transaction open, and later mutations on the connection release
/// savepoints inside it: they report success for rows that never reach the file, and the
/// connection holds the write lock until restart (seen on a full tmpfs, see
/// `tests/api/storage/disk_full.rs`). Such a connection is closed instead; the pool opens a
/// fresh one.
fn still_in_transaction(in_transaction: bool) -> bool {
    if in_transaction {
        tracing::warn!("discarding a database connection left inside a transaction");
    }
    in_transaction
}

/// Creates the SQLite file readable by its owner only (0600) when it does not exist yet; SQLite
/// gives its `-wal` and `-shm` files the mode of the database file.
fn create_private(path: &std::path::Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("creating {}", path.display()))),
    }
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
