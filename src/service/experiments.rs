//! Experiments: read, create, update, lifecycle transitions, delete.

use std::collections::HashMap;

use crate::auth::Viewer;
use crate::db::page::{Page, PageRequest};
use crate::db::{begin_write, repo, Db};
use crate::domain::audit::{self as audit_record, AuditAction};
use crate::domain::error::DomainResult;
use crate::domain::experiment::{
    apply_patch, check_deletable, ExperimentDraft, ExperimentPatch, ExperimentStatus,
    NewExperiment, Transition,
};
use crate::domain::model::{Experiment, ExperimentMetric, Feature};
use crate::domain::permission::Need;
use crate::domain::DomainError;

use super::access::{self, EnvironmentAccess};
use super::{audit, App};

const WHAT: &str = "experiment";

#[tracing::instrument(name = "experiments.get", skip_all, fields(viewer_id = %viewer.user_id(), experiment_id = %id))]
pub async fn get(db: &Db, viewer: &Viewer, id: &str) -> DomainResult<Experiment> {
    let experiment = repo::experiments::live(db, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    access::by_id(db, viewer, &experiment.environment_id, WHAT)
        .await?
        .require(Need::View, WHAT)?;
    Ok(experiment)
}

pub async fn list(
    db: &Db,
    environment: &EnvironmentAccess,
    status: Option<ExperimentStatus>,
    page: &PageRequest,
) -> DomainResult<Page<Experiment>> {
    environment.require(Need::View, "environment")?;
    repo::experiments::page(db, &environment.environment.id, status, page).await
}

/// The features among `ids` (of experiments the viewer already sees), by id.
pub async fn features_by_ids(db: &Db, ids: &[String]) -> DomainResult<HashMap<String, Feature>> {
    Ok(repo::tenancy::features_by_ids(db, ids)
        .await?
        .into_iter()
        .map(|feature| (feature.id.clone(), feature))
        .collect())
}

pub async fn feature(db: &Db, experiment: &Experiment) -> DomainResult<Feature> {
    repo::tenancy::feature_by_id(db, &experiment.feature_id)
        .await?
        .ok_or_else(|| {
            DomainError::internal(format!("experiment {} has no feature", experiment.id))
        })
}

/// Attachments of live metrics to each of `experiment_ids` (experiments the viewer already sees),
/// by experiment id, in the order they were attached; experiments without any are absent.
pub async fn attachments_of(
    db: &Db,
    experiment_ids: &[String],
) -> DomainResult<HashMap<String, Vec<ExperimentMetric>>> {
    let rows = repo::attachments::of_experiments(db, experiment_ids).await?;
    Ok(super::metrics::group_by(rows, |a| &a.experiment_id))
}

#[tracing::instrument(name = "experiments.create", skip_all, fields(viewer_id = %viewer.user_id(), environment = %environment_key))]
pub async fn create(
    app: &App,
    viewer: &Viewer,
    environment_key: &str,
    feature_id: &str,
    draft: ExperimentDraft,
) -> DomainResult<Experiment> {
    let txn = begin_write(&app.db).await?;
    let environment = access::by_key(&txn, viewer, environment_key).await?;
    environment.require(Need::Admin, "environment")?;
    let feature = repo::tenancy::feature_by_id(&txn, feature_id)
        .await?
        .filter(|f| f.project_id == environment.project.id)
        .ok_or_else(|| {
            DomainError::validation("featureId", "no such feature in this environment's project")
        })?;
    let new = NewExperiment::parse(draft, &feature.variants, &app.results.analysis_defaults())?;
    let experiment =
        repo::experiments::insert(&txn, &environment.environment.id, &feature.id, &new).await?;
    let record = audit_record::created(
        &experiment,
        format!("Experiment '{}' created", experiment.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(experiment)
}

#[tracing::instrument(name = "experiments.update", skip_all, fields(viewer_id = %viewer.user_id(), experiment_id = %id))]
pub async fn update(
    app: &App,
    viewer: &Viewer,
    id: &str,
    patch: ExperimentPatch,
) -> DomainResult<Experiment> {
    let txn = begin_write(&app.db).await?;
    let (current, environment) = load_for_change(&txn, viewer, id).await?;
    let current = current.with_pinned_analysis(&app.results.analysis_defaults());
    let feature = repo::tenancy::feature_by_id(&txn, &current.feature_id)
        .await?
        .ok_or_else(|| DomainError::internal(format!("experiment {id} has no feature")))?;
    let next = apply_patch(&current, patch, &feature.variants)?;
    let saved = repo::experiments::save(&txn, &next).await?;
    let record = audit_record::changed(
        AuditAction::Updated,
        &current,
        &saved,
        format!("Experiment '{}' updated", saved.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(saved)
}

/// Start, pause or complete. `started_at` is set on the first start, `ended_at` on completion.
#[tracing::instrument(name = "experiments.transition", skip_all, fields(viewer_id = %viewer.user_id(), experiment_id = %id, ?transition))]
pub async fn transition(
    app: &App,
    viewer: &Viewer,
    id: &str,
    transition: Transition,
) -> DomainResult<Experiment> {
    let now = crate::db::now();
    let report = match transition {
        Transition::Complete => freeze_results(app, viewer, id, now).await?,
        Transition::Start | Transition::Pause => None,
    };
    let txn = begin_write(&app.db).await?;
    let (current, environment) = load_for_change(&txn, viewer, id).await?;
    // Starting fixes what the experiment is analysed with, also for one stored without settings.
    let current = current.with_pinned_analysis(&app.results.analysis_defaults());
    let status = current.status.apply(transition)?;
    let next = Experiment {
        status,
        started_at: current
            .started_at
            .or((status == ExperimentStatus::Running).then_some(now)),
        ended_at: (status == ExperimentStatus::Completed).then_some(now),
        ..current.clone()
    };
    if let Some(report) = &report {
        check_same_metrics(&txn, &current, report).await?;
    }
    let saved = repo::experiments::save(&txn, &next).await?;
    if let Some(report) = &report {
        repo::warehouse::insert_snapshot(&txn, &saved.id, report).await?;
    }
    let (action, verb) = match (transition, &report) {
        (Transition::Start, _) => (AuditAction::Started, "started"),
        (Transition::Pause, _) => (AuditAction::Paused, "paused"),
        (Transition::Complete, None) => (AuditAction::Completed, "completed"),
        (Transition::Complete, Some(_)) => (
            AuditAction::Completed,
            "completed (results frozen in a snapshot)",
        ),
    };
    let record = audit_record::changed(
        action,
        &current,
        &saved,
        format!("Experiment '{}' {verb}", saved.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(saved)
}

#[tracing::instrument(name = "experiments.delete", skip_all, fields(viewer_id = %viewer.user_id(), experiment_id = %id))]
pub async fn delete(app: &App, viewer: &Viewer, id: &str) -> DomainResult<Experiment> {
    let txn = begin_write(&app.db).await?;
    let (current, environment) = load_for_change(&txn, viewer, id).await?;
    check_deletable(current.status)?;
    let deleted = repo::experiments::soft_delete(&txn, &current).await?;
    let record = audit_record::removed(
        AuditAction::Deleted,
        &current,
        format!("Experiment '{}' deleted", current.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(deleted)
}

/// Completing freezes the results: they are computed before the transaction (no write lock is held
/// while the warehouse works) over the window that ends at `ended_at`, and stored with the change.
/// A failing warehouse fails the completion; no configured warehouse completes without a snapshot.
async fn freeze_results(
    app: &App,
    viewer: &Viewer,
    id: &str,
    ended_at: chrono::DateTime<chrono::Utc>,
) -> DomainResult<Option<crate::domain::results::ResultsReport>> {
    let (experiment, _) = load_for_change(&app.db, viewer, id).await?;
    experiment.status.apply(Transition::Complete)?;
    super::results::report_for_completion(app, &experiment, ended_at).await
}

/// The frozen report must cover the metrics attached when the completion commits: an attach or
/// detach that slipped in while the warehouse worked makes the completion fail (`CONFLICT`).
async fn check_same_metrics(
    txn: &impl sea_orm::ConnectionTrait,
    experiment: &Experiment,
    report: &crate::domain::results::ResultsReport,
) -> DomainResult<()> {
    let attached: Vec<String> = repo::attachments::of_experiment(txn, &experiment.id)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    let reported: Vec<&String> = report
        .metrics
        .iter()
        .map(|m| &m.experiment_metric_id)
        .collect();
    if attached.iter().collect::<Vec<_>>() == reported {
        Ok(())
    } else {
        Err(DomainError::Conflict(
            "the experiment's metrics changed while its results were computed: try again".into(),
        ))
    }
}

/// Loads and locks a live experiment the viewer administers, with its environment.
pub(super) async fn load_for_change(
    txn: &impl sea_orm::ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> DomainResult<(Experiment, EnvironmentAccess)> {
    let experiment = repo::experiments::live_for_update(txn, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let environment = access::by_id(txn, viewer, &experiment.environment_id, WHAT).await?;
    environment.require(Need::Admin, WHAT)?;
    Ok((experiment, environment))
}
