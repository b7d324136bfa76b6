//! The decision-grade parts of results: each comparison under the experiment's analysis settings
//! (adjusted and unadjusted, CUPED, the multiple-testing correction, power), the health checks and
//! the recommendation per variant.

use async_graphql::{Enum, SimpleObject};

use crate::domain::health::{self as health_model, CheckKind, HealthStatus};
use crate::domain::recommendation::{self as recommendation_model, Decision};
use crate::domain::results as model;
use crate::stats::correction::AdjustedInterval;
use crate::stats::{self, Cuped, CupedFallback};

use super::results::Verdict;

/// A point estimate with its two-sided interval at 1 − α: a confidence interval (frequentist,
/// fixed-horizon), an always-valid confidence sequence (sequential) or a credible interval
/// (Bayesian).
#[derive(SimpleObject)]
pub struct Estimate {
    /// Under the Bayesian engine, the posterior mean (shrunk towards the prior's mean when the
    /// prior is proper).
    pub estimate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    /// Frequentist engines only; null under BAYESIAN.
    pub p_value: Option<f64>,
    /// BAYESIAN only: the posterior probability that the variant is better than the control in the
    /// metric's good direction (up for INFORMATIONAL metrics). A WIN needs at least 1 − α/2, which
    /// is exactly an interval excluding zero on the good side, so the two never disagree.
    pub chance_to_win: Option<f64>,
    /// BAYESIAN only: expected loss of each choice.
    pub risk: Option<Risk>,
}

/// Expected loss, in the estimate's units, of choosing one side if the other is in fact better.
#[derive(SimpleObject)]
pub struct Risk {
    /// Of keeping the control.
    pub control: f64,
    /// Of shipping the variant.
    pub variant: f64,
}

impl From<stats::Effect> for Estimate {
    fn from(e: stats::Effect) -> Self {
        Estimate {
            estimate: e.estimate,
            ci_lower: e.ci_lower,
            ci_upper: e.ci_upper,
            p_value: e.p_value,
            chance_to_win: e.chance_to_win,
            risk: e.risk.map(|r| Risk {
                control: r.control,
                variant: r.treatment,
            }),
        }
    }
}

impl From<stats::Estimate> for Estimate {
    fn from(e: stats::Estimate) -> Self {
        Estimate {
            estimate: e.estimate,
            ci_lower: e.ci_lower,
            ci_upper: e.ci_upper,
            p_value: Some(e.p_value),
            chance_to_win: None,
            risk: None,
        }
    }
}

/// A comparison on both scales.
#[derive(SimpleObject)]
pub struct Effects {
    pub absolute_difference: Estimate,
    /// Null when the control mean is 0 or the variant is constant at 0.
    pub relative_lift: Option<Estimate>,
}

