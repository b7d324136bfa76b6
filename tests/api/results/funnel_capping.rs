//! Funnel CONVERSION metrics and capped NUMERIC metrics from a hand-made event set, every
//! expected number worked out by hand in the comments:
//! - through GraphQL, on both databases and both kinds of events table (every event delivered
//!   twice), under EXCLUDE (CUPED on) and FIRST_TOUCH (CUPED off): funnels' conversions and
//!   identities per step (steps in and out of order, before the exposure, outside the window,
//!   equal timestamps, a filter per step), caps (ABSOLUTE, PERCENTILE with and without
//!   `ignoreZeros`, upper and lower, on COUNT, SUM and MEAN): the capped sums, the cap values and
//!   the capped identities per variant;
//! - through lift's library (`Warehouse::metric_stats`, as `cuped.rs`): the CUPED covariate of a
//!   funnel is the same funnel over the lookback, and a capped metric's covariate is capped with
//!   the metric's cap values; on a two-shard cluster funnels and ABSOLUTE caps equal one table's,
//!   and a PERCENTILE cap is refused (CONFLICT).

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use lift::domain::metric::{
    Aggregation, Capping, CappingKind, FilterOp, FilterValue, FunnelStep, MetricDefinition,
    MetricWindow, PropertyFilter, ValueSource,
};
use lift::domain::results::{CovariateSums, MetricStats};
use lift::domain::DomainError;
use lift::sql::{EventsTable, MetricSpec, MultipleExposureHandling, ResultsScope};

use super::arms::experiment_with;
use super::cluster::{two_shard_engine, CLUSTER};
use super::cuped::lift_warehouse;
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

/// The event set; offsets in hours from the start `s`. Exposures: control c1 (h1), c2 (h1), c3
/// (h2), c4 (h3); treatment t1 (h1), t2 (h2), t3 (h3); m1 control at h1 then treatment at h5.
fn events(s: DateTime<Utc>) -> Vec<Event> {
    let h = |hours: i64| s + Duration::hours(hours);
    let exposure =
        |id: &str, variant: &str, at| Event::exposure(ENV, EXPOSURE, FEATURE, id, variant, at);
    let view = |id: &str, at| Event::track(ENV, "view", id, at);
    let cart = |id: &str, at, plan: &str| {
        Event::track(ENV, "cart", id, at).metadata(json!({ "plan": plan }))
    };
    let buy = |id: &str, at| Event::track(ENV, "buy", id, at);
    let purchase = |id: &str, at, value: &str| Event::track(ENV, "purchase", id, at).value(value);
    vec![
        exposure("c1", "control", h(1)),
        exposure("c2", "control", h(1)),
        exposure("c3", "control", h(2)),
        exposure("c4", "control", h(3)),
        exposure("t1", "treatment", h(1)),
        exposure("t2", "treatment", h(2)),
        exposure("t3", "treatment", h(3)),
        exposure("m1", "control", h(1)),
        exposure("m1", "treatment", h(5)),
        // Funnel steps: view → cart (plan = pro) → buy.
        // c1: in order.
        view("c1", h(2)),
        cart("c1", h(3), "pro"),
        buy("c1", h(4)),
        // c2: the whole funnel before the experiment (CUPED's lookback), a view before its
        // exposure, then cart and buy: no view after the exposure.
        view("c2", h(-5)),
        cart("c2", h(-4), "pro"),
        buy("c2", h(-3)),
        view("c2", h(0)),
        cart("c2", h(2), "pro"),
        buy("c2", h(3)),
        // c3: out of order (buy, cart, view).
        buy("c3", h(3)),
        cart("c3", h(4), "pro"),
        view("c3", h(5)),
        // c4: the free plan fails step 2's filter; the pro cart and the buy share a timestamp.
        view("c4", h(4)),
        cart("c4", h(5), "free"),
        cart("c4", h(6), "pro"),
        buy("c4", h(6)),
        // t1: view and cart at the same time, then a later cart, and a buy 29 h after exposure.
        view("t1", h(2)),
        cart("t1", h(2), "pro"),
        cart("t1", h(3), "pro"),
        buy("t1", h(30)),
        // t2: in order, with a second view.
        view("t2", h(3)),
        view("t2", h(4)),
        cart("t2", h(5), "pro"),
        buy("t2", h(6)),
        // m1: in order.
        view("m1", h(2)),
        cart("m1", h(3), "pro"),
        buy("m1", h(4)),
        // Purchases (values), for the capped metrics.
        purchase("c1", h(-3), "500"), // before the exposure (CUPED's lookback)
        purchase("c1", h(-2), "1"),
        purchase("c1", h(-1), "1"),
        purchase("c1", h(2), "5"),
        purchase("c1", h(3), "7"),
        purchase("c1", h(4), "100"),
        purchase("c2", h(2), "1"),
        purchase("c4", h(2), "9"), // before c4's exposure
        purchase("c4", h(4), "20"),
        purchase("c4", h(5), "20"),
        purchase("t1", h(2), "3"),
        purchase("t2", h(3), "10"),
        purchase("t2", h(4), "30"),
        purchase("t2", h(5), "50"),
        purchase("t2", h(6), "2"),
        purchase("m1", h(2), "60"),
    ]
}

