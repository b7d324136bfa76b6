//! The warehouse: the only module that holds a `clickhouse::Client`. It runs the SQL that the
//! pure compiler (`crate::sql`) produced, binding every value as a server-side parameter, and turns
//! rows into the sufficient statistics the pure stats core (`crate::stats`) judges.
//!
//! - `client.rs`: `Warehouse` (one target, its limits, error mapping to `WAREHOUSE_UNAVAILABLE`);
//! - `clients.rs`: one pooled client per target, connections' cached by id (bounded);
//! - `limits.rs`: the per-target bound on concurrent queries;
//! - `egress.rs`: which addresses per-environment connections may reach (SSRF guard);
//! - `rows.rs`: the row shapes of the compiled queries;
//! - `queries.rs`: exposures, metric statistics, metric previews and the connection probe;
//! - `events.rs`: the events table (`lift clickhouse init`) and bulk loading (demo, tests).

mod client;
mod clients;
pub mod egress;
pub mod events;
mod limits;
mod queries;
mod rows;

pub use client::{query_settings, Warehouse, WarehouseOptions, DEFAULT_TARGET_LABEL, QUERY_KINDS};
pub use clients::WarehouseClients;
pub use limits::TargetLimits;
