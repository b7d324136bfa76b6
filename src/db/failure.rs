//! Which database errors mean "the database is unavailable" (retryable, `SERVICE_UNAVAILABLE`)
//! rather than a fault of lift (`INTERNAL`).

use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

use crate::domain::DomainError;

/// What clients read when the database is down, saturated or out of space; the cause is logged.
const UNAVAILABLE: &str =
    "the database is unavailable or out of space right now: retry in a few seconds";

impl From<DbErr> for DomainError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            tracing::warn!(error = %err, "database unavailable");
            DomainError::Unavailable(UNAVAILABLE.to_owned())
        } else {
            DomainError::Internal(anyhow::Error::new(err).context("database error"))
        }
    }
}

/// An outage (no connection within the acquire timeout, a refused, reset or closed connection,
/// a server shutting down) or exhausted resources (disk full, too many connections, a write lock
/// held past the busy timeout). Constraint violations, SQL errors and decoding errors are bugs or
/// input problems and stay what they are.
pub fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout | ConnAcquireErr::ConnectionClosed) => {
            true
        }
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// SQLite result codes (the primary code is the low byte of the extended one): BUSY 5, LOCKED 6,
/// NOMEM 7, IOERR 10, FULL 13, CANTOPEN 14. PostgreSQL SQLSTATEs: class 08 (connection
/// exception), class 53 (insufficient resources: disk full, out of memory, too many connections),
/// 57P01–57P03 (shutting down, crashed, not accepting connections yet).
/// A SQLSTATE has five characters; SQLite's codes, extended ones included, at most four digits.
fn unavailable_code(code: &str) -> bool {
    if code.len() == 5 {
        return code.starts_with("08")
            || code.starts_with("53")
            || matches!(code, "57P01" | "57P02" | "57P03");
    }
    code.parse::<i32>()
        .is_ok_and(|sqlite| matches!(sqlite & 0xff, 5 | 6 | 7 | 10 | 13 | 14))
}

#[cfg(test)]
mod tests {
    use super::unavailable_code;

    #[test]
    fn full_disks_outages_and_busy_locks_are_unavailable_but_constraint_errors_are_not() {
        for code in ["13", "5", "266", "08006", "57P01", "53100", "53300"] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["2067", "19", "1", "23505", "42P01", "40001"] {
            assert!(!unavailable_code(code), "{code}");
        }
    }
}
