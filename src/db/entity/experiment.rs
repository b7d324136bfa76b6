//! Row of `experiments`.

use sea_orm::entity::prelude::*;

/// `Deserialize`: a page of metrics reads attachments as JSON (`db::nested`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "experiments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub environment_id: String,
    pub feature_id: String,
    pub name: String,
    pub hypothesis: String,
    pub status: String,
    pub exposure_event: String,
    pub control_variant: String,
    pub multiple_exposure_handling: String,
    /// Versioned JSON analysis settings; NULL for experiments created before they existed.
    pub analysis: Option<Json>,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub deleted_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
