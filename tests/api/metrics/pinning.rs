//! Attachments pin the metric's version current when attached: a later edit of the metric leaves
//! them (and what they show as their definition) where they were, until `upgradeExperimentMetric`
//! moves them to the latest version (experiment admins; refused on a completed experiment,
//! CONFLICT when already there; audited).

use super::*;

const UPDATE: &str = "mutation($id: ID!, $input: UpdateMetricInput!) { updateMetric(id: $id, input: $input) { id version } }";

const UPGRADE: &str = "mutation($id: ID!) { upgradeExperimentMetric(id: $id) { id metricVersion definition { version definition { event } } metric { version definition { event } } } }";

const PINNED: &str = "query($id: ID!) { experiment(id: $id) { metrics { id metricVersion definition { version metricType aggregation direction createdAt definition { event } } metric { id version definition { event } } } } }";

const ATTACHMENT_AUDIT: &str = "query { environment(key: \"prod\") { auditLogs(first: 50, relatedObjectType: EXPERIMENT_METRIC) { edges { node { action relatedObjectId log changes } } } } }";

/// The one attachment of `experiment`: `(metricVersion, pinned event, latest version, latest event)`.
async fn pinned(app: &TestApp, experiment: &str) -> (u64, String, u64, String) {
    let data = app
        .ok(users::ORG_ADMIN, PINNED, json!({ "id": experiment }))
        .await;
    let attachment = &data["experiment"]["metrics"][0];
    assert_eq!(
        attachment["metricVersion"], attachment["definition"]["version"],
        "{data}"
    );
    let text = |v: &Value| v.as_str().expect("event").to_owned();
    (
        attachment["metricVersion"].as_u64().expect("metricVersion"),
        text(&attachment["definition"]["definition"]["event"]),
        attachment["metric"]["version"].as_u64().expect("version"),
        text(&attachment["metric"]["definition"]["event"]),
    )
}

async fn edit(app: &TestApp, metric: &str, event: &str) {
    let body = app
        .gql(
            users::ORG_ADMIN,
            UPDATE,
            json!({"id": metric, "input": {"definition": {"event": event}}}),
        )
        .await;
    assert_eq!(code(&body), "OK", "{body}");
}

async fn upgrade(app: &TestApp, user: &str, attachment: &str) -> Value {
    app.gql(user, UPGRADE, json!({ "id": attachment })).await
}

db_test!(attachments_keep_their_version_until_upgraded, |app| {
    let world = app.world().await;
    let metric = app.metric(ENV, "Views").await;
    let checkout = app.experiment(ENV, &world.feature, "Checkout").await;
    let attachment = app.attach(&checkout, &metric).await;
    assert_eq!(
        pinned(&app, &checkout).await,
        (1, "page_view".into(), 1, "page_view".into())
    );

    edit(&app, &metric, "screen_view").await;
    assert_eq!(
        pinned(&app, &checkout).await,
        (1, "page_view".into(), 2, "screen_view".into()),
        "the attachment stays on version 1"
    );
    // A new attachment pins the version current now.
    let pricing = app
        .feature(&world.project_a, "pricing", "control:1,treatment:1")
        .await;
    let prices = app.experiment(ENV, &pricing, "Prices").await;
    app.attach(&prices, &metric).await;
    assert_eq!(
        pinned(&app, &prices).await,
        (2, "screen_view".into(), 2, "screen_view".into())
    );

    // Viewers may not upgrade; who cannot see the experiment gets NOT_FOUND.
    let viewer = upgrade(&app, users::ENV_VIEWER, &attachment).await;
    assert_eq!(code(&viewer), "FORBIDDEN", "{viewer}");
    let outsider = upgrade(&app, users::OUTSIDER, &attachment).await;
    assert_eq!(code(&outsider), "NOT_FOUND", "{outsider}");
    assert_eq!(pinned(&app, &checkout).await.0, 1);

    let upgraded = upgrade(&app, users::ENV_ADMIN, &attachment).await;
    assert_eq!(code(&upgraded), "OK", "{upgraded}");
    let node = &upgraded["data"]["upgradeExperimentMetric"];
    assert_eq!(node["metricVersion"], 2);
    assert_eq!(node["definition"]["definition"]["event"], "screen_view");
    assert_eq!(
        pinned(&app, &checkout).await,
        (2, "screen_view".into(), 2, "screen_view".into())
    );

    let again = upgrade(&app, users::ORG_ADMIN, &attachment).await;
    assert_eq!(code(&again), "CONFLICT", "already at the latest: {again}");

    // One audit entry for the upgrade, with the pinned version's change.
    let data = app.ok(users::ORG_ADMIN, ATTACHMENT_AUDIT, json!({})).await;
    let entries = data["environment"]["auditLogs"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let upgrades: Vec<&Value> = entries
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["action"] == "UPDATED")
        .collect();
    assert_eq!(upgrades.len(), 1, "{data}");
    assert_eq!(upgrades[0]["relatedObjectId"], attachment);
    assert_eq!(
        upgrades[0]["changes"],
        json!({"before": {"metricVersion": 1}, "after": {"metricVersion": 2}})
    );
    assert!(
        upgrades[0]["log"]
            .as_str()
            .expect("log")
            .contains("version 2"),
        "{data}"
    );
});

db_test!(
    a_completed_experiments_attachments_cannot_be_upgraded,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "Views").await;
        let checkout = app.experiment(ENV, &world.feature, "Checkout").await;
        let attachment = app.attach(&checkout, &metric).await;
        for mutation in ["startExperiment", "completeExperiment"] {
            let body = app.lifecycle(mutation, &checkout).await;
            assert_eq!(code(&body), "OK", "{body}");
        }
        edit(&app, &metric, "screen_view").await;
        let refused = upgrade(&app, users::ORG_ADMIN, &attachment).await;
        assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused}");
        assert_eq!(
            pinned(&app, &checkout).await,
            (1, "page_view".into(), 2, "screen_view".into())
        );
    }
);
