//! Row of `audit_logs`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub sequence: i64,
    pub id: String,
    pub created_at: DateTimeUtc,
    pub organisation_id: String,
    pub project_id: Option<String>,
    pub environment_id: Option<String>,
    pub actor_id: Option<String>,
    pub action: String,
    pub related_object_type: String,
    pub related_object_id: String,
    pub log: String,
    pub changes: Option<Json>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
