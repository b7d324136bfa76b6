//! `results.health` through GraphQL: every check fires on an event set built for it — a 300/100
//! split on 50/50 weights (SAMPLE_RATIO, UNHEALTHY), 5 and 25 identities exposed to both variants
//! beside 200 per arm (MULTIPLE_EXPOSURES over 1 % and over 5 %), pre-period activity in 10 % of
//! control and 25 % of treatment (PRE_EXPOSURE_BIAS, only with CUPED on), 60 identities per arm
//! under a minimum of 100 (LOW_TRAFFIC) — and a clean experiment is HEALTHY on every check. An
//! UNHEALTHY experiment is also recommended CHECK_SETUP (the first rule of the recommendation); a
//! WARNING does not stop the reading (the biased experiment's CUPED-adjusted LOSS, as gbstats
//! computes it, is rolled back; the same data without CUPED keeps running).

use serde_json::{json, Value};

use super::arms::*;
use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

/// scipy.stats.chi2.sf(100, 1): the χ² of a 300/100 split on equal weights is 100.
const SRM_P_300_100: f64 = 1.5239706048320995e-23;
/// gbstats 0.8.0, the pre-period share of identities active, 20 of 200 against 50 of 200:
/// `TwoSidedTTest(ProportionStatistic(n=200, sum=20), ProportionStatistic(n=200, sum=50),
/// FrequentistConfig(alpha=0.05, difference_type="absolute")).compute_result().p_value`.
const PRE_P_20_50: f64 = 6.915800986861953e-05;
/// The same for 30 of 200 in both arms.
const PRE_P_30_30: f64 = 1.0;
/// gbstats 0.8.0, the CUPED-adjusted absolute difference of the biased experiment: 40 of 200
/// converting in both arms, pre-period x = 1 for 20 of control (all converting: Σxy = 20) and
/// 50 of treatment (40 converting), `RegressionAdjustedStatistic` of `ProportionStatistic`s with
/// `compute_theta` pooled over both arms (θ = 0.7985…), `TwoSidedTTest` absolute (p = 3.1e-6).
const CUPED_DIFFERENCE_BIASED: f64 = -0.11977996940402957;

fn status<'a>(results: &'a Value, kind: &str) -> &'a str {
    check(results, kind)["status"].as_str().expect("status")
}

fn value(results: &Value, kind: &str) -> f64 {
    number(&check(results, kind)["value"])
}

fn threshold(results: &Value, kind: &str) -> f64 {
    number(&check(results, kind)["threshold"])
}

fn message<'a>(results: &'a Value, kind: &str) -> &'a str {
    check(results, kind)["message"].as_str().expect("message")
}

