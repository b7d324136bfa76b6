//! `ExperimentResults` and its parts. Each field asks `service::results::Results` for the part it
//! needs, so a query for `exposures` alone runs only the exposure query, and every metrics field
//! of a request shares one metrics query.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::analysis::ExperimentAnalysis;
use super::attachment::ExperimentMetric;
use super::enums::CappingKind;
use super::judged::{Recommendation, ResultsHealth, VariantComparison};
use crate::domain::results::{self as model, ExposureSummary};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::loaders::{self, AttachmentById};
use crate::graphql::nullable::or_null;
use crate::service::{self, results::Results};
use crate::stats;

pub struct ExperimentResults(pub Results);

#[Object]
impl ExperimentResults {
    /// When the numbers were computed (now for live results, the snapshot time when frozen).
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at()
    }
    /// True when the results come from a stored snapshot (completed experiments); the warehouse
    /// is not queried then.
    async fn frozen(&self) -> bool {
        self.0.frozen()
    }
    /// Identities per variant of the feature, in the feature's order.
    async fn exposures(&self) -> GqlResult<Vec<VariantExposure>> {
        let summary = self.0.exposures().await.gql()?;
        Ok(summary
            .variants
            .into_iter()
            .map(|v| VariantExposure {
                variant: v.variant,
                identities: v.identities,
            })
            .collect())
    }
    /// Identities left out: exposed to more than one variant (under EXCLUDE) or to a variant the
    /// feature does not have.
    async fn excluded_identities(&self) -> GqlResult<u64> {
        Ok(self.0.exposures().await.gql()?.excluded_identities)
    }
    /// Identities exposed to more than one variant (excluded under EXCLUDE, kept under FIRST_TOUCH).
    async fn multiple_exposure_identities(&self) -> GqlResult<u64> {
        Ok(self.0.exposures().await.gql()?.multiple_exposure_identities)
    }
    /// Identities assigned to a variant key the feature does not have (ignored).
    async fn unknown_variant_identities(&self) -> GqlResult<u64> {
        Ok(self.0.exposures().await.gql()?.unknown_variant_identities)
    }
    /// Sample ratio mismatch: χ² of the assigned identities against the feature's weights; null
    /// when it cannot be computed.
    async fn srm(&self, ctx: &Context<'_>) -> Option<SampleRatioMismatch> {
        or_null(ctx, async {
            let summary: ExposureSummary = self.0.exposures().await.gql()?;
            Ok(summary.srm.map(|s| SampleRatioMismatch {
                chi_square: s.chi_square,
                p_value: s.p_value,
                mismatch: s.mismatch,
            }))
        })
        .await
    }
    /// The analysis settings these results were computed with (the experiment's, at the time);
    /// null for results frozen before lift had settings.
    async fn analysis(&self) -> Option<ExperimentAnalysis> {
        self.0.settings().map(ExperimentAnalysis)
    }
    /// Whether the results can be trusted (runs the exposure and the metrics queries). Null for
    /// results frozen before lift checked health.
    async fn health(&self, ctx: &Context<'_>) -> Option<ResultsHealth> {
        or_null(ctx, async {
            Ok(self.0.health().await.gql()?.map(Into::into))
        })
        .await
    }
    /// What to do with each non-control variant, and why (runs both queries). Empty for results
    /// frozen before lift recommended.
    async fn recommendations(&self) -> GqlResult<Vec<Recommendation>> {
        Ok(self
            .0
            .recommendations()
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }
    /// One entry per attached metric, in the order they were attached.
    async fn metrics(&self) -> GqlResult<Vec<MetricResults>> {
        Ok(self
            .0
            .metrics()
            .await
            .gql()?
            .into_iter()
            .map(MetricResults)
            .collect())
    }
}

#[derive(SimpleObject)]
pub struct VariantExposure {
    pub variant: String,
    pub identities: u64,
}

#[derive(SimpleObject)]
pub struct SampleRatioMismatch {
    pub chi_square: f64,
    pub p_value: f64,
    /// True when p < 0.001: the split is unlikely to be what the weights say; distrust the results.
    pub mismatch: bool,
}

pub struct MetricResults(model::MetricResult);

