//! Relay connections: walking every page with `first`/`after`, newest first, with a stable
//! `totalCount`; bounds on `first`; cursors that are not ours; the features connection.

use std::collections::HashSet;

use crate::helpers::*;
use serde_json::{json, Value};

/// One page of `Environment.<connection>`; `args` are the connection's extra arguments.
async fn page(app: &TestApp, connection: &str, first: Option<i64>, after: Option<&str>) -> Value {
    let query = format!(
        "query($key: String!, $first: Int, $after: String) {{ environment(key: $key) {{ {connection}(first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ id name }} }} }} }} }}"
    );
    app.gql(
        users::ORG_ADMIN,
        &query,
        json!({"key": ENV, "first": first, "after": after}),
    )
    .await
}

/// Walks `connection` `size` items at a time; returns the names in order and checks each page.
async fn walk(app: &TestApp, connection: &str, size: i64, total: u64) -> Vec<String> {
    let mut names = Vec::new();
    let mut ids = HashSet::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = page(app, connection, Some(size), after.as_deref()).await;
        assert_eq!(code(&body), "OK", "page {pages}: {body}");
        let conn = &body["data"]["environment"][connection];
        assert_eq!(conn["totalCount"], total, "page {pages}: {conn}");
        let edges = conn["edges"].as_array().expect("edges");
        let seen_before = names.len() as u64;
        let expected_len = (total - seen_before).min(size as u64);
        assert_eq!(edges.len() as u64, expected_len, "page {pages}: {conn}");
        for edge in edges {
            let id = edge["node"]["id"].as_str().expect("id").to_owned();
            assert!(ids.insert(id), "id seen twice: {edge}");
            assert!(edge["cursor"].is_string(), "{edge}");
            names.push(edge["node"]["name"].as_str().expect("name").to_owned());
        }
        let has_next = conn["pageInfo"]["hasNextPage"]
            .as_bool()
            .expect("hasNextPage");
        assert_eq!(
            has_next,
            (names.len() as u64) < total,
            "hasNextPage on page {pages}: {conn}"
        );
        if let Some(last) = edges.last() {
            assert_eq!(conn["pageInfo"]["endCursor"], last["cursor"], "{conn}");
        }
        pages += 1;
        assert!(pages <= 10, "the walk must end");
        if !has_next {
            break;
        }
        after = Some(
            conn["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_owned(),
        );
    }
    assert_eq!(pages, (total as usize).div_ceil(size as usize));
    names
}

db_test!(
    walking_twenty_five_metrics_ten_at_a_time_sees_each_once_newest_first,
    |app| {
        app.world().await;
        let created: Vec<String> = (0..25).map(|i| format!("Metric {i:02}")).collect();
        for name in &created {
            app.metric(ENV, name).await;
        }
        app.metric(OTHER_ENV, "Not in prod").await;

        let names = walk(&app, "metrics", 10, 25).await;
        let newest_first: Vec<String> = created.iter().rev().cloned().collect();
        assert_eq!(names, newest_first);

        // Without `first`, a page holds 20.
        let body = page(&app, "metrics", None, None).await;
        let conn = &body["data"]["environment"]["metrics"];
        assert_eq!(conn["edges"].as_array().map(Vec::len), Some(20), "{body}");
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["totalCount"], 25);

        // After the last item there is nothing more.
        let all = page(&app, "metrics", Some(100), None).await;
        let conn = &all["data"]["environment"]["metrics"];
        assert_eq!(conn["edges"].as_array().map(Vec::len), Some(25));
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        let last = conn["pageInfo"]["endCursor"].as_str().expect("endCursor");
        let body = page(&app, "metrics", Some(10), Some(last)).await;
        let conn = &body["data"]["environment"]["metrics"];
        assert_eq!(conn["edges"], json!([]), "{body}");
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        assert_eq!(conn["totalCount"], 25);
    }
);

