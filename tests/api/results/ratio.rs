//! RATIO metrics through GraphQL: revenue per session (SUM of EUR purchase values over the COUNT
//! of sessions, both within 5 days of the first exposure) on a hand-made event set, on both kinds
//! of events table with every event delivered twice, under EXCLUDE and FIRST_TOUCH, with CUPED
//! off and on, and under the fixed-horizon, sequential and Bayesian engines.
//!
//! The event set follows the closed-form per-identity rules of `tests/stats/ratio.py`
//! (`sessions`, `purchases`), plus events that must not count: sessions before the exposure or
//! after the window, purchases in USD (filtered out) or before the exposure, identities without a
//! session (denominator 0: left out although they bought). The test recomputes each variant's
//! sums from its own event list and requires them to equal the generator's
//! (`tests/stats/ratio.json`, written with gbstats 0.8.0), then the API's per-variant numbers to
//! equal them and every number of the comparison to agree with gbstats to 1e-9 relative. The
//! completed experiment's snapshot must read back the same.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::judged_numbers::ESTIMATE;
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const FIXTURE: &str = include_str!("../../stats/ratio.json");
const VARIANTS: [&str; 2] = ["control", "treatment"];
const WINDOW_DAYS: i64 = 5;
/// Relative agreement asked of every statistic.
const RELATIVE: f64 = 1e-9;

// The per-identity rules of `ratio.py`: identity `i` of arm `a` (0 is the control).
fn sessions(i: u64, a: u64) -> u64 {
    (i * 7 + a * 3) % 4 + u64::from(a > 0 && i.is_multiple_of(5))
}

fn purchases(i: u64, a: u64) -> Vec<u64> {
    (0..(i * 5 + a) % 3)
        .map(|j| 10 + (i * 13 + j * 7) % 23 + 2 * a)
        .collect()
}

/// One identity's events, `exposed` its first exposure: what counts by the rules, and what must
/// not.
fn activity(id: &str, i: u64, a: u64, exposed: DateTime<Utc>) -> Vec<Event> {
    let session = |at| Event::track(ENV, "session", id, at);
    let purchase = |at, value: u64, currency: &str| {
        Event::track(ENV, "purchase", id, at)
            .value(&value.to_string())
            .metadata(json!({ "currency": currency }))
    };
    let mut out = Vec::new();
    for j in 0..sessions(i, a) as i64 {
        out.push(session(exposed + Duration::hours(2 * (j + 1))));
    }
    for (j, value) in (0i64..).zip(purchases(i, a)) {
        out.push(purchase(exposed + Duration::hours(3 + j), value, "EUR"));
    }
    if i.is_multiple_of(4) {
        out.push(session(exposed - Duration::hours(3))); // before the exposure
    }
    if i.is_multiple_of(5) {
        out.push(session(exposed + Duration::days(WINDOW_DAYS + 1))); // after the window
    }
    if i.is_multiple_of(6) {
        out.push(purchase(exposed + Duration::hours(4), 999, "USD")); // filtered out
    }
    if i.is_multiple_of(7) {
        out.push(purchase(exposed - Duration::hours(1), 500, "EUR")); // before the exposure
    }
    out
}

/// The event set; `s` is the experiment's start. `multi-k` saw both variants, first arm `k % 2`.
fn events(s: DateTime<Utc>, size: u64, multiple: u64) -> Vec<Event> {
    let mut out = Vec::new();
    for (a, variant) in (0u64..).zip(VARIANTS) {
        for i in 0..size {
            let id = format!("{variant}-{i}");
            let exposed = s + Duration::hours(1) + Duration::minutes(i as i64);
            out.push(Event::exposure(
                ENV, EXPOSURE, FEATURE, &id, variant, exposed,
            ));
            out.extend(activity(&id, i, a, exposed));
        }
    }
    for k in 0..multiple {
        let id = format!("multi-{k}");
        let first = (k % 2) as usize;
        let exposed = s + Duration::minutes(30);
        out.push(Event::exposure(
            ENV,
            EXPOSURE,
            FEATURE,
            &id,
            VARIANTS[first],
            exposed,
        ));
        out.push(Event::exposure(
            ENV,
            EXPOSURE,
            FEATURE,
            &id,
            VARIANTS[1 - first],
            s + Duration::hours(2),
        ));
        out.extend(activity(&id, 100 + k, first as u64, exposed));
    }
    out
}

