//! Analysis settings per experiment: defaults (from the server's settings), validation of each
//! field, engine contradictions, partial updates, the lock after the start, audit diffs,
//! permissions, and experiments stored before settings existed.

use serde_json::{json, Value};

use crate::helpers::*;

const ANALYSIS: &str = "analysis { engine alpha sequential sequentialTuning cuped cupedLookbackDays correction prior { proper mean variance } minimumIdentities minimumConversions targetMde }";

fn create_query() -> String {
    format!(
        "mutation($input: CreateExperimentInput!) {{ createExperiment(input: $input) {{ id {ANALYSIS} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($id: ID!, $input: UpdateExperimentInput!) {{ updateExperiment(id: $id, input: $input) {{ id {ANALYSIS} }} }}"
    )
}

fn read_query() -> String {
    format!("query($id: ID!) {{ experiment(id: $id) {{ id status {ANALYSIS} }} }}")
}

/// `createExperiment` on the world's two-variant feature with `analysis` (or none) as the org admin.
async fn create(app: &TestApp, world: &World, name: &str, analysis: Option<Value>) -> Value {
    let mut input = json!({"environmentKey": ENV, "featureId": world.feature, "name": name});
    if let Some(analysis) = analysis {
        input["analysis"] = analysis;
    }
    app.gql(users::ORG_ADMIN, &create_query(), json!({"input": input}))
        .await
}

async fn update_as(app: &TestApp, user: &str, id: &str, analysis: Value) -> Value {
    app.gql(
        user,
        &update_query(),
        json!({"id": id, "input": {"analysis": analysis}}),
    )
    .await
}

async fn update(app: &TestApp, id: &str, analysis: Value) -> Value {
    update_as(app, users::ORG_ADMIN, id, analysis).await
}

async fn read(app: &TestApp, id: &str) -> Value {
    app.ok(users::ORG_ADMIN, &read_query(), json!({"id": id}))
        .await["experiment"]["analysis"]
        .clone()
}

fn id_of(body: &Value) -> String {
    assert_eq!(code(body), "OK", "{body}");
    body["data"]["createExperiment"]["id"]
        .as_str()
        .expect("experiment id")
        .to_owned()
}

/// The settings every new experiment gets when the server runs with `alpha` and the minimums.
fn defaults(alpha: f64, min_identities: u64, min_conversions: u64) -> Value {
    json!({
        "engine": "FREQUENTIST",
        "alpha": alpha,
        "sequential": false,
        "sequentialTuning": 5000,
        "cuped": true,
        "cupedLookbackDays": 14,
        "correction": "NONE",
        "prior": {"proper": false, "mean": 0.0, "variance": 0.09},
        "minimumIdentities": min_identities,
        "minimumConversions": min_conversions,
        "targetMde": 0.05,
    })
}

db_test_with!(
    a_new_experiment_takes_the_documented_defaults_and_the_servers_alpha_and_minimums,
    |settings| {
        settings.results.results_alpha = 0.1;
        settings.results.results_min_identities = 80;
        settings.results.results_min_conversions = 7;
    },
    |app| {
        let world = app.world().await;
        let body = create(&app, &world, "Checkout", None).await;
        let id = id_of(&body);
        assert_eq!(
            body["data"]["createExperiment"]["analysis"],
            defaults(0.1, 80, 7)
        );
        assert_eq!(read(&app, &id).await, defaults(0.1, 80, 7));
        // An empty analysis input is the same as none.
        let other = create(&app, &world, "Other", Some(json!({}))).await;
        assert_eq!(
            code(&other),
            "CONFLICT",
            "one active experiment per feature"
        );
        let staging = app.gql(
            users::ORG_ADMIN,
            &create_query(),
            json!({"input": {"environmentKey": OTHER_ENV, "featureId": world.feature, "name": "Staging", "analysis": {}}}),
        )
        .await;
        assert_eq!(code(&staging), "OK", "{staging}");
        assert_eq!(
            staging["data"]["createExperiment"]["analysis"],
            defaults(0.1, 80, 7)
        );
    }
);

