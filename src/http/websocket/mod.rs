//! GraphQL over WebSocket. async-graphql speaks both subprotocols; around it this module adds:
//! - authentication from the `connection_init` payload (`Authorization`, `authorization` or
//!   `token`, with or without `Bearer `). A missing or bad token ends the connection with the
//!   protocol's auth error: close 4403 on `graphql-transport-ws`, `connection_error` then close
//!   4403 on the legacy `graphql-ws`. When the token cannot be checked the close says whether to
//!   retry: 1013 (Try Again Later) when the database is unavailable, 1011 on an internal error.
//!   (1013, not 1011, for outages: the reference client `graphql-ws` retries 1013 and gives up
//!   on 1011.);
//! - the protocol's rules async-graphql leaves out, checked on every client message (`inbound`):
//!   `connection_init` within `LIFT_WS_INIT_TIMEOUT_SECONDS` (else 4408), known message types
//!   only (else 4400), no `subscribe` before `connection_init` (4401), no duplicate subscription
//!   id (4409), and at most `LIFT_WS_MAX_SUBSCRIPTIONS` running subscriptions per socket (one
//!   more gets an `error` message for its id);
//! - token expiry: when the token's `exp` (plus the 60 s leeway) passes, the socket closes with
//!   4401 "Unauthorized: the token has expired". The reference client does not retry 4401: the
//!   application sees the close and reconnects with a fresh token;
//! - keepalive: a WebSocket ping on idle connections (and a `ka` message on the legacy protocol);
//! - shutdown: sockets close with 1001 when the server stops;
//! - `auditLogCreated` served by groups (`grouped`): the writer frames each shared payload with
//!   the subscription's id.

