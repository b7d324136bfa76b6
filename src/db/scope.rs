//! Named query scopes. Soft-deleted experiments and metrics are invisible through every scope here
//! except the ones whose name says `_including_deleted`. An attachment is live when both its
//! experiment and its metric are.
//!
//! This is the only file that calls `Entity::find()` (a test in `tests/` greps for it).

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Select};

use super::entity::{experiment, experiment_metric, metric};

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

/// Every row of a table that has no soft delete.
pub fn find_all<E: EntityTrait>() -> Select<E> {
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
