//! A small GraphQL-over-WebSocket client for tests, speaking either `graphql-transport-ws` or the
//! legacy `graphql-ws` (subscriptions-transport-ws) protocol against a running `TestApp`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// Upper bound for any single wait; tests never hang longer than this per step.
pub const WAIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library).
    Transport,
    /// `graphql-ws` (legacy subscriptions-transport-ws).
    Legacy,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Transport => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }
}

/// What the server did with `connection_init`.
#[derive(Debug)]
pub enum Init {
    Acked(Box<WsClient>),
    /// Legacy protocol: a `connection_error` message (its payload).
    Error(Value),
    /// The server closed the socket with this code and reason.
    Closed(u16, String),
}

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    protocol: Protocol,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WsClient({:?})", self.protocol)
    }
}

/// A frame as the tests care about it.
#[derive(Debug)]
pub enum Frame {
    Json(Value),
    Ping,
    Closed(u16, String),
}

impl WsClient {
    /// Opens a socket to `http_address` (the `TestApp` address) and sends `connection_init`.
    pub async fn init(http_address: &str, protocol: Protocol, payload: Value) -> Init {
        let mut client = Self::open(http_address, protocol).await;
        client
            .send(json!({"type": "connection_init", "payload": payload}))
            .await;
        loop {
            match client.frame().await {
                Frame::Json(m) if m["type"] == "connection_ack" => {
                    return Init::Acked(Box::new(client))
                }
                Frame::Json(m) if m["type"] == "connection_error" => {
                    return Init::Error(m["payload"].clone())
                }
                Frame::Json(m) if m["type"] == "ka" => continue,
                Frame::Ping => continue,
                Frame::Closed(code, reason) => return Init::Closed(code, reason),
                Frame::Json(other) => panic!("unexpected message before ack: {other}"),
            }
        }
    }

    /// Opens a socket to `http_address` (the `TestApp` address), sending nothing yet.
    pub async fn open(http_address: &str, protocol: Protocol) -> WsClient {
        let url = format!("{}/graphql", http_address.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("ws request");
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            protocol.name().parse().expect("header"),
        );
        let (socket, response) =
            tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(request))
                .await
                .expect("connect in time")
                .expect("websocket handshake");
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol.name())
        );
        WsClient { socket, protocol }
    }

    /// Connects as `email` (token in the payload) and expects an ack.
    pub async fn connect(http_address: &str, protocol: Protocol, email: &str) -> WsClient {
        let payload = json!({"Authorization": format!("Bearer {}", crate::helpers::token(email))});
        match Self::init(http_address, protocol, payload).await {
            Init::Acked(client) => *client,
            other => panic!("connection refused: {other:?}"),
        }
    }

    /// Sends one protocol message as JSON text.
    pub async fn send(&mut self, message: Value) {
        self.send_text(&message.to_string()).await;
    }

    /// Sends a text frame as is (for messages that are not JSON).
    pub async fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_owned().into()))
            .await
            .expect("send");
    }

    /// The code and reason the server closes with, skipping keepalives; fails on any other
    /// message or when no close comes within `WAIT`.
    pub async fn closed(&mut self) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame_within(left).await {
                None => panic!("the server did not close within {WAIT:?}"),
                Some(Frame::Closed(code, reason)) => return (code, reason),
                Some(Frame::Ping) => continue,
                Some(Frame::Json(m)) if m["type"] == "ka" => continue,
                Some(Frame::Json(other)) => panic!("expected a close, got {other}"),
            }
        }
    }

    /// The next frame, within `WAIT`.
    pub async fn frame(&mut self) -> Frame {
        self.frame_within(WAIT).await.expect("a frame in time")
    }

    /// The next frame, or `None` if nothing arrives within `wait`.
    pub async fn frame_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let message = match tokio::time::timeout(wait, self.socket.next()).await {
                Err(_) => return None,
                Ok(None) => return Some(Frame::Closed(1006, "stream ended".into())),
                Ok(Some(Err(e))) => return Some(Frame::Closed(1006, e.to_string())),
                Ok(Some(Ok(m))) => m,
            };
            return Some(match message {
                Message::Text(text) => {
                    Frame::Json(serde_json::from_str(&text).expect("JSON message"))
                }
                Message::Ping(_) => Frame::Ping,
                Message::Close(frame) => match frame {
                    Some(f) => Frame::Closed(f.code.into(), f.reason.to_string()),
                    None => Frame::Closed(1005, String::new()),
                },
                _ => continue,
            });
        }
    }

    /// Starts subscription `id` to the audit stream of `environment_key`.
    pub async fn subscribe_audit(&mut self, id: &str, environment_key: &str, after: Option<&str>) {
        let query = "subscription($key: String!, $after: String) { auditLogCreated(environmentKey: $key, after: $after) { id cursor sequence action relatedObjectType relatedObjectId log changes actor { email } } }";
        let kind = match self.protocol {
            Protocol::Transport => "subscribe",
            Protocol::Legacy => "start",
        };
        self.send(json!({"id": id, "type": kind, "payload": {"query": query, "variables": {"key": environment_key, "after": after}}}))
            .await;
    }

    /// Creates metrics in `env` until one of their audit entries arrives (at most 20): the
    /// protocol does not acknowledge when a subscription has started, so entries committed while
    /// it starts may precede it. True once one was delivered.
    pub async fn delivers_while_writing(
        &mut self,
        app: &crate::helpers::TestApp,
        env: &str,
    ) -> bool {
        for attempt in 0..20 {
            app.metric(env, &format!("Metric {attempt}")).await;
            if self
                .message_within(Duration::from_millis(500))
                .await
                .is_some()
            {
                return true;
            }
        }
        false
    }

    /// The next subscription message (`next`/`data`, `error`, `complete`), skipping keepalives.
    /// Returns `None` when nothing arrives within `wait`.
    pub async fn message_within(&mut self, wait: Duration) -> Option<Value> {
        // One deadline for the whole wait: keepalive pings must not extend it.
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.frame_within(left).await? {
                Frame::Ping => continue,
                Frame::Json(m)
                    if m["type"] == "ka" || m["type"] == "ping" || m["type"] == "pong" =>
                {
                    continue
                }
                Frame::Json(m) => return Some(m),
                Frame::Closed(code, reason) => panic!("socket closed ({code}): {reason}"),
            }
        }
    }

    /// The next audit event of subscription `id`; fails on errors or when none comes in time.
    pub async fn event(&mut self, id: &str) -> Value {
        let message = self.message_within(WAIT).await.expect("an event in time");
        assert_eq!(message["id"], id, "{message}");
        let data_type = match self.protocol {
            Protocol::Transport => "next",
            Protocol::Legacy => "data",
        };
        assert_eq!(message["type"], data_type, "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        message["payload"]["data"]["auditLogCreated"].clone()
    }

    /// Collects `n` events of subscription `id`.
    pub async fn events(&mut self, id: &str, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.event(id).await);
        }
        out
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// The sequences of events, as numbers.
pub fn sequences(events: &[Value]) -> Vec<i64> {
    events
        .iter()
        .map(|e| {
            e["sequence"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sequence")
        })
        .collect()
}
