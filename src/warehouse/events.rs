//! The events table: its schema (`lift clickhouse init`), which kind a table is, and bulk loading
//! (`lift demo`, tests).
//!
//! The shape is the one Flagsmith's event pipeline writes. Exposure events carry the variant key in
//! `value`; metric events carry their number in `value` (text) and properties in `metadata` (JSON).
//!
//! The table lift creates deduplicates: a `ReplacingMergeTree` whose sorting key is the natural
//! key (every column but `collected_at`, the delivery time), so at-least-once duplicates merge
//! into one row; partitioned by month of `timestamp`, a natural-key column, so duplicates always
//! share a partition. Which path the metrics query takes is read from `system.tables` before each
//! metrics query ([`Warehouse::events_table_kind`]): only a table of that shape is read as
//! [`EventsTableKind::Deduplicating`]; any other (a `MergeTree` created by an older lift, a view,
//! a table lift did not create) is [`EventsTableKind::Plain`] and deduplicated while reading.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::warehouse::cluster_name;
use crate::domain::DomainError;
use crate::sql::{CompiledQuery, EventsTableKind, ParamValue};

use super::Warehouse;
use crate::sql::Placement;

/// The events table's columns, in the shape lift reads.
const COLUMNS: &str = "(
    environment_key String,
    event String,
    feature_name String,
    identifier String,
    timestamp DateTime64(3, 'UTC'),
    collected_at DateTime64(3, 'UTC'),
    value String,
    metadata String
)";

/// The natural key of an event: equal on two rows means one event delivered twice.
const NATURAL_KEY: [&str; 7] = [
    "environment_key",
    "event",
    "feature_name",
    "timestamp",
    "identifier",
    "value",
    "metadata",
];

/// The engine and keys of the events table, as `system.tables` lists them.
const TABLE_SHAPE: &str = "SELECT engine, sorting_key, partition_key
FROM system.tables
WHERE database = {p0:String} AND name = {p1:String}";

/// One row of [`TABLE_SHAPE`].
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct TableShape {
    engine: String,
    sorting_key: String,
    partition_key: String,
}

/// Whether a table of this engine and keys keeps one row per natural key (read with `FINAL`):
/// a `ReplacingMergeTree` (also replicated or shared) sorted by exactly the natural key's columns,
/// whose partition key reads only natural-key columns (else duplicates could sit in two
/// partitions, which `FINAL` with `do_not_merge_across_partitions_select_final` would not merge).
pub fn kind_of(engine: &str, sorting_key: &str, partition_key: &str) -> EventsTableKind {
    let replacing = matches!(
        engine,
        "ReplacingMergeTree" | "ReplicatedReplacingMergeTree" | "SharedReplacingMergeTree"
    );
    let mut sorted: Vec<&str> = sorting_key.split(',').map(str::trim).collect();
    sorted.sort_unstable();
    let mut natural = NATURAL_KEY.to_vec();
    natural.sort_unstable();
    let partitioned_by_key = columns_named(partition_key).all(|c| NATURAL_KEY.contains(&c));
    if replacing && sorted == natural && partitioned_by_key {
        EventsTableKind::Deduplicating
    } else {
        EventsTableKind::Plain
    }
}

/// The names in an expression that are not function names (`toYYYYMM(timestamp)` → `timestamp`).
fn columns_named(expression: &str) -> impl Iterator<Item = &str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut names = Vec::new();
    let mut rest = expression;
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphabetic() || c == '_') {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !is_name(c)).unwrap_or(tail.len());
        let after = tail[end..].trim_start();
        if !after.starts_with('(') {
            names.push(&tail[..end]);
        }
        rest = &tail[end..];
    }
    names.into_iter()
}

/// The sort key puts an environment's events of one name together, so results read key ranges;
/// it is the whole natural key, so `ReplacingMergeTree` keeps one row per event delivered twice
/// (read with `FINAL`, see [`kind_of`]). Duplicates share a month, hence a partition.
const MERGE_TREE: &str = "ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (environment_key, event, feature_name, timestamp, identifier, value, metadata)";

/// Appended to the local table's name for the `Distributed` table over a cluster's shards.
pub const DISTRIBUTED_SUFFIX: &str = "_distributed";

