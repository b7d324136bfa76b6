//! Editing metrics: names and descriptions change in place, a change of what a metric measures
//! makes its next version (the same values make none), a refused edit writes nothing, versions are
//! listed newest first in pages, every edit writes one audit entry with its diff, and only the
//! environment's admins may edit (others: FORBIDDEN; who cannot see it: NOT_FOUND).

use super::*;

const UPDATE: &str = "mutation($id: ID!, $input: UpdateMetricInput!) { updateMetric(id: $id, input: $input) { id name description metricType aggregation direction version definition { event value { source property } } } }";

const VERSIONS: &str = "query($id: ID!, $first: Int, $after: String) { metric(id: $id) { version versions(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { version metricType aggregation direction createdAt definition { event value { source property } } } } } } }";

const METRIC_AUDIT: &str = "query { environment(key: \"prod\") { auditLogs(first: 50, relatedObjectType: METRIC) { totalCount edges { node { action relatedObjectId log changes } } } } }";

async fn update(app: &TestApp, user: &str, id: &str, input: Value) -> Value {
    app.gql(user, UPDATE, json!({ "id": id, "input": input }))
        .await
}

/// `(current version, [versions newest first])` of a metric.
async fn versions(app: &TestApp, id: &str) -> (u64, Vec<u64>) {
    let data = app
        .ok(
            users::ORG_ADMIN,
            VERSIONS,
            json!({ "id": id, "first": 100 }),
        )
        .await;
    let metric = &data["metric"];
    let listed: Vec<u64> = metric["versions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["version"].as_u64().expect("version"))
        .collect();
    assert_eq!(metric["versions"]["totalCount"], listed.len(), "{data}");
    (metric["version"].as_u64().expect("version"), listed)
}

/// The METRIC audit entries, newest first.
async fn metric_audit(app: &TestApp) -> Vec<Value> {
    let data = app.ok(users::ORG_ADMIN, METRIC_AUDIT, json!({})).await;
    data["environment"]["auditLogs"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

db_test!(
    names_change_in_place_and_what_a_metric_measures_makes_a_version,
    |app| {
        app.world().await;
        let id = app.metric(ENV, "Views").await;
        assert_eq!(versions(&app, &id).await, (1, vec![1]));

        let renamed = update(
            &app,
            users::ORG_ADMIN,
            &id,
            json!({"name": " Page views ", "description": "every view"}),
        )
        .await;
        assert_eq!(code(&renamed), "OK", "{renamed}");
        let metric = &renamed["data"]["updateMetric"];
        assert_eq!(
            (&metric["name"], &metric["description"], &metric["version"]),
            (&json!("Page views"), &json!("every view"), &json!(1))
        );
        assert_eq!(versions(&app, &id).await, (1, vec![1]), "no new version");

        let changed = update(
            &app,
            users::ORG_ADMIN,
            &id,
            json!({"definition": {"event": "screen_view"}}),
        )
        .await;
        assert_eq!(code(&changed), "OK", "{changed}");
        assert_eq!(changed["data"]["updateMetric"]["version"], 2);
        assert_eq!(
            changed["data"]["updateMetric"]["definition"]["event"],
            "screen_view"
        );
        assert_eq!(versions(&app, &id).await, (2, vec![2, 1]));

        // The same values again (the event with spaces parses to the same): nothing new.
        let same = update(
            &app,
            users::ORG_ADMIN,
            &id,
            json!({"metricType": "NUMERIC", "aggregation": "COUNT", "direction": "UP",
               "definition": {"event": " screen_view "}}),
        )
        .await;
        assert_eq!(code(&same), "OK", "{same}");
        assert_eq!(versions(&app, &id).await, (2, vec![2, 1]));

        // Direction, and type with aggregation and value source together, each make one.
        let down = update(&app, users::ORG_ADMIN, &id, json!({"direction": "DOWN"})).await;
        assert_eq!(down["data"]["updateMetric"]["version"], 3, "{down}");
        let sum = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"aggregation": "SUM", "definition": {"event": "order", "value": {"source": "EVENT_VALUE"}}}),
    )
    .await;
        assert_eq!(sum["data"]["updateMetric"]["version"], 4, "{sum}");
        assert_eq!(versions(&app, &id).await, (4, vec![4, 3, 2, 1]));

        // Each version keeps what it measured.
        let data = app
            .ok(
                users::ORG_ADMIN,
                VERSIONS,
                json!({ "id": id, "first": 100 }),
            )
            .await;
        let nodes: Vec<Value> = data["metric"]["versions"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                let n = &e["node"];
                json!([
                    n["aggregation"],
                    n["direction"],
                    n["definition"]["event"],
                    n["definition"]["value"]
                ])
            })
            .collect();
        assert_eq!(
            nodes,
            vec![
                json!(["SUM", "DOWN", "order", {"source": "EVENT_VALUE", "property": null}]),
                json!(["COUNT", "DOWN", "screen_view", null]),
                json!(["COUNT", "UP", "screen_view", null]),
                json!(["COUNT", "UP", "page_view", null]),
            ]
        );
    }
);

