//! QUANTILE metrics through GraphQL on a hand-made event set: the 90th percentile of purchase
//! values over events (zeros left out) and the median of identities' summed purchase values
//! (identities without purchases count as 0), under EXCLUDE with the fixed-horizon test and under
//! FIRST_TOUCH with the Bayesian engine and CUPED asked for (which falls back: there is no
//! regression-adjusted quantile).
//!
//! The test recomputes every arm (n, n*, the quantile and its bounds, the event quantile's
//! cluster sums) from its own event list and requires the generator's arms
//! (`tests/stats/quantile_api.py`, from the same rules) and the API's per-variant `quantile` to
//! equal them; the comparisons must equal gbstats 0.8.0's (`tests/stats/quantile_api.json`).
//! A plain table with every event delivered twice and the deduplicating table give the same.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const EXPECTATIONS: &str = include_str!("../../stats/quantile_api.json");
const SIZE: u64 = 80;
const MULTIPLE: u64 = 6;
const RELATIVE: f64 = 1e-9;
/// `Φ⁻¹(0.975)` as scipy computes it.
const Z: f64 = 1.959963984540054;
const ESTIMATE: &str = "estimate ciLower ciUpper pValue chanceToWin risk { control variant }";

// The rules of `quantile_api.py`.
fn purchases(i: u64, a: u64) -> Vec<f64> {
    (0..(i * 7 + a) % 4)
        .map(|j| {
            if (i + j).is_multiple_of(9) {
                0.0
            } else {
                (5 + (i * 13 + j * 7 + a * 3) % 23 + 2 * a) as f64
            }
        })
        .collect()
}

fn multiple(i: u64) -> Vec<f64> {
    vec![(100 + i) as f64, (40 + i) as f64]
}

/// Exposures at start + 1 h + i min and purchases every hour after; a purchase of 500 two hours
/// before the exposure of every 5th identity (before exposure: never counted); `m-i` exposed to
/// the control, then an hour later to the treatment, with its purchases after both.
fn events(start: DateTime<Utc>) -> Vec<Event> {
    let mut out = Vec::new();
    for (a, variant) in (0u64..).zip(["control", "treatment"]) {
        for i in 0..SIZE {
            let id = format!("{variant}-{i}");
            let exposed = start + Duration::hours(1) + Duration::minutes(i as i64);
            identity(&mut out, &id, &[(variant, exposed)], purchases(i, a));
            if i % 5 == 0 {
                out.push(
                    Event::track(ENV, "purchase", &id, exposed - Duration::hours(2)).value("500"),
                );
            }
        }
    }
    for i in 0..MULTIPLE {
        let first = start + Duration::hours(3) + Duration::minutes(i as i64);
        let exposures = [
            ("control", first),
            ("treatment", first + Duration::hours(1)),
        ];
        identity(&mut out, &format!("m-{i}"), &exposures, multiple(i));
    }
    out
}

/// An identity's exposures, and its purchases every hour after the last of them.
fn identity(out: &mut Vec<Event>, id: &str, exposures: &[(&str, DateTime<Utc>)], values: Vec<f64>) {
    for (variant, at) in exposures {
        out.push(Event::exposure(ENV, EXPOSURE, FEATURE, id, variant, *at));
    }
    let after = exposures.iter().map(|e| e.1).max().expect("an exposure");
    for (j, value) in (0i64..).zip(values) {
        out.push(
            Event::track(ENV, "purchase", id, after + Duration::hours(j + 1))
                .value(&value.to_string()),
        );
    }
}

/// The quantile at `level` of sorted `values`: linear interpolation between order statistics.
fn at(values: &[f64], level: f64) -> f64 {
    let h = (values.len() - 1) as f64 * level;
    let lo = h.floor();
    let below = values[lo as usize];
    let above = values[(lo as usize + 1).min(values.len() - 1)];
    below + (h - lo) * (above - below)
}

/// `{n, n_star, level, quantile, lower, upper}` as `quantile_api.py` writes an arm.
fn arm(mut values: Vec<f64>, level: f64) -> Value {
    values.sort_by(f64::total_cmp);
    let n = values.len() as u64;
    let n_star = (0..20)
        .map(|k| 100u64 << k)
        .filter(|g| *g < n)
        .max()
        .unwrap_or(100);
    let spread = (level * (1.0 - level) / n_star as f64).sqrt();
    json!({
        "n": n, "n_star": n_star, "level": level, "quantile": at(&values, level),
        "lower": at(&values, (level - Z * spread).max(0.00000001)),
        "upper": at(&values, (level + Z * spread).min(0.99999999)), "clusters": null,
    })
}

