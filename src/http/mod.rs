//! The HTTP surface on one path: `GET /graphql` serves GraphiQL, or upgrades to a WebSocket for
//! subscriptions (`graphql-transport-ws` and the legacy `graphql-ws`, see `websocket`);
//! `POST /graphql` runs queries and mutations; `GET /health` answers while the process runs and
//! `GET /ready` when the database and the default warehouse do (see `health`);
//! `GET /metrics` exposes Prometheus series (`metrics.rs`). `server.rs` runs the accept loop;
//! `layers.rs` wraps every route (request id, CORS, compression, body limit).

mod graphiql;
mod graphql;
mod graphql_request;
mod health;
mod layers;
mod metrics;
pub mod server;
mod websocket;

pub use websocket::WebSocketLimits;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;

use crate::auth::JwtKeys;
use crate::graphql::LiftExecutor;
use crate::service::App;
use crate::subscription_runtime::SubscriptionRuntime;

#[derive(Clone)]
pub struct AppState {
    pub schema: LiftExecutor,
    /// The database and the audit hub (whose shutdown token also closes WebSockets).
    pub app: App,
    pub jwt: Arc<JwtKeys>,
    /// Where WebSocket connections run (apart from request handling).
    pub subscriptions: Arc<SubscriptionRuntime>,
    /// How often idle WebSockets get a keepalive ping.
    pub keepalive: Duration,
    /// `connection_init` timeout and subscriptions per socket.
    pub ws_limits: WebSocketLimits,
    /// The limits and options of the HTTP edge.
    pub edge: Arc<Edge>,
}

/// The HTTP edge's options (from `ServerSettings`) and its connection slots.
#[derive(Debug)]
pub struct Edge {
    pub max_body_bytes: usize,
    pub cors_origins: Vec<String>,
    pub metrics_token: Option<String>,
    pub slots: server::ConnectionSlots,
    /// Bounds the GraphQL requests executing at once.
    pub admission: crate::admission::Admission,
}

pub fn router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/assets/{name}", get(graphiql::asset))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics::metrics))
        .with_state(state);
    layers::apply(routes, edge.max_body_bytes, &edge.cors_origins)
}
