//! Verdicts, intervals and the sample-ratio check on generated data: a clear effect on one
//! conversion metric (20 % → 40 %) is a WIN where an increase is expected and a LOSS for a
//! NOT_INCREASE guardrail; an A/A metric is INCONCLUSIVE; too few conversions or identities is
//! NOT_ENOUGH_DATA; a 300/100 split on 50/50 weights is a mismatch, a balanced one is not.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

/// `arm`'s identities `{prefix}0..{prefix}{size}` exposed to `variant` of `feature` in `env` at
/// start + 1 h; the first `converts[event]` of them send `event` at start + 2 h.
fn arm(
    env: &str,
    feature: &str,
    start: DateTime<Utc>,
    variant: &str,
    prefix: &str,
    size: usize,
    converts: &[(&str, usize)],
) -> Vec<Event> {
    let mut events = Vec::new();
    for i in 0..size {
        let id = format!("{prefix}{i}");
        events.push(Event::exposure(
            env,
            EXPOSURE,
            feature,
            &id,
            variant,
            start + Duration::hours(1),
        ));
        for &(event, count) in converts {
            if i < count {
                events.push(Event::track(env, event, &id, start + Duration::hours(2)));
            }
        }
    }
    events
}

fn conversion(env: &str, name: &str, event: &str) -> Value {
    metric_of(env, name, "OCCURRENCE", json!({ "event": event }))
}

fn verdict(results: &Value, metric: &str) -> String {
    comparison(metric_results(results, metric), "treatment")["verdict"]
        .as_str()
        .expect("verdict")
        .to_owned()
}

fn assert_interval(estimate: &Value, what: &str) {
    let (e, lo, hi, p) = (
        number(&estimate["estimate"]),
        number(&estimate["ciLower"]),
        number(&estimate["ciUpper"]),
        number(&estimate["pValue"]),
    );
    assert!(lo <= e && e <= hi, "{what}: {e} not within [{lo}, {hi}]");
    assert!(lo < hi, "{what}: an interval, not a point: {estimate}");
    assert!((0.0..=1.0).contains(&p), "{what}: p-value {p}");
}

db_test_with!(
    a_clear_effect_wins_breaks_a_guardrail_and_an_a_a_metric_is_inconclusive,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        let win = metric(
            &app,
            conversion(ENV, "Checkout conversion", "checkout_done"),
        )
        .await;
        let guarded = metric(&app, conversion(ENV, "Checkout guardrail", "checkout_done")).await;
        let a_a = metric(&app, conversion(ENV, "Newsletter", "newsletter")).await;
        let rare = metric(&app, conversion(ENV, "Rare", "rare")).await;
        attach_as(&app, &experiment, &win, "INCREASE", "PRIMARY").await;
        attach_as(&app, &experiment, &guarded, "NOT_INCREASE", "GUARDRAIL").await;
        attach_as(&app, &experiment, &a_a, "INCREASE", "SECONDARY").await;
        attach_as(&app, &experiment, &rare, "INCREASE", "SECONDARY").await;
        // 250 per arm: checkout 50 (20 %) vs 100 (40 %), newsletter 75 vs 75, rare 2 vs 4.
        let mut events = arm(
            ENV,
            FEATURE,
            s,
            "control",
            "c",
            250,
            &[("checkout_done", 50), ("newsletter", 75), ("rare", 2)],
        );
        events.extend(arm(
            ENV,
            FEATURE,
            s,
            "treatment",
            "t",
            250,
            &[("checkout_done", 100), ("newsletter", 75), ("rare", 4)],
        ));
        warehouse.insert(&events).await;

        let r = results(&app, &experiment).await;
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 250), ("treatment".to_owned(), 250)]
        );
        assert_eq!(r["srm"]["mismatch"], false, "{}", r["srm"]);
        assert_close(number(&r["srm"]["chiSquare"]), 0.0, "balanced χ²");
        assert_stats(
            &r,
            &win,
            "checkout",
            &[
                ("control", 250, 50.0, 50.0),
                ("treatment", 250, 100.0, 100.0),
            ],
        );

        assert_eq!(
            verdict(&r, &win),
            "WIN",
            "20 % → 40 % with INCREASE expected"
        );
        assert_eq!(
            verdict(&r, &guarded),
            "LOSS",
            "the same rise breaks a NOT_INCREASE guardrail"
        );
        assert_eq!(verdict(&r, &a_a), "INCONCLUSIVE", "30 % in both arms");
        assert_eq!(
            verdict(&r, &rare),
            "NOT_ENOUGH_DATA",
            "2 and 4 conversions, fewer than 5"
        );

        // The estimates follow from the reported means.
        let m = metric_results(&r, &win);
        let mean_a = number(&variant_stats(m, "control")["mean"]);
        let mean_b = number(&variant_stats(m, "treatment")["mean"]);
        assert_close(mean_a, 0.2, "control mean");
        assert_close(mean_b, 0.4, "treatment mean");
        let c = comparison(m, "treatment");
        let absolute = &c["absoluteDifference"];
        let relative = &c["relativeLift"];
        assert_close(
            number(&absolute["estimate"]),
            mean_b - mean_a,
            "absolute difference",
        );
        assert_close(
            number(&relative["estimate"]),
            mean_b / mean_a - 1.0,
            "relative lift",
        );
        assert_interval(absolute, "absolute difference");
        assert_interval(relative, "relative lift");
        assert!(
            number(&absolute["ciLower"]) > 0.0,
            "a significant rise: {absolute}"
        );
        let p_win = number(&absolute["pValue"]);
        let p_a_a = number(
            &comparison(metric_results(&r, &a_a), "treatment")["absoluteDifference"]["pValue"],
        );
        assert!(p_win < 0.05, "p of the effect: {p_win}");
        assert!(p_a_a > 0.05, "p of the A/A metric: {p_a_a}");
        assert_ne!(p_win, p_a_a);
        let a_a_estimate = &comparison(metric_results(&r, &a_a), "treatment")["absoluteDifference"];
        assert_close(number(&a_a_estimate["estimate"]), 0.0, "A/A difference");
        assert_interval(a_a_estimate, "A/A difference");
    }
);

