//! The metric library: every kind of metric round-trips, every definition rule is refused with its
//! field, names are unique among live metrics, soft-deleted metrics disappear everywhere, metrics in
//! use by an active experiment cannot be deleted, and `search` is a literal, case-insensitive match.

use crate::helpers::*;
use serde_json::{json, Value};

const METRIC: &str = "query($id: ID!) { metric(id: $id) { id name description metricType aggregation direction deletedAt environment { key } definition { event filters { property op value { string number boolean stringList numberList } } value { source property } window { startSeconds endSeconds } } attachments { id experiment { id } } } }";

const METRICS: &str = "query($key: String!, $search: String, $first: Int) { environment(key: $key) { metrics(search: $search, first: $first) { totalCount edges { node { id name } } } } }";

const DELETE_METRIC: &str = "mutation($id: ID!) { deleteMetric(id: $id) { id name deletedAt } }";

const EXPERIMENT_METRICS: &str =
    "query($id: ID!) { experiment(id: $id) { id metrics { id metric { id } } } }";

/// The GraphQL output of a filter value: exactly one field set, the others null.
fn filter_value(kind: &str, value: Value) -> Value {
    let mut out = json!({
        "string": null, "number": null, "boolean": null, "stringList": null, "numberList": null
    });
    out[kind] = value;
    out
}

async fn create(app: &TestApp, input: Value) -> Value {
    app.gql(users::ORG_ADMIN, CREATE_METRIC, json!({ "input": input }))
        .await
}