fn steps() -> Vec<FunnelStep> {
    let step = |event: &str, filters| FunnelStep {
        event: event.into(),
        filters,
    };
    let pro = PropertyFilter {
        property: "plan".into(),
        op: FilterOp::Eq,
        value: Some(FilterValue::String("pro".into())),
    };
    vec![
        step("view", vec![]),
        step("cart", vec![pro]),
        step("buy", vec![]),
    ]
}

fn capping(kind: CappingKind, upper: f64, lower: Option<f64>, ignore_zeros: bool) -> Capping {
    Capping {
        kind,
        upper,
        lower,
        ignore_zeros,
    }
}

/// The metrics, in the order they are attached: (label, aggregation, definition).
fn definitions() -> Vec<(&'static str, Aggregation, MetricDefinition)> {
    let purchase = |value: Option<ValueSource>, capping: Capping| MetricDefinition {
        event: "purchase".into(),
        value,
        capping: Some(capping),
        ..Default::default()
    };
    let value = || Some(ValueSource::EventValue);
    vec![
        (
            "funnel",
            Aggregation::Occurrence,
            MetricDefinition {
                steps: steps(),
                ..Default::default()
            },
        ),
        (
            "funnel in a day",
            Aggregation::Occurrence,
            MetricDefinition {
                steps: vec![steps()[0].clone(), steps()[2].clone()],
                window: Some(MetricWindow {
                    start_seconds: 0,
                    end_seconds: Some(86_400),
                }),
                ..Default::default()
            },
        ),
        (
            "count ≤ 2",
            Aggregation::Count,
            purchase(None, capping(CappingKind::Absolute, 2.0, None, false)),
        ),
        (
            "sum ≤ p75 of non-zero",
            Aggregation::Sum,
            purchase(value(), capping(CappingKind::Percentile, 0.75, None, true)),
        ),
        (
            "sum in [p25, p50]",
            Aggregation::Sum,
            purchase(
                value(),
                capping(CappingKind::Percentile, 0.5, Some(0.25), false),
            ),
        ),
        (
            "mean in [2, 10]",
            Aggregation::Mean,
            purchase(
                value(),
                capping(CappingKind::Absolute, 10.0, Some(2.0), false),
            ),
        ),
    ]
}

/// A definition as `CreateMetricInput.definition`.
fn definition_input(definition: &MetricDefinition) -> Value {
    let filters = |filters: &[PropertyFilter]| -> Vec<Value> {
        filters
            .iter()
            .map(|f| match &f.value {
                Some(FilterValue::String(s)) => {
                    json!({ "property": f.property, "op": "EQ", "value": { "string": s } })
                }
                other => panic!("this test uses string filters only: {other:?}"),
            })
            .collect()
    };
    let mut input = json!({});
    if !definition.event.is_empty() {
        input["event"] = json!(definition.event);
    }
    if definition.value.is_some() {
        input["value"] = json!({ "source": "EVENT_VALUE" });
    }
    if let Some(window) = definition.window {
        input["window"] =
            json!({ "startSeconds": window.start_seconds, "endSeconds": window.end_seconds });
    }
    if !definition.steps.is_empty() {
        input["steps"] = definition
            .steps
            .iter()
            .map(|s| json!({ "event": s.event, "filters": filters(&s.filters) }))
            .collect();
    }
    if let Some(c) = definition.capping {
        let kind = match c.kind {
            CappingKind::Absolute => "ABSOLUTE",
            CappingKind::Percentile => "PERCENTILE",
        };
        input["capping"] = json!({ "kind": kind, "upper": c.upper, "lower": c.lower, "ignoreZeros": c.ignore_zeros });
    }
    input
}

