//! Attaching metrics to experiments: defaults, duplicates, deleted and foreign metrics, the freeze on
//! completed experiments, updating an attachment, and detaching.

use crate::helpers::*;
use serde_json::{json, Value};

const UPDATE_ATTACHMENT: &str = "mutation($id: ID!, $input: UpdateExperimentMetricInput!) { updateExperimentMetric(id: $id, input: $input) { id role expectedDirection metric { id } experiment { id } } }";

const DETACH: &str = "mutation($id: ID!) { detachMetric(id: $id) { id role expectedDirection metric { id } experiment { id } } }";

const EXPERIMENT_METRICS: &str = "query($id: ID!) { experiment(id: $id) { metrics { id role expectedDirection metric { id name } experiment { id } } } }";

const METRIC_ATTACHMENTS: &str = "query($id: ID!) { metric(id: $id) { attachments { id role expectedDirection experiment { id } metric { id } } } }";

async fn attach_with(app: &TestApp, input: Value) -> Value {
    app.gql(users::ORG_ADMIN, ATTACH_METRIC, json!({ "input": input }))
        .await
}

async fn experiment_metrics(app: &TestApp, experiment: &str) -> Vec<Value> {
    app.ok(
        users::ORG_ADMIN,
        EXPERIMENT_METRICS,
        json!({"id": experiment}),
    )
    .await["experiment"]["metrics"]
        .as_array()
        .expect("metrics")
        .clone()
}

async fn metric_attachments(app: &TestApp, metric: &str) -> Vec<Value> {
    app.ok(users::ORG_ADMIN, METRIC_ATTACHMENTS, json!({"id": metric}))
        .await["metric"]["attachments"]
        .as_array()
        .expect("attachments")
        .clone()
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect()
}