impl From<stats::Effects> for Effects {
    fn from(e: stats::Effects) -> Self {
        Effects {
            absolute_difference: e.absolute.into(),
            relative_lift: e.relative.map(Into::into),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum CupedStatus {
    /// The experiment does not use CUPED.
    Off,
    /// Adjusted by the pre-exposure covariate.
    Applied,
    /// Asked for but not applied (see `fallback`): the adjusted numbers are the unadjusted ones.
    FellBack,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "CupedFallback")]
pub enum CupedFallbackReason {
    /// No covariate was computed (MEAN metrics have none: an identity without pre-period values
    /// has no mean to adjust by).
    NoCovariate,
    InvalidCovariate,
    /// Nobody (or everybody alike) had pre-period activity.
    CovariateWithoutVariance,
    MetricWithoutVariance,
    Uncorrelated,
    AdjustedVarianceNotPositive,
    /// A RATIO metric: gbstats 0.8.0, lift's reference, has no regression adjustment for ratios,
    /// so their comparisons are never adjusted.
    RatioMetric,
    /// A QUANTILE metric: there is no regression-adjusted quantile (gbstats 0.8.0 has none).
    QuantileMetric,
}

/// What CUPED did to a comparison.
#[derive(SimpleObject)]
pub struct CupedOutcome {
    pub status: CupedStatus,
    pub fallback: Option<CupedFallbackReason>,
    /// θ, pooled over the control and this variant.
    pub theta: Option<f64>,
    /// 1 − adjusted variance / unadjusted variance of the absolute difference.
    pub variance_reduction: Option<f64>,
}

impl From<Cuped> for CupedOutcome {
    fn from(c: Cuped) -> Self {
        match c {
            Cuped::Off => CupedOutcome {
                status: CupedStatus::Off,
                fallback: None,
                theta: None,
                variance_reduction: None,
            },
            Cuped::Applied {
                theta,
                variance_reduction,
            } => CupedOutcome {
                status: CupedStatus::Applied,
                fallback: None,
                theta: Some(theta),
                variance_reduction: Some(variance_reduction),
            },
            Cuped::FellBack(reason) => CupedOutcome {
                status: CupedStatus::FellBack,
                fallback: Some(reason.into()),
                theta: None,
                variance_reduction: None,
            },
        }
    }
}

/// An interval after the multiple-testing correction, backed out of the adjusted p-value as
/// GrowthBook does; both bounds null when the adjusted p-value is (nearly) 1: no finite interval.
#[derive(SimpleObject)]
pub struct AdjustedBounds {
    pub ci_lower: Option<f64>,
    pub ci_upper: Option<f64>,
}

impl From<AdjustedInterval> for AdjustedBounds {
    fn from(i: AdjustedInterval) -> Self {
        match i {
            AdjustedInterval::Bounded { lower, upper } => AdjustedBounds {
                ci_lower: Some(lower),
                ci_upper: Some(upper),
            },
            AdjustedInterval::Unbounded => AdjustedBounds {
                ci_lower: None,
                ci_upper: None,
            },
        }
    }
}

/// The comparison after the experiment's multiple-testing correction over its family (primary and
/// secondary metrics × variants). The verdict uses `pValue`.
#[derive(SimpleObject)]
pub struct CorrectedComparison {
    pub p_value: f64,
    pub absolute_difference: AdjustedBounds,
    pub relative_lift_p_value: Option<f64>,
    pub relative_lift: Option<AdjustedBounds>,
}

impl From<model::Corrected> for CorrectedComparison {
    fn from(c: model::Corrected) -> Self {
        CorrectedComparison {
            p_value: c.p_value,
            absolute_difference: c.absolute.into(),
            relative_lift_p_value: c.relative_p_value,
            relative_lift: c.relative.map(Into::into),
        }
    }
}

/// Power of a primary metric's comparison for the sample so far.
#[derive(SimpleObject)]
pub struct ComparisonPower {
    /// Relative minimum detectable effect at 80 % power (0.05 = 5 %); null while none is.
    pub mde: Option<f64>,
    /// Identities in the control and this variant per day since the start.
    pub identities_per_day: f64,
    /// Estimated days until the MDE reaches the experiment's `targetMde` at this rate (0 when it
    /// has); null when it never will.
    pub days_to_target: Option<f64>,
}

impl From<model::Power> for ComparisonPower {
    fn from(p: model::Power) -> Self {
        ComparisonPower {
            mde: p.mde,
            identities_per_day: p.identities_per_day,
            days_to_target: p.days_to_target,
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "HealthStatus")]
pub enum ResultsHealthStatus {
    Healthy,
    Warning,
    /// Do not read the metrics until the setup is fixed.
    Unhealthy,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "CheckKind")]
pub enum HealthCheckKind {
    /// χ² of identities per variant against the weights; p < 0.001 is UNHEALTHY.
    SampleRatio,
    /// Share of exposed identities seeing several variants: > 1 % WARNING, > 5 % UNHEALTHY.
    MultipleExposures,
    /// Per metric: the CUPED covariate's means differ between a variant and control at p < 0.001
    /// (WARNING).
    PreExposureBias,
    /// A variant has fewer identities than the experiment's `minimumIdentities` (WARNING).
    LowTraffic,
}

#[derive(SimpleObject)]
pub struct HealthCheck {
    pub kind: HealthCheckKind,
    pub status: ResultsHealthStatus,
    /// What was measured: a p-value, a share of identities or a count.
    pub value: Option<f64>,
    pub threshold: f64,
    pub message: String,
    /// The attached metric a PRE_EXPOSURE_BIAS check is about.
    pub experiment_metric_id: Option<async_graphql::ID>,
}

/// Whether the results can be trusted: the worst check's status, and every check.
#[derive(SimpleObject)]
pub struct ResultsHealth {
    pub status: ResultsHealthStatus,
    pub checks: Vec<HealthCheck>,
}

impl From<health_model::Health> for ResultsHealth {
    fn from(h: health_model::Health) -> Self {
        ResultsHealth {
            status: h.status.into(),
            checks: h
                .checks
                .into_iter()
                .map(|c| HealthCheck {
                    kind: c.kind.into(),
                    status: c.status.into(),
                    value: c.value,
                    threshold: c.threshold,
                    message: c.message,
                    experiment_metric_id: c.experiment_metric_id.map(async_graphql::ID),
                })
                .collect(),
        }
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "Decision")]
pub enum RecommendationDecision {
    /// Every primary metric wins and no guardrail loses.
    Ship,
    /// A primary or guardrail metric loses.
    RollBack,
    /// A primary metric lacks data, or cannot yet detect the experiment's `targetMde`.
    KeepRunning,
    /// The primary metrics are inconclusive although they could detect `targetMde`.
    NoDetectableEffect,
    /// Health is UNHEALTHY, or no primary metric is attached.
    CheckSetup,
}

/// What to do with one variant, and why. The first rule that applies decides: CHECK_SETUP,
/// ROLL_BACK, SHIP, KEEP_RUNNING, NO_DETECTABLE_EFFECT.
#[derive(SimpleObject)]
pub struct Recommendation {
    pub variant: String,
    pub decision: RecommendationDecision,
    pub reasons: Vec<String>,
}

impl From<recommendation_model::Recommendation> for Recommendation {
    fn from(r: recommendation_model::Recommendation) -> Self {
        Recommendation {
            variant: r.variant,
            decision: r.decision.into(),
            reasons: r.reasons,
        }
    }
}

/// A treatment variant against the control, under the experiment's analysis settings.
#[derive(SimpleObject)]
pub struct VariantComparison {
    pub variant: String,
    /// Treatment mean − control mean, as the verdict reads it (CUPED-adjusted when applied). Null
    /// when it cannot be computed.
    pub absolute_difference: Option<Estimate>,
    /// Treatment mean / control mean − 1 (delta method), adjusted like `absoluteDifference`.
    pub relative_lift: Option<Estimate>,
    /// The same test without CUPED; null for results frozen before lift had CUPED.
    pub unadjusted: Option<Effects>,
    /// Null for results frozen before lift had CUPED.
    pub cuped: Option<CupedOutcome>,
    /// Null unless the experiment asks for a correction and the metric is primary or secondary.
    pub corrected: Option<CorrectedComparison>,
    pub verdict: Verdict,
    /// Primary metrics only; not computed (null) for RATIO metrics, for which GrowthBook's power
    /// calculation, lift's reference, defines none.
    pub power: Option<ComparisonPower>,
    /// Welch p-value of the CUPED covariate's means against the control (pre-exposure balance).
    pub pre_exposure_p_value: Option<f64>,
}

impl From<&model::VariantComparison> for VariantComparison {
    fn from(c: &model::VariantComparison) -> Self {
        let (absolute, relative) = match (c.analysis, c.comparison) {
            (Some(a), _) => (
                Some(a.adjusted.absolute.into()),
                a.adjusted.relative.map(Into::into),
            ),
            (None, Some(v1)) => (Some(v1.absolute.into()), v1.relative.map(Into::into)),
            (None, None) => (None, None),
        };
        VariantComparison {
            variant: c.variant.clone(),
            absolute_difference: absolute,
            relative_lift: relative,
            unadjusted: c.analysis.map(|a| a.unadjusted.into()),
            cuped: c.analysis.map(|a| a.cuped.into()),
            corrected: c.corrected.map(Into::into),
            verdict: c.verdict.into(),
            power: c.power.map(Into::into),
            pre_exposure_p_value: c.pre_exposure_p_value,
        }
    }
}
