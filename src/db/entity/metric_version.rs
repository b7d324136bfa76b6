//! Row of `metric_versions`: what a metric measured in one of its versions.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metric_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub metric_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    pub metric_type: String,
    pub aggregation: String,
    pub direction: String,
    pub definition: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
