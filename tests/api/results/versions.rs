//! Results measure each attachment's pinned version of its metric: an edit of the metric (here,
//! the event it counts) leaves a running experiment's numbers on the old definition until the
//! attachment is upgraded; the version is named in the results and frozen into the snapshot.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const SELECTION: &str =
    "frozen metrics { metricId metricVersion variants { variant n sum sumOfSquares } }";

/// c1 purchases once, t1 twice; c2 asks for three refunds. Purchases and refunds count
/// differently in each arm, so the numbers tell which event a metric counted.
fn events(s: DateTime<Utc>) -> Vec<Event> {
    let h = |hours: i64| s + Duration::hours(hours);
    let mut events = vec![
        Event::exposure(ENV, EXPOSURE, FEATURE, "c1", "control", h(1)),
        Event::exposure(ENV, EXPOSURE, FEATURE, "c2", "control", h(1)),
        Event::exposure(ENV, EXPOSURE, FEATURE, "t1", "treatment", h(1)),
        Event::track(ENV, "purchase", "c1", h(2)),
        Event::track(ENV, "purchase", "t1", h(2)),
        Event::track(ENV, "purchase", "t1", h(3)),
    ];
    for hour in 2..5 {
        events.push(Event::track(ENV, "refund", "c2", h(hour)));
    }
    events
}

const PURCHASES: &[(&str, u64, f64, f64)] = &[("control", 2, 1.0, 1.0), ("treatment", 1, 2.0, 4.0)];
const REFUNDS: &[(&str, u64, f64, f64)] = &[("control", 2, 3.0, 9.0), ("treatment", 1, 0.0, 0.0)];

async fn read(app: &TestApp, experiment: &str) -> Value {
    let body = results_as(app, users::ORG_ADMIN, experiment, SELECTION).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    body["data"]["experiment"]["results"].clone()
}

async fn edit(app: &TestApp, metric: &str, event: &str) {
    let body = app
        .gql(
            users::ORG_ADMIN,
            "mutation($id: ID!, $input: UpdateMetricInput!) { updateMetric(id: $id, input: $input) { version } }",
            json!({"id": metric, "input": {"definition": {"event": event}}}),
        )
        .await;
    assert_eq!(code(&body), "OK", "{body}");
}

db_test_with!(
    results_follow_the_pinned_version_until_the_attachment_is_upgraded,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let counted = metric(
            &app,
            metric_of(ENV, "Counted", "COUNT", json!({ "event": "purchase" })),
        )
        .await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        let attachment = attach_as(&app, &experiment, &counted, "INCREASE", "PRIMARY").await;
        warehouse.insert(&events(s)).await;

        let r = read(&app, &experiment).await;
        assert_eq!(metric_results(&r, &counted)["metricVersion"], 1);
        assert_stats(&r, &counted, "version 1", PURCHASES);

        edit(&app, &counted, "refund").await;
        let r = read(&app, &experiment).await;
        assert_eq!(metric_results(&r, &counted)["metricVersion"], 1, "{r}");
        assert_stats(&r, &counted, "pinned after the edit", PURCHASES);

        let upgraded = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { upgradeExperimentMetric(id: $id) { metricVersion } }",
                json!({ "id": attachment }),
            )
            .await;
        assert_eq!(code(&upgraded), "OK", "{upgraded}");
        let r = read(&app, &experiment).await;
        assert_eq!(metric_results(&r, &counted)["metricVersion"], 2, "{r}");
        assert_stats(&r, &counted, "upgraded", REFUNDS);

        // Completion freezes the version with the numbers; later edits change neither.
        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        edit(&app, &counted, "purchase").await;
        let frozen = read(&app, &experiment).await;
        assert_eq!(frozen["frozen"], true);
        assert_eq!(
            metric_results(&frozen, &counted)["metricVersion"],
            2,
            "{frozen}"
        );
        assert_stats(&frozen, &counted, "frozen", REFUNDS);

        // The snapshot stores the version; one stored before versions existed (format 2 without
        // the field) reads as version 1, the only one metrics had then.
        let mut payload = snapshot_payload(&app, &experiment).await;
        assert_eq!(payload["metrics"][0]["metric_version"], 2, "{payload}");
        if let Some(metric) = payload["metrics"][0].as_object_mut() {
            metric.remove("metric_version");
        }
        store_payload(&app, &experiment, payload).await;
        let older = read(&app, &experiment).await;
        assert_eq!(
            metric_results(&older, &counted)["metricVersion"],
            1,
            "{older}"
        );
        assert_stats(&older, &counted, "older snapshot", REFUNDS);
    }
);

/// The one stored snapshot payload of `experiment`.
async fn snapshot_payload(app: &TestApp, experiment: &str) -> Value {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT payload FROM metric_result_snapshots WHERE experiment_id = $1"
        }
        _ => "SELECT payload FROM metric_result_snapshots WHERE experiment_id = ?",
    };
    let rows = app
        .db
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [experiment.to_owned().into()],
        ))
        .await
        .expect("read the snapshot");
    assert_eq!(rows.len(), 1, "one snapshot");
    rows[0].try_get("", "payload").expect("a JSON payload")
}

/// Replaces the stored snapshot payload of `experiment` behind the API's back.
async fn store_payload(app: &TestApp, experiment: &str, payload: Value) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "UPDATE metric_result_snapshots SET payload = $1 WHERE experiment_id = $2"
        }
        _ => "UPDATE metric_result_snapshots SET payload = ? WHERE experiment_id = ?",
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [payload.into(), experiment.to_owned().into()],
        ))
        .await
        .expect("rewrite the snapshot");
}
