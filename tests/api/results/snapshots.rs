//! Snapshots: completing an experiment freezes its results (the same numbers, never asking the
//! warehouse again, even after new events or without a connection); `refreshResults` stores a
//! snapshot of a running experiment at most once per interval, for admins only, audited.

use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

const SNAPSHOTS: &str = "query($id: ID!) { experiment(id: $id) { status startedAt endedAt snapshots(first: 10) { totalCount edges { node { id computedAt windowStart windowEnd results { computedAt frozen exposures { variant identities } metrics { metricId variants { variant n sum sumOfSquares } } } } } } } }";

const REFRESH: &str = "mutation($id: ID!) { refreshResults(experimentId: $id) { id computedAt windowStart windowEnd results { frozen exposures { variant identities } metrics { metricId variants { variant n sum sumOfSquares } } } } }";

const AUDIT: &str = "query($key: String!, $type: RelatedObjectType) { environment(key: $key) { auditLogs(first: 50, relatedObjectType: $type) { totalCount edges { node { action relatedObjectType relatedObjectId log changes } } } } }";

/// Two control identities and one treatment identity, each with purchases.
fn events(s: DateTime<Utc>, prefix: &str) -> Vec<Event> {
    let h = |hours: i64| s + Duration::hours(hours);
    let id = |name: &str| format!("{prefix}{name}");
    vec![
        Event::exposure(ENV, EXPOSURE, FEATURE, &id("c1"), "control", h(1)),
        Event::exposure(ENV, EXPOSURE, FEATURE, &id("c2"), "control", h(1)),
        Event::exposure(ENV, EXPOSURE, FEATURE, &id("t1"), "treatment", h(1)),
        Event::track(ENV, "purchase", &id("c1"), h(2)),
        Event::track(ENV, "purchase", &id("t1"), h(2)),
        Event::track(ENV, "purchase", &id("t1"), h(3)),
    ]
}

async fn snapshots(app: &TestApp, experiment: &str) -> Value {
    app.ok(users::ORG_ADMIN, SNAPSHOTS, json!({ "id": experiment }))
        .await["experiment"]
        .clone()
}

/// The numbers of a results object, without `computedAt`/`frozen`.
fn numbers(results: &Value) -> Value {
    let mut numbers = results.clone();
    if let Some(object) = numbers.as_object_mut() {
        object.remove("computedAt");
        object.remove("frozen");
    }
    numbers
}

db_test_with!(
    completing_freezes_the_results_and_the_warehouse_is_never_asked_again,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        let connection = connect(&app, ENV, &warehouse).await;
        let purchases = metric(
            &app,
            metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
        )
        .await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        attach_as(&app, &experiment, &purchases, "INCREASE", "PRIMARY").await;
        warehouse.insert(&events(s, "")).await;

        let live = results(&app, &experiment).await;
        assert_eq!(live["frozen"], false);
        assert_stats(
            &live,
            &purchases,
            "live",
            &[("control", 2, 1.0, 1.0), ("treatment", 1, 2.0, 4.0)],
        );

        let before = counters(&app).await;
        let completed = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&completed), "OK", "{completed}");
        let after = counters(&app).await;
        assert_eq!(
            (
                after.exposures - before.exposures,
                after.metrics - before.metrics
            ),
            (1, 1),
            "completing computes the snapshot once"
        );

        let frozen = results(&app, &experiment).await;
        assert_eq!(frozen["frozen"], true);
        assert_eq!(
            numbers(&frozen),
            numbers(&live),
            "the snapshot holds the same numbers"
        );
        assert_eq!(
            counters(&app).await,
            after,
            "frozen results do not ask the warehouse"
        );

        // New events, then no connection at all: the frozen results stand.
        warehouse.insert(&events(s, "late-")).await;
        let deleted = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }",
                json!({ "id": connection }),
            )
            .await;
        assert_eq!(code(&deleted), "OK", "{deleted}");
        let again = results(&app, &experiment).await;
        assert_eq!(again, frozen, "unchanged, computedAt included");
        assert_eq!(counters(&app).await, after, "still no warehouse query");

        let read = snapshots(&app, &experiment).await;
        let list = &read["snapshots"];
        assert_eq!(list["totalCount"], 1, "{read}");
        let node = &list["edges"][0]["node"];
        assert_eq!(node["windowStart"], read["startedAt"], "{read}");
        assert_eq!(node["windowEnd"], read["endedAt"], "{read}");
        assert_eq!(node["computedAt"], frozen["computedAt"]);
        assert_eq!(node["results"]["frozen"], true);
        assert_eq!(node["results"]["exposures"], live["exposures"]);
        assert_stats(
            &node["results"],
            &purchases,
            "listed snapshot",
            &[("control", 2, 1.0, 1.0), ("treatment", 1, 2.0, 4.0)],
        );
        assert_eq!(counters(&app).await, after);
    }
);