/// Per variant, the arms of both metrics from the event list alone: each identity's first
/// exposure decides its variant (EXCLUDE leaves out identities exposed to both), and its
/// purchases at or after that exposure count.
fn recomputed(events: &[Event], handling: &str) -> HashMap<String, Value> {
    let mut exposures: HashMap<&str, Vec<(DateTime<Utc>, &str)>> = HashMap::new();
    for e in events.iter().filter(|e| e.event == EXPOSURE) {
        exposures
            .entry(&e.identifier)
            .or_default()
            .push((e.timestamp, &e.value));
    }
    let mut per_variant: HashMap<String, Vec<Vec<f64>>> = HashMap::new();
    for (id, mut seen) in exposures {
        seen.sort();
        let (first, variant) = seen[0];
        if handling == "EXCLUDE" && seen.iter().any(|s| s.1 != variant) {
            continue;
        }
        let values: Vec<f64> = events
            .iter()
            .filter(|e| e.event == "purchase" && e.identifier == id && e.timestamp >= first)
            .map(|e| e.value.parse().expect("a purchase value"))
            .collect();
        per_variant
            .entry(variant.to_owned())
            .or_default()
            .push(values);
    }
    per_variant
        .into_iter()
        .map(|(variant, values)| {
            let kept: Vec<f64> = values
                .iter()
                .flatten()
                .copied()
                .filter(|v| *v != 0.0)
                .collect();
            let mut events = arm(kept, 0.9);
            let q = number(&events["quantile"]);
            let s: Vec<f64> = values
                .iter()
                .map(|vs| vs.iter().filter(|v| **v != 0.0 && **v <= q).count() as f64)
                .collect();
            let c: Vec<f64> = values
                .iter()
                .map(|vs| vs.iter().filter(|v| **v != 0.0).count() as f64)
                .collect();
            events["clusters"] = json!({
                "clusters": values.len(),
                "main_sum": s.iter().sum::<f64>(),
                "main_sum_sq": s.iter().map(|x| x * x).sum::<f64>(),
                "den_sum": c.iter().sum::<f64>(),
                "den_sum_sq": c.iter().map(|x| x * x).sum::<f64>(),
                "main_den_sum": s.iter().zip(&c).map(|(x, y)| x * y).sum::<f64>(),
            });
            let identities = arm(values.iter().map(|vs| vs.iter().sum()).collect(), 0.5);
            (
                variant,
                json!({ "events": events, "identities": identities }),
            )
        })
        .collect()
}

fn assert_relative(actual: &Value, expected: &Value, what: &str) {
    if expected.is_null() {
        assert!(actual.is_null(), "{what}: expected null, got {actual}");
        return;
    }
    let (a, e) = (number(actual), number(expected));
    assert!(
        (a - e).abs() <= RELATIVE * e.abs().max(1e-300),
        "{what}: got {a}, expected {e}"
    );
}

/// Equal JSON, numbers to 1e-9 relative (serde_json reads the generator's decimals to within an
/// ulp or so).
fn assert_same(actual: &Value, expected: &Value, what: &str) {
    match (actual, expected) {
        (Value::Object(a), Value::Object(e)) => {
            assert_eq!(a.len(), e.len(), "{what}: {actual} vs {expected}");
            for (key, value) in a {
                assert_same(value, &e[key], &format!("{what} {key}"));
            }
        }
        (Value::Number(_), _) => assert_relative(actual, expected, what),
        _ => assert_eq!(actual, expected, "{what}"),
    }
}