/// `(totalCount, names newest first)` of `env`'s metric library, optionally searched.
async fn library(app: &TestApp, env: &str, search: Option<&str>) -> (u64, Vec<String>) {
    let data = app
        .ok(
            users::ORG_ADMIN,
            METRICS,
            json!({"key": env, "search": search, "first": 100}),
        )
        .await;
    let metrics = &data["environment"]["metrics"];
    let names = metrics["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["name"].as_str().expect("name").to_owned())
        .collect();
    (metrics["totalCount"].as_u64().expect("totalCount"), names)
}

async fn experiment_metric_ids(app: &TestApp, experiment: &str) -> Vec<String> {
    let data = app
        .ok(
            users::ORG_ADMIN,
            EXPERIMENT_METRICS,
            json!({"id": experiment}),
        )
        .await;
    data["experiment"]["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .map(|a| a["metric"]["id"].as_str().expect("metric id").to_owned())
        .collect()
}

db_test!(
    a_valid_metric_of_each_kind_round_trips_through_create_and_read,
    |app| {
        app.world().await;
        let every_filter = json!([
            {"property": "country", "op": "EQ", "value": {"string": "NL"}},
            {"property": "items", "op": "NEQ", "value": {"number": 3.5}},
            {"property": "logged_in", "op": "EQ", "value": {"boolean": true}},
            {"property": "plan", "op": "IN", "value": {"stringList": ["pro", "team"]}},
            {"property": "tier", "op": "NOT_IN", "value": {"numberList": [1.0, 2.5]}},
            {"property": "price", "op": "GT", "value": {"number": 10.0}},
            {"property": "price", "op": "GTE", "value": {"number": 10.5}},
            {"property": "price", "op": "LT", "value": {"number": 100.0}},
            {"property": "price", "op": "LTE", "value": {"number": 99.5}},
            {"property": "path", "op": "CONTAINS", "value": {"string": "/checkout"}},
            {"property": "coupon", "op": "EXISTS"},
            {"property": "referrer", "op": "NOT_EXISTS"}
        ]);
        let every_filter_out = json!([
            {"property": "country", "op": "EQ", "value": filter_value("string", json!("NL"))},
            {"property": "items", "op": "NEQ", "value": filter_value("number", json!(3.5))},
            {"property": "logged_in", "op": "EQ", "value": filter_value("boolean", json!(true))},
            {"property": "plan", "op": "IN", "value": filter_value("stringList", json!(["pro", "team"]))},
            {"property": "tier", "op": "NOT_IN", "value": filter_value("numberList", json!([1.0, 2.5]))},
            {"property": "price", "op": "GT", "value": filter_value("number", json!(10.0))},
            {"property": "price", "op": "GTE", "value": filter_value("number", json!(10.5))},
            {"property": "price", "op": "LT", "value": filter_value("number", json!(100.0))},
            {"property": "price", "op": "LTE", "value": filter_value("number", json!(99.5))},
            {"property": "path", "op": "CONTAINS", "value": filter_value("string", json!("/checkout"))},
            {"property": "coupon", "op": "EXISTS", "value": null},
            {"property": "referrer", "op": "NOT_EXISTS", "value": null}
        ]);
        // (input, the metric as createMetric and metric(id) must return it, without its id)
        let cases = vec![
            (
                json!({
                    "environmentKey": ENV, "name": "Page views", "description": "Every filter kind",
                    "metricType": "NUMERIC", "aggregation": "COUNT", "direction": "UP",
                    "definition": {"event": "page_view", "filters": every_filter,
                                   "window": {"startSeconds": 0, "endSeconds": 86400}}
                }),
                json!({
                    "name": "Page views", "description": "Every filter kind",
                    "metricType": "NUMERIC", "aggregation": "COUNT", "direction": "UP",
                    "definition": {"event": "page_view", "filters": every_filter_out, "value": null,
                                   "window": {"startSeconds": 0, "endSeconds": 86400}}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Revenue",
                    "metricType": "NUMERIC", "aggregation": "SUM", "direction": "UP",
                    "definition": {"event": "purchase", "value": {"source": "EVENT_VALUE"},
                                   "window": {"startSeconds": 3600, "endSeconds": null}}
                }),
                json!({
                    "name": "Revenue", "description": "",
                    "metricType": "NUMERIC", "aggregation": "SUM", "direction": "UP",
                    "definition": {"event": "purchase", "filters": [],
                                   "value": {"source": "EVENT_VALUE", "property": null},
                                   "window": {"startSeconds": 3600, "endSeconds": null}}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Basket size", "description": "Mean basket",
                    "metricType": "NUMERIC", "aggregation": "MEAN", "direction": "INFORMATIONAL",
                    "definition": {"event": "purchase",
                                   "value": {"source": "PROPERTY", "property": "basket_value"}}
                }),
                json!({
                    "name": "Basket size", "description": "Mean basket",
                    "metricType": "NUMERIC", "aggregation": "MEAN", "direction": "INFORMATIONAL",
                    "definition": {"event": "purchase", "filters": [],
                                   "value": {"source": "PROPERTY", "property": "basket_value"},
                                   "window": null}
                }),
            ),
            (
                json!({
                    "environmentKey": ENV, "name": "Churn",
                    "metricType": "CONVERSION", "aggregation": "OCCURRENCE", "direction": "DOWN",
                    "definition": {"event": "cancel_subscription",
                                   "filters": [{"property": "reason", "op": "NEQ", "value": {"string": "moved"}}]}
                }),
                json!({
                    "name": "Churn", "description": "",
                    "metricType": "CONVERSION", "aggregation": "OCCURRENCE", "direction": "DOWN",
                    "definition": {"event": "cancel_subscription",
                                   "filters": [{"property": "reason", "op": "NEQ",
                                                "value": filter_value("string", json!("moved"))}],
                                   "value": null, "window": null}
                }),
            ),
        ];
        for (input, expected) in cases {
            let created = app
                .ok(users::ORG_ADMIN, CREATE_METRIC, json!({ "input": input }))
                .await["createMetric"]
                .clone();
            let id = created["id"].as_str().expect("id").to_owned();
            let mut want = expected.clone();
            want["id"] = json!(id);
            assert_eq!(created, want, "createMetric result");

            let read = app.ok(users::ORG_ADMIN, METRIC, json!({"id": id})).await["metric"].clone();
            for (key, value) in want.as_object().expect("object") {
                assert_eq!(&read[key], value, "metric(id).{key} of {id}");
            }
            assert_eq!(read["deletedAt"], Value::Null);
            assert_eq!(read["environment"]["key"], ENV);
            assert_eq!(read["attachments"], json!([]));
        }
        let (total, names) = library(&app, ENV, None).await;
        assert_eq!(total, 4);
        assert_eq!(names, ["Churn", "Basket size", "Revenue", "Page views"]);
    }
);

db_test!(
    every_metric_validation_rule_is_bad_user_input_naming_its_field,
    |app| {
        app.world().await;
        let base = || metric_input(ENV, "Rule check");
        let with = |patch: &dyn Fn(&mut Value)| {
            let mut input = base();
            patch(&mut input);
            input
        };
        let filter =
            |f: Value| with(&move |i: &mut Value| i["definition"]["filters"] = json!([f.clone()]));
        let twenty_one: Vec<Value> = (0..21)
            .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
            .collect();

        let cases: Vec<(&str, Value, &str)> = vec![
            ("empty name", with(&|i| i["name"] = json!("")), "name"),
            ("blank name", with(&|i| i["name"] = json!("   ")), "name"),
            (
                "256-char name",
                with(&|i| i["name"] = json!("n".repeat(256))),
                "name",
            ),
            (
                "description over 10000 chars",
                with(&|i| i["description"] = json!("d".repeat(10_001))),
                "description",
            ),
            (
                "CONVERSION with COUNT",
                with(&|i| i["metricType"] = json!("CONVERSION")),
                "aggregation",
            ),
            (
                "CONVERSION with SUM",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("SUM");
                    i["definition"]["value"] = json!({"source": "EVENT_VALUE"});
                }),
                "aggregation",
            ),
            (
                "CONVERSION with MEAN",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("MEAN");
                    i["definition"]["value"] = json!({"source": "EVENT_VALUE"});
                }),
                "aggregation",
            ),
            (
                "NUMERIC with OCCURRENCE",
                with(&|i| i["aggregation"] = json!("OCCURRENCE")),
                "aggregation",
            ),
            (
                "SUM without a value source",
                with(&|i| i["aggregation"] = json!("SUM")),
                "definition.value",
            ),
            (
                "MEAN without a value source",
                with(&|i| i["aggregation"] = json!("MEAN")),
                "definition.value",
            ),
            (
                "COUNT with a value source",
                with(&|i| i["definition"]["value"] = json!({"source": "EVENT_VALUE"})),
                "definition.value",
            ),
            (
                "OCCURRENCE with a value source",
                with(&|i| {
                    i["metricType"] = json!("CONVERSION");
                    i["aggregation"] = json!("OCCURRENCE");
                    i["definition"]["value"] = json!({"source": "PROPERTY", "property": "amount"});
                }),
                "definition.value",
            ),
            (
                "PROPERTY source without a property",
                with(&|i| {
                    i["aggregation"] = json!("SUM");
                    i["definition"]["value"] = json!({"source": "PROPERTY"});
                }),
                "definition.value.property",
            ),
            (
                "PROPERTY source with an empty property",
                with(&|i| {
                    i["aggregation"] = json!("MEAN");
                    i["definition"]["value"] = json!({"source": "PROPERTY", "property": " "});
                }),
                "definition.value.property",
            ),
            (
                "empty event",
                with(&|i| i["definition"]["event"] = json!("")),
                "definition.event",
            ),
            (
                "201-char event",
                with(&|i| i["definition"]["event"] = json!("e".repeat(201))),
                "definition.event",
            ),
            (
                "21 filters",
                with(&|i| i["definition"]["filters"] = json!(twenty_one.clone())),
                "definition.filters",
            ),
            (
                "filter without a property",
                filter(json!({"property": "", "op": "EXISTS"})),
                "definition.filters[0].property",
            ),
            (
                "the index of the bad filter",
                with(&|i| {
                    i["definition"]["filters"] = json!([
                        {"property": "a", "op": "EXISTS"},
                        {"property": "b", "op": "EQ", "value": {"string": "x"}},
                        {"property": "c", "op": "GT", "value": {"string": "x"}}
                    ])
                }),
                "definition.filters[2].value",
            ),
            (
                "EQ without a value",
                filter(json!({"property": "p", "op": "EQ"})),
                "definition.filters[0].value",
            ),
            (
                "EQ with a list",
                filter(json!({"property": "p", "op": "EQ", "value": {"stringList": ["a"]}})),
                "definition.filters[0].value",
            ),
            (
                "NEQ with a number list",
                filter(json!({"property": "p", "op": "NEQ", "value": {"numberList": [1.0]}})),
                "definition.filters[0].value",
            ),
            (
                "IN with a single string",
                filter(json!({"property": "p", "op": "IN", "value": {"string": "a"}})),
                "definition.filters[0].value",
            ),
            (
                "IN with an empty string list",
                filter(json!({"property": "p", "op": "IN", "value": {"stringList": []}})),
                "definition.filters[0].value",
            ),
            (
                "IN with an empty number list",
                filter(json!({"property": "p", "op": "IN", "value": {"numberList": []}})),
                "definition.filters[0].value",
            ),
            (
                "IN without a value",
                filter(json!({"property": "p", "op": "IN"})),
                "definition.filters[0].value",
            ),
            (
                "NOT_IN with a number",
                filter(json!({"property": "p", "op": "NOT_IN", "value": {"number": 1.0}})),
                "definition.filters[0].value",
            ),
            (
                "NOT_IN with an empty list",
                filter(json!({"property": "p", "op": "NOT_IN", "value": {"stringList": []}})),
                "definition.filters[0].value",
            ),
            (
                "GT with a string",
                filter(json!({"property": "p", "op": "GT", "value": {"string": "10"}})),
                "definition.filters[0].value",
            ),
            (
                "GTE with a boolean",
                filter(json!({"property": "p", "op": "GTE", "value": {"boolean": true}})),
                "definition.filters[0].value",
            ),
            (
                "LT without a value",
                filter(json!({"property": "p", "op": "LT"})),
                "definition.filters[0].value",
            ),
            (
                "LTE with a number list",
                filter(json!({"property": "p", "op": "LTE", "value": {"numberList": [1.0]}})),
                "definition.filters[0].value",
            ),
            (
                "CONTAINS with a number",
                filter(json!({"property": "p", "op": "CONTAINS", "value": {"number": 1.0}})),
                "definition.filters[0].value",
            ),
            (
                "CONTAINS with an empty string",
                filter(json!({"property": "p", "op": "CONTAINS", "value": {"string": ""}})),
                "definition.filters[0].value",
            ),
            (
                "EXISTS with a value",
                filter(json!({"property": "p", "op": "EXISTS", "value": {"string": "x"}})),
                "definition.filters[0].value",
            ),
            (
                "NOT_EXISTS with a value",
                filter(json!({"property": "p", "op": "NOT_EXISTS", "value": {"boolean": false}})),
                "definition.filters[0].value",
            ),
            (
                "window starting before exposure",
                with(&|i| i["definition"]["window"] = json!({"startSeconds": -1})),
                "definition.window.startSeconds",
            ),
            (
                "window ending where it starts",
                with(&|i| {
                    i["definition"]["window"] = json!({"startSeconds": 60, "endSeconds": 60})
                }),
                "definition.window.endSeconds",
            ),
            (
                "window ending before it starts",
                with(&|i| {
                    i["definition"]["window"] = json!({"startSeconds": 60, "endSeconds": 30})
                }),
                "definition.window.endSeconds",
            ),
        ];
        for (case, input, expected_field) in cases {
            let body = create(&app, input).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{case}: {body}");
            assert_eq!(field(&body), expected_field, "{case}: {body}");
            assert!(body["data"].is_null(), "{case}: {body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(
                !message.is_empty(),
                "{case}: a person needs a message: {body}"
            );
        }
        let (total, names) = library(&app, ENV, None).await;
        assert_eq!((total, names), (0, vec![]), "no refused metric was stored");
    }
);

