//! GraphQL over HTTP as the seeded admin: `createMetric`, reading the environment's audit
//! sequences back, and the measured load of M mutations from a few concurrent clients.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::ENVIRONMENT;

const CREATE_METRIC: &str = "mutation($i: CreateMetricInput!) { createMetric(input: $i) { id } }";
const HTTP_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Http {
    pub url: String,
    pub token: String,
    pub client: reqwest::Client,
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

    pub async fn create_metric(&self, name: &str) -> Result<(), String> {
        let input = json!({"i": {"environmentKey": ENVIRONMENT, "name": name, "metricType": "NUMERIC",
            "aggregation": "SUM", "direction": "UP", "definition": {"event": "purchase",
            "value": {"source": "EVENT_VALUE"}}}});
        self.post(CREATE_METRIC, input).await.map(|_| ())
    }

    /// Sequences of the environment's audit entries above `above`, ascending (newest-first pages
    /// of 100, stopping at `above`; at most `limit` pages).
    pub async fn sequences_above(&self, above: i64, limit: usize) -> Result<Vec<i64>, String> {
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

    pub async fn newest_sequence(&self) -> Result<i64, String> {
        let query = "query($k: String!) { environment(key: $k) { auditLogs(first: 1) { edges { node { sequence } } } } }";
        let data = self.post(query, json!({"k": ENVIRONMENT})).await?;
        data["environment"]["auditLogs"]["edges"][0]["node"]["sequence"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "no audit entry".to_owned())
    }
}

pub struct MutationReport {
    pub latencies: Vec<Duration>,
    pub errors: Vec<String>,
    pub wall: Duration,
}

/// Sends the measured mutations from a thread and runtime of their own, with a client of their
/// own: on this process's runtime they would queue behind the N subscribers' reader tasks, and the
/// figure would measure this script's scheduling rather than the server.
pub async fn run_mutations_apart(
    http: &Http,
    mutations: usize,
    concurrency: usize,
    rate: f64,
) -> MutationReport {
    let (url, token) = (http.url.clone(), http.token.clone());
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("mutation runtime");
        runtime.block_on(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(concurrency)
                .build()
                .expect("http client");
            let http = Arc::new(Http { url, token, client });
            run_mutations(http, mutations, concurrency, rate).await
        })
    });
    tokio::task::spawn_blocking(move || thread.join().expect("mutation thread"))
        .await
        .expect("mutation thread")
}

/// Sends `mutations` `createMetric` mutations from `concurrency` clients: as fast as they answer,
/// or, with `rate` > 0, mutation i no earlier than i / `rate` seconds after the start.
async fn run_mutations(
    http: Arc<Http>,
    mutations: usize,
    concurrency: usize,
    rate: f64,
) -> MutationReport {
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
                    if rate > 0.0 {
                        let due = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
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
