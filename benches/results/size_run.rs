//! One size: lift's answers on both table kinds checked against the independent computation, then
//! the timed rounds.

use clickhouse::Client;

use lift::domain::results::{ExposureCounts, MetricStats};
use lift::sql::{compile_exposures, compile_metrics, CompiledQuery, EventsTableKind};
use lift::warehouse::Warehouse;

use crate::load::{Loaded, DEDUP, PLAIN};
use crate::measure::{self, differences, print_stats, Samples, Stats, Timed};
use crate::scope::{catalogue_scope, cuped_scope, results_scope};
use crate::yardsticks;

/// The samples of one table kind.
#[derive(Default)]
pub struct KindSamples {
    pub scan: Samples,
    pub floor: Samples,
    pub exposures: Samples,
    pub metrics: Samples,
    /// The metrics query with CUPED, run right after `metrics` in every round.
    pub metrics_cuped: Samples,
    /// The metrics query of one metric of every kind (`catalogue_scope`), run right after.
    pub metrics_catalogue: Samples,
}

pub struct Measured {
    pub dedup: KindSamples,
    pub plain: KindSamples,
    /// The independent computation, timed once.
    pub check: Samples,
    /// `RESULTS_BENCH_EXTRA_SQL` on the deduplicating table, and whether it agrees.
    pub extra: Option<(Samples, bool)>,
    pub agree: bool,
}

fn from_lift(stats: MetricStats) -> Stats {
    stats
        .into_iter()
        .map(|(key, s)| (key, (s.stats.n, s.stats.sum, s.stats.sum_sq)))
        .collect()
}

/// The queries timed for one table kind.
struct KindQueries {
    scan: Timed,
    floor: Timed,
    exposures: Timed,
    metrics: Timed,
    metrics_cuped: Timed,
    metrics_catalogue: Timed,
}

fn queries(database: &str, table: &str, kind: EventsTableKind) -> anyhow::Result<KindQueries> {
    let scope = results_scope(database, table);
    let qualified = format!("`{database}`.{table}");
    Ok(KindQueries {
        scan: yardsticks::plain_scan(&qualified).into(),
        floor: yardsticks::per_identity_floor(&qualified).into(),
        exposures: compile_exposures(&scope)?.into(),
        metrics: compile_metrics(&scope, kind)?.into(),
        metrics_cuped: compile_metrics(&cuped_scope(database, table), kind)?.into(),
        metrics_catalogue: compile_metrics(&catalogue_scope(database, table), kind)?.into(),
    })
}

/// Lift's answers through `Warehouse` (which reads the table's kind itself): exposures, the
/// metrics without and with CUPED, and the table's kind.
async fn lift_answers(
    warehouse: &Warehouse,
    database: &str,
    table: &str,
) -> anyhow::Result<(ExposureCounts, Stats, MetricStats, EventsTableKind)> {
    let scope = results_scope(database, table);
    let kind = warehouse.events_table_kind().await?;
    let exposures = warehouse.exposures(&scope).await?;
    let stats = from_lift(warehouse.metric_stats(&scope).await?);
    let cuped = warehouse
        .metric_stats(&cuped_scope(database, table))
        .await?;
    Ok((exposures, stats, cuped, kind))
}

/// The covariate sums of the CUPED answer, per metric and variant.
fn print_covariates(cuped: &MetricStats) {
    let mut keys: Vec<_> = cuped.keys().collect();
    keys.sort();
    for key in keys {
        match cuped[key].covariate {
            Some(c) => println!(
                "    {} {:<10} sum_x {:>14.1}  sum_x2 {:>16.1}  sum_xy {:>16.1}",
                key.0, key.1, c.sum, c.sum_sq, c.sum_product
            ),
            None => println!("    {} {:<10} no covariate (MEAN)", key.0, key.1),
        }
    }
}

/// `max_memory_usage` of the independent check (this machine has 24 GB).
const CHECK_MAX_MEMORY_BYTES: u64 = 16_000_000_000;

