//! PERCENTILE caps against a reference written here, on random values: for 500 identities with
//! one exposure each and random `buy` events (values with many zeros, some refunds below 0 and a few outliers) before and
//! after the exposure, COUNT, SUM and MEAN metrics capped at pooled quantiles (upper only, upper
//! and lower, with and without `ignoreZeros`, caps that clamp 0 itself, and one whose pool is empty) give per variant the
//! `n`, the capped sums, the capped identities, the cap values (to the bit: the same formula as
//! `quantileExactInclusive`) and the CUPED covariate capped with the metric's caps, on both kinds
//! of events table with every event delivered twice. `funnel_capping` has the hand-made cases.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use lift::domain::metric::{Aggregation, Capping, CappingKind, MetricDefinition, ValueSource};
use lift::domain::results::{CovariateSums, MetricStats};
use lift::sql::{EventsTable, MetricSpec, MultipleExposureHandling, ResultsScope};

use super::cuped::lift_warehouse;
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const IDENTITIES: usize = 500;
const LOOKBACK_MINUTES: i64 = 30;
const VARIANTS: [&str; 2] = ["control", "treatment"];

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

/// A capped metric: its aggregation, event, cap levels and whether zeros are ignored.
struct Case {
    aggregation: Aggregation,
    event: &'static str,
    upper: f64,
    lower: Option<f64>,
    ignore_zeros: bool,
}

fn cases() -> Vec<Case> {
    let case = |aggregation, event, upper, lower, ignore_zeros| Case {
        aggregation,
        event,
        upper,
        lower,
        ignore_zeros,
    };
    vec![
        case(Aggregation::Sum, "buy", 0.9, None, true),
        case(Aggregation::Sum, "buy", 0.8, Some(0.2), false),
        case(Aggregation::Count, "buy", 0.75, None, false),
        case(Aggregation::Mean, "buy", 0.9, Some(0.1), false),
        case(Aggregation::Sum, "buy", 0.333, Some(0.05), true),
        // Both caps on one side of 0, so the identities whose value is 0 are capped too.
        case(Aggregation::Sum, "buy", 0.95, Some(0.7), false),
        case(Aggregation::Sum, "buy", 0.03, None, false),
        // Nobody has one: the pool is empty, nothing is capped and the cap value is null.
        case(Aggregation::Sum, "never", 0.9, None, true),
    ]
}

/// One identity: its variant, exposure minute and `buy` events as (minute, value).
struct Identity {
    id: String,
    variant: &'static str,
    exposed: i64,
    buys: Vec<(i64, i32)>,
}

fn identities(seed: u64) -> Vec<Identity> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..IDENTITIES)
        .map(|i| {
            let exposed = rng.random_range(60..120);
            let count = rng.random_range(0..6);
            let mut buys: Vec<(i64, i32)> = Vec::new();
            for _ in 0..count {
                let minute = exposed + rng.random_range(-50..50);
                let value = match rng.random_range(0..10) {
                    0..=2 => 0,
                    // Refunds: a pool with negative values, below its zeros.
                    3 => -rng.random_range(1..40),
                    9 => rng.random_range(500..5000),
                    _ => rng.random_range(1..60),
                };
                // One row per natural key: the table keeps one, so the reference must too.
                if !buys.iter().any(|&(m, v)| m == minute && v == value) {
                    buys.push((minute, value));
                }
            }
            Identity {
                id: format!("u{i}"),
                variant: VARIANTS[i % 2],
                exposed,
                buys,
            }
        })
        .collect()
}

fn rows(identities: &[Identity]) -> Vec<Event> {
    let at = |minute: i64| start() + Duration::minutes(minute);
    let mut rows = Vec::new();
    for identity in identities {
        rows.push(Event::exposure(
            ENV,
            EXPOSURE,
            FEATURE,
            &identity.id,
            identity.variant,
            at(identity.exposed),
        ));
        for &(minute, value) in &identity.buys {
            rows.push(Event::track(ENV, "buy", &identity.id, at(minute)).value(&value.to_string()));
        }
    }
    rows
}

