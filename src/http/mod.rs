//! The HTTP surface on one path: `GET /graphql` serves GraphiQL, or upgrades to a WebSocket for
//! subscriptions (`graphql-transport-ws` and the legacy `graphql-ws`, see `websocket`);
//! `POST /graphql` runs queries and mutations; `GET /health` answers while the process runs and
//! `GET /ready` when the database and the default warehouse do (see `health`);
//! `GET /metrics` exposes counters in Prometheus' text format.

mod graphiql;
mod graphql;
mod graphql_request;
mod health;
mod websocket;

pub use websocket::WebSocketLimits;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::auth::JwtKeys;
use crate::graphql::AppSchema;
use crate::service::App;

#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    /// The database and the audit hub (whose shutdown token also closes WebSockets).
    pub app: App,
    pub jwt: Arc<JwtKeys>,
    /// How often idle WebSockets get a keepalive ping.
    pub keepalive: Duration,
    /// `connection_init` timeout and subscriptions per socket.
    pub ws_limits: WebSocketLimits,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/assets/{name}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Operational counters in Prometheus' text format.
async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut body = format!(
        "# HELP lift_audit_tails Environments with live audit subscribers on this process.\n\
         # TYPE lift_audit_tails gauge\n\
         lift_audit_tails {}\n\
         # HELP lift_audit_catch_ups_total Times a slow subscriber fell behind its buffer and read the gap from the database.\n\
         # TYPE lift_audit_catch_ups_total counter\n\
         lift_audit_catch_ups_total {}\n",
        state.app.audit.active_tails().await,
        state.app.audit.catch_ups()
    );
    body.push_str(
        "# HELP lift_warehouse_queries_total Queries sent to warehouses, by kind.\n\
         # TYPE lift_warehouse_queries_total counter\n",
    );
    for (kind, n) in state.app.warehouse_options.counters.snapshot() {
        body.push_str(&format!(
            "lift_warehouse_queries_total{{query=\"{kind}\"}} {n}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
