//! Experiment results: computed lazily from the warehouse while an experiment runs, frozen in a
//! snapshot once it completes.
//!
//! `Results` is what one `Experiment.results` field hands to GraphQL. Each part is computed at most
//! once per request, and only when a requested field needs it: the exposure query for
//! `exposures`/`srm`/`excludedIdentities`, the (single) metrics query for `metrics`. A completed
//! experiment with a snapshot never touches the warehouse.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use crate::auth::Viewer;
use crate::db::page::{Page, PageRequest};
use crate::db::repo;
use crate::db::{begin_write, Db};
use crate::domain::analysis::AnalysisSettings;
use crate::domain::audit as audit_record;
use crate::domain::error::DomainResult;
use crate::domain::experiment::{ExperimentStatus, MultipleExposureHandling};
use crate::domain::feature::Variant;
use crate::domain::health::Health;
use crate::domain::judgement::{self, Context};
use crate::domain::model::{Experiment, Metric, MetricVersion};
use crate::domain::recommendation::Recommendation;
use crate::domain::results::{
    AttachedMetric, ExposureSummary, MetricResult, ResultsPolicy, ResultsReport, SnapshotRef,
    StoredSnapshot, SNAPSHOT_VERSION,
};
use crate::domain::DomainError;
use crate::sql::{self, MetricSpec, ResultsScope};
use crate::stats::Thresholds;
use crate::warehouse::Warehouse;

use super::experiments::load_for_change;
use super::{audit, warehouse as connections, App};

/// Results of one experiment, as a request sees them.
#[derive(Clone)]
pub struct Results(Arc<Source>);

enum Source {
    Frozen(Box<StoredSnapshot>),
    Live(Box<Live>),
}

/// Everything needed to ask the warehouse, and the answers once asked.
struct Live {
    warehouse: Warehouse,
    scope: ResultsScope,
    variants: Vec<Variant>,
    attached: Vec<AttachedMetric>,
    policy: ResultsPolicy,
    settings: AnalysisSettings,
    computed_at: DateTime<Utc>,
    exposures: OnceCell<Result<ExposureSummary, Shared>>,
    metrics: OnceCell<Result<Vec<MetricResult>, Shared>>,
}

/// A failure remembered for the rest of the request, so a failing warehouse is asked once.
#[derive(Clone)]
struct Shared(Arc<DomainError>);

impl Shared {
    fn replay(&self) -> DomainError {
        match &*self.0 {
            DomainError::WarehouseUnavailable(m) => DomainError::WarehouseUnavailable(m.clone()),
            DomainError::WarehouseNotConfigured => DomainError::WarehouseNotConfigured,
            DomainError::Conflict(m) => DomainError::Conflict(m.clone()),
            other => DomainError::internal(other.to_string()),
        }
    }
}

impl Results {
    pub fn computed_at(&self) -> DateTime<Utc> {
        match &*self.0 {
            Source::Frozen(s) => s.report.computed_at,
            Source::Live(live) => live.computed_at,
        }
    }

    pub fn frozen(&self) -> bool {
        matches!(&*self.0, Source::Frozen(_))
    }

    pub async fn exposures(&self) -> DomainResult<ExposureSummary> {
        match &*self.0 {
            Source::Frozen(s) => Ok(s.report.exposures.clone()),
            Source::Live(live) => live
                .exposures
                .get_or_init(|| async {
                    live.run_exposures().await.map_err(|e| Shared(Arc::new(e)))
                })
                .await
                .clone()
                .map_err(|e| e.replay()),
        }
    }

    pub async fn metrics(&self) -> DomainResult<Vec<MetricResult>> {
        match &*self.0 {
            Source::Frozen(s) => Ok(s.report.metrics.clone()),
            Source::Live(live) => live
                .metrics
                .get_or_init(|| async { live.run_metrics().await.map_err(|e| Shared(Arc::new(e))) })
                .await
                .clone()
                .map_err(|e| e.replay()),
        }
    }