/// Creates the metrics and the experiment of `setting`, loads `warehouse` with the events
/// (`deliveries` times), and returns the results' metrics, in the metrics' order.
async fn quantile_results(
    app: &TestApp,
    warehouse: &Warehouse,
    setting: &Value,
    deliveries: usize,
) -> Vec<Value> {
    let world = app.world().await;
    connect(app, ENV, warehouse).await;
    let purchase = |quantile: Value| json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" }, "quantile": quantile });
    let mut ids = Vec::new();
    for (name, quantile) in [
        (
            "p90 purchase",
            json!({ "level": 0.9, "over": "EVENTS", "ignoreZeros": true }),
        ),
        (
            "median spend",
            json!({ "level": 0.5, "over": "IDENTITIES", "ignoreZeros": false }),
        ),
    ] {
        ids.push(metric(app, metric_of(ENV, name, "QUANTILE", purchase(quantile))).await);
    }
    let analysis = match setting["method"]["type"].as_str() {
        Some("bayesian") => json!({ "engine": "BAYESIAN", "cuped": true }),
        _ => json!({ "cuped": false }),
    };
    let input = json!({"environmentKey": ENV, "featureId": world.feature, "name": "Quantiles",
                       "analysis": analysis, "multipleExposureHandling": setting["handling"]});
    let data = app
        .ok(
            users::ORG_ADMIN,
            CREATE_EXPERIMENT,
            json!({ "input": input }),
        )
        .await;
    let experiment = data["createExperiment"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let body = app.lifecycle("startExperiment", &experiment).await;
    assert_eq!(code(&body), "OK", "startExperiment: {body}");
    let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
    set_started_at(app, &experiment, start).await;
    for id in &ids {
        attach_as(app, &experiment, id, "INCREASE", "PRIMARY").await;
    }
    let events = events(start);
    for _ in 0..deliveries {
        warehouse.insert(&events).await;
    }
    let expected_arms = &setting["arms"];
    for (variant, arms) in recomputed(&events, setting["handling"].as_str().expect("handling")) {
        for metric in ["events", "identities"] {
            let generator = &expected_arms[&variant][metric];
            let what = format!("{variant} {metric}: the generator's rules");
            assert_same(&arms[metric], generator, &what);
        }
    }
    let selection = format!(
        "metrics {{ metricId variants {{ variant n quantile {{ level value lower upper n nStar variance }} }} \
         comparisons {{ variant absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} \
         cuped {{ status fallback }} verdict }} }}"
    );
    let body = results_as(app, users::ORG_ADMIN, &experiment, &selection).await;
    assert_eq!(code(&body), "OK", "results: {body:#}");
    let results = body["data"]["experiment"]["results"].clone();
    ids.iter()
        .map(|id| metric_results(&results, id).clone())
        .collect()
}

/// Every quantile field and comparison number of `metrics` against `setting`'s expectations.
fn check(metrics: &[Value], setting: &Value) {
    let name = setting["name"].as_str().expect("name");
    for (metric, key) in metrics.iter().zip(["events", "identities"]) {
        let expected = &setting["expected"][key];
        for (k, variant) in ["control", "treatment"].iter().enumerate() {
            let arm = &setting["arms"][variant][key];
            let q = &variant_stats(metric, variant)["quantile"];
            let what = format!("{name} {key} {variant}");
            assert_eq!(q["n"], arm["n"], "{what} n: {q}");
            assert_eq!(q["nStar"], arm["n_star"], "{what} nStar: {q}");
            for (field, akey) in [
                ("level", "level"),
                ("value", "quantile"),
                ("lower", "lower"),
                ("upper", "upper"),
            ] {
                assert_relative(&q[field], &arm[akey], &format!("{what} {field}"));
            }
            assert_relative(
                &q["variance"],
                &expected["variances"][k],
                &format!("{what} variance"),
            );
        }
        let comparison = comparison(metric, "treatment");
        for (scale, ekey) in [
            ("absoluteDifference", "absolute"),
            ("relativeLift", "relative"),
        ] {
            let (actual, gbstats) = (&comparison[scale], &expected["effects"][ekey]);
            for (field, gkey) in [
                ("estimate", "estimate"),
                ("ciLower", "ci_lower"),
                ("ciUpper", "ci_upper"),
                ("pValue", "p_value"),
                ("chanceToWin", "chance_to_win"),
            ] {
                assert_relative(
                    &actual[field],
                    &gbstats[gkey],
                    &format!("{name} {key} {scale} {field}"),
                );
            }
            if let Some(risk) = gbstats["risk"].as_object() {
                assert_relative(
                    &actual["risk"]["control"],
                    &risk["control"],
                    &format!("{name} {key} risk"),
                );
                assert_relative(
                    &actual["risk"]["variant"],
                    &risk["treatment"],
                    &format!("{name} {key} risk"),
                );
            }
        }
        let cuped = &comparison["cuped"];
        if setting["method"]["type"] == "bayesian" {
            assert_eq!(
                cuped,
                &json!({"status": "FELL_BACK", "fallback": "QUANTILE_METRIC"}),
                "{name}"
            );
        } else {
            assert_eq!(cuped, &json!({"status": "OFF", "fallback": null}), "{name}");
        }
    }
}

fn setting(name: &str) -> Value {
    let all: Value = serde_json::from_str(EXPECTATIONS).expect("quantile_api.json parses");
    all["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no setting {name}"))
}

db_test_with!(
    quantiles_under_exclude_equal_gbstats_on_a_plain_table_with_every_event_delivered_twice,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let setting = setting("exclude fixed");
        let metrics = quantile_results(&app, &Warehouse::create().await, &setting, 2).await;
        check(&metrics, &setting);
    }
);

db_test_with!(
    quantiles_under_first_touch_equal_gbstats_on_the_deduplicating_table_and_cuped_falls_back,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let setting = setting("first touch bayesian");
        let warehouse = Warehouse::create_deduplicating().await;
        let metrics = quantile_results(&app, &warehouse, &setting, 2).await;
        check(&metrics, &setting);
    }
);