const FIELDS: &str = "exposures { variant identities } metrics { metricId capping { kind upper lower } variants { variant n sum sumOfSquares cappedIdentities funnelSteps { step event reached } } comparisons { variant cuped { status fallback } absoluteDifference { estimate ciLower ciUpper pValue } relativeLift { estimate ciLower ciUpper pValue } } }";

/// gbstats 0.8.0's comparisons for these sums (`tests/stats/funnel_capping_expectations.py`).
const EXPECTATIONS: &str = include_str!("../../stats/funnel_capping_expectations.json");

/// Every metric's treatment-vs-control comparison against gbstats, within 1e-9 relative, and
/// whether CUPED applied.
fn check_statistics(r: &Value, ids: &[String], handling: &str) {
    let expectations: Value = serde_json::from_str(EXPECTATIONS).expect("the expectations parse");
    for ((label, _, _), id) in definitions().iter().zip(ids) {
        let expected = &expectations[*label][handling];
        let got = comparison(metric_results(r, id), "treatment");
        for (field, key) in [
            ("absoluteDifference", "absolute"),
            ("relativeLift", "relative"),
        ] {
            for (name, json_key) in [
                ("estimate", "estimate"),
                ("ciLower", "ci_lower"),
                ("ciUpper", "ci_upper"),
                ("pValue", "p_value"),
            ] {
                assert_close(
                    number(&got[field][name]),
                    number(&expected[key][json_key]),
                    &format!("{label} {handling} {field} {name}"),
                );
            }
        }
        let applied = got["cuped"]["status"] == "APPLIED";
        assert_eq!(
            Value::Bool(applied),
            expected["cuped_applied"],
            "{label} {handling}: {}",
            got["cuped"]
        );
    }
}

/// Per variant: (variant, n, sum, Σx², capped identities or identities per step).
type Expected<'a> = [(&'a str, u64, f64, f64, &'a [u64]); 2];

fn check_funnel(r: &Value, metric: &str, label: &str, expected: &Expected<'_>, events: &[&str]) {
    let m = metric_results(r, metric);
    assert_eq!(m["capping"], Value::Null, "{label}");
    for &(variant, n, sum, sum_sq, reached) in expected {
        let v = variant_stats(m, variant);
        assert_eq!(v["n"].as_u64(), Some(n), "{label} {variant} n");
        assert_close(number(&v["sum"]), sum, &format!("{label} {variant} sum"));
        assert_close(number(&v["sumOfSquares"]), sum_sq, label);
        let steps: Vec<(u64, &str, u64)> = v["funnelSteps"]
            .as_array()
            .expect("funnelSteps")
            .iter()
            .map(|s| {
                (
                    s["step"].as_u64().expect("step"),
                    s["event"].as_str().expect("event"),
                    s["reached"].as_u64().expect("reached"),
                )
            })
            .collect();
        let expected: Vec<(u64, &str, u64)> = (events.iter().zip(reached).enumerate())
            .map(|(k, (event, reached))| (k as u64 + 1, *event, *reached))
            .collect();
        assert_eq!(steps, expected, "{label} {variant} steps");
        // The last step's count is the conversions.
        assert_eq!(reached.last().map(|&c| c as f64), Some(sum), "{label}");
        assert_eq!(v["cappedIdentities"], Value::Null, "{label}");
    }
}

