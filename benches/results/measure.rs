//! Timing the three queries on one loaded size, and checking that lift and the hand-written query
//! agree.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use clickhouse::Client;
use serde::Deserialize;

use lift::domain::results::{ExposureCounts, MetricStats};
use lift::sql::{compile_metrics, CompiledQuery, ResultsScope};
use lift::warehouse::Warehouse;

use crate::hand;
use crate::scope::METRIC_NAMES;

#[derive(Debug, clickhouse::Row, Deserialize)]
struct HandRow {
    metric: u32,
    variant: String,
    n: u64,
    sum: f64,
    sum_sq: f64,
}

/// `(metric, variant) → (n, sum, sum_sq)`, ordered for printing.
pub type Stats = BTreeMap<(usize, String), (u64, f64, f64)>;

/// Samples of one query.
#[derive(Default)]
pub struct Samples(Vec<Duration>);

impl Samples {
    fn ms(&self) -> Vec<f64> {
        let mut ms: Vec<f64> = self.0.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        ms
    }
    pub fn median(&self) -> f64 {
        let ms = self.ms();
        let mid = ms.len() / 2;
        if ms.len() % 2 == 1 {
            ms[mid]
        } else {
            (ms[mid - 1] + ms[mid]) / 2.0
        }
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
        let mut ratios: Vec<f64> = (self.0.iter().zip(&other.0))
            .map(|(a, b)| a.as_secs_f64() / b.as_secs_f64())
            .collect();
        ratios.sort_by(f64::total_cmp);
        let mid = ratios.len() / 2;
        if ratios.len() % 2 == 1 {
            ratios[mid]
        } else {
            (ratios[mid - 1] + ratios[mid]) / 2.0
        }
    }
}

pub struct Measured {
    pub exposures: Samples,
    pub lift: Samples,
    pub hand: Samples,
    /// `RESULTS_BENCH_EXTRA_SQL`: a candidate metrics query, its samples and whether it agrees.
    pub extra: Option<(Samples, bool)>,
    pub exposure_counts: ExposureCounts,
    pub lift_stats: Stats,
    pub hand_stats: Stats,
}

fn from_lift(stats: MetricStats) -> Stats {
    stats
        .into_iter()
        .map(|(key, s)| (key, (s.n, s.sum, s.sum_sq)))
        .collect()
}

async fn hand_query(client: &Client, sql: &str) -> anyhow::Result<Stats> {
    let rows: Vec<HandRow> = client.query(sql).fetch_all().await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.metric as usize, r.variant), (r.n, r.sum, r.sum_sq)))
        .collect())
}

/// A candidate metrics query with the compiled query's parameters (same `{pN:Type}` numbering),
/// through the `Warehouse` like lift's own.
async fn extra_query(warehouse: &Warehouse, query: &CompiledQuery) -> anyhow::Result<Stats> {
    let rows: Vec<HandRow> = warehouse.fetch_all(query, "other").await?;
    Ok(rows
        .into_iter()
        .map(|r| ((r.metric as usize, r.variant), (r.n, r.sum, r.sum_sq)))
        .collect())
}

async fn timed<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    samples: &mut Samples,
    call: F,
) -> anyhow::Result<T> {
    let began = Instant::now();
    let value = call.await?;
    samples.0.push(began.elapsed());
    Ok(value)
}

/// One warm-up of each query, then `runs` rounds of exposures → lift metrics → hand-written
/// (→ the extra query when `extra_sql` is given),
/// interleaved so that background load on the machine hits all three alike. Every run's answer
/// must equal the warm-up's.
pub async fn measure(
    warehouse: &Warehouse,
    client: &Client,
    scope: &ResultsScope,
    database: &str,
    runs: usize,
    extra_sql: Option<&str>,
) -> anyhow::Result<Measured> {
    let sql = hand::metrics_sql(database);
    let extra = extra_sql
        .map(|text| {
            let compiled = compile_metrics(scope)?;
            anyhow::Ok(CompiledQuery {
                sql: text.to_owned(),
                params: compiled.params,
            })
        })
        .transpose()?;
    let exposure_counts = warehouse.exposures(scope).await?;
    let lift_stats = from_lift(warehouse.metric_stats(scope).await?);
    let hand_stats = hand_query(client, &sql).await?;
    let extra_stats = match &extra {
        Some(query) => Some(extra_query(warehouse, query).await?),
        None => None,
    };
    let mut exposures = Samples::default();
    let mut lift = Samples::default();
    let mut hand = Samples::default();
    let mut extra_samples = Samples::default();
    for run in 0..runs {
        let counts = timed(&mut exposures, async {
            Ok(warehouse.exposures(scope).await?)
        })
        .await?;
        anyhow::ensure!(counts == exposure_counts, "exposures changed between runs");
        let stats = timed(&mut lift, async {
            Ok(warehouse.metric_stats(scope).await?)
        })
        .await?;
        let changed = differences(&from_lift(stats), &lift_stats);
        anyhow::ensure!(
            changed.is_empty(),
            "lift's metrics changed between runs: {changed:?}"
        );
        let stats = timed(&mut hand, hand_query(client, &sql)).await?;
        let changed = differences(&stats, &hand_stats);
        anyhow::ensure!(
            changed.is_empty(),
            "hand-written metrics changed: {changed:?}"
        );
        if let Some(query) = &extra {
            timed(&mut extra_samples, extra_query(warehouse, query)).await?;
        }
        eprintln!(
            "    run {}: exposures {:.0} ms, lift metrics {:.0} ms, hand-written {:.0} ms",
            run + 1,
            exposures.0[run].as_secs_f64() * 1e3,
            lift.0[run].as_secs_f64() * 1e3,
            hand.0[run].as_secs_f64() * 1e3
        );
    }
    let extra = extra_stats.map(|stats| {
        let agrees = differences(&lift_stats, &stats);
        for line in &agrees {
            println!("    extra query differs from lift: {line}");
        }
        (extra_samples, agrees.is_empty())
    });
    Ok(Measured {
        exposures,
        lift,
        hand,
        extra,
        exposure_counts,
        lift_stats,
        hand_stats,
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Where lift and the hand-written query disagree (empty: they agree). `n` must be equal, sums
/// equal up to float rounding (the two add in different orders).
pub fn differences(lift: &Stats, hand: &Stats) -> Vec<String> {
    let mut out = Vec::new();
    let keys: std::collections::BTreeSet<_> = lift.keys().chain(hand.keys()).collect();
    for key in keys {
        let name = METRIC_NAMES.get(key.0).copied().unwrap_or("?");
        match (lift.get(key), hand.get(key)) {
            (Some(l), Some(h)) if l.0 == h.0 && close(l.1, h.1) && close(l.2, h.2) => {}
            (l, h) => out.push(format!(
                "metric {} ({name}) / {}: lift {l:?}, hand-written {h:?}",
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