/// Per variant `[n, Σm, Σm², Σd, Σd², Σm·d]` recomputed from the event list: the first exposure
/// decides the variant (identities with several variants left out under EXCLUDE), m is the EUR
/// purchases' values and d the sessions in `[first exposure, + 5 days)`, and only identities with
/// d > 0 count.
fn recomputed(events: &[Event], exclude: bool) -> HashMap<String, [f64; 6]> {
    let mut exposed: HashMap<&str, (DateTime<Utc>, &str, bool)> = HashMap::new();
    for e in events.iter().filter(|e| e.event == EXPOSURE) {
        let entry = exposed
            .entry(&e.identifier)
            .or_insert((e.timestamp, &e.value, false));
        entry.2 |= entry.1 != e.value;
        if e.timestamp < entry.0 {
            (entry.0, entry.1) = (e.timestamp, &e.value);
        }
    }
    let mut parts: HashMap<&str, (f64, f64)> = HashMap::new();
    for e in events.iter().filter(|e| e.event != EXPOSURE) {
        let Some(&(t, _, _)) = exposed.get(e.identifier.as_str()) else {
            continue;
        };
        if e.timestamp < t || e.timestamp >= t + Duration::days(WINDOW_DAYS) {
            continue;
        }
        let p = parts.entry(&e.identifier).or_default();
        match e.event.as_str() {
            "session" => p.1 += 1.0,
            _ if e.metadata.contains("\"EUR\"") => p.0 += e.value.parse::<f64>().expect("value"),
            _ => {}
        }
    }
    let mut sums: HashMap<String, [f64; 6]> = HashMap::new();
    for (id, (_, variant, several)) in &exposed {
        let (m, d) = parts.get(id).copied().unwrap_or_default();
        if (exclude && *several) || d <= 0.0 {
            continue;
        }
        let s = sums.entry((*variant).to_owned()).or_default();
        for (slot, add) in s.iter_mut().zip([1.0, m, m * m, d, d * d, m * d]) {
            *slot += add;
        }
    }
    sums
}

fn ratio_input() -> Value {
    json!({
        "environmentKey": ENV, "name": "Revenue per session", "metricType": "RATIO",
        "aggregation": "RATIO", "direction": "UP",
        "definition": {
            "numerator": {
                "event": "purchase", "aggregation": "SUM", "value": { "source": "EVENT_VALUE" },
                "filters": [{ "property": "currency", "op": "EQ", "value": { "string": "EUR" } }]
            },
            "denominator": { "event": "session", "aggregation": "COUNT" },
            "window": { "startSeconds": 0, "endSeconds": WINDOW_DAYS * 86_400 }
        }
    })
}

fn selection() -> String {
    format!(
        "frozen analysis {{ engine sequential cuped }} metrics {{ metricId variants {{ variant n sum \
         sumOfSquares mean variance numeratorSum denominatorSum }} comparisons {{ variant \
         absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} \
         unadjusted {{ absoluteDifference {{ {ESTIMATE} }} }} cuped {{ status fallback }} \
         power {{ mde }} verdict }} }}"
    )
}

fn assert_relative(actual: &Value, expected: &Value, what: &str) {
    if expected.is_null() {
        assert!(actual.is_null(), "{what}: expected null, got {actual}");
        return;
    }
    let (a, e) = (number(actual), number(expected));
    assert!(
        (a - e).abs() <= RELATIVE * e.abs(),
        "{what}: got {a}, expected {e} (relative gap {:e})",
        ((a - e) / e).abs()
    );
}

fn assert_estimate(actual: &Value, expected: &Value, what: &str) {
    for (field, key) in [
        ("estimate", "estimate"),
        ("ciLower", "ci_lower"),
        ("ciUpper", "ci_upper"),
        ("pValue", "p_value"),
        ("chanceToWin", "chance_to_win"),
    ] {
        assert_relative(&actual[field], &expected[key], &format!("{what} {field}"));
    }
    match expected["risk"].as_object() {
        None => assert!(actual["risk"].is_null(), "{what}: risk {}", actual["risk"]),
        Some(risk) => {
            assert_relative(&actual["risk"]["control"], &risk["control"], what);
            assert_relative(&actual["risk"]["variant"], &risk["treatment"], what);
        }
    }
}

