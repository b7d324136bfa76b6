//! Load script (not a test): the metric library list, as Flagsmith's
//! `GET /api/v1/environments/{key}/experiment-metrics/` answers it, against `lift serve` running as
//! a separate process pinned to one core. Two scenarios over the same 50 metrics (5 attached to a
//! running experiment), 64 connections:
//! - `bare`: `metrics(first: 50) { edges { node { id name } } }`;
//! - `fair`: what Flagsmith returns: `totalCount`, every field of the metric and its
//!   `definition`, and `attachments { experiment { id name status } }`;
//! - `unattached`: `fair` without `attachments`, the same list with everything but the relation
//!   the batching is for (the issue's "list without attachments").
//!
//! ```sh
//! cargo bench --bench list_load --no-run
//! # the load generator on core 1, each server on core 0 (LIST_LOAD_SERVER_CPU)
//! LIST_LOAD_SERVERS=main=/tmp/lift-main,branch=target/release/lift \
//!   taskset -c 1 cargo bench --bench list_load
//! ```
//! Settings (environment): `LOAD_BACKENDS` (`sqlite,postgres`), `LOAD_REQUESTS` per run (5000),
//! `LOAD_CONCURRENCY` (64), `LOAD_ROUNDS` (3), `LIST_LOAD_SERVERS` (`label=path,…`; default this
//! build's `lift`), `LIST_LOAD_SERVER_CPU` (`0`). Rounds alternate the servers and rotate the order of the
//! scenarios; each server serves the same seeded database. Reported per server and scenario: the
//! median over rounds of req/s, p50, p99 and the server's CPU time per request (from
//! `/proc/<pid>/stat`: what a request costs, whatever else shares the core), and the load average.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_or, LoadDatabase, SECRET};
use lift::admin::{self, AdminCommand};
use serde_json::{json, Value};

const ADMIN: &str = "load-admin@example.com";
const METRICS: usize = 50;
const ATTACHED: usize = 5;

const BARE: &str =
    "{ environment(key: \"load\") { metrics(first: 50) { edges { node { id name } } } } }";
const FAIR: &str = "{ environment(key: \"load\") { metrics(first: 50) { totalCount edges { node { id name description metricType aggregation direction createdAt definition { event filters { property op value { string number boolean stringList numberList } } value { source property } window { startSeconds endSeconds } } attachments { experiment { id name status } } } } } } }";
const UNATTACHED: &str = "{ environment(key: \"load\") { metrics(first: 50) { totalCount edges { node { id name description metricType aggregation direction createdAt definition { event filters { property op value { string number boolean stringList numberList } } value { source property } window { startSeconds endSeconds } } } } } } }";

/// One `lift serve` process; killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    async fn start(binary: &str, database_url: &str, cpu: &str, log: &std::path::Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let out = std::fs::File::create(log).expect("server log");
        let child = Command::new("taskset")
            .args(["-c", cpu, binary, "serve"])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", database_url])
            .env("LIFT_JWT_SECRET", SECRET)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log"))
            .stderr(out)
            .spawn()
            .expect("spawn taskset lift serve");
        let server = Server {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            let ready = http
                .post(&server.url)
                .json(&json!({"query": "{ __typename }"}))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return server;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{binary} not ready; log {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// User + system CPU seconds of the server (`taskset` execs it, so the pid is the server's).
    fn cpu_seconds(&self) -> f64 {
        common::cpu_seconds(&self.child.id().to_string()).expect("server stat")
    }
}

/// 50 metrics with filters and a value, a feature, and an experiment with 5 of them, started.
async fn seed(database_url: &str, server: &Server, token: &str) {
    let db = lift::db::connect(database_url).await.expect("db");
    let project = common::seed(&db, "Load", ADMIN).await;
    admin::run(
        &db,
        AdminCommand::CreateFeature {
            project,
            name: "checkout".into(),
            variants: "control:50,treatment:50".into(),
        },
    )
    .await
    .expect("feature");
    db.close().await.ok();
    let client = reqwest::Client::new();
    let run = |query: &'static str, variables: Value| {
        let client = client.clone();
        async move {
            common::post_graphql(&client, &server.url, token, query, variables)
                .await
                .expect(query)
        }
    };
    let mut metrics = Vec::new();
    for i in 0..METRICS {
        let data = run("mutation($i: CreateMetricInput!) { createMetric(input: $i) { id } }", json!({"i": {
            "environmentKey": "load", "name": format!("metric {i}"), "description": "revenue from paying plans",
            "metricType": "NUMERIC", "aggregation": "SUM", "direction": "UP",
            "definition": {"event": "purchase", "filters": [{"property": "plan", "op": "EQ", "value": {"string": "pro"}}],
                "value": {"source": "EVENT_VALUE"}}}})).await;
        metrics.push(data["createMetric"]["id"].as_str().expect("id").to_owned());
    }
    let feature = run(
        "{ environment(key: \"load\") { features(first: 1) { edges { node { id } } } } }",
        json!({}),
    )
    .await;
    let feature = feature["environment"]["features"]["edges"][0]["node"]["id"].clone();
    let experiment = run(
        "mutation($i: CreateExperimentInput!) { createExperiment(input: $i) { id } }",
        json!({"i": {"environmentKey": "load", "featureId": feature, "name": "Checkout"}}),
    )
    .await;
    let experiment = experiment["createExperiment"]["id"].clone();
    for metric in metrics.iter().step_by(METRICS / ATTACHED) {
        run("mutation($i: AttachMetricInput!) { attachMetric(input: $i) { id } }",
            json!({"i": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}})).await;
    }
    run(
        "mutation($id: ID!) { startExperiment(id: $id) { id } }",
        json!({"id": experiment}),
    )
    .await;
}

struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us_per_request: f64,
    errors: usize,
}

/// `requests` POSTs of `query` from `concurrency` clients.
async fn drive(
    server: &Server,
    token: &str,
    query: &'static str,
    requests: usize,
    concurrency: usize,
) -> Run {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("client");
    let next = Arc::new(AtomicUsize::new(0));
    let cpu_before = server.cpu_seconds();
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, url, token) = (
                client.clone(),
                next.clone(),
                server.url.clone(),
                token.to_owned(),
            );
            tokio::spawn(async move {
                let (mut latencies, mut errors) = (Vec::new(), 0);
                while next.fetch_add(1, Ordering::Relaxed) < requests {
                    let t = Instant::now();
                    if common::post_graphql(&client, &url, &token, query, json!({}))
                        .await
                        .is_err()
                    {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let (mut latencies, mut errors) = (Vec::with_capacity(requests), 0);
    for worker in workers {
        let (l, e) = worker.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let wall = started.elapsed();
    let cpu = server.cpu_seconds() - cpu_before;
    latencies.sort();
    let ms = |q| {
        common::quantile(&latencies, q)
            .expect("a request")
            .as_secs_f64()
            * 1e3
    };
    Run {
        rps: latencies.len() as f64 / wall.as_secs_f64(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        cpu_us_per_request: cpu * 1e6 / latencies.len() as f64,
        errors,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn servers() -> Vec<(String, String)> {
    let default = format!("branch={}", env!("CARGO_BIN_EXE_lift"));
    let list: String = env_or("LIST_LOAD_SERVERS", default);
    list.split(',')
        .filter_map(|entry| entry.split_once('='))
        .map(|(label, path)| (label.trim().to_owned(), path.trim().to_owned()))
        .collect()
}

async fn run_backend(backend: &str, requests: usize, concurrency: usize, rounds: usize) {
    let name = format!("lift_list_load_{}", uuid::Uuid::now_v7().simple());
    let dir: PathBuf = std::env::temp_dir().join("lift-list-load").join(&name);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let database = if backend == "sqlite" {
        LoadDatabase::sqlite(&dir)
    } else {
        LoadDatabase::postgres(name).await
    };
    let cpu: String = env_or("LIST_LOAD_SERVER_CPU", "0".to_owned());
    let servers = servers();
    let token = common::issue_token(&database.url, ADMIN, Duration::from_secs(24 * 3600));
    {
        let first = Server::start(&servers[0].1, &database.url, &cpu, &dir.join("seed.log")).await;
        seed(&database.url, &first, &token).await;
    }
    // (server, scenario) → runs
    let mut runs: Vec<((usize, &str), Run)> = Vec::new();
    for round in 0..rounds {
        for (s, (label, binary)) in servers.iter().enumerate() {
            let server = Server::start(
                binary,
                &database.url,
                &cpu,
                &dir.join(format!("{label}.log")),
            )
            .await;
            drive(&server, &token, FAIR, requests / 10, concurrency).await; // warm-up
            let mut order = [("bare", BARE), ("unattached", UNATTACHED), ("fair", FAIR)];
            order.rotate_left(round % 3);
            for (scenario, query) in order {
                let load = load_average();
                let run = drive(&server, &token, query, requests, concurrency).await;
                println!(
                    "{backend:<9} round {round} {label:<8} {scenario:<10} {:>7.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  server CPU {:>6.0} µs/req  errors {}  load {load}",
                    run.rps, run.p50_ms, run.p99_ms, run.cpu_us_per_request, run.errors
                );
                runs.push(((s, scenario), run));
            }
        }
    }
    println!("\n{backend}: medians over {rounds} rounds ({requests} requests, {concurrency} connections, server on CPU {cpu})");
    println!(
        "| server | scenario | req/s | p50 ms | p99 ms | server CPU µs/req | fair / this (CPU) |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (s, (label, _)) in servers.iter().enumerate() {
        let pick = |scenario: &str, f: fn(&Run) -> f64| {
            median(
                runs.iter()
                    .filter(|((i, sc), _)| *i == s && *sc == scenario)
                    .map(|(_, r)| f(r))
                    .collect(),
            )
        };
        for scenario in ["bare", "unattached", "fair"] {
            let ratio =
                pick("fair", |r| r.cpu_us_per_request) / pick(scenario, |r| r.cpu_us_per_request);
            println!(
                "| {label} | {scenario} | {:.0} | {:.2} | {:.2} | {:.0} | {} |",
                pick(scenario, |r| r.rps),
                pick(scenario, |r| r.p50_ms),
                pick(scenario, |r| r.p99_ms),
                pick(scenario, |r| r.cpu_us_per_request),
                if scenario == "fair" {
                    String::new()
                } else {
                    format!("{ratio:.2}")
                },
            );
        }
    }
    let _ = database.drop_database().await;
}

fn main() {
    let backends: String = env_or("LOAD_BACKENDS", "sqlite,postgres".to_owned());
    let requests: usize = env_or("LOAD_REQUESTS", 5000);
    let concurrency: usize = env_or("LOAD_CONCURRENCY", 64);
    let rounds: usize = env_or("LOAD_ROUNDS", 3);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        runtime.block_on(run_backend(backend, requests, concurrency, rounds));
    }
}