db_test!(every_setting_given_at_creation_is_stored, |app| {
    let world = app.world().await;
    let chosen = json!({
        "engine": "BAYESIAN",
        "alpha": 0.01,
        "sequential": false,
        "sequentialTuning": 20000,
        "cuped": false,
        "cupedLookbackDays": 30,
        "correction": "NONE",
        "prior": {"proper": true, "mean": 0.02, "variance": 0.25},
        "minimumIdentities": 200,
        "minimumConversions": 0,
        "targetMde": 0.1,
    });
    let body = create(&app, &world, "Checkout", Some(chosen.clone())).await;
    let id = id_of(&body);
    assert_eq!(body["data"]["createExperiment"]["analysis"], chosen);
    assert_eq!(read(&app, &id).await, chosen);
});

db_test!(
    each_invalid_setting_is_bad_user_input_naming_its_field,
    |app| {
        let world = app.world().await;
        let cases = [
            (json!({"alpha": 0.0}), "analysis.alpha"),
            (json!({"alpha": 0.5}), "analysis.alpha"),
            (json!({"alpha": -0.1}), "analysis.alpha"),
            (json!({"sequentialTuning": 0}), "analysis.sequentialTuning"),
            (
                json!({"cupedLookbackDays": 0}),
                "analysis.cupedLookbackDays",
            ),
            (
                json!({"cupedLookbackDays": 61}),
                "analysis.cupedLookbackDays",
            ),
            (
                json!({"prior": {"variance": 0.0}}),
                "analysis.prior.variance",
            ),
            (
                json!({"prior": {"variance": -1.0}}),
                "analysis.prior.variance",
            ),
            (
                json!({"minimumIdentities": 0}),
                "analysis.minimumIdentities",
            ),
            (
                json!({"minimumConversions": -1}),
                "analysis.minimumConversions",
            ),
            (json!({"targetMde": 0.0}), "analysis.targetMde"),
            (json!({"targetMde": 10.01}), "analysis.targetMde"),
            (
                json!({"engine": "BAYESIAN", "sequential": true}),
                "analysis.sequential",
            ),
            (
                json!({"engine": "BAYESIAN", "correction": "BENJAMINI_HOCHBERG"}),
                "analysis.correction",
            ),
        ];
        for (analysis, want) in &cases {
            let body = create(&app, &world, "Checkout", Some(analysis.clone())).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{analysis}: {body}");
            assert_eq!(field(&body), *want, "{analysis}: {body}");
        }
        // Nothing was created: the first valid create is the feature's only active experiment.
        let id = id_of(&create(&app, &world, "Checkout", None).await);
        // The same rules hold on update, and a refused update changes nothing.
        for (analysis, want) in &cases {
            let body = update(&app, &id, analysis.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{analysis}: {body}");
            assert_eq!(field(&body), *want, "{analysis}: {body}");
        }
        assert_eq!(read(&app, &id).await, defaults(0.05, 50, 5));
        // Switching to BAYESIAN under a stored sequential setting or correction blames the engine,
        // and says what to do.
        for stored in [
            json!({"sequential": true}),
            json!({"correction": "HOLM_BONFERRONI", "sequential": false}),
        ] {
            assert_eq!(code(&update(&app, &id, stored.clone()).await), "OK");
            let body = update(&app, &id, json!({"engine": "BAYESIAN"})).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{stored}: {body}");
            assert_eq!(field(&body), "analysis.engine");
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("FREQUENTIST engine"), "{message}");
        }
        // Both together in one update are fine.
        let body = update(
            &app,
            &id,
            json!({"engine": "BAYESIAN", "sequential": false, "correction": "NONE"}),
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(
            body["data"]["updateExperiment"]["analysis"]["engine"],
            "BAYESIAN"
        );
    }
);

db_test!(a_partial_update_merges_into_the_stored_settings, |app| {
    let world = app.world().await;
    let id = id_of(
        &create(
            &app,
            &world,
            "Checkout",
            Some(
                json!({"alpha": 0.01, "correction": "HOLM_BONFERRONI", "prior": {"proper": true}}),
            ),
        )
        .await,
    );
    let body = update(
        &app,
        &id,
        json!({"cupedLookbackDays": 30, "prior": {"mean": 0.1}, "targetMde": 0.2}),
    )
    .await;
    assert_eq!(code(&body), "OK", "{body}");
    let mut want = defaults(0.01, 50, 5);
    want["correction"] = json!("HOLM_BONFERRONI");
    want["cupedLookbackDays"] = json!(30);
    want["prior"] = json!({"proper": true, "mean": 0.1, "variance": 0.09});
    want["targetMde"] = json!(0.2);
    assert_eq!(body["data"]["updateExperiment"]["analysis"], want);
    assert_eq!(read(&app, &id).await, want);
    // An update without `analysis` leaves the settings alone.
    app.ok(
        users::ORG_ADMIN,
        "mutation($id: ID!) { updateExperiment(id: $id, input: {name: \"Renamed\"}) { id } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(read(&app, &id).await, want);
});

db_test!(
    after_the_start_the_decision_settings_are_locked_and_the_rest_stays_editable,
    |app| {
        let world = app.world().await;
        let id = id_of(&create(&app, &world, "Checkout", Some(json!({"alpha": 0.1}))).await);
        assert_eq!(code(&app.lifecycle("startExperiment", &id).await), "OK");
        let locked = [
            (json!({"engine": "BAYESIAN"}), "analysis.engine"),
            (json!({"alpha": 0.05}), "analysis.alpha"),
            (json!({"sequential": true}), "analysis.sequential"),
            (
                json!({"correction": "HOLM_BONFERRONI"}),
                "analysis.correction",
            ),
        ];
        let editable = json!({
            "sequentialTuning": 1000,
            "cuped": false,
            "cupedLookbackDays": 7,
            "prior": {"proper": true, "mean": 0.01, "variance": 0.5},
            "minimumIdentities": 500,
            "minimumConversions": 20,
            "targetMde": 0.02,
        });
        for status in ["RUNNING", "PAUSED"] {
            if status == "PAUSED" {
                assert_eq!(code(&app.lifecycle("pauseExperiment", &id).await), "OK");
            }
            for (analysis, want) in &locked {
                let body = update(&app, &id, analysis.clone()).await;
                assert_eq!(code(&body), "BAD_USER_INPUT", "{status} {analysis}: {body}");
                assert_eq!(field(&body), *want);
                let message = body["errors"][0]["message"].as_str().unwrap_or_default();
                assert!(
                    message.contains("once the experiment has started")
                        && message.contains("before seeing data"),
                    "{message}"
                );
            }
            // Sending the current values is not a change.
            let same = json!({"engine": "FREQUENTIST", "alpha": 0.1, "sequential": false, "correction": "NONE"});
            assert_eq!(code(&update(&app, &id, same).await), "OK", "{status}");
            let body = update(&app, &id, editable.clone()).await;
            assert_eq!(code(&body), "OK", "{status}: {body}");
        }
        let mut want = editable.clone();
        for (key, value) in [
            ("engine", json!("FREQUENTIST")),
            ("alpha", json!(0.1)),
            ("sequential", json!(false)),
            ("correction", json!("NONE")),
        ] {
            want[key] = value;
        }
        assert_eq!(read(&app, &id).await, want);
        // A completed experiment cannot change at all, as for every other field.
        assert_eq!(code(&app.lifecycle("completeExperiment", &id).await), "OK");
        let body = update(&app, &id, json!({"cuped": true})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "id");
        assert_eq!(read(&app, &id).await, want);
    }
);

const AUDIT_CHANGES: &str = "query($key: String!) { environment(key: $key) { auditLogs(first: 10, relatedObjectType: EXPERIMENT) { edges { node { action changes } } } } }";

/// `(action, changes)` of the environment's experiment audit entries, newest first.
async fn experiment_audit(app: &TestApp) -> Vec<(String, Value)> {
    let data = app
        .ok(users::ORG_ADMIN, AUDIT_CHANGES, json!({"key": ENV}))
        .await;
    data["environment"]["auditLogs"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| {
            (
                e["node"]["action"].as_str().unwrap_or_default().to_owned(),
                e["node"]["changes"].clone(),
            )
        })
        .collect()
}

db_test!(
    analysis_changes_are_audited_with_only_the_fields_that_changed,
    |app| {
        let world = app.world().await;
        let id = id_of(&create(&app, &world, "Checkout", None).await);
        let body = update(
            &app,
            &id,
            json!({"alpha": 0.01, "cuped": true, "prior": {"variance": 0.2}}),
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(code(&app.lifecycle("startExperiment", &id).await), "OK");
        let body = update(&app, &id, json!({"targetMde": 0.1})).await;
        assert_eq!(code(&body), "OK", "{body}");
        let entries = experiment_audit(&app).await;
        let actions: Vec<&str> = entries.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(actions, ["UPDATED", "STARTED", "UPDATED", "CREATED"]);
        // The creation records the settings in full.
        assert_eq!(entries[3].1["after"]["analysis"], defaults(0.05, 50, 5));
        // Updates record the changed members only (cuped was sent but did not change).
        assert_eq!(
            entries[2].1,
            json!({
                "before": {"analysis": {"alpha": 0.05, "prior": {"variance": 0.09}}},
                "after": {"analysis": {"alpha": 0.01, "prior": {"variance": 0.2}}},
            })
        );
        assert!(
            entries[1].1["after"].get("analysis").is_none(),
            "{}",
            entries[1].1
        );
        assert_eq!(
            entries[0].1,
            json!({
                "before": {"analysis": {"targetMde": 0.05}},
                "after": {"analysis": {"targetMde": 0.1}},
            })
        );
    }
);

db_test!(
    only_those_who_may_update_an_experiment_may_change_its_settings,
    |app| {
        let world = app.world().await;
        let id = id_of(&create(&app, &world, "Checkout", None).await);
        let change = json!({"cuped": false});
        for (user, want) in [
            (users::ENV_VIEWER, "FORBIDDEN"),
            (users::PROJECT_VIEWER, "FORBIDDEN"),
            (users::OUTSIDER, "NOT_FOUND"),
            (users::OTHER_ORG_ADMIN, "NOT_FOUND"),
        ] {
            let body = update_as(&app, user, &id, change.clone()).await;
            assert_eq!(code(&body), want, "{user}: {body}");
        }
        assert_eq!(read(&app, &id).await, defaults(0.05, 50, 5));
        // A viewer reads the settings.
        let seen = app
            .ok(users::ENV_VIEWER, &read_query(), json!({"id": id}))
            .await;
        assert_eq!(seen["experiment"]["analysis"], defaults(0.05, 50, 5));
        let body = update_as(&app, users::ENV_ADMIN, &id, change).await;
        assert_eq!(code(&body), "OK", "{body}");
        assert_eq!(body["data"]["updateExperiment"]["analysis"]["cuped"], false);
    }
);

/// Experiments stored before settings existed (NULL) read the defaults of the server that serves
/// them; their first change or start stores the values in effect, and from then on a server with
/// other defaults no longer moves them.
async fn stored_without_settings(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let url = fresh_database(backend).await;
    let mut first = settings(&url);
    first.results.results_alpha = 0.1;
    let app = spawn_app_with(first).await;
    let world = app.world().await;
    let legacy = id_of(&create(&app, &world, "Legacy", None).await);
    let untouched = app
        .ok(
            users::ORG_ADMIN,
            CREATE_EXPERIMENT,
            json!({"input": {"environmentKey": OTHER_ENV, "featureId": world.feature, "name": "Untouched"}}),
        )
        .await["createExperiment"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for id in [&legacy, &untouched] {
        // Ids are server-made UUIDs, not input: safe to inline in this test's own SQL.
        app.db
            .execute_unprepared(&format!(
                "UPDATE experiments SET analysis = NULL WHERE id = '{id}'"
            ))
            .await
            .expect("clear settings");
    }
    assert_eq!(read(&app, &legacy).await, defaults(0.1, 50, 5));

    // The same database served with other defaults.
    let mut second = settings(&url);
    second.results.results_alpha = 0.2;
    second.results.results_min_identities = 99;
    let other = spawn_app_with(second).await;
    assert_eq!(read(&other, &legacy).await, defaults(0.2, 99, 5));

    // A change pins the values in effect; the audit diff shows only what the input changed.
    let body = update(&other, &legacy, json!({"cuped": false})).await;
    assert_eq!(code(&body), "OK", "{body}");
    let mut want = defaults(0.2, 99, 5);
    want["cuped"] = json!(false);
    assert_eq!(
        read(&app, &legacy).await,
        want,
        "pinned: the first server agrees"
    );
    let (action, changes) = experiment_audit(&other).await.remove(0);
    assert_eq!(action, "UPDATED");
    assert_eq!(
        changes,
        json!({"before": {"analysis": {"cuped": true}}, "after": {"analysis": {"cuped": false}}})
    );

    // Starting pins too: the untouched experiment keeps the α of the server that started it.
    let started = other.lifecycle("startExperiment", &untouched).await;
    assert_eq!(code(&started), "OK", "{started}");
    assert_eq!(read(&app, &untouched).await, defaults(0.2, 99, 5));
}

mod experiments_stored_without_settings_follow_the_server_until_changed_or_started {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        stored_without_settings(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        stored_without_settings(Backend::Postgres).await;
    }
}
