//! What an operator reads: the request id round trip, and `/metrics` — who may read it, GraphQL
//! requests by operation and outcome with their latency, warehouse query durations by target,
//! database pool usage and live subscribers.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;
use crate::ws::{Protocol, WsClient};

async fn health_with_id(app: &TestApp, id: Option<&str>) -> Option<String> {
    let mut request = reqwest::Client::new().get(format!("{}/health", app.address));
    if let Some(id) = id {
        request = request.header("x-request-id", id);
    }
    let response = request.send().await.expect("GET /health");
    assert!(response.status().is_success());
    response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn is_uuid_v7(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|u| u.get_version_num() == 7)
}

db_test!(a_request_id_is_returned_as_sent_or_generated, |app| {
    assert_eq!(
        health_with_id(&app, Some("probe-42.a_b")).await.as_deref(),
        Some("probe-42.a_b")
    );
    let generated = health_with_id(&app, None).await.expect("an id");
    assert!(is_uuid_v7(&generated), "{generated}");
    let too_long = "x".repeat(129);
    let replaced = health_with_id(&app, Some(&too_long)).await.expect("an id");
    assert!(is_uuid_v7(&replaced), "{replaced}");
});

async fn scrape(app: &TestApp, authorization: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/metrics", app.address));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.expect("GET /metrics")
}

async fn metrics_text(app: &TestApp) -> String {
    let response = scrape(app, None).await;
    assert!(response.status().is_success(), "{}", response.status());
    response.text().await.expect("text")
}

/// The value of the series line that starts with `series` (name and labels as rendered).
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

db_test_with!(
    with_a_metrics_token_only_its_bearer_reads_metrics,
    |settings| {
        settings.server.metrics_token = Some("scrape-secret".into());
    },
    |app| {
        assert_eq!(scrape(&app, None).await.status(), 401);
        assert_eq!(
            scrape(&app, Some("Bearer wrong-secret")).await.status(),
            401
        );
        let allowed = scrape(&app, Some("Bearer scrape-secret")).await;
        assert_eq!(allowed.status(), 200);
        let text = allowed.text().await.expect("text");
        assert!(text.contains("lift_audit_tails"), "{text}");
    }
);

db_test!(without_a_metrics_token_metrics_are_open, |app| {
    assert_eq!(scrape(&app, None).await.status(), 200);
});

db_test!(
    graphql_requests_are_counted_by_operation_and_outcome_with_their_latency,
    |app| {
        app.world().await;
        let who = "query WhoAmI { viewer { email } }";
        let anonymous = app.post(None, who, json!({})).await;
        assert_eq!(code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
        app.ok(users::ORG_ADMIN, who, json!({})).await;
        app.ok(users::ORG_ADMIN, who, json!({})).await;
        let broken = app.post(None, "{ viewer {", json!({})).await;
        assert_eq!(code(&broken), "BAD_USER_INPUT");

        let text = metrics_text(&app).await;
        let series =
            |labels: &str| value(&text, &format!("lift_graphql_requests_total{{{labels}}}"));
        assert_eq!(
            series(r#"operation="WhoAmI",outcome="ok""#),
            Some(2.0),
            "{text}"
        );
        assert_eq!(
            series(r#"operation="WhoAmI",outcome="UNAUTHENTICATED""#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            series(r#"operation="anonymous",outcome="BAD_USER_INPUT""#),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(
                &text,
                r#"lift_graphql_request_duration_seconds_count{operation="WhoAmI"}"#
            ),
            Some(3.0),
            "{text}"
        );
        assert!(
            text.contains(
                r#"lift_graphql_request_duration_seconds_bucket{operation="WhoAmI",le="0.25"}"#
            ),
            "{text}"
        );
        // The gauges are read when scraped: a connection the audit tail or the PostgreSQL
        // listener holds at that instant is in use, so wait (briefly) for one to be idle.
        let mut text = text;
        for _ in 0..50 {
            let idle = value(&text, r#"lift_db_pool_connections{state="idle"}"#);
            if idle.is_some_and(|n| n >= 1.0) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            text = metrics_text(&app).await;
        }
        let in_use = value(&text, r#"lift_db_pool_connections{state="in_use"}"#);
        let idle = value(&text, r#"lift_db_pool_connections{state="idle"}"#);
        assert!(in_use.is_some() && idle.is_some_and(|n| n >= 1.0), "{text}");
        assert!(
            value(&text, "lift_db_pool_max_connections").is_some_and(|n| n >= 1.0),
            "{text}"
        );
    }
);

/// An address where nothing listens (a port just released).
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

db_test_with!(
    warehouse_query_durations_are_labelled_by_kind_target_and_outcome,
    |settings| {
        settings.clickhouse.clickhouse_url = Some(closed_port_url());
    },
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        assert_eq!(
            code(&app.lifecycle("startExperiment", &experiment).await),
            "OK"
        );
        let body = app
            .gql(
                users::ORG_ADMIN,
                "query($id: ID!) { experiment(id: $id) { results { exposures { variant identities } } } }",
                json!({"id": experiment}),
            )
            .await;
        assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
        let text = metrics_text(&app).await;
        assert_eq!(
            value(
                &text,
                r#"lift_warehouse_query_duration_seconds_count{query="exposures",target="default",outcome="error"}"#
            ),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, r#"lift_warehouse_queries_total{query="exposures"}"#),
            Some(1.0)
        );
        assert!(!text.contains("127.0.0.1"), "no URL in labels: {text}");
    }
);

db_test!(
    live_subscribers_and_audit_delivery_lag_are_measured,
    |app| {
        app.world().await;
        let mut client =
            WsClient::connect(&app.address, Protocol::Transport, users::ORG_ADMIN).await;
        client.subscribe_audit("s1", ENV, None).await;
        // The server counts the subscription as soon as it holds a receiver.
        let mut subscribers = None;
        for _ in 0..100 {
            subscribers = value(&metrics_text(&app).await, "lift_audit_subscribers");
            if subscribers == Some(1.0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(subscribers, Some(1.0));
        assert!(
            client.delivers_while_writing(&app, ENV).await,
            "the subscription never delivered"
        );
        let text = metrics_text(&app).await;
        assert!(
            value(&text, "lift_audit_delivery_lag_seconds_count").is_some_and(|n| n >= 1.0),
            "{text}"
        );
        client.close().await;
    }
);

db_test!(
    sqlite_memory_is_shown_only_when_the_database_is_sqlite,
    |app| {
        app.world().await;
        let text = metrics_text(&app).await;
        let bytes = value(&text, "lift_sqlite_memory_bytes");
        match app.db.get_database_backend() {
            // At least the schema and one connection's pages, which a world's rows need.
            sea_orm::DbBackend::Sqlite => {
                assert!(bytes.is_some_and(|b| b > 64.0 * 1024.0), "{text}")
            }
            _ => assert_eq!(bytes, None, "{text}"),
        }
    }
);
