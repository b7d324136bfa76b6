//! The permissions of the seeded `World`, in parts: the role × operation matrix (`matrix`, run by
//! `operations`), what each role can see (`visibility`), the feature gate (`gating`) and the
//! boundaries between environments and organisations (`isolation`). Here: the queries and the
//! organisation admin's views of the state that several parts share.

use serde_json::{json, Value};

use crate::helpers::*;
use users::*;

mod gating;
mod isolation;
mod matrix;
mod operations;
mod visibility;

const ENV_METRICS: &str =
    "query($key: String!) { environment(key: $key) { metrics { totalCount nodes { id } } } }";
const ENV_EXPERIMENTS: &str =
    "query($key: String!) { environment(key: $key) { experiments { totalCount nodes { id } } } }";
const READ_METRIC: &str = "query($id: ID!) { metric(id: $id) { id name deletedAt version } }";
const READ_EXPERIMENT: &str = "query($id: ID!) { experiment(id: $id) { id name status deletedAt metrics { id role expectedDirection metricVersion metric { id } } } }";
const DELETE_METRIC: &str = "mutation($id: ID!) { deleteMetric(id: $id) { id deletedAt } }";
const DETACH_METRIC: &str = "mutation($id: ID!) { detachMetric(id: $id) { id } }";

fn lifecycle_mutation(name: &str) -> String {
    format!("mutation($id: ID!) {{ {name}(id: $id) {{ id status }} }}")
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
