//! `/graphql` over HTTP, as the GraphQL over HTTP specification says (its audit suite runs in
//! `tests/api/graphql_http.rs`):
//! - `POST` with a JSON body (`Content-Type: application/json`, else `415`) runs any operation;
//! - `GET` with `?query=` runs queries only: a mutation over GET is `405` (`Allow: GET, POST`). A
//!   GET without a query that accepts HTML gets GraphiQL; a WebSocket upgrade, subscriptions;
//! - the answer is `application/graphql-response+json` or `application/json`, as `Accept` prefers
//!   (`406` when neither is acceptable). With `application/json` every GraphQL response is `200`;
//!   with `application/graphql-response+json` a request that fails before execution (syntax,
//!   validation, variable coercion) is `400` and has no `data`;
//! - a request that is not well-formed (invalid JSON, a batch array, a parameter of the wrong
//!   type) is `400` with a GraphQL error coded `BAD_USER_INPUT`, in either media type;
//! - when authentication cannot be checked (the database is down), `503` with the error's code.

use async_graphql::parser::types::OperationType;
use async_graphql::{ErrorExtensions, Executor};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use super::graphql_request::{self as params, Malformed, MediaType};
use super::{graphiql, websocket, AppState};
use crate::auth::authenticate;
use crate::domain::DomainError;

/// `GET /graphql`: a WebSocket upgrade, GraphiQL for a browser, or a query.
pub async fn get(State(state): State<AppState>, request: Request) -> Response {
    if websocket::is_upgrade(request.headers()) {
        return websocket::upgrade(state, request).await;
    }
    let headers = request.headers().clone();
    let accept = header_text(&headers, header::ACCEPT);
    let pairs = Query::<std::collections::HashMap<String, String>>::try_from_uri(request.uri())
        .map(|Query(pairs)| pairs);
    let has_query = pairs.as_ref().is_ok_and(|p| p.contains_key("query"));
    if !has_query && params::accepts_html(accept) {
        return graphiql::page();
    }
    let Some(media) = params::negotiate(accept) else {
        return not_acceptable();
    };
    let pairs = match pairs {
        Ok(pairs) => pairs,
        Err(rejection) => {
            return refused(
                StatusCode::BAD_REQUEST,
                media,
                &format!("the query string is not valid: {}", rejection.body_text()),
            )
        }
    };
    let mut request = match params::from_query_string(pairs) {
        Ok(request) => request,
        Err(Malformed(message)) => return refused(StatusCode::BAD_REQUEST, media, &message),
    };
    if params::operation_type(&mut request) == Some(OperationType::Mutation) {
        let mut response = refused(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            "mutations are not run over GET: send them with POST",
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        return response;
    }
    execute(&state, &headers, request, media).await
}

/// `POST /graphql`: any operation, from a JSON body.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = params::negotiate(header_text(&headers, header::ACCEPT)) else {
        return not_acceptable();
    };
    if !params::is_json_content_type(header_text(&headers, header::CONTENT_TYPE)) {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            "send the operation as JSON with `Content-Type: application/json`",
        );
    }
    let body = match body {
        Ok(body) => body,
        // Too large (413) or cut off: the status is the rejection's.
        Err(rejection) => return refused(rejection.status(), media, &rejection.body_text()),
    };
    match params::from_body(&body) {
        Ok(request) => execute(&state, &headers, request, media).await,
        Err(Malformed(message)) => refused(StatusCode::BAD_REQUEST, media, &message),
    }
}

/// Runs the request once one of the process's request slots is free (see `admission`).
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    media: MediaType,
) -> Response {
    let admission = &state.edge.admission;
    admission
        .run(execute_admitted(state, headers, request, media))
        .await
}

/// Authenticates the request once, runs it, and answers in `media`.
async fn execute_admitted(
    state: &AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    media: MediaType,
) -> Response {
    let authorization = header_text(headers, header::AUTHORIZATION);
    let auth = match authenticate(&state.app.db, &state.jwt, authorization).await {
        Ok(auth) => auth,
        Err(err) => return unauthenticatable(err, media),
    };
    let mut response = state.schema.execute(request.data(auth)).await;
    for error in &mut response.errors {
        coded_as_bad_input(error);
    }
    // Errors raised while executing carry the path of their field; errors without one stopped
    // the request before execution began.
    let before_execution = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = match (before_execution, media) {
        (true, MediaType::GraphQLResponseJson) => StatusCode::BAD_REQUEST,
        _ => StatusCode::OK,
    };
    let cache_control = response
        .is_ok()
        .then(|| response.cache_control.value())
        .flatten();
    let extra_headers = std::mem::take(&mut response.http_headers);
    // Straight to bytes: a large list is serialized once, in the order its fields were asked for.
    let body = if before_execution {
        serde_json::to_vec(&Refused {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    } else {
        serde_json::to_vec(&response)
    };
    let body = body.unwrap_or_else(|err| {
        tracing::error!(error = %err, "serializing a GraphQL response");
        json!({"errors": [{"message": "internal error: the response could not be serialized", "extensions": {"code": "INTERNAL"}}]}).to_string().into_bytes()
    });
    let mut answer = bytes_response(status, media, body);
    if let Some(value) = cache_control.and_then(|v| HeaderValue::from_str(&v).ok()) {
        answer.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    answer.headers_mut().extend(extra_headers);
    answer
}

/// Errors raised by async-graphql itself (syntax, validation, argument coercion) have no code: they
/// are all the client's to fix, so they get `BAD_USER_INPUT`. Codes set by `graphql/error.rs` stay.
fn coded_as_bad_input(error: &mut async_graphql::ServerError) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", crate::graphql::BAD_USER_INPUT);
    }
}

/// Authentication could not be checked: the error's code (`SERVICE_UNAVAILABLE` when the
/// database is down, retryable: `503`), never an answer that looks like a bad token.
fn unauthenticatable(err: DomainError, media: MediaType) -> Response {
    let status = match err {
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error.cause_chain = ?err, "authentication failed");
    }
    let error = err.extend();
    let body = json!({"errors": [{"message": error.message, "extensions": error.extensions}]});
    let mut response = json_response(status, media, &body);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// A request refused before it could run: a GraphQL error coded `BAD_USER_INPUT`.
fn refused(status: StatusCode, media: MediaType, message: &str) -> Response {
    let body = json!({"errors": [{"message": message, "extensions": {"code": crate::graphql::BAD_USER_INPUT}}]});
    json_response(status, media, &body)
}

fn not_acceptable() -> Response {
    refused(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        "accept application/graphql-response+json or application/json",
    )
}

fn json_response(status: StatusCode, media: MediaType, body: &Value) -> Response {
    bytes_response(status, media, body.to_string().into_bytes())
}

fn bytes_response(status: StatusCode, media: MediaType, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, media.content_type())], body).into_response()
}

/// A response refused before execution: no `data` member, as the GraphQL over HTTP
/// specification says for `application/graphql-response+json`.
#[derive(serde::Serialize)]
struct Refused<'a> {
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}