/// The identity's uncapped value of `case` over its events with a minute in `from..to`.
fn value(identity: &Identity, case: &Case, from: i64, to: i64) -> Option<f64> {
    let values: Vec<f64> = match case.event {
        "buy" => identity
            .buys
            .iter()
            .filter(|(minute, _)| (from..to).contains(minute))
            .map(|&(_, value)| f64::from(value))
            .collect(),
        _ => Vec::new(),
    };
    match case.aggregation {
        Aggregation::Count => Some(values.len() as f64),
        Aggregation::Sum => Some(values.iter().sum()),
        Aggregation::Mean => {
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        }
        other => unreachable!("{other:?}"),
    }
}

/// `quantileExactInclusive(level)` of sorted values: h = level · (n − 1) + 1, the h-th smallest
/// interpolated towards the next; NaN without values.
fn exact_inclusive(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = level * (sorted.len() as f64 - 1.0) + 1.0;
    let k = h as usize;
    if k >= sorted.len() {
        return sorted[sorted.len() - 1];
    }
    sorted[k - 1] + (h - k as f64) * (sorted[k] - sorted[k - 1])
}

/// Per variant: (n, Σ, Σ², capped identities, covariate sums), and the cap values.
struct Expected {
    variants: HashMap<&'static str, (u64, f64, f64, u64, CovariateSums)>,
    upper: f64,
    lower: Option<f64>,
}

fn expected(identities: &[Identity], case: &Case) -> Expected {
    let window = |i: &Identity| value(i, case, i.exposed, i64::MAX);
    let before = |i: &Identity| value(i, case, i.exposed - LOOKBACK_MINUTES, i.exposed);
    let mut pool: Vec<f64> = identities
        .iter()
        .filter_map(window)
        .filter(|v| !(case.ignore_zeros && *v == 0.0))
        .collect();
    pool.sort_by(f64::total_cmp);
    let upper = exact_inclusive(&pool, case.upper);
    let lower = case.lower.map(|level| exact_inclusive(&pool, level));
    // Comparisons as the SQL makes them: against a NaN cap nothing is outside.
    let outside = |v: f64| v > upper || lower.is_some_and(|l| v < l);
    let clamp = |v: f64| {
        let v = if v > upper { upper } else { v };
        match lower {
            Some(l) if v < l => l,
            _ => v,
        }
    };
    let mut variants = HashMap::new();
    for identity in identities {
        let entry = variants.entry(identity.variant).or_insert((
            0,
            0.0,
            0.0,
            0,
            CovariateSums {
                sum: 0.0,
                sum_sq: 0.0,
                sum_product: 0.0,
            },
        ));
        let Some(y) = window(identity) else {
            continue;
        };
        entry.0 += 1;
        entry.1 += clamp(y);
        entry.2 += clamp(y) * clamp(y);
        entry.3 += u64::from(outside(y));
        if let Some(x) = before(identity) {
            entry.4.sum += clamp(x);
            entry.4.sum_sq += clamp(x) * clamp(x);
            entry.4.sum_product += clamp(x) * clamp(y);
        }
    }
    Expected {
        variants,
        upper,
        lower,
    }
}

fn scope(table: EventsTable) -> ResultsScope {
    ResultsScope {
        table,
        environment_key: ENV.into(),
        feature_name: FEATURE.into(),
        exposure_event: EXPOSURE.into(),
        variants: VARIANTS.map(str::to_owned).to_vec(),
        start: start(),
        end: start() + Duration::days(1),
        handling: MultipleExposureHandling::FirstTouch,
        metrics: cases()
            .into_iter()
            .map(|case| MetricSpec {
                aggregation: case.aggregation,
                definition: MetricDefinition {
                    value: (case.aggregation != Aggregation::Count)
                        .then_some(ValueSource::EventValue),
                    capping: Some(Capping {
                        kind: CappingKind::Percentile,
                        upper: case.upper,
                        lower: case.lower,
                        ignore_zeros: case.ignore_zeros,
                    }),
                    ..MetricDefinition::on_event(case.event)
                },
            })
            .collect(),
        cuped_lookback: Some(Duration::minutes(LOOKBACK_MINUTES)),
    }
}