db_test!(
    attaching_defaults_to_the_primary_role_and_shows_on_both_sides,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;

        let body = attach_with(
        &app,
        json!({"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}),
    )
    .await;
        assert_eq!(code(&body), "OK", "{body}");
        let attachment = &body["data"]["attachMetric"];
        assert_eq!(attachment["role"], "PRIMARY");
        assert_eq!(attachment["expectedDirection"], "INCREASE");
        assert_eq!(attachment["metric"]["id"], metric.as_str());
        assert_eq!(attachment["experiment"]["id"], experiment.as_str());
        let id = attachment["id"].as_str().expect("id").to_owned();

        let on_experiment = experiment_metrics(&app, &experiment).await;
        assert_eq!(ids(&on_experiment), [id.as_str()]);
        assert_eq!(on_experiment[0]["role"], "PRIMARY");
        assert_eq!(on_experiment[0]["metric"]["name"], "Conversion");
        let on_metric = metric_attachments(&app, &metric).await;
        assert_eq!(ids(&on_metric), [id]);
        assert_eq!(on_metric[0]["experiment"]["id"], experiment.as_str());
    }
);

db_test!(
    an_explicit_role_and_direction_are_kept_and_metrics_list_in_attach_order,
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        let mut expected = Vec::new();
        for (name, role, direction) in [
            ("Zeta guardrail", "GUARDRAIL", "NOT_INCREASE"),
            ("Alpha secondary", "SECONDARY", "DECREASE"),
            ("Middle primary", "PRIMARY", "NOT_DECREASE"),
        ] {
            let metric = app.metric(ENV, name).await;
            let body = attach_with(
            &app,
            json!({"experimentId": experiment, "metricId": metric, "expectedDirection": direction, "role": role}),
        )
        .await;
            assert_eq!(code(&body), "OK", "{body}");
            assert_eq!(body["data"]["attachMetric"]["role"], role);
            assert_eq!(body["data"]["attachMetric"]["expectedDirection"], direction);
            expected.push((name, role, direction));
        }
        let listed: Vec<(String, String, String)> = experiment_metrics(&app, &experiment)
            .await
            .iter()
            .map(|a| {
                (
                    a["metric"]["name"].as_str().expect("name").to_owned(),
                    a["role"].as_str().expect("role").to_owned(),
                    a["expectedDirection"].as_str().expect("dir").to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String, String)> = expected
            .into_iter()
            .map(|(n, r, d)| (n.into(), r.into(), d.into()))
            .collect();
        assert_eq!(listed, expected, "in the order they were attached");
    }
);

db_test!(metrics_can_be_attached_while_running_and_paused, |app| {
    let world = app.world().await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    assert_eq!(
        code(&app.lifecycle("startExperiment", &experiment).await),
        "OK"
    );
    let while_running = app.metric(ENV, "While running").await;
    app.attach(&experiment, &while_running).await;
    assert_eq!(
        code(&app.lifecycle("pauseExperiment", &experiment).await),
        "OK"
    );
    let while_paused = app.metric(ENV, "While paused").await;
    let attachment = app.attach(&experiment, &while_paused).await;
    assert_eq!(experiment_metrics(&app, &experiment).await.len(), 2);
    let body = app
        .gql(
            users::ORG_ADMIN,
            UPDATE_ATTACHMENT,
            json!({"id": attachment, "input": {"role": "GUARDRAIL"}}),
        )
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    let body = app
        .gql(users::ORG_ADMIN, DETACH, json!({"id": attachment}))
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    assert_eq!(experiment_metrics(&app, &experiment).await.len(), 1);
});

db_test!(attaching_the_same_metric_twice_conflicts, |app| {
    let world = app.world().await;
    let metric = app.metric(ENV, "Conversion").await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    let first = app.attach(&experiment, &metric).await;
    let body = attach_with(
        &app,
        json!({"experimentId": experiment, "metricId": metric, "expectedDirection": "DECREASE", "role": "GUARDRAIL"}),
    )
    .await;
    assert_eq!(code(&body), "CONFLICT", "{body}");
    assert!(body["data"].is_null(), "{body}");
    let listed = experiment_metrics(&app, &experiment).await;
    assert_eq!(ids(&listed), [first]);
    assert_eq!(listed[0]["role"], "PRIMARY");
    assert_eq!(listed[0]["expectedDirection"], "INCREASE");
});

db_test!(
    attaching_a_deleted_or_unknown_metric_or_to_an_unknown_experiment_is_not_found,
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        let deleted = app.metric(ENV, "Deleted").await;
        app.ok(
            users::ORG_ADMIN,
            "mutation($id: ID!) { deleteMetric(id: $id) { id } }",
            json!({"id": deleted}),
        )
        .await;
        let live = app.metric(ENV, "Live").await;

        let cases = [
            ("deleted metric", experiment.as_str(), deleted.as_str()),
            ("unknown metric", experiment.as_str(), "no-such-metric"),
            ("unknown experiment", "no-such-experiment", live.as_str()),
        ];
        for (case, experiment_id, metric_id) in cases {
            let body = attach_with(
            &app,
            json!({"experimentId": experiment_id, "metricId": metric_id, "expectedDirection": "INCREASE"}),
        )
        .await;
            assert_eq!(code(&body), "NOT_FOUND", "{case}: {body}");
        }
        assert!(experiment_metrics(&app, &experiment).await.is_empty());
    }
);

db_test!(a_metric_of_another_environment_cannot_be_attached, |app| {
    let world = app.world().await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    let staging_metric = app.metric(OTHER_ENV, "Conversion").await;
    let body = attach_with(
        &app,
        json!({"experimentId": experiment, "metricId": staging_metric, "expectedDirection": "INCREASE"}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
    assert_eq!(field(&body), "metricId", "{body}");
    assert!(experiment_metrics(&app, &experiment).await.is_empty());
    assert!(metric_attachments(&app, &staging_metric).await.is_empty());
});

db_test!(the_metrics_of_a_completed_experiment_are_frozen, |app| {
    let world = app.world().await;
    let attached = app.metric(ENV, "Attached").await;
    let newcomer = app.metric(ENV, "Newcomer").await;
    let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
    let attachment = app.attach(&experiment, &attached).await;
    assert_eq!(
        code(&app.lifecycle("startExperiment", &experiment).await),
        "OK"
    );
    let body = app.lifecycle("completeExperiment", &experiment).await;
    assert_eq!(code(&body), "OK", "{body}");

    let body = attach_with(
        &app,
        json!({"experimentId": experiment, "metricId": newcomer, "expectedDirection": "INCREASE"}),
    )
    .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "attach: {body}");
    assert_eq!(field(&body), "experimentId", "attach: {body}");

    let body = app
        .gql(
            users::ORG_ADMIN,
            UPDATE_ATTACHMENT,
            json!({"id": attachment, "input": {"role": "GUARDRAIL", "expectedDirection": "DECREASE"}}),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "update: {body}");
    assert_eq!(field(&body), "experimentId", "update: {body}");

    let body = app
        .gql(users::ORG_ADMIN, DETACH, json!({"id": attachment}))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "detach: {body}");
    assert_eq!(field(&body), "experimentId", "detach: {body}");

    let listed = experiment_metrics(&app, &experiment).await;
    assert_eq!(ids(&listed), [attachment]);
    assert_eq!(listed[0]["role"], "PRIMARY");
    assert_eq!(listed[0]["expectedDirection"], "INCREASE");
    assert!(metric_attachments(&app, &newcomer).await.is_empty());
});

db_test!(
    updating_an_attachment_changes_its_role_and_expected_direction,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        let attachment = app.attach(&experiment, &metric).await;

        let body = app
        .gql(
            users::ORG_ADMIN,
            UPDATE_ATTACHMENT,
            json!({"id": attachment, "input": {"role": "GUARDRAIL", "expectedDirection": "NOT_DECREASE"}}),
        )
        .await;
        assert_eq!(code(&body), "OK", "{body}");
        let updated = &body["data"]["updateExperimentMetric"];
        assert_eq!(updated["id"], attachment.as_str());
        assert_eq!(updated["role"], "GUARDRAIL");
        assert_eq!(updated["expectedDirection"], "NOT_DECREASE");
        assert_eq!(updated["metric"]["id"], metric.as_str());
        assert_eq!(updated["experiment"]["id"], experiment.as_str());

        // Fields left out stay as they are.
        let body = app
            .gql(
                users::ORG_ADMIN,
                UPDATE_ATTACHMENT,
                json!({"id": attachment, "input": {"role": "SECONDARY"}}),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let body = app
            .gql(
                users::ORG_ADMIN,
                UPDATE_ATTACHMENT,
                json!({"id": attachment, "input": {"expectedDirection": "DECREASE"}}),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");

        let listed = experiment_metrics(&app, &experiment).await;
        assert_eq!(listed[0]["role"], "SECONDARY");
        assert_eq!(listed[0]["expectedDirection"], "DECREASE");
        let on_metric = metric_attachments(&app, &metric).await;
        assert_eq!(on_metric[0]["role"], "SECONDARY");
        assert_eq!(on_metric[0]["expectedDirection"], "DECREASE");

        let body = app
            .gql(
                users::ORG_ADMIN,
                UPDATE_ATTACHMENT,
                json!({"id": "no-such-attachment", "input": {"role": "PRIMARY"}}),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
    }
);

db_test!(
    detaching_removes_the_attachment_everywhere_and_allows_reattaching,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let other = app.metric(ENV, "Revenue").await;
        let experiment = app.experiment(ENV, &world.feature, "Checkout").await;
        let attachment = app.attach(&experiment, &metric).await;
        let kept = app.attach(&experiment, &other).await;

        let body = app
            .gql(users::ORG_ADMIN, DETACH, json!({"id": attachment}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        let detached = &body["data"]["detachMetric"];
        assert_eq!(detached["id"], attachment.as_str());
        assert_eq!(detached["metric"]["id"], metric.as_str());
        assert_eq!(detached["experiment"]["id"], experiment.as_str());

        assert_eq!(
            ids(&experiment_metrics(&app, &experiment).await),
            [kept.as_str()]
        );
        assert!(metric_attachments(&app, &metric).await.is_empty());

        let body = app
            .gql(users::ORG_ADMIN, DETACH, json!({"id": attachment}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "detaching twice: {body}");
        let body = app
            .gql(
                users::ORG_ADMIN,
                UPDATE_ATTACHMENT,
                json!({"id": attachment, "input": {"role": "GUARDRAIL"}}),
            )
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "updating a detached one: {body}");

        let again = app.attach(&experiment, &metric).await;
        assert_ne!(again, attachment);
        assert_eq!(
            ids(&experiment_metrics(&app, &experiment).await),
            [kept, again.clone()]
        );
        assert_eq!(ids(&metric_attachments(&app, &metric).await), [again]);
    }
);

db_test!(
    a_metric_shows_its_attachments_to_every_live_experiment,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Conversion").await;
        let done = app.experiment(ENV, &world.feature, "Done").await;
        let first = app.attach(&done, &metric).await;
        assert_eq!(code(&app.lifecycle("startExperiment", &done).await), "OK");
        assert_eq!(
            code(&app.lifecycle("completeExperiment", &done).await),
            "OK"
        );
        let active = app.experiment(ENV, &world.feature, "Active").await;
        let second = app.attach(&active, &metric).await;
        let mut listed = ids(&metric_attachments(&app, &metric).await);
        listed.sort();
        let mut expected = vec![first, second];
        expected.sort();
        assert_eq!(listed, expected);
    }
);
