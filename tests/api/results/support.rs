//! What the results tests share: the local-engine setting, warehouse connections, experiments whose
//! start is moved into the past (so events can sit at fixed offsets from it), metric creation and
//! attachment, the full results query, the `/metrics` query counters and numeric assertions.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use lift::configuration::{ClickHouseCompression, Settings};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use crate::clickhouse::Warehouse;
use crate::helpers::*;

pub const EXPOSURE: &str = "$flag_exposure";
/// The feature `app.world()` creates (control:50, treatment:50).
pub const FEATURE: &str = "checkout";

/// The local engine (`scripts/clickhouse-local`) takes plain bodies only, and it and the tests'
/// stand-in servers listen on loopback, which environments' connections may reach only when the
/// operator allows it.
pub fn local_engine(settings: &mut Settings) {
    settings.clickhouse.clickhouse_compression = ClickHouseCompression::None;
    allow_test_hosts(settings);
}

/// Allows connections to 127.0.0.1 (stand-in servers) and to the test ClickHouse's host.
pub fn allow_test_hosts(settings: &mut Settings) {
    let engine = crate::clickhouse::clickhouse_url();
    let authority = engine.split("://").nth(1).unwrap_or(&engine);
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.split(':').next().unwrap_or(authority),
    };
    settings.clickhouse.warehouse_allowed_hosts = ["127.0.0.1", host]
        .iter()
        .map(|entry| entry.parse().expect("an allow-list entry"))
        .collect();
}

pub const CREATE_CONNECTION: &str = "mutation($input: CreateWarehouseConnectionInput!) { createWarehouseConnection(input: $input) { id kind url database table user passwordSet createdAt } }";

/// Connects `env` to the test's events table as the org admin; returns the connection id.
pub async fn connect(app: &TestApp, env: &str, warehouse: &Warehouse) -> String {
    connect_to(app, env, &warehouse.url, &warehouse.database, "events").await
}

pub async fn connect_to(
    app: &TestApp,
    env: &str,
    url: &str,
    database: &str,
    table: &str,
) -> String {
    let data = app
        .ok(
            users::ORG_ADMIN,
            CREATE_CONNECTION,
            json!({"input": {"environmentKey": env, "url": url, "database": database, "table": table}}),
        )
        .await;
    data["createWarehouseConnection"]["id"]
        .as_str()
        .expect("connection id")
        .to_owned()
}

/// Creates an experiment on `feature` with this multiple-exposure handling (`EXCLUDE`,
/// `FIRST_TOUCH`, or `None` for the default), starts it through the API, then moves its `started_at` back 10 days (whole
/// seconds); returns its id and that start.
pub async fn started_experiment(
    app: &TestApp,
    env: &str,
    feature: &str,
    name: &str,
    handling: Option<&str>,
) -> (String, DateTime<Utc>) {
    let id = created_experiment(app, env, feature, name, handling).await;
    let body = app.lifecycle("startExperiment", &id).await;
    assert_eq!(code(&body), "OK", "startExperiment: {body}");
    let start = (Utc::now() - Duration::days(10)).trunc_subsecs(0);
    set_started_at(app, &id, start).await;
    (id, start)
}

pub async fn created_experiment(
    app: &TestApp,
    env: &str,
    feature: &str,
    name: &str,
    handling: Option<&str>,
) -> String {
    let mut input = json!({"environmentKey": env, "featureId": feature, "name": name});
    if let Some(handling) = handling {
        input["multipleExposureHandling"] = json!(handling);
    }
    let data = app
        .ok(
            users::ORG_ADMIN,
            CREATE_EXPERIMENT,
            json!({ "input": input }),
        )
        .await;
    data["createExperiment"]["id"]
        .as_str()
        .expect("experiment id")
        .to_owned()
}

/// Rewrites `experiments.started_at` behind the API's back (tests arrange time this way).
pub async fn set_started_at(app: &TestApp, experiment: &str, at: DateTime<Utc>) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => "UPDATE experiments SET started_at = $1 WHERE id = $2",
        _ => "UPDATE experiments SET started_at = ? WHERE id = ?",
    };
    let result = app
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [at.into(), experiment.to_owned().into()],
        ))
        .await
        .expect("move started_at");
    assert_eq!(result.rows_affected(), 1, "experiment {experiment} exists");
}

/// Creates a metric from a full `CreateMetricInput` as the org admin; returns its id.
pub async fn metric(app: &TestApp, input: Value) -> String {
    let data = app
        .ok(users::ORG_ADMIN, CREATE_METRIC, json!({ "input": input }))
        .await;
    data["createMetric"]["id"]
        .as_str()
        .expect("metric id")
        .to_owned()
}

/// `CreateMetricInput` for `env`.
pub fn metric_of(env: &str, name: &str, aggregation: &str, definition: Value) -> Value {
    let metric_type = if aggregation == "OCCURRENCE" {
        "CONVERSION"
    } else {
        "NUMERIC"
    };
    json!({
        "environmentKey": env, "name": name, "metricType": metric_type,
        "aggregation": aggregation, "direction": "UP", "definition": definition
    })
}