db_test!(a_searched_metric_list_pages_over_the_matches_only, |app| {
    app.world().await;
    for i in 0..7 {
        app.metric(ENV, &format!("Checkout {i}")).await;
        app.metric(ENV, &format!("Signup {i}")).await;
    }
    let query = "query($first: Int, $after: String) { environment(key: \"prod\") { metrics(first: $first, after: $after, search: \"checkout\") { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } } }";
    let mut after: Option<String> = None;
    let mut names = Vec::new();
    loop {
        let data = app
            .ok(users::ORG_ADMIN, query, json!({"first": 3, "after": after}))
            .await;
        let conn = &data["environment"]["metrics"];
        assert_eq!(conn["totalCount"], 7, "{conn}");
        for edge in conn["edges"].as_array().expect("edges") {
            names.push(edge["node"]["name"].as_str().expect("name").to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let expected: Vec<String> = (0..7).rev().map(|i| format!("Checkout {i}")).collect();
    assert_eq!(names, expected);
});

db_test!(
    walking_twenty_five_experiments_ten_at_a_time_sees_each_once_newest_first,
    |app| {
        let world = app.world().await;
        let mut features = vec![world.feature.clone()];
        for i in 1..5 {
            features.push(
                app.feature(
                    &world.project_a,
                    &format!("feature {i}"),
                    "control:1,treatment:1",
                )
                .await,
            );
        }
        // Five rounds over five features: every round but the last completes its experiments, so each
        // feature has at most one active experiment at any time.
        let mut created = Vec::new();
        for round in 0..5 {
            let mut this_round = Vec::new();
            for (f, feature) in features.iter().enumerate() {
                let name = format!("Experiment {round}-{f}");
                this_round.push(app.experiment(ENV, feature, &name).await);
                created.push(name);
            }
            if round < 4 {
                for id in this_round {
                    assert_eq!(code(&app.lifecycle("startExperiment", &id).await), "OK");
                    assert_eq!(code(&app.lifecycle("completeExperiment", &id).await), "OK");
                }
            }
        }
        app.experiment(OTHER_ENV, &world.feature, "Not in prod")
            .await;

        let names = walk(&app, "experiments", 10, 25).await;
        let newest_first: Vec<String> = created.iter().rev().cloned().collect();
        assert_eq!(names, newest_first);
    }
);

db_test!(first_must_be_between_one_and_one_hundred, |app| {
    app.world().await;
    app.metric(ENV, "Conversion").await;
    for connection in ["metrics", "experiments", "features"] {
        for first in [0, -1, 101] {
            let body = page(&app, connection, Some(first), None).await;
            assert_eq!(
                code(&body),
                "BAD_USER_INPUT",
                "{connection} first {first}: {body}"
            );
            assert_eq!(field(&body), "first", "{connection} first {first}: {body}");
        }
        for first in [1, 100] {
            let body = page(&app, connection, Some(first), None).await;
            assert_eq!(code(&body), "OK", "{connection} first {first}: {body}");
        }
    }
});

db_test!(an_after_cursor_that_is_not_ours_is_bad_user_input, |app| {
    app.world().await;
    app.metric(ENV, "Conversion").await;
    // Not base64; base64 of text without our prefix; the empty string.
    let garbage = ["not a cursor!", "aGVsbG8", ""];
    for connection in ["metrics", "experiments", "features"] {
        for after in garbage {
            let body = page(&app, connection, Some(10), Some(after)).await;
            assert_eq!(
                code(&body),
                "BAD_USER_INPUT",
                "{connection} after {after:?}: {body}"
            );
            assert_eq!(
                field(&body),
                "after",
                "{connection} after {after:?}: {body}"
            );
        }
    }
});

db_test!(
    the_features_connection_lists_the_projects_features_newest_first,
    |app| {
        let world = app.world().await;
        let body = page(&app, "features", Some(10), None).await;
        assert_eq!(code(&body), "OK", "{body}");
        let conn = &body["data"]["environment"]["features"];
        assert_eq!(conn["totalCount"], 2);
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        let listed: Vec<(Value, Value)> = conn["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| (e["node"]["id"].clone(), e["node"]["name"].clone()))
            .collect();
        assert_eq!(
            listed,
            [
                (json!(world.solo_feature), json!("solo")),
                (json!(world.feature), json!("checkout")),
            ],
            "organisation B's feature is not listed"
        );

        // The same features from the project's other environment; one per page.
        let query = "query($after: String) { environment(key: \"staging\") { features(first: 1, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { id variants { key weight } } } } } }";
        let first = app
            .ok(users::ORG_ADMIN, query, json!({"after": null}))
            .await;
        let conn = &first["environment"]["features"];
        assert_eq!(conn["totalCount"], 2);
        assert_eq!(conn["pageInfo"]["hasNextPage"], true);
        assert_eq!(conn["edges"][0]["node"]["id"], world.solo_feature.as_str());
        assert_eq!(
            conn["edges"][0]["node"]["variants"],
            json!([{"key": "control", "weight": 1.0}])
        );
        let second = app
            .ok(
                users::ORG_ADMIN,
                query,
                json!({"after": conn["pageInfo"]["endCursor"]}),
            )
            .await;
        let conn = &second["environment"]["features"];
        assert_eq!(conn["pageInfo"]["hasNextPage"], false);
        assert_eq!(conn["edges"][0]["node"]["id"], world.feature.as_str());
        assert_eq!(
            conn["edges"][0]["node"]["variants"],
            json!([{"key": "control", "weight": 50.0}, {"key": "treatment", "weight": 50.0}])
        );
    }
);

db_test!(an_empty_list_counts_zero, |app| {
    app.world().await;
    for connection in ["metrics", "experiments"] {
        let body = page(&app, connection, Some(10), None).await;
        assert_eq!(code(&body), "OK", "{body}");
        let conn = &body["data"]["environment"][connection];
        assert_eq!(conn["edges"], json!([]), "{body}");
        assert_eq!(conn["totalCount"], 0, "{body}");
        assert_eq!(conn["pageInfo"]["hasNextPage"], false, "{body}");
    }
});
