//! Results on a ClickHouse cluster whose shards hold the events sharded by identifier equal the
//! results of one table holding them all.
//!
//! The cluster is emulated by a private local engine started with `two_shards.xml`: the cluster
//! `lift_two_shards` has two shards, both this process (no native port is needed: local shards
//! run in-process, each as its own shard with its own `shardNum()`). Both shards see the same
//! database, so each shard's "local table" is a view that keeps the identities the `Distributed`
//! table's sharding key sends to that shard: `cityHash64(identifier) % 2 + 1 = shardNum()`. Outside
//! a distributed query `shardNum()` is 0 and the view is empty, so numbers can only come from
//! running the query on both shards and merging them.
//!
//! What the emulation does not cover: shards on other servers (the query and its substituted
//! parameters travel over the native protocol there) and `ON CLUSTER` DDL (it needs Keeper; its
//! statements run here without that clause).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

use super::exact_numbers::{events, metric_inputs};
use super::support::*;
use crate::clickhouse::{Event, Warehouse};
use crate::helpers::*;

pub(super) const CLUSTER: &str = "lift_two_shards";

/// The engine process, shared by the tests of this binary. It runs with `--ephemeral`: when the
/// test binary exits its stdin closes, and it stops and deletes its data directory.
static ENGINE: OnceLock<(String, Mutex<Child>)> = OnceLock::new();

/// The URL of the two-shard engine, started on first use.
pub(super) fn two_shard_engine() -> String {
    ENGINE.get_or_init(start_engine).0.clone()
}

