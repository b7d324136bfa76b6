//! Versioned metrics: what a metric measures (type, aggregation, direction, definition) is kept per
//! version in `metric_versions`; `metrics.version` names the current one and each attachment pins
//! the version it is analysed with (`experiment_metrics.metric_version`). Existing metrics become
//! version 1 (one `metric_versions` row each, copied from the metric), and so do their attachments.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(MetricVersions::Table)
                .col(string_len(MetricVersions::MetricId, 36))
                .col(integer(MetricVersions::Version))
                .col(string_len(MetricVersions::MetricType, 16))
                .col(string_len(MetricVersions::Aggregation, 16))
                .col(string_len(MetricVersions::Direction, 16))
                .col(json_binary(MetricVersions::Definition))
                .col(timestamp_with_time_zone(MetricVersions::CreatedAt))
                // Unique (metric_id, version): two concurrent edits cannot both write version n+1.
                .primary_key(
                    Index::create()
                        .name("pk_metric_versions")
                        .col(MetricVersions::MetricId)
                        .col(MetricVersions::Version),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_metric_version_metric")
                        .from(MetricVersions::Table, MetricVersions::MetricId)
                        .to(Metrics::Table, Metrics::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Metrics::Table)
                .add_column(integer(Metrics::Version).default(1))
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(ExperimentMetrics::Table)
                .add_column(integer(ExperimentMetrics::MetricVersion).default(1))
                .take(),
        )
        .await?;
        // Every existing metric (soft-deleted ones too: snapshots may name them) gets version 1.
        m.get_connection()
            .execute_unprepared(
                "INSERT INTO metric_versions \
                 (metric_id, version, metric_type, aggregation, direction, definition, created_at) \
                 SELECT id, 1, metric_type, aggregation, direction, definition, created_at FROM metrics",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(ExperimentMetrics::Table)
                .drop_column(ExperimentMetrics::MetricVersion)
                .take(),
        )
        .await?;
        m.alter_table(
            Table::alter()
                .table(Metrics::Table)
                .drop_column(Metrics::Version)
                .take(),
        )
        .await?;
        m.drop_table(Table::drop().table(MetricVersions::Table).take())
            .await
    }
}

#[derive(DeriveIden)]
enum MetricVersions {
    Table,
    MetricId,
    Version,
    MetricType,
    Aggregation,
    Direction,
    Definition,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Metrics {
    Table,
    Id,
    Version,
}

#[derive(DeriveIden)]
enum ExperimentMetrics {
    Table,
    MetricVersion,
}
