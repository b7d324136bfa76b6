//! One WebSocket subscriber to `auditLogCreated` (`graphql-transport-ws`): connecting and
//! subscribing, then recording every event of the measured phase with its delivery latency.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

use crate::common::ENVIRONMENT;

const SUBSCRIPTION: &str =
    "subscription($k: String!) { auditLogCreated(environmentKey: $k) { sequence createdAt log } }";
/// Per step of one connection (TCP + handshake, `connection_ack`).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Progress of all subscribers, watched by the run while they are connected.
pub struct Shared {
    /// Connected, acknowledged and subscribe message sent.
    pub subscribed: AtomicUsize,
    /// Received at least one event.
    pub live: AtomicUsize,
    /// Per subscriber: distinct events of the measured phase received so far.
    pub received: Vec<AtomicUsize>,
    /// Events with a sequence above this one belong to the measured phase (`i64::MAX` until the
    /// barrier is known).
    pub barrier: AtomicI64,
    /// Events delivered in total (all phases).
    pub delivered: AtomicUsize,
}

impl Shared {
    pub fn new(subscribers: usize) -> Self {
        Shared {
            subscribed: AtomicUsize::new(0),
            live: AtomicUsize::new(0),
            received: (0..subscribers).map(|_| AtomicUsize::new(0)).collect(),
            barrier: AtomicI64::new(i64::MAX),
            delivered: AtomicUsize::new(0),
        }
    }
}

/// What one subscriber saw, handed back when it stops.
#[derive(Default)]
pub struct Outcome {
    /// (sequence, latency in µs) of every event in the measured phase, in arrival order.
    pub deliveries: Vec<(i64, i64)>,
    /// Deliveries whose sequence is lower than one delivered before.
    pub out_of_order: usize,
    /// Failure to connect or subscribe, or how the stream ended early.
    pub error: Option<String>,
    pub connected: bool,
    /// GraphQL `next` payloads carrying errors, or messages that could not be read.
    pub bad_messages: usize,
}

/// Connects (`gate` limits concurrent handshakes), subscribes and records events until `stop`
/// or until the connection ends.
pub async fn subscriber(
    index: usize,
    url: String,
    token: Arc<String>,
    gate: Arc<Semaphore>,
    shared: Arc<Shared>,
    mutations: usize,
    stop: CancellationToken,
) -> Outcome {
    let received_count = &shared.received[index];
    let mut outcome = Outcome::default();
    let permit = tokio::select! {
        permit = gate.acquire_owned() => permit.expect("semaphore"),
        _ = stop.cancelled() => {
            outcome.error = Some("stopped before connecting".into());
            return outcome;
        }
    };
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // Small buffers: the defaults (128 KiB each) would cost this process GiBs at N = 10,000.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let connected = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async_with_config(request, Some(config), true),
    )
    .await;
    let mut ws = match connected {
        Ok(Ok((ws, _))) => ws,
        Ok(Err(err)) => {
            outcome.error = Some(format!("connect: {err}"));
            return outcome;
        }
        Err(_) => {
            outcome.error = Some(format!("connect: no handshake within {CONNECT_TIMEOUT:?}"));
            return outcome;
        }
    };
    let init =
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}});
    if let Err(err) = ws.send(Message::text(init.to_string())).await {
        outcome.error = Some(format!("send connection_init: {err}"));
        return outcome;
    }
    let ack = tokio::time::timeout(CONNECT_TIMEOUT, async {
        // Bounded by the timeout; pings are answered by tungstenite while reading.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    if message["type"] == "connection_ack" {
                        return Ok(());
                    }
                    return Err(format!("expected connection_ack, got {text}"));
                }
                Some(Ok(Message::Close(frame))) => return Err(format!("closed: {frame:?}")),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(err.to_string()),
                None => return Err("connection ended".into()),
            }
        }
    })
    .await;
    match ack {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            outcome.error = Some(format!("connection_init: {err}"));
            return outcome;
        }
        Err(_) => {
            outcome.error = Some(format!("no connection_ack within {CONNECT_TIMEOUT:?}"));
            return outcome;
        }
    }
    let subscribe = json!({"id": "1", "type": "subscribe",
        "payload": {"query": SUBSCRIPTION, "variables": {"k": ENVIRONMENT}}});
    if let Err(err) = ws.send(Message::text(subscribe.to_string())).await {
        outcome.error = Some(format!("send subscribe: {err}"));
        return outcome;
    }
    drop(permit);
    outcome.connected = true;
    shared.subscribed.fetch_add(1, Ordering::Relaxed);

    let mut seen: HashSet<i64> = HashSet::with_capacity(mutations + 4);
    let mut highest = i64::MIN;
    let mut first = true;
    // Ends on `stop` (set by the main task after the drain) or when the connection ends.
    loop {
        let message = tokio::select! {
            message = ws.next() => message,
            _ = stop.cancelled() => break,
        };
        let received = chrono::Utc::now();
        let text = match message {
            Some(Ok(Message::Text(text))) => text,
            Some(Ok(Message::Close(frame))) => {
                outcome.error = Some(format!("server closed the connection: {frame:?}"));
                break;
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => {
                outcome.error = Some(format!("read: {err}"));
                break;
            }
            None => {
                outcome.error = Some("connection ended".into());
                break;
            }
        };
        let message: Value = match serde_json::from_str(text.as_str()) {
            Ok(v) => v,
            Err(_) => {
                outcome.bad_messages += 1;
                continue;
            }
        };
        match message["type"].as_str() {
            Some("next") => {}
            Some("ping") => {
                // graphql-transport-ws protocol-level ping: answer as the protocol asks.
                let _ = ws.send(Message::text(r#"{"type":"pong"}"#)).await;
                continue;
            }
            Some("pong") => continue,
            Some("error") | Some("complete") => {
                outcome.error = Some(format!("subscription ended: {text}"));
                break;
            }
            _ => {
                outcome.bad_messages += 1;
                continue;
            }
        }
        let entry = &message["payload"]["data"]["auditLogCreated"];
        let sequence = entry["sequence"]
            .as_str()
            .and_then(|s| s.parse::<i64>().ok());
        let created = entry["createdAt"]
            .as_str()
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok());
        let (Some(sequence), Some(created)) = (sequence, created) else {
            outcome.bad_messages += 1;
            continue;
        };
        shared.delivered.fetch_add(1, Ordering::Relaxed);
        if first {
            first = false;
            shared.live.fetch_add(1, Ordering::Relaxed);
        }
        if sequence < highest {
            outcome.out_of_order += 1;
        }
        highest = highest.max(sequence);
        if sequence > shared.barrier.load(Ordering::Acquire) {
            let latency = (received - created.with_timezone(&chrono::Utc))
                .num_microseconds()
                .unwrap_or(i64::MAX);
            outcome.deliveries.push((sequence, latency));
            if seen.insert(sequence) {
                received_count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    outcome
}
