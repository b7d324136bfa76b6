//! `WarehouseConnection` (the password is write-only) and its inputs.

use async_graphql::{Enum, InputObject, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domain::warehouse::{self, WarehouseDraft};
use crate::service::warehouse::ProbeReport;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "warehouse::WarehouseKind")]
pub enum WarehouseKind {
    #[graphql(name = "CLICKHOUSE")]
    ClickHouse,
}

pub struct WarehouseConnection(pub warehouse::WarehouseConnection);

#[Object]
impl WarehouseConnection {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn kind(&self) -> WarehouseKind {
        self.0.kind.into()
    }
    /// The ClickHouse HTTP interface.
    async fn url(&self) -> &str {
        &self.0.target.url
    }
    async fn database(&self) -> &str {
        &self.0.target.database
    }
    /// The events table.
    async fn table(&self) -> &str {
        &self.0.target.table
    }
    /// The ClickHouse cluster whose shards each hold `table` (sharded by `identifier`); null when
    /// one server holds every event.
    async fn cluster(&self) -> Option<&str> {
        self.0.target.cluster.as_deref()
    }
    async fn user(&self) -> &str {
        &self.0.target.user
    }
    /// Whether a password is stored (the password itself is never returned).
    async fn password_set(&self) -> bool {
        !secrecy::ExposeSecret::expose_secret(&self.0.target.password).is_empty()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(InputObject)]
pub struct CreateWarehouseConnectionInput {
    pub environment_key: String,
    /// Only CLICKHOUSE for now (the default).
    pub kind: Option<WarehouseKind>,
    /// The ClickHouse HTTP interface, e.g. `https://clickhouse.internal:8443`.
    pub url: String,
    /// Defaults to `default`.
    pub database: Option<String>,
    /// The events table; defaults to `events`. With `cluster`, each shard's local table (not the
    /// `Distributed` table over them).
    pub table: Option<String>,
    /// The cluster (as named in the servers' `remote_servers`) when events are sharded by
    /// `identifier`; results then run on every shard and merge per variant. Omit for one server.
    pub cluster: Option<String>,
    /// Defaults to `default`.
    pub user: Option<String>,
    /// Write-only: stored for lift's queries, never returned.
    #[graphql(secret)]
    pub password: Option<String>,
}

impl CreateWarehouseConnectionInput {
    pub fn into_parts(self) -> (String, WarehouseDraft) {
        let draft = WarehouseDraft {
            url: self.url,
            database: self.database,
            table: self.table,
            cluster: self.cluster,
            user: self.user,
            password: self.password.map(secrecy::SecretString::from),
        };
        (self.environment_key, draft)
    }
}

/// What `testWarehouseConnection` found.
#[derive(SimpleObject)]
pub struct WarehouseConnectionTest {
    /// lift could query the events table.
    pub reachable: bool,
    /// Exposure events of this environment in the table.
    pub exposure_events: u64,
    /// True when there are exposure events to analyse.
    pub has_exposure_events: bool,
    pub message: String,
}

impl From<ProbeReport> for WarehouseConnectionTest {
    fn from(r: ProbeReport) -> Self {
        WarehouseConnectionTest {
            reachable: r.reachable,
            has_exposure_events: r.exposure_events > 0,
            exposure_events: r.exposure_events,
            message: r.message,
        }
    }
}
