//! The events table: its schema (`lift clickhouse init`) and bulk loading (`lift demo`, tests).
//!
//! The shape is the one Flagsmith's event pipeline writes. Exposure events carry the variant key in
//! `value`; metric events carry their number in `value` (text) and properties in `metadata` (JSON).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::DomainError;

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
) ENGINE = MergeTree
ORDER BY (environment_key, event, feature_name, timestamp, identifier)";

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