fn start_engine() -> (String, Mutex<Child>) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let data = std::env::temp_dir().join(format!("lift-two-shards-{}", std::process::id()));
    let mut child = Command::new(root.join("scripts/clickhouse-local"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ephemeral",
            "--data-dir",
        ])
        .arg(&data)
        .arg("--config-file")
        .arg(root.join("tests/api/results/two_shards.xml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("scripts/clickhouse-local starts (it needs chdb: scripts/clickhouse-local-ensure)");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("piped stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the engine prints where it listens");
    let url = line
        .trim()
        .strip_prefix("clickhouse-local listening on ")
        .unwrap_or_else(|| panic!("the two-shard engine did not start: {line:?}"))
        .to_owned();
    (url, Mutex::new(child))
}

const CONNECT: &str = "mutation($input: CreateWarehouseConnectionInput!) { createWarehouseConnection(input: $input) { id table cluster } }";
const DISCONNECT: &str = "mutation($id: ID!) { deleteWarehouseConnection(id: $id) { id } }";
const PROBE: &str = "mutation($id: ID!, $event: String) { testWarehouseConnection(id: $id, exposureEvent: $event) { reachable exposureEvents } }";

/// Connects `ENV` to `table`, on the cluster when `cluster` is set; returns the connection id.
async fn connect_env(
    app: &TestApp,
    warehouse: &Warehouse,
    table: &str,
    cluster: Option<&str>,
) -> String {
    let input = json!({
        "environmentKey": ENV, "url": warehouse.url, "database": warehouse.database,
        "table": table, "cluster": cluster,
    });
    let data = app
        .ok(users::ORG_ADMIN, CONNECT, json!({ "input": input }))
        .await;
    let connection = &data["createWarehouseConnection"];
    assert_eq!(connection["cluster"], json!(cluster));
    connection["id"].as_str().expect("connection id").to_owned()
}

/// Exposure events the connection's probe counts.
async fn probe(app: &TestApp, connection: &str) -> u64 {
    let data = app
        .ok(
            users::ORG_ADMIN,
            PROBE,
            json!({ "id": connection, "event": EXPOSURE }),
        )
        .await;
    let report = &data["testWarehouseConnection"];
    assert_eq!(report["reachable"], true, "{report}");
    report["exposureEvents"].as_u64().expect("a count")
}

/// The results without `computedAt` (the instant differs between two computations).
fn numbers(mut results: Value) -> Value {
    results
        .as_object_mut()
        .expect("results")
        .remove("computedAt");
    results
}

/// `(shard, identities)` of the emulated local table, via the cluster.
async fn identities_per_shard(warehouse: &Warehouse) -> Vec<(u64, u64)> {
    let db = &warehouse.database;
    let text = warehouse
        .run(&format!(
            "SELECT shard, identities FROM cluster('{CLUSTER}', view(SELECT shardNum() AS shard, \
             uniqExact(identifier) AS identities FROM {db}.events_local)) ORDER BY shard FORMAT TSV"
        ))
        .await;
    text.lines()
        .map(|line| {
            let (shard, n) = line.split_once('\t').expect("two columns");
            (shard.parse().expect("shard"), n.parse().expect("count"))
        })
        .collect()
}

db_test_with!(
    results_on_a_two_shard_cluster_equal_the_results_of_one_table,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create_at(two_shard_engine()).await;
        let db = &warehouse.database;
        warehouse
            .run(&format!(
                "CREATE VIEW {db}.events_local AS SELECT * FROM {db}.events \
                 WHERE cityHash64(identifier) % 2 + 1 = shardNum()"
            ))
            .await;
        let mut metrics = Vec::new();
        for (_, input) in metric_inputs() {
            metrics.push(metric(&app, input).await);
        }
        // A RATIO metric too: its denominator sums add up across shards like every other sum.
        let order_value = json!({
            "environmentKey": ENV, "name": "Order value (ratio)", "metricType": "RATIO",
            "aggregation": "RATIO", "direction": "UP",
            "definition": {
                "numerator": { "event": "purchase", "aggregation": "SUM",
                               "value": { "source": "EVENT_VALUE" } },
                "denominator": { "event": "purchase", "aggregation": "COUNT" }
            }
        });
        metrics.push(metric(&app, order_value).await);
        let (experiment, s) =
            started_experiment(&app, ENV, &world.feature, "Sharded", Some("FIRST_TOUCH")).await;
        for metric in &metrics {
            attach_as(&app, &experiment, metric, "INCREASE", "PRIMARY").await;
        }
        let events = events(s);
        warehouse.insert(&events).await;

        // The split is real: each shard holds some identities, none holds them all, and the local
        // table read directly (not through the cluster) is empty.
        let all = warehouse
            .run(&format!("SELECT uniqExact(identifier) FROM {db}.events"))
            .await;
        let all: u64 = all.trim().parse().expect("a count");
        let shards = identities_per_shard(&warehouse).await;
        assert_eq!(shards.len(), 2, "{shards:?}");
        assert!(shards.iter().all(|&(_, n)| n > 0 && n < all), "{shards:?}");
        assert_eq!(shards.iter().map(|&(_, n)| n).sum::<u64>(), all);
        assert_eq!(
            warehouse
                .run(&format!("SELECT count() FROM {db}.events_local"))
                .await
                .trim(),
            "0"
        );

        let single = connect_env(&app, &warehouse, "events", None).await;
        let one_table = results(&app, &experiment).await;
        let probed_single = probe(&app, &single).await;
        app.ok(users::ORG_ADMIN, DISCONNECT, json!({ "id": single }))
            .await;
        let sharded = connect_env(&app, &warehouse, "events_local", Some(CLUSTER)).await;
        let on_cluster = results(&app, &experiment).await;

        // The single table's numbers are exact_numbers.rs's FIRST_TOUCH ones…
        assert_eq!(
            exposures(&one_table),
            [("control".to_owned(), 5), ("treatment".to_owned(), 4)]
        );
        assert_eq!(left_out(&one_table), (1, 2, 1));
        assert_stats(
            &one_table,
            &metrics[0],
            "COUNT",
            &[("control", 5, 6.0, 10.0), ("treatment", 4, 4.0, 6.0)],
        );
        // …and the cluster gives every number identically: exposures, SRM, each metric's
        // statistics, intervals and verdicts.
        // The ratio (revenue / purchases over buyers, FIRST_TOUCH): control c1 30/2, c2 12/2,
        // c4 2.5/1, m1 40/1 → 84.5 / 6; treatment t1 60/2, t2 8/1, m2 60/1 → 128 / 4.
        let ratio = metric_results(&one_table, metrics.last().expect("the ratio"));
        assert_eq!(variant_stats(ratio, "control")["n"], 4, "{ratio}");
        assert_close(
            number(&variant_stats(ratio, "control")["mean"]),
            84.5 / 6.0,
            "ratio control mean",
        );
        assert_close(
            number(&variant_stats(ratio, "treatment")["mean"]),
            128.0 / 4.0,
            "ratio treatment mean",
        );
        assert_eq!(numbers(on_cluster), numbers(one_table));
        let exposure_events = events.iter().filter(|e| is_counted_exposure(e)).count();
        assert_eq!(probed_single, exposure_events as u64);
        assert_eq!(probe(&app, &sharded).await, probed_single);
    }
);