pub async fn measure(
    loaded: &Loaded,
    client: &Client,
    runs: usize,
    extra_sql: Option<&str>,
) -> anyhow::Result<Measured> {
    let database = &loaded.database;
    let mut check = Samples::default();
    let check_sql: Timed = yardsticks::check(&format!("`{database}`.{PLAIN}")).into();
    let began = std::time::Instant::now();
    // The check is the bench's reference, not what is measured: at 100M events its `DISTINCT`
    // needs ~6 GB, more than lift's 4 GB, which only lift's own queries are held to.
    let rows: Vec<measure::MetricRow> = client
        .query(&check_sql.sql)
        .with_setting("max_memory_usage", CHECK_MAX_MEMORY_BYTES.to_string())
        .fetch_all()
        .await?;
    check.times.push(began.elapsed());
    let expected = measure::stats(rows);
    let mut agree = true;
    let mut exposures_seen: Option<ExposureCounts> = None;
    for (warehouse, table, wanted) in [
        (&loaded.dedup, DEDUP, EventsTableKind::Deduplicating),
        (&loaded.plain, PLAIN, EventsTableKind::Plain),
    ] {
        let (exposures, stats, cuped, kind) = lift_answers(warehouse, database, table).await?;
        anyhow::ensure!(
            kind == wanted,
            "{table} was read as {kind:?}, not {wanted:?}"
        );
        let counts = &exposures;
        println!(
            "  {table} ({kind:?}): exposures control {}, treatment {}, multiple {}, unknown variant {}",
            counts.identities.get("control").copied().unwrap_or(0),
            counts.identities.get("treatment").copied().unwrap_or(0),
            counts.multiple_exposures,
            counts.unknown_variant
        );
        if let Some(seen) = &exposures_seen {
            if seen != &exposures {
                agree = false;
                println!("  MISMATCH: the exposures differ between the table kinds");
            }
        }
        exposures_seen = Some(exposures);
        let differ = differences(&stats, &expected);
        if differ.is_empty() {
            println!("  lift's metrics on {table} equal the independent check:");
            print_stats(&stats);
        } else {
            agree = false;
            println!("  MISMATCH between lift on {table} and the independent check:");
            for line in &differ {
                println!("    {line}");
            }
        }
        // CUPED adds the covariate; the metric's own numbers stay the check's.
        let differ = differences(&from_lift(cuped.clone()), &expected);
        if differ.is_empty() {
            println!("  with CUPED the metrics are the same; covariate sums:");
            print_covariates(&cuped);
        } else {
            agree = false;
            println!("  MISMATCH between lift with CUPED on {table} and the independent check:");
            for line in &differ {
                println!("    {line}");
            }
        }
    }
    let dedup_queries = queries(database, DEDUP, EventsTableKind::Deduplicating)?;
    let plain_queries = queries(database, PLAIN, EventsTableKind::Plain)?;
    let extra = extra_sql
        .map(|text| {
            anyhow::Ok(Timed {
                sql: text.to_owned(),
                params: dedup_queries.metrics.params.clone(),
            })
        })
        .transpose()?;
    let mut dedup = KindSamples::default();
    let mut plain = KindSamples::default();
    let mut extra_samples = Samples::default();
    // One warm-up round (not recorded), then `runs` rounds; every query of both kinds in each
    // round, kinds alternating, so load on the machine hits all alike.
    for round in 0..=runs {
        for (queries, samples, name) in [
            (&dedup_queries, &mut dedup, "dedup"),
            (&plain_queries, &mut plain, "plain"),
        ] {
            let mut warm = KindSamples::default();
            let target = if round == 0 { &mut warm } else { samples };
            measure::run(client, &queries.scan, &mut target.scan).await?;
            measure::run(client, &queries.floor, &mut target.floor).await?;
            measure::run(client, &queries.exposures, &mut target.exposures).await?;
            measure::run(client, &queries.metrics, &mut target.metrics).await?;
            measure::run(client, &queries.metrics_cuped, &mut target.metrics_cuped).await?;
            measure::run(
                client,
                &queries.metrics_catalogue,
                &mut target.metrics_catalogue,
            )
            .await?;
            let last = |s: &Samples| s.times.last().map_or(0.0, |d| d.as_secs_f64() * 1e3);
            eprintln!(
                "    {} {name}: scan {:.0} ms, floor {:.0} ms, exposures {:.0} ms, metrics {:.0} ms, \
                 with CUPED {:.0} ms, every kind {:.0} ms",
                if round == 0 { "warm-up".to_owned() } else { format!("run {round}") },
                last(&target.scan),
                last(&target.floor),
                last(&target.exposures),
                last(&target.metrics),
                last(&target.metrics_cuped),
                last(&target.metrics_catalogue),
            );
        }
        if let Some(query) = &extra {
            let mut warm = Samples::default();
            measure::run(
                client,
                query,
                if round == 0 {
                    &mut warm
                } else {
                    &mut extra_samples
                },
            )
            .await?;
        }
    }
    let extra = match extra {
        Some(query) => {
            let compiled = CompiledQuery {
                sql: query.sql,
                params: query.params,
            };
            let rows: Vec<measure::MetricRow> = loaded.dedup.fetch_all(&compiled, "other").await?;
            let same = differences(&measure::stats(rows), &expected).is_empty();
            Some((extra_samples, same))
        }
        None => None,
    };
    Ok(Measured {
        dedup,
        plain,
        check,
        extra,
        agree,
    })
}
