//! How each operation of the permission matrix is run as a given user: on fresh fixtures made by
//! the organisation admin, with the state checked afterwards — a success did what it says, a
//! refusal changed nothing.

use super::matrix::Op;
use super::*;

const UPDATE_EXPERIMENT: &str = "mutation($id: ID!, $input: UpdateExperimentInput!) { updateExperiment(id: $id, input: $input) { id name } }";
const DELETE_EXPERIMENT: &str = "mutation($id: ID!) { deleteExperiment(id: $id) { id deletedAt } }";
const UPDATE_METRIC: &str = "mutation($id: ID!, $input: UpdateMetricInput!) { updateMetric(id: $id, input: $input) { id name version } }";
const UPGRADE_ATTACHMENT: &str =
    "mutation($id: ID!) { upgradeExperimentMetric(id: $id) { id metricVersion } }";
const UPDATE_ATTACHMENT: &str = "mutation($id: ID!, $input: UpdateExperimentMetricInput!) { updateExperimentMetric(id: $id, input: $input) { id role expectedDirection } }";

/// `Err` with a description unless `cond` holds.
fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// A fresh two-variant feature of project `shop`, so its experiments never collide with others.
async fn fresh_feature(app: &TestApp, world: &World, n: usize) -> String {
    app.feature(
        &world.project_a,
        &format!("feature-{n}"),
        "control:1,treatment:1",
    )
    .await
}

/// A fresh experiment in `prod` (status CREATED) on its own feature.
async fn fresh_experiment(app: &TestApp, world: &World, n: usize) -> String {
    let feature = fresh_feature(app, world, n).await;
    app.experiment(ENV, &feature, &format!("experiment {n}"))
        .await
}

/// A fresh RUNNING experiment in `prod`.
async fn running_experiment(app: &TestApp, world: &World, n: usize) -> String {
    let id = fresh_experiment(app, world, n).await;
    let body = app.lifecycle("startExperiment", &id).await;
    assert_eq!(code(&body), "OK", "starting a fixture: {body}");
    id
}

