//! Every number of a comparison through GraphQL, per analysis setting, against gbstats 0.8.0: a
//! hand-made event set (two arms on `checkout`, three on a `layout` feature) with pre-exposure
//! activity, one experiment per setting (fixed-horizon with CUPED off and on, sequential, Bayesian
//! with a flat and a proper prior, Holm–Bonferroni and Benjamini–Hochberg over a primary and a
//! secondary metric with a guardrail left out of the family).
//!
//! The expected values are `tests/stats/api_expectations.json`, written by
//! `tests/stats/api_expectations.py` from the same per-identity rules this file turns into events
//! (`pre_visits` …); before comparing, the test recomputes the sums (and CUPED's covariate sums)
//! from its own event list and requires them to equal the generator's, so both read the same data,
//! and requires the API's per-variant n, Σy and Σy² to equal them too.

use std::collections::HashMap;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};

use super::arms::create_with_analysis;
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const EXPECTATIONS: &str = include_str!("../../stats/api_expectations.json");
const LAYOUT: &str = "layout";
const LOOKBACK_DAYS: i64 = 14;
/// Relative agreement asked of every number (the bar for statistics).
const RELATIVE: f64 = 1e-9;

pub(super) fn expectations() -> Value {
    serde_json::from_str(EXPECTATIONS).expect("tests/stats/api_expectations.json parses")
}

// The per-identity rules of `api_expectations.py`: identity `i` of arm `a` (0 is the control).
fn pre_visits(i: u64, a: u64) -> u64 {
    (i * 7 + a) % 5
}

fn post_visits(i: u64, a: u64) -> u64 {
    pre_visits(i, a) + (i * 3 + a) % 4 + u64::from(a > 0 && i.is_multiple_of(3))
}

fn pre_purchase(i: u64, a: u64) -> Option<u64> {
    (i * 5 + a).is_multiple_of(3).then_some(10 + i % 7)
}

fn post_purchase(i: u64, a: u64) -> Option<u64> {
    let buys =
        pre_purchase(i, a).is_some() || (i * 11 + a * 3).is_multiple_of(5) || (a > 0 && i % 10 < a);
    buys.then_some(5 + (i * 13) % 17 + a)
}

/// The events of one design: per identity an exposure at start + 1 h + i min, its pre-period
/// visits (every 6 h before exposure) and purchase (3 days before), its visits after exposure
/// (every 2 h) and purchase (a day after). Every 11th identity also bought 20 days before its
/// exposure, outside the 14-day lookback: CUPED must not read it.
pub(super) fn events(
    env: &str,
    feature: &str,
    start: DateTime<Utc>,
    variants: &[&str],
    size: u64,
) -> Vec<Event> {
    let mut out = Vec::new();
    for (a, variant) in (0u64..).zip(variants) {
        for i in 0..size {
            let id = format!("{variant}-{i}");
            let exposed = start + Duration::hours(1) + Duration::minutes(i as i64);
            out.push(Event::exposure(
                env, EXPOSURE, feature, &id, variant, exposed,
            ));
            let visit = |at| Event::track(env, "visit", &id, at);
            let purchase =
                |at, value: u64| Event::track(env, "purchase", &id, at).value(&value.to_string());
            for j in 0..pre_visits(i, a) as i64 {
                out.push(visit(exposed - Duration::hours(6 * (j + 1))));
            }
            for j in 0..post_visits(i, a) as i64 {
                out.push(visit(exposed + Duration::hours(2 * (j + 1))));
            }
            if let Some(value) = pre_purchase(i, a) {
                out.push(purchase(exposed - Duration::days(3), value));
            }
            if let Some(value) = post_purchase(i, a) {
                out.push(purchase(exposed + Duration::days(1), value));
            }
            if i % 11 == 0 {
                out.push(purchase(exposed - Duration::days(20), 1000));
            }
        }
    }
    out
}

