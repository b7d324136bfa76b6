//! The metric library, in parts: every kind of metric round-trips (`round_trip`), every definition
//! rule is refused with its field (`validation`), names are unique among live metrics and
//! soft-deleted or in-use metrics behave (`soft_delete`), and `search` is a literal,
//! case-insensitive match (`search`). Here: the queries and helpers the parts share.

use crate::helpers::*;
use serde_json::{json, Value};

mod kinds;
mod round_trip;
mod search;
mod soft_delete;
mod validation;

const METRIC: &str = "query($id: ID!) { metric(id: $id) { id name description metricType aggregation direction deletedAt environment { key } definition { event filters { property op value { string number boolean stringList numberList } } value { source property } window { startSeconds endSeconds } } attachments { id experiment { id } } } }";

const METRICS: &str = "query($key: String!, $search: String, $first: Int) { environment(key: $key) { metrics(search: $search, first: $first) { totalCount edges { node { id name } } } } }";

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