db_test_with!(
    refresh_results_snapshots_a_running_experiment_once_per_interval_for_admins,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let purchases = metric(
            &app,
            metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
        )
        .await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        attach_as(&app, &experiment, &purchases, "INCREASE", "PRIMARY").await;
        warehouse.insert(&events(s, "")).await;
        let refresh = |user: &'static str, id: String| {
            let app = &app;
            async move { app.gql(user, REFRESH, json!({ "id": id })).await }
        };

        // Not started yet: nothing to snapshot.
        let banner = app
            .feature(&world.project_a, "banner", "control:50,treatment:50")
            .await;
        let created = created_experiment(&app, ENV, &banner, "Banner", None).await;
        let body = refresh(users::ORG_ADMIN, created.clone()).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "experimentId", "{body}");

        // Who may refresh: not a viewer; an outsider does not see the experiment.
        for (user, expected) in [
            (users::ENV_VIEWER, "FORBIDDEN"),
            (users::PROJECT_VIEWER, "FORBIDDEN"),
            (users::OUTSIDER, "NOT_FOUND"),
            (users::OTHER_ORG_ADMIN, "NOT_FOUND"),
        ] {
            let body = refresh(user, experiment.clone()).await;
            assert_eq!(code(&body), expected, "{user}: {body}");
        }

        let body = refresh(users::ENV_ADMIN, experiment.clone()).await;
        assert_eq!(code(&body), "OK", "{body}");
        let snapshot = body["data"]["refreshResults"].clone();
        assert_eq!(snapshot["results"]["frozen"], true);
        assert_eq!(
            exposures(&snapshot["results"]),
            [("control".to_owned(), 2), ("treatment".to_owned(), 1)]
        );
        assert_stats(
            &snapshot["results"],
            &purchases,
            "refreshed",
            &[("control", 2, 1.0, 1.0), ("treatment", 1, 2.0, 4.0)],
        );
        let window_start =
            DateTime::parse_from_rfc3339(snapshot["windowStart"].as_str().expect("windowStart"))
                .expect("RFC 3339");
        assert_eq!(window_start, s, "the window starts at the (moved) start");

        let body = refresh(users::ORG_ADMIN, experiment.clone()).await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "a second refresh within the interval: {body}"
        );

        // The experiment's own results stay live; the snapshot is listed.
        assert_eq!(results(&app, &experiment).await["frozen"], false);
        let read = snapshots(&app, &experiment).await;
        assert_eq!(read["snapshots"]["totalCount"], 1, "{read}");
        assert_eq!(read["snapshots"]["edges"][0]["node"]["id"], snapshot["id"]);

        let audit = app
            .ok(
                users::ENV_VIEWER,
                AUDIT,
                json!({ "key": ENV, "type": "RESULT_SNAPSHOT" }),
            )
            .await;
        let entries = &audit["environment"]["auditLogs"];
        assert_eq!(entries["totalCount"], 1, "{audit}");
        let entry = &entries["edges"][0]["node"];
        assert_eq!(entry["action"], "CREATED");
        assert_eq!(entry["relatedObjectType"], "RESULT_SNAPSHOT");
        assert_eq!(entry["relatedObjectId"], snapshot["id"]);

        // Completed: frozen for good; the completion's snapshot is the newest.
        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "OK", "{body}");
        let body = refresh(users::ORG_ADMIN, experiment.clone()).await;
        assert_eq!(code(&body), "CONFLICT", "completed: {body}");
        let read = snapshots(&app, &experiment).await;
        assert_eq!(read["snapshots"]["totalCount"], 2, "{read}");
        let newest = &read["snapshots"]["edges"][0]["node"];
        assert_eq!(
            read["snapshots"]["edges"][1]["node"]["id"], snapshot["id"],
            "newest first"
        );
        assert_eq!(newest["windowEnd"], read["endedAt"]);
        let frozen = results(&app, &experiment).await;
        assert_eq!(frozen["frozen"], true);
        assert_eq!(
            frozen["computedAt"], newest["computedAt"],
            "results read the newest snapshot"
        );
    }
);

