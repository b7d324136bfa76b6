//! What every request passes through, outermost first: a request id (and the tracing span that
//! carries it), CORS, response compression, and the body limit.

use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::StreamExt;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, Any, CorsLayer};
use tracing::Instrument;

/// The header that carries a request's id, in and out.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// A client's `x-request-id` is kept when it is this long at most and printable ASCII; otherwise
/// the request gets a fresh UUIDv7.
const MAX_REQUEST_ID_CHARS: usize = 128;
/// How long browsers may cache a CORS preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Wraps the routes with the edge layers.
pub fn apply(router: Router, max_body_bytes: usize, cors_origins: &[String]) -> Router {
    let router = router
        // axum's own extractors (`Bytes`, `Json`) apply the same limit instead of their 2 MB.
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(max_body_bytes, limit_body))
        .layer(CompressionLayer::new());
    let router = match cors(cors_origins) {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.layer(middleware::from_fn(request_id))
}

/// CORS for the configured origins: none → no CORS headers at all; `*` → any origin, without
/// credentials (browsers forbid both together); else exactly the listed origins, with
/// credentials. Preflights may send `Authorization` and `Content-Type`.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, X_REQUEST_ID])
        .expose_headers([X_REQUEST_ID])
        .max_age(PREFLIGHT_MAX_AGE);
    if origins.iter().any(|o| o == "*") {
        return Some(layer.allow_origin(Any));
    }
    let listed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    Some(
        layer
            .allow_origin(AllowOrigin::list(listed))
            .allow_credentials(true),
    )
}

/// Answers 413 for a body over `limit` bytes without reading more of it: at once when its
/// `Content-Length` says so (hyper never reads past a declared length), else (chunked) as soon
/// as the bytes read pass the limit.
async fn limit_body(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => return too_large(limit),
        Some(_) => return next.run(request).await,
        None if request.body().size_hint().exact() == Some(0) => return next.run(request).await,
        None => {}
    }
    let (parts, body) = request.into_parts();
    let mut chunks = body.into_data_stream();
    let mut read = Vec::new();
    while let Some(chunk) = chunks.next().await {
        let Ok(chunk) = chunk else {
            return (
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
                .into_response();
        };
        if read.len() + chunk.len() > limit {
            return too_large(limit);
        }
        read.extend_from_slice(&chunk);
    }
    next.run(Request::from_parts(parts, Body::from(read))).await
}

/// 413 with a GraphQL-shaped body, so clients show the reason like any other error.
fn too_large(limit: usize) -> Response {
    let body = serde_json::json!({
        "errors": [{
            "message": format!("the request body is larger than {limit} bytes (LIFT_MAX_BODY_BYTES)"),
            "extensions": {"code": crate::graphql::BAD_USER_INPUT},
        }]
    });
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONNECTION, "close")],
        axum::Json(body),
    )
        .into_response()
}

/// Gives the request an id (the client's, when acceptable), runs it inside a `request` span that
/// carries the id, and returns the id in the response.
async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| acceptable_id(id))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let Ok(value) = HeaderValue::from_str(&id) else {
        return next.run(request).await;
    };
    request.headers_mut().insert(X_REQUEST_ID, value.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = async move {
        let started = std::time::Instant::now();
        let response = next.run(request).await;
        tracing::debug!(
            status = response.status().as_u16(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "answered"
        );
        response
    }
    .instrument(span)
    .await;
    response.headers_mut().insert(X_REQUEST_ID, value);
    response
}

fn acceptable_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID_CHARS && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::acceptable_id;

    #[test]
    fn request_ids_are_short_printable_ascii() {
        assert!(acceptable_id("abc-123_X.y"));
        assert!(!acceptable_id(""));
        assert!(!acceptable_id("has space"));
        assert!(!acceptable_id("é"));
        assert!(!acceptable_id(&"a".repeat(129)));
        assert!(acceptable_id(&"a".repeat(128)));
    }
}
