//! The foundation schema: tenancy (organisations, projects, environments), users and their permissions,
//! features, experiments, the metric library, metric attachments, result snapshots and the audit log.
//!
//! Ids are UUIDv7 strings (time-ordered, so keyset pagination on `id` is also newest/oldest order).
//! Enums are stored as short upper-case strings. Rules that must hold under concurrency are indexes:
//! partial unique indexes for "one active experiment per feature and environment" and "metric names are
//! unique among live metrics of an environment" (both SQLite and PostgreSQL support `WHERE` on indexes).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const ID_LEN: u32 = 36;

fn id_pk(col: impl IntoIden) -> ColumnDef {
    string_len(col, ID_LEN).primary_key().take()
}

fn id_ref(col: impl IntoIden) -> ColumnDef {
    string_len(col, ID_LEN)
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Organisations::Table)
                .col(id_pk(Organisations::Id))
                .col(string_len(Organisations::Name, 255))
                .col(boolean(Organisations::ExperimentationEnabled).default(false))
                .col(timestamp_with_time_zone(Organisations::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(id_pk(Users::Id))
                .col(string_len_uniq(Users::Email, 320))
                .col(string_len(Users::Name, 255))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(OrganisationMemberships::Table)
                .col(id_pk(OrganisationMemberships::Id))
                .col(id_ref(OrganisationMemberships::OrganisationId))
                .col(id_ref(OrganisationMemberships::UserId))
                .col(string_len(OrganisationMemberships::Role, 16))
                .foreign_key(&mut fk(
                    "fk_membership_organisation",
                    (
                        OrganisationMemberships::Table,
                        OrganisationMemberships::OrganisationId,
                    ),
                    (Organisations::Table, Organisations::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_membership_user",
                    (
                        OrganisationMemberships::Table,
                        OrganisationMemberships::UserId,
                    ),
                    (Users::Table, Users::Id),
                ))
                .index(
                    Index::create()
                        .name("ux_membership_organisation_user")
                        .col(OrganisationMemberships::OrganisationId)
                        .col(OrganisationMemberships::UserId)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Projects::Table)
                .col(id_pk(Projects::Id))
                .col(id_ref(Projects::OrganisationId))
                .col(string_len(Projects::Name, 255))
                .col(timestamp_with_time_zone(Projects::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_project_organisation",
                    (Projects::Table, Projects::OrganisationId),
                    (Organisations::Table, Organisations::Id),
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(ProjectPermissions::Table)
                .col(id_pk(ProjectPermissions::Id))
                .col(id_ref(ProjectPermissions::ProjectId))
                .col(id_ref(ProjectPermissions::UserId))
                .col(boolean(ProjectPermissions::Admin).default(false))
                .foreign_key(&mut fk(
                    "fk_project_permission_project",
                    (ProjectPermissions::Table, ProjectPermissions::ProjectId),
                    (Projects::Table, Projects::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_project_permission_user",
                    (ProjectPermissions::Table, ProjectPermissions::UserId),
                    (Users::Table, Users::Id),
                ))
                .index(
                    Index::create()
                        .name("ux_project_permission_project_user")
                        .col(ProjectPermissions::ProjectId)
                        .col(ProjectPermissions::UserId)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Environments::Table)
                .col(id_pk(Environments::Id))
                .col(id_ref(Environments::ProjectId))
                .col(string_len(Environments::Name, 255))
                .col(string_len_uniq(Environments::Key, 100))
                .col(timestamp_with_time_zone(Environments::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_environment_project",
                    (Environments::Table, Environments::ProjectId),
                    (Projects::Table, Projects::Id),
                ))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(EnvironmentPermissions::Table)
                .col(id_pk(EnvironmentPermissions::Id))
                .col(id_ref(EnvironmentPermissions::EnvironmentId))
                .col(id_ref(EnvironmentPermissions::UserId))
                .col(boolean(EnvironmentPermissions::Admin).default(false))
                .foreign_key(&mut fk(
                    "fk_environment_permission_environment",
                    (
                        EnvironmentPermissions::Table,
                        EnvironmentPermissions::EnvironmentId,
                    ),
                    (Environments::Table, Environments::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_environment_permission_user",
                    (
                        EnvironmentPermissions::Table,
                        EnvironmentPermissions::UserId,
                    ),
                    (Users::Table, Users::Id),
                ))
                .index(
                    Index::create()
                        .name("ux_environment_permission_environment_user")
                        .col(EnvironmentPermissions::EnvironmentId)
                        .col(EnvironmentPermissions::UserId)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Features::Table)
                .col(id_pk(Features::Id))
                .col(id_ref(Features::ProjectId))
                .col(string_len(Features::Name, 255))
                .col(json_binary(Features::Variants))
                .col(timestamp_with_time_zone(Features::CreatedAt))
                .foreign_key(&mut fk(
                    "fk_feature_project",
                    (Features::Table, Features::ProjectId),
                    (Projects::Table, Projects::Id),
                ))
                .index(
                    Index::create()
                        .name("ux_feature_project_name")
                        .col(Features::ProjectId)
                        .col(Features::Name)
                        .unique(),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Experiments::Table)
                .col(id_pk(Experiments::Id))
                .col(id_ref(Experiments::EnvironmentId))
                .col(id_ref(Experiments::FeatureId))
                .col(string_len(Experiments::Name, 255))
                .col(text(Experiments::Hypothesis))
                .col(string_len(Experiments::Status, 16))
                .col(string_len(Experiments::ExposureEvent, 200))
                .col(string_len(Experiments::ControlVariant, 100))
                .col(timestamp_with_time_zone_null(Experiments::StartedAt))
                .col(timestamp_with_time_zone_null(Experiments::EndedAt))
                .col(timestamp_with_time_zone(Experiments::CreatedAt))
                .col(timestamp_with_time_zone(Experiments::UpdatedAt))
                .col(timestamp_with_time_zone_null(Experiments::DeletedAt))
                .foreign_key(&mut fk(
                    "fk_experiment_environment",
                    (Experiments::Table, Experiments::EnvironmentId),
                    (Environments::Table, Environments::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_experiment_feature",
                    (Experiments::Table, Experiments::FeatureId),
                    (Features::Table, Features::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_experiment_environment")
                .table(Experiments::Table)
                .col(Experiments::EnvironmentId)
                .col(Experiments::Id)
                .take(),
        )
        .await?;
        // The rule "at most one non-deleted, non-completed experiment per (feature, environment)" is
        // enforced here, so two concurrent createExperiment calls cannot both win.
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_experiment_active_per_feature \
                 ON experiments (feature_id, environment_id) \
                 WHERE deleted_at IS NULL AND status <> 'COMPLETED'",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(Metrics::Table)
                .col(id_pk(Metrics::Id))
                .col(id_ref(Metrics::EnvironmentId))
                .col(string_len(Metrics::Name, 255))
                // Rust's full Unicode lower-casing of `name`, for search: SQLite's lower() only
                // folds ASCII, and PostgreSQL's depends on the collation.
                .col(text(Metrics::NameLower))
                .col(text(Metrics::Description))
                .col(string_len(Metrics::MetricType, 16))
                .col(string_len(Metrics::Aggregation, 16))
                .col(string_len(Metrics::Direction, 16))
                .col(json_binary(Metrics::Definition))
                .col(timestamp_with_time_zone(Metrics::CreatedAt))
                .col(timestamp_with_time_zone_null(Metrics::DeletedAt))
                .foreign_key(&mut fk(
                    "fk_metric_environment",
                    (Metrics::Table, Metrics::EnvironmentId),
                    (Environments::Table, Environments::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_metric_environment")
                .table(Metrics::Table)
                .col(Metrics::EnvironmentId)
                .col(Metrics::Id)
                .take(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_metric_live_name \
                 ON metrics (environment_id, name) WHERE deleted_at IS NULL",
            )
            .await?;

        m.create_table(
            Table::create()
                .table(ExperimentMetrics::Table)
                .col(id_pk(ExperimentMetrics::Id))
                .col(id_ref(ExperimentMetrics::ExperimentId))
                .col(id_ref(ExperimentMetrics::MetricId))
                .col(string_len(ExperimentMetrics::ExpectedDirection, 16))
                .col(string_len(ExperimentMetrics::Role, 16))
                .col(timestamp_with_time_zone(ExperimentMetrics::CreatedAt))
                .col(timestamp_with_time_zone(ExperimentMetrics::UpdatedAt))
                .foreign_key(&mut fk(
                    "fk_experiment_metric_experiment",
                    (ExperimentMetrics::Table, ExperimentMetrics::ExperimentId),
                    (Experiments::Table, Experiments::Id),
                ))
                .foreign_key(&mut fk(
                    "fk_experiment_metric_metric",
                    (ExperimentMetrics::Table, ExperimentMetrics::MetricId),
                    (Metrics::Table, Metrics::Id),
                ))
                .index(
                    Index::create()
                        .name("ux_experiment_metric")
                        .col(ExperimentMetrics::ExperimentId)
                        .col(ExperimentMetrics::MetricId)
                        .unique(),
                )
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_experiment_metric_metric")
                .table(ExperimentMetrics::Table)
                .col(ExperimentMetrics::MetricId)
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(MetricResultSnapshots::Table)
                .col(id_pk(MetricResultSnapshots::Id))
                .col(id_ref(MetricResultSnapshots::ExperimentId))
                .col(timestamp_with_time_zone(MetricResultSnapshots::ComputedAt))
                .col(json_binary(MetricResultSnapshots::Payload))
                .foreign_key(&mut fk(
                    "fk_snapshot_experiment",
                    (
                        MetricResultSnapshots::Table,
                        MetricResultSnapshots::ExperimentId,
                    ),
                    (Experiments::Table, Experiments::Id),
                ))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_snapshot_experiment_computed")
                .table(MetricResultSnapshots::Table)
                .col(MetricResultSnapshots::ExperimentId)
                .col(MetricResultSnapshots::ComputedAt)
                .take(),
        )
        .await?;

        // Audit rows are written by the audit issue; the table exists from the start. `sequence` is the
        // cursor order; ids of the related objects are kept as plain strings (no foreign keys) so the log
        // outlives what it describes.
        m.create_table(
            Table::create()
                .table(AuditLogs::Table)
                .col(big_pk_auto(AuditLogs::Sequence))
                .col(string_len_uniq(AuditLogs::Id, ID_LEN))
                .col(timestamp_with_time_zone(AuditLogs::CreatedAt))
                .col(id_ref(AuditLogs::OrganisationId))
                .col(string_len_null(AuditLogs::ProjectId, ID_LEN))
                .col(string_len_null(AuditLogs::EnvironmentId, ID_LEN))
                .col(string_len_null(AuditLogs::ActorId, ID_LEN))
                .col(string_len(AuditLogs::Action, 16))
                .col(string_len(AuditLogs::RelatedObjectType, 32))
                .col(string_len(AuditLogs::RelatedObjectId, ID_LEN))
                .col(text(AuditLogs::Log))
                .col(json_binary_null(AuditLogs::Changes))
                .take(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_audit_environment_sequence")
                .table(AuditLogs::Table)
                .col(AuditLogs::EnvironmentId)
                .col(AuditLogs::Sequence)
                .take(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLogs::Table.into_iden(),
            MetricResultSnapshots::Table.into_iden(),
            ExperimentMetrics::Table.into_iden(),
            Metrics::Table.into_iden(),
            Experiments::Table.into_iden(),
            Features::Table.into_iden(),
            EnvironmentPermissions::Table.into_iden(),
            Environments::Table.into_iden(),
            ProjectPermissions::Table.into_iden(),
            Projects::Table.into_iden(),
            OrganisationMemberships::Table.into_iden(),
            Users::Table.into_iden(),
            Organisations::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    ExperimentationEnabled,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrganisationMemberships {
    Table,
    Id,
    OrganisationId,
    UserId,
    Role,
}

#[derive(DeriveIden)]
enum Projects {
    Table,
    Id,
    OrganisationId,
    Name,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProjectPermissions {
    Table,
    Id,
    ProjectId,
    UserId,
    Admin,
}

#[derive(DeriveIden)]
enum Environments {
    Table,
    Id,
    ProjectId,
    Name,
    Key,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EnvironmentPermissions {
    Table,
    Id,
    EnvironmentId,
    UserId,
    Admin,
}

#[derive(DeriveIden)]
enum Features {
    Table,
    Id,
    ProjectId,
    Name,
    Variants,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Experiments {
    Table,
    Id,
    EnvironmentId,
    FeatureId,
    Name,
    Hypothesis,
    Status,
    ExposureEvent,
    ControlVariant,
    StartedAt,
    EndedAt,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum Metrics {
    Table,
    Id,
    EnvironmentId,
    Name,
    NameLower,
    Description,
    MetricType,
    Aggregation,
    Direction,
    Definition,
    CreatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum ExperimentMetrics {
    Table,
    Id,
    ExperimentId,
    MetricId,
    ExpectedDirection,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MetricResultSnapshots {
    Table,
    Id,
    ExperimentId,
    ComputedAt,
    Payload,
}

#[derive(DeriveIden)]
enum AuditLogs {
    Table,
    Sequence,
    Id,
    CreatedAt,
    OrganisationId,
    ProjectId,
    EnvironmentId,
    ActorId,
    Action,
    RelatedObjectType,
    RelatedObjectId,
    Log,
    Changes,
}