db_test!(the_limits_themselves_are_accepted, |app| {
    app.world().await;
    let twenty: Vec<Value> = (0..20)
        .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
        .collect();
    let mut input = metric_input(ENV, &"n".repeat(255));
    input["description"] = json!("d".repeat(10_000));
    input["definition"] = json!({
        "event": "e".repeat(200),
        "filters": twenty,
        "window": {"startSeconds": 0, "endSeconds": 1}
    });
    let body = create(&app, input).await;
    assert_eq!(code(&body), "OK", "{body}");
    let created = &body["data"]["createMetric"];
    assert_eq!(created["name"].as_str().map(str::len), Some(255));
    assert_eq!(
        created["definition"]["event"].as_str().map(str::len),
        Some(200)
    );
    assert_eq!(
        created["definition"]["filters"].as_array().map(Vec::len),
        Some(20)
    );
    assert_eq!(
        created["definition"]["window"],
        json!({"startSeconds": 0, "endSeconds": 1})
    );
});

db_test!(
    a_duplicate_live_name_conflicts_until_the_first_metric_is_deleted,
    |app| {
        app.world().await;
        let first = app.metric(ENV, "Signups").await;

        let body = create(&app, metric_input(ENV, "Signups")).await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
        assert!(body["data"].is_null(), "{body}");
        let body = create(&app, metric_input(ENV, "  Signups  ")).await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "names are trimmed before the check: {body}"
        );
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Signups".into()]));

        // Another environment has its own library.
        app.metric(OTHER_ENV, "Signups").await;

        let deleted = app
            .ok(users::ORG_ADMIN, DELETE_METRIC, json!({"id": first}))
            .await;
        assert_eq!(deleted["deleteMetric"]["id"], first.as_str());
        let second = app.metric(ENV, "Signups").await;
        assert_ne!(second, first);
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Signups".into()]));

        let body = create(&app, metric_input(ENV, "Signups")).await;
        assert_eq!(
            code(&body),
            "CONFLICT",
            "the new live metric holds the name again: {body}"
        );
    }
);

