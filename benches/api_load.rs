//! Load script (not a test): starts lift on a fresh database, seeds an environment, then drives
//! GraphQL over HTTP with concurrent clients and reports throughput and latency percentiles.
//!
//! ```sh
//! cargo bench --bench api_load                       # SQLite and PostgreSQL, defaults below
//! LOAD_BACKENDS=postgres LOAD_REQUESTS=5000 LOAD_CONCURRENCY=64 cargo bench --bench api_load
//! ```
//! PostgreSQL is `LIFT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! the script creates and drops its own database there. Every loop is bounded by request count.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{env_or, LoadDatabase};
use lift::configuration::Settings;
use lift::startup::Application;
use serde_json::{json, Value};

const ADMIN: &str = "load-admin@example.com";

struct Target {
    url: String,
    token: String,
    client: reqwest::Client,
}

impl Target {
    async fn post(&self, query: &str, variables: Value) -> Result<Value, String> {
        common::post_graphql(&self.client, &self.url, &self.token, query, variables).await
    }
}

struct Report {
    name: &'static str,
    latencies: Vec<Duration>,
    errors: usize,
    wall: Duration,
}

impl Report {
    fn print(&mut self, backend: &str) {
        self.latencies.sort();
        let pct = |p: f64| {
            common::quantile(&self.latencies, p)
                .expect("at least one request")
                .as_secs_f64()
                * 1e3
        };
        println!(
            "{backend:<9} {:<26} {:>6} req  {:>8.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {}",
            self.name,
            self.latencies.len(),
            self.latencies.len() as f64 / self.wall.as_secs_f64(),
            pct(0.50),
            pct(0.99),
            self.errors
        );
    }
}

/// Runs `requests` operations from `concurrency` clients; `op(i)` gives the i-th operation.
async fn drive<F>(
    name: &'static str,
    target: Arc<Target>,
    requests: usize,
    concurrency: usize,
    op: F,
) -> Report
where
    F: Fn(usize) -> (String, Value) + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (target, op, next) = (target.clone(), op.clone(), next.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0;
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= requests {
                        break;
                    }
                    let (query, variables) = op(i);
                    let t = Instant::now();
                    if target.post(&query, variables).await.is_err() {
                        errors += 1;
                    }
                    latencies.push(t.elapsed());
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut report = Report {
        name,
        latencies: Vec::with_capacity(requests),
        errors: 0,
        wall: Duration::ZERO,
    };
    for worker in workers {
        let (latencies, errors) = worker.await.expect("worker");
        report.latencies.extend(latencies);
        report.errors += errors;
    }
    report.wall = started.elapsed();
    report
}

/// A fresh database: SQLite in a new temporary directory, or a new PostgreSQL database.
async fn database(backend: &str) -> LoadDatabase {
    let name = format!("lift_load_{}", uuid::Uuid::now_v7().simple());
    if backend == "sqlite" {
        let dir = std::env::temp_dir().join("lift-load").join(&name);
        std::fs::create_dir_all(&dir).expect("temp dir");
        return LoadDatabase::sqlite(&dir);
    }
    LoadDatabase::postgres(name).await
}

async fn run_backend(backend: &str, requests: usize, concurrency: usize) {
    let database = database(backend).await;
    let url = database.url.clone();
    let mut settings = Settings::defaults();
    settings.server.listen = "127.0.0.1:0".into();
    settings.database.database_url = url.clone();
    settings.auth = common::auth_settings();
    let app = Application::build(&settings).await.expect("app");
    let address = format!("http://{}/graphql", app.local_addr().expect("addr"));
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let db = lift::db::connect(&url).await.expect("db");
    common::seed(&db, "Load", ADMIN).await;
    let target = Arc::new(Target {
        url: address,
        token: common::issue_token(&url, ADMIN, Duration::from_secs(3600)),
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(concurrency)
            .build()
            .expect("client"),
    });

    let create = "mutation($i: CreateMetricInput!) { createMetric(input: $i) { id } }";
    let mut report = drive("createMetric", target.clone(), requests, concurrency, move |i| {
        let input = json!({"i": {"environmentKey": "load", "name": format!("metric {i}"), "metricType": "NUMERIC",
            "aggregation": "SUM", "direction": "UP", "definition": {"event": "purchase",
            "filters": [{"property": "plan", "op": "EQ", "value": {"string": "pro"}}],
            "value": {"source": "EVENT_VALUE"}}}});
        (create.to_owned(), input)
    })
    .await;
    report.print(backend);

    let list = "{ environment(key: \"load\") { metrics(first: 20) { totalCount edges { cursor node { id name definition { event } } } } } }";
    let mut report = drive(
        "environment.metrics(20)",
        target.clone(),
        requests,
        concurrency,
        move |_| (list.to_owned(), json!({})),
    )
    .await;
    report.print(backend);

    let ids: Vec<String> = target
        .post(
            "{ environment(key: \"load\") { metrics(first: 100) { edges { node { id } } } } }",
            json!({}),
        )
        .await
        .expect("ids")["environment"]["metrics"]["edges"]
        .as_array()
        .map(|edges| {
            edges
                .iter()
                .filter_map(|e| e["node"]["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let ids = Arc::new(ids);
    let get = "query($id: ID!) { metric(id: $id) { id name aggregation } }";
    let mut report = drive(
        "metric(id)",
        target.clone(),
        requests,
        concurrency,
        move |i| (get.to_owned(), json!({"id": ids[i % ids.len()]})),
    )
    .await;
    report.print(backend);

    db.close().await.ok();
    // Best effort: a database that cannot be dropped is left behind without a message.
    let _ = database.drop_database().await;
}

fn main() {
    // `cargo bench` passes `--bench`; this script takes its settings from the environment.
    let backends: String = env_or("LOAD_BACKENDS", "sqlite,postgres".to_owned());
    let requests: usize = env_or("LOAD_REQUESTS", 2000);
    let concurrency: usize = env_or("LOAD_CONCURRENCY", 32);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("lift API load: {requests} requests per scenario, {concurrency} concurrent clients");
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        runtime.block_on(run_backend(backend, requests, concurrency));
    }
}