fn check_capped(
    r: &Value,
    metric: &str,
    label: &str,
    caps: (&str, Option<f64>, Option<f64>),
    expected: &[(&str, u64, f64, f64, u64); 2],
) {
    let m = metric_results(r, metric);
    assert_eq!(m["capping"]["kind"], caps.0, "{label}");
    for (got, want, what) in [
        (&m["capping"]["upper"], caps.1, "upper"),
        (&m["capping"]["lower"], caps.2, "lower"),
    ] {
        match want {
            Some(want) => assert_close(number(got), want, &format!("{label} cap {what}")),
            None => assert_eq!(*got, Value::Null, "{label} cap {what}"),
        }
    }
    for &(variant, n, sum, sum_sq, capped) in expected {
        let v = variant_stats(m, variant);
        assert_eq!(v["n"].as_u64(), Some(n), "{label} {variant} n");
        assert_close(number(&v["sum"]), sum, &format!("{label} {variant} sum"));
        assert_close(
            number(&v["sumOfSquares"]),
            sum_sq,
            &format!("{label} {variant} Σx²"),
        );
        assert_eq!(
            v["cappedIdentities"].as_u64(),
            Some(capped),
            "{label} {variant} capped"
        );
        assert_eq!(v["funnelSteps"], json!([]), "{label}");
    }
}

