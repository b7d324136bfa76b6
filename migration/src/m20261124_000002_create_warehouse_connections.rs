//! The results issue: per-environment warehouse connections, and each experiment's policy for
//! identities exposed to more than one variant.
//!
//! An environment has at most one warehouse connection (a unique index on `environment_id`);
//! deleting it removes the row (connections are configuration, not history). The password is kept
//! for lift's own queries and never returned by the API.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Experiments::Table)
                .add_column(
                    string_len(Experiments::MultipleExposureHandling, 16).default("EXCLUDE"),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(WarehouseConnections::Table)
                .col(string_len(WarehouseConnections::Id, 36).primary_key())
                .col(string_len_uniq(WarehouseConnections::EnvironmentId, 36))
                .col(string_len(WarehouseConnections::Kind, 16))
                .col(string_len(WarehouseConnections::Url, 2048))
                .col(string_len(WarehouseConnections::DatabaseName, 255))
                .col(string_len(WarehouseConnections::TableName, 255))
                .col(string_len(WarehouseConnections::Username, 255))
                .col(text(WarehouseConnections::Password))
                .col(timestamp_with_time_zone(WarehouseConnections::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_warehouse_environment")
                        .from(
                            WarehouseConnections::Table,
                            WarehouseConnections::EnvironmentId,
                        )
                        .to(Environments::Table, Environments::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WarehouseConnections::Table).take())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Experiments::Table)
                .drop_column(Experiments::MultipleExposureHandling)
                .take(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    MultipleExposureHandling,
}

#[derive(DeriveIden)]
enum Environments {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WarehouseConnections {
    Table,
    Id,
    EnvironmentId,
    Kind,
    Url,
    DatabaseName,
    TableName,
    Username,
    Password,
    CreatedAt,
}