/// Runs `op` as `user` on fresh fixtures (made by the organisation admin), then checks the state:
/// on `OK` the operation took effect, on any error nothing changed and the field is `null`.
/// Returns the code, or a description of the inconsistency.
pub(super) async fn exercise(
    app: &TestApp,
    world: &World,
    n: usize,
    op: Op,
    user: &str,
) -> Result<String, String> {
    let (body, field_name) = match op {
        Op::Environment => {
            let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key name } }",
                    json!({"key": ENV}),
                )
                .await;
            if code(&body) == "OK" {
                check(body["data"]["environment"]["key"] == ENV, || {
                    format!("environment not returned: {body}")
                })?;
            }
            (body, "environment")
        }
        Op::MetricList | Op::ExperimentList => {
            let (id, query, list) = if op == Op::MetricList {
                (
                    app.metric(ENV, &format!("listed {n}")).await,
                    ENV_METRICS,
                    "metrics",
                )
            } else {
                (
                    fresh_experiment(app, world, n).await,
                    ENV_EXPERIMENTS,
                    "experiments",
                )
            };
            let body = app.gql(user, query, json!({"key": ENV})).await;
            if code(&body) == "OK" {
                let nodes = &body["data"]["environment"][list]["nodes"];
                let listed = nodes
                    .as_array()
                    .is_some_and(|nodes| nodes.iter().any(|node| node["id"] == id.as_str()));
                check(listed, || format!("{id} not listed: {body}"))?;
            }
            (body, "environment")
        }
        Op::ReadMetric => {
            let id = app.metric(ENV, &format!("read {n}")).await;
            let body = app.gql(user, READ_METRIC, json!({"id": id})).await;
            if code(&body) == "OK" {
                check(body["data"]["metric"]["id"] == id.as_str(), || {
                    format!("metric not returned: {body}")
                })?;
            }
            (body, "metric")
        }
        Op::ReadExperiment => {
            let id = fresh_experiment(app, world, n).await;
            let body = app.gql(user, READ_EXPERIMENT, json!({"id": id})).await;
            if code(&body) == "OK" {
                check(body["data"]["experiment"]["id"] == id.as_str(), || {
                    format!("experiment not returned: {body}")
                })?;
            }
            (body, "experiment")
        }
        Op::CreateMetric => {
            let before = metric_count(app, ENV).await;
            let name = format!("created {n}");
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, &name)}),
                )
                .await;
            let after = metric_count(app, ENV).await;
            if code(&body) == "OK" {
                check(
                    body["data"]["createMetric"]["name"] == name.as_str(),
                    || format!("wrong result: {body}"),
                )?;
                check(after == before + 1, || {
                    format!("metric count went {before} -> {after} after a success")
                })?;
            } else {
                check(after == before, || {
                    format!("metric count went {before} -> {after} after a refusal: {body}")
                })?;
            }
            (body, "createMetric")
        }
        Op::DeleteMetric => {
            let id = app.metric(ENV, &format!("doomed {n}")).await;
            let body = app.gql(user, DELETE_METRIC, json!({"id": id})).await;
            let (admin_code, _) = admin_metric(app, &id).await;
            if code(&body) == "OK" {
                check(
                    body["data"]["deleteMetric"]["deletedAt"].is_string(),
                    || format!("deletedAt not set: {body}"),
                )?;
                check(admin_code == "NOT_FOUND", || {
                    format!("deleted metric still readable by the org admin ({admin_code})")
                })?;
            } else {
                check(admin_code == "OK", || {
                    format!("refused deleteMetric removed the metric ({admin_code}): {body}")
                })?;
            }
            (body, "deleteMetric")
        }
        Op::UpdateMetric => {
            let id = app.metric(ENV, &format!("edited {n}")).await;
            let body = app
                .gql(
                    user,
                    UPDATE_METRIC,
                    json!({"id": id, "input": {"name": format!("renamed {n}"), "direction": "DOWN"}}),
                )
                .await;
            let (_, seen) = admin_metric(app, &id).await;
            let expected = match code(&body).as_str() {
                "OK" => json!([format!("renamed {n}"), 2]),
                _ => json!([format!("edited {n}"), 1]),
            };
            check(json!([seen["name"], seen["version"]]) == expected, || {
                format!("metric should be {expected}, is {seen}: {body}")
            })?;
            (body, "updateMetric")
        }
        Op::CreateExperiment => {
            let feature = fresh_feature(app, world, n).await;
            let before = experiment_count(app, ENV).await;
            let body = app
                .gql(
                    user,
                    CREATE_EXPERIMENT,
                    json!({"input": {"environmentKey": ENV, "featureId": feature, "name": format!("new {n}")}}),
                )
                .await;
            let after = experiment_count(app, ENV).await;
            if code(&body) == "OK" {
                check(
                    body["data"]["createExperiment"]["status"] == "CREATED",
                    || format!("wrong result: {body}"),
                )?;
                check(after == before + 1, || {
                    format!("experiment count went {before} -> {after} after a success")
                })?;
            } else {
                check(after == before, || {
                    format!("experiment count went {before} -> {after} after a refusal: {body}")
                })?;
            }
            (body, "createExperiment")
        }
        Op::UpdateExperiment => {
            let id = fresh_experiment(app, world, n).await;
            let body = app
                .gql(
                    user,
                    UPDATE_EXPERIMENT,
                    json!({"id": id, "input": {"name": "renamed"}}),
                )
                .await;
            let (_, seen) = admin_experiment(app, &id).await;
            let expected = if code(&body) == "OK" {
                "renamed".to_owned()
            } else {
                format!("experiment {n}")
            };
            check(seen["name"] == expected.as_str(), || {
                format!("name should be {expected:?}, is {}: {body}", seen["name"])
            })?;
            (body, "updateExperiment")
        }
        Op::StartExperiment | Op::PauseExperiment | Op::CompleteExperiment => {
            let (mutation, id, before, after) = match op {
                Op::StartExperiment => (
                    "startExperiment",
                    fresh_experiment(app, world, n).await,
                    "CREATED",
                    "RUNNING",
                ),
                Op::PauseExperiment => (
                    "pauseExperiment",
                    running_experiment(app, world, n).await,
                    "RUNNING",
                    "PAUSED",
                ),
                _ => (
                    "completeExperiment",
                    running_experiment(app, world, n).await,
                    "RUNNING",
                    "COMPLETED",
                ),
            };
            let body = app
                .gql(user, &lifecycle_mutation(mutation), json!({"id": id}))
                .await;
            let (_, seen) = admin_experiment(app, &id).await;
            let expected = if code(&body) == "OK" { after } else { before };
            check(seen["status"] == expected, || {
                format!("status should be {expected}, is {}: {body}", seen["status"])
            })?;
            if code(&body) == "OK" {
                check(body["data"][mutation]["status"] == after, || {
                    format!("wrong result: {body}")
                })?;
            }
            (body, mutation)
        }
        Op::DeleteExperiment => {
            let id = fresh_experiment(app, world, n).await;
            let body = app.gql(user, DELETE_EXPERIMENT, json!({"id": id})).await;
            let (admin_code, seen) = admin_experiment(app, &id).await;
            if code(&body) == "OK" {
                check(
                    body["data"]["deleteExperiment"]["deletedAt"].is_string(),
                    || format!("deletedAt not set: {body}"),
                )?;
                check(admin_code == "NOT_FOUND", || {
                    format!("deleted experiment still readable by the org admin ({admin_code})")
                })?;
            } else {
                check(admin_code == "OK" && seen["status"] == "CREATED", || {
                    format!("refused deleteExperiment changed it ({admin_code}, {seen}): {body}")
                })?;
            }
            (body, "deleteExperiment")
        }
        Op::AttachMetric => {
            let experiment = fresh_experiment(app, world, n).await;
            let metric = app.metric(ENV, &format!("attached {n}")).await;
            let body = app
                .gql(
                    user,
                    ATTACH_METRIC,
                    json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}}),
                )
                .await;
            let (_, seen) = admin_experiment(app, &experiment).await;
            let attached: Vec<&Value> = seen["metrics"]
                .as_array()
                .map(|list| list.iter().map(|a| &a["metric"]["id"]).collect())
                .unwrap_or_default();
            if code(&body) == "OK" {
                check(attached == [&json!(metric)], || {
                    format!("attachment not made: {seen}")
                })?;
                check(
                    body["data"]["attachMetric"]["metric"]["id"] == metric.as_str(),
                    || format!("wrong result: {body}"),
                )?;
            } else {
                check(attached.is_empty(), || {
                    format!("refused attachMetric attached something: {seen}")
                })?;
            }
            (body, "attachMetric")
        }
        Op::UpgradeExperimentMetric => {
            let experiment = fresh_experiment(app, world, n).await;
            let metric = app.metric(ENV, &format!("upgraded {n}")).await;
            let attachment = app.attach(&experiment, &metric).await;
            let edited = app
                .gql(
                    ORG_ADMIN,
                    UPDATE_METRIC,
                    json!({"id": metric, "input": {"definition": {"event": "upgraded"}}}),
                )
                .await;
            assert_eq!(code(&edited), "OK", "editing a fixture: {edited}");
            let body = app
                .gql(user, UPGRADE_ATTACHMENT, json!({"id": attachment}))
                .await;
            let (_, seen) = admin_experiment(app, &experiment).await;
            let expected = if code(&body) == "OK" { 2 } else { 1 };
            check(seen["metrics"][0]["metricVersion"] == expected, || {
                format!("the attachment should pin version {expected}: {seen}: {body}")
            })?;
            (body, "upgradeExperimentMetric")
        }
        Op::UpdateExperimentMetric | Op::DetachMetric => {
            let experiment = fresh_experiment(app, world, n).await;
            let metric = app.metric(ENV, &format!("attached {n}")).await;
            let attachment = app.attach(&experiment, &metric).await;
            let (mutation, body) = if op == Op::UpdateExperimentMetric {
                let body = app
                    .gql(
                        user,
                        UPDATE_ATTACHMENT,
                        json!({"id": attachment, "input": {"role": "GUARDRAIL", "expectedDirection": "DECREASE"}}),
                    )
                    .await;
                ("updateExperimentMetric", body)
            } else {
                let body = app
                    .gql(user, DETACH_METRIC, json!({"id": attachment}))
                    .await;
                ("detachMetric", body)
            };
            let (_, seen) = admin_experiment(app, &experiment).await;
            let list = seen["metrics"].as_array().cloned().unwrap_or_default();
            let ok = code(&body) == "OK";
            let expected = match (op, ok) {
                (Op::DetachMetric, true) => vec![],
                (Op::UpdateExperimentMetric, true) => {
                    vec![(attachment.as_str(), "GUARDRAIL", "DECREASE")]
                }
                _ => vec![(attachment.as_str(), "PRIMARY", "INCREASE")],
            };
            let actual: Vec<(&str, &str, &str)> = list
                .iter()
                .map(|a| {
                    (
                        a["id"].as_str().unwrap_or_default(),
                        a["role"].as_str().unwrap_or_default(),
                        a["expectedDirection"].as_str().unwrap_or_default(),
                    )
                })
                .collect();
            check(actual == expected, || {
                format!("attachments should be {expected:?}, are {actual:?}: {body}")
            })?;
            (body, mutation)
        }
    };
    let result = code(&body);
    if result != "OK" {
        check(body["data"][field_name].is_null(), || {
            format!("refused {field_name} still returned data: {body}")
        })?;
        check(
            body["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            || format!("error without a message: {body}"),
        )?;
    }
    Ok(result)
}
