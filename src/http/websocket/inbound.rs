//! The client's messages, checked before async-graphql sees them, for what the protocols require
//! and async-graphql does not do itself (graphql-transport-ws close codes):
//! - no `connection_init` within the init timeout: close 4408;
//! - a message that is not JSON, or whose `type` the protocol does not have: close 4400;
//! - `subscribe` before `connection_init`: close 4401;
//! - `subscribe` with the id of a running subscription: close 4409 "Subscriber for <id> already exists";
//! - a subscription beyond the per-socket cap: an `error` message for that id (the socket and its
//!   other subscriptions stay up).
//!
//! It also hands each accepted `subscribe` to `grouped` first, which serves it from a group or
//! gives it back; later messages wait until that is decided, so their order is kept.

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_graphql::http::{ClientMessage, WebSocketProtocols};
use axum::extract::ws::Message;
use futures_util::future::BoxFuture;
use futures_util::{Future, Stream};
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::PollSender;

use super::grouped::{Grouped, Grouping};
use crate::auth::Viewer;

/// Close code of graphql-transport-ws for a message it cannot accept.
pub const CLOSE_BAD_REQUEST: u16 = 4400;
/// Close code of graphql-transport-ws for a subscription without an accepted `connection_init`,
/// and here also for a token that expired during the connection.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;
/// Close code of graphql-transport-ws when no `connection_init` came in time.
pub const CLOSE_INIT_TIMEOUT: u16 = 4408;
/// Close code of graphql-transport-ws for a subscription id already in use.
pub const CLOSE_DUPLICATE_ID: u16 = 4409;

/// A close frame's reason is at most 123 bytes.
const MAX_REASON_BYTES: usize = 123;

/// What the inbound guard, the `connection_init` callback and the writer of one socket share.
#[derive(Default)]
pub struct Session {
    /// Ids of running subscriptions (added on `subscribe`, removed on either side's `complete`).
    pub active: Mutex<HashSet<String>>,
    /// How the socket must close, once decided (the first decision wins).
    pub close: Mutex<Option<(u16, String)>>,
    /// When the viewer's token stops being valid (Unix seconds), once authenticated.
    pub valid_until: Mutex<Option<u64>>,
    /// Wakes the writer when `valid_until` is set.
    pub changed: Notify,
    /// The authenticated viewer, once `connection_init` is accepted.
    pub viewer: Mutex<Option<Viewer>>,
    /// Subscriptions served by groups rather than by async-graphql.
    pub grouped: Grouped,
}

impl Session {
    /// Decides how the socket closes (unless already decided). The writer sends it once
    /// async-graphql has ended and what it sent before (e.g. `connection_error`) is out.
    pub fn close_with(&self, code: u16, reason: &str) {
        if let Ok(mut close) = self.close.lock() {
            close.get_or_insert_with(|| (code, truncated(reason)));
        }
    }

    pub fn decided_close(&self) -> Option<(u16, String)> {
        self.close.lock().ok().and_then(|close| close.clone())
    }

    pub fn set_viewer(&self, viewer: &Viewer) {
        if let Ok(mut slot) = self.viewer.lock() {
            *slot = Some(viewer.clone());
        }
        self.set_valid_until(viewer.valid_until);
    }

    pub fn viewer(&self) -> Option<Viewer> {
        self.viewer.lock().ok().and_then(|viewer| viewer.clone())
    }

    pub fn set_valid_until(&self, valid_until: u64) {
        if let Ok(mut slot) = self.valid_until.lock() {
            *slot = Some(valid_until);
        }
        self.changed.notify_one();
    }

    /// Forgets a subscription the server completed.
    pub fn completed(&self, id: &str) {
        if let Ok(mut active) = self.active.lock() {
            active.remove(id);
        }
    }
}

