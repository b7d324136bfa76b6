//! Named query scopes. Soft-deleted experiments and metrics are invisible through every scope here
//! except the ones whose name says `_including_deleted`. An attachment is live when both its
//! experiment and its metric are.
//!
//! This is the only file that calls `Entity::find()` (`tests/architecture.rs` checks it), and
//! [`find_all`] takes only entities marked [`NoSoftDelete`].

use sea_orm::sea_query::{Alias, Expr, ExprTrait, IntoColumnRef, Query, SimpleExpr};
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
            .filter(live_parent(
                (
                    experiment_metric::Entity,
                    experiment_metric::Column::ExperimentId,
                ),
                (experiment::Column::Id, experiment::Column::DeletedAt),
                "live_experiment",
            ))
            .filter(live_parent(
                (
                    experiment_metric::Entity,
                    experiment_metric::Column::MetricId,
                ),
                (metric::Column::Id, metric::Column::DeletedAt),
                "live_metric",
            ))
    }
}

/// A version is live when its metric is.
impl LiveScope for metric_version::Entity {
    fn find_live() -> Select<Self> {
        metric_version::Entity::find().filter(live_parent(
            (metric_version::Entity, metric_version::Column::MetricId),
            (metric::Column::Id, metric::Column::DeletedAt),
            "live_metric",
        ))
    }
}

/// `reference` names a row of the parent table (its `id` and `deleted_at` columns) that is not
/// soft-deleted: `EXISTS` that row, found by its primary key, one index lookup per row read.
/// (`reference IN (SELECT id FROM parent WHERE deleted_at IS NULL)` made SQLite list every live
/// row of the parent table at each execution: a cost growing with the library, not with what is
/// read.)
fn live_parent<C: ColumnTrait>(
    reference: impl IntoColumnRef,
    (id, deleted_at): (C, C),
    alias: &'static str,
) -> SimpleExpr {
    let live = Alias::new(alias);
    Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(C::EntityName::default(), live.clone())
            .and_where(Expr::col((live.clone(), id)).equals(reference))
            .and_where(Expr::col((live, deleted_at)).is_null())
            .take(),
    )
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
            r#"EXISTS(SELECT 1 FROM "experiments" AS "live_experiment" WHERE "live_experiment"."id" = "experiment_metrics"."experiment_id" AND "live_experiment"."deleted_at" IS NULL) AND EXISTS(SELECT 1 FROM "metrics" AS "live_metric" WHERE "live_metric"."id" = "experiment_metrics"."metric_id" AND "live_metric"."deleted_at" IS NULL)"#
        );
    }

    /// SQLite's plan for reading attachments and versions by their metric: every table is
    /// searched through an index, none is scanned whole, so the cost follows the rows read, not
    /// the size of the library.
    #[tokio::test]
    async fn live_attachments_and_versions_are_read_without_scanning_a_table() {
        let sqlite = crate::db::plan_check::PlanDb::new().await;
        let ids = ["m-1", "m-2", "m-3"];
        for query in [
            experiment_metric::Entity::find_live()
                .filter(experiment_metric::Column::MetricId.is_in(ids))
                .build(DbBackend::Sqlite),
            metric_version::Entity::find_live()
                .filter(metric_version::Column::MetricId.is_in(ids))
                .build(DbBackend::Sqlite),
        ] {
            sqlite.assert_no_scan(&query).await;
        }
    }
}
