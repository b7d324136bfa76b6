//! Snapshot format 2 through GraphQL: a completed experiment's snapshot carries the analysis
//! settings, health and recommendations and reads back equal to the live results before
//! completion; a stored format-1 payload (`fixtures/snapshot_v1.json`, written as lift wrote them
//! before settings: no analysis, health, recommendations, metric name or role, comparisons with
//! `comparison` and `verdict` only) still reads, its numbers from `comparison`. The unknown
//! version is `snapshots::a_snapshot_of_an_unknown_format_version_is_an_internal_error`.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use super::arms::create_with_analysis;
use super::judged_numbers::{events, expectations, ESTIMATE};
use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

const V1: &str = include_str!("fixtures/snapshot_v1.json");

/// Every field of the results, the decision-grade ones included.
fn selection() -> String {
    format!(
        "computedAt frozen exposures {{ variant identities }} excludedIdentities multipleExposureIdentities \
         unknownVariantIdentities srm {{ chiSquare pValue mismatch }} \
         analysis {{ engine alpha sequential sequentialTuning cuped cupedLookbackDays correction \
         prior {{ proper mean variance }} minimumIdentities minimumConversions targetMde }} \
         health {{ status checks {{ kind status value threshold message experimentMetricId }} }} \
         recommendations {{ variant decision reasons }} \
         metrics {{ experimentMetric {{ id }} metricId metricVersion variants {{ variant n sum sumOfSquares mean variance }} \
         comparisons {{ variant absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} \
         unadjusted {{ absoluteDifference {{ {ESTIMATE} }} relativeLift {{ {ESTIMATE} }} }} \
         cuped {{ status fallback theta varianceReduction }} \
         corrected {{ pValue absoluteDifference {{ ciLower ciUpper }} relativeLiftPValue relativeLift {{ ciLower ciUpper }} }} \
         verdict power {{ mde identitiesPerDay daysToTarget }} preExposurePValue }} }}"
    )
}

async fn full_results(app: &TestApp, experiment: &str) -> Value {
    let body = results_as(app, users::ORG_ADMIN, experiment, &selection()).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    body["data"]["experiment"]["results"].clone()
}

/// Without `computedAt`, `frozen` and the power block, which divides by the days the experiment
/// has run, read at a slightly different instant by the live query and by the completion.
fn numbers(results: &Value) -> (Value, Vec<Value>) {
    let mut numbers = results.clone();
    let object = numbers.as_object_mut().expect("results");
    object.remove("computedAt");
    object.remove("frozen");
    let mut powers = Vec::new();
    for metric in numbers["metrics"].as_array_mut().expect("metrics") {
        for c in metric["comparisons"].as_array_mut().expect("comparisons") {
            powers.push(c["power"].take());
        }
    }
    (numbers, powers)
}

/// Equal up to the instant of reading: a rate over the days run moves by (seconds between the two
/// reads) / (seconds run), and the two reads here are a few seconds apart on a loaded machine over a
/// 10-day run (1e-4 allows 86 s; a wrong rate is off by far more).
fn assert_nearly(actual: &Value, expected: &Value, what: &str) {
    match (actual.as_f64(), expected.as_f64()) {
        (Some(a), Some(e)) => assert!((a - e).abs() <= 1e-4 * e.abs(), "{what}: {a} against {e}"),
        _ => assert_eq!(actual, expected, "{what}"),
    }
}