db_test_with!(
    small_arms_are_not_enough_data_and_a_lopsided_split_is_a_mismatch,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let banner = app
            .feature(&world.project_a, "banner", "control:50,treatment:50")
            .await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        connect(&app, OTHER_ENV, &warehouse).await;

        // prod/banner: 40 per arm, a large effect (10 vs 30 clicks), but fewer than 50 identities.
        let (small, s) = started_experiment(&app, ENV, &banner, "Banner", None).await;
        let clicks = metric(&app, conversion(ENV, "Banner clicks", "banner_click")).await;
        attach_as(&app, &small, &clicks, "INCREASE", "PRIMARY").await;
        // staging/checkout: 300 control against 100 treatment on 50/50 weights.
        let (lopsided, s2) =
            started_experiment(&app, OTHER_ENV, &world.feature, "Lopsided", None).await;
        let mut events = arm(
            ENV,
            "banner",
            s,
            "control",
            "c",
            40,
            &[("banner_click", 10)],
        );
        events.extend(arm(
            ENV,
            "banner",
            s,
            "treatment",
            "t",
            40,
            &[("banner_click", 30)],
        ));
        events.extend(arm(OTHER_ENV, FEATURE, s2, "control", "c", 300, &[]));
        events.extend(arm(OTHER_ENV, FEATURE, s2, "treatment", "t", 100, &[]));
        warehouse.insert(&events).await;

        let r = results(&app, &small).await;
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 40), ("treatment".to_owned(), 40)]
        );
        assert_stats(
            &r,
            &clicks,
            "clicks",
            &[("control", 40, 10.0, 10.0), ("treatment", 40, 30.0, 30.0)],
        );
        assert_eq!(
            verdict(&r, &clicks),
            "NOT_ENOUGH_DATA",
            "40 identities per arm"
        );
        assert_eq!(r["srm"]["mismatch"], false);

        let r = results(&app, &lopsided).await;
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 300), ("treatment".to_owned(), 100)]
        );
        // χ² = (300 − 200)²/200 + (100 − 200)²/200 = 100.
        assert_close(number(&r["srm"]["chiSquare"]), 100.0, "χ² of 300/100");
        assert!(number(&r["srm"]["pValue"]) < 0.001, "{}", r["srm"]);
        assert_eq!(r["srm"]["mismatch"], true);
    }
);
