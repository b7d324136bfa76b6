//! GraphQL over WebSocket. async-graphql speaks both subprotocols; around it this module adds:
//! - authentication from the `connection_init` payload (`Authorization`, `authorization` or
//!   `token`, with or without `Bearer `); a missing or bad token ends the connection with the
//!   protocol's auth error: close code 4403 on `graphql-transport-ws`, `connection_error` then
//!   close on the legacy `graphql-ws`;
//! - keepalive: a WebSocket ping on idle connections (and a `ka` message on the legacy protocol);
//! - shutdown: sockets close with 1001 when the server stops.

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_graphql::http::{WebSocketProtocols, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::PollSender;

use super::AppState;
use crate::auth::{authenticate, Authentication};

/// Close code of `graphql-transport-ws` for a refused `connection_init`.
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_GOING_AWAY: u16 = 1001;
const READ_BUFFER: usize = 4 * 1024;
const WRITE_BUFFER: usize = 8 * 1024;

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    // Which subprotocol async-graphql will speak: the first one offered that it knows.
    let kind = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        // Subscribers send little: small buffers keep an idle connection's memory low (the
        // default 128 KiB read buffer dominated the measured cost per subscriber).
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| serve(socket, protocol, kind, state))
}

/// The token of a `connection_init` payload, as an `Authorization` header value.
fn authorization(payload: &serde_json::Value) -> Option<String> {
    let value = ["Authorization", "authorization", "token"]
        .iter()
        .find_map(|key| payload.get(key).and_then(|v| v.as_str()))?
        .trim();
    let has_scheme = value.len() > 7 && value[..7].eq_ignore_ascii_case("bearer ");
    Some(if has_scheme {
        value.to_owned()
    } else {
        format!("Bearer {value}")
    })
}

async fn serve(
    socket: WebSocket,
    protocol: GraphQLProtocol,
    kind: Option<WebSocketProtocols>,
    state: AppState,
) {
    let (mut socket_sink, socket_stream) = socket.split();
    let (sender, mut outbox) = tokio::sync::mpsc::channel::<Message>(64);
    let refused = Arc::new(Mutex::new(None::<String>));

    let on_init = {
        let (state, refused) = (state.clone(), refused.clone());
        move |payload: serde_json::Value| async move {
            let header = authorization(&payload);
            let reason = match authenticate(&state.app.db, &state.jwt, header.as_deref()).await {
                Ok(Authentication::Viewer(viewer)) => {
                    let mut data = Data::default();
                    data.insert(Authentication::Viewer(viewer));
                    return Ok(data);
                }
                Ok(Authentication::Anonymous) => {
                    "sign in: send {\"Authorization\": \"Bearer <token>\"} in the connection_init payload".to_owned()
                }
                Ok(Authentication::Rejected(reason)) => reason,
                Err(err) => {
                    tracing::error!(error.cause_chain = ?err, "websocket authentication failed");
                    "internal error: could not authenticate the connection".to_owned()
                }
            };
            if let Ok(mut slot) = refused.lock() {
                *slot = Some(reason.clone());
            }
            Err(async_graphql::Error::new(reason))
        }
    };
    let graphql = GraphQLWebSocket::new_with_pair(
        PollSender::new(sender),
        socket_stream,
        state.schema.clone(),
        protocol,
    )
    .on_connection_init(on_init)
    .serve();

    let writer = async move {
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + state.keepalive,
            state.keepalive,
        );
        loop {
            let message = tokio::select! {
                message = outbox.recv() => match message {
                    Some(Message::Close(frame)) => {
                        let reason = refused.lock().ok().and_then(|slot| slot.clone());
                        let frame = match (reason, kind) {
                            (Some(reason), Some(WebSocketProtocols::GraphQLWS)) => Some(CloseFrame {
                                code: CLOSE_FORBIDDEN,
                                reason: format!("Forbidden: {reason}").into(),
                            }),
                            _ => frame,
                        };
                        let _ = socket_sink.send(Message::Close(frame)).await;
                        break;
                    }
                    Some(message) => message,
                    None => break,
                },
                _ = keepalive.tick() => {
                    if kind == Some(WebSocketProtocols::SubscriptionsTransportWS)
                        && socket_sink.send(Message::Text(r#"{"type":"ka"}"#.into())).await.is_err()
                    {
                        break;
                    }
                    Message::Ping(Default::default())
                }
                _ = state.app.audit.shutdown().cancelled() => {
                    let _ = socket_sink
                        .send(Message::Close(Some(CloseFrame { code: CLOSE_GOING_AWAY, reason: "server shutting down".into() })))
                        .await;
                    break;
                }
            };
            if socket_sink.send(message).await.is_err() {
                break;
            }
        }
        let _ = socket_sink.close().await;
    };
    tokio::join!(graphql, writer);
}

#[cfg(test)]
mod tests {
    use super::authorization;
    use serde_json::json;

    #[test]
    fn tokens_are_read_from_any_accepted_key() {
        assert_eq!(
            authorization(&json!({"Authorization": "Bearer a"})).as_deref(),
            Some("Bearer a")
        );
        assert_eq!(
            authorization(&json!({"authorization": "bearer b"})).as_deref(),
            Some("bearer b")
        );
        assert_eq!(
            authorization(&json!({"token": "c"})).as_deref(),
            Some("Bearer c")
        );
        assert_eq!(authorization(&json!({})), None);
    }
}
