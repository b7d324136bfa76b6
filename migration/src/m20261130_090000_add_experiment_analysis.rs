//! Per-experiment analysis settings (engine, α, sequential testing, CUPED, correction, prior,
//! minimums, target MDE) as versioned JSON. NULL: the experiment was created before settings
//! existed and follows the server's defaults until its next change pins them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Experiments::Table)
                .add_column(json_binary_null(Experiments::Analysis))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Experiments::Table)
                .drop_column(Experiments::Analysis)
                .take(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Analysis,
}
