//! Metrics attached to experiments (`experiment_metrics`). Rows are never soft-deleted: detaching
//! removes the row, and an attachment whose experiment or metric is soft-deleted is hidden by scope.

use std::sync::LazyLock;

use sea_orm::sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set,
};

use crate::db::entity::{experiment, experiment_metric, metric};
use crate::db::scope::LiveScope;
use crate::db::{conflict_on_unique, convert, nested, new_id, now};
use crate::domain::experiment::{ExpectedDirection, MetricRole};
use crate::domain::model::{ExperimentMetric, Metric};
use crate::domain::DomainError;

pub async fn live(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ExperimentMetric>, DomainError> {
    experiment_metric::Entity::find_live()
        .filter(experiment_metric::Column::Id.eq(id))
        .one(db)
        .await?
        .map(ExperimentMetric::try_from)
        .transpose()
}

pub async fn live_for_update(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ExperimentMetric>, DomainError> {
    experiment_metric::Entity::find_live()
        .filter(experiment_metric::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .map(ExperimentMetric::try_from)
        .transpose()
}

pub async fn of_experiment(
    db: &impl ConnectionTrait,
    experiment_id: &str,
) -> Result<Vec<ExperimentMetric>, DomainError> {
    let rows = experiment_metric::Entity::find_live()
        .filter(experiment_metric::Column::ExperimentId.eq(experiment_id))
        .order_by_asc(experiment_metric::Column::Id)
        .all(db)
        .await?;
    convert::all(rows)
}

/// Live attachments to any of `experiment_ids`, in the order they were attached.
pub async fn of_experiments(
    db: &impl ConnectionTrait,
    experiment_ids: &[String],
) -> Result<Vec<ExperimentMetric>, DomainError> {
    super::in_chunks(experiment_ids, |ids| async move {
        let rows = experiment_metric::Entity::find_live()
            .filter(experiment_metric::Column::ExperimentId.is_in(ids))
            .order_by_asc(experiment_metric::Column::Id)
            .all(db)
            .await?;
        convert::all(rows)
    })
    .await
}

/// Live attachments of any of `metric_ids`, in the order they were attached.
pub async fn of_metrics(
    db: &impl ConnectionTrait,
    metric_ids: &[String],
) -> Result<Vec<ExperimentMetric>, DomainError> {
    super::in_chunks(metric_ids, |ids| async move {
        convert::all(of_metrics_select(ids).all(db).await?)
    })
    .await
}

/// Live attachments of any of `ids`, in the order they were attached.
fn of_metrics_select(ids: Vec<String>) -> Select<experiment_metric::Entity> {
    experiment_metric::Entity::find_live()
        .filter(experiment_metric::Column::MetricId.is_in(ids))
        .order_by_asc(experiment_metric::Column::Id)
}

/// A column for a statement over live `metrics`: the live attachments of the row's metric, each
/// with its experiment, as a JSON array for `convert::metric_page` (a page of metrics
/// that shows their attachments shows their experiments, and reads them in its own statement).
pub(super) fn with_experiments_column(backend: DbBackend) -> SimpleExpr {
    // It binds no value, so it is rendered once per backend rather than built for every page.
    static SQLITE: LazyLock<String> = LazyLock::new(|| with_experiments_sql(DbBackend::Sqlite));
    static POSTGRES: LazyLock<String> = LazyLock::new(|| with_experiments_sql(DbBackend::Postgres));
    let sql: &'static str = match backend {
        DbBackend::Postgres => &POSTGRES,
        _ => &SQLITE,
    };
    Expr::cust(sql)
}

/// The subquery of [`with_experiments_column`] as SQL text.
fn with_experiments_sql(backend: DbBackend) -> String {
    let pair = nested::object_of(
        backend,
        [
            (
                "attachment",
                nested::object::<experiment_metric::Entity>(backend),
            ),
            ("experiment", nested::object::<experiment::Entity>(backend)),
        ],
    );
    // Live experiments joined with their attachments to the row's metric. That metric is live
    // (the page reads live metrics), so these are exactly the live attachments; `find_live` of
    // the attachments would look both parents up again for each one.
    let to_attachments = experiment::Entity::belongs_to(experiment_metric::Entity)
        .from(experiment::Column::Id)
        .to(experiment_metric::Column::ExperimentId)
        .into();
    let of_this_metric = Expr::col((
        experiment_metric::Entity,
        experiment_metric::Column::MetricId,
    ))
    .equals((metric::Entity, metric::Column::Id));
    let mut rows = experiment::Entity::find_live()
        .join(JoinType::InnerJoin, to_attachments)
        .filter(of_this_metric.clone())
        .into_query();
    rows.clear_selects().expr(nested::array(backend, pair));
    let rows = Expr::SubQuery(None, Box::new(rows.into_sub_query_statement()));
    // Most metrics of a page are attached to nothing: one index probe answers those, instead of
    // the aggregate's join (measured in `benches/batching.md`).
    let attached = Query::select()
        .expr(Expr::cust("1"))
        .from(experiment_metric::Entity)
        .and_where(of_this_metric)
        .take();
    let column = Expr::case(Expr::exists(attached), rows).finally(nested::empty_array(backend));
    nested::rendered(backend, column.into())
}

/// The live attachments among `ids` (detached ones are absent).
pub async fn live_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<ExperimentMetric>, DomainError> {
    super::in_chunks(ids, |ids| async move {
        let rows = experiment_metric::Entity::find_live()
            .filter(experiment_metric::Column::Id.is_in(ids))
            .all(db)
            .await?;
        convert::all(rows)
    })
    .await
}

pub async fn insert(
    db: &impl ConnectionTrait,
    experiment_id: &str,
    metric: &Metric,
    expected_direction: ExpectedDirection,
    role: MetricRole,
) -> Result<ExperimentMetric, DomainError> {
    let now = now();
    let row = experiment_metric::ActiveModel {
        id: Set(new_id()),
        experiment_id: Set(experiment_id.to_owned()),
        metric_id: Set(metric.id.clone()),
        expected_direction: Set(expected_direction.as_str().to_owned()),
        role: Set(role.as_str().to_owned()),
        metric_version: Set(super::metric_versions::version_column(metric.version)?),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| conflict_on_unique(e, "this metric is already attached to this experiment"))?;
    ExperimentMetric::try_from(row)
}

pub async fn save(
    db: &impl ConnectionTrait,
    next: &ExperimentMetric,
) -> Result<ExperimentMetric, DomainError> {
    let now = now();
    experiment_metric::Entity::update_many()
        .col_expr(
            experiment_metric::Column::ExpectedDirection,
            Expr::value(next.expected_direction.as_str()),
        )
        .col_expr(
            experiment_metric::Column::Role,
            Expr::value(next.role.as_str()),
        )
        .col_expr(
            experiment_metric::Column::MetricVersion,
            Expr::value(super::metric_versions::version_column(next.metric_version)?),
        )
        .col_expr(experiment_metric::Column::UpdatedAt, Expr::value(now))
        .filter(experiment_metric::Column::Id.eq(&next.id))
        .exec(db)
        .await?;
    Ok(ExperimentMetric {
        updated_at: now,
        ..next.clone()
    })
}

pub async fn delete(db: &impl ConnectionTrait, id: &str) -> Result<(), DomainError> {
    experiment_metric::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}
