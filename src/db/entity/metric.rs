//! Row of `metrics`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "metrics")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub environment_id: String,
    pub name: String,
    /// `name` lower-cased in Rust (full Unicode), matched by search.
    pub name_lower: String,
    pub description: String,
    pub metric_type: String,
    pub aggregation: String,
    pub direction: String,
    pub definition: Json,
    /// The current version (`metric_versions.version`): what new attachments pin.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