/// Asserts the statuses of the four checks (None: the check is absent) and the overall status.
fn assert_statuses(
    results: &Value,
    label: &str,
    expected: [(&str, Option<&str>); 4],
    overall: &str,
) {
    for (kind, want) in expected {
        let present = results["health"]["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["kind"] == kind);
        match want {
            Some(want) => assert_eq!(
                status(results, kind),
                want,
                "{label}: {kind} in {:#}",
                results["health"]
            ),
            None => assert!(
                !present,
                "{label}: no {kind} check expected: {:#}",
                results["health"]
            ),
        }
    }
    assert_eq!(
        results["health"]["status"], overall,
        "{label}: {:#}",
        results["health"]
    );
}

fn pre_exposure_p(results: &Value, metric: &str) -> Value {
    comparison(metric_results(results, metric), "treatment")["preExposurePValue"].clone()
}

db_test_with!(
    each_health_check_fires_and_a_clean_experiment_is_healthy,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let purchase = conversion(&app, ENV, "Purchase", "buy").await;
        let mut events = Vec::new();
        let mut experiments = Vec::new();
        // (feature, analysis settings, arms, identities exposed to both variants)
        let balanced_pre: &[(&str, usize)] = &[("buy", 30)];
        let scenarios: Vec<(&str, Value, [Arm<'_>; 2], usize)> = vec![
            (
                "clean",
                json!({}),
                [
                    Arm {
                        variant: "control",
                        prefix: "clean-c",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: balanced_pre,
                    },
                    Arm {
                        variant: "treatment",
                        prefix: "clean-t",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: balanced_pre,
                    },
                ],
                0,
            ),
            (
                "skewed",
                json!({}),
                [
                    arm("control", "skew-c", 300, &[("buy", 60)]),
                    arm("treatment", "skew-t", 100, &[("buy", 20)]),
                ],
                0,
            ),
            (
                "some-twice",
                json!({}),
                [
                    arm("control", "sw-c", 200, &[("buy", 40)]),
                    arm("treatment", "sw-t", 200, &[("buy", 40)]),
                ],
                5,
            ),
            (
                "many-twice",
                json!({}),
                [
                    arm("control", "mw-c", 200, &[("buy", 40)]),
                    arm("treatment", "mw-t", 200, &[("buy", 40)]),
                ],
                25,
            ),
            (
                "biased",
                json!({}),
                [
                    Arm {
                        variant: "control",
                        prefix: "bias-c",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: &[("buy", 20)],
                    },
                    Arm {
                        variant: "treatment",
                        prefix: "bias-t",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: &[("buy", 50)],
                    },
                ],
                0,
            ),
            (
                "biased-no-cuped",
                json!({"cuped": false}),
                [
                    Arm {
                        variant: "control",
                        prefix: "bnc-c",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: &[("buy", 20)],
                    },
                    Arm {
                        variant: "treatment",
                        prefix: "bnc-t",
                        size: 200,
                        converts: &[("buy", 40)],
                        before: &[("buy", 50)],
                    },
                ],
                0,
            ),
            (
                "quiet",
                json!({"minimumIdentities": 100}),
                [
                    arm("control", "low-c", 60, &[("buy", 12)]),
                    arm("treatment", "low-t", 60, &[("buy", 12)]),
                ],
                0,
            ),
        ];
        for (name, analysis, arms, twice) in &scenarios {
            let feature = app
                .feature(&world.project_a, name, "control:50,treatment:50")
                .await;
            let (id, start) = experiment_with(&app, ENV, &feature, name, analysis.clone()).await;
            let attachment = attach_as(&app, &id, &purchase, "INCREASE", "PRIMARY").await;
            for arm in arms {
                events.extend(arm.events(ENV, name, start));
            }
            events.extend(exposed_twice(
                ENV,
                name,
                start,
                &format!("{name}-both-"),
                *twice,
            ));
            experiments.push((id, attachment));
        }
        warehouse.insert(&events).await;
        let [clean, skewed, some_twice, many_twice, biased, no_cuped, quiet] =
            <[_; 7]>::try_from(experiments).expect("seven experiments");

        // Clean: every check passes, with what it measured.
        let r = decisions(&app, &clean.0).await;
        let all_healthy = [
            ("SAMPLE_RATIO", Some("HEALTHY")),
            ("MULTIPLE_EXPOSURES", Some("HEALTHY")),
            ("PRE_EXPOSURE_BIAS", Some("HEALTHY")),
            ("LOW_TRAFFIC", Some("HEALTHY")),
        ];
        assert_statuses(&r, "clean", all_healthy, "HEALTHY");
        assert_close(number(&r["srm"]["chiSquare"]), 0.0, "balanced χ²");
        assert_eq!(value(&r, "SAMPLE_RATIO"), number(&r["srm"]["pValue"]));
        assert_eq!(threshold(&r, "SAMPLE_RATIO"), 0.001);
        assert_eq!(value(&r, "MULTIPLE_EXPOSURES"), 0.0);
        assert_eq!(threshold(&r, "MULTIPLE_EXPOSURES"), 0.01);
        assert_eq!(value(&r, "LOW_TRAFFIC"), 200.0, "the smallest arm");
        assert_eq!(
            threshold(&r, "LOW_TRAFFIC"),
            50.0,
            "the server's default minimum"
        );
        let pre = check(&r, "PRE_EXPOSURE_BIAS");
        assert_eq!(pre["experimentMetricId"], clean.1.as_str(), "{pre}");
        assert_eq!(
            pre["value"],
            pre_exposure_p(&r, &purchase),
            "the comparison's pre-exposure p"
        );
        assert_close(
            number(&pre["value"]),
            PRE_P_30_30,
            "pre-exposure p, 30 of 200 in both arms",
        );
        assert_eq!(threshold(&r, "PRE_EXPOSURE_BIAS"), 0.001);
        assert!(
            message(&r, "PRE_EXPOSURE_BIAS").contains("Purchase"),
            "{pre}"
        );

        // 300/100 on 50/50: the split is broken, nothing else is read.
        let r = decisions(&app, &skewed.0).await;
        assert_statuses(
            &r,
            "skewed",
            [
                ("SAMPLE_RATIO", Some("UNHEALTHY")),
                ("MULTIPLE_EXPOSURES", Some("HEALTHY")),
                ("PRE_EXPOSURE_BIAS", None),
                ("LOW_TRAFFIC", Some("HEALTHY")),
            ],
            "UNHEALTHY",
        );
        assert_close(number(&r["srm"]["chiSquare"]), 100.0, "χ² of 300/100");
        let p = value(&r, "SAMPLE_RATIO");
        assert_eq!(p, number(&r["srm"]["pValue"]));
        assert!(
            (p - SRM_P_300_100).abs() <= 1e-9 * SRM_P_300_100,
            "χ² p {p}, scipy {SRM_P_300_100}"
        );
        assert_eq!(threshold(&r, "SAMPLE_RATIO"), 0.001);
        assert!(
            message(&r, "SAMPLE_RATIO").contains("do not trust"),
            "{}",
            message(&r, "SAMPLE_RATIO")
        );
        assert_eq!(value(&r, "LOW_TRAFFIC"), 100.0);
        let recommended = recommendations(&r);
        assert_eq!(recommended.len(), 1, "{recommended:?}");
        assert_eq!(
            (recommended[0].0.as_str(), recommended[0].1.as_str()),
            ("treatment", "CHECK_SETUP")
        );
        assert!(
            recommended[0].2[0].contains("health check failed"),
            "{recommended:?}"
        );

        // Multiple exposures: 5 of 405 exposed (1.23 %) warn, 25 of 425 (5.88 %) fail.
        for (experiment, twice, want, limit, overall) in [
            (&some_twice, 5u64, "WARNING", 0.01, "WARNING"),
            (&many_twice, 25, "UNHEALTHY", 0.05, "UNHEALTHY"),
        ] {
            let r = decisions(&app, &experiment.0).await;
            assert_eq!(r["multipleExposureIdentities"], twice, "{r:#}");
            assert_eq!(r["excludedIdentities"], twice, "EXCLUDE, the default");
            assert_eq!(
                exposures(&r),
                [("control".to_owned(), 200), ("treatment".to_owned(), 200)]
            );
            let share = twice as f64 / (400 + twice) as f64;
            assert_statuses(
                &r,
                "multiple exposures",
                [
                    ("SAMPLE_RATIO", Some("HEALTHY")),
                    ("MULTIPLE_EXPOSURES", Some(want)),
                    ("PRE_EXPOSURE_BIAS", None),
                    ("LOW_TRAFFIC", Some("HEALTHY")),
                ],
                overall,
            );
            assert_close(
                value(&r, "MULTIPLE_EXPOSURES"),
                share,
                "share exposed twice",
            );
            assert_eq!(threshold(&r, "MULTIPLE_EXPOSURES"), limit);
            let percent = format!("{:.2}%", share * 100.0);
            assert!(
                message(&r, "MULTIPLE_EXPOSURES").contains(&percent),
                "{percent}: {}",
                message(&r, "MULTIPLE_EXPOSURES")
            );
            let decision = recommendations(&r)[0].1.clone();
            assert_eq!(
                decision,
                if want == "UNHEALTHY" {
                    "CHECK_SETUP"
                } else {
                    "KEEP_RUNNING"
                },
                "{r:#}"
            );
        }

        // Pre-period activity in 20 of 200 against 50 of 200: the groups differed before
        // exposure. Without CUPED there is no covariate, hence no check.
        let r = decisions(&app, &biased.0).await;
        assert_statuses(
            &r,
            "biased",
            [
                ("SAMPLE_RATIO", Some("HEALTHY")),
                ("MULTIPLE_EXPOSURES", Some("HEALTHY")),
                ("PRE_EXPOSURE_BIAS", Some("WARNING")),
                ("LOW_TRAFFIC", Some("HEALTHY")),
            ],
            "WARNING",
        );
        let pre = check(&r, "PRE_EXPOSURE_BIAS");
        assert_eq!(pre["experimentMetricId"], biased.1.as_str());
        assert_eq!(pre["value"], pre_exposure_p(&r, &purchase));
        let p = number(&pre["value"]);
        assert!(
            (p - PRE_P_20_50).abs() <= 1e-9 * PRE_P_20_50,
            "pre-exposure p {p}, gbstats {PRE_P_20_50}"
        );
        assert_eq!(threshold(&r, "PRE_EXPOSURE_BIAS"), 0.001);
        let text = message(&r, "PRE_EXPOSURE_BIAS");
        assert!(
            text.contains("Purchase") && text.contains("treatment"),
            "{text}"
        );
        // A warning does not stop the reading. CUPED corrects for the imbalance: treatment's
        // identities were more active before exposure (and the active ones convert), so the same
        // 40 of 200 converting afterwards is a loss once adjusted.
        let purchase_effect = &comparison(metric_results(&r, &purchase), "treatment");
        assert_eq!(purchase_effect["verdict"], "LOSS", "{purchase_effect:#}");
        assert_close(
            number(&purchase_effect["absoluteDifference"]["estimate"]),
            CUPED_DIFFERENCE_BIASED,
            "CUPED-adjusted difference",
        );
        assert_eq!(
            recommendations(&r),
            [(
                "treatment".to_owned(),
                "ROLL_BACK".to_owned(),
                vec!["Purchase (primary) is a loss.".to_owned()]
            )]
        );
        let r = decisions(&app, &no_cuped.0).await;
        assert_statuses(
            &r,
            "biased, CUPED off",
            [
                ("SAMPLE_RATIO", Some("HEALTHY")),
                ("MULTIPLE_EXPOSURES", Some("HEALTHY")),
                ("PRE_EXPOSURE_BIAS", None),
                ("LOW_TRAFFIC", Some("HEALTHY")),
            ],
            "HEALTHY",
        );
        assert_eq!(pre_exposure_p(&r, &purchase), Value::Null);
        // Unadjusted, 40 of 200 in both arms: inconclusive, and the sample is too small yet.
        assert_eq!(
            comparison(metric_results(&r, &purchase), "treatment")["verdict"],
            "INCONCLUSIVE"
        );
        assert_eq!(recommendations(&r)[0].1, "KEEP_RUNNING");

        // 60 per arm under the experiment's minimum of 100.
        let r = decisions(&app, &quiet.0).await;
        assert_statuses(
            &r,
            "quiet",
            [
                ("SAMPLE_RATIO", Some("HEALTHY")),
                ("MULTIPLE_EXPOSURES", Some("HEALTHY")),
                ("PRE_EXPOSURE_BIAS", None),
                ("LOW_TRAFFIC", Some("WARNING")),
            ],
            "WARNING",
        );
        assert_eq!(value(&r, "LOW_TRAFFIC"), 60.0);
        assert_eq!(
            threshold(&r, "LOW_TRAFFIC"),
            100.0,
            "the experiment's minimumIdentities"
        );
        assert!(
            message(&r, "LOW_TRAFFIC").contains("fewer than the 100"),
            "{}",
            message(&r, "LOW_TRAFFIC")
        );
        assert_eq!(
            comparison(metric_results(&r, &purchase), "treatment")["verdict"],
            "NOT_ENOUGH_DATA"
        );
        assert_eq!(
            recommendations(&r),
            [(
                "treatment".to_owned(),
                "KEEP_RUNNING".to_owned(),
                vec!["Purchase (primary) does not have enough data yet.".to_owned()]
            )]
        );
    }
);
