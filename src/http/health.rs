//! `GET /health` (liveness) and `GET /ready` (readiness).
//!
//! `/health` answers as soon as the process does and touches nothing else: a database outage must
//! not get a healthy process restarted. `/ready` checks what lift needs to serve: the database
//! and the server-wide warehouse (`LIFT_CLICKHOUSE_URL`, when set), concurrently and each within
//! [`CHECK_TIMEOUT`]; it answers 200, or 503 naming what is down.

use std::future::Future;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;

/// How long `/ready` waits for each dependency.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness: the process answers.
pub async fn health() -> impl IntoResponse {
    (StatusCode::OK, "ok")
}

/// Readiness: `{"status": "ready" | "unavailable", "database": "up" | "down",
/// "warehouse": "up" | "down" | "not_configured"}`.
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let database = check(async { state.app.db.ping().await.is_ok() });
    let warehouse = async {
        match state.app.warehouses.default_target() {
            None => "not_configured",
            Some(warehouse) => {
                status(check(async { warehouse.execute("SELECT 1", "probe").await.is_ok() }).await)
            }
        }
    };
    let (database, warehouse) = tokio::join!(database, warehouse);
    let database = status(database);
    let ready = database == "up" && warehouse != "down";
    let code = if ready {
        StatusCode::OK
    } else {
        tracing::warn!(database, warehouse, "not ready");
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": database,
        "warehouse": warehouse,
    });
    (code, Json(body))
}

/// Whether `probe` succeeds within [`CHECK_TIMEOUT`].
async fn check(probe: impl Future<Output = bool>) -> bool {
    tokio::time::timeout(CHECK_TIMEOUT, probe)
        .await
        .unwrap_or(false)
}

fn status(up: bool) -> &'static str {
    if up {
        "up"
    } else {
        "down"
    }
}