db_test!(a_failed_create_metric_leaves_the_library_unchanged, |app| {
    app.world().await;
    app.metric(ENV, "Kept").await;
    let mut bad = metric_input(ENV, "Refused");
    bad["aggregation"] = json!("SUM");
    assert_eq!(code(&create(&app, bad).await), "BAD_USER_INPUT");
    assert_eq!(
        code(&create(&app, metric_input(ENV, "Kept")).await),
        "CONFLICT"
    );
    let mut long = metric_input(ENV, "Too many filters");
    long["definition"]["filters"] = json!((0..21)
        .map(|i| json!({"property": format!("p{i}"), "op": "EXISTS"}))
        .collect::<Vec<_>>());
    assert_eq!(code(&create(&app, long).await), "BAD_USER_INPUT");
    assert_eq!(library(&app, ENV, None).await, (1, vec!["Kept".into()]));
});

db_test!(
    a_deleted_metric_disappears_from_every_read_and_cannot_be_deleted_twice,
    |app| {
        let world = app.world().await;
        let kept = app.metric(ENV, "Kept").await;
        let gone = app.metric(ENV, "Gone").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &kept).await;
        app.attach(&experiment, &gone).await;
        // Metrics of a completed experiment may be deleted; the attachment then stops showing.
        assert_eq!(
            code(&app.lifecycle("startExperiment", &experiment).await),
            "OK"
        );
        assert_eq!(
            code(&app.lifecycle("completeExperiment", &experiment).await),
            "OK"
        );
        assert_eq!(
            experiment_metric_ids(&app, &experiment).await,
            [kept.clone(), gone.clone()]
        );

        let deleted = app
            .ok(users::ORG_ADMIN, DELETE_METRIC, json!({"id": gone}))
            .await["deleteMetric"]
            .clone();
        assert_eq!(deleted["id"], gone.as_str());
        assert_eq!(deleted["name"], "Gone");
        assert!(deleted["deletedAt"].is_string(), "{deleted}");

        let body = app.gql(users::ORG_ADMIN, METRIC, json!({"id": gone})).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        assert!(body["data"]["metric"].is_null(), "{body}");
        assert_eq!(library(&app, ENV, None).await, (1, vec!["Kept".into()]));
        assert_eq!(library(&app, ENV, Some("gone")).await, (0, vec![]));
        assert_eq!(experiment_metric_ids(&app, &experiment).await, [kept]);

        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": gone}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let body = app
            .gql(
                users::ORG_ADMIN,
                DELETE_METRIC,
                json!({"id": "no-such-metric"}),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
);

db_test!(
    a_metric_used_by_an_active_experiment_cannot_be_deleted_until_it_completes,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &metric).await;

        let try_delete = || app.gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}));
        for (status, step) in [
            ("CREATED", None),
            ("RUNNING", Some("startExperiment")),
            ("PAUSED", Some("pauseExperiment")),
            ("RUNNING again", Some("startExperiment")),
        ] {
            if let Some(step) = step {
                assert_eq!(code(&app.lifecycle(step, &experiment).await), "OK");
            }
            let body = try_delete().await;
            assert_eq!(code(&body), "CONFLICT", "{status}: {body}");
            assert!(body["data"].is_null(), "{status}: {body}");
            let still = app
                .ok(users::ORG_ADMIN, METRIC, json!({"id": metric}))
                .await;
            assert_eq!(still["metric"]["deletedAt"], Value::Null, "{status}");
            assert_eq!(library(&app, ENV, None).await.0, 1, "{status}");
        }

        assert_eq!(
            code(&app.lifecycle("completeExperiment", &experiment).await),
            "OK"
        );
        let body = try_delete().await;
        assert_eq!(
            code(&body),
            "OK",
            "allowed once the experiment completed: {body}"
        );
        assert_eq!(library(&app, ENV, None).await.0, 0);
    }
);

