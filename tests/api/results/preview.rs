//! `previewMetric`: what a definition would read from the environment's recent events, before it
//! is saved. Every expected number is computed from the test's own event list by the model in
//! `preview_model` (the rules `domain::preview` documents). Also each warning firing and not
//! firing, `days` bounds, definition validation, permissions, nothing stored, a failing warehouse,
//! the `/metrics` count of preview queries, and a two-shard cluster giving one table's numbers.

use chrono::Utc;
use serde_json::{json, Value};

use super::preview_model::*;
use super::support::*;
use crate::clickhouse::Warehouse;
use crate::helpers::*;

const PREVIEW: &str = "query($key: String!, $definition: MetricDefinitionInput!, $days: Int) { previewMetric(environmentKey: $key, definition: $definition, days: $days) { days matchingEvents identities identitiesInPeriod shareWithValue p50 p90 p99 max warnings { code message property } } }";

async fn preview(app: &TestApp, user: &str, definition: Value, days: Option<i64>) -> Value {
    let mut variables = json!({ "key": ENV, "definition": definition });
    if let Some(days) = days {
        variables["days"] = json!(days);
    }
    app.gql(user, PREVIEW, variables).await
}

/// The preview, failing the test on any error.
async fn preview_ok(app: &TestApp, definition: Value, days: Option<i64>) -> Value {
    let body = preview(app, users::ENV_VIEWER, definition, days).await;
    assert_eq!(code(&body), "OK", "{body:#}");
    body["data"]["previewMetric"].clone()
}

fn pro_or_team(metadata: &Value) -> bool {
    matches!(metadata.get("plan"), Some(Value::String(p)) if p == "pro" || p == "team")
}

fn amount_of_pro_and_team() -> Value {
    json!({
        "event": "purchase",
        "filters": [{ "property": "plan", "op": "IN", "value": { "stringList": ["pro", "team"] } }],
        "value": { "source": "PROPERTY", "property": "amount" },
        // A window is accepted and does not apply.
        "window": { "startSeconds": 0, "endSeconds": 3600 },
    })
}

/// Loads the events `deliveries` times into `warehouse`, connects `ENV` to it, and checks every
/// number of three definitions against the model.
async fn exact_numbers(app: &TestApp, warehouse: Warehouse, deliveries: usize) {
    app.world().await;
    connect(app, ENV, &warehouse).await;
    let now = Utc::now();
    let events = events(now);
    for _ in 0..deliveries {
        warehouse.insert(&events).await;
    }

    // SUM of a property, filtered, over the default week.
    let p = preview_ok(app, amount_of_pro_and_team(), None).await;
    let e = expected(
        &events,
        now,
        7,
        "purchase",
        pro_or_team,
        Source::Property("amount"),
    );
    assert_eq!(p["days"], 7);
    assert_matches(&p, &e, "amount, 7 days");
    // Not vacuous: identities with and without a value, a non-number, interpolated quantiles.
    assert!(e.with_value >= 5 && e.with_value < e.identities, "{e:?}");
    assert!(e.identities < e.identities_in_period, "{e:?}");
    assert_eq!(e.not_numeric, 1, "d's amount");
    assert_eq!(
        warnings(&p),
        [("VALUES_NOT_NUMERIC".to_owned(), Some("amount".to_owned()))]
    );
    let message = p["warnings"][0]["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("1 of the "), "{message}");

    // The same over 30 days reads f's purchase too.
    let p30 = preview_ok(app, amount_of_pro_and_team(), Some(30)).await;
    let e30 = expected(
        &events,
        now,
        30,
        "purchase",
        pro_or_team,
        Source::Property("amount"),
    );
    assert_matches(&p30, &e30, "amount, 30 days");
    assert!(e30.matching_events > e.matching_events);
    assert_eq!(e30.max, Some(1000.0));

    // COUNT without filters: every purchase counts; no warning.
    let count = json!({ "event": "purchase" });
    let p = preview_ok(app, count, Some(14)).await;
    let e = expected(&events, now, 14, "purchase", |_| true, Source::None);
    assert_matches(&p, &e, "count, 14 days");
    assert_eq!(e.with_value, e.identities);
    assert_eq!(warnings(&p), []);

    // The event's own value: "n/a" and "" are present / absent as the property was.
    let value = json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" } });
    let p = preview_ok(app, value, Some(7)).await;
    let e = expected(&events, now, 7, "purchase", |_| true, Source::EventValue);
    assert_matches(&p, &e, "event value, 7 days");
    assert_eq!(warnings(&p), [("VALUES_NOT_NUMERIC".to_owned(), None)]);
}

db_test_with!(
    a_preview_gives_the_exact_numbers_of_its_event_list,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create_deduplicating().await, 1).await;
    }
);

db_test_with!(
    on_a_plain_table_every_event_delivered_twice_is_read_once,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        exact_numbers(&app, Warehouse::create().await, 2).await;
    }
);

