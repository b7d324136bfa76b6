//! The metric library.

use std::sync::LazyLock;

use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult,
    IdenStatic, PaginatorTrait, QueryFilter, QuerySelect, Select, Set,
};

use crate::db::entity::{experiment, experiment_metric, metric};
use crate::db::page::{self, Page, PageRequest};
use crate::db::scope::LiveScope;
use crate::db::{conflict_on_unique, convert, nested, new_id, now};
use crate::domain::experiment::ExperimentStatus;
use crate::domain::metric::NewMetric;
use crate::domain::metric_edit::MetricEdit;
use crate::domain::model::{Experiment, ExperimentMetric, Metric};
use crate::domain::DomainError;

pub async fn live(db: &impl ConnectionTrait, id: &str) -> Result<Option<Metric>, DomainError> {
    metric::Entity::find_live()
        .filter(metric::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Metric::try_from)
        .transpose()
}

/// The live metrics among `ids` (deleted and unknown ones are absent), in no particular order.
pub async fn live_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Metric>, DomainError> {
    super::in_chunks(ids, |ids| async move {
        let rows = metric::Entity::find_live()
            .filter(metric::Column::Id.is_in(ids))
            .all(db)
            .await?;
        crate::db::convert::all(rows)
    })
    .await
}

pub async fn live_for_update(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Metric>, DomainError> {
    metric::Entity::find_live()
        .filter(metric::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .map(Metric::try_from)
        .transpose()
}

/// A metric of a page, with its live attachments and their experiments when they were asked for.
pub type ListedMetric = (Metric, Option<Vec<(ExperimentMetric, Experiment)>>);

/// Live metrics of an environment, newest first, matching `search` (see [`of_environment`]); with
/// `attachments`, each with its live attachments and their experiments, in the order they were
/// attached. One statement, whatever the page size.
///
/// SQLite reads the page as one JSON value (`db::nested`): its driver copies every value of every
/// row and hands rows one by one from its thread, which costs more than the JSON. PostgreSQL
/// sends rows in its binary protocol, and building the JSON there cost it more than it saved
/// lift (measured in `benches/batching.md`): it reads rows, the attachments as a JSON column.
pub async fn page(
    db: &impl ConnectionTrait,
    environment_id: &str,
    search: Option<&str>,
    request: &PageRequest,
    attachments: bool,
) -> Result<Page<ListedMetric>, DomainError> {
    let backend = db.get_database_backend();
    let select = of_environment(environment_id, search);
    if backend == DbBackend::Sqlite {
        let element = Expr::cust(sqlite_element(attachments));
        let read = convert::metric_page;
        return page::fetch_json(
            db,
            select,
            metric::Column::Id,
            request,
            element,
            read,
            id_of,
        )
        .await;
    }
    if !attachments {
        let page = page::fetch(db, select, metric::Column::Id, request).await?;
        return page.try_map(|row| Ok((Metric::try_from(row)?, None)));
    }
    let column = super::attachments::with_experiments_column(backend);
    let select = select.expr_as(nested::as_text(backend, column), ATTACHMENTS);
    page::fetch_with(db, select, metric::Column::Id, request, |row| {
        let metric = Metric::try_from(metric::Model::from_query_result(row, "")?)?;
        let text: String = row.try_get("", ATTACHMENTS)?;
        let attachments = convert::attachments_with_experiments(&text, &metric.id)?;
        Ok((metric, Some(attachments)))
    })
    .await
}

/// The column the row-per-metric page reads attachments from.
const ATTACHMENTS: &str = "lift_attachments";

fn id_of((metric, _): &ListedMetric) -> &str {
    &metric.id
}

/// One metric of a SQLite page as JSON: its columns (`definition` as text, without `name_lower`),
/// and with `attachments` an `attachments` array (see `convert::metric_page`). It binds no value,
/// so it is rendered once.
fn sqlite_element(attachments: bool) -> &'static str {
    static ELEMENTS: [LazyLock<String>; 2] = [
        LazyLock::new(|| render_element(DbBackend::Sqlite, false)),
        LazyLock::new(|| render_element(DbBackend::Sqlite, true)),
    ];
    &ELEMENTS[usize::from(attachments)]
}

fn render_element(backend: DbBackend, attachments: bool) -> String {
    let mut entries = nested::columns::<metric::Entity>(backend, nested::StoredJson::AsText);
    entries.retain(|(column, _)| *column != metric::Column::NameLower.as_str());
    if attachments {
        let column = super::attachments::with_experiments_column(backend);
        entries.push(("attachments", column));
    }
    nested::rendered(backend, nested::object_of(backend, entries))
}

/// Live metrics of an environment; `search` matches names case-insensitively (full Unicode, the
/// same on every database: both sides are lower-cased in Rust).
fn of_environment(environment_id: &str, search: Option<&str>) -> Select<metric::Entity> {
    let mut select =
        metric::Entity::find_live().filter(metric::Column::EnvironmentId.eq(environment_id));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        select = select.filter(metric::Column::NameLower.like(LikeExpr::new(pattern).escape('\\')));
    }
    select
}