db_test!(
    a_metric_used_only_by_a_deleted_experiment_can_be_deleted,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&experiment, &metric).await;
        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");

        let deleted = app
            .gql(
                users::ORG_ADMIN,
                "mutation($id: ID!) { deleteExperiment(id: $id) { id } }",
                json!({"id": experiment}),
            )
            .await;
        assert_eq!(code(&deleted), "OK", "{deleted}");
        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
    }
);

db_test!(
    a_metric_attached_to_an_active_experiment_and_a_completed_one_still_conflicts,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let done = app.experiment(ENV, &world.feature, "Done").await;
        app.attach(&done, &metric).await;
        assert_eq!(code(&app.lifecycle("startExperiment", &done).await), "OK");
        assert_eq!(
            code(&app.lifecycle("completeExperiment", &done).await),
            "OK"
        );
        let active_here = app.experiment(ENV, &world.feature, "Active here").await;
        app.attach(&active_here, &metric).await;

        let body = app
            .gql(users::ORG_ADMIN, DELETE_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body}");
    }
);

db_test!(
    search_matches_names_ignoring_case_and_treats_wildcards_literally,
    |app| {
        app.world().await;
        for name in [
            "Checkout Rate",
            "checkout revenue",
            "Signups",
            "50% off",
            "500 off",
            "a_b test",
            "axb test",
            r"back\slash",
        ] {
            app.metric(ENV, name).await;
        }
        app.metric(OTHER_ENV, "Checkout elsewhere").await;

        let cases: Vec<(&str, Vec<&str>)> = vec![
            ("CHECKOUT", vec!["checkout revenue", "Checkout Rate"]),
            ("checkout r", vec!["checkout revenue", "Checkout Rate"]),
            ("rEvEnUe", vec!["checkout revenue"]),
            ("50%", vec!["50% off"]),
            ("%", vec!["50% off"]),
            ("a_b", vec!["a_b test"]),
            ("_", vec!["a_b test"]),
            (r"\", vec![r"back\slash"]),
            ("nothing like it", vec![]),
        ];
        for (search, expected) in cases {
            let (total, names) = library(&app, ENV, Some(search)).await;
            assert_eq!(names, expected, "search {search:?}");
            assert_eq!(total, expected.len() as u64, "totalCount for {search:?}");
        }
        let (total, _) = library(&app, ENV, None).await;
        assert_eq!(total, 8);
    }
);

db_test!(search_ignores_the_case_of_non_ascii_letters, |app| {
    app.world().await;
    app.metric(ENV, "Überweisungen").await;
    app.metric(ENV, "Ölpreis").await;
    let (total, names) = library(&app, ENV, Some("überweisungen")).await;
    assert_eq!(
        (total, names),
        (1, vec!["Überweisungen".to_owned()]),
        "searching \"überweisungen\" finds \"Überweisungen\""
    );
    let (total, names) = library(&app, ENV, Some("ÖLPREIS")).await;
    assert_eq!(
        (total, names),
        (1, vec!["Ölpreis".to_owned()]),
        "searching \"ÖLPREIS\" finds \"Ölpreis\""
    );
});
