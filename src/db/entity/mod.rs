//! SeaORM entities, one file per table. Rows stay inside `db/`: the rest of lift sees the read models
//! of `domain::model`, built by `db::convert`.

pub mod audit_log;
pub mod environment;
pub mod environment_permission;
pub mod experiment;
pub mod experiment_metric;
pub mod feature;
pub mod metric;
pub mod metric_result_snapshot;
pub mod metric_version;
pub mod organisation;
pub mod organisation_membership;
pub mod project;
pub mod project_permission;
pub mod user;
pub mod warehouse_connection;