db_test!(a_refused_edit_writes_nothing, |app| {
    app.world().await;
    let id = app.metric(ENV, "Views").await;
    app.metric(ENV, "Orders").await;
    let audit_before = metric_audit(&app).await.len();

    // SUM needs a value source the COUNT metric does not have: checked like a new metric.
    let invalid = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"aggregation": "SUM", "name": "Renamed"}),
    )
    .await;
    assert_eq!(code(&invalid), "BAD_USER_INPUT", "{invalid}");
    assert_eq!(field(&invalid), "definition.value");
    let empty = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"definition": {"event": "  "}}),
    )
    .await;
    assert_eq!(
        (code(&empty), field(&empty)),
        ("BAD_USER_INPUT".into(), "definition.event".into())
    );
    // A live metric's name, in any case: CONFLICT.
    let taken = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"name": "Orders", "direction": "DOWN"}),
    )
    .await;
    assert_eq!(code(&taken), "CONFLICT", "{taken}");

    assert_eq!(versions(&app, &id).await, (1, vec![1]));
    let metric = app
        .ok(
            users::ORG_ADMIN,
            "query($id: ID!) { metric(id: $id) { name aggregation direction } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(
        metric["metric"],
        json!({"name": "Views", "aggregation": "COUNT", "direction": "UP"})
    );
    assert_eq!(metric_audit(&app).await.len(), audit_before, "no audit row");
});

db_test!(versions_are_listed_newest_first_in_pages, |app| {
    app.world().await;
    let id = app.metric(ENV, "Views").await;
    for event in ["a", "b", "c", "d"] {
        let body = update(
            &app,
            users::ORG_ADMIN,
            &id,
            json!({"definition": {"event": event}}),
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
    }
    let page = |after: Option<String>| {
        let app = &app;
        let id = id.clone();
        async move {
            app.ok(
                users::ORG_ADMIN,
                VERSIONS,
                json!({"id": id, "first": 2, "after": after}),
            )
            .await["metric"]["versions"]
                .clone()
        }
    };
    let events = |page: &Value| -> Vec<(u64, String)> {
        page["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| {
                (
                    e["node"]["version"].as_u64().expect("version"),
                    e["node"]["definition"]["event"]
                        .as_str()
                        .expect("event")
                        .to_owned(),
                )
            })
            .collect()
    };
    let first = page(None).await;
    assert_eq!(first["totalCount"], 5);
    assert_eq!(events(&first), vec![(5, "d".into()), (4, "c".into())]);
    assert_eq!(first["pageInfo"]["hasNextPage"], true);
    let second = page(first["pageInfo"]["endCursor"].as_str().map(str::to_owned)).await;
    assert_eq!(events(&second), vec![(3, "b".into()), (2, "a".into())]);
    let third = page(second["pageInfo"]["endCursor"].as_str().map(str::to_owned)).await;
    assert_eq!(events(&third), vec![(1, "page_view".into())]);
    assert_eq!(third["pageInfo"]["hasNextPage"], false);

    let bad = app
        .gql(
            users::ORG_ADMIN,
            VERSIONS,
            json!({"id": id, "after": "not-a-cursor"}),
        )
        .await;
    assert_eq!(
        (code(&bad), field(&bad)),
        ("BAD_USER_INPUT".into(), "after".into())
    );
});

db_test!(each_edit_writes_one_audit_entry_with_its_diff, |app| {
    app.world().await;
    let id = app.metric(ENV, "Views").await;
    let before = metric_audit(&app).await.len();

    let body = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"name": "Screen views", "definition": {"event": "screen_view"}}),
    )
    .await;
    assert_eq!(code(&body), "OK", "{body}");
    let entries = metric_audit(&app).await;
    assert_eq!(entries.len(), before + 1, "one entry per update");
    let entry = &entries[0];
    assert_eq!(entry["action"], "UPDATED");
    assert_eq!(entry["relatedObjectId"], id);
    assert!(
        entry["log"].as_str().expect("log").contains("version 2"),
        "{entry}"
    );
    assert_eq!(
        entry["changes"],
        json!({
            "before": {"name": "Views", "definition": {"event": "page_view"}, "version": 1},
            "after": {"name": "Screen views", "definition": {"event": "screen_view"}, "version": 2},
        })
    );

    let body = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"description": "all screens"}),
    )
    .await;
    assert_eq!(code(&body), "OK", "{body}");
    let entries = metric_audit(&app).await;
    assert_eq!(entries.len(), before + 2);
    assert_eq!(
        entries[0]["changes"],
        json!({"before": {"description": ""}, "after": {"description": "all screens"}})
    );
});