async fn exact_numbers(app: &TestApp, warehouse: Warehouse) {
    let world = app.world().await;
    connect(app, ENV, &warehouse).await;
    let mut ids = Vec::new();
    for (label, aggregation, definition) in definitions() {
        let input = metric_of(
            ENV,
            label,
            aggregation.as_str(),
            definition_input(&definition),
        );
        ids.push(metric(app, input).await);
    }
    let id = |label: &str| {
        let k = definitions()
            .iter()
            .position(|(l, _, _)| *l == label)
            .expect("a metric");
        ids[k].clone()
    };
    let three = ["view", "cart", "buy"];
    let two = ["view", "buy"];

    // EXCLUDE, CUPED on (the default): m1 is left out.
    let (exclude, s) = experiment_with(app, ENV, &world.feature, "Exclude", json!({})).await;
    for metric in &ids {
        attach_as(app, &exclude, metric, "INCREASE", "PRIMARY").await;
    }
    warehouse.insert(&events(s)).await;
    warehouse.insert(&events(s)).await;
    let body = results_as(app, users::ORG_ADMIN, &exclude, FIELDS).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    let r = &body["data"]["experiment"]["results"];
    assert_eq!(
        exposures(r),
        [("control".to_owned(), 4), ("treatment".to_owned(), 3)]
    );
    // Levels (steps reached in order): c1 3; c2 0 (its view precedes the exposure); c3 1 (the
    // view comes last); c4 2 (the free cart fails the filter, the buy is at the pro cart's
    // millisecond: not after it). t1 3 (the cart at the view's time does not count, the later
    // one does; the open window reaches h30); t2 3; t3 0.
    check_funnel(
        r,
        &id("funnel"),
        "funnel",
        &[
            ("control", 4, 1.0, 1.0, &[3, 2, 1]),
            ("treatment", 3, 2.0, 2.0, &[2, 2, 2]),
        ],
        &three,
    );
    // view → buy within [exposure, exposure + 24 h): c1 2, c2 0, c3 1, c4 2; t1 1 (its buy is
    // 29 h after the exposure), t2 2, t3 0.
    check_funnel(
        r,
        &id("funnel in a day"),
        "funnel in a day",
        &[
            ("control", 4, 2.0, 2.0, &[3, 2]),
            ("treatment", 3, 1.0, 1.0, &[2, 1]),
        ],
        &two,
    );
    // Purchases after the exposure: count c1 3, c2 1, c3 0, c4 2 (h2 precedes its exposure); t1 1,
    // t2 4, t3 0. Capped at 2: control 2+1+0+2 = 5, Σx² 4+1+4 = 9, c1 capped; treatment 1+2+0
    // = 3, Σx² 5, t2 capped.
    check_capped(
        r,
        &id("count ≤ 2"),
        "count ≤ 2",
        ("ABSOLUTE", Some(2.0), None),
        &[("control", 4, 5.0, 9.0, 1), ("treatment", 3, 3.0, 5.0, 1)],
    );
    // Sums: c1 112, c2 1, c3 0, c4 40; t1 3, t2 92, t3 0. Non-zero pooled, sorted: 1 3 40 92 112;
    // p75 at rank 4 · 0.75 = 3 → 92. Control 92+1+0+40 = 133, Σx² 8464+1+1600 = 10065 (c1
    // capped); treatment 3+92 = 95, Σx² 9+8464 = 8473 (92 is not above 92: none capped).
    check_capped(
        r,
        &id("sum ≤ p75 of non-zero"),
        "p75",
        ("PERCENTILE", Some(92.0), None),
        &[
            ("control", 4, 133.0, 10065.0, 1),
            ("treatment", 3, 95.0, 8473.0, 0),
        ],
    );
    // All seven pooled: 0 0 1 3 40 92 112. p50 at rank 3 → 3; p25 at rank 1.5 → 0.5. Control
    // 3+1+0.5+3 = 7.5, Σx² 9+1+0.25+9 = 19.25 (c1, c3, c4 capped); treatment 3+3+0.5 = 6.5,
    // Σx² 18.25 (t2, t3 capped).
    check_capped(
        r,
        &id("sum in [p25, p50]"),
        "p25–p50",
        ("PERCENTILE", Some(3.0), Some(0.5)),
        &[
            ("control", 4, 7.5, 19.25, 3),
            ("treatment", 3, 6.5, 18.25, 2),
        ],
    );
    // Means: c1 112/3, c2 1, c4 20 (c3 none); t1 3, t2 23. In [2, 10]: control 10+2+10 = 22,
    // Σx² 204, all 3 capped; treatment 3+10 = 13, Σx² 109, t2 capped.
    check_capped(
        r,
        &id("mean in [2, 10]"),
        "mean",
        ("ABSOLUTE", Some(10.0), Some(2.0)),
        &[
            ("control", 3, 22.0, 204.0, 3),
            ("treatment", 2, 13.0, 109.0, 1),
        ],
    );
    check_statistics(r, &ids, "EXCLUDE");
    let cuped =
        |label: &str| comparison(metric_results(r, &id(label)), "treatment")["cuped"].clone();
    for label in ["funnel", "count ≤ 2", "sum ≤ p75 of non-zero"] {
        assert_ne!(
            cuped(label)["status"],
            "OFF",
            "{label}: CUPED was asked for"
        );
    }
    assert_eq!(cuped("mean in [2, 10]")["fallback"], "NO_COVARIATE");

    // FIRST_TOUCH, CUPED off: m1 joins control (funnel level 3, one purchase of 60).
    let body = app.lifecycle("completeExperiment", &exclude).await;
    assert_eq!(code(&body), "OK", "{body}");
    // The snapshot keeps the steps, the caps and the capped identities.
    let live = r.clone();
    let frozen = results_as(app, users::ORG_ADMIN, &exclude, FIELDS).await;
    assert_eq!(frozen["data"]["experiment"]["results"], live, "frozen");
    let input = json!({"environmentKey": ENV, "featureId": world.feature, "name": "First touch",
                       "multipleExposureHandling": "FIRST_TOUCH", "analysis": { "cuped": false }});
    let data = app
        .ok(
            users::ORG_ADMIN,
            CREATE_EXPERIMENT,
            json!({ "input": input }),
        )
        .await;
    let first_touch = data["createExperiment"]["id"]
        .as_str()
        .expect("experiment id")
        .to_owned();
    let body = app.lifecycle("startExperiment", &first_touch).await;
    assert_eq!(code(&body), "OK", "{body}");
    set_started_at(app, &first_touch, s).await;
    for metric in &ids {
        attach_as(app, &first_touch, metric, "INCREASE", "PRIMARY").await;
    }
    let body = results_as(app, users::ORG_ADMIN, &first_touch, FIELDS).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    let r = &body["data"]["experiment"]["results"];
    assert_eq!(
        exposures(r),
        [("control".to_owned(), 5), ("treatment".to_owned(), 3)]
    );
    check_funnel(
        r,
        &id("funnel"),
        "funnel",
        &[
            ("control", 5, 2.0, 2.0, &[4, 3, 2]),
            ("treatment", 3, 2.0, 2.0, &[2, 2, 2]),
        ],
        &three,
    );
    check_funnel(
        r,
        &id("funnel in a day"),
        "funnel in a day",
        &[
            ("control", 5, 3.0, 3.0, &[4, 3]),
            ("treatment", 3, 1.0, 1.0, &[2, 1]),
        ],
        &two,
    );
    check_capped(
        r,
        &id("count ≤ 2"),
        "count ≤ 2",
        ("ABSOLUTE", Some(2.0), None),
        &[("control", 5, 6.0, 10.0, 1), ("treatment", 3, 3.0, 5.0, 1)],
    );
    // Non-zero pooled: 1 3 40 60 92 112; p75 at rank 5 · 0.75 = 3.75 → 60 + 0.75 · 32 = 84.
    // Control 84+1+0+40+60 = 185, Σx² 7056+1+1600+3600 = 12257 (c1); treatment 3+84 = 87,
    // Σx² 9+7056 = 7065 (t2).
    check_capped(
        r,
        &id("sum ≤ p75 of non-zero"),
        "p75",
        ("PERCENTILE", Some(84.0), None),
        &[
            ("control", 5, 185.0, 12257.0, 1),
            ("treatment", 3, 87.0, 7065.0, 1),
        ],
    );
    // Pooled: 0 0 1 3 40 60 92 112; p50 at rank 3.5 → 3 + 0.5 · 37 = 21.5; p25 at rank 1.75 →
    // 0.75. Control 21.5+1+0.75+21.5+21.5 = 66.25, Σx² 3 · 462.25 + 1 + 0.5625 = 1388.3125 (c1,
    // c3, c4, m1); treatment 3+21.5+0.75 = 25.25, Σx² 9+462.25+0.5625 = 471.8125 (t2, t3).
    check_capped(
        r,
        &id("sum in [p25, p50]"),
        "p25–p50",
        ("PERCENTILE", Some(21.5), Some(0.75)),
        &[
            ("control", 5, 66.25, 1388.3125, 4),
            ("treatment", 3, 25.25, 471.8125, 2),
        ],
    );
    check_capped(
        r,
        &id("mean in [2, 10]"),
        "mean",
        ("ABSOLUTE", Some(10.0), Some(2.0)),
        &[
            ("control", 4, 32.0, 304.0, 4),
            ("treatment", 2, 13.0, 109.0, 1),
        ],
    );
    let cuped = comparison(metric_results(r, &id("funnel")), "treatment")["cuped"].clone();
    assert_eq!(cuped["status"], "OFF");
    check_statistics(r, &ids, "FIRST_TOUCH");
}

