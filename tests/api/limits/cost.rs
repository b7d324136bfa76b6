//! Lists multiply the cost of what is selected inside them: a query that would fan out to
//! thousands of results is refused before anything runs, and a request never resolves more than
//! 50 results, whatever its lists hold.

use crate::helpers::*;
use lift::admin::AdminCommand;
use serde_json::{json, Value};

const RESULTS_OF_A_PAGE: &str =
    "experiments(first: $first) { edges { node { id results { frozen computedAt } } } }";

fn aliased(aliases: usize) -> String {
    let fields: String = (0..aliases)
        .map(|i| format!("e{i}: {RESULTS_OF_A_PAGE} "))
        .collect();
    format!("query($key: String!, $first: Int) {{ environment(key: $key) {{ {fields} }} }}")
}

async fn results_query(app: &TestApp, aliases: usize, first: i64) -> Value {
    app.gql(
        users::ENV_VIEWER,
        &aliased(aliases),
        json!({"key": ENV, "first": first}),
    )
    .await
}

db_test!(
    results_of_many_large_pages_are_refused_before_anything_runs,
    |app| {
        let world = app.world().await;
        // A running experiment on a server without a warehouse: had its results run, they would
        // answer WAREHOUSE_NOT_CONFIGURED.
        let running = app.experiment(ENV, &world.feature, "running").await;
        assert_eq!(
            code(&app.lifecycle("startExperiment", &running).await),
            "OK"
        );

        for (aliases, first) in [(45, 100), (1, 100), (5, 20)] {
            let body = results_query(&app, aliases, first).await;
            assert_eq!(
                code(&body),
                "BAD_USER_INPUT",
                "{aliases} × first {first}: {body}"
            );
            assert!(body["data"].is_null(), "nothing ran: {body}");
            assert_eq!(body["errors"].as_array().map(Vec::len), Some(1), "{body}");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("too complex"), "{message}");
            assert!(message.contains("5000"), "says the limit: {message}");
        }

        // One page of ten is accepted, and its results do run.
        let body = results_query(&app, 1, 10).await;
        assert_eq!(code(&body), "WAREHOUSE_NOT_CONFIGURED", "{body}");
        let edges = &body["data"]["environment"]["e0"]["edges"];
        assert_eq!(edges[0]["node"]["id"], running, "{body}");
    }
);

db_test!(a_page_of_ten_experiments_with_results_is_accepted, |app| {
    let world = app.world().await;
    let draft = app.experiment(ENV, &world.feature, "draft").await;
    let body = results_query(&app, 1, 10).await;
    assert_eq!(code(&body), "OK", "{body}");
    let node = &body["data"]["environment"]["e0"]["edges"][0]["node"];
    assert_eq!(node["id"], draft, "{body}");
    // Results are null before the experiment first starts.
    assert!(node["results"].is_null(), "{body}");
});

db_test!(
    a_request_resolves_at_most_fifty_results_whatever_its_lists_hold,
    |app| {
        let world = app.world().await;
        // 13 environments × 4 experiments: the environments list is estimated at 10 items, so the
        // query passes the complexity check, and 52 results fields are resolved.
        let features = [
            world.feature.clone(),
            app.feature(&world.project_a, "second", "control:1,treatment:1")
                .await,
            app.feature(&world.project_a, "third", "control:1,treatment:1")
                .await,
            app.feature(&world.project_a, "fourth", "control:1,treatment:1")
                .await,
        ];
        let mut keys = vec![ENV.to_owned(), OTHER_ENV.to_owned()];
        for i in 0..11 {
            let key = format!("extra-{i}");
            app.admin(AdminCommand::CreateEnvironment {
                project: world.project_a.clone(),
                name: key.clone(),
                key: key.clone(),
            })
            .await;
            keys.push(key);
        }
        for key in &keys {
            for (n, feature) in features.iter().enumerate() {
                app.experiment(key, feature, &format!("{key} {n}")).await;
            }
        }
        let body = app
        .gql(
            users::ORG_ADMIN,
            "{ viewer { environments { experiments(first: 4) { edges { node { results { frozen } } } } } } }",
            json!({}),
        )
        .await;
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        assert_eq!(errors.len(), 2, "52 asked, 50 allowed: {body:#}");
        for error in &errors {
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
            assert_eq!(error["extensions"]["field"], "results", "{error}");
        }
        let environments = body["data"]["viewer"]["environments"]
            .as_array()
            .expect("environments");
        assert_eq!(environments.len(), 13, "{body:#}");
    }
);

db_test!(a_query_nested_too_deep_is_told_the_limit, |app| {
    app.world().await;
    // Eighteen levels of fields, each list of one item.
    let hop = "environment { experiments(first: 1) { edges { node { ";
    let query = format!(
        "{{ viewer {{ environments {{ experiments(first: 1) {{ edges {{ node {{ {} id {} }} }} }} }} }} }}",
        hop.repeat(3),
        "} } } } ".repeat(3)
    );
    let body = app.gql(users::ENV_VIEWER, &query, json!({})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("at most 16 levels"), "{message}");
});
