//! `ExperimentAnalysis` (how an experiment's results are analysed) and its input.

use async_graphql::{InputObject, Object, SimpleObject};

use super::enums::{AnalysisEngine, MultipleTestingCorrection};
use crate::domain::analysis::{AnalysisPatch, AnalysisSettings, PriorPatch};

/// How an experiment's results are analysed. Resolved when the experiment is created (the
/// server's defaults fill what the input left out) and stored with it, so a later change of a
/// server default does not move it. Before the start every field may change; once the experiment
/// has started, `engine`, `alpha`, `sequential` and `correction` are locked (they decide what is
/// significant and are chosen before seeing data); the rest stays editable until completion.
pub struct ExperimentAnalysis(pub AnalysisSettings);

/// A Gaussian prior on the relative lift, used by the BAYESIAN engine only.
#[derive(SimpleObject)]
pub struct AnalysisPrior {
    /// False: a flat (improper) prior, the data alone decide. Default false.
    pub proper: bool,
    /// Prior mean of the relative lift (0.1 is +10 %). Default 0.
    pub mean: f64,
    /// Prior variance of the relative lift, greater than 0. Default 0.09 (a standard deviation of 30 %).
    pub variance: f64,
}

/// GraphQL's Int is 32-bit; minimums configured above it on the server are shown as its maximum.
fn int(value: u64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

#[Object]
impl ExperimentAnalysis {
    /// FREQUENTIST (default) or BAYESIAN. Locked after the start.
    async fn engine(&self) -> AnalysisEngine {
        self.0.engine().into()
    }
    /// Significance level, 0 < alpha < 0.5: two-sided confidence intervals at 1 − alpha; under
    /// BAYESIAN, a WIN needs a chance to win of at least 1 − alpha/2, which is exactly a credible
    /// interval at 1 − alpha that excludes zero on the good side. Default: the server's
    /// `LIFT_RESULTS_ALPHA` when the experiment was created. Locked after the start.
    async fn alpha(&self) -> f64 {
        self.0.alpha()
    }
    /// Always-valid confidence sequences (safe to look every day) instead of fixed-horizon tests.
    /// FREQUENTIST only. Default false. Locked after the start.
    async fn sequential(&self) -> bool {
        self.0.sequential()
    }
    /// Identities the sequential confidence sequences are tuned for (at least 1; used only when
    /// `sequential` is true). Default 5000.
    async fn sequential_tuning(&self) -> i32 {
        int(self.0.sequential_tuning().into())
    }
    /// CUPED variance reduction with each identity's pre-exposure value of the same metric.
    /// Default true.
    async fn cuped(&self) -> bool {
        self.0.cuped()
    }
    /// Days before each identity's first exposure CUPED reads, 1–60. Default 14.
    async fn cuped_lookback_days(&self) -> i32 {
        int(self.0.cuped_lookback_days().into())
    }
    /// Adjustment of p-values across the experiment's primary and secondary metrics.
    /// FREQUENTIST only. Default NONE. Locked after the start.
    async fn correction(&self) -> MultipleTestingCorrection {
        self.0.correction().into()
    }
    /// The prior of the BAYESIAN engine (stored but unused under FREQUENTIST).
    async fn prior(&self) -> AnalysisPrior {
        let prior = self.0.prior();
        AnalysisPrior {
            proper: prior.proper,
            mean: prior.mean,
            variance: prior.variance,
        }
    }
    /// Fewer identities than this in either arm: NOT_ENOUGH_DATA. At least 1. Default: the
    /// server's `LIFT_RESULTS_MIN_IDENTITIES` when the experiment was created.
    async fn minimum_identities(&self) -> i32 {
        int(self.0.minimum_identities())
    }
    /// Fewer conversions than this in either arm of a conversion metric: NOT_ENOUGH_DATA. At
    /// least 0. Default: the server's `LIFT_RESULTS_MIN_CONVERSIONS` when the experiment was created.
    async fn minimum_conversions(&self) -> i32 {
        int(self.0.minimum_conversions())
    }
    /// The relative effect the experiment should be able to detect (0.05 is 5 %), greater than 0
    /// and at most 10 (1000 %): primaries whose minimum detectable effect is still above it keep
    /// the experiment running. Default 0.05.
    async fn target_mde(&self) -> f64 {
        self.0.target_mde()
    }
}

/// Partial prior: fields left out keep their current value (at creation, the defaults).
#[derive(InputObject)]
pub struct AnalysisPriorInput {
    /// Default false (a flat prior).
    pub proper: Option<bool>,
    /// Default 0.
    pub mean: Option<f64>,
    /// Greater than 0. Default 0.09.
    pub variance: Option<f64>,
}

/// Analysis settings to set. At creation, fields left out take their defaults; on update they
/// keep their current value. See `ExperimentAnalysis` for each field's range, default and lock.
/// `sequential: true` or a `correction` other than NONE together with engine BAYESIAN is
/// `BAD_USER_INPUT` (they exist only for p-values). After the start, changing `engine`, `alpha`,
/// `sequential` or `correction` is `BAD_USER_INPUT`; sending their current value is not a change.
#[derive(InputObject)]
pub struct ExperimentAnalysisInput {
    /// Default FREQUENTIST.
    pub engine: Option<AnalysisEngine>,
    /// 0 < alpha < 0.5. Default: the server's `LIFT_RESULTS_ALPHA`.
    pub alpha: Option<f64>,
    /// FREQUENTIST only. Default false.
    pub sequential: Option<bool>,
    /// At least 1. Default 5000.
    pub sequential_tuning: Option<i32>,
    /// Default true.
    pub cuped: Option<bool>,
    /// 1–60. Default 14.
    pub cuped_lookback_days: Option<i32>,
    /// FREQUENTIST only. Default NONE.
    pub correction: Option<MultipleTestingCorrection>,
    /// BAYESIAN only (accepted and kept under FREQUENTIST).
    pub prior: Option<AnalysisPriorInput>,
    /// At least 1. Default: the server's `LIFT_RESULTS_MIN_IDENTITIES`.
    pub minimum_identities: Option<i32>,
    /// At least 0. Default: the server's `LIFT_RESULTS_MIN_CONVERSIONS`.
    pub minimum_conversions: Option<i32>,
    /// Relative, 0 < targetMde ≤ 10. Default 0.05.
    pub target_mde: Option<f64>,
}

impl From<ExperimentAnalysisInput> for AnalysisPatch {
    fn from(input: ExperimentAnalysisInput) -> Self {
        AnalysisPatch {
            engine: input.engine.map(Into::into),
            alpha: input.alpha,
            sequential: input.sequential,
            sequential_tuning: input.sequential_tuning.map(Into::into),
            cuped: input.cuped,
            cuped_lookback_days: input.cuped_lookback_days.map(Into::into),
            correction: input.correction.map(Into::into),
            prior: input.prior.map(|p| PriorPatch {
                proper: p.proper,
                mean: p.mean,
                variance: p.variance,
            }),
            minimum_identities: input.minimum_identities.map(Into::into),
            minimum_conversions: input.minimum_conversions.map(Into::into),
            target_mde: input.target_mde,
        }
    }
}
