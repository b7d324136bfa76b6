//! `App`: what use-cases need beyond the viewer: the database, the hub that wakes live audit
//! subscribers after a commit, and how results reach and judge the warehouse.

use crate::configuration::ResultsSettings;
use crate::db::{Db, Sealer};
use crate::events::AuditHub;
use crate::telemetry::Metrics;
use crate::warehouse::{WarehouseClients, WarehouseOptions};

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub audit: AuditHub,
    /// Limits and transport of every warehouse query.
    pub warehouse_options: WarehouseOptions,
    /// Pooled clients of the server-wide ClickHouse (`LIFT_CLICKHOUSE_URL`, for environments
    /// without their own) and of environments' connections.
    pub warehouses: WarehouseClients,
    pub results: ResultsSettings,
    /// Seals and opens warehouse passwords at rest.
    pub sealer: Sealer,
    /// This application's Prometheus series (`/metrics`).
    pub metrics: Metrics,
}