db_test_with!(
    funnels_and_caps_give_the_exact_numbers_on_a_plain_table,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create().await).await;
    }
);

db_test_with!(
    funnels_and_caps_give_the_exact_numbers_on_the_table_lift_creates,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create_deduplicating().await).await;
    }
);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).unwrap()
}

fn scope(
    table: EventsTable,
    handling: MultipleExposureHandling,
    lookback: Option<Duration>,
) -> ResultsScope {
    ResultsScope {
        table,
        environment_key: ENV.into(),
        feature_name: FEATURE.into(),
        exposure_event: EXPOSURE.into(),
        variants: vec!["control".into(), "treatment".into()],
        start: start(),
        end: start() + Duration::days(10),
        handling,
        metrics: definitions()
            .into_iter()
            .map(|(_, aggregation, definition)| MetricSpec {
                aggregation,
                definition,
            })
            .collect(),
        cuped_lookback: lookback,
    }
}

fn covariate(stats: &MetricStats, metric: usize, variant: &str) -> Option<CovariateSums> {
    stats[&(metric, variant.to_owned())].covariate
}

fn sums(sum: f64, sum_sq: f64, sum_product: f64) -> Option<CovariateSums> {
    Some(CovariateSums {
        sum,
        sum_sq,
        sum_product,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_covariate_is_the_funnel_over_the_lookback_and_capped_like_the_metric() {
    for warehouse in [
        Warehouse::create().await,
        Warehouse::create_deduplicating().await,
    ] {
        warehouse.insert(&events(start())).await;
        warehouse.insert(&events(start())).await;
        let lift = lift_warehouse(&warehouse.url, &warehouse.database, "events", None);
        let stats = lift
            .metric_stats(&scope(
                lift.events_table(),
                MultipleExposureHandling::Exclude,
                Some(Duration::hours(72)),
            ))
            .await
            .expect("the metrics query with CUPED");
        // Funnel: only c2 went through it before its exposure (x = 1, y = 0).
        assert_eq!(covariate(&stats, 0, "control"), sums(1.0, 1.0, 0.0));
        assert_eq!(covariate(&stats, 0, "treatment"), sums(0.0, 0.0, 0.0));
        // view → buy, the window ignored over the lookback: c2 again.
        assert_eq!(covariate(&stats, 1, "control"), sums(1.0, 1.0, 0.0));
        // Count capped at 2: c1 3 purchases before its exposure → 2, c4 1; y 2, 1, 0, 2 →
        // Σxy 4 + 2 = 6.
        assert_eq!(covariate(&stats, 2, "control"), sums(3.0, 5.0, 6.0));
        assert_eq!(covariate(&stats, 2, "treatment"), sums(0.0, 0.0, 0.0));
        // The metric's p75 cap (92), not one of the covariate's: c1 502 → 92, c4 9; y 92, 1, 0,
        // 40 → Σx² 8464 + 81, Σxy 8464 + 360.
        assert_eq!(covariate(&stats, 3, "control"), sums(101.0, 8545.0, 8824.0));
        // Clamped to [0.5, 3]: c1 3, c2 0.5, c3 0.5, c4 3; y 3, 1, 0.5, 3 → Σxy 9 + 0.5 + 0.25
        // + 9. Treatment: every x is 0 → 0.5; y 3, 3, 0.5.
        assert_eq!(covariate(&stats, 4, "control"), sums(7.0, 18.5, 18.75));
        assert_eq!(covariate(&stats, 4, "treatment"), sums(1.5, 0.75, 3.25));
        // MEAN has none.
        assert_eq!(covariate(&stats, 5, "control"), None);
        // The values and the counts are those without CUPED.
        let without = lift
            .metric_stats(&scope(
                lift.events_table(),
                MultipleExposureHandling::Exclude,
                None,
            ))
            .await
            .expect("the metrics query");
        for (key, value) in &without {
            assert_eq!(value.stats, stats[key].stats, "{key:?}");
            assert_eq!(value.kinds, stats[key].kinds, "{key:?}");
        }
        assert_eq!(
            stats[&(0, "control".to_owned())].kinds.step_reached,
            [3, 2, 1]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn funnels_and_absolute_caps_add_up_across_shards_and_percentile_caps_are_refused() {
    let single = Warehouse::create().await;
    single.insert(&events(start())).await;
    let cluster = Warehouse::create_at(two_shard_engine()).await;
    let db = &cluster.database;
    cluster
        .run(&format!(
            "CREATE VIEW {db}.events_local AS SELECT * FROM {db}.events \
             WHERE cityHash64(identifier) % 2 + 1 = shardNum()"
        ))
        .await;
    cluster.insert(&events(start())).await;
    let on_one = lift_warehouse(&single.url, &single.database, "events", None);
    let on_shards = lift_warehouse(&cluster.url, db, "events_local", Some(CLUSTER));
    for lookback in [None, Some(Duration::hours(72))] {
        let without_percentile = |table: EventsTable| {
            let mut scope = scope(table, MultipleExposureHandling::FirstTouch, lookback);
            scope.metrics.retain(|m| {
                m.definition
                    .capping
                    .is_none_or(|c| c.kind == CappingKind::Absolute)
            });
            scope
        };
        let one = on_one
            .metric_stats(&without_percentile(on_one.events_table()))
            .await
            .expect("one table");
        let shards = on_shards
            .metric_stats(&without_percentile(on_shards.events_table()))
            .await
            .expect("two shards");
        assert_eq!(one, shards, "lookback {lookback:?}");
        assert_eq!(
            one[&(0, "control".to_owned())].kinds.step_reached,
            [4, 3, 2]
        );
        assert_eq!(one[&(2, "control".to_owned())].kinds.capped_identities, 1);
    }
    let refused = on_shards
        .metric_stats(&scope(
            on_shards.events_table(),
            MultipleExposureHandling::FirstTouch,
            None,
        ))
        .await;
    match refused {
        Err(DomainError::Conflict(message)) => {
            assert!(message.contains("PERCENTILE cap"), "{message}")
        }
        other => panic!("a PERCENTILE cap on a cluster: {other:?}"),
    }
}
