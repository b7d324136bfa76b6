//! The HTTP surface on one path: `GET /graphql` serves GraphiQL, or upgrades to a WebSocket for
//! subscriptions (`graphql-transport-ws` and the legacy `graphql-ws`, see `websocket`);
//! `POST /graphql` runs queries and mutations; `GET /health` answers when the database does;
//! `GET /metrics` exposes Prometheus series (`metrics.rs`). `server.rs` runs the accept loop;
//! `layers.rs` wraps every route (request id, CORS, compression, body limit).

mod layers;
mod metrics;
pub mod server;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::{authenticate, JwtKeys};
use crate::domain::DomainError;
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
}

pub fn router(state: AppState) -> Router {
    let edge = state.edge.clone();
    let routes = Router::new()
        .route("/graphql", get(graphiql_or_websocket).post(graphql))
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .with_state(state);
    layers::apply(routes, edge.max_body_bytes, &edge.cors_origins)
}

async fn graphiql_or_websocket(State(state): State<AppState>, request: Request) -> Response {
    if websocket::is_upgrade(request.headers()) {
        return websocket::upgrade(state, request).await;
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish(),
    )
    .into_response()
}

async fn graphql(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let request = request.into_inner();
    match authenticate(&state.app.db, &state.jwt, header).await {
        Ok(auth) => {
            let mut response = state.schema.execute(request.data(auth)).await;
            for error in &mut response.errors {
                coded_as_bad_input(error);
            }
            response.into()
        }
        Err(err) => {
            let err: DomainError = err;
            tracing::error!(error.cause_chain = ?err, "authentication failed");
            let response =
                async_graphql::Response::from_errors(vec![async_graphql::ServerError::new(
                    "internal error: could not authenticate the request",
                    None,
                )]);
            response.into()
        }
    }
}

/// Errors raised by async-graphql itself (syntax, validation, argument coercion) have no code: they
/// are all the client's to fix, so they get `BAD_USER_INPUT`. Codes set by `graphql/error.rs` stay.
fn coded_as_bad_input(error: &mut async_graphql::ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", crate::graphql::BAD_USER_INPUT);
    }
}

async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.app.db.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}