db_test!(only_the_environments_admins_edit_metrics, |app| {
    app.world().await;
    let id = app.metric(ENV, "Views").await;
    let input = json!({"name": "Mine", "direction": "DOWN"});
    for (user, expected) in [
        (users::ENV_VIEWER, "FORBIDDEN"),
        (users::PROJECT_VIEWER, "FORBIDDEN"),
        (users::OUTSIDER, "NOT_FOUND"),
        (users::OTHER_ORG_ADMIN, "NOT_FOUND"),
    ] {
        let body = update(&app, user, &id, input.clone()).await;
        assert_eq!(code(&body), expected, "{user}: {body}");
    }
    assert_eq!(versions(&app, &id).await, (1, vec![1]));
    let body = update(&app, users::ENV_ADMIN, &id, input).await;
    assert_eq!(code(&body), "OK", "{body}");
    assert_eq!(body["data"]["updateMetric"]["version"], 2);

    let deleted = app
        .gql(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteMetric(id: $id) { id } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(code(&deleted), "OK", "{deleted}");
    let gone = update(&app, users::ORG_ADMIN, &id, json!({"name": "Back"})).await;
    assert_eq!(
        code(&gone),
        "NOT_FOUND",
        "a deleted metric cannot be edited"
    );
});

db_test!(concurrent_edits_each_take_the_next_version, |app| {
    app.world().await;
    let id = app.metric(ENV, "Views").await;
    let edits = (0..8).map(|i| {
        let app = &app;
        let id = id.clone();
        async move {
            update(
                app,
                users::ORG_ADMIN,
                &id,
                json!({"definition": {"event": format!("e{i}")}}),
            )
            .await
        }
    });
    let bodies = futures_util::future::join_all(edits).await;
    let codes: Vec<String> = bodies.iter().map(code).collect();
    assert!(
        codes.iter().all(|c| c == "OK" || c == "CONFLICT"),
        "every edit succeeds or conflicts: {codes:?}"
    );
    // Each edit waits for the row lock of the one before, so each takes the next number.
    let succeeded = codes.iter().filter(|c| *c == "OK").count() as u64;
    assert_eq!(succeeded, 8, "{codes:?}");
    let (current, listed) = versions(&app, &id).await;
    assert_eq!(current, 1 + succeeded, "{codes:?}");
    assert_eq!(listed, (1..=current).rev().collect::<Vec<_>>());
});

db_test!(
    a_version_number_taken_already_is_a_conflict_not_an_internal_error,
    |app| {
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        app.world().await;
        let id = app.metric(ENV, "Views").await;
        // What a concurrent edit that got past the row lock would have written: version 2.
        let backend = app.db.get_database_backend();
        let sql = match backend {
        DbBackend::Postgres => "INSERT INTO metric_versions (metric_id, version, metric_type, aggregation, direction, definition, created_at) SELECT id, 2, metric_type, aggregation, direction, definition, created_at FROM metrics WHERE id = $1",
        _ => "INSERT INTO metric_versions (metric_id, version, metric_type, aggregation, direction, definition, created_at) SELECT id, 2, metric_type, aggregation, direction, definition, created_at FROM metrics WHERE id = ?",
    };
        app.db
            .execute_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [id.clone().into()],
            ))
            .await
            .expect("insert version 2");
        let audit_before = metric_audit(&app).await.len();

        let body = update(
            &app,
            users::ORG_ADMIN,
            &id,
            json!({"definition": {"event": "screen_view"}}),
        )
        .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        let metric = app
            .ok(
                users::ORG_ADMIN,
                "query($id: ID!) { metric(id: $id) { version definition { event } } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(
            metric["metric"],
            json!({"version": 1, "definition": {"event": "page_view"}})
        );
        assert_eq!(metric_audit(&app).await.len(), audit_before);
    }
);

db_test!(a_metric_may_change_kind_in_a_new_version, |app| {
    app.world().await;
    let id = app.metric(ENV, "Orders").await;
    let ratio = json!({
        "metricType": "RATIO", "aggregation": "RATIO",
        "definition": {
            "numerator": {"event": "purchase", "aggregation": "SUM", "value": {"source": "EVENT_VALUE"}},
            "denominator": {"event": "purchase", "aggregation": "COUNT"}
        }
    });
    let body = update(&app, users::ORG_ADMIN, &id, ratio).await;
    assert_eq!(code(&body), "OK", "{body}");
    assert_eq!(body["data"]["updateMetric"]["version"], 2);
    let data = app
        .ok(
            users::ORG_ADMIN,
            "query($id: ID!) { metric(id: $id) { versions { edges { node { version metricType aggregation definition { event numerator { event aggregation } denominator { event aggregation } } } } } } }",
            json!({"id": id}),
        )
        .await;
    let nodes: Vec<&Value> = data["metric"]["versions"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| &e["node"])
        .collect();
    assert_eq!(
        nodes,
        [
            &json!({"version": 2, "metricType": "RATIO", "aggregation": "RATIO", "definition": {
                "event": null,
                "numerator": {"event": "purchase", "aggregation": "SUM"},
                "denominator": {"event": "purchase", "aggregation": "COUNT"}}}),
            &json!({"version": 1, "metricType": "NUMERIC", "aggregation": "COUNT", "definition": {
                "event": "page_view", "numerator": null, "denominator": null}}),
        ]
    );
    // A RATIO without its parts is refused like a new one would be; nothing is written.
    let body = update(
        &app,
        users::ORG_ADMIN,
        &id,
        json!({"definition": {"event": "purchase"}}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(versions(&app, &id).await, (2, vec![2, 1]));
});
