//! SeaORM migrations for lift, applied in order by `Migrator::up` (`lift migrate`, or on `lift serve` start).
//!
//! Files are named `mYYYYMMDD_HHMMSS_<verb>_<noun>.rs`; each has an `up` and a `down`. Every migration
//! must behave the same on SQLite (embedded default) and PostgreSQL (production).

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_core_tables;
mod m20261124_000002_create_warehouse_connections;
mod m20261130_000001_add_warehouse_cluster;
mod m20261130_090000_add_experiment_analysis;
mod m20261130_120000_add_metric_versions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_core_tables::Migration),
            Box::new(m20261124_000002_create_warehouse_connections::Migration),
            Box::new(m20261130_000001_add_warehouse_cluster::Migration),
            Box::new(m20261130_090000_add_experiment_analysis::Migration),
            Box::new(m20261130_120000_add_metric_versions::Migration),
        ]
    }
}
