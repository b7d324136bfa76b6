//! Pure statistics over sufficient statistics: no IO, no async, deterministic, and every failure
//! a typed [`StatsError`].
//!
//! - [`analysis`] — the entry point per comparison, [`analyze`]: CUPED, fixed-horizon,
//!   sequential or Bayesian, adjusted and unadjusted, as gbstats 0.8.0; and the covariate
//!   balance check [`pre_exposure_p_value`];
//! - [`arm`] — `ArmSums`: the metric's `n, Σy, Σy²` and the covariate's `Σx, Σx², Σxy`;
//! - [`sufficient`] — `VariantStats { n, sum, sum_sq }` (the SQL's per-variant output), mean, variance;
//! - [`ttest`] — [`compare`]: Welch's two-sided t-test, absolute and relative (delta method);
//! - [`ratio`] — RATIO metrics: `Σm/Σd` per arm, its variance by the delta method (gbstats
//!   `RatioStatistic`), [`analyze_ratio`];
//! - [`cuped`] — `θ` pooled over the two arms, adjusted moments, why CUPED fell back;
//! - [`bayesian`] — the prior, the posterior's chance to win, interval and risk;
//! - `fixed`, `sequential` — the frequentist intervals on moments; `moments` — what a test reads
//!   from an arm and the difference on each scale; `normal`, `student` — the distributions;
//! - [`verdict`] — win / loss / inconclusive / not enough data, from expectation and direction;
//! - [`quantile`] — QUANTILE metrics: an arm's quantile and its order-statistic variance
//!   (clustered for event quantiles), compared by [`analyze_quantile`] as gbstats 0.8.0;
//! - [`srm`] — sample ratio mismatch, χ² goodness of fit against the traffic weights;
//! - [`correction`] — Holm–Bonferroni and Benjamini–Hochberg adjusted p-values over a family of
//!   comparisons, and the adjusted intervals backed out of them, as GrowthBook;
//! - [`power`] — the relative MDE at a power for a sample (fixed-horizon or sequential) and the
//!   days of traffic until it reaches a target, as GrowthBook's power.ts;
//! - `std_normal` — the standard normal quantile in GrowthBook's form;
//! - [`error`] — `StatsError`.

pub mod analysis;
#[cfg(test)]
mod analysis_properties;
#[cfg(test)]
mod analysis_tests;
pub mod arm;
pub mod bayesian;
pub mod correction;
pub mod cuped;
pub mod error;
mod fixed;
mod moments;
mod normal;
pub mod power;
#[cfg(test)]
mod properties;
pub mod quantile;
pub mod ratio;
mod sequential;
pub mod srm;
mod std_normal;
mod student;
pub mod sufficient;
#[cfg(test)]
mod test_rng;
pub mod ttest;
pub mod verdict;

pub use analysis::{analyze, pre_exposure_p_value, Analysis, Effect, Effects, Method, Spec};
pub use arm::{ArmSums, CovariateSums};
pub use bayesian::{Prior, Risk};
pub use cuped::{Cuped, CupedFallback};
pub use error::StatsError;
pub use quantile::{analyze_quantile, ClusterSums, QuantileStats};
pub use ratio::{analyze_ratio, DenominatorSums, RatioArm};
pub use srm::{sample_ratio_mismatch, SampleRatio, SRM_THRESHOLD};
pub use sufficient::{MetricKind, VariantStats};
pub use ttest::{compare, Comparison, Estimate};
pub use verdict::{judge, Evidence, Expectation, GoodDirection, Thresholds, Verdict};