fn truncated(reason: &str) -> String {
    let mut end = reason.len().min(MAX_REASON_BYTES);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// What to do with one message.
enum Verdict {
    Forward(Box<ClientMessage>),
    /// Answered here (an `error` for that id); async-graphql does not see it.
    Refuse(Message),
    /// A subscription for `grouped` to serve or give back.
    Subscribe(String, Value, Box<ClientMessage>),
    Close(u16, String),
}

/// The guarded stream of client messages handed to async-graphql.
pub struct Inbound<S> {
    inner: S,
    protocol: WebSocketProtocols,
    session: Arc<Session>,
    max_subscriptions: usize,
    init_received: bool,
    init_deadline: Pin<Box<Sleep>>,
    /// Answers to refused subscriptions, sent with backpressure before reading more.
    replies: PollSender<Box<Message>>,
    pending_reply: Option<Message>,
    grouping: Grouping,
    /// A subscription being probed: resolves to the message for async-graphql, if any.
    probing: Option<BoxFuture<'static, Option<ClientMessage>>>,
}

impl<S> Inbound<S> {
    pub fn new(
        inner: S,
        protocol: WebSocketProtocols,
        session: Arc<Session>,
        limits: super::WebSocketLimits,
        replies: PollSender<Box<Message>>,
        grouping: Grouping,
    ) -> Self {
        Inbound {
            inner,
            protocol,
            session,
            max_subscriptions: limits.max_subscriptions,
            init_received: false,
            init_deadline: Box::pin(tokio::time::sleep_until(
                Instant::now() + limits.init_timeout,
            )),
            replies,
            pending_reply: None,
            grouping,
            probing: None,
        }
    }

    fn judge(&mut self, text: &[u8]) -> Verdict {
        let Ok(message) = serde_json::from_slice::<Value>(text) else {
            return Verdict::Close(
                CLOSE_BAD_REQUEST,
                "Invalid message received: not JSON".into(),
            );
        };
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let kind = kind.as_str();
        let known = match self.protocol {
            WebSocketProtocols::GraphQLWS => {
                ["connection_init", "subscribe", "complete", "ping", "pong"].contains(&kind)
            }
            WebSocketProtocols::SubscriptionsTransportWS => {
                ["connection_init", "start", "stop", "connection_terminate"].contains(&kind)
            }
        };
        if !known {
            return Verdict::Close(
                CLOSE_BAD_REQUEST,
                format!("Invalid message received: unknown type {kind:?}"),
            );
        }
        let id = message.get("id").and_then(Value::as_str).map(str::to_owned);
        let payload = message.get("payload").cloned().unwrap_or_default();
        let parsed = match serde_json::from_value::<ClientMessage>(message) {
            Ok(parsed) => parsed,
            Err(err) => {
                return Verdict::Close(
                    CLOSE_BAD_REQUEST,
                    format!("Invalid message received: {err}"),
                )
            }
        };
        match (kind, id) {
            ("connection_init", _) => self.init_received = true,
            ("subscribe" | "start", Some(id)) => {
                if !self.init_received {
                    return Verdict::Close(CLOSE_UNAUTHORIZED, "Unauthorized".into());
                }
                let Ok(mut active) = self.session.active.lock() else {
                    return Verdict::Close(CLOSE_BAD_REQUEST, "Invalid message received".into());
                };
                if active.contains(&id) {
                    return Verdict::Close(
                        CLOSE_DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    );
                }
                if active.len() >= self.max_subscriptions {
                    return Verdict::Refuse(self.too_many(&id));
                }
                active.insert(id.clone());
                return Verdict::Subscribe(id, payload, Box::new(parsed));
            }
            ("complete" | "stop", Some(id)) => {
                self.session.completed(&id);
                if self.grouping.complete(&id) {
                    // As async-graphql answers a completed stream of its own.
                    let complete = json!({"type": "complete", "id": id}).to_string();
                    return Verdict::Refuse(Message::Text(complete.into()));
                }
            }
            _ => {}
        }
        Verdict::Forward(Box::new(parsed))
    }

    /// The protocol's `error` message for a subscription over the cap.
    fn too_many(&self, id: &str) -> Message {
        let error = json!({
            "message": format!(
                "too many subscriptions on this connection (at most {}): complete one first",
                self.max_subscriptions
            ),
            "extensions": {"code": crate::graphql::BAD_USER_INPUT},
        });
        let payload = match self.protocol {
            WebSocketProtocols::GraphQLWS => json!([error]),
            WebSocketProtocols::SubscriptionsTransportWS => error,
        };
        Message::Text(
            json!({"id": id, "type": "error", "payload": payload})
                .to_string()
                .into(),
        )
    }

    fn close(&self, code: u16, reason: &str) -> Poll<Option<serde_json::Result<ClientMessage>>> {
        self.session.close_with(code, reason);
        Poll::Ready(None)
    }
}

impl<S> Stream for Inbound<S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    type Item = serde_json::Result<ClientMessage>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(reply) = this.pending_reply.take() {
                match this.replies.poll_reserve(cx) {
                    Poll::Ready(Ok(())) => {
                        if this.replies.send_item(Box::new(reply)).is_err() {
                            return Poll::Ready(None);
                        }
                    }
                    Poll::Ready(Err(_)) => return Poll::Ready(None),
                    Poll::Pending => {
                        this.pending_reply = Some(reply);
                        return Poll::Pending;
                    }
                }
            }
            if let Some(probing) = this.probing.as_mut() {
                match probing.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(answer) => {
                        this.probing = None;
                        if let Some(message) = answer {
                            return Poll::Ready(Some(Ok(message)));
                        }
                    }
                }
            }
            if !this.init_received && this.init_deadline.as_mut().poll(cx).is_ready() {
                return this.close(CLOSE_INIT_TIMEOUT, "Connection initialisation timeout");
            }
            let message = match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None | Some(Err(_))) => return Poll::Ready(None),
                Poll::Ready(Some(Ok(message))) => message,
            };
            let verdict = match &message {
                Message::Text(text) => this.judge(text.as_bytes()),
                Message::Binary(bytes) => this.judge(bytes),
                // Pings are answered by axum; a close ends the stream next.
                _ => continue,
            };
            match verdict {
                Verdict::Forward(message) => return Poll::Ready(Some(Ok(*message))),
                Verdict::Refuse(reply) => this.pending_reply = Some(reply),
                Verdict::Subscribe(id, payload, message) => {
                    this.probing = Some(this.grouping.subscribe(id, payload, *message));
                }
                Verdict::Close(code, reason) => return this.close(code, &reason),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::truncated;

    #[test]
    fn close_reasons_fit_a_close_frame_without_splitting_a_character() {
        let long = "é".repeat(100);
        let reason = truncated(&long);
        assert!(reason.len() <= 123);
        assert!(reason.chars().all(|c| c == 'é'));
        assert_eq!(truncated("short"), "short");
    }
}