    /// The analysis settings the results are computed with; `None` for a snapshot frozen before
    /// lift had them (version 1).
    pub fn settings(&self) -> Option<AnalysisSettings> {
        match &*self.0 {
            Source::Frozen(s) => s.report.analysis,
            Source::Live(live) => Some(live.settings),
        }
    }

    /// Health from the exposures and the metrics (both queries); `None` for a version 1 snapshot.
    pub async fn health(&self) -> DomainResult<Option<Health>> {
        match &*self.0 {
            Source::Frozen(s) => Ok(s.report.health.clone()),
            Source::Live(live) => {
                let (exposures, metrics) = tokio::try_join!(self.exposures(), self.metrics())?;
                Ok(Some(judgement::health(
                    &exposures,
                    &metrics,
                    &live.settings,
                )))
            }
        }
    }

    /// One recommendation per non-control variant; empty for a version 1 snapshot.
    pub async fn recommendations(&self) -> DomainResult<Vec<Recommendation>> {
        let health = self.health().await?;
        self.recommendations_given(health.as_ref()).await
    }

    /// Recommendations from health already computed (a snapshot computes it once for both).
    async fn recommendations_given(
        &self,
        health: Option<&Health>,
    ) -> DomainResult<Vec<Recommendation>> {
        match (&*self.0, health) {
            (Source::Frozen(s), _) => Ok(s.report.recommendations.clone()),
            (Source::Live(_), None) => Ok(Vec::new()),
            (Source::Live(live), Some(health)) => {
                let metrics = self.metrics().await?;
                Ok(judgement::recommendations(
                    health,
                    &metrics,
                    &live.variants,
                    &live.policy.control_variant,
                    &live.settings,
                ))
            }
        }
    }

    /// Both parts, for a snapshot (the two queries run concurrently).
    async fn report(&self) -> DomainResult<ResultsReport> {
        let (exposures, metrics) = tokio::try_join!(self.exposures(), self.metrics())?;
        let health = self.health().await?;
        let recommendations = self.recommendations_given(health.as_ref()).await?;
        let (window_start, window_end, policy) = match &*self.0 {
            Source::Frozen(s) => (
                s.report.window_start,
                s.report.window_end,
                s.report.policy.clone(),
            ),
            Source::Live(live) => (live.scope.start, live.scope.end, live.policy.clone()),
        };
        Ok(ResultsReport {
            version: SNAPSHOT_VERSION,
            computed_at: self.computed_at(),
            window_start,
            window_end,
            policy,
            analysis: self.settings(),
            exposures,
            metrics,
            health,
            recommendations,
        })
    }
}

impl Live {
    async fn run_exposures(&self) -> DomainResult<ExposureSummary> {
        let counts = self.warehouse.exposures(&self.scope).await?;
        Ok(ExposureSummary::build(
            &self.variants,
            &counts,
            self.policy.multiple_exposure_handling,
        ))
    }

    async fn run_metrics(&self) -> DomainResult<Vec<MetricResult>> {
        let stats = self.warehouse.metric_stats(&self.scope).await?;
        let days_running =
            (self.scope.end - self.scope.start).num_seconds().max(60) as f64 / 86_400.0;
        Ok(judgement::judge_metrics(
            &stats,
            &Context {
                attached: &self.attached,
                variants: &self.variants,
                policy: &self.policy,
                settings: &self.settings,
                days_running,
            },
        ))
    }
}

/// Results of an experiment the viewer can already see; `None` before it first starts.
/// A completed experiment reads the snapshot its completion froze (the one whose window ends at
/// `ended_at`; an earlier `refreshResults` snapshot is history, not the final result). Completed
/// without a warehouse, it has none, and is computed live over its whole run.
pub async fn of_experiment(app: &App, experiment: &Experiment) -> DomainResult<Option<Results>> {
    if experiment.status == ExperimentStatus::Completed {
        if let Some(snapshot) = repo::warehouse::latest_snapshot(&app.db, &experiment.id).await? {
            if Some(snapshot.report.window_end) == experiment.ended_at {
                return Ok(Some(Results(Arc::new(Source::Frozen(Box::new(snapshot))))));
            }
        }
    }
    let Some(started_at) = experiment.started_at else {
        return Ok(None);
    };
    let now = crate::db::now();
    let end = experiment.ended_at.unwrap_or(now);
    live(app, experiment, started_at, end, now).await.map(Some)
}