db_test_with!(
    a_completed_experiments_snapshot_carries_settings_health_and_recommendations,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let analysis =
            json!({"correction": "HOLM_BONFERRONI", "cupedLookbackDays": 14, "targetMde": 0.2});
        let experiment = create_with_analysis(&app, ENV, &world.feature, "Frozen", analysis).await;
        let purchase = metric(
            &app,
            metric_of(
                ENV,
                "Converted",
                "OCCURRENCE",
                json!({ "event": "purchase" }),
            ),
        )
        .await;
        let visits = metric(
            &app,
            metric_of(ENV, "Visits", "COUNT", json!({ "event": "visit" })),
        )
        .await;
        attach_as(&app, &experiment, &purchase, "INCREASE", "PRIMARY").await;
        attach_as(&app, &experiment, &visits, "INCREASE", "SECONDARY").await;
        let body = app.lifecycle("startExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
        set_started_at(&app, &experiment, start).await;
        let expected = expectations();
        let size = expected["designs"]["two"]["size"].as_u64().expect("size");
        warehouse
            .insert(&events(
                ENV,
                FEATURE,
                start,
                &["control", "treatment"],
                size,
            ))
            .await;

        let live = full_results(&app, &experiment).await;
        assert_eq!(live["frozen"], false);
        assert_eq!(live["analysis"]["correction"], "HOLM_BONFERRONI");
        assert_eq!(live["health"]["status"], "HEALTHY", "{}", live["health"]);
        let recommendations = live["recommendations"].as_array().expect("recommendations");
        assert_eq!(recommendations.len(), 1, "{recommendations:?}");
        assert_eq!(recommendations[0]["variant"], "treatment");
        let c = comparison(metric_results(&live, &purchase), "treatment");
        assert_eq!(c["cuped"]["status"], "APPLIED", "{c}");
        assert!(c["corrected"].is_object(), "{c}");
        assert!(c["power"]["mde"].is_number(), "a primary has power: {c}");

        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        let frozen = full_results(&app, &experiment).await;
        assert_eq!(frozen["frozen"], true);
        let (frozen_numbers, frozen_power) = numbers(&frozen);
        let (live_numbers, live_power) = numbers(&live);
        assert_eq!(
            frozen_numbers, live_numbers,
            "the snapshot reads as the live results"
        );
        assert_eq!(frozen_power.len(), live_power.len());
        for (f, l) in frozen_power.iter().zip(&live_power) {
            assert_eq!(f.is_null(), l.is_null(), "{f} against {l}");
            if l.is_object() {
                // The MDE depends on the sample only; the rate on the instant of reading.
                assert_eq!(f["mde"], l["mde"], "power's MDE");
                assert_nearly(
                    &f["identitiesPerDay"],
                    &l["identitiesPerDay"],
                    "identities per day",
                );
                assert_nearly(&f["daysToTarget"], &l["daysToTarget"], "days to target");
            }
        }

        // Stored as format 2, with the settings, health and recommendations in the payload.
        let payload = stored_payloads(&app, &experiment).await;
        assert_eq!(payload.len(), 1);
        let payload = &payload[0];
        assert_eq!(payload["version"], 2);
        for key in ["analysis", "health", "recommendations"] {
            assert!(
                !payload[key].is_null(),
                "{key} in the stored payload: {payload}"
            );
        }
        assert!(payload["metrics"][0]["comparisons"][0]["comparison"].is_null());
        assert!(payload["metrics"][0]["comparisons"][0]["analysis"].is_object());
    }
);

/// The payloads of `experiment`'s stored snapshots.
async fn stored_payloads(app: &TestApp, experiment: &str) -> Vec<Value> {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT payload FROM metric_result_snapshots WHERE experiment_id = $1"
        }
        _ => "SELECT payload FROM metric_result_snapshots WHERE experiment_id = ?",
    };
    app.db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [experiment.to_owned().into()],
        ))
        .await
        .expect("read the snapshots")
        .iter()
        .map(|row| row.try_get("", "payload").expect("a JSON payload"))
        .collect()
}