db_test_with!(
    each_warning_fires_when_its_rule_is_broken,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let now = Utc::now();
        let events = events(now);
        warehouse.insert(&events).await;

        // An event nobody sends: only NO_EVENTS, even with filters on absent properties.
        let p = preview_ok(
            &app,
            json!({ "event": "checkout_started",
                    "filters": [{ "property": "coupon", "op": "EXISTS" }] }),
            None,
        )
        .await;
        assert_eq!(warnings(&p), [("NO_EVENTS".to_owned(), None)]);
        assert_eq!(p["matchingEvents"], 0);
        assert_eq!(p["shareWithValue"], 0.0);
        assert!(p["p50"].is_null() && p["max"].is_null(), "{p}");
        let e = expected(&events, now, 7, "checkout_started", |_| true, Source::None);
        assert_eq!(
            p["identitiesInPeriod"].as_u64(),
            Some(e.identities_in_period)
        );

        // Properties that never appear on purchases: each named once (a filter's, the value's),
        // and no VALUES_NOT_NUMERIC for a value that is never there.
        let p = preview_ok(
            &app,
            json!({ "event": "purchase",
                    "filters": [
                        { "property": "coupon", "op": "NOT_EXISTS" },
                        { "property": "plan", "op": "EXISTS" },
                        { "property": "coupon", "op": "NEQ", "value": { "string": "x" } }],
                    "value": { "source": "PROPERTY", "property": "price" } }),
            None,
        )
        .await;
        assert_eq!(
            warnings(&p),
            [
                (
                    "PROPERTY_NEVER_PRESENT".to_owned(),
                    Some("coupon".to_owned())
                ),
                (
                    "PROPERTY_NEVER_PRESENT".to_owned(),
                    Some("price".to_owned())
                ),
            ]
        );
        assert_eq!(p["p50"], Value::Null, "no identity has a price");
        assert_eq!(p["shareWithValue"], 0.0);

        // A property that is present and numeric everywhere: no warning at all.
        let p = preview_ok(
            &app,
            json!({ "event": "purchase",
                    "filters": [{ "property": "plan", "op": "EQ", "value": { "string": "team" } }],
                    "value": { "source": "PROPERTY", "property": "amount" } }),
            None,
        )
        .await;
        assert_eq!(warnings(&p), []);
        let team = |m: &Value| m.get("plan") == Some(&json!("team"));
        let e = expected(
            &events,
            now,
            7,
            "purchase",
            team,
            Source::Property("amount"),
        );
        assert_matches(&p, &e, "team amount");
    }
);

db_test_with!(
    days_are_one_to_ninety_and_the_definition_is_checked_like_create_metric,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        let count = json!({ "event": "purchase" });
        for days in [0, -1, 91] {
            let body = preview(&app, users::ENV_VIEWER, count.clone(), Some(days)).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{days}: {body}");
            assert_eq!(field(&body), "days", "{days}");
            assert!(body["data"]["previewMetric"].is_null(), "{body}");
        }
        for days in [1, 90] {
            let p = preview_ok(&app, count.clone(), Some(days)).await;
            assert_eq!(p["days"], days);
        }
        for (definition, expected) in [
            (json!({ "event": "" }), "definition.event"),
            (
                json!({ "event": "purchase",
                        "filters": [{ "property": "plan", "op": "EQ", "value": { "stringList": ["a"] } }] }),
                "definition.filters[0].value",
            ),
            (
                json!({ "event": "purchase", "value": { "source": "PROPERTY" } }),
                "definition.value.property",
            ),
            (
                json!({ "event": "purchase", "window": { "startSeconds": -1 } }),
                "definition.window.startSeconds",
            ),
            // Beyond one event: refused for now, whatever else is right.
            (
                json!({ "steps": [{ "event": "signup" }, { "event": "purchase" }] }),
                "definition",
            ),
            (
                json!({ "numerator": { "event": "purchase", "aggregation": "COUNT" },
                        "denominator": { "event": "signup", "aggregation": "COUNT" } }),
                "definition",
            ),
            (
                json!({ "event": "purchase", "capping": { "kind": "ABSOLUTE", "upper": 10.0 } }),
                "definition",
            ),
        ] {
            let body = preview(&app, users::ENV_VIEWER, definition, None).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
            assert_eq!(field(&body), expected, "{body}");
        }
    }
);

const AUDIT_AND_METRICS: &str = "query($key: String!) { environment(key: $key) { auditLogs(first: 1) { totalCount } metrics(first: 1) { totalCount } } }";

