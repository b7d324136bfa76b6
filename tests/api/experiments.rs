//! Experiments: defaults, the status state machine and its timestamps, one active experiment per
//! feature and environment (also under concurrent creates), deletion rules, feature and variant
//! checks, updates and the status filter.

use std::sync::Arc;

use crate::helpers::*;
use serde_json::{json, Value};

const EXPERIMENT: &str = "query($id: ID!) { experiment(id: $id) { id name hypothesis status exposureEvent controlVariant startedAt endedAt createdAt updatedAt deletedAt feature { id } environment { key } metrics { id } } }";

const EXPERIMENTS: &str = "query($key: String!, $status: ExperimentStatus) { environment(key: $key) { experiments(first: 100, status: $status) { totalCount edges { node { id name status } } } } }";

const UPDATE_EXPERIMENT: &str = "mutation($id: ID!, $input: UpdateExperimentInput!) { updateExperiment(id: $id, input: $input) { id name hypothesis status exposureEvent controlVariant } }";

const DELETE_EXPERIMENT: &str =
    "mutation($id: ID!) { deleteExperiment(id: $id) { id status deletedAt } }";

const METRIC_ATTACHMENTS: &str =
    "query($id: ID!) { metric(id: $id) { id attachments { id experiment { id } } } }";

async fn create(app: &TestApp, input: Value) -> Value {
    app.gql(
        users::ORG_ADMIN,
        CREATE_EXPERIMENT,
        json!({ "input": input }),
    )
    .await
}

async fn read(app: &TestApp, id: &str) -> Value {
    app.ok(users::ORG_ADMIN, EXPERIMENT, json!({"id": id}))
        .await["experiment"]
        .clone()
}

async fn update(app: &TestApp, id: &str, input: Value) -> Value {
    app.gql(
        users::ORG_ADMIN,
        UPDATE_EXPERIMENT,
        json!({"id": id, "input": input}),
    )
    .await
}

