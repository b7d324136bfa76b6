//! Timing a query and reading its peak memory; checking that two answers agree.
//!
//! Every timed query goes through the same client as the bench's own statements, with lift's
//! settings (`max_memory_usage`, `max_bytes_before_external_group_by`, `max_execution_time`) and,
//! for lift's queries, their compiled text with the parameters bound server-side as lift binds
//! them; lift's answers themselves are read once through `Warehouse` (the real path). Peak memory
//! is ClickHouse's own `peak_memory_usage` of the query, polled from `system.processes` every
//! 50 ms while it runs (the local engine keeps no `system.query_log`): a slight under-estimate when
//! the peak falls in the last 50 ms.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clickhouse::Client;
use serde::Deserialize;

use lift::sql::{CompiledQuery, ParamValue};

use crate::scope::METRIC_NAMES;

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct MetricRow {
    pub metric: u32,
    pub variant: String,
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// `(metric, variant) → (n, sum, sum_sq)`, ordered for printing.
pub type Stats = BTreeMap<(usize, String), (u64, f64, f64)>;

pub fn stats(rows: Vec<MetricRow>) -> Stats {
    rows.into_iter()
        .map(|r| ((r.metric as usize, r.variant), (r.n, r.sum, r.sum_sq)))
        .collect()
}

/// Samples of one query: durations and the largest peak memory seen.
#[derive(Default, Clone)]
pub struct Samples {
    pub times: Vec<Duration>,
    pub peak_bytes: u64,
}

impl Samples {
    fn ms(&self) -> Vec<f64> {
        let mut ms: Vec<f64> = self.times.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    }
    pub fn median(&self) -> f64 {
        median(self.ms())
    }
    pub fn min(&self) -> f64 {
        self.ms()[0]
    }
    pub fn max(&self) -> f64 {
        *self.ms().last().expect("samples")
    }
    /// The median over runs of `self[i] / other[i]`: each run's queries ran back to back, so this
    /// cancels load that changes between runs.
    pub fn median_ratio(&self, other: &Samples) -> f64 {
        median(
            (self.times.iter().zip(&other.times))
                .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
                .collect(),
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// A query to time: SQL text and its parameters (none for the hand-written ones).
#[derive(Clone)]
pub struct Timed {
    pub sql: String,
    pub params: Vec<(String, ParamValue)>,
}

impl From<CompiledQuery> for Timed {
    fn from(query: CompiledQuery) -> Self {
        Timed {
            sql: query.sql,
            params: query.params,
        }
    }
}

impl From<String> for Timed {
    fn from(sql: String) -> Self {
        Timed {
            sql,
            params: Vec::new(),
        }
    }
}

fn bind(
    query: clickhouse::query::Query,
    name: &str,
    value: &ParamValue,
) -> clickhouse::query::Query {
    match value {
        ParamValue::String(s) => query.param(name, s),
        ParamValue::Float64(f) => query.param(name, f),
        ParamValue::Int64(i) => query.param(name, i),
        ParamValue::StringArray(a) => query.param(name, a),
        ParamValue::Float64Array(a) => query.param(name, a),
        ParamValue::DateTime64(_) => query.param(name, value.to_clickhouse_text()),
    }
}

/// Runs `query` once (the answer is read and dropped), recording its time and peak memory.
pub async fn run(client: &Client, query: &Timed, samples: &mut Samples) -> anyhow::Result<()> {
    // The query is found by its `log_comment`: with bound parameters the engine lists the query's
    // text re-formatted, without comments, so a marker in the text would never match.
    let marker = format!("lift-bench-{}", uuid::Uuid::now_v7().simple());
    let mut request = client
        .query(&query.sql)
        .with_setting("log_comment", marker.as_str());
    for (name, value) in &query.params {
        request = bind(request, name, value);
    }
    let began = Instant::now();
    let answer = async {
        let mut cursor = request.fetch_bytes("RowBinary")?;
        cursor.collect().await
    };
    let poll = format!(
        "SELECT max(peak_memory_usage) FROM system.processes \
         WHERE Settings['log_comment'] = '{marker}'"
    );
    let mut peak = 0u64;
    tokio::pin!(answer);
    let result = loop {
        tokio::select! {
            result = &mut answer => break result,
            _ = tokio::time::sleep(Duration::from_millis(50)) => {
                if let Ok(bytes) = client.query(&poll).fetch_one::<i64>().await {
                    peak = peak.max(u64::try_from(bytes).unwrap_or(0));
                }
            }
        }
    };
    samples.times.push(began.elapsed());
    samples.peak_bytes = samples.peak_bytes.max(peak);
    result?;
    Ok(())
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Where two answers disagree (empty: they agree). `n` must be equal, sums equal up to float
/// rounding (they add in different orders).
pub fn differences(lift: &Stats, check: &Stats) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<_> = lift.keys().chain(check.keys()).collect();
    for key in keys {
        let name = METRIC_NAMES.get(key.0).copied().unwrap_or("?");
        match (lift.get(key), check.get(key)) {
            (Some(l), Some(h)) if l.0 == h.0 && close(l.1, h.1) && close(l.2, h.2) => {}
            (l, h) => out.push(format!(
                "metric {} ({name}) / {}: lift {l:?}, check {h:?}",
                key.0, key.1
            )),
        }
    }
    out
}

/// The agreed figures, per metric and variant: n, mean and sum.
pub fn print_stats(stats: &Stats) {
    for ((metric, variant), (n, sum, _)) in stats {
        let name = METRIC_NAMES.get(*metric).copied().unwrap_or("?");
        println!(
            "    {metric} {name:<32} {variant:<10} n {n:>9}  sum {sum:>14.1}  mean {:.4}",
            sum / *n as f64
        );
    }
}