#[Object]
impl MetricResults {
    /// The attachment (null when it was detached after a snapshot was taken).
    async fn experiment_metric(&self, ctx: &Context<'_>) -> Option<ExperimentMetric> {
        or_null(ctx, async {
            let id = AttachmentById(self.0.experiment_metric_id.clone());
            let attachment = loaders::load(ctx, id).await?;
            Ok(attachment.map(ExperimentMetric::new))
        })
        .await
    }
    async fn metric_id(&self) -> ID {
        ID(self.0.metric_id.clone())
    }
    /// The metric's version these numbers measure: the attachment's pinned version when they
    /// were computed (1 for results frozen before metrics had versions).
    async fn metric_version(&self) -> u32 {
        self.0.metric_version
    }
    /// Per-variant statistics over the identities that count for this metric.
    async fn variants(&self) -> Vec<VariantStatistics> {
        self.0
            .variants
            .iter()
            .map(|v| VariantStatistics {
                variant: v.variant.clone(),
                n: v.n,
                sum: v.sum,
                sum_of_squares: v.sum_sq,
                mean: v.mean,
                variance: v.variance,
                funnel_steps: (v.funnel_steps.iter())
                    .map(|s| FunnelStepReached {
                        step: s.step,
                        event: s.event.clone(),
                        reached: s.reached,
                    })
                    .collect(),
                capped_identities: v.capped_identities,
                numerator_sum: v.denominator_sum.and(v.sum),
                denominator_sum: v.denominator_sum,
                quantile: v.quantile.as_ref().map(Into::into),
            })
            .collect()
    }
    /// Capped metrics: the cap values these results used (for every variant and for the CUPED
    /// covariate alike); null for metrics without capping.
    async fn capping(&self) -> Option<MetricCapping> {
        self.0.capping.map(|c| MetricCapping {
            kind: c.kind.into(),
            upper: c.upper,
            lower: c.lower,
        })
    }
    /// Every non-control variant against the control.
    async fn comparisons(&self) -> Vec<VariantComparison> {
        self.0.comparisons.iter().map(Into::into).collect()
    }
}

#[derive(SimpleObject)]
pub struct VariantStatistics {
    pub variant: String,
    /// Identities counted.
    pub n: u64,
    /// Null when the total overflowed a 64-bit float.
    pub sum: Option<f64>,
    pub sum_of_squares: Option<f64>,
    /// The per-identity mean; for a RATIO metric the ratio of the totals,
    /// `numeratorSum / denominatorSum`.
    pub mean: Option<f64>,
    /// Sample variance (n − 1) for NUMERIC metrics, p(1 − p) for CONVERSION metrics, the delta
    /// method's per-identity variance of the ratio (with the numerator–denominator covariance) for
    /// RATIO metrics.
    pub variance: Option<f64>,
    /// QUANTILE metrics: the variant's quantile (null for other metrics, and without values).
    pub quantile: Option<super::quantile::QuantileStatistics>,
    /// RATIO metrics only: the numerators' total over the `n` identities (also `sum`).
    pub numerator_sum: Option<f64>,
    /// RATIO metrics only: the denominators' total over the `n` identities. Only identities whose
    /// denominator is > 0 count, so `n` is the identities with a denominator > 0.
    pub denominator_sum: Option<f64>,
    /// Funnel metrics: per step, how many of the variant's identities reached it (in order, after
    /// their first exposure, inside the window; the last step's count equals `sum`, the
    /// conversions). Empty for other metrics.
    pub funnel_steps: Vec<FunnelStepReached>,
    /// Capped metrics: identities whose value was capped (outside [lower, upper]); null for
    /// metrics without capping.
    pub capped_identities: Option<u64>,
}

/// How many identities of a variant reached one step of a funnel.
#[derive(SimpleObject)]
pub struct FunnelStepReached {
    /// 1-based position of the step.
    pub step: u32,
    /// The step's event.
    pub event: String,
    /// Identities that reached this step (and every step before it) in order.
    pub reached: u64,
}

/// The cap values a capped metric's results used.
#[derive(SimpleObject)]
pub struct MetricCapping {
    pub kind: CappingKind,
    /// The upper cap value (ABSOLUTE: as defined; PERCENTILE: the quantile of the pooled
    /// per-identity values); null when a PERCENTILE cap had no value to take it of (nothing was
    /// capped).
    pub upper: Option<f64>,
    /// The lower cap value; null when the metric has none.
    pub lower: Option<f64>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "stats::Verdict")]
/// The judgement of a metric for one variant, given the metric's direction and the attachment's
/// expected direction.
pub enum Verdict {
    /// Significant, and the way the experiment hoped.
    Win,
    /// Significant, and the way it must not go.
    Loss,
    /// Not significant (or significant in a direction that is neither hoped for nor harmful).
    Inconclusive,
    /// Too few identities (or conversions) in an arm to judge.
    NotEnoughData,
}

/// A stored result snapshot.
pub struct ResultSnapshot(pub model::StoredSnapshot);

#[Object]
impl ResultSnapshot {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.computed_at
    }
    /// Start and end of the exposure window the snapshot covers.
    async fn window_start(&self) -> DateTime<Utc> {
        self.0.report.window_start
    }
    async fn window_end(&self) -> DateTime<Utc> {
        self.0.report.window_end
    }
    async fn results(&self) -> ExperimentResults {
        ExperimentResults(service::results::frozen(self.0.clone()))
    }
}