/// The statements of `lift clickhouse init`. Database and table names are the parameters
/// `database`, `table` (and `distributed`), bound as `Identifier` (or `String` inside the
/// `Distributed` engine's arguments).
///
/// On a cluster: the database and the local MergeTree table `ON CLUSTER` (every shard gets one),
/// then the `Distributed` table `<table>_distributed` over them, sharded by
/// `cityHash64(identifier)` so every event of an identity lands on one shard: what results need
/// (see `sql/cluster.rs`). Pipelines insert into the `Distributed` table; lift reads the local
/// tables through `cluster()`. `ON CLUSTER` takes no query parameter (ClickHouse parses only a name
/// there), so the cluster name, checked by [`cluster_name`] to hold only letters, digits, `_` and
/// `-`, is written as a quoted identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitStatements {
    /// Creates the database; runs first, from a client that names `default`.
    pub database: String,
    /// Create the tables, in order.
    pub tables: Vec<String>,
}

impl InitStatements {
    pub fn new(cluster: Option<&str>) -> Result<Self, DomainError> {
        let local = |on_cluster: &str| {
            format!(
                "CREATE TABLE IF NOT EXISTS {{database:Identifier}}.{{table:Identifier}}{on_cluster} \
                 {COLUMNS} {MERGE_TREE}"
            )
        };
        let Some(cluster) = cluster else {
            return Ok(InitStatements {
                database: "CREATE DATABASE IF NOT EXISTS {database:Identifier}".to_owned(),
                tables: vec![local("")],
            });
        };
        let on_cluster = format!(" ON CLUSTER `{}`", cluster_name(cluster.to_owned())?);
        Ok(InitStatements {
            database: format!("CREATE DATABASE IF NOT EXISTS {{database:Identifier}}{on_cluster}"),
            tables: vec![
                local(&on_cluster),
                format!(
                    "CREATE TABLE IF NOT EXISTS {{database:Identifier}}.{{distributed:Identifier}}\
                     {on_cluster} {COLUMNS}\nENGINE = Distributed({{cluster:String}}, \
                     {{database:String}}, {{table:String}}, cityHash64(identifier))"
                ),
            ],
        })
    }

    /// Every statement, in order.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.database.as_str()).chain(self.tables.iter().map(String::as_str))
    }
}

/// One row of the events table.
#[derive(Debug, Clone, clickhouse::Row, Serialize)]
pub struct EventRow {
    pub environment_key: String,
    pub event: String,
    pub feature_name: String,
    pub identifier: String,
    #[serde(with = "clickhouse::serde::chrono::datetime64::millis")]
    pub timestamp: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::datetime64::millis")]
    pub collected_at: DateTime<Utc>,
    pub value: String,
    pub metadata: String,
}

impl Warehouse {
    /// Creates the database and the events table when they do not exist (on a cluster: on
    /// every shard, and the `Distributed` table over them).
    pub async fn init_events_table(&self) -> Result<(), DomainError> {
        let table = self.events_table();
        let cluster = match &table.placement {
            Placement::Single => None,
            Placement::Cluster(name) => Some(name.as_str()),
        };
        let distributed = format!("{}{DISTRIBUTED_SUFFIX}", table.table);
        let statements = InitStatements::new(cluster)?;
        // The client names the database on every request, so it must exist first: create it from
        // a client that names the always-present `default`.
        let database_client = self.client().clone().with_database("default");
        let runs = std::iter::once(("create database", &database_client, &statements.database))
            .chain(
                statements
                    .tables
                    .iter()
                    .map(|sql| ("create table", self.client(), sql)),
            );
        for (what, client, sql) in runs {
            let mut query = client
                .query(sql)
                .param("database", &table.database)
                .param("table", &table.table);
            if let Some(cluster) = cluster {
                query = query
                    .param("distributed", &distributed)
                    .param("cluster", cluster);
            }
            self.limit(what, query.execute()).await?;
        }
        Ok(())
    }

    /// How the events table removes duplicates, from its engine and keys; a table `system.tables`
    /// does not list (e.g. no such table) is `Plain`, and the metrics query then fails as it would.
    pub async fn events_table_kind(&self) -> Result<EventsTableKind, DomainError> {
        let table = self.events_table();
        let query = CompiledQuery {
            sql: TABLE_SHAPE.to_owned(),
            params: vec![
                ("p0".to_owned(), ParamValue::String(table.database)),
                ("p1".to_owned(), ParamValue::String(table.table)),
            ],
        };
        let rows: Vec<TableShape> = self.fetch_all(&query, "other").await?;
        Ok(rows.first().map_or(EventsTableKind::Plain, |shape| {
            kind_of(&shape.engine, &shape.sorting_key, &shape.partition_key)
        }))
    }

