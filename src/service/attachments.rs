//! Attaching metrics to experiments.

use std::collections::HashMap;

use crate::auth::Viewer;
use crate::db::{begin_write, repo, Db};
use crate::domain::audit::{self as audit_record, AuditAction};
use crate::domain::error::DomainResult;
use crate::domain::experiment::{check_attachments_editable, ExpectedDirection, MetricRole};
use crate::domain::model::{Experiment, ExperimentMetric, Metric};
use crate::domain::permission::{Access, Need};
use crate::domain::DomainError;

use super::access::{self, EnvironmentAccess};
use super::{audit, App};

const WHAT: &str = "experiment metric";

/// What `attachMetric` asks for.
#[derive(Debug, Clone)]
pub struct AttachDraft {
    pub experiment_id: String,
    pub metric_id: String,
    pub expected_direction: ExpectedDirection,
    pub role: MetricRole,
}

/// What `updateExperimentMetric` may change; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct AttachmentPatch {
    pub expected_direction: Option<ExpectedDirection>,
    pub role: Option<MetricRole>,
}

/// Attachments named by results the viewer already sees (so no further check), by id; those
/// detached since are absent.
pub async fn in_results(
    db: &Db,
    ids: &[String],
) -> DomainResult<HashMap<String, ExperimentMetric>> {
    let rows = repo::attachments::live_by_ids(db, ids).await?;
    Ok(rows.into_iter().map(|a| (a.id.clone(), a)).collect())
}

/// The live experiments among `ids`, which attachments the viewer already sees name, by id.
pub async fn experiments_by_ids(
    db: &Db,
    ids: &[String],
) -> DomainResult<HashMap<String, Experiment>> {
    let rows = repo::experiments::live_by_ids(db, ids).await?;
    Ok(rows.into_iter().map(|e| (e.id.clone(), e)).collect())
}

/// The live metrics among `ids`, which attachments the viewer already sees name, by id.
pub async fn metrics_by_ids(db: &Db, ids: &[String]) -> DomainResult<HashMap<String, Metric>> {
    let rows = repo::metrics::live_by_ids(db, ids).await?;
    Ok(rows.into_iter().map(|m| (m.id.clone(), m)).collect())
}

