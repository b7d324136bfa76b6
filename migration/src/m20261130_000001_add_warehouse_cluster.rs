//! Sharded warehouses: a connection may name the ClickHouse cluster whose shards each hold the
//! events table (NULL: one server holds every event).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WarehouseConnections::Table)
                .add_column(string_len_null(WarehouseConnections::ClusterName, 255))
                .take(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(WarehouseConnections::Table)
                .drop_column(WarehouseConnections::ClusterName)
                .take(),
        )
        .await
    }
}

#[derive(DeriveIden)]
enum WarehouseConnections {
    Table,
    ClusterName,
}