/// Escapes LIKE wildcards so a search for `50%` matches the text `50%`, not everything.
fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub async fn insert(
    db: &impl ConnectionTrait,
    environment_id: &str,
    new: &NewMetric,
) -> Result<Metric, DomainError> {
    let row = metric::ActiveModel {
        id: Set(new_id()),
        environment_id: Set(environment_id.to_owned()),
        name: Set(new.name.clone()),
        name_lower: Set(new.name.to_lowercase()),
        description: Set(new.description.clone()),
        metric_type: Set(new.metric_type.as_str().to_owned()),
        aggregation: Set(new.aggregation.as_str().to_owned()),
        direction: Set(new.direction.as_str().to_owned()),
        definition: Set(new.definition.to_stored()),
        version: Set(1),
        created_at: Set(now()),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(
            e,
            format!(
                "a metric named {:?} already exists in this environment",
                new.name
            ),
        )
    })?;
    let metric = Metric::try_from(row)?;
    super::metric_versions::insert_current(db, &metric).await?;
    Ok(metric)
}

/// Applies a checked edit to `current` (loaded with `live_for_update`, so the version number is
/// taken under the row lock; the versions' primary key is the backstop): a new version row when
/// what the metric measures changed, then the metric row.
pub async fn update(
    db: &impl ConnectionTrait,
    current: &Metric,
    edit: &MetricEdit,
) -> Result<Metric, DomainError> {
    let next = edit.applied_to(current);
    if edit.new_version {
        super::metric_versions::insert_current(db, &next).await?;
    }
    metric::Entity::update_many()
        .col_expr(metric::Column::Name, Expr::value(next.name.as_str()))
        .col_expr(
            metric::Column::NameLower,
            Expr::value(next.name.to_lowercase()),
        )
        .col_expr(
            metric::Column::Description,
            Expr::value(next.description.as_str()),
        )
        .col_expr(
            metric::Column::MetricType,
            Expr::value(next.metric_type.as_str()),
        )
        .col_expr(
            metric::Column::Aggregation,
            Expr::value(next.aggregation.as_str()),
        )
        .col_expr(
            metric::Column::Direction,
            Expr::value(next.direction.as_str()),
        )
        .col_expr(
            metric::Column::Definition,
            Expr::value(next.definition.to_stored()),
        )
        .col_expr(
            metric::Column::Version,
            Expr::value(super::metric_versions::version_column(next.version)?),
        )
        .filter(metric::Column::Id.eq(&current.id))
        .exec(db)
        .await
        .map_err(|e| {
            conflict_on_unique(
                e,
                format!(
                    "a metric named {:?} already exists in this environment",
                    next.name
                ),
            )
        })?;
    Ok(next)
}

pub async fn soft_delete(
    db: &impl ConnectionTrait,
    metric: &Metric,
) -> Result<Metric, DomainError> {
    let now = now();
    metric::Entity::update_many()
        .col_expr(metric::Column::DeletedAt, Expr::value(now))
        .filter(metric::Column::Id.eq(&metric.id))
        .exec(db)
        .await?;
    Ok(Metric {
        deleted_at: Some(now),
        ..metric.clone()
    })
}

/// How many live, not yet completed experiments use this metric.
pub async fn active_experiment_count(
    db: &impl ConnectionTrait,
    metric_id: &str,
) -> Result<u64, DomainError> {
    let active_experiments = Query::select()
        .column(experiment::Column::Id)
        .from(experiment::Entity)
        .and_where(experiment::Column::DeletedAt.is_null())
        .and_where(experiment::Column::Status.ne(ExperimentStatus::Completed.as_str()))
        .take();
    Ok(experiment_metric::Entity::find_live()
        .filter(experiment_metric::Column::MetricId.eq(metric_id))
        .filter(Expr::col(experiment_metric::Column::ExperimentId).in_subquery(active_experiments))
        .count(db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::QueryTrait;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(escape_like(r"50%_a\b"), r"50\%\_a\\b");
    }

    /// The attachments column runs once per metric of a page: it must find them and their live
    /// experiments through indexes.
    #[tokio::test]
    async fn a_page_with_attachments_is_read_without_scanning_a_table() {
        let sqlite = crate::db::plan_check::PlanDb::new().await;
        let query = of_environment("env-1", None)
            .expr_as(Expr::cust(sqlite_element(true)), "item")
            .build(DbBackend::Sqlite);
        let plan = sqlite.plan(&query).await;
        assert!(
            plan.iter()
                .any(|step| step.contains("CORRELATED SCALAR SUBQUERY")),
            "{plan:?}"
        );
        sqlite.assert_no_scan(&query).await;
    }
}