/// Every setting of the fixture, one experiment each, on `warehouse` with every event delivered
/// `deliveries` times.
async fn ratio_numbers(app: &TestApp, warehouse: Warehouse, deliveries: usize) {
    let fixture: Value = serde_json::from_str(FIXTURE).expect("tests/stats/ratio.json parses");
    let api = &fixture["api"];
    let (size, multiple) = (
        api["size"].as_u64().expect("size"),
        api["multiple"].as_u64().expect("multiple"),
    );
    let world = app.world().await;
    connect(app, ENV, &warehouse).await;
    let metric_id = metric(app, ratio_input()).await;
    let mut start = None;
    for setting in api["settings"].as_array().expect("settings") {
        let name = setting["name"].as_str().expect("name");
        let handling = setting["handling"].as_str().expect("handling");
        let input = json!({ "environmentKey": ENV, "featureId": world.feature, "name": name,
                            "multipleExposureHandling": handling, "analysis": setting["analysis"] });
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
        assert_eq!(code(&body), "OK", "{body}");
        let s = *start.get_or_insert_with(|| {
            use chrono::SubsecRound;
            (Utc::now() - Duration::days(10)).trunc_subsecs(0)
        });
        set_started_at(app, &experiment, s).await;
        attach_as(app, &experiment, &metric_id, "INCREASE", "PRIMARY").await;
        let events = events(s, size, multiple);
        if name == api["settings"][0]["name"] {
            for _ in 0..deliveries {
                warehouse.insert(&events).await;
            }
        }

        // The data: the event list's sums are the generator's.
        let sums = recomputed(&events, handling == "EXCLUDE");
        let arms = &api["arms"][handling];
        for variant in VARIANTS {
            let arm = &arms[variant];
            let want = ["n", "sum", "sum_sq", "den_sum", "den_sum_sq", "num_den_sum"]
                .map(|key| number(&arm[key]));
            assert_eq!(
                sums[variant], want,
                "{name} {variant}: events against generator"
            );
        }

        let body = results_as(app, users::ORG_ADMIN, &experiment, &selection()).await;
        assert_eq!(code(&body), "OK", "{body:#}");
        let live = body["data"]["experiment"]["results"].clone();
        let m = metric_results(&live, &metric_id);
        for variant in VARIANTS {
            let arm = &arms[variant];
            let stats = variant_stats(m, variant);
            let what = format!("{name} {variant}");
            assert_eq!(stats["n"], arm["n"], "{what}: n");
            // Sums of whole numbers: exact.
            for (field, key) in [
                ("sum", "sum"),
                ("sumOfSquares", "sum_sq"),
                ("numeratorSum", "sum"),
                ("denominatorSum", "den_sum"),
            ] {
                assert_eq!(number(&stats[field]), number(&arm[key]), "{what}: {field}");
            }
            let moments = &setting["moments"][variant];
            assert_relative(&stats["mean"], &moments["mean"], &format!("{what} mean"));
            assert_relative(
                &stats["variance"],
                &moments["variance"],
                &format!("{what} variance"),
            );
            assert_close(
                number(&stats["mean"]),
                number(&arm["sum"]) / number(&arm["den_sum"]),
                "the mean is Σ numerator / Σ denominator",
            );
        }
        let c = comparison(m, "treatment");
        let want = &setting["comparison"];
        assert_estimate(
            &c["absoluteDifference"],
            &want["absolute"],
            &format!("{name} absolute"),
        );
        assert_estimate(
            &c["relativeLift"],
            &want["relative"],
            &format!("{name} relative"),
        );
        assert_eq!(
            c["unadjusted"]["absoluteDifference"],
            c["absoluteDifference"]
        );
        let cuped_on = setting["analysis"]["cuped"] == true;
        assert_eq!(live["analysis"]["cuped"], cuped_on, "{name}");
        let expected_cuped = match cuped_on {
            true => json!({ "status": "FELL_BACK", "fallback": "RATIO_METRIC" }),
            false => json!({ "status": "OFF", "fallback": null }),
        };
        assert_eq!(c["cuped"], expected_cuped, "{name}");
        assert!(c["power"].is_null(), "{name}: no power for ratios: {c}");

        // Completing freezes the same numbers into the snapshot.
        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        let body = results_as(app, users::ORG_ADMIN, &experiment, &selection()).await;
        let mut frozen = body["data"]["experiment"]["results"].clone();
        assert_eq!(frozen["frozen"], true, "{name}");
        frozen["frozen"] = json!(false);
        assert_eq!(
            frozen, live,
            "{name}: the snapshot reads back the live numbers"
        );
    }
}

db_test_with!(
    a_ratio_metric_gives_gbstats_numbers_on_a_plain_table,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        ratio_numbers(&app, Warehouse::create().await, 2).await;
    }
);

db_test_with!(
    a_ratio_metric_gives_gbstats_numbers_on_the_table_lift_creates,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        ratio_numbers(&app, Warehouse::create_deduplicating().await, 2).await;
    }
);
