//! CUPED's covariate sums from the real engine: on a hand-made event set, the metrics query with a
//! lookback returns per (metric, variant) Σx, Σx² and Σxy (x the metric over `[first exposure −
//! lookback, first exposure)`, y the metric) equal to a recomputation from the event list itself
//! (`expected`, plain Rust over the events, no SQL), on both kinds of events table (every event
//! delivered twice), under EXCLUDE and FIRST_TOUCH, and on a two-shard cluster; MEAN metrics have
//! none; the metric's own statistics are those of the query without CUPED. One sum is also worked
//! out by hand in the comments, so the recomputation is checked too.
//!
//! These call lift's library (`Warehouse::metric_stats`, which compiles `sql::compile_metrics`)
//! directly: the GraphQL API does not expose CUPED yet.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use lift::domain::metric::{
    Aggregation, FilterOp, FilterValue, MetricDefinition, MetricWindow, PropertyFilter, ValueSource,
};
use lift::domain::results::{CovariateSums, MetricStats};
use lift::domain::warehouse::WarehouseTarget;
use lift::sql::{EventsTable, MetricSpec, MultipleExposureHandling, Placement, ResultsScope};

use super::cluster::{two_shard_engine, CLUSTER};
use super::support::{EXPOSURE, FEATURE};
use crate::clickhouse::{Event, Warehouse};

const ENVIRONMENT: &str = "prod";
const LOOKBACK_HOURS: i64 = 72;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

fn end() -> DateTime<Utc> {
    start() + Duration::days(10)
}

/// The event set; offsets in hours from the start. The lookback is 72 h, so an identity first
/// exposed at h(1) has its pre-period `[h(-71), h(1))`.
fn events() -> Vec<Event> {
    let h = |hours: i64| start() + Duration::hours(hours);
    let exposure = |id: &str, variant: &str, at| {
        Event::exposure(ENVIRONMENT, EXPOSURE, FEATURE, id, variant, at)
    };
    let purchase = |id: &str, at, value: &str, amount: Value| {
        Event::track(ENVIRONMENT, "purchase", id, at)
            .value(value)
            .metadata(json!({ "amount": amount }))
    };
    let signup = |id: &str, at, country: Value| {
        Event::track(ENVIRONMENT, "signup", id, at).metadata(json!({ "country": country }))
    };
    vec![
        exposure("c1", "control", h(1)),
        exposure("c2", "control", h(24)),
        exposure("c3", "control", h(2)),    // no metric events at all
        exposure("c4", "treatment", h(-1)), // before the start: its assignment is h(48)'s
        exposure("c4", "control", h(48)),
        exposure("t1", "treatment", h(1)),
        exposure("t2", "treatment", h(5)),
        exposure("t3", "treatment", h(72)),
        exposure("m1", "control", h(1)), // two variants: control under FIRST_TOUCH, out under EXCLUDE
        exposure("m1", "treatment", h(30)),
        exposure("u1", "ghost", h(1)),     // not a variant
        exposure("f1", "control", h(241)), // after the end: not exposed
        // Purchases: (identity, time, value, metadata.amount).
        purchase("c1", h(-72), "1000", json!(1000)), // one hour before c1's lookback
        purchase("c1", h(-71), "4", json!(4)),       // exactly its start: counts
        purchase("c1", h(-20), "6", json!(6)),       // before the experiment start
        purchase("c1", h(1), "10", json!(10)),       // at the exposure: the metric, not x
        purchase("c1", h(50), "20", json!(2)),
        purchase("c2", h(20), "3", json!(3)),
        purchase("c2", h(23), "n/a", json!(null)), // no number: OCCURRENCE and COUNT only
        purchase("c2", h(30), "5", json!(5)),
        purchase("c4", h(-30), "50", json!(50)), // before c4's lookback (from h(-24))
        purchase("c4", h(40), "2", json!(2)),
        purchase("c4", h(50), "4", json!(4)),
        purchase("t1", h(-30), "8", json!(8)),
        purchase("t1", h(3), "30", json!(30)),
        purchase("t2", h(6), "12", json!(12)),
        purchase("t3", h(24), "7", json!(7)), // after the start, before t3's exposure
        purchase("t3", h(80), "9", json!(9)),
        purchase("t3", h(300), "90", json!(90)), // after the end
        purchase("m1", h(-10), "11", json!(11)),
        purchase("m1", h(10), "40", json!(40)),
        purchase("m1", h(35), "3", json!(3)),
        purchase("u1", h(-5), "99", json!(99)), // unknown variant
        purchase("z1", h(-5), "77", json!(77)), // never exposed
        Event::track("elsewhere", "purchase", "c1", h(-5)).value("500"), // another environment
        // Signups, counted when metadata.country = "NL".
        signup("c1", h(-2), json!("NL")),
        signup("c1", h(2), json!("NL")),
        signup("c2", h(10), json!("NL")),
        signup("c2", h(11), json!("DE")),
        signup("c2", h(12), json!(null)),
        signup("t1", h(-50), json!("NL")),
        signup("t1", h(-80), json!("NL")), // before t1's lookback
        signup("t3", h(70), json!("NL")),
        signup("t3", h(73), json!("NL")),
        signup("m1", h(0), json!("NL")),
    ]
}

