//! A warehouse that is missing, closed, failing or hung: results fail with
//! WAREHOUSE_NOT_CONFIGURED or WAREHOUSE_UNAVAILABLE (within the configured timeout), the probe
//! reports `reachable: false`, and the server keeps answering.

use std::time::Duration;

use serde_json::{json, Value};

use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

const SNAPSHOT_COUNT: &str =
    "query($id: ID!) { experiment(id: $id) { status snapshots { totalCount } } }";

/// An address where nothing listens (a port just released).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// A server that accepts connections and never answers; it lives as long as the test's runtime.
async fn silent_server_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    url
}

async fn started_with_metric(app: &TestApp, world: &World) -> String {
    let purchases = metric(
        app,
        metric_of(ENV, "Purchases", "COUNT", json!({ "event": "purchase" })),
    )
    .await;
    let (experiment, _) = started_experiment(app, ENV, &world.feature, "Checkout", None).await;
    attach_as(app, &experiment, &purchases, "INCREASE", "PRIMARY").await;
    experiment
}

async fn assert_results_fail(app: &TestApp, experiment: &str, expected: &str) {
    for selection in [
        "exposures { variant identities }",
        "metrics { metricId }",
        "srm { mismatch }",
    ] {
        let body = results_as(app, users::ORG_ADMIN, experiment, selection).await;
        assert_eq!(code(&body), expected, "{selection}: {body}");
    }
}

db_test!(without_a_warehouse_results_are_not_configured, |app| {
    let world = app.world().await;
    let experiment = started_with_metric(&app, &world).await;
    assert_results_fail(&app, &experiment, "WAREHOUSE_NOT_CONFIGURED").await;
    let body = app
        .gql(
            users::ORG_ADMIN,
            "mutation($id: ID!) { refreshResults(experimentId: $id) { id } }",
            json!({ "id": experiment }),
        )
        .await;
    assert_eq!(code(&body), "WAREHOUSE_NOT_CONFIGURED", "{body}");
    // Completing still works; there is just nothing to freeze.
    let body = app.lifecycle("completeExperiment", &experiment).await;
    assert_eq!(code(&body), "OK", "{body}");
    let read = app
        .ok(
            users::ORG_ADMIN,
            SNAPSHOT_COUNT,
            json!({ "id": experiment }),
        )
        .await;
    assert_eq!(read["experiment"]["snapshots"]["totalCount"], 0, "{read}");
});

db_test_with!(
    a_closed_port_or_a_missing_table_is_unavailable_and_the_probe_says_so,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let experiment = started_with_metric(&app, &world).await;
        let connection = connect_to(&app, ENV, &closed_port_url(), "default", "events").await;
        assert_results_fail(&app, &experiment, "WAREHOUSE_UNAVAILABLE").await;

        let body = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { testWarehouseConnection(id: $id) { reachable exposureEvents hasExposureEvents message } }",
                json!({ "id": connection }),
            )
            .await;
        assert_eq!(
            code(&body),
            "OK",
            "an unreachable warehouse is a report: {body}"
        );
        let report = &body["data"]["testWarehouseConnection"];
        assert_eq!(report["reachable"], false, "{report}");
        assert_eq!(report["exposureEvents"], 0);
        assert_eq!(report["hasExposureEvents"], false);
        assert!(
            report["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{report}"
        );

        // Completing needs the results it freezes: it fails and changes nothing.
        let body = app.lifecycle("completeExperiment", &experiment).await;
        assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
        let read = app
            .ok(
                users::ORG_ADMIN,
                SNAPSHOT_COUNT,
                json!({ "id": experiment }),
            )
            .await;
        assert_eq!(read["experiment"]["status"], "RUNNING", "{read}");

        // A reachable ClickHouse whose table does not exist fails the same way.
        app.ok(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }",
            json!({ "id": connection }),
        )
        .await;
        let warehouse = Warehouse::create().await;
        connect_to(
            &app,
            ENV,
            &warehouse.url,
            &warehouse.database,
            "no_such_table",
        )
        .await;
        assert_results_fail(&app, &experiment, "WAREHOUSE_UNAVAILABLE").await;
        assert!(healthy(&app).await);
    }
);

db_test_with!(
    the_server_default_warehouse_is_used_when_an_environment_has_none,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.clickhouse_url = Some(closed_port_url());
    },
    |app| {
        let world = app.world().await;
        let experiment = started_with_metric(&app, &world).await;
        assert_results_fail(&app, &experiment, "WAREHOUSE_UNAVAILABLE").await;
    }
);

db_test_with!(
    a_warehouse_that_never_answers_times_out_and_the_server_stays_up,
    |settings| {
        local_engine(&mut settings);
        settings.clickhouse.clickhouse_timeout_seconds = 1;
    },
    |app| {
        let world = app.world().await;
        let experiment = started_with_metric(&app, &world).await;
        connect_to(&app, ENV, &silent_server_url().await, "default", "events").await;
        let request = results_as(
            &app,
            users::ORG_ADMIN,
            &experiment,
            "exposures { identities } metrics { metricId }",
        );
        // The test client gives up after 30 s; the server must answer well before that.
        let body = tokio::time::timeout(Duration::from_secs(25), request)
            .await
            .expect("the results request returns despite a hung warehouse");
        assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
        assert!(healthy(&app).await, "/health still answers");
        let data = app
            .ok(
                users::ORG_ADMIN,
                "query($id: ID!) { experiment(id: $id) { status } }",
                json!({ "id": experiment }),
            )
            .await;
        assert_eq!(data["experiment"]["status"], "RUNNING");
    }
);

// A failed nullable field is present and `null` (async-graphql alone would leave it out of its
// parent), its siblings are answered, and its error carries its path and location.
db_test!(a_failed_nullable_field_is_null_beside_its_siblings, |app| {
    let world = app.world().await;
    let experiment = started_with_metric(&app, &world).await;
    let query = "query($id: ID!) { viewer { email } missing: experiment(id: \"01a2b3c4-0000-7000-8000-000000000000\") { id } experiment(id: $id) { status results { srm { mismatch } } } }";
    let body = app
        .gql(users::ORG_ADMIN, query, json!({ "id": experiment }))
        .await;
    let data = body["data"].as_object().expect("data is an object");
    assert_eq!(data.get("missing"), Some(&Value::Null), "{body}");
    assert_eq!(data["viewer"]["email"], users::ORG_ADMIN, "{body}");
    assert_eq!(data["experiment"]["status"], "RUNNING", "{body}");
    let experiment_fields = data["experiment"].as_object().expect("an object");
    assert_eq!(
        experiment_fields.get("results"),
        Some(&Value::Null),
        "{body}"
    );

    let errors = body["errors"].as_array().expect("errors");
    let error_at = |path: Value| {
        errors
            .iter()
            .find(|e| e["path"] == path)
            .unwrap_or_else(|| panic!("an error at {path}: {body}"))
    };
    let missing = error_at(json!(["missing"]));
    assert_eq!(missing["extensions"]["code"], "NOT_FOUND", "{body}");
    let column = query.find("missing:").expect("in the query") + 1;
    assert_eq!(
        missing["locations"],
        json!([{ "line": 1, "column": column }]),
        "{body}"
    );
    let results = error_at(json!(["experiment", "results"]));
    assert_eq!(
        results["extensions"]["code"], "WAREHOUSE_NOT_CONFIGURED",
        "{body}"
    );
    assert_eq!(errors.len(), 2, "{body}");
});