/// What the probe counts: the environment's exposure events of `EXPOSURE`, any feature, any time.
fn is_counted_exposure(event: &Event) -> bool {
    event.environment_key == ENV && event.event == EXPOSURE
}

db_test_with!(
    init_on_a_cluster_creates_a_distributed_table_that_places_each_row_once,
    |settings| {
        local_engine(&mut settings);
    },
    |_app| {
        let warehouse = Warehouse::create_at(two_shard_engine()).await;
        let (database, table) = (warehouse.database.clone(), "sharded".to_owned());
        let distributed = format!("{table}{}", lift::warehouse::events::DISTRIBUTED_SUFFIX);
        let params = [
            ("database", database.as_str()),
            ("table", table.as_str()),
            ("distributed", distributed.as_str()),
            ("cluster", CLUSTER),
        ];
        let statements =
            lift::warehouse::events::InitStatements::new(Some(CLUSTER)).expect("a plain name");
        assert_eq!(statements.all().count(), 3);
        for sql in statements.all() {
            // The engine has no Keeper for ON CLUSTER; with one server for both shards, running
            // each statement once is what ON CLUSTER would do.
            let on_one_server = sql.replace(&format!(" ON CLUSTER `{CLUSTER}`"), "");
            assert_ne!(on_one_server, sql);
            warehouse.run_with(&on_one_server, &params).await;
        }
        let rows: Vec<String> = (0..20)
            .map(|i| {
                format!(
                    "{{\"environment_key\":\"prod\",\"event\":\"e\",\"feature_name\":\"\",\
                     \"identifier\":\"id{i}\",\"timestamp\":\"2026-01-01 00:00:00.000\",\
                     \"collected_at\":\"2026-01-01 00:00:00.000\",\"value\":\"\",\"metadata\":\"{{}}\"}}"
                )
            })
            .collect();
        warehouse
            .run(&format!(
                "INSERT INTO {database}.{distributed} SETTINGS distributed_foreground_insert = 1 \
                 FORMAT JSONEachRow {}",
                rows.join(" ")
            ))
            .await;
        let placed = warehouse
            .run(&format!(
                "SELECT count(), uniqExact(identifier) FROM {database}.{table}"
            ))
            .await;
        // Both emulated shards are this server's one local table: each row sent to exactly one
        // shard arrives exactly once.
        assert_eq!(placed.trim(), "20\t20", "each row once");
    }
);

db_test_with!(
    a_quantile_metric_on_a_cluster_is_refused_with_a_conflict,
    |settings| {
        local_engine(&mut settings);
    },
    |app| {
        let world = app.world().await;
        let warehouse = Warehouse::create_at(two_shard_engine()).await;
        let db = &warehouse.database;
        warehouse
            .run(&format!(
                "CREATE VIEW {db}.events_local AS SELECT * FROM {db}.events \
                 WHERE cityHash64(identifier) % 2 + 1 = shardNum()"
            ))
            .await;
        let quantile = metric(
            &app,
            metric_of(
                ENV,
                "p90 purchase",
                "QUANTILE",
                json!({ "event": "purchase", "value": { "source": "EVENT_VALUE" },
                        "quantile": { "level": 0.9, "over": "EVENTS" } }),
            ),
        )
        .await;
        let (experiment, s) =
            started_experiment(&app, ENV, &world.feature, "Sharded p90", None).await;
        attach_as(&app, &experiment, &quantile, "INCREASE", "PRIMARY").await;
        warehouse.insert(&events(s)).await;
        connect_env(&app, &warehouse, "events_local", Some(CLUSTER)).await;
        // Shards' quantiles do not merge into the quantile of all identities.
        let body = results_as(&app, users::ORG_ADMIN, &experiment, "metrics { metricId }").await;
        assert_eq!(code(&body), "CONFLICT", "{body:#}");
        let message = body["errors"][0]["message"].as_str().expect("a message");
        assert!(
            message.contains("QUANTILE") && message.contains("cluster"),
            "{message}"
        );
    }
);