db_test_with!(
    a_stored_version_1_snapshot_still_reads,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let (experiment, _) = started_experiment(&app, ENV, &world.feature, "Old", None).await;
        let converted = metric(
            &app,
            metric_of(
                ENV,
                "Converted",
                "OCCURRENCE",
                json!({ "event": "purchase" }),
            ),
        )
        .await;
        let attachment = attach_as(&app, &experiment, &converted, "INCREASE", "PRIMARY").await;
        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");

        // A row as lift stored it before format 2, newer than the one completion stored and, like
        // it, ending when the experiment ended (which is what makes it the frozen result).
        let times = app
            .ok(
                users::ORG_ADMIN,
                "query($id: ID!) { experiment(id: $id) { startedAt endedAt } }",
                json!({ "id": experiment }),
            )
            .await;
        let at = |key: &str| -> DateTime<Utc> {
            let text = times["experiment"][key].as_str().expect("a time");
            DateTime::parse_from_rfc3339(text)
                .expect("RFC 3339")
                .to_utc()
        };
        let mut payload: Value = serde_json::from_str(V1).expect("the v1 fixture parses");
        payload["window_start"] = json!(at("startedAt"));
        payload["window_end"] = json!(at("endedAt"));
        payload["metrics"][0]["experiment_metric_id"] = json!(attachment);
        payload["metrics"][0]["metric_id"] = json!(converted);
        let backend = app.db.get_database_backend();
        let insert = match backend {
            DbBackend::Postgres => "INSERT INTO metric_result_snapshots (id, experiment_id, computed_at, payload) VALUES ($1, $2, $3, $4)",
            _ => "INSERT INTO metric_result_snapshots (id, experiment_id, computed_at, payload) VALUES (?, ?, ?, ?)",
        };
        let computed_at = Utc::now().trunc_subsecs(0) + Duration::hours(1);
        app.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                insert,
                [
                    "snapshot-v1".into(),
                    experiment.clone().into(),
                    computed_at.into(),
                    payload.clone().into(),
                ],
            ))
            .await
            .expect("insert the v1 snapshot");

        let r = full_results(&app, &experiment).await;
        assert_eq!(r["frozen"], true);
        assert!(
            r["analysis"].is_null(),
            "no settings in v1: {}",
            r["analysis"]
        );
        assert!(r["health"].is_null(), "no health in v1: {}", r["health"]);
        assert_eq!(r["recommendations"], json!([]));
        assert_eq!(
            exposures(&r),
            [("control".to_owned(), 250), ("treatment".to_owned(), 240)]
        );
        assert_eq!(left_out(&r), (4, 3, 1));
        let srm = &payload["exposures"]["srm"];
        assert_eq!(r["srm"]["chiSquare"], srm["chi_square"]);
        assert_eq!(r["srm"]["pValue"], srm["p_value"]);
        assert_eq!(r["srm"]["mismatch"], false);

        let m = metric_results(&r, &converted);
        assert_eq!(m["experimentMetric"]["id"], attachment.as_str());
        assert_eq!(
            m["metricVersion"], 1,
            "before versions, every metric was version 1"
        );
        let stored = &payload["metrics"][0];
        for (i, variant) in ["control", "treatment"].into_iter().enumerate() {
            let want = &stored["variants"][i];
            let got = variant_stats(m, variant);
            assert_eq!(got["n"], want["n"], "{variant}");
            for (field, key) in [
                ("sum", "sum"),
                ("sumOfSquares", "sum_sq"),
                ("mean", "mean"),
                ("variance", "variance"),
            ] {
                assert_eq!(number(&got[field]), number(&want[key]), "{variant} {field}");
            }
        }
        let c = comparison(m, "treatment");
        let v1 = &stored["comparisons"][0]["comparison"];
        for (field, scale) in [
            ("absoluteDifference", "absolute"),
            ("relativeLift", "relative"),
        ] {
            let (got, want) = (&c[field], &v1[scale]);
            for (f, k) in [
                ("estimate", "estimate"),
                ("ciLower", "ci_lower"),
                ("ciUpper", "ci_upper"),
                ("pValue", "p_value"),
            ] {
                assert_eq!(number(&got[f]), number(&want[k]), "{field} {f}");
            }
            assert!(
                got["chanceToWin"].is_null() && got["risk"].is_null(),
                "{got}"
            );
        }
        assert_eq!(c["verdict"], "WIN");
        for absent in [
            "unadjusted",
            "cuped",
            "corrected",
            "power",
            "preExposurePValue",
        ] {
            assert!(c[absent].is_null(), "{absent} in a v1 snapshot: {c}");
        }

        // The snapshots list reads it too.
        let body = app
            .gql(
                users::ORG_ADMIN,
                "query($id: ID!) { experiment(id: $id) { snapshots(first: 10) { totalCount edges { node { id results { analysis { engine } health { status } recommendations { variant } } } } } } }",
                json!({ "id": experiment }),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body:#}");
        let snapshots = &body["data"]["experiment"]["snapshots"];
        assert_eq!(snapshots["totalCount"], 2, "completion's and the v1 row");
        let node = &snapshots["edges"][0]["node"];
        assert_eq!(node["id"], "snapshot-v1", "newest first: {snapshots}");
        assert_eq!(
            node["results"],
            json!({"analysis": null, "health": null, "recommendations": []})
        );
        let current = &snapshots["edges"][1]["node"]["results"];
        assert!(
            current["analysis"].is_object() && current["health"].is_object(),
            "{current}"
        );
    }
);