/// `(n, Σy, Σy², Σx, Σx², Σxy)` per (metric key, variant), from the event list alone: per identity
/// its first exposure `t`, y over `[t, now)` and x over `[t − lookback, t)`; `conversion` is
/// whether a purchase happened, `revenue` their values' sum, `visits` their count.
fn recomputed(events: &[Event]) -> HashMap<(&'static str, String), [f64; 6]> {
    let mut exposed: HashMap<&str, (DateTime<Utc>, &str)> = HashMap::new();
    for e in events.iter().filter(|e| e.event == EXPOSURE) {
        let first = exposed
            .entry(&e.identifier)
            .or_insert((e.timestamp, &e.value));
        if e.timestamp < first.0 {
            *first = (e.timestamp, &e.value);
        }
    }
    let mut per_identity: HashMap<&str, [f64; 6]> = HashMap::new(); // x and y per metric
    for e in events.iter().filter(|e| e.event != EXPOSURE) {
        let Some(&(t, _)) = exposed.get(e.identifier.as_str()) else {
            continue;
        };
        let offset = if e.timestamp >= t {
            1
        } else if e.timestamp >= t - Duration::days(LOOKBACK_DAYS) {
            0
        } else {
            continue;
        };
        let v = per_identity.entry(&e.identifier).or_default();
        if e.event == "purchase" {
            v[offset] = 1.0;
            v[2 + offset] += e.value.parse::<f64>().expect("a purchase value");
        } else {
            v[4 + offset] += 1.0;
        }
    }
    let mut sums: HashMap<(&'static str, String), [f64; 6]> = HashMap::new();
    for (id, (_, variant)) in &exposed {
        let v = per_identity.get(id).copied().unwrap_or_default();
        for (k, key) in ["conversion", "revenue", "visits"].into_iter().enumerate() {
            let (x, y) = (v[2 * k], v[2 * k + 1]);
            let s = sums.entry((key, (*variant).to_owned())).or_default();
            for (slot, add) in s.iter_mut().zip([1.0, y, y * y, x, x * x, x * y]) {
                *slot += add;
            }
        }
    }
    sums
}

pub(super) const ESTIMATE: &str =
    "estimate ciLower ciUpper pValue chanceToWin risk { control variant }";

fn selection() -> String {
    format!(
        "analysis {{ engine alpha sequential sequentialTuning cuped correction prior {{ proper mean variance }} }} \
         metrics {{ metricId variants {{ variant n sum sumOfSquares }} comparisons {{ variant \
         absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} \
         unadjusted {{ absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} }} \
         cuped {{ status fallback theta varianceReduction }} \
         corrected {{ pValue absoluteDifference {{ ciLower ciUpper }} relativeLiftPValue relativeLift {{ ciLower ciUpper }} }} \
         verdict }} }}"
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

/// One `Estimate` against gbstats' `{estimate, ci_lower, ci_upper, p_value, chance_to_win, risk}`.
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
            assert_relative(
                &actual["risk"]["control"],
                &risk["control"],
                &format!("{what} risk of control"),
            );
            assert_relative(
                &actual["risk"]["variant"],
                &risk["treatment"],
                &format!("{what} risk of the variant"),
            );
        }
    }
}

fn assert_bounds(actual: &Value, expected: &Value, what: &str) {
    match expected.as_array() {
        None => {
            assert!(
                actual["ciLower"].is_null() && actual["ciUpper"].is_null(),
                "{what}: unbounded, got {actual}"
            );
        }
        Some(ci) => {
            assert_relative(&actual["ciLower"], &ci[0], &format!("{what} lower"));
            assert_relative(&actual["ciUpper"], &ci[1], &format!("{what} upper"));
        }
    }
}