/// A metric as the compiler gets it, and as the recomputation reads events.
struct Metric {
    spec: MetricSpec,
    passes: fn(&Event) -> bool,
    number: fn(&Event) -> Option<f64>,
}

fn metadata(event: &Event) -> Value {
    serde_json::from_str(&event.metadata).unwrap_or(Value::Null)
}

fn metrics() -> Vec<Metric> {
    let spec =
        |aggregation, event: &str, value, window: Option<(i64, Option<i64>)>, filters| MetricSpec {
            aggregation,
            definition: MetricDefinition {
                event: event.into(),
                filters,
                value,
                window: window.map(|(start_seconds, end_seconds)| MetricWindow {
                    start_seconds,
                    end_seconds,
                }),
                ..Default::default()
            },
        };
    let nl = PropertyFilter {
        property: "country".into(),
        op: FilterOp::Eq,
        value: Some(FilterValue::String("NL".into())),
    };
    let amount = ValueSource::Property {
        property: "amount".into(),
    };
    let all: fn(&Event) -> bool = |_| true;
    let none: fn(&Event) -> Option<f64> = |_| None;
    vec![
        Metric {
            spec: spec(
                Aggregation::Occurrence,
                "purchase",
                None,
                Some((0, Some(7 * 86_400))),
                vec![],
            ),
            passes: all,
            number: none,
        },
        Metric {
            spec: spec(Aggregation::Count, "signup", None, None, vec![nl]),
            passes: |e| metadata(e)["country"] == "NL",
            number: none,
        },
        Metric {
            spec: spec(
                Aggregation::Sum,
                "purchase",
                Some(ValueSource::EventValue),
                None,
                vec![],
            ),
            passes: all,
            number: |e| e.value.parse().ok(),
        },
        Metric {
            spec: spec(Aggregation::Mean, "purchase", Some(amount), None, vec![]),
            passes: all,
            number: |e| metadata(e)["amount"].as_f64(),
        },
        // A window starting an hour after exposure: the covariate's period is not the window.
        Metric {
            spec: spec(
                Aggregation::Count,
                "purchase",
                None,
                Some((3_600, None)),
                vec![],
            ),
            passes: all,
            number: none,
        },
    ]
}

fn scope(
    table: EventsTable,
    handling: MultipleExposureHandling,
    lookback: Option<Duration>,
) -> ResultsScope {
    ResultsScope {
        table,
        environment_key: ENVIRONMENT.into(),
        feature_name: FEATURE.into(),
        exposure_event: EXPOSURE.into(),
        variants: vec!["control".into(), "treatment".into()],
        start: start(),
        end: end(),
        handling,
        metrics: metrics().into_iter().map(|m| m.spec).collect(),
        cuped_lookback: lookback,
    }
}

/// Per (metric, variant): `n, sum, sum_sq` and the covariate's sums, recomputed from the events.
type Expected = HashMap<(usize, String), ((u64, f64, f64), Option<CovariateSums>)>;

