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

use crate::domain::DomainError;
use crate::sql::{CompiledQuery, EventsTableKind, ParamValue};

use super::Warehouse;

/// Columns, engine and ordering of the events table; database and table names are bound as
/// `Identifier` parameters.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS {database:Identifier}.{table:Identifier} (
    environment_key String,
    event String,
    feature_name String,
    identifier String,
    timestamp DateTime64(3, 'UTC'),
    collected_at DateTime64(3, 'UTC'),
    value String,
    metadata String
) ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (environment_key, event, feature_name, timestamp, identifier, value, metadata)";

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

const CREATE_DATABASE: &str = "CREATE DATABASE IF NOT EXISTS {database:Identifier}";

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
    /// Creates the database and the events table when they do not exist.
    pub async fn init_events_table(&self) -> Result<(), DomainError> {
        let table = self.events_table();
        // The client names the database on every request, so it must exist first: create it from
        // a client that names the always-present `default`.
        let create_database = self
            .client()
            .clone()
            .with_database("default")
            .query(CREATE_DATABASE)
            .param("database", &table.database);
        self.limit("create database", create_database.execute())
            .await?;
        let create_table = self
            .client()
            .query(CREATE_TABLE)
            .param("database", &table.database)
            .param("table", &table.table);
        self.limit("create table", create_table.execute()).await
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
        let write = async {
            let mut insert = self.client().insert::<EventRow>(&table.table).await?;
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
        let order = CREATE_TABLE.split("ORDER BY (").nth(1).unwrap();
        let partition = CREATE_TABLE.split("PARTITION BY ").nth(1).unwrap();
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