#[tracing::instrument(name = "attachments.attach", skip_all, fields(viewer_id = %viewer.user_id()))]
pub async fn attach(
    app: &App,
    viewer: &Viewer,
    draft: AttachDraft,
) -> DomainResult<ExperimentMetric> {
    let txn = begin_write(&app.db).await?;
    let experiment = repo::experiments::live_for_update(&txn, &draft.experiment_id)
        .await?
        .ok_or_else(|| DomainError::not_found("experiment"))?;
    let environment = access::by_id(&txn, viewer, &experiment.environment_id, "experiment").await?;
    environment.require(Need::Admin, "experiment")?;
    check_attachments_editable(experiment.status)?;
    let metric = repo::metrics::live_for_update(&txn, &draft.metric_id)
        .await?
        .ok_or_else(|| DomainError::not_found("metric"))?;
    if metric.environment_id != experiment.environment_id {
        // Say "another environment" only to someone who can see that environment.
        let theirs = access::unchecked_by_id(&txn, viewer, &metric.environment_id).await?;
        if theirs.is_none_or(|t| t.access == Access::None) {
            return Err(DomainError::not_found("metric"));
        }
        return Err(DomainError::validation(
            "metricId",
            "the metric belongs to another environment than the experiment",
        ));
    }
    let attachment = repo::attachments::insert(
        &txn,
        &experiment.id,
        &metric,
        draft.expected_direction,
        draft.role,
    )
    .await?;
    let record = audit_record::attached(
        &attachment,
        format!(
            "Metric '{}' attached to experiment '{}'",
            metric.name, experiment.name
        ),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(attachment)
}

#[tracing::instrument(name = "attachments.update", skip_all, fields(viewer_id = %viewer.user_id(), attachment_id = %id))]
pub async fn update(
    app: &App,
    viewer: &Viewer,
    id: &str,
    patch: AttachmentPatch,
) -> DomainResult<ExperimentMetric> {
    let txn = begin_write(&app.db).await?;
    let change = load_for_change(&txn, viewer, id).await?;
    let current = change.attachment.clone();
    let next = ExperimentMetric {
        expected_direction: patch
            .expected_direction
            .unwrap_or(current.expected_direction),
        role: patch.role.unwrap_or(current.role),
        ..current.clone()
    };
    let saved = repo::attachments::save(&txn, &next).await?;
    let record = audit_record::changed(
        AuditAction::Updated,
        &current,
        &saved,
        format!(
            "Metric '{}' on experiment '{}' updated",
            change.metric_name, change.experiment_name
        ),
    );
    audit::commit(app, txn, &change.environment, viewer, record).await?;
    Ok(saved)
}

#[tracing::instrument(name = "attachments.detach", skip_all, fields(viewer_id = %viewer.user_id(), attachment_id = %id))]
pub async fn detach(app: &App, viewer: &Viewer, id: &str) -> DomainResult<ExperimentMetric> {
    let txn = begin_write(&app.db).await?;
    let change = load_for_change(&txn, viewer, id).await?;
    repo::attachments::delete(&txn, &change.attachment.id).await?;
    let record = audit_record::removed(
        AuditAction::Detached,
        &change.attachment,
        format!(
            "Metric '{}' detached from experiment '{}'",
            change.metric_name, change.experiment_name
        ),
    );
    audit::commit(app, txn, &change.environment, viewer, record).await?;
    Ok(change.attachment)
}

/// Moves an attachment to its metric's current version: the experiment's results follow the
/// metric's latest definition from then on. `CONFLICT` when it is already there.
#[tracing::instrument(name = "attachments.upgrade", skip_all, fields(viewer_id = %viewer.user_id(), attachment_id = %id))]
pub async fn upgrade(app: &App, viewer: &Viewer, id: &str) -> DomainResult<ExperimentMetric> {
    let txn = begin_write(&app.db).await?;
    let change = load_for_change(&txn, viewer, id).await?;
    let current = change.attachment.clone();
    if current.metric_version == change.metric_version {
        return Err(DomainError::Conflict(format!(
            "the experiment already uses the latest version ({}) of metric {:?}",
            change.metric_version, change.metric_name
        )));
    }
    let next = ExperimentMetric {
        metric_version: change.metric_version,
        ..current.clone()
    };
    let saved = repo::attachments::save(&txn, &next).await?;
    let record = audit_record::changed(
        AuditAction::Updated,
        &current,
        &saved,
        format!(
            "Metric '{}' on experiment '{}' upgraded from version {} to version {}",
            change.metric_name,
            change.experiment_name,
            current.metric_version,
            saved.metric_version
        ),
    );
    audit::commit(app, txn, &change.environment, viewer, record).await?;
    Ok(saved)
}

/// An attachment about to change, with what its audit line names.
struct AttachmentChange {
    attachment: ExperimentMetric,
    environment: EnvironmentAccess,
    experiment_name: String,
    metric_name: String,
    metric_version: u32,
}

/// Loads and locks a live attachment whose experiment the viewer administers and may still change.
async fn load_for_change(
    txn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> DomainResult<AttachmentChange> {
    let attachment = repo::attachments::live_for_update(txn, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let experiment = repo::experiments::live_for_update(txn, &attachment.experiment_id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let environment = access::by_id(txn, viewer, &experiment.environment_id, WHAT).await?;
    environment.require(Need::Admin, WHAT)?;
    check_attachments_editable(experiment.status)?;
    let metric = repo::metrics::live(txn, &attachment.metric_id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    Ok(AttachmentChange {
        attachment,
        environment,
        experiment_name: experiment.name,
        metric_name: metric.name,
        metric_version: metric.version,
    })
}