async fn live(
    app: &App,
    experiment: &Experiment,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    computed_at: DateTime<Utc>,
) -> DomainResult<Results> {
    let warehouse = connections::warehouse_for(app, &experiment.environment_id).await?;
    let (context, feature, attached) = tokio::try_join!(
        repo::tenancy::environment_context(
            &app.db,
            repo::tenancy::EnvironmentRef::Id(&experiment.environment_id)
        ),
        super::experiments::feature(&app.db, experiment),
        attached_metrics(&app.db, experiment),
    )?;
    let (environment, _, _) = context.ok_or_else(|| {
        DomainError::internal(format!("experiment {} has no environment", experiment.id))
    })?;
    let settings = experiment
        .analysis
        .resolve(&app.results.analysis_defaults());
    let scope = ResultsScope {
        table: warehouse.events_table(),
        environment_key: environment.key,
        feature_name: feature.name.clone(),
        exposure_event: experiment.exposure_event.clone(),
        variants: feature.variants.iter().map(|v| v.key.clone()).collect(),
        start,
        end,
        handling: match experiment.multiple_exposure_handling {
            MultipleExposureHandling::FirstTouch => sql::MultipleExposureHandling::FirstTouch,
            MultipleExposureHandling::Exclude => sql::MultipleExposureHandling::Exclude,
        },
        metrics: attached
            .iter()
            .map(|a| MetricSpec {
                aggregation: a.metric.aggregation,
                definition: a.metric.definition.clone(),
            })
            .collect(),
        cuped_lookback: settings
            .cuped()
            .then(|| chrono::Duration::days(i64::from(settings.cuped_lookback_days()))),
    };
    let policy = ResultsPolicy {
        thresholds: thresholds(&settings),
        control_variant: experiment.control_variant.clone(),
        multiple_exposure_handling: experiment.multiple_exposure_handling,
    };
    Ok(Results(Arc::new(Source::Live(Box::new(Live {
        warehouse,
        scope,
        variants: feature.variants,
        attached,
        policy,
        settings,
        computed_at,
        exposures: OnceCell::new(),
        metrics: OnceCell::new(),
    })))))
}

/// The experiment's own α and minimums.
fn thresholds(settings: &AnalysisSettings) -> Thresholds {
    Thresholds {
        alpha: settings.alpha(),
        min_identities: settings.minimum_identities(),
        min_conversions: settings.minimum_conversions(),
    }
}

/// Live attachments with their metrics as of the versions they pinned (what the metrics query
/// measures and the verdicts read), in the order they were attached.
async fn attached_metrics(db: &Db, experiment: &Experiment) -> DomainResult<Vec<AttachedMetric>> {
    let attachments = repo::attachments::of_experiment(db, &experiment.id).await?;
    let metric_ids: Vec<String> = attachments.iter().map(|a| a.metric_id.clone()).collect();
    let pairs: Vec<(String, u32)> = attachments
        .iter()
        .map(|a| (a.metric_id.clone(), a.metric_version))
        .collect();
    let (metrics, versions) = tokio::try_join!(
        repo::metrics::live_by_ids(db, &metric_ids),
        repo::metric_versions::by_pairs(db, &pairs),
    )?;
    let metrics: HashMap<String, Metric> = metrics.into_iter().map(|m| (m.id.clone(), m)).collect();
    let versions: HashMap<(String, u32), MetricVersion> = versions
        .into_iter()
        .map(|v| ((v.metric_id.clone(), v.version), v))
        .collect();
    attachments
        .into_iter()
        .filter_map(|attachment| {
            let metric = metrics.get(&attachment.metric_id)?;
            let key = (attachment.metric_id.clone(), attachment.metric_version);
            Some(match versions.get(&key) {
                Some(version) => Ok(AttachedMetric {
                    metric: metric.as_of(version),
                    attachment,
                }),
                None => Err(DomainError::internal(format!(
                    "attachment {} pins version {} of metric {}, which is not stored",
                    attachment.id, attachment.metric_version, attachment.metric_id
                ))),
            })
        })
        .collect()
}