    /// Appends rows in one INSERT.
    pub async fn insert_events(&self, rows: &[EventRow]) -> Result<(), DomainError> {
        let table = self.events_table();
        // On a cluster rows go through the `Distributed` table, which places each on its shard;
        // in the foreground, so they are readable when the insert returns.
        let (client, into) = match &table.placement {
            Placement::Single => (self.client().clone(), table.table.clone()),
            Placement::Cluster(_) => (
                self.client()
                    .clone()
                    .with_setting("distributed_foreground_insert", "1"),
                format!("{}{DISTRIBUTED_SUFFIX}", table.table),
            ),
        };
        let write = async {
            let mut insert = client.insert::<EventRow>(&into).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        };
        self.limit("insert events", write).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lift clickhouse init --cluster` in `src/sql/snapshots/init_cluster.sql` (regenerate with
    /// `UPDATE_SNAPSHOTS=1`); the engine cannot run `ON CLUSTER` without Keeper, so the text is
    /// what is checked here and the statements without `ON CLUSTER` run in `tests/api/cluster.rs`.
    #[test]
    fn init_on_a_cluster_creates_local_tables_and_a_distributed_table() {
        let statements = InitStatements::new(Some("lift_two_shards")).expect("a plain name");
        let rendered: String = statements.all().map(|sql| format!("{sql};\n\n")).collect();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/sql/snapshots/init_cluster.sql");
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &rendered).expect("write the snapshot");
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(rendered, expected, "init_cluster.sql (UPDATE_SNAPSHOTS=1)");
        let single = InitStatements::new(None).expect("no cluster");
        assert!(single.all().all(|sql| !sql.contains("CLUSTER")));
        assert_eq!(
            statements.tables[0].replace(" ON CLUSTER `lift_two_shards`", ""),
            single.tables[0]
        );
    }

    #[test]
    fn a_cluster_name_that_would_need_quoting_is_refused() {
        for bad in ["a`b", "x; DROP TABLE t", "c d", ""] {
            assert!(InitStatements::new(Some(bad)).is_err(), "{bad}");
        }
    }

    const LIFT: &str =
        "environment_key, event, feature_name, timestamp, identifier, value, metadata";

    #[test]
    fn only_a_replacing_table_sorted_by_the_natural_key_deduplicates() {
        use EventsTableKind::*;
        assert_eq!(
            kind_of("ReplacingMergeTree", LIFT, "toYYYYMM(timestamp)"),
            Deduplicating
        );
        assert_eq!(
            kind_of("ReplicatedReplacingMergeTree", LIFT, ""),
            Deduplicating
        );
        // What an older lift created, and look-alikes that keep distinct events or duplicates.
        let older = "environment_key, event, feature_name, timestamp, identifier";
        assert_eq!(kind_of("MergeTree", older, ""), Plain);
        assert_eq!(kind_of("MergeTree", LIFT, ""), Plain);
        assert_eq!(kind_of("ReplacingMergeTree", older, ""), Plain);
        let with_delivery = format!("{LIFT}, collected_at");
        assert_eq!(kind_of("ReplacingMergeTree", &with_delivery, ""), Plain);
        assert_eq!(
            kind_of("ReplacingMergeTree", LIFT, "toYYYYMM(collected_at)"),
            Plain
        );
        assert_eq!(kind_of("Distributed", "", ""), Plain);
        assert_eq!(kind_of("View", "", ""), Plain);
    }

    #[test]
    fn the_table_lift_creates_is_read_as_deduplicating() {
        let order = MERGE_TREE.split("ORDER BY (").nth(1).unwrap();
        let partition = MERGE_TREE.split("PARTITION BY ").nth(1).unwrap();
        assert_eq!(
            kind_of(
                "ReplacingMergeTree",
                order.trim_end_matches(')'),
                partition.lines().next().unwrap()
            ),
            EventsTableKind::Deduplicating
        );
    }
}