/// Creates the experiment of `setting` in `env` on the design's feature, attaches the three
/// metrics (PRIMARY and SECONDARY conversion and revenue, a GUARDRAIL on visits), starts it 10 days
/// ago, inserts the events, then checks every number of the results against `expected`.
async fn run(app: &TestApp, setting: &Value, expected: &Value) {
    let world = app.world().await;
    let design = setting["design"].as_str().expect("design");
    let (feature_id, feature) = if design == "two" {
        (world.feature.clone(), FEATURE)
    } else {
        let id = app
            .feature(&world.project_a, LAYOUT, "control:34,blue:33,green:33")
            .await;
        (id, LAYOUT)
    };
    let warehouse = Warehouse::create().await;
    connect(app, ENV, &warehouse).await;
    let experiment =
        create_with_analysis(app, ENV, &feature_id, "Judged", setting["analysis"].clone()).await;
    let purchase = |value: Value| json!({ "event": "purchase", "value": value });
    let metrics = [
        (
            "conversion",
            metric_of(
                ENV,
                "Converted",
                "OCCURRENCE",
                json!({ "event": "purchase" }),
            ),
            "INCREASE",
            "PRIMARY",
        ),
        (
            "revenue",
            metric_of(
                ENV,
                "Revenue",
                "SUM",
                purchase(json!({ "source": "EVENT_VALUE" })),
            ),
            "INCREASE",
            "SECONDARY",
        ),
        (
            "visits",
            metric_of(ENV, "Visits", "COUNT", json!({ "event": "visit" })),
            "NOT_DECREASE",
            "GUARDRAIL",
        ),
    ];
    let mut ids = Vec::new();
    for (key, input, direction, role) in metrics {
        let id = metric(app, input).await;
        attach_as(app, &experiment, &id, direction, role).await;
        ids.push((key, id));
    }
    let body = app.lifecycle("startExperiment", &experiment).await;
    assert_eq!(code(&body), "OK", "startExperiment: {body}");
    let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
    set_started_at(app, &experiment, start).await;

    let variants: Vec<&str> = expected["designs"][design]["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .map(|v| v.as_str().expect("a variant"))
        .collect();
    let size = expected["designs"][design]["size"].as_u64().expect("size");
    let events = events(ENV, feature, start, &variants, size);
    warehouse.insert(&events).await;

    // The data: the event list's sums are the generator's, and the API's.
    let sums = recomputed(&events);
    let arms = &expected["arms"][design];
    for &(key, _) in &ids {
        for variant in &variants {
            let arm = &arms[*variant][key];
            let s = sums[&(key, (*variant).to_owned())];
            let want = [
                number(&arm["n"]),
                number(&arm["sum"]),
                number(&arm["sum_sq"]),
                number(&arm["covariate"]["sum"]),
                number(&arm["covariate"]["sum_sq"]),
                number(&arm["covariate"]["sum_product"]),
            ];
            assert_eq!(
                s, want,
                "{key} {variant}: the events' sums against the generator's"
            );
        }
    }

    let body = results_as(app, users::ORG_ADMIN, &experiment, &selection()).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    let r = &body["data"]["experiment"]["results"];
    let analysis = &setting["analysis"];
    let cuped_on = analysis["cuped"].as_bool().unwrap_or(true);
    assert_eq!(r["analysis"]["cuped"], cuped_on, "{}", r["analysis"]);
    if let Some(correction) = analysis["correction"].as_str() {
        assert_eq!(r["analysis"]["correction"], correction);
    }
    let alpha = analysis["alpha"].as_f64().unwrap_or(0.05);
    assert_eq!(number(&r["analysis"]["alpha"]), alpha);
    let bayesian = analysis["engine"] == "BAYESIAN";

    let name = setting["name"].as_str().expect("name");
    for (key, id) in &ids {
        let m = metric_results(r, id);
        for variant in &variants {
            let arm = &arms[*variant][*key];
            let stats = variant_stats(m, variant);
            assert_eq!(stats["n"], arm["n"], "{name} {key} {variant}: n");
            assert_eq!(
                number(&stats["sum"]),
                number(&arm["sum"]),
                "{name} {key} {variant}: sum"
            );
            assert_eq!(
                number(&stats["sumOfSquares"]),
                number(&arm["sum_sq"]),
                "{name} {key} {variant}: Σy²"
            );
        }
        for variant in &variants[1..] {
            let what = format!("{name} {key} {variant}");
            let want = &setting["metrics"][*key][*variant];
            let c = comparison(m, variant);
            assert_estimate(
                &c["absoluteDifference"],
                &want["adjusted"]["absolute"],
                &format!("{what} absolute"),
            );
            assert_estimate(
                &c["relativeLift"],
                &want["adjusted"]["relative"],
                &format!("{what} relative"),
            );
            let raw = &c["unadjusted"];
            assert_estimate(
                &raw["absoluteDifference"],
                &want["unadjusted"]["absolute"],
                &format!("{what} unadjusted absolute"),
            );
            assert_estimate(
                &raw["relativeLift"],
                &want["unadjusted"]["relative"],
                &format!("{what} unadjusted relative"),
            );
            let cuped = &c["cuped"];
            let status = match (cuped_on, want["theta"].is_null()) {
                (false, _) => "OFF",
                (true, false) => "APPLIED",
                (true, true) => "FELL_BACK",
            };
            assert_eq!(cuped["status"], status, "{what}: {cuped}");
            assert_relative(&cuped["theta"], &want["theta"], &format!("{what} θ"));
            assert_relative(
                &cuped["varianceReduction"],
                &want["variance_reduction"],
                &format!("{what} variance reduction"),
            );

            let corrected = &setting["corrected"][*key][*variant];
            let p = if corrected.is_null() {
                assert!(
                    c["corrected"].is_null(),
                    "{what}: no correction, got {}",
                    c["corrected"]
                );
                &want["adjusted"]["absolute"]["p_value"]
            } else {
                let got = &c["corrected"];
                assert_relative(
                    &got["pValue"],
                    &corrected["absolute"]["p_value"],
                    &format!("{what} corrected p"),
                );
                assert_bounds(
                    &got["absoluteDifference"],
                    &corrected["absolute"]["ci"],
                    &format!("{what} corrected absolute"),
                );
                assert_relative(
                    &got["relativeLiftPValue"],
                    &corrected["relative"]["p_value"],
                    &format!("{what} corrected relative p"),
                );
                assert_bounds(
                    &got["relativeLift"],
                    &corrected["relative"]["ci"],
                    &format!("{what} corrected relative"),
                );
                &corrected["absolute"]["p_value"]
            };
            // INCREASE metrics: a WIN exactly when the (corrected) evidence is significant upwards;
            // every arm has 150 or more identities and conversions above the minimums.
            if *key != "visits" {
                let estimate = number(&want["adjusted"]["absolute"]["estimate"]);
                let significant = if bayesian {
                    number(&want["adjusted"]["absolute"]["chance_to_win"]) >= 1.0 - alpha / 2.0
                } else {
                    number(p) < alpha && estimate > 0.0
                };
                let verdict = if significant { "WIN" } else { "INCONCLUSIVE" };
                assert_eq!(c["verdict"], verdict, "{what}: p or chance to win decide");
            }
        }
    }
}

/// Runs the setting called `name` of the expectations file.
async fn check(app: &TestApp, name: &str) {
    let expected = expectations();
    let setting = expected["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no setting {name}"))
        .clone();
    run(app, &setting, &expected).await;
}

macro_rules! setting_test {
    ($test:ident, $name:literal) => {
        db_test_with!(
            $test,
            |settings| {
                local_engine(&mut settings);
            },
            |app| {
                check(&app, $name).await;
            }
        );
    };
}

setting_test!(fixed_horizon_without_cuped_matches_gbstats, "fixed");
setting_test!(fixed_horizon_with_cuped_matches_gbstats, "fixed_cuped");
setting_test!(sequential_with_cuped_matches_gbstats, "sequential");
setting_test!(bayesian_with_a_flat_prior_matches_gbstats, "bayesian_flat");
setting_test!(
    bayesian_with_a_proper_prior_matches_gbstats,
    "bayesian_proper"
);
setting_test!(holm_bonferroni_over_three_arms_matches_growthbook, "holm");
setting_test!(
    benjamini_hochberg_over_three_arms_matches_growthbook,
    "benjamini_hochberg"
);
