//! Load script (not a test) for the live audit stream: starts `lift serve` as a separate process
//! on a fresh database, opens N WebSocket subscribers (`graphql-transport-ws`) to
//! `auditLogCreated`, sends M `createMetric` mutations from a few concurrent HTTP clients, and
//! reports delivery latency, events lost, duplicates, out-of-order deliveries and the server's
//! RSS per subscriber. Exits non-zero when an event is lost or duplicated.
//!
//! ```sh
//! cargo bench --bench audit_load                                  # SQLite, 10,000 × 200
//! LOAD_SUBSCRIBERS=100 LOAD_MUTATIONS=20 cargo bench --bench audit_load
//! LOAD_BACKEND=postgres cargo bench --bench audit_load
//! ```
//!
//! Settings (environment): `LOAD_BACKEND` (`sqlite` | `postgres`, default sqlite),
//! `LOAD_SUBSCRIBERS` (10000), `LOAD_MUTATIONS` (200), `LOAD_CONCURRENCY` (8 HTTP clients),
//! `LOAD_CONNECT_CONCURRENCY` (200 handshakes at a time), `LOAD_DRAIN_SECONDS` (60).
//! Exit status: 0 when clean; 1 when an event was lost, duplicated or foreign to the environment;
//! 3 when delivery was exact but mutations failed, a subscriber could not connect or stay
//! connected, or the server exited; 2 when the script itself failed.
//! The server inherits this process's environment, so `LIFT_*` settings (e.g. `LIFT_AUDIT_BUFFER`)
//! reach it.
//! PostgreSQL is `LIFT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the script creates its own database there and drops it at the end.
//!
//! Each subscriber is one connection (one file descriptor here and one in the server). The script
//! raises its open-file limit to what N needs (up to the hard limit, or beyond when allowed), and
//! the server inherits it; if that is not enough, run `ulimit -n 65536` first.
//!
//! Method: after every subscriber is connected and subscribed, "barrier" mutations are sent until
//! every subscriber has received one (proof that all subscriptions are live); the server's RSS is
//! read before the first connection and after that barrier. Then the M mutations run. The expected
//! events are the audit rows committed after the barrier, read back from `Environment.auditLogs`
//! (a mutation that fails commits no row and must deliver nothing); the script waits until every
//! subscriber holds all of them or the drain timeout passes. Delivery latency is receive time
//! minus the entry's `createdAt` (both clocks are this machine's), so it includes commit, fan-out
//! and this process's own scheduling of N sockets on the same cores as the server.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use lift::admin::{self, AdminCommand};
use lift::auth::JwtKeys;
use lift::configuration::AuthSettings;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

const SECRET: &str = "lift-load-secret-that-is-long-enough-0123456789";
const ADMIN: &str = "audit-load@example.com";
const ENVIRONMENT: &str = "load";
const SUBSCRIPTION: &str =
    "subscription($k: String!) { auditLogCreated(environmentKey: $k) { sequence createdAt log } }";