/// The results semantics over the event list: assignment (first exposure in range, known variant,
/// EXCLUDE), each event once, then per identity the metric in its window (y) and over the lookback
/// before its first exposure (x).
fn expected(events: &[Event], handling: MultipleExposureHandling) -> Expected {
    let mut seen = HashSet::new();
    let events: Vec<&Event> = events
        .iter()
        .filter(|e| e.environment_key == ENVIRONMENT)
        .filter(|e| {
            seen.insert((
                e.identifier.clone(),
                e.event.clone(),
                e.feature_name.clone(),
                e.timestamp,
                e.value.clone(),
                e.metadata.clone(),
            ))
        })
        .collect();
    let mut exposures: HashMap<&str, Vec<(DateTime<Utc>, &str)>> = HashMap::new();
    for e in &events {
        let in_range = e.timestamp >= start() && e.timestamp <= end();
        if e.event == EXPOSURE && e.feature_name == FEATURE && in_range {
            let rows = exposures.entry(e.identifier.as_str()).or_default();
            rows.push((e.timestamp, e.value.as_str()));
        }
    }
    let mut assigned: Vec<(&str, &str, DateTime<Utc>)> = Vec::new();
    for (id, mut rows) in exposures {
        rows.sort();
        let (first, variant) = rows[0];
        let several = rows.iter().any(|&(_, v)| v != variant);
        let known = variant == "control" || variant == "treatment";
        if known && !(several && handling == MultipleExposureHandling::Exclude) {
            assigned.push((id, variant, first));
        }
    }
    let lookback = Duration::hours(LOOKBACK_HOURS);
    let mut out = Expected::new();
    for (index, metric) in metrics().iter().enumerate() {
        let definition = &metric.spec.definition;
        let window = definition.window.unwrap_or(MetricWindow {
            start_seconds: 0,
            end_seconds: None,
        });
        for variant in ["control", "treatment"] {
            let (mut n, mut sum, mut sum_sq) = (0u64, 0.0, 0.0);
            let (mut sum_x, mut sum_x2, mut sum_xy) = (0.0, 0.0, 0.0);
            for &(id, _, first) in assigned.iter().filter(|a| a.1 == variant) {
                let of = |from: DateTime<Utc>, to: &dyn Fn(DateTime<Utc>) -> bool| {
                    let counted: Vec<&&Event> = events
                        .iter()
                        .filter(|e| e.identifier == id && e.event == definition.event)
                        .filter(|e| e.timestamp >= from && to(e.timestamp))
                        .filter(|e| (metric.passes)(e))
                        .collect();
                    let numbers: Vec<f64> = counted
                        .iter()
                        .filter_map(|e| (metric.number)(e))
                        .filter(|x| x.is_finite())
                        .collect();
                    match metric.spec.aggregation {
                        Aggregation::Occurrence => Some(f64::from(!counted.is_empty())),
                        Aggregation::Count => Some(counted.len() as f64),
                        Aggregation::Sum => Some(numbers.iter().sum()),
                        Aggregation::Mean => (!numbers.is_empty())
                            .then(|| numbers.iter().sum::<f64>() / numbers.len() as f64),
                        other => unreachable!("this test attaches no {other} metric"),
                    }
                };
                let window_end = window.end_seconds.map(|s| first + Duration::seconds(s));
                let y = of(first + Duration::seconds(window.start_seconds), &|t| {
                    window_end.map_or(t <= end(), |window_end| t < window_end)
                });
                let x = of(first - lookback, &|t| t < first);
                if let Some(y) = y {
                    n += 1;
                    sum += y;
                    sum_sq += y * y;
                    let x = x.unwrap_or(0.0);
                    sum_x += x;
                    sum_x2 += x * x;
                    sum_xy += x * y;
                }
            }
            let covariate =
                (metric.spec.aggregation != Aggregation::Mean).then_some(CovariateSums {
                    sum: sum_x,
                    sum_sq: sum_x2,
                    sum_product: sum_xy,
                });
            if n > 0 {
                out.insert((index, variant.to_owned()), ((n, sum, sum_sq), covariate));
            }
        }
    }
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Lift's numbers equal the recomputation, key by key.
fn assert_equal(lift: &MetricStats, expected: &Expected, what: &str) {
    let mut keys: Vec<_> = lift.keys().chain(expected.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let (Some(got), Some((y, x))) = (lift.get(key), expected.get(key)) else {
            panic!(
                "{what} {key:?}: lift {:?}, expected {:?}",
                lift.get(key),
                expected.get(key)
            );
        };
        let same_y =
            got.stats.n == y.0 && close(got.stats.sum, y.1) && close(got.stats.sum_sq, y.2);
        let same_x = match (got.covariate, x) {
            (Some(g), Some(x)) => {
                close(g.sum, x.sum)
                    && close(g.sum_sq, x.sum_sq)
                    && close(g.sum_product, x.sum_product)
            }
            (None, None) => true,
            _ => false,
        };
        assert!(
            same_y && same_x,
            "{what} {key:?}: lift {got:?}, expected {y:?} {x:?}"
        );
    }
}

pub(super) fn lift_warehouse(
    url: &str,
    database: &str,
    table: &str,
    cluster: Option<&str>,
) -> lift::warehouse::Warehouse {
    let mut settings = lift::configuration::Settings::defaults().clickhouse;
    settings.clickhouse_compression = lift::configuration::ClickHouseCompression::None;
    let target = WarehouseTarget {
        url: url.to_owned(),
        database: database.to_owned(),
        table: table.to_owned(),
        cluster: cluster.map(str::to_owned),
        user: "default".into(),
        password: String::new().into(),
    };
    let options = lift::warehouse::WarehouseOptions::from_settings(&settings);
    lift::warehouse::Warehouse::new(&target, &options)
}

/// Lift's statistics of the scope with and without CUPED.
async fn lift_stats(
    warehouse: &lift::warehouse::Warehouse,
    handling: MultipleExposureHandling,
) -> (MetricStats, MetricStats) {
    let lookback = Some(Duration::hours(LOOKBACK_HOURS));
    let table = warehouse.events_table();
    let with = warehouse
        .metric_stats(&scope(table.clone(), handling, lookback))
        .await
        .expect("the metrics query with CUPED");
    let without = warehouse
        .metric_stats(&scope(table, handling, None))
        .await
        .expect("the metrics query");
    (with, without)
}

/// The SUM of purchase values (metric 2) per variant, worked out by hand from `events()`:
/// control c1 x = 4 + 6 = 10 (h(-72) is outside), y = 10 + 20 = 30; c2 x = 3 (once; "n/a" has
/// no number), y = 5; c3 0, 0; c4 x = 2 (h(-30) is outside), y = 4; m1 x = 11, y = 40 + 3 = 43.
/// Treatment t1 x = 8, y = 30; t2 0, 12; t3 x = 7, y = 9 (h(300) is after the end).
fn hand_worked(handling: MultipleExposureHandling) -> [(&'static str, CovariateSums); 2] {
    let control = match handling {
        // c1, c2, c3, c4, m1: Σx 10+3+2+11, Σx² 100+9+4+121, Σxy 300+15+8+473.
        MultipleExposureHandling::FirstTouch => CovariateSums {
            sum: 26.0,
            sum_sq: 234.0,
            sum_product: 796.0,
        },
        // Without m1.
        MultipleExposureHandling::Exclude => CovariateSums {
            sum: 15.0,
            sum_sq: 113.0,
            sum_product: 323.0,
        },
    };
    // t1, t2, t3: Σx 8+7, Σx² 64+49, Σxy 240+63.
    let treatment = CovariateSums {
        sum: 15.0,
        sum_sq: 113.0,
        sum_product: 303.0,
    };
    [("control", control), ("treatment", treatment)]
}

const HANDLINGS: [MultipleExposureHandling; 2] = [
    MultipleExposureHandling::FirstTouch,
    MultipleExposureHandling::Exclude,
];

fn check(
    with: &MetricStats,
    without: &MetricStats,
    handling: MultipleExposureHandling,
    what: &str,
) {
    let expected = expected(&events(), handling);
    assert_equal(with, &expected, &format!("{what} {handling:?} with CUPED"));
    // The metric values do not change with CUPED.
    assert_eq!(with.len(), without.len(), "{what}");
    for (key, stats) in without {
        let (a, b) = (with[key].stats, stats.stats);
        assert!(
            a.n == b.n && close(a.sum, b.sum) && close(a.sum_sq, b.sum_sq),
            "{what} {key:?}: {a:?} with CUPED, {b:?} without"
        );
        assert_eq!(stats.covariate, None);
    }
    for (variant, sums) in hand_worked(handling) {
        assert_eq!(
            expected[&(2, variant.to_owned())].1,
            Some(sums),
            "{variant}"
        );
    }
    for variant in ["control", "treatment"] {
        assert_eq!(with[&(3, variant.to_owned())].covariate, None, "MEAN");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covariate_sums_equal_the_event_lists_on_both_table_kinds() {
    for deduplicating in [false, true] {
        let warehouse = if deduplicating {
            Warehouse::create_deduplicating().await
        } else {
            Warehouse::create().await
        };
        // Every event delivered twice: a second, unmerged part of duplicates.
        warehouse.insert(&events()).await;
        warehouse.insert(&events()).await;
        let lift = lift_warehouse(&warehouse.url, &warehouse.database, "events", None);
        for handling in HANDLINGS {
            let (with, without) = lift_stats(&lift, handling).await;
            let what = if deduplicating {
                "deduplicating"
            } else {
                "plain"
            };
            check(&with, &without, handling, what);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn covariate_sums_add_up_across_the_shards_of_a_cluster() {
    let warehouse = Warehouse::create_at(two_shard_engine()).await;
    let db = &warehouse.database;
    // As in `cluster.rs`: each shard's local table keeps the identities the sharding key sends it.
    warehouse
        .run(&format!(
            "CREATE VIEW {db}.events_local AS SELECT * FROM {db}.events \
             WHERE cityHash64(identifier) % 2 + 1 = shardNum()"
        ))
        .await;
    warehouse.insert(&events()).await;
    let lift = lift_warehouse(&warehouse.url, db, "events_local", Some(CLUSTER));
    assert_eq!(
        lift.events_table().placement,
        Placement::Cluster(CLUSTER.into())
    );
    for handling in HANDLINGS {
        let (with, without) = lift_stats(&lift, handling).await;
        check(&with, &without, handling, "cluster");
    }
}
