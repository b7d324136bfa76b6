//! Results follow the experiment's own analysis settings: its α decides a verdict the server's
//! default would decide otherwise, and its minimums (editable while running) turn verdicts into
//! NOT_ENOUGH_DATA on the next read.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

/// 250 identities per arm exposed at start + 1 h; 50 of control's and 70 of treatment's convert
/// (20 % → 28 %) at start + 2 h: Welch's p ≈ 0.036, significant at 0.05 and not at 0.01.
fn events(env: &str, start: DateTime<Utc>) -> Vec<Event> {
    let mut events = Vec::new();
    for (variant, prefix, converting) in [("control", "c", 50), ("treatment", "t", 70)] {
        for i in 0..250 {
            let id = format!("{prefix}{i}");
            let exposed = start + Duration::hours(1);
            events.push(Event::exposure(
                env, EXPOSURE, FEATURE, &id, variant, exposed,
            ));
            if i < converting {
                let converted = start + Duration::hours(2);
                events.push(Event::track(env, "checkout_done", &id, converted));
            }
        }
    }
    events
}

/// An experiment in `env` with `analysis`, started 10 days ago, with a conversion metric attached
/// as PRIMARY (INCREASE expected); returns (experiment, metric).
async fn experiment(app: &TestApp, env: &str, feature: &str, analysis: Value) -> (String, String) {
    let input = json!({"environmentKey": env, "featureId": feature, "name": "Checkout", "analysis": analysis});
    let data = app
        .ok(users::ORG_ADMIN, CREATE_EXPERIMENT, json!({"input": input}))
        .await;
    let id = data["createExperiment"]["id"]
        .as_str()
        .expect("experiment id")
        .to_owned();
    let body = app.lifecycle("startExperiment", &id).await;
    assert_eq!(code(&body), "OK", "{body}");
    let metric = metric(
        app,
        metric_of(
            env,
            "Checkout conversion",
            "OCCURRENCE",
            json!({"event": "checkout_done"}),
        ),
    )
    .await;
    attach_as(app, &id, &metric, "INCREASE", "PRIMARY").await;
    (id, metric)
}

fn verdict(results: &Value, metric: &str) -> String {
    comparison(metric_results(results, metric), "treatment")["verdict"]
        .as_str()
        .expect("verdict")
        .to_owned()
}

db_test_with!(
    verdicts_use_the_experiments_alpha_and_minimums,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        connect(&app, OTHER_ENV, &warehouse).await;
        let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
        let (strict, strict_metric) =
            experiment(&app, ENV, &world.feature, json!({"alpha": 0.01})).await;
        let (default, default_metric) =
            experiment(&app, OTHER_ENV, &world.feature, json!({})).await;
        for id in [&strict, &default] {
            set_started_at(&app, id, start).await;
        }
        let mut all = events(ENV, start);
        all.extend(events(OTHER_ENV, start));
        warehouse.insert(&all).await;

        let r = results(&app, &default).await;
        let p = number(
            &comparison(metric_results(&r, &default_metric), "treatment")["absoluteDifference"]
                ["pValue"],
        );
        assert!(
            0.01 < p && p < 0.05,
            "the data set is built for this: p = {p}"
        );
        assert_eq!(verdict(&r, &default_metric), "WIN", "α 0.05 (the server's)");
        let r = results(&app, &strict).await;
        assert_eq!(
            verdict(&r, &strict_metric),
            "INCONCLUSIVE",
            "α 0.01 (the experiment's)"
        );

        // The minimums stay editable while running and apply to the next read.
        for (analysis, why) in [
            (json!({"minimumIdentities": 251}), "250 identities per arm"),
            (
                json!({"minimumIdentities": 250, "minimumConversions": 51}),
                "50 conversions in control",
            ),
        ] {
            let body = app
                .gql(
                    users::ORG_ADMIN,
                    "mutation($id: ID!, $input: UpdateExperimentInput!) { updateExperiment(id: $id, input: $input) { id } }",
                    json!({"id": default, "input": {"analysis": analysis}}),
                )
                .await;
            assert_eq!(code(&body), "OK", "{body}");
            let r = results(&app, &default).await;
            assert_eq!(verdict(&r, &default_metric), "NOT_ENOUGH_DATA", "{why}");
        }
    }
);
