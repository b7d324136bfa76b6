//! The physical floor for `benches/audit_load`: a server that does only what cannot be avoided
//! when N WebSocket subscribers receive every committed entry — accept the sockets, answer the
//! `graphql-transport-ws` handshake, and write each entry's pre-serialized `next` frame to every
//! socket — with no GraphQL, no database and no permissions. One `tokio::sync::broadcast`
//! (one shared ring, a cursor per socket) and one task per socket, on axum like lift.
//!
//! It answers just enough of lift's HTTP API for the load script to drive it unchanged:
//! `createMetric` "commits" an entry (a sequence and a timestamp) and broadcasts it, `auditLogs`
//! lists the sequences, `{ __typename }` answers readiness, `/metrics` is empty. Run it as the
//! server of the load script:
//!
//! ```sh
//! cargo bench --bench audit_floor --no-run     # prints the executable
//! LOAD_LIFT_BIN=target/release/deps/audit_floor-<hash> target/release/deps/audit_load-<hash>
//! ```
//!
//! It takes the arguments the script gives `lift serve` (`serve --listen ADDR …`) and ignores the
//! rest. What it measures is this machine: the same sockets, frames and client, without lift.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::broadcast;

/// Entries a socket may be behind before it misses some (lift's default audit buffer).
const BUFFER: usize = 1024;

#[derive(Clone)]
struct Floor {
    entries: broadcast::Sender<Arc<str>>,
    next: Arc<AtomicI64>,
    committed: Arc<Mutex<Vec<i64>>>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = args
        .iter()
        .position(|a| a == "--listen")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(serve(listen));
}

async fn serve(listen: String) {
    let floor = Floor {
        entries: broadcast::channel(BUFFER).0,
        next: Arc::new(AtomicI64::new(1)),
        committed: Arc::new(Mutex::new(Vec::new())),
    };
    let app = Router::new()
        .route("/graphql", post(graphql).get(subscribe))
        .route("/metrics", get(|| async { "" }))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .expect("bind the floor server");
    axum::serve(listener, app).await.expect("serve");
}

async fn graphql(State(floor): State<Floor>, Json(body): Json<Value>) -> Json<Value> {
    let query = body["query"].as_str().unwrap_or_default();
    if query.contains("createMetric") {
        let name = body["variables"]["i"]["name"].as_str().unwrap_or_default();
        let mut committed = match floor.committed.lock() {
            Ok(committed) => committed,
            Err(_) => return Json(json!({"errors": [{"message": "poisoned"}]})),
        };
        let sequence = floor.next.fetch_add(1, Ordering::Relaxed);
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let log = format!("audit-load@example.com created metric \"{name}\"");
        let payload = json!({"data": {"auditLogCreated": {
            "sequence": sequence.to_string(), "createdAt": created, "log": log}}});
        // Committed and broadcast in sequence order (under the lock), as lift's commits are.
        committed.push(sequence);
        let _ = floor.entries.send(Arc::from(payload.to_string()));
        drop(committed);
        return Json(json!({"data": {"createMetric": {"id": sequence.to_string()}}}));
    }
    if query.contains("auditLogs") {
        let committed = floor
            .committed
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let edges: Vec<Value> = committed
            .iter()
            .rev()
            .map(|s| json!({"node": {"sequence": s.to_string()}}))
            .collect();
        return Json(json!({"data": {"environment": {"auditLogs": {
            "edges": edges, "pageInfo": {"hasNextPage": false, "endCursor": null}}}}}));
    }
    Json(json!({"data": {"__typename": "Query"}}))
}

async fn subscribe(State(floor): State<Floor>, upgrade: WebSocketUpgrade) -> impl IntoResponse {
    upgrade
        .protocols(["graphql-transport-ws"])
        .read_buffer_size(1024)
        .write_buffer_size(8 * 1024)
        .on_upgrade(move |socket| socket_task(socket, floor))
}

async fn socket_task(socket: WebSocket, floor: Floor) {
    let (mut sink, mut stream) = socket.split();
    let mut entries = floor.entries.subscribe();
    let mut subscription: Option<String> = None;
    loop {
        tokio::select! {
            message = stream.next() => {
                let Some(Ok(Message::Text(text))) = message else { return };
                let message: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                let reply = match message["type"].as_str() {
                    Some("connection_init") => Some(r#"{"type":"connection_ack"}"#.to_owned()),
                    Some("ping") => Some(r#"{"type":"pong"}"#.to_owned()),
                    Some("subscribe") => {
                        subscription = Some(message["id"].to_string());
                        None
                    }
                    _ => None,
                };
                if let Some(reply) = reply {
                    if sink.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
            }
            entry = entries.recv() => {
                let Ok(first) = entry else { return };
                let Some(id) = &subscription else { continue };
                // What queued up meanwhile goes out with one flush (one write).
                let backlog = std::iter::from_fn(|| entries.try_recv().ok());
                for payload in std::iter::once(first).chain(backlog) {
                    let frame = format!(r#"{{"type":"next","id":{id},"payload":{payload}}}"#);
                    if sink.feed(Message::Text(frame.into())).await.is_err() {
                        return;
                    }
                }
                if sink.flush().await.is_err() {
                    return;
                }
            }
        }
    }
}