mod grouped;
mod inbound;

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_graphql::http::{WebSocketProtocols, WsMessage, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use tokio_util::sync::PollSender;

use self::grouped::Grouping;
use self::inbound::{Inbound, Session, CLOSE_UNAUTHORIZED};
use super::AppState;
use crate::auth::{authenticate, Authentication};
use crate::domain::DomainError;
use crate::events::fanout::Delivery;

/// Close code of `graphql-transport-ws` for a refused `connection_init`.
const CLOSE_FORBIDDEN: u16 = 4403;
const CLOSE_GOING_AWAY: u16 = 1001;
/// The server failed unexpectedly (the reference client does not retry).
const CLOSE_INTERNAL_ERROR: u16 = 1011;
/// A temporary condition, e.g. the database is down (the reference client retries).
const CLOSE_TRY_AGAIN_LATER: u16 = 1013;
const READ_BUFFER: usize = 1024;
const WRITE_BUFFER: usize = 8 * 1024;
/// A writer takes queued deliveries until it holds this many entries, and sends them with one
/// flush.
const MAX_BATCH: usize = 32;

/// Limits of one WebSocket connection.
#[derive(Debug, Clone, Copy)]
pub struct WebSocketLimits {
    /// How long a client may take to send `connection_init`.
    pub init_timeout: Duration,
    /// Subscriptions one socket may run at once.
    pub max_subscriptions: usize,
}

pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(state: AppState, request: Request) -> Response {
    let (mut parts, _body) = request.into_parts();
    // Which subprotocol async-graphql will speak: the first one offered that it knows (axum's
    // `protocols` picks the same one for the handshake).
    let protocol = parts
        .headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .and_then(|offered| {
            offered
                .split(',')
                .find_map(|p| WebSocketProtocols::from_str(p.trim()).ok())
        });
    let Some(protocol) = protocol else {
        return (
            StatusCode::BAD_REQUEST,
            "offer the graphql-transport-ws or graphql-ws subprotocol (Sec-WebSocket-Protocol)",
        )
            .into_response();
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
        .on_upgrade(move |socket| serve(socket, protocol, state))
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

/// How a `connection_init` whose token could not be checked ends: retry later, or not.
fn close_for_failed_authentication(err: &DomainError) -> (u16, &'static str) {
    match err {
        DomainError::Unavailable(_) => (
            CLOSE_TRY_AGAIN_LATER,
            "Try Again Later: the server cannot check tokens right now",
        ),
        _ => (
            CLOSE_INTERNAL_ERROR,
            "Internal Error: the server could not check the token",
        ),
    }
}

/// Checks the `connection_init` payload; on refusal, records how the socket must close.
async fn on_init(
    state: AppState,
    session: Arc<Session>,
    payload: serde_json::Value,
) -> async_graphql::Result<Data> {
    let header = authorization(&payload);
    let reason = match authenticate(&state.app.db, &state.jwt, header.as_deref()).await {
        Ok(Authentication::Viewer(viewer)) => {
            session.set_viewer(&viewer);
            let mut data = Data::default();
            data.insert(Authentication::Viewer(viewer));
            return Ok(data);
        }
        Ok(Authentication::Anonymous) => {
            "sign in: send {\"Authorization\": \"Bearer <token>\"} in the connection_init payload"
                .to_owned()
        }
        Ok(Authentication::Rejected(reason)) => reason,
        Err(err) => {
            tracing::error!(error.cause_chain = ?err, "websocket authentication failed");
            let (code, reason) = close_for_failed_authentication(&err);
            session.close_with(code, reason);
            return Err(async_graphql::Error::new(reason));
        }
    };
    session.close_with(CLOSE_FORBIDDEN, &format!("Forbidden: {reason}"));
    Err(async_graphql::Error::new(reason))
}

async fn serve(socket: WebSocket, protocol: WebSocketProtocols, state: AppState) {
    let (mut socket_sink, socket_stream) = socket.split();
    // Boxed: a queue holds a block of slots from the start, and every socket has one.
    let (sender, mut outbox) = tokio::sync::mpsc::channel::<Box<Message>>(64);
    let session = Arc::new(Session::default());
    // Entries of grouped subscriptions: as many as a subscriber may be behind before it reads
    // from the table instead. An idle queue holds only its first block of 32 slots, which is
    // why a delivery is just a member and a shared payload.
    let (deliveries_sender, mut deliveries) =
        tokio::sync::mpsc::channel::<Delivery>(state.app.audit.capacity());
    let grouping = Grouping::new(state.clone(), session.clone(), deliveries_sender);

    let inbound = Inbound::new(
        socket_stream,
        protocol,
        session.clone(),
        state.ws_limits,
        PollSender::new(sender.clone()),
        grouping.clone(),
    );
    let graphql = {
        let (state, session) = (state.clone(), session.clone());
        async move {
            let mut messages = async_graphql::http::WebSocket::from_message_stream(
                state.schema.clone(),
                inbound,
                protocol,
            )
            .on_connection_init(move |payload| on_init(state, session, payload));
            while let Some(message) = messages.next().await {
                let message = match message {
                    WsMessage::Text(text) => Message::Text(text.into()),
                    WsMessage::Close(code, reason) => Message::Close(Some(CloseFrame {
                        code,
                        reason: reason.into(),
                    })),
                };
                if sender.send(Box::new(message)).await.is_err() {
                    break;
                }
            }
        }
    };

    let (runtime, tasks) = (state.subscriptions.clone(), state.app.audit.tasks().clone());
    let writer = async move {
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + state.keepalive,
            state.keepalive,
        );
        let mut expiry: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let decided = |session: &Session| {
            session.decided_close().map(|(code, reason)| CloseFrame {
                code,
                reason: reason.into(),
            })
        };
        // Created once, not per message: every socket waits on the same shutdown token, and
        // registering with it on each delivery made 10,000 sockets contend for its lock.
        let shutting_down = state.app.audit.shutdown().cancelled();
        let changed = session.changed.notified();
        tokio::pin!(shutting_down, changed);
        loop {
            let message = tokio::select! {
                biased;
                _ = changed.as_mut() => {
                    changed.set(session.changed.notified());
                    if expiry.is_none() {
                        let valid_until = session.valid_until.lock().ok().and_then(|v| *v);
                        expiry = valid_until.map(|t| Box::pin(tokio::time::sleep(until(t))));
                    }
                    continue;
                }
                message = outbox.recv() => match message.map(|message| *message) {
                    Some(Message::Close(frame)) => {
                        let frame = decided(&session).or(frame);
                        let _ = socket_sink.send(Message::Close(frame)).await;
                        break;
                    }
                    Some(Message::Text(text)) => {
                        if let Some(id) = completed_id(&text) {
                            session.completed(&id);
                        }
                        Message::Text(text)
                    }
                    Some(message) => message,
                    None => {
                        if let Some(frame) = decided(&session) {
                            let _ = socket_sink.send(Message::Close(Some(frame))).await;
                        }
                        break;
                    }
                },
                Some(first) = deliveries.recv() => {
                    // Entries that queued up meanwhile go out in one write (one flush).
                    let mut frames = next_frames(protocol, &session, first, &mut deliveries)
                        .into_iter()
                        .peekable();
                    let mut last = None;
                    while let Some(frame) = frames.next() {
                        if frames.peek().is_none() {
                            last = Some(frame);
                        } else if socket_sink.feed(frame).await.is_err() {
                            break;
                        }
                    }
                    match last {
                        Some(frame) => frame,
                        None => continue,
                    }
                }
                _ = async { if let Some(sleep) = expiry.as_mut() { sleep.await } }, if expiry.is_some() => {
                    let reason = "Unauthorized: the token has expired";
                    let frame = CloseFrame { code: CLOSE_UNAUTHORIZED, reason: reason.into() };
                    let _ = socket_sink.send(Message::Close(Some(frame))).await;
                    break;
                }
                _ = keepalive.tick() => {
                    if protocol == WebSocketProtocols::SubscriptionsTransportWS
                        && socket_sink.send(Message::Text(r#"{"type":"ka"}"#.into())).await.is_err()
                    {
                        break;
                    }
                    Message::Ping(Default::default())
                }
                _ = &mut shutting_down => {
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

    // The writer runs on the subscription runtime: one entry wakes every subscriber's writer,
    // and there that work does not queue ahead of requests. Reading the socket and executing
    // operations (which use the database) stay here, on the request runtime.
    let mut writer = runtime.spawn(&tasks, writer);
    // When async-graphql ends (the client left or broke the protocol), the writer drains what it
    // sent and closes; when the writer ends first (expiry, shutdown, a dead peer), the
    // subscriptions are dropped with it.
    tokio::pin!(graphql);
    tokio::select! {
        _ = &mut graphql => {
            let _ = writer.await;
        }
        _ = &mut writer => {}
    }
    grouping.end_all();
}

/// The frames of `first` and of the deliveries queued behind it, up to about [`MAX_BATCH`]
/// entries, for subscriptions the socket still has.
fn next_frames(
    protocol: WebSocketProtocols,
    session: &Session,
    first: Delivery,
    queued: &mut tokio::sync::mpsc::Receiver<Delivery>,
) -> Vec<Message> {
    let mut frames = Vec::with_capacity(first.entry_count());
    let mut next = Some(first);
    while let Some(delivery) = next.take() {
        if let Some(id) = session.grouped.encoded_id(delivery.member) {
            for payload in delivery.payloads() {
                frames.push(Message::Text(next_frame(protocol, &id, payload).into()));
            }
        }
        if frames.len() < MAX_BATCH {
            next = queued.try_recv().ok();
        }
    }
    frames
}

/// The protocol's message carrying one entry: the group's payload, framed with this
/// subscription's id (serialized once for the group, copied once per subscriber).
fn next_frame(protocol: WebSocketProtocols, encoded_id: &str, payload: &str) -> String {
    let kind = match protocol {
        WebSocketProtocols::GraphQLWS => "next",
        WebSocketProtocols::SubscriptionsTransportWS => "data",
    };
    let mut frame = String::with_capacity(payload.len() + encoded_id.len() + 40);
    frame.push_str(r#"{"type":""#);
    frame.push_str(kind);
    frame.push_str(r#"","id":"#);
    frame.push_str(encoded_id);
    frame.push_str(r#","payload":"#);
    frame.push_str(payload);
    frame.push('}');
    frame
}

/// The id of a server `complete` message (async-graphql writes `type` first).
fn completed_id(text: &str) -> Option<String> {
    if !text.starts_with(r#"{"type":"complete""#) {
        return None;
    }
    let message: serde_json::Value = serde_json::from_str(text).ok()?;
    message.get("id")?.as_str().map(str::to_owned)
}

/// Time from now until just after `valid_until` (Unix seconds) has passed.
fn until(valid_until: u64) -> Duration {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    Duration::from_secs(valid_until.saturating_add(1)).saturating_sub(now)
}

#[cfg(test)]
mod tests {
    use super::*;
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

    #[test]
    fn an_unavailable_database_closes_retryably_and_other_failures_do_not() {
        let (code, _) =
            close_for_failed_authentication(&DomainError::Unavailable("database down".into()));
        assert_eq!(code, CLOSE_TRY_AGAIN_LATER);
        let (code, _) = close_for_failed_authentication(&DomainError::internal("bug"));
        assert_eq!(code, CLOSE_INTERNAL_ERROR);
    }

    #[test]
    fn a_shared_payload_is_framed_with_each_protocols_message_and_the_members_id() {
        let encoded_id = json!("a \"quoted\" id").to_string();
        let payload = r#"{"data":{"auditLogCreated":{"log":"x"}}}"#;
        for (protocol, kind) in [
            (WebSocketProtocols::GraphQLWS, "next"),
            (WebSocketProtocols::SubscriptionsTransportWS, "data"),
        ] {
            let frame: serde_json::Value =
                serde_json::from_str(&next_frame(protocol, &encoded_id, payload)).expect("JSON");
            assert_eq!(
                frame,
                json!({"type": kind, "id": "a \"quoted\" id", "payload": {"data": {"auditLogCreated": {"log": "x"}}}})
            );
        }
    }

    #[test]
    fn server_completions_are_recognised_by_their_id() {
        assert_eq!(
            completed_id(r#"{"type":"complete","id":"7"}"#).as_deref(),
            Some("7")
        );
        assert_eq!(
            completed_id(r#"{"type":"next","id":"7","payload":{}}"#),
            None
        );
    }
}
