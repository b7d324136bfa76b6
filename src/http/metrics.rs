//! `GET /metrics`: the application's Prometheus series. Open unless `LIFT_METRICS_TOKEN` is set;
//! then only `Authorization: Bearer <that token>` may read them (401 otherwise).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use sea_orm::DbBackend;

use super::AppState;
use crate::db::Db;
use crate::telemetry::metrics::{PoolUsage, ScrapeTime};

pub async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.edge.metrics_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !presented.is_some_and(|p| same(p.as_bytes(), token.as_bytes())) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
                "send Authorization: Bearer <LIFT_METRICS_TOKEN>",
            )
                .into_response();
        }
    }
    let now = ScrapeTime {
        audit_tails: state.app.audit.active_tails().await,
        audit_subscribers: state.app.audit.subscribers().await,
        audit_groups: state.app.audit.fanout_groups(),
        pool: pool_usage(&state.app.db),
        open_connections: state.edge.slots.open(),
        sqlite_memory: (state.app.db.get_database_backend() == DbBackend::Sqlite)
            .then(crate::db::sqlite_memory_used),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.app.metrics.render(now),
    )
        .into_response()
}

/// The connection pool behind SeaORM (sqlx's), as it is now.
fn pool_usage(db: &Db) -> Option<PoolUsage> {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            Some(PoolUsage {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            })
        }
        DbBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            Some(PoolUsage {
                size: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            })
        }
        _ => None,
    }
}

/// Compares in time independent of where the texts differ, so the token cannot be guessed byte
/// by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::same;

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(same(b"secret", b"secret"));
        assert!(!same(b"secret", b"secreT"));
        assert!(!same(b"secret", b"secret2"));
        assert!(!same(b"", b"x"));
    }
}