/// The report a completing experiment freezes, computed before its transaction (the warehouse can
/// take seconds; no write lock is held meanwhile). `None` when no warehouse is configured: the
/// experiment completes without a snapshot.
pub async fn report_for_completion(
    app: &App,
    experiment: &Experiment,
    ended_at: DateTime<Utc>,
) -> DomainResult<Option<ResultsReport>> {
    let Some(started_at) = experiment.started_at else {
        return Ok(None);
    };
    match live(app, experiment, started_at, ended_at, ended_at).await {
        Ok(results) => results.report().await.map(Some),
        Err(DomainError::WarehouseNotConfigured) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Stores a new snapshot of a running or paused experiment: at most one per refresh interval
/// (`CONFLICT` otherwise). Admins only; audited.
#[tracing::instrument(name = "results.refresh", skip_all, fields(viewer_id = %viewer.user_id(), experiment_id = %id))]
pub async fn refresh(app: &App, viewer: &Viewer, id: &str) -> DomainResult<StoredSnapshot> {
    // Checked before the (possibly slow) warehouse work, and again under the lock below.
    let (experiment, _) = load_for_change(&app.db, viewer, id).await?;
    check_refreshable(&experiment)?;
    check_interval(&app.db, app, &experiment.id).await?;
    let results = of_experiment(app, &experiment)
        .await?
        .ok_or_else(|| DomainError::internal("a started experiment has results"))?;
    let report = results.report().await?;

    let txn = begin_write(&app.db).await?;
    let (current, environment) = load_for_change(&txn, viewer, id).await?;
    check_refreshable(&current)?;
    check_interval(&txn, app, &current.id).await?;
    let snapshot = repo::warehouse::insert_snapshot(&txn, &current.id, &report).await?;
    let record = audit_record::created(
        &snapshot_ref(&snapshot),
        format!("Results of experiment '{}' snapshotted", current.name),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(snapshot)
}

pub fn snapshot_ref(snapshot: &StoredSnapshot) -> SnapshotRef {
    SnapshotRef {
        id: snapshot.id.clone(),
        experiment_id: snapshot.experiment_id.clone(),
        computed_at: snapshot.computed_at,
    }
}

fn check_refreshable(experiment: &Experiment) -> DomainResult<()> {
    match experiment.status {
        ExperimentStatus::Running | ExperimentStatus::Paused => Ok(()),
        ExperimentStatus::Created => Err(DomainError::validation(
            "experimentId",
            "the experiment has not started: there are no results to snapshot yet",
        )),
        ExperimentStatus::Completed => Err(DomainError::Conflict(
            "the experiment is completed: its results are frozen".into(),
        )),
    }
}

async fn check_interval(
    db: &impl sea_orm::ConnectionTrait,
    app: &App,
    experiment_id: &str,
) -> DomainResult<()> {
    // At most a year (the settings bound it), so neither conversion nor addition overflows.
    let interval = chrono::Duration::seconds(
        i64::try_from(app.results.results_refresh_interval_seconds).unwrap_or(31_622_400),
    );
    if let Some(computed_at) = repo::warehouse::latest_snapshot_time(db, experiment_id).await? {
        let next = computed_at + interval;
        if crate::db::now() < next {
            return Err(DomainError::Conflict(format!(
                "results were refreshed at {}; the next refresh is possible after {}",
                computed_at.to_rfc3339(),
                next.to_rfc3339()
            )));
        }
    }
    Ok(())
}

/// Snapshots of an experiment the viewer can see, newest first.
pub async fn snapshots(
    db: &Db,
    experiment: &Experiment,
    page: &PageRequest,
) -> DomainResult<Page<StoredSnapshot>> {
    repo::warehouse::snapshots_page(db, &experiment.id, page).await
}

/// A stored snapshot as results.
pub fn frozen(snapshot: StoredSnapshot) -> Results {
    Results(Arc::new(Source::Frozen(Box::new(snapshot))))
}