db_test_with!(
    an_absurd_event_value_gives_null_sums_and_the_frozen_snapshot_still_reads,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let revenue = metric(
            &app,
            metric_of(
                ENV,
                "Revenue",
                "SUM",
                json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" } }),
            ),
        )
        .await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        attach_as(&app, &experiment, &revenue, "INCREASE", "PRIMARY").await;
        let at = s + Duration::hours(2);
        let mut events = events(s, "");
        // 1e200² overflows a 64-bit float: the treatment's sum of squares is infinite.
        events.push(Event::track(ENV, "purchase", "t1", at).value("1e200"));
        warehouse.insert(&events).await;

        let live = results(&app, &experiment).await;
        let treatment = variant_stats(metric_results(&live, &revenue), "treatment").clone();
        assert_eq!(treatment["sumOfSquares"], Value::Null, "{live:#}");
        assert_eq!(number(&treatment["sum"]), 1e200);

        let completed = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&completed), "OK", "{completed:#}");
        let frozen = results(&app, &experiment).await;
        assert_eq!(frozen["frozen"], true);
        assert_eq!(numbers(&frozen), numbers(&live));
        assert_eq!(
            snapshots(&app, &experiment).await["snapshots"]["totalCount"],
            1
        );
    }
);

db_test_with!(
    a_snapshot_of_an_unknown_format_version_is_an_internal_error,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};

        let world = app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let (experiment, s) = started_experiment(&app, ENV, &world.feature, "Checkout", None).await;
        warehouse.insert(&events(s, "")).await;
        let body = app
            .gql(users::ORG_ADMIN, REFRESH, json!({ "id": experiment }))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let snapshot = body["data"]["refreshResults"]["id"]
            .as_str()
            .expect("snapshot id")
            .to_owned();
        let read = snapshots(&app, &experiment).await;
        assert_eq!(
            read["snapshots"]["totalCount"], 1,
            "the current version reads: {read}"
        );

        // The same payload, stamped with a format this lift does not know.
        let backend = app.db.get_database_backend();
        let (select, update) = match backend {
            DbBackend::Postgres => (
                "SELECT payload FROM metric_result_snapshots WHERE id = $1",
                "UPDATE metric_result_snapshots SET payload = $1 WHERE id = $2",
            ),
            _ => (
                "SELECT payload FROM metric_result_snapshots WHERE id = ?",
                "UPDATE metric_result_snapshots SET payload = ? WHERE id = ?",
            ),
        };
        let row = app
            .db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                select,
                [snapshot.clone().into()],
            ))
            .await
            .expect("read the snapshot")
            .expect("the snapshot row");
        let mut payload: Value = row.try_get("", "payload").expect("a JSON payload");
        assert_eq!(payload["version"], 2, "{payload}");
        payload["version"] = json!(3);
        app.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                update,
                [payload.into(), snapshot.into()],
            ))
            .await
            .expect("rewrite the payload");

        let body = app
            .gql(users::ORG_ADMIN, SNAPSHOTS, json!({ "id": experiment }))
            .await;
        assert_eq!(code(&body), "INTERNAL", "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            !message.contains("version"),
            "the cause is logged, not sent: {message}"
        );
        assert!(healthy(&app).await);
    }
);
