//! Named query scopes. Soft-deleted experiments and metrics are invisible through every scope here
//! except the ones whose name says `_including_deleted`. An attachment is live when both its
//! experiment and its metric are.
//!
//! This is the only file that calls `Entity::find()` (`tests/architecture.rs` checks it), and
//! [`find_all`] takes only entities marked [`NoSoftDelete`].

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use super::entity::{
    environment, experiment, experiment_metric, feature, metric, metric_result_snapshot,
    metric_version, organisation, project, user, warehouse_connection,
};

pub trait LiveScope: EntityTrait {
    /// Rows that are not soft-deleted.
    fn find_live() -> Select<Self>;
}

impl LiveScope for metric::Entity {
    fn find_live() -> Select<Self> {
        metric::Entity::find().filter(metric::Column::DeletedAt.is_null())
    }
}

impl LiveScope for experiment::Entity {
    fn find_live() -> Select<Self> {
        experiment::Entity::find().filter(experiment::Column::DeletedAt.is_null())
    }
}

impl LiveScope for experiment_metric::Entity {
    fn find_live() -> Select<Self> {
        experiment_metric::Entity::find()
            .filter(
                Expr::col(experiment_metric::Column::ExperimentId).in_subquery(
                    Query::select()
                        .column(experiment::Column::Id)
                        .from(experiment::Entity)
                        .and_where(experiment::Column::DeletedAt.is_null())
                        .take(),
                ),
            )
            .filter(
                Expr::col(experiment_metric::Column::MetricId).in_subquery(
                    Query::select()
                        .column(metric::Column::Id)
                        .from(metric::Entity)
                        .and_where(metric::Column::DeletedAt.is_null())
                        .take(),
                ),
            )
    }
}

/// A version is live when its metric is.
impl LiveScope for metric_version::Entity {
    fn find_live() -> Select<Self> {
        metric_version::Entity::find().filter(
            Expr::col(metric_version::Column::MetricId).in_subquery(
                Query::select()
                    .column(metric::Column::Id)
                    .from(metric::Entity)
                    .and_where(metric::Column::DeletedAt.is_null())
                    .take(),
            ),
        )
    }
}

/// A table without a soft-delete column: every row is live, so [`find_all`] may read it. Never
/// implement it for an entity with `deleted_at` (`tests/architecture.rs` checks).
pub trait NoSoftDelete: EntityTrait {}

impl NoSoftDelete for environment::Entity {}
impl NoSoftDelete for feature::Entity {}
impl NoSoftDelete for metric_result_snapshot::Entity {}
impl NoSoftDelete for organisation::Entity {}
impl NoSoftDelete for project::Entity {}
impl NoSoftDelete for user::Entity {}
impl NoSoftDelete for warehouse_connection::Entity {}

/// Every row of a table that has no soft delete.
pub fn find_all<E: NoSoftDelete>() -> Select<E> {
    E::find()
}

/// Metrics including soft-deleted ones. Used only where a rule needs history.
#[allow(dead_code)]
pub fn metrics_including_deleted() -> Select<metric::Entity> {
    metric::Entity::find()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{DbBackend, QueryTrait};

    #[test]
    fn live_metrics_exclude_soft_deleted_rows() {
        let sql = metric::Entity::find_live()
            .build(DbBackend::Postgres)
            .to_string();
        assert!(
            sql.ends_with(r#"WHERE "metrics"."deleted_at" IS NULL"#),
            "{sql}"
        );
    }

    #[test]
    fn live_experiments_exclude_soft_deleted_rows() {
        let sql = experiment::Entity::find_live()
            .build(DbBackend::Sqlite)
            .to_string();
        assert!(
            sql.ends_with(r#"WHERE "experiments"."deleted_at" IS NULL"#),
            "{sql}"
        );
    }

    #[test]
    fn live_attachments_need_a_live_experiment_and_a_live_metric() {
        let sql = experiment_metric::Entity::find_live()
            .build(DbBackend::Postgres)
            .to_string();
        let (_, where_clause) = sql
            .split_once(r#"FROM "experiment_metrics" WHERE "#)
            .expect("a WHERE clause");
        assert_eq!(
            where_clause,
            r#""experiment_id" IN (SELECT "id" FROM "experiments" WHERE "experiments"."deleted_at" IS NULL) AND "metric_id" IN (SELECT "id" FROM "metrics" WHERE "metrics"."deleted_at" IS NULL)"#
        );
    }
}
