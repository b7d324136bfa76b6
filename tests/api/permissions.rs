//! The permission matrix: every role of the seeded `World` against every read and write on
//! environments, metrics, experiments and attachments. Each (role, operation) pair gets fresh
//! fixtures made by the organisation admin, the exact `extensions.code` is checked, and so is the
//! state afterwards: a success did what it says, a refusal changed nothing. Then the feature gate
//! (`experimentation_enabled`) and the boundaries between organisations and environments.

use lift::admin::AdminCommand;
use serde_json::{json, Value};

use crate::helpers::*;
use users::*;

/// What a role may do in environment `prod`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rights {
    Admin,
    View,
    Nothing,
}

const ROLES: [(&str, Rights); 8] = [
    (ORG_ADMIN, Rights::Admin),
    (PROJECT_ADMIN, Rights::Admin),
    (ENV_ADMIN, Rights::Admin),
    (PROJECT_VIEWER, Rights::View),
    (ENV_VIEWER, Rights::View),
    (ORG_USER, Rights::Nothing),
    (OUTSIDER, Rights::Nothing),
    (OTHER_ORG_ADMIN, Rights::Nothing),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Environment,
    MetricList,
    ExperimentList,
    ReadMetric,
    ReadExperiment,
    CreateMetric,
    DeleteMetric,
    CreateExperiment,
    UpdateExperiment,
    StartExperiment,
    PauseExperiment,
    CompleteExperiment,
    DeleteExperiment,
    AttachMetric,
    UpdateExperimentMetric,
    DetachMetric,
}

const READS: [Op; 5] = [
    Op::Environment,
    Op::MetricList,
    Op::ExperimentList,
    Op::ReadMetric,
    Op::ReadExperiment,
];
const METRIC_WRITES: [Op; 2] = [Op::CreateMetric, Op::DeleteMetric];
const EXPERIMENT_WRITES: [Op; 6] = [
    Op::CreateExperiment,
    Op::UpdateExperiment,
    Op::StartExperiment,
    Op::PauseExperiment,
    Op::CompleteExperiment,
    Op::DeleteExperiment,
];
const ATTACHMENT_WRITES: [Op; 3] = [
    Op::AttachMetric,
    Op::UpdateExperimentMetric,
    Op::DetachMetric,
];

impl Op {
    fn is_write(self) -> bool {
        !READS.contains(&self)
    }

    /// The code `rights` must get for this operation on an object of `prod`.
    fn expected(self, rights: Rights) -> &'static str {
        match rights {
            Rights::Admin => "OK",
            Rights::View if self.is_write() => "FORBIDDEN",
            Rights::View => "OK",
            Rights::Nothing => "NOT_FOUND",
        }
    }
}

const ENV_METRICS: &str =
    "query($key: String!) { environment(key: $key) { metrics { totalCount nodes { id } } } }";
const ENV_EXPERIMENTS: &str =
    "query($key: String!) { environment(key: $key) { experiments { totalCount nodes { id } } } }";
const READ_METRIC: &str = "query($id: ID!) { metric(id: $id) { id name deletedAt } }";
const READ_EXPERIMENT: &str = "query($id: ID!) { experiment(id: $id) { id name status deletedAt metrics { id role expectedDirection metric { id } } } }";
const DELETE_METRIC: &str = "mutation($id: ID!) { deleteMetric(id: $id) { id deletedAt } }";
const UPDATE_EXPERIMENT: &str = "mutation($id: ID!, $input: UpdateExperimentInput!) { updateExperiment(id: $id, input: $input) { id name } }";
const DELETE_EXPERIMENT: &str = "mutation($id: ID!) { deleteExperiment(id: $id) { id deletedAt } }";
const UPDATE_ATTACHMENT: &str = "mutation($id: ID!, $input: UpdateExperimentMetricInput!) { updateExperimentMetric(id: $id, input: $input) { id role expectedDirection } }";
const DETACH_METRIC: &str = "mutation($id: ID!) { detachMetric(id: $id) { id } }";

fn lifecycle_mutation(name: &str) -> String {
    format!("mutation($id: ID!) {{ {name}(id: $id) {{ id status }} }}")
}

/// `Err` with a description unless `cond` holds.
fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