fn close(got: f64, expected: f64) -> bool {
    (got - expected).abs() <= 1e-12 * expected.abs().max(1.0)
}

/// Equal, or both NaN (no value to take the quantile of: reported as null).
fn same_cap(got: Option<f64>, expected: Option<f64>) -> bool {
    match (got, expected) {
        (None, None) => true,
        (None, Some(e)) => e.is_nan(),
        (Some(g), Some(e)) => g.to_bits() == e.to_bits(),
        (Some(_), None) => false,
    }
}

fn check(stats: &MetricStats, identities: &[Identity], label: &str) {
    for (m, case) in cases().iter().enumerate() {
        let expected = expected(identities, case);
        for (variant, (n, sum, sum_sq, capped, covariate)) in &expected.variants {
            let what = format!(
                "{label}: metric {m} ({:?} {} p{}–{:?}), {variant}",
                case.aggregation, case.event, case.upper, case.lower
            );
            let Some(got) = stats.get(&(m, (*variant).to_owned())) else {
                assert_eq!(*n, 0, "{what}: no row");
                continue;
            };
            assert_eq!(got.stats.n, *n, "{what}: n");
            assert!(
                close(got.stats.sum, *sum),
                "{what}: {} vs {sum}",
                got.stats.sum
            );
            assert!(
                close(got.stats.sum_sq, *sum_sq),
                "{what}: Σ² {}",
                got.stats.sum_sq
            );
            assert_eq!(got.kinds.capped_identities, *capped, "{what}: capped");
            assert!(
                same_cap(got.kinds.cap_upper, Some(expected.upper)),
                "{what}: upper {:?} vs {}",
                got.kinds.cap_upper,
                expected.upper
            );
            assert!(
                same_cap(got.kinds.cap_lower, expected.lower),
                "{what}: lower {:?} vs {:?}",
                got.kinds.cap_lower,
                expected.lower
            );
            match (case.aggregation, got.covariate) {
                (Aggregation::Mean, covariate) => assert_eq!(covariate, None, "{what}"),
                (_, Some(got)) => {
                    assert!(close(got.sum, covariate.sum), "{what}: Σx {got:?}");
                    assert!(close(got.sum_sq, covariate.sum_sq), "{what}: Σx² {got:?}");
                    assert!(
                        close(got.sum_product, covariate.sum_product),
                        "{what}: Σxy {got:?} vs {covariate:?}"
                    );
                }
                (_, None) => panic!("{what}: no covariate"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentile_caps_on_random_values_equal_the_reference() {
    for seed in [7, 8] {
        let identities = identities(seed);
        // Something to find: every case caps somebody in each variant, except the empty pool.
        for case in cases().iter().filter(|c| c.event == "buy") {
            for (variant, e) in expected(&identities, case).variants {
                assert!(e.3 > 0, "seed {seed} {variant}: nobody capped");
            }
        }
        let events = rows(&identities);
        for (kind, warehouse) in [
            ("plain table", Warehouse::create().await),
            (
                "deduplicating table",
                Warehouse::create_deduplicating().await,
            ),
        ] {
            warehouse.insert(&events).await;
            warehouse.insert(&events).await;
            let lift = lift_warehouse(&warehouse.url, &warehouse.database, "events", None);
            let stats = lift
                .metric_stats(&scope(lift.events_table()))
                .await
                .expect("the metrics query");
            check(&stats, &identities, &format!("seed {seed}, {kind}"));
        }
    }
}
