//! Row of `experiment_metrics`.

use sea_orm::entity::prelude::*;

/// `Deserialize`: a page of metrics reads attachments as JSON (`db::nested`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "experiment_metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub experiment_id: String,
    pub metric_id: String,
    pub expected_direction: String,
    pub role: String,
    /// The version of the metric the experiment is analysed with.
    pub metric_version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