/// Total metrics in `env`, as the organisation admin sees them.
async fn metric_count(app: &TestApp, env: &str) -> i64 {
    let data = app.ok(ORG_ADMIN, ENV_METRICS, json!({"key": env})).await;
    data["environment"]["metrics"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

/// Total experiments in `env`, as the organisation admin sees them.
async fn experiment_count(app: &TestApp, env: &str) -> i64 {
    let data = app
        .ok(ORG_ADMIN, ENV_EXPERIMENTS, json!({"key": env}))
        .await;
    data["environment"]["experiments"]["totalCount"]
        .as_i64()
        .expect("totalCount")
}

/// The experiment as the organisation admin sees it (`null` once deleted), and the code it got.
async fn admin_experiment(app: &TestApp, id: &str) -> (String, Value) {
    let body = app.gql(ORG_ADMIN, READ_EXPERIMENT, json!({"id": id})).await;
    (code(&body), body["data"]["experiment"].clone())
}

/// The metric as the organisation admin sees it, and the code it got.
async fn admin_metric(app: &TestApp, id: &str) -> (String, Value) {
    let body = app.gql(ORG_ADMIN, READ_METRIC, json!({"id": id})).await;
    (code(&body), body["data"]["metric"].clone())
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
async fn exercise(
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

/// Runs every role against every operation in `ops`; reports every mismatch at once.
async fn run_matrix(app: &TestApp, ops: &[Op]) {
    let world = app.world().await;
    let mut failures = Vec::new();
    let mut n = 0;
    for &op in ops {
        for (user, rights) in ROLES {
            n += 1;
            let expected = op.expected(rights);
            match exercise(app, &world, n, op, user).await {
                Ok(actual) if actual == expected => {}
                Ok(actual) => failures.push(format!(
                    "{op:?} as {user}: expected {expected}, got {actual}"
                )),
                Err(problem) => failures.push(format!("{op:?} as {user}: {problem}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        n,
        failures.join("\n")
    );
}

db_test!(every_role_gets_exactly_its_rights_on_reads, |app| {
    run_matrix(&app, &READS).await;
});

db_test!(every_role_gets_exactly_its_rights_on_metric_writes, |app| {
    run_matrix(&app, &METRIC_WRITES).await;
});

db_test!(
    every_role_gets_exactly_its_rights_on_experiment_writes,
    |app| {
        run_matrix(&app, &EXPERIMENT_WRITES).await;
    }
);

db_test!(
    every_role_gets_exactly_its_rights_on_attachment_writes,
    |app| {
        run_matrix(&app, &ATTACHMENT_WRITES).await;
    }
);

db_test!(
    each_role_sees_exactly_the_environments_it_is_granted,
    |app| {
        app.world().await;
        let cases: [(&str, &[&str], &[&str]); 8] = [
            (ORG_ADMIN, &[ENV, OTHER_ENV], &[ENV, OTHER_ENV]),
            (PROJECT_ADMIN, &[ENV, OTHER_ENV], &[ENV, OTHER_ENV]),
            (ENV_ADMIN, &[ENV], &[ENV]),
            (PROJECT_VIEWER, &[ENV, OTHER_ENV], &[]),
            (ENV_VIEWER, &[ENV], &[]),
            (ORG_USER, &[], &[]),
            (OUTSIDER, &[], &[]),
            (OTHER_ORG_ADMIN, &[ENV_B], &[ENV_B]),
        ];
        for (user, visible, administered) in cases {
            let data = app
                .ok(user, "{ viewer { environments { key } } }", json!({}))
                .await;
            let mut keys: Vec<&str> = data["viewer"]["environments"]
                .as_array()
                .expect("environments")
                .iter()
                .map(|e| e["key"].as_str().expect("key"))
                .collect();
            keys.sort_unstable();
            let mut expected = visible.to_vec();
            expected.sort_unstable();
            assert_eq!(keys, expected, "viewer.environments of {user}");

            for key in [ENV, OTHER_ENV, ENV_B] {
                let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key viewerCanAdminister } }",
                    json!({"key": key}),
                )
                .await;
                if visible.contains(&key) {
                    assert_eq!(code(&body), "OK", "{user} reading {key}: {body}");
                    assert_eq!(
                        body["data"]["environment"]["viewerCanAdminister"],
                        administered.contains(&key),
                        "{user} administering {key}: {body}"
                    );
                } else {
                    assert_eq!(code(&body), "NOT_FOUND", "{user} reading {key}: {body}");
                    assert!(body["data"]["environment"].is_null(), "{body}");
                }
            }
        }
    }
);

db_test!(grants_on_one_environment_reach_no_other, |app| {
    let world = app.world().await;
    let staging_metric = app.metric(OTHER_ENV, "staging metric").await;
    let staging_experiment = app
        .experiment(OTHER_ENV, &world.feature, "staging experiment")
        .await;
    for user in [ENV_ADMIN, ENV_VIEWER] {
        let body = app
            .gql(user, READ_METRIC, json!({"id": staging_metric}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
        let body = app
            .gql(user, READ_EXPERIMENT, json!({"id": staging_experiment}))
            .await;
        assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
    }
    // The environment admin of `prod` cannot write in `staging` either.
    let before = metric_count(&app, OTHER_ENV).await;
    let body = app
        .gql(
            ENV_ADMIN,
            CREATE_METRIC,
            json!({"input": metric_input(OTHER_ENV, "sneaky")}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(metric_count(&app, OTHER_ENV).await, before);
    let body = app
        .gql(ENV_ADMIN, DELETE_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(admin_metric(&app, &staging_metric).await.0, "OK");
    let body = app
        .gql(
            ENV_ADMIN,
            &lifecycle_mutation("startExperiment"),
            json!({"id": staging_experiment}),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body}");
    assert_eq!(
        admin_experiment(&app, &staging_experiment).await.1["status"],
        "CREATED"
    );
    // The project viewer sees `staging` but still cannot change it.
    let body = app
        .gql(PROJECT_VIEWER, READ_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "OK", "{body}");
    let body = app
        .gql(PROJECT_VIEWER, DELETE_METRIC, json!({"id": staging_metric}))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body}");
    assert_eq!(admin_metric(&app, &staging_metric).await.0, "OK");
});

db_test!(
    an_invisible_object_looks_exactly_like_a_missing_one,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "hidden").await;
        let experiment = app.experiment(ENV, &world.feature, "hidden").await;
        let attachment = app.attach(&experiment, &metric).await;
        let missing = uuid::Uuid::now_v7().to_string();
        let cases: [(&str, &str, Value, Value); 5] = [
            (
                "environment",
                "query($key: String!) { environment(key: $key) { key } }",
                json!({"key": ENV}),
                json!({"key": "no-such-environment"}),
            ),
            (
                "metric",
                READ_METRIC,
                json!({"id": metric}),
                json!({"id": missing}),
            ),
            (
                "experiment",
                READ_EXPERIMENT,
                json!({"id": experiment}),
                json!({"id": missing}),
            ),
            (
                "deleteMetric",
                DELETE_METRIC,
                json!({"id": metric}),
                json!({"id": missing}),
            ),
            (
                "detachMetric",
                DETACH_METRIC,
                json!({"id": attachment}),
                json!({"id": missing}),
            ),
        ];
        for user in [ORG_USER, OUTSIDER, OTHER_ORG_ADMIN] {
            for (name, query, hidden, absent) in &cases {
                let seen = app.gql(user, query, hidden.clone()).await;
                let gone = app.gql(user, query, absent.clone()).await;
                assert_eq!(code(&seen), "NOT_FOUND", "{user} {name}: {seen}");
                assert_eq!(code(&gone), "NOT_FOUND", "{user} {name}: {gone}");
                assert_eq!(
                    seen["errors"][0]["message"], gone["errors"][0]["message"],
                    "{user} {name}: the message must not tell hidden from missing"
                );
            }
        }
        // Nothing was touched by the refused mutations.
        assert_eq!(admin_metric(&app, &metric).await.0, "OK");
        let (_, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(seen["metrics"][0]["id"], attachment.as_str(), "{seen}");
    }
);

db_test!(
    disabling_experimentation_blocks_everyone_who_could_see_it,
    |app| {
        let world = app.world().await;
        let metric = app.metric(ENV, "gated").await;
        let experiment = app.experiment(ENV, &world.feature, "gated").await;
        let metrics_before = metric_count(&app, ENV).await;
        app.admin(AdminCommand::SetExperimentation {
            organisation: world.org_a.clone(),
            enabled: false,
        })
        .await;

        // Admins: reads and writes are gated.
        for user in [ORG_ADMIN, PROJECT_ADMIN, ENV_ADMIN] {
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            assert!(body["data"]["metric"].is_null(), "{body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "while disabled")}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            assert!(body["data"].is_null(), "{body}");
            let body = app
                .gql(
                    user,
                    &lifecycle_mutation("startExperiment"),
                    json!({"id": experiment}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app.gql(user, DELETE_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    ATTACH_METRIC,
                    json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
        }

        // Viewers and admins: the environment itself stays readable and shows the gate; its
        // metric and experiment lists are gated.
        for user in [ORG_ADMIN, ENV_ADMIN, PROJECT_VIEWER, ENV_VIEWER] {
            let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key name organisation { experimentationEnabled } } }",
                    json!({"key": ENV}),
                )
                .await;
            assert_eq!(code(&body), "OK", "{user}: {body}");
            let env = &body["data"]["environment"];
            assert_eq!(env["key"], ENV, "{body}");
            assert_eq!(env["name"], ENV, "{body}");
            assert_eq!(
                env["organisation"]["experimentationEnabled"], false,
                "{body}"
            );
            for query in [ENV_METRICS, ENV_EXPERIMENTS] {
                let body = app.gql(user, query, json!({"key": ENV})).await;
                assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            }
        }
        for user in [PROJECT_VIEWER, ENV_VIEWER] {
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
            // The gate comes before FORBIDDEN: a viewer's write is refused for the same reason.
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "gated")}),
                )
                .await;
            assert_eq!(code(&body), "EXPERIMENTATION_DISABLED", "{user}: {body}");
        }

        // No access at all: still NOT_FOUND, the gate does not reveal the objects.
        for user in [ORG_USER, OUTSIDER, OTHER_ORG_ADMIN] {
            let body = app
                .gql(
                    user,
                    "query($key: String!) { environment(key: $key) { key } }",
                    json!({"key": ENV}),
                )
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app.gql(user, READ_METRIC, json!({"id": metric})).await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app
                .gql(user, READ_EXPERIMENT, json!({"id": experiment}))
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
            let body = app
                .gql(
                    user,
                    CREATE_METRIC,
                    json!({"input": metric_input(ENV, "outsider while disabled")}),
                )
                .await;
            assert_eq!(code(&body), "NOT_FOUND", "{user}: {body}");
        }

        // Organisation B is not affected.
        let body = app
            .gql(
                OTHER_ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": metric_input(ENV_B, "b metric")}),
            )
            .await;
        assert_eq!(code(&body), "OK", "{body}");

        // Enabled again: everything is back, and nothing changed while it was off.
        app.admin(AdminCommand::SetExperimentation {
            organisation: world.org_a.clone(),
            enabled: true,
        })
        .await;
        assert_eq!(metric_count(&app, ENV).await, metrics_before);
        let body = app
            .gql(ENV_VIEWER, READ_METRIC, json!({"id": metric}))
            .await;
        assert_eq!(code(&body), "OK", "{body}");
        assert!(body["data"]["metric"]["deletedAt"].is_null(), "{body}");
        let (admin_code, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(admin_code, "OK");
        assert_eq!(seen["status"], "CREATED", "{seen}");
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                ENV_VIEWER,
                "query($key: String!) { environment(key: $key) { organisation { experimentationEnabled } } }",
                json!({"key": ENV}),
            )
            .await;
        assert_eq!(
            data["environment"]["organisation"]["experimentationEnabled"],
            true
        );
    }
);

db_test!(
    another_organisations_admin_can_neither_read_nor_attach_our_objects,
    |app| {
        let world = app.world().await;
        let metric_a = app.metric(ENV, "org a metric").await;
        let experiment_a = app
            .experiment(ENV, &world.feature, "org a experiment")
            .await;

        // Organisation B's admin with its own experiment and metric in `b-prod`.
        let experiment_b = app
            .ok(
                OTHER_ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": ENV_B, "featureId": world.feature_b, "name": "b"}}),
            )
            .await["createExperiment"]["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let metric_b = app
            .ok(
                OTHER_ORG_ADMIN,
                CREATE_METRIC,
                json!({"input": metric_input(ENV_B, "org b metric")}),
            )
            .await["createMetric"]["id"]
            .as_str()
            .expect("id")
            .to_owned();

        let attach = |experiment: &str, metric: &str| json!({"input": {"experimentId": experiment, "metricId": metric, "expectedDirection": "INCREASE"}});
        // B's admin cannot read A's objects, nor attach A's metric anywhere.
        for (query, vars) in [
            (READ_METRIC, json!({"id": metric_a})),
            (READ_EXPERIMENT, json!({"id": experiment_a})),
            (ATTACH_METRIC, attach(&experiment_b, &metric_a)),
            (ATTACH_METRIC, attach(&experiment_a, &metric_a)),
            (ATTACH_METRIC, attach(&experiment_a, &metric_b)),
        ] {
            let body = app.gql(OTHER_ORG_ADMIN, query, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{vars}: {body}");
        }
        // A's admin cannot reach into B either.
        for (query, vars) in [
            (READ_METRIC, json!({"id": metric_b})),
            (READ_EXPERIMENT, json!({"id": experiment_b})),
            (ATTACH_METRIC, attach(&experiment_a, &metric_b)),
            (ATTACH_METRIC, attach(&experiment_b, &metric_a)),
        ] {
            let body = app.gql(ORG_ADMIN, query, vars.clone()).await;
            assert_eq!(code(&body), "NOT_FOUND", "{vars}: {body}");
        }
        // A feature of organisation B cannot back an experiment in A's environment.
        let before = experiment_count(&app, ENV).await;
        let body = app
            .gql(
                ORG_ADMIN,
                CREATE_EXPERIMENT,
                json!({"input": {"environmentKey": ENV, "featureId": world.feature_b, "name": "borrowed"}}),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body}");
        assert_eq!(field(&body), "featureId", "{body}");
        assert_eq!(experiment_count(&app, ENV).await, before);

        // Nothing was attached on either side.
        let (_, seen) = admin_experiment(&app, &experiment_a).await;
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                OTHER_ORG_ADMIN,
                READ_EXPERIMENT,
                json!({"id": experiment_b}),
            )
            .await;
        assert_eq!(data["experiment"]["metrics"], json!([]), "{data}");
    }
);

db_test!(
    attaching_a_metric_of_another_environment_is_refused_without_leaking_it,
    |app| {
        let world = app.world().await;
        let experiment = app.experiment(ENV, &world.feature, "prod experiment").await;
        let staging_metric = app.metric(OTHER_ENV, "staging metric").await;
        let vars = json!({"input": {"experimentId": experiment, "metricId": staging_metric, "expectedDirection": "INCREASE"}});

        // Someone who can see both environments learns why.
        for user in [ORG_ADMIN, PROJECT_ADMIN] {
            let body = app.gql(user, ATTACH_METRIC, vars.clone()).await;
            assert_eq!(code(&body), "BAD_USER_INPUT", "{user}: {body}");
            assert_eq!(field(&body), "metricId", "{user}: {body}");
            assert!(body["data"].is_null(), "{body}");
        }
        // The admin of `prod` alone cannot see `staging`: the metric does not exist for them.
        let body = app.gql(ENV_ADMIN, ATTACH_METRIC, vars.clone()).await;
        assert_eq!(code(&body), "NOT_FOUND", "{body}");
        let missing = app
            .gql(
                ENV_ADMIN,
                ATTACH_METRIC,
                json!({"input": {"experimentId": experiment, "metricId": uuid::Uuid::now_v7().to_string(), "expectedDirection": "INCREASE"}}),
            )
            .await;
        assert_eq!(code(&missing), "NOT_FOUND", "{missing}");
        assert_eq!(
            body["errors"][0]["message"], missing["errors"][0]["message"],
            "a hidden metric must look like a missing one"
        );

        let (_, seen) = admin_experiment(&app, &experiment).await;
        assert_eq!(seen["metrics"], json!([]), "{seen}");
        let data = app
            .ok(
                ORG_ADMIN,
                "query($id: ID!) { metric(id: $id) { attachments { id } } }",
                json!({"id": staging_metric}),
            )
            .await;
        assert_eq!(data["metric"]["attachments"], json!([]), "{data}");
    }
);