const CREATE_METRIC: &str = "mutation($i: CreateMetricInput!) { createMetric(input: $i) { id } }";
/// Per step of one connection (TCP + handshake, `connection_ack`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
const BARRIER_ATTEMPTS: usize = 30;
const BARRIER_WAIT: Duration = Duration::from_secs(5);
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);
/// Connection errors printed in full (the rest are counted).
const ERRORS_SHOWN: usize = 5;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn postgres_admin_url() -> String {
    std::env::var("LIFT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

// ---------------------------------------------------------------------------------------------
// Open-file limit (no libc crate here: the two calls are declared directly; Linux 64-bit only).

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod fd_limit {
    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    const RLIMIT_NOFILE: i32 = 7;
    extern "C" {
        fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
        fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
    }

    fn get() -> Option<(u64, u64)> {
        let mut limit = RLimit { cur: 0, max: 0 };
        // SAFETY: `limit` is a valid, writable `struct rlimit` (two 64-bit `rlim_t`).
        let rc = unsafe { getrlimit(RLIMIT_NOFILE, &mut limit) };
        (rc == 0).then_some((limit.cur, limit.max))
    }

    fn set(cur: u64, max: u64) -> bool {
        let limit = RLimit { cur, max };
        // SAFETY: `limit` is a valid `struct rlimit`; the call only reads it.
        unsafe { setrlimit(RLIMIT_NOFILE, &limit) == 0 }
    }

    /// Raises the soft limit to `want` (raising the hard limit too when permitted, e.g. as
    /// root), else to the hard limit. Returns the resulting (soft, hard).
    pub fn raise(want: u64) -> Option<(u64, u64)> {
        let (cur, max) = get()?;
        if cur >= want {
            return Some((cur, max));
        }
        let raised = (want <= max && set(want, max)) || set(want, want.max(max));
        if !raised {
            set(max, max);
        }
        get()
    }
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod fd_limit {
    pub fn raise(_want: u64) -> Option<(u64, u64)> {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.

/// Kills the server when dropped (also while unwinding from a panic).
struct ServerGuard {
    child: Child,
    log: PathBuf,
}

impl ServerGuard {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` when the server has already exited.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server_binary() -> PathBuf {
    // Cargo sets this for benches and integration tests of a package with a `lift` binary, and
    // builds that binary (with the bench profile) first.
    PathBuf::from(env!("CARGO_BIN_EXE_lift"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// `VmRSS` of `pid` in bytes.
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn open_files(pid: u32) -> Option<usize> {
    Some(std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

fn max_open_files(pid: u32) -> Option<String> {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_whitespace().skip(3);
    Some(format!("{}/{}", fields.next()?, fields.next()?))
}

/// User + system CPU seconds of `pid` (or `self`), from `/proc/<pid>/stat` (USER_HZ = 100).
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn start_server(url: &str, dir: &std::path::Path, fd_limit: u64) -> (ServerGuard, u16) {
    let port = free_port();
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).expect("server log file");
    let err = out.try_clone().expect("server log file");
    // The server inherits this process's (raised) open-file limit; `ulimit` in the shell also
    // tries to lift it when this process could not, and is harmless otherwise.
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n {fd_limit} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\""
        ))
        .arg(server_binary())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--database-url", url])
        .env("LIFT_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("spawn lift serve");
    let mut guard = ServerGuard { child, log };
    let http = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Some(status) = guard.exited() {
            panic!(
                "lift serve exited during start-up ({status}); log {}:\n{}",
                guard.log.display(),
                guard.log_tail()
            );
        }
        let ready = http
            .post(format!("http://127.0.0.1:{port}/graphql"))
            .json(&json!({"query": "{ __typename }"}))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        if ready {
            return (guard, port);
        }
        if started.elapsed() > SERVER_START_TIMEOUT {
            panic!(
                "lift serve not ready after {SERVER_START_TIMEOUT:?}; log {}:\n{}",
                guard.log.display(),
                guard.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Database and seed.

/// A fresh database URL; for PostgreSQL also the name of the database to drop afterwards.
async fn database_url(backend: &str, dir: &std::path::Path) -> (String, Option<String>) {
    if backend == "sqlite" {
        return (format!("sqlite://{}/lift.db?mode=rwc", dir.display()), None);
    }
    assert_eq!(
        backend, "postgres",
        "LOAD_BACKEND must be sqlite or postgres"
    );
    let name = format!("lift_audit_load_{}", uuid::Uuid::now_v7().simple());
    let admin_url = postgres_admin_url();
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("PostgreSQL reachable at LIFT_TEST_POSTGRES_URL");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    admin.close().await.ok();
    let base = admin_url
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin_url);
    (format!("{base}/{name}"), Some(name))
}

async fn drop_postgres_database(name: &str) {
    if let Ok(admin) = sea_orm::Database::connect(&postgres_admin_url()).await {
        if let Err(err) = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
        {
            eprintln!("could not drop database {name}: {err}");
        }
        admin.close().await.ok();
    }
}

/// Migrates, creates organisation/project/environment `load` and an admin user; returns a token.
async fn seed(url: &str) -> String {
    let db = lift::startup::connect_and_migrate(url)
        .await
        .expect("migrate");
    let org = admin::run(
        &db,
        AdminCommand::CreateOrganisation {
            name: "Audit load".into(),
            experimentation_enabled: true,
        },
    )
    .await
    .expect("org");
    let project = admin::run(
        &db,
        AdminCommand::CreateProject {
            organisation: org.clone(),
            name: "p".into(),
        },
    )
    .await
    .expect("project");
    admin::run(
        &db,
        AdminCommand::CreateEnvironment {
            project,
            name: ENVIRONMENT.into(),
            key: ENVIRONMENT.into(),
        },
    )
    .await
    .expect("environment");
    admin::run(
        &db,
        AdminCommand::CreateUser {
            email: ADMIN.into(),
            name: "Audit load".into(),
        },
    )
    .await
    .expect("user");
    admin::run(
        &db,
        AdminCommand::GrantOrganisation {
            organisation: org,
            email: ADMIN.into(),
            role: "admin".into(),
        },
    )
    .await
    .expect("grant");
    let auth = AuthSettings {
        jwt_secret: Some(SECRET.into()),
        ..Default::default()
    };
    let keys = JwtKeys::from_settings(&auth, url).expect("keys");
    db.close().await.ok();
    keys.issue(ADMIN, Duration::from_secs(6 * 3600))
        .expect("token")
}

// ---------------------------------------------------------------------------------------------
// GraphQL over HTTP.

struct Http {
    url: String,
    token: String,
    client: reqwest::Client,
}

impl Http {
    async fn post(&self, query: &str, variables: Value) -> Result<Value, String> {
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({"query": query, "variables": variables}))
            .timeout(HTTP_TIMEOUT)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| format!("HTTP {status}: {e}"))?;
        match body.get("errors") {
            Some(errors) => Err(errors.to_string()),
            None => Ok(body["data"].clone()),
        }
    }

    async fn create_metric(&self, name: &str) -> Result<(), String> {
        let input = json!({"i": {"environmentKey": ENVIRONMENT, "name": name, "metricType": "NUMERIC",
            "aggregation": "SUM", "direction": "UP", "definition": {"event": "purchase",
            "value": {"source": "EVENT_VALUE"}}}});
        self.post(CREATE_METRIC, input).await.map(|_| ())
    }

    /// Sequences of the environment's audit entries above `above`, ascending (newest-first pages
    /// of 100, stopping at `above`; at most `limit` pages).
    async fn sequences_above(&self, above: i64, limit: usize) -> Result<Vec<i64>, String> {
        let query = "query($k: String!, $after: String) { environment(key: $k) { auditLogs(first: 100, after: $after) { edges { node { sequence } } pageInfo { hasNextPage endCursor } } } }";
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..limit {
            let data = self
                .post(query, json!({"k": ENVIRONMENT, "after": after}))
                .await?;
            let logs = &data["environment"]["auditLogs"];
            let edges = logs["edges"].as_array().cloned().unwrap_or_default();
            let mut reached = false;
            for edge in edges {
                let sequence = edge["node"]["sequence"]
                    .as_str()
                    .and_then(|s| s.parse::<i64>().ok())
                    .ok_or("auditLogs: sequence missing")?;
                if sequence <= above {
                    reached = true;
                    break;
                }
                out.push(sequence);
            }
            if reached || logs["pageInfo"]["hasNextPage"] != json!(true) {
                out.reverse();
                return Ok(out);
            }
            after = logs["pageInfo"]["endCursor"].as_str().map(str::to_owned);
        }
        Err(format!("auditLogs: more than {limit} pages"))
    }

    async fn newest_sequence(&self) -> Result<i64, String> {
        let query = "query($k: String!) { environment(key: $k) { auditLogs(first: 1) { edges { node { sequence } } } } }";
        let data = self.post(query, json!({"k": ENVIRONMENT})).await?;
        data["environment"]["auditLogs"]["edges"][0]["node"]["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "no audit entry".to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// Subscribers.

struct Shared {
    /// Connected, acknowledged and subscribe message sent.
    subscribed: AtomicUsize,
    /// Received at least one event.
    live: AtomicUsize,
    /// Per subscriber: distinct events of the measured phase received so far.
    received: Vec<AtomicUsize>,
    /// Events with a sequence above this one belong to the measured phase (`i64::MAX` until the
    /// barrier is known).
    barrier: AtomicI64,
    /// Events delivered in total (all phases).
    delivered: AtomicUsize,
}

#[derive(Default)]
struct Outcome {
    /// (sequence, latency in µs) of every event in the measured phase, in arrival order.
    deliveries: Vec<(i64, i64)>,
    /// Deliveries whose sequence is lower than one delivered before.
    out_of_order: usize,
    /// Failure to connect or subscribe, or how the stream ended early.
    error: Option<String>,
    connected: bool,
    /// GraphQL `next` payloads carrying errors, or messages that could not be read.
    bad_messages: usize,
}

async fn subscriber(
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

// ---------------------------------------------------------------------------------------------
// Mutations.

struct MutationReport {
    latencies: Vec<Duration>,
    errors: Vec<String>,
    wall: Duration,
}

async fn run_mutations(http: Arc<Http>, mutations: usize, concurrency: usize) -> MutationReport {
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let (http, next) = (http.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= mutations {
                        break;
                    }
                    let t = Instant::now();
                    if let Err(err) = http.create_metric(&format!("load metric {i}")).await {
                        errors.push(err);
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut report = MutationReport {
        latencies: Vec::with_capacity(mutations),
        errors: Vec::new(),
        wall: Duration::ZERO,
    };
    for worker in workers {
        let (latencies, errors) = worker.await.expect("mutation worker");
        report.latencies.extend(latencies);
        report.errors.extend(errors);
    }
    report.wall = started.elapsed();
    report
}

/// The value at quantile `q` of sorted `values`.
fn quantile<T: Copy>(values: &[T], q: f64) -> Option<T> {
    if values.is_empty() {
        return None;
    }
    let i = ((values.len() as f64 * q).ceil() as usize).clamp(1, values.len()) - 1;
    Some(values[i])
}

fn ms(us: Option<i64>) -> String {
    us.map(|us| format!("{:.2} ms", us as f64 / 1e3))
        .unwrap_or_else(|| "-".into())
}

// ---------------------------------------------------------------------------------------------
// One run.

struct Config {
    backend: String,
    subscribers: usize,
    mutations: usize,
    concurrency: usize,
    connect_concurrency: usize,
    drain: Duration,
    fd_limit: u64,
}

/// Waits until `done()` or `timeout`, polling every 100 ms; returns whether it became true.
async fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// Runs the scenario; returns the exit code: 0 when clean, 1 when an event was lost, duplicated
/// or foreign, 3 when delivery was exact but mutations or connections failed.
async fn run(config: &Config, dir: PathBuf, url: String) -> i32 {
    let n = config.subscribers;
    let m = config.mutations;
    let wall = Instant::now();
    let token = seed(&url).await;
    let (mut server, port) = start_server(&url, &dir, config.fd_limit).await;
    let pid = server.pid();
    println!(
        "server pid {pid} on 127.0.0.1:{port}, open-file limit {}, log {}",
        max_open_files(pid).unwrap_or_else(|| "?".into()),
        server.log.display()
    );
    let http = Arc::new(Http {
        url: format!("http://127.0.0.1:{port}/graphql"),
        token: token.clone(),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(config.concurrency)
            .build()
            .expect("http client"),
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_bytes(pid).unwrap_or(0);

    // Connect N subscribers, `connect_concurrency` handshakes at a time.
    let shared = Arc::new(Shared {
        subscribed: AtomicUsize::new(0),
        live: AtomicUsize::new(0),
        received: (0..n).map(|_| AtomicUsize::new(0)).collect(),
        barrier: AtomicI64::new(i64::MAX),
        delivered: AtomicUsize::new(0),
    });
    let stop = CancellationToken::new();
    let gate = Arc::new(Semaphore::new(config.connect_concurrency.max(1)));
    let token = Arc::new(token);
    let ws_url = format!("ws://127.0.0.1:{port}/graphql");
    let connect_started = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|index| {
            tokio::spawn(subscriber(
                index,
                ws_url.clone(),
                token.clone(),
                gate.clone(),
                shared.clone(),
                m,
                stop.clone(),
            ))
        })
        .collect();
    // Bounded: every connection attempt times out on its own; this only watches progress.
    let connect_budget = CONNECT_TIMEOUT * 2 * (n / config.connect_concurrency.max(1) + 2) as u32;
    let mut last_report = Instant::now();
    wait_until(connect_budget, || {
        let subscribed = shared.subscribed.load(Ordering::Relaxed);
        let failed = tasks.iter().filter(|t| t.is_finished()).count();
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!("  … {subscribed}/{n} subscribed, {failed} failed");
        }
        subscribed + failed >= n
    })
    .await;
    let subscribed = shared.subscribed.load(Ordering::Relaxed);
    let connect_time = connect_started.elapsed();
    println!(
        "subscribed {subscribed}/{n} in {:.1} s",
        connect_time.as_secs_f64()
    );

    // Barrier: mutate until every subscriber has received an event, proof that all are live.
    let mut barrier_sent = 0;
    let mut barrier_errors = Vec::new();
    let mut all_live = false;
    for attempt in 0..BARRIER_ATTEMPTS {
        barrier_sent += 1;
        if let Err(err) = http.create_metric(&format!("barrier {attempt}")).await {
            barrier_errors.push(err);
        }
        let target = shared.subscribed.load(Ordering::Relaxed);
        all_live = wait_until(BARRIER_WAIT, || {
            shared.live.load(Ordering::Relaxed) >= target
        })
        .await;
        if all_live {
            break;
        }
    }
    let live = shared.live.load(Ordering::Relaxed);
    let barrier = match http.newest_sequence().await {
        Ok(s) => s,
        Err(err) => panic!("reading the barrier's sequence: {err}"),
    };
    shared.barrier.store(barrier, Ordering::Release);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after = rss_bytes(pid).unwrap_or(0);
    let fds = open_files(pid);
    println!(
        "live {live}/{subscribed} after {barrier_sent} barrier mutation(s){}; server RSS {:.1} MiB → {:.1} MiB, {} open files",
        if all_live { "" } else { " (NOT all live)" },
        mib(rss_before),
        mib(rss_after),
        fds.map(|f| f.to_string()).unwrap_or_else(|| "?".into())
    );

    // The measured phase.
    let cpu_start = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let mut report = run_mutations(http.clone(), m, config.concurrency).await;
    println!(
        "{m} mutations in {:.2} s ({} errors)",
        report.wall.as_secs_f64(),
        report.errors.len()
    );
    // What must be delivered: the audit rows committed after the barrier (every mutation has
    // answered, so every commit is done; a failed mutation commits nothing).
    let committed = match http
        .sequences_above(barrier, m / 100 + 2 + BARRIER_ATTEMPTS)
        .await
    {
        Ok(s) => s,
        Err(err) => {
            println!("could not read the committed audit rows back: {err}; expecting {m}");
            Vec::new()
        }
    };
    let target = if committed.is_empty() && report.errors.len() < m {
        m - report.errors.len()
    } else {
        committed.len()
    };
    let drain_started = Instant::now();
    let mut last_report = Instant::now();
    // Done when every subscriber holds all committed events or its connection has ended.
    let drained = wait_until(config.drain, || {
        let done = tasks
            .iter()
            .zip(&shared.received)
            .filter(|(task, count)| task.is_finished() || count.load(Ordering::Relaxed) >= target)
            .count();
        if last_report.elapsed() > Duration::from_secs(5) {
            last_report = Instant::now();
            println!(
                "  … {done}/{n} subscribers complete, {} events delivered",
                shared.delivered.load(Ordering::Relaxed)
            );
        }
        done >= n
    })
    .await;
    let drain_time = drain_started.elapsed();
    let cpu_end = (cpu_seconds(&pid.to_string()), cpu_seconds("self"));
    let rss_end = rss_bytes(pid).unwrap_or(0);
    let server_exit = server.exited();
    // Counters the server exposes (e.g. catch-ups of subscribers that fell behind the buffer).
    let server_metrics: Vec<String> = match http
        .client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r
            .text()
            .await
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    stop.cancel();

    let mut outcomes = Vec::with_capacity(n);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
            Ok(Err(err)) => outcomes.push(Outcome {
                error: Some(format!("subscriber task failed: {err}")),
                ..Default::default()
            }),
            Err(_) => outcomes.push(Outcome {
                error: Some("subscriber task did not stop".into()),
                ..Default::default()
            }),
        }
    }
    drop(server);

    // Tally.
    let committed_set: HashSet<i64> = committed.iter().copied().collect();
    let mut latencies: Vec<i64> = Vec::new();
    // Per event: latency of its first and of its last delivery.
    let mut spread: HashMap<i64, (i64, i64)> = HashMap::new();
    let (mut delivered, mut distinct, mut unexpected, mut out_of_order, mut bad) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut short = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let mut error_count = 0usize;
    let mut emfile = false;
    for outcome in &outcomes {
        let mut seen = HashSet::with_capacity(outcome.deliveries.len());
        for &(sequence, latency) in &outcome.deliveries {
            delivered += 1;
            latencies.push(latency);
            let range = spread.entry(sequence).or_insert((latency, latency));
            *range = (range.0.min(latency), range.1.max(latency));
            if !committed_set.contains(&sequence) {
                unexpected += 1;
            } else if seen.insert(sequence) {
                distinct += 1;
            }
        }
        if seen.len() < target {
            short += 1;
        }
        out_of_order += outcome.out_of_order;
        bad += outcome.bad_messages;
        if let Some(error) = &outcome.error {
            error_count += 1;
            emfile |= error.contains("Too many open files") || error.contains("os error 24");
            if errors.len() < ERRORS_SHOWN {
                errors.push(error.clone());
            }
        }
    }
    latencies.sort_unstable();
    let mut first: Vec<i64> = spread.values().map(|r| r.0).collect();
    let mut last: Vec<i64> = spread.values().map(|r| r.1).collect();
    first.sort_unstable();
    last.sort_unstable();
    let expected = n * target;
    let lost = expected.saturating_sub(distinct);
    let duplicates = delivered - distinct - unexpected;
    let mut mutation_latencies = std::mem::take(&mut report.latencies);
    mutation_latencies.sort_unstable();
    let mutation_us = |q: f64| quantile(&mutation_latencies, q).map(|d| d.as_micros() as i64);
    let cpu = |start: Option<f64>, end: Option<f64>| match (start, end) {
        (Some(a), Some(b)) => format!("{:.1} s", b - a),
        _ => "?".into(),
    };

    println!();
    println!("== audit_load: {} ==", config.backend);
    println!(
        "subscribers           {n} (subscribed {subscribed}, all live before mutations: {all_live})"
    );
    println!(
        "mutations             {m} from {} clients in {:.2} s ({:.1}/s), latency p50 {} p99 {}, failed {}",
        config.concurrency,
        report.wall.as_secs_f64(),
        m as f64 / report.wall.as_secs_f64().max(1e-9),
        ms(mutation_us(0.50)),
        ms(mutation_us(0.99)),
        report.errors.len()
    );
    println!(
        "audit rows committed  {} after the barrier{}",
        committed.len(),
        if committed.len() == m - report.errors.len().min(m) {
            " (= successful mutations)".to_owned()
        } else {
            format!(
                " (MISMATCH: {} mutations succeeded)",
                m - report.errors.len().min(m)
            )
        }
    );
    println!(
        "events expected       {expected} (N × committed rows; N × M = {})",
        n * m
    );
    println!("delivered             {delivered}");
    println!("distinct delivered    {distinct}");
    println!("lost                  {lost}");
    println!("duplicates            {duplicates}");
    println!("unexpected            {unexpected} (sequences not committed in the measured phase)");
    println!("out of order          {out_of_order}");
    println!("subscribers short     {short}");
    println!(
        "delivery latency      p50 {}  p99 {}  max {}  (all deliveries)",
        ms(quantile(&latencies, 0.50)),
        ms(quantile(&latencies, 0.99)),
        ms(latencies.last().copied())
    );
    println!(
        "per event             first delivery p50 {} p99 {}; last delivery p50 {} p99 {}",
        ms(quantile(&first, 0.50)),
        ms(quantile(&first, 0.99)),
        ms(quantile(&last, 0.50)),
        ms(quantile(&last, 0.99))
    );
    println!(
        "drain                 {:.2} s after the last mutation{}",
        drain_time.as_secs_f64(),
        if drained {
            String::new()
        } else {
            format!(" (TIMED OUT after {:?})", config.drain)
        }
    );
    println!(
        "CPU (mutations+drain) server {}, load script {}",
        cpu(cpu_start.0, cpu_end.0),
        cpu(cpu_start.1, cpu_end.1)
    );
    println!(
        "server RSS            before {:.1} MiB, subscribed {:.1} MiB, end {:.1} MiB",
        mib(rss_before),
        mib(rss_after),
        mib(rss_end)
    );
    println!(
        "RSS per subscriber    {:.0} bytes ((subscribed − before) / {n})",
        rss_after.saturating_sub(rss_before) as f64 / n.max(1) as f64
    );
    println!(
        "connect time          {:.1} s ({} at a time)",
        connect_time.as_secs_f64(),
        config.connect_concurrency
    );
    println!(
        "wall time             {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    for line in &server_metrics {
        println!("server /metrics       {line}");
    }
    if !barrier_errors.is_empty() {
        println!("barrier errors        {barrier_errors:?}");
    }
    for error in report.errors.iter().take(ERRORS_SHOWN) {
        println!("mutation error        {error}");
    }
    if bad > 0 {
        println!("unreadable messages   {bad}");
    }
    if error_count > 0 {
        println!("subscriber errors     {error_count}, e.g.:");
        for error in &errors {
            println!("    {error}");
        }
    }
    if emfile {
        println!(
            "ERROR: connections failed with EMFILE (too many open files): raise the limit, e.g. \
             `ulimit -n 65536`, before running this script"
        );
    }
    if let Some(status) = server_exit {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        println!(
            "ERROR: the server exited during the run ({status}); log tail:\n{}",
            lines[lines.len().saturating_sub(20)..].join("\n")
        );
    }
    let delivery_ok = lost == 0 && duplicates == 0 && unexpected == 0;
    let run_ok = report.errors.is_empty()
        && error_count == 0
        && server_exit.is_none()
        && all_live
        && subscribed == n;
    println!(
        "result                delivery {}, run {}",
        if delivery_ok { "PASS" } else { "FAIL" },
        if run_ok {
            "clean"
        } else {
            "NOT CLEAN (failed mutations, subscriber errors or server exit: see above)"
        }
    );
    match (delivery_ok, run_ok) {
        (true, true) => 0,
        (false, _) => 1,
        (true, false) => 3,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; this script takes its settings from the environment.
    let config = Config {
        backend: env_or("LOAD_BACKEND", "sqlite".to_owned()),
        subscribers: env_or("LOAD_SUBSCRIBERS", 10_000),
        mutations: env_or("LOAD_MUTATIONS", 200),
        concurrency: env_or("LOAD_CONCURRENCY", 8),
        connect_concurrency: env_or("LOAD_CONNECT_CONCURRENCY", 200),
        drain: Duration::from_secs(env_or("LOAD_DRAIN_SECONDS", 60)),
        fd_limit: 0,
    };
    let want = config.subscribers as u64 + 1024;
    let config = match fd_limit::raise(want) {
        Some((soft, hard)) => {
            if soft < want {
                eprintln!(
                    "warning: open-file limit {soft} (hard {hard}) is below the {want} that \
                     {} subscribers need; run `ulimit -n 65536` first",
                    config.subscribers
                );
            }
            Config {
                fd_limit: soft.max(want),
                ..config
            }
        }
        None => {
            eprintln!(
                "note: could not read the open-file limit here; if connections fail with \
                 \"Too many open files\", run `ulimit -n 65536` first"
            );
            Config {
                fd_limit: want,
                ..config
            }
        }
    };
    println!(
        "lift audit load: backend {}, {} subscribers, {} mutations from {} clients",
        config.backend, config.subscribers, config.mutations, config.concurrency
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = std::env::temp_dir()
        .join("lift-audit-load")
        .join(uuid::Uuid::now_v7().simple().to_string());
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (url, pg_name) = runtime.block_on(database_url(&config.backend, &dir));
    // A panic inside the run unwinds its task (killing the server through its guard) and comes
    // back here as an error, so the database is still dropped.
    let run_dir = dir.clone();
    let outcome = runtime
        .block_on(async { tokio::spawn(async move { run(&config, run_dir, url).await }).await });
    if let Some(name) = pg_name {
        runtime.block_on(drop_postgres_database(&name));
    }
    // Kept (database and server log) when something went wrong.
    if matches!(outcome, Ok(0)) {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("database (SQLite) and server log kept in {}", dir.display());
    }
    match outcome {
        Ok(0) => {}
        Ok(code) => std::process::exit(code),
        Err(err) => {
            eprintln!("audit_load failed: {err}");
            std::process::exit(2);
        }
    }
}