/// `(totalCount, ids newest first)` of `env`'s experiments, optionally only those with `status`.
async fn listed(app: &TestApp, env: &str, status: Option<&str>) -> (u64, Vec<String>) {
    let data = app
        .ok(
            users::ORG_ADMIN,
            EXPERIMENTS,
            json!({"key": env, "status": status}),
        )
        .await;
    let conn = &data["environment"]["experiments"];
    let ids = conn["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["id"].as_str().expect("id").to_owned())
        .collect();
    (conn["totalCount"].as_u64().expect("totalCount"), ids)
}

fn time(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp"))
        .expect("RFC 3339 timestamp")
}

/// Runs a lifecycle mutation that must succeed; returns the experiment it returned.
async fn step(app: &TestApp, mutation: &str, id: &str) -> Value {
    let body = app.lifecycle(mutation, id).await;
    assert_eq!(code(&body), "OK", "{mutation}: {body}");
    body["data"][mutation].clone()
}

db_test!(a_new_experiment_takes_the_documented_defaults, |app| {
    let world = app.world().await;
    let body = create(
        &app,
        json!({"environmentKey": ENV, "featureId": world.feature, "name": "Checkout"}),
    )
    .await;
    assert_eq!(code(&body), "OK", "{body}");
    let created = &body["data"]["createExperiment"];
    assert_eq!(created["status"], "CREATED");
    assert_eq!(created["exposureEvent"], "$flag_exposure");
    assert_eq!(created["controlVariant"], "control");
    assert_eq!(created["startedAt"], Value::Null);
    assert_eq!(created["endedAt"], Value::Null);
    assert_eq!(created["feature"]["id"], world.feature.as_str());

    let id = created["id"].as_str().expect("id");
    let stored = read(&app, id).await;
    assert_eq!(stored["name"], "Checkout");
    assert_eq!(stored["hypothesis"], "");
    assert_eq!(stored["status"], "CREATED");
    assert_eq!(stored["exposureEvent"], "$flag_exposure");
    assert_eq!(stored["controlVariant"], "control");
    assert_eq!(stored["deletedAt"], Value::Null);
    assert_eq!(stored["environment"]["key"], ENV);
    assert_eq!(stored["metrics"], json!([]));
    assert_eq!(listed(&app, ENV, None).await, (1, vec![id.to_owned()]));
});

db_test!(
    explicit_exposure_event_control_variant_and_hypothesis_are_kept,
    |app| {
        let world = app.world().await;
        let body = create(
            &app,
            json!({
                "environmentKey": ENV, "featureId": world.feature, "name": "Checkout",
                "hypothesis": "A green button sells more", "exposureEvent": "checkout_seen",
                "controlVariant": "treatment"
            }),
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        let stored = read(
            &app,
            body["data"]["createExperiment"]["id"].as_str().expect("id"),
        )
        .await;
        assert_eq!(stored["hypothesis"], "A green button sells more");
        assert_eq!(stored["exposureEvent"], "checkout_seen");
        assert_eq!(stored["controlVariant"], "treatment");
    }
);

db_test!(
    the_full_lifecycle_sets_started_at_once_and_ended_at_on_completion,
    |app| {
        let world = app.world().await;
        let id = app.experiment(ENV, &world.feature, "Checkout").await;

        let running = step(&app, "startExperiment", &id).await;
        assert_eq!(running["status"], "RUNNING");
        assert!(running["startedAt"].is_string(), "{running}");
        assert_eq!(running["endedAt"], Value::Null);
        let started_at = running["startedAt"].clone();
        assert_eq!(
            read(&app, &id).await["startedAt"],
            started_at,
            "startExperiment reports the startedAt that was stored"
        );

        let paused = step(&app, "pauseExperiment", &id).await;
        assert_eq!(paused["status"], "PAUSED");
        assert_eq!(paused["startedAt"], started_at);
        assert_eq!(paused["endedAt"], Value::Null);

        let resumed = step(&app, "startExperiment", &id).await;
        assert_eq!(resumed["status"], "RUNNING");
        assert_eq!(
            resumed["startedAt"], started_at,
            "resuming keeps the first start"
        );
        assert_eq!(resumed["endedAt"], Value::Null);

        let completed = step(&app, "completeExperiment", &id).await;
        assert_eq!(completed["status"], "COMPLETED");
        assert_eq!(completed["startedAt"], started_at);
        assert!(completed["endedAt"].is_string(), "{completed}");
        assert!(time(&completed["endedAt"]) >= time(&started_at));

        let stored = read(&app, &id).await;
        assert_eq!(stored["status"], "COMPLETED");
        assert_eq!(stored["startedAt"], started_at);
        assert_eq!(
            stored["endedAt"], completed["endedAt"],
            "completeExperiment reports the endedAt that was stored"
        );
        assert!(time(&stored["updatedAt"]) >= time(&stored["createdAt"]));
    }
);

db_test!(a_paused_experiment_can_be_completed_directly, |app| {
    let world = app.world().await;
    let id = app.experiment(ENV, &world.feature, "Checkout").await;
    step(&app, "startExperiment", &id).await;
    step(&app, "pauseExperiment", &id).await;
    let completed = step(&app, "completeExperiment", &id).await;
    assert_eq!(completed["status"], "COMPLETED");
    assert!(completed["startedAt"].is_string());
    assert!(completed["endedAt"].is_string());
});

db_test!(
    every_invalid_transition_is_bad_user_input_on_id_and_changes_nothing,
    |app| {
        let world = app.world().await;
        let id = app.experiment(ENV, &world.feature, "Checkout").await;
        // (the state to reach first, the refused transitions from it)
        let plan: [(Option<&str>, &str, &[&str]); 4] = [
            (None, "CREATED", &["pauseExperiment", "completeExperiment"]),
            (Some("startExperiment"), "RUNNING", &["startExperiment"]),
            (Some("pauseExperiment"), "PAUSED", &["pauseExperiment"]),
            (
                Some("completeExperiment"),
                "COMPLETED",
                &["startExperiment", "pauseExperiment", "completeExperiment"],
            ),
        ];
        for (reach, status, refused) in plan {
            if let Some(mutation) = reach {
                step(&app, mutation, &id).await;
            }
            let before = read(&app, &id).await;
            assert_eq!(before["status"], status);
            for mutation in refused {
                let body = app.lifecycle(mutation, &id).await;
                assert_eq!(
                    code(&body),
                    "BAD_USER_INPUT",
                    "{mutation} on {status}: {body}"
                );
                assert_eq!(field(&body), "id", "{mutation} on {status}: {body}");
                assert!(body["data"].is_null(), "{mutation} on {status}: {body}");
                let after = read(&app, &id).await;
                for key in ["status", "startedAt", "endedAt"] {
                    assert_eq!(
                        after[key], before[key],
                        "{mutation} on {status} changed {key}"
                    );
                }
            }
        }
    }
);

db_test!(
    lifecycle_mutations_on_an_unknown_experiment_are_not_found,
    |app| {
        app.world().await;
        for mutation in [
            "startExperiment",
            "pauseExperiment",
            "completeExperiment",
            "deleteExperiment",
        ] {
            let body = app.lifecycle(mutation, "no-such-experiment").await;
            assert_eq!(code(&body), "NOT_FOUND", "{mutation}: {body}");
        }
    }
);

db_test!(
    only_one_active_experiment_per_feature_and_environment,
    |app| {
        let world = app.world().await;
        let input =
            |name: &str| json!({"environmentKey": ENV, "featureId": world.feature, "name": name});
        let first = app.experiment(ENV, &world.feature, "First").await;

        let body = create(&app, input("Second")).await;
        assert_eq!(code(&body), "CONFLICT", "while CREATED: {body}");
        step(&app, "startExperiment", &first).await;
        let body = create(&app, input("Second")).await;
        assert_eq!(code(&body), "CONFLICT", "while RUNNING: {body}");
        step(&app, "pauseExperiment", &first).await;
        let body = create(&app, input("Second")).await;
        assert_eq!(code(&body), "CONFLICT", "while PAUSED: {body}");
        assert!(body["data"].is_null(), "{body}");
        assert_eq!(listed(&app, ENV, None).await, (1, vec![first.clone()]));

        // Another environment is independent.
        let elsewhere = app.experiment(OTHER_ENV, &world.feature, "Staging").await;
        assert_eq!(listed(&app, OTHER_ENV, None).await, (1, vec![elsewhere]));

        // Once the first completes, the feature is free again.
        step(&app, "completeExperiment", &first).await;
        let second = app.experiment(ENV, &world.feature, "Second").await;
        let body = create(&app, input("Third")).await;
        assert_eq!(code(&body), "CONFLICT", "the second is active now: {body}");

        // Deleting the active one frees it too.
        let body = app
            .gql(users::ORG_ADMIN, DELETE_EXPERIMENT, json!({"id": second}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let third = app.experiment(ENV, &world.feature, "Third").await;
        assert_eq!(listed(&app, ENV, None).await, (2, vec![third, first]));
    }
);

db_test!(
    concurrent_creates_for_one_feature_let_exactly_one_through,
    |app| {
        let world = app.world().await;
        let app = Arc::new(app);
        let tasks: Vec<_> = (0..8)
        .map(|i| {
            let app = Arc::clone(&app);
            let feature = world.feature.clone();
            tokio::spawn(async move {
                create(
                    &app,
                    json!({"environmentKey": ENV, "featureId": feature, "name": format!("Race {i}")}),
                )
                .await
            })
        })
        .collect();
        let mut codes = Vec::new();
        for task in tasks {
            let body = task.await.expect("request task");
            codes.push((code(&body), body));
        }
        let winners = codes.iter().filter(|(c, _)| c == "OK").count();
        let conflicts = codes.iter().filter(|(c, _)| c == "CONFLICT").count();
        assert_eq!(winners, 1, "exactly one create succeeds: {codes:#?}");
        assert_eq!(conflicts, 7, "every other create is CONFLICT: {codes:#?}");
        let (total, ids) = listed(&app, ENV, None).await;
        assert_eq!(total, 1);
        let winner = codes
            .iter()
            .find(|(c, _)| c == "OK")
            .map(|(_, body)| body["data"]["createExperiment"]["id"].clone())
            .expect("winner");
        assert_eq!(json!(ids), json!([winner]));
    }
);

db_test!(a_running_experiment_cannot_be_deleted, |app| {
    let world = app.world().await;
    let id = app.experiment(ENV, &world.feature, "Checkout").await;
    step(&app, "startExperiment", &id).await;
    let body = app
        .gql(users::ORG_ADMIN, DELETE_EXPERIMENT, json!({"id": id}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(field(&body), "id", "{body}");
    let stored = read(&app, &id).await;
    assert_eq!(stored["status"], "RUNNING");
    assert_eq!(stored["deletedAt"], Value::Null);
    assert_eq!(listed(&app, ENV, None).await, (1, vec![id]));
});

db_test!(
    a_deleted_experiment_disappears_with_its_attachments,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let id = app.experiment(ENV, &world.feature, "Checkout").await;
        app.attach(&id, &metric).await;
        step(&app, "startExperiment", &id).await;
        step(&app, "pauseExperiment", &id).await;
        let attachments = app
            .ok(users::ORG_ADMIN, METRIC_ATTACHMENTS, json!({"id": metric}))
            .await;
        assert_eq!(
            attachments["metric"]["attachments"][0]["experiment"]["id"],
            id.as_str()
        );

        let body = app
            .gql(users::ORG_ADMIN, DELETE_EXPERIMENT, json!({"id": id}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let deleted = &body["data"]["deleteExperiment"];
        assert_eq!(deleted["id"], id.as_str());
        assert_eq!(deleted["status"], "PAUSED");
        assert!(deleted["deletedAt"].is_string(), "{body}");

        let body = app
            .gql(users::ORG_ADMIN, EXPERIMENT, json!({"id": id}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        assert!(body["data"]["experiment"].is_null(), "{body}");
        assert_eq!(listed(&app, ENV, None).await, (0, vec![]));
        assert_eq!(listed(&app, ENV, Some("PAUSED")).await, (0, vec![]));
        let attachments = app
            .ok(users::ORG_ADMIN, METRIC_ATTACHMENTS, json!({"id": metric}))
            .await;
        assert_eq!(attachments["metric"]["attachments"], json!([]));

        let body = app
            .gql(users::ORG_ADMIN, DELETE_EXPERIMENT, json!({"id": id}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "deleting twice: {body}");
        for mutation in ["startExperiment", "completeExperiment"] {
            let body = app.lifecycle(mutation, &id).await;
            assert_eq!(
                code(&body),
                "NOT_FOUND",
                "{mutation} on a deleted one: {body}"
            );
        }
        let body = update(&app, &id, json!({"name": "Back"})).await;
        assert_eq!(code(&body), "NOT_FOUND", "update on a deleted one: {body}");
    }
);

db_test!(created_and_completed_experiments_can_be_deleted, |app| {
    let world = app.world().await;
    let created = app.experiment(ENV, &world.feature, "Created").await;
    let body = app
        .gql(users::ORG_ADMIN, DELETE_EXPERIMENT, json!({"id": created}))
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    let completed = app.experiment(ENV, &world.feature, "Completed").await;
    step(&app, "startExperiment", &completed).await;
    step(&app, "completeExperiment", &completed).await;
    let body = app
        .gql(
            users::ORG_ADMIN,
            DELETE_EXPERIMENT,
            json!({"id": completed}),
        )
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    assert_eq!(listed(&app, ENV, None).await, (0, vec![]));
});

db_test!(
    an_experiment_needs_a_feature_with_two_variants_of_the_environments_project,
    |app| {
        let world = app.world().await;
        let body = create(
            &app,
            json!({"environmentKey": ENV, "featureId": world.solo_feature, "name": "Solo"}),
        )
        .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "featureId", "{body}");

        let unknown = create(
            &app,
            json!({"environmentKey": ENV, "featureId": "no-such-feature", "name": "Ghost"}),
        )
        .await;
        assert_eq!(code(&unknown), "BAD_USER_INPUT", "{unknown}");
        assert_eq!(field(&unknown), "featureId", "{unknown}");

        // Another organisation's feature looks exactly like one that does not exist.
        let foreign = create(
            &app,
            json!({"environmentKey": ENV, "featureId": world.feature_b, "name": "Foreign"}),
        )
        .await;
        assert_eq!(code(&foreign), "BAD_USER_INPUT", "{foreign}");
        assert_eq!(field(&foreign), "featureId", "{foreign}");
        assert_eq!(
            foreign["errors"][0]["message"], unknown["errors"][0]["message"],
            "the message must not reveal that the feature exists"
        );
        assert_eq!(listed(&app, ENV, None).await, (0, vec![]));
    }
);

db_test!(the_control_variant_and_exposure_event_are_checked, |app| {
    let world = app.world().await;
    let base = |extra: Value| {
        let mut input =
            json!({"environmentKey": ENV, "featureId": world.feature, "name": "Checkout"});
        for (k, v) in extra.as_object().expect("object") {
            input[k] = v.clone();
        }
        input
    };
    let cases = [
        (json!({"controlVariant": "nope"}), "controlVariant"),
        (json!({"controlVariant": "Control"}), "controlVariant"),
        (json!({"controlVariant": ""}), "controlVariant"),
        (json!({"exposureEvent": ""}), "exposureEvent"),
        (json!({"exposureEvent": "e".repeat(201)}), "exposureEvent"),
        (json!({"name": ""}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "n".repeat(256)}), "name"),
        (json!({"hypothesis": "h".repeat(10_001)}), "hypothesis"),
    ];
    for (extra, expected) in cases {
        let body = create(&app, base(extra.clone())).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{extra}: {body}");
        assert_eq!(field(&body), expected, "{extra}: {body}");
    }
    assert_eq!(listed(&app, ENV, None).await.0, 0);

    let body = create(&app, base(json!({"name": "n".repeat(255)}))).await;
    assert_eq!(code(&body), "OK", "a 255-character name is fine: {body}");
});

db_test!(
    update_changes_name_and_hypothesis_and_measurement_only_before_the_start,
    |app| {
        let world = app.world().await;
        let id = app.experiment(ENV, &world.feature, "Checkout").await;

        let body = update(
        &app,
        &id,
        json!({"name": "Checkout v2", "hypothesis": "Green wins", "exposureEvent": "seen", "controlVariant": "treatment"}),
    )
    .await;
        assert_eq!(
            code(&body),
            "OK",
            "everything may change while CREATED: {body}"
        );
        let stored = read(&app, &id).await;
        assert_eq!(stored["name"], "Checkout v2");
        assert_eq!(stored["hypothesis"], "Green wins");
        assert_eq!(stored["exposureEvent"], "seen");
        assert_eq!(stored["controlVariant"], "treatment");

        let body = update(&app, &id, json!({"hypothesis": "Only this"})).await;
        assert_eq!(code(&body), "OK", "{body}");
        let stored = read(&app, &id).await;
        assert_eq!(stored["name"], "Checkout v2", "fields left out stay");
        assert_eq!(stored["hypothesis"], "Only this");

        let body = update(&app, &id, json!({"controlVariant": "nope"})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "controlVariant", "{body}");

        step(&app, "startExperiment", &id).await;
        for status in ["RUNNING", "PAUSED"] {
            if status == "PAUSED" {
                step(&app, "pauseExperiment", &id).await;
            }
            let body = update(&app, &id, json!({"name": format!("Named while {status}")})).await;
            assert_eq!(code(&body), "OK", "{status}: {body}");
            let body = update(&app, &id, json!({"hypothesis": format!("While {status}")})).await;
            assert_eq!(code(&body), "OK", "{status}: {body}");

            let body = update(&app, &id, json!({"exposureEvent": "other_event"})).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{status}: {body}");
            assert_eq!(field(&body), "exposureEvent", "{status}: {body}");
            let body = update(&app, &id, json!({"controlVariant": "control"})).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{status}: {body}");
            assert_eq!(field(&body), "controlVariant", "{status}: {body}");

            // A refused update changes nothing, not even the allowed part of it.
            let body = update(
                &app,
                &id,
                json!({"name": "Should not stick", "exposureEvent": "other_event"}),
            )
            .await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{status}: {body}");
            let stored = read(&app, &id).await;
            assert_eq!(stored["name"], format!("Named while {status}"));
            assert_eq!(stored["hypothesis"], format!("While {status}"));
            assert_eq!(stored["exposureEvent"], "seen");
            assert_eq!(stored["controlVariant"], "treatment");
        }
    }
);

db_test!(update_refuses_every_change_once_completed, |app| {
    let world = app.world().await;
    let id = app.experiment(ENV, &world.feature, "Checkout").await;
    step(&app, "startExperiment", &id).await;
    step(&app, "completeExperiment", &id).await;
    for input in [
        json!({"name": "Renamed"}),
        json!({"hypothesis": "Late insight"}),
        json!({"exposureEvent": "other"}),
        json!({"controlVariant": "treatment"}),
    ] {
        let body = update(&app, &id, input.clone()).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{input}: {body}");
        assert_eq!(field(&body), "id", "{input}: {body}");
    }
    let stored = read(&app, &id).await;
    assert_eq!(stored["name"], "Checkout");
    assert_eq!(stored["hypothesis"], "");
    assert_eq!(stored["exposureEvent"], "$flag_exposure");
    assert_eq!(stored["controlVariant"], "control");
});

db_test!(update_checks_the_name_like_create, |app| {
    let world = app.world().await;
    let id = app.experiment(ENV, &world.feature, "Checkout").await;
    for name in [String::new(), " ".into(), "n".repeat(256)] {
        let body = update(&app, &id, json!({"name": name})).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{name:?}: {body}");
        assert_eq!(field(&body), "name", "{name:?}: {body}");
    }
    let body = update(&app, &id, json!({"exposureEvent": ""})).await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(field(&body), "exposureEvent", "{body}");
    assert_eq!(read(&app, &id).await["name"], "Checkout");
    let body = update(&app, &id, json!({"name": "n".repeat(255)})).await;
    assert_eq!(code(&body), "OK", "{body}");
});

db_test!(
    the_status_filter_lists_only_experiments_in_that_status,
    |app| {
        let world = app.world().await;
        let f2 = app
            .feature(&world.project_a, "search", "control:1,treatment:1")
            .await;
        let f3 = app
            .feature(&world.project_a, "pricing", "control:1,treatment:1")
            .await;
        let completed = app.experiment(ENV, &world.feature, "Completed").await;
        step(&app, "startExperiment", &completed).await;
        step(&app, "completeExperiment", &completed).await;
        let created = app.experiment(ENV, &world.feature, "Created").await;
        let running = app.experiment(ENV, &f2, "Running").await;
        step(&app, "startExperiment", &running).await;
        let paused = app.experiment(ENV, &f3, "Paused").await;
        step(&app, "startExperiment", &paused).await;
        step(&app, "pauseExperiment", &paused).await;
        // Noise in another environment.
        let elsewhere = app.experiment(OTHER_ENV, &f2, "Running elsewhere").await;
        step(&app, "startExperiment", &elsewhere).await;

        assert_eq!(
            listed(&app, ENV, Some("RUNNING")).await,
            (1, vec![running.clone()])
        );
        assert_eq!(
            listed(&app, ENV, Some("CREATED")).await,
            (1, vec![created.clone()])
        );
        assert_eq!(
            listed(&app, ENV, Some("PAUSED")).await,
            (1, vec![paused.clone()])
        );
        assert_eq!(
            listed(&app, ENV, Some("COMPLETED")).await,
            (1, vec![completed.clone()])
        );
        assert_eq!(
            listed(&app, ENV, None).await,
            (4, vec![paused, running, created, completed])
        );
        assert_eq!(
            listed(&app, OTHER_ENV, Some("RUNNING")).await,
            (1, vec![elsewhere])
        );
    }
);
