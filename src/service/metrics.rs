//! The metric library: read, create, edit (versioned), delete.

use std::collections::HashMap;

use crate::auth::Viewer;
use crate::db::page::{Page, PageRequest};
use crate::db::repo::metrics::ListedMetric;
use crate::db::{begin_write, repo, Db};
use crate::domain::audit::{self as audit_record, AuditAction};
use crate::domain::error::DomainResult;
use crate::domain::metric::{MetricDraft, NewMetric};
use crate::domain::metric_edit::MetricPatch;
use crate::domain::model::{ExperimentMetric, Metric, MetricVersion};
use crate::domain::permission::Need;
use crate::domain::text;
use crate::domain::DomainError;

use super::access::{self, EnvironmentAccess};
use super::{audit, App};

const WHAT: &str = "metric";

#[tracing::instrument(name = "metrics.get", skip_all, fields(viewer_id = %viewer.user_id(), metric_id = %id))]
pub async fn get(db: &Db, viewer: &Viewer, id: &str) -> DomainResult<Metric> {
    let metric = repo::metrics::live(db, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    access::by_id(db, viewer, &metric.environment_id, WHAT)
        .await?
        .require(Need::View, WHAT)?;
    Ok(metric)
}

/// The environment's live metrics, newest first, matching `search`; with `attachments`, each with
/// its attachments to live experiments and those experiments, in the order they were attached
/// (one statement either way).
pub async fn list(
    db: &Db,
    environment: &EnvironmentAccess,
    search: Option<&str>,
    page: &PageRequest,
    attachments: bool,
) -> DomainResult<Page<ListedMetric>> {
    let search = listable(environment, search)?;
    let environment_id = &environment.environment.id;
    repo::metrics::page(db, environment_id, search, page, attachments).await
}

/// Checks that the viewer may list the environment's metrics, and the search term.
fn listable<'a>(
    environment: &EnvironmentAccess,
    search: Option<&'a str>,
) -> DomainResult<Option<&'a str>> {
    environment.require(Need::View, "environment")?;
    search
        .map(|term| text::lookup("search", term, text::MAX_SEARCH))
        .transpose()
}

/// Attachments to live experiments of each of `metric_ids` (metrics the viewer already sees), by
/// metric id, in the order they were attached; metrics without any are absent.
pub async fn attachments_of(
    db: &Db,
    metric_ids: &[String],
) -> DomainResult<HashMap<String, Vec<ExperimentMetric>>> {
    let rows = repo::attachments::of_metrics(db, metric_ids).await?;
    Ok(group_by(rows, |a| &a.metric_id))
}

/// `items` grouped by `key`, each group in the order of `items`.
pub(super) fn group_by<T>(items: Vec<T>, key: impl Fn(&T) -> &String) -> HashMap<String, Vec<T>> {
    let mut groups: HashMap<String, Vec<T>> = HashMap::new();
    for item in items {
        groups.entry(key(&item).clone()).or_default().push(item);
    }
    groups
}

#[tracing::instrument(name = "metrics.create", skip_all, fields(viewer_id = %viewer.user_id(), environment = %environment_key))]
pub async fn create(
    app: &App,
    viewer: &Viewer,
    environment_key: &str,
    draft: MetricDraft,
) -> DomainResult<Metric> {
    let txn = begin_write(&app.db).await?;
    let environment = access::by_key(&txn, viewer, environment_key).await?;
    environment.require(Need::Admin, "environment")?;
    let new = NewMetric::parse(draft)?;
    let metric = repo::metrics::insert(&txn, &environment.environment.id, &new).await?;
    let record = audit_record::created(&metric, format!("Metric '{}' created", metric.name));
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(metric)
}

/// Edits a metric: name and description in place, anything it measures as a new version (see
/// `domain::metric_edit`). Environment admins; one audit entry with the diff.
#[tracing::instrument(name = "metrics.update", skip_all, fields(viewer_id = %viewer.user_id(), metric_id = %id))]
pub async fn update(
    app: &App,
    viewer: &Viewer,
    id: &str,
    patch: MetricPatch,
) -> DomainResult<Metric> {
    let txn = begin_write(&app.db).await?;
    let current = repo::metrics::live_for_update(&txn, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let environment = access::by_id(&txn, viewer, &current.environment_id, WHAT).await?;
    environment.require(Need::Admin, WHAT)?;
    let edit = patch.apply(&current)?;
    let updated = repo::metrics::update(&txn, &current, &edit).await?;
    let log = match edit.new_version {
        true => format!(
            "Metric '{}' updated: version {}",
            updated.name, updated.version
        ),
        false => format!(
            "Metric '{}' updated (version {} unchanged)",
            updated.name, updated.version
        ),
    };
    let record = audit_record::changed(AuditAction::Updated, &current, &updated, log);
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(updated)
}

/// Every version of each of `metric_ids` (metrics the viewer already sees), newest first, by
/// metric id.
pub async fn versions_of(
    db: &Db,
    metric_ids: &[String],
) -> DomainResult<HashMap<String, Vec<MetricVersion>>> {
    let rows = repo::metric_versions::of_metrics(db, metric_ids).await?;
    Ok(group_by(rows, |v| &v.metric_id))
}

/// The versions named by `(metric id, version)` pairs (attachments the viewer already sees pin
/// them), by pair.
pub async fn versions_by_pairs(
    db: &Db,
    pairs: &[(String, u32)],
) -> DomainResult<HashMap<(String, u32), MetricVersion>> {
    let rows = repo::metric_versions::by_pairs(db, pairs).await?;
    Ok(rows
        .into_iter()
        .map(|v| ((v.metric_id.clone(), v.version), v))
        .collect())
}

/// One page of a metric's versions (all of them, newest first); the cursor is a version number.
pub fn versions_page(
    versions: Vec<MetricVersion>,
    request: &PageRequest,
) -> DomainResult<Page<MetricVersion>> {
    let after = request
        .after
        .as_deref()
        .map(|cursor| {
            cursor
                .parse::<u32>()
                .map_err(|_| DomainError::validation("after", "after is not a cursor of this list"))
        })
        .transpose()?;
    let total = request.with_total.then_some(versions.len() as u64);
    let items: Vec<MetricVersion> = versions
        .into_iter()
        .filter(|v| after.is_none_or(|after| v.version < after))
        .take(request.overfetch() as usize)
        .collect();
    Ok(Page::from_overfetched(items, request, total))
}

/// Soft-deletes a metric that no live, not yet completed experiment uses.
#[tracing::instrument(name = "metrics.delete", skip_all, fields(viewer_id = %viewer.user_id(), metric_id = %id))]
pub async fn delete(app: &App, viewer: &Viewer, id: &str) -> DomainResult<Metric> {
    let txn = begin_write(&app.db).await?;
    let metric = repo::metrics::live_for_update(&txn, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let environment = access::by_id(&txn, viewer, &metric.environment_id, WHAT).await?;
    environment.require(Need::Admin, WHAT)?;
    let in_use = repo::metrics::active_experiment_count(&txn, &metric.id).await?;
    if in_use > 0 {
        return Err(DomainError::Conflict(format!(
            "metric {:?} is attached to {in_use} experiment(s) that are not completed: detach it or complete them first",
            metric.name
        )));
    }
    let deleted = repo::metrics::soft_delete(&txn, &metric).await?;
    let record = audit_record::removed(
        AuditAction::Deleted,
        &metric,
        format!("Metric '{}' deleted", metric.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(deleted)
}