/// Attaches with an expected direction and role; returns the attachment id.
pub async fn attach_as(
    app: &TestApp,
    experiment: &str,
    metric: &str,
    direction: &str,
    role: &str,
) -> String {
    let data = app
        .ok(
            users::ORG_ADMIN,
            ATTACH_METRIC,
            json!({"input": {"experimentId": experiment, "metricId": metric,
                             "expectedDirection": direction, "role": role}}),
        )
        .await;
    data["attachMetric"]["id"]
        .as_str()
        .expect("attachment id")
        .to_owned()
}

pub const RESULT_FIELDS: &str = "computedAt frozen exposures { variant identities } excludedIdentities multipleExposureIdentities unknownVariantIdentities srm { chiSquare pValue mismatch } metrics { experimentMetric { id } metricId variants { variant n sum sumOfSquares mean variance } comparisons { variant absoluteDifference { estimate ciLower ciUpper pValue } relativeLift { estimate ciLower ciUpper pValue } verdict } }";

/// `experiment(id) { results { <selection> } }` as `user`: the whole response body.
pub async fn results_as(app: &TestApp, user: &str, experiment: &str, selection: &str) -> Value {
    app.gql(
        user,
        &format!("query($id: ID!) {{ experiment(id: $id) {{ results {{ {selection} }} }} }}"),
        json!({"id": experiment}),
    )
    .await
}

/// Every results field as the org admin; fails the test on any error.
pub async fn results(app: &TestApp, experiment: &str) -> Value {
    let body = results_as(app, users::ORG_ADMIN, experiment, RESULT_FIELDS).await;
    assert_eq!(code(&body), "OK", "results of {experiment}: {body:#}");
    body["data"]["experiment"]["results"].clone()
}

/// `(variant, identities)` in the feature's order.
pub fn exposures(results: &Value) -> Vec<(String, u64)> {
    results["exposures"]
        .as_array()
        .expect("exposures")
        .iter()
        .map(|e| {
            (
                e["variant"].as_str().expect("variant").to_owned(),
                e["identities"].as_u64().expect("identities"),
            )
        })
        .collect()
}

/// `(excluded, multiple exposures, unknown variant)` identities.
pub fn left_out(results: &Value) -> (u64, u64, u64) {
    let n = |key: &str| {
        results[key]
            .as_u64()
            .unwrap_or_else(|| panic!("{key}: {results}"))
    };
    (
        n("excludedIdentities"),
        n("multipleExposureIdentities"),
        n("unknownVariantIdentities"),
    )
}

/// The results entry of one metric.
pub fn metric_results<'a>(results: &'a Value, metric_id: &str) -> &'a Value {
    results["metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .find(|m| m["metricId"] == metric_id)
        .unwrap_or_else(|| panic!("no results for metric {metric_id}: {results:#}"))
}

/// One variant's statistics of one metric.
pub fn variant_stats<'a>(metric: &'a Value, variant: &str) -> &'a Value {
    metric["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["variant"] == variant)
        .unwrap_or_else(|| panic!("no variant {variant}: {metric:#}"))
}

/// One treatment's comparison against the control.
pub fn comparison<'a>(metric: &'a Value, variant: &str) -> &'a Value {
    metric["comparisons"]
        .as_array()
        .expect("comparisons")
        .iter()
        .find(|c| c["variant"] == variant)
        .unwrap_or_else(|| panic!("no comparison for {variant}: {metric:#}"))
}

pub fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("expected a number, got {value}"))
}

pub fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-9 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: got {actual}, expected {expected}"
    );
}

/// Asserts `(n, sum, sumOfSquares)` of every listed variant of a metric.
pub fn assert_stats(
    results: &Value,
    metric_id: &str,
    label: &str,
    expected: &[(&str, u64, f64, f64)],
) {
    let metric = metric_results(results, metric_id);
    for &(variant, n, sum, sum_sq) in expected {
        let stats = variant_stats(metric, variant);
        assert_eq!(
            stats["n"].as_u64(),
            Some(n),
            "{label} {variant}: n in {stats}"
        );
        assert_close(
            number(&stats["sum"]),
            sum,
            &format!("{label} {variant}: sum"),
        );
        assert_close(
            number(&stats["sumOfSquares"]),
            sum_sq,
            &format!("{label} {variant}: sumOfSquares"),
        );
    }
}

/// Warehouse queries this server has sent, by kind (`/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    pub exposures: u64,
    pub metrics: u64,
}

pub async fn counters(app: &TestApp) -> Counters {
    let body = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics body");
    let read = |kind: &str| {
        let prefix = format!("lift_warehouse_queries_total{{query=\"{kind}\"}} ");
        body.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in /metrics:\n{body}"))
            .trim()
            .parse()
            .expect("a counter")
    };
    Counters {
        exposures: read("exposures"),
        metrics: read("metrics"),
    }
}

/// `GET /health` answers 200.
pub async fn healthy(app: &TestApp) -> bool {
    reqwest::get(format!("{}/health", app.address))
        .await
        .is_ok_and(|r| r.status().is_success())
}
