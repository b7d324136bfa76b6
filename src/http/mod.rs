//! The HTTP surface on one path: `GET /graphql` serves GraphiQL, or upgrades to a WebSocket for
//! subscriptions (`graphql-transport-ws` and the legacy `graphql-ws`, see `websocket`);
//! `POST /graphql` runs queries and mutations; `GET /health` answers while the process runs and
//! `GET /ready` when the database and the default warehouse do (see `health`);
//! `GET /metrics` exposes counters in Prometheus' text format.

mod health;
mod websocket;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
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
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphiql_or_websocket).post(graphql))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(metrics))
        .with_state(state)
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
            use async_graphql::ErrorExtensions;
            let coded = err.extend();
            let mut error = async_graphql::ServerError::new(coded.message, None);
            error.extensions = coded.extensions;
            async_graphql::Response::from_errors(vec![error]).into()
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