db_test_with!(
    viewers_preview_outsiders_do_not_see_the_environment_and_nothing_is_stored,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        app.world().await;
        let warehouse = Warehouse::create().await;
        connect(&app, ENV, &warehouse).await;
        warehouse.insert(&events(Utc::now())).await;
        let stored = || async {
            app.ok(users::ORG_ADMIN, AUDIT_AND_METRICS, json!({ "key": ENV }))
                .await["environment"]
                .clone()
        };
        let before = stored().await;
        let before_counters = preview_count(&app).await;

        for user in [users::ENV_VIEWER, users::PROJECT_VIEWER, users::ORG_ADMIN] {
            let body = preview(&app, user, amount_of_pro_and_team(), None).await;
            assert_eq!(code(&body), "OK", "{user}: {body}");
        }
        for user in [users::OUTSIDER, users::OTHER_ORG_ADMIN] {
            let body = preview(&app, user, amount_of_pro_and_team(), None).await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            assert!(body["data"]["previewMetric"].is_null());
        }
        let body = app
            .gql(
                users::ORG_ADMIN,
                PREVIEW,
                json!({ "key": "no-such-env", "definition": { "event": "purchase" } }),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");

        // Three previews ran, one warehouse query each, counted as previews; nothing stored.
        assert_eq!(preview_count(&app).await, before_counters + 3);
        let after = stored().await;
        assert_eq!(after, before, "no audit entry, no metric");
        assert_eq!(after["metrics"]["totalCount"], 0);
    }
);

/// `lift_warehouse_queries_total{query="preview"}` of this server.
async fn preview_count(app: &TestApp) -> u64 {
    let body = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let counter = |kind: &str| -> u64 {
        let prefix = format!("lift_warehouse_queries_total{{query=\"{kind}\"}} ");
        body.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in /metrics:\n{body}"))
            .trim()
            .parse()
            .expect("a counter")
    };
    // Results queries are not what a preview runs.
    assert_eq!((counter("metrics"), counter("exposures")), (0, 0));
    counter("preview")
}

db_test_with!(
    without_a_warehouse_a_preview_is_not_configured_and_a_failing_one_is_unavailable,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        app.world().await;
        let body = preview(
            &app,
            users::ENV_VIEWER,
            json!({ "event": "purchase" }),
            None,
        )
        .await;
        assert_eq!(code(&body), "WAREHOUSE_NOT_CONFIGURED", "{body}");

        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let closed = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("address").port()
        );
        drop(listener);
        connect_to(&app, ENV, &closed, "default", "events").await;
        let body = preview(
            &app,
            users::ENV_VIEWER,
            json!({ "event": "purchase" }),
            None,
        )
        .await;
        assert_eq!(code(&body), "WAREHOUSE_UNAVAILABLE", "{body}");
        assert!(body["data"]["previewMetric"].is_null(), "{body}");
        assert!(healthy(&app).await);
    }
);

db_test_with!(
    on_a_two_shard_cluster_a_preview_equals_the_preview_of_one_table,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        use crate::results::cluster::{two_shard_engine, CLUSTER};
        app.world().await;
        let warehouse = Warehouse::create_at(two_shard_engine()).await;
        let db = &warehouse.database;
        // Each shard's "local table" keeps the identities the sharding key sends to it (see
        // cluster.rs); read outside a distributed query it is empty.
        warehouse
            .run(&format!(
                "CREATE VIEW {db}.events_local AS SELECT * FROM {db}.events \
                 WHERE cityHash64(identifier) % 2 + 1 = shardNum()"
            ))
            .await;
        let now = Utc::now();
        let events = events(now);
        warehouse.insert(&events).await;
        let connect = |table: &'static str, cluster: Option<&'static str>| {
            let input = json!({
                "environmentKey": ENV, "url": warehouse.url, "database": warehouse.database,
                "table": table, "cluster": cluster,
            });
            let app = &app;
            async move {
                app.ok(
                    users::ORG_ADMIN,
                    CREATE_CONNECTION,
                    json!({ "input": input }),
                )
                .await["createWarehouseConnection"]["id"]
                    .as_str()
                    .expect("connection id")
                    .to_owned()
            }
        };
        let definitions = [
            amount_of_pro_and_team(),
            json!({ "event": "purchase" }),
            json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" } }),
        ];
        let single = connect("events", None).await;
        let mut on_one_table = Vec::new();
        for definition in &definitions {
            on_one_table.push(preview_ok(&app, definition.clone(), Some(30)).await);
        }
        app.ok(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }",
            json!({ "id": single }),
        )
        .await;
        connect("events_local", Some(CLUSTER)).await;
        for (definition, one_table) in definitions.iter().zip(&on_one_table) {
            let on_cluster = preview_ok(&app, definition.clone(), Some(30)).await;
            assert_eq!(&on_cluster, one_table, "{definition}");
        }
        // Not vacuous: the one-table numbers are the model's.
        let e = expected(
            &events,
            now,
            30,
            "purchase",
            pro_or_team,
            Source::Property("amount"),
        );
        assert_matches(&on_one_table[0], &e, "amount, 30 days, one table");
    }
);
