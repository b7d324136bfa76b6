//! Pure statistics over sufficient statistics: no IO, no async, deterministic, and every failure
//! a typed [`StatsError`].
//!
//! - [`sufficient`] — `VariantStats { n, sum, sum_sq }` (the SQL's per-variant output), mean, variance;
//! - [`ttest`] — Welch's two-sided t-test, absolute and relative (delta method), as gbstats 0.8.0;
//! - [`verdict`] — win / loss / inconclusive / not enough data, from expectation and direction;
//! - [`srm`] — sample ratio mismatch, χ² goodness of fit against the traffic weights;
//! - [`correction`] — Holm–Bonferroni and Benjamini–Hochberg adjusted p-values over a family of
//!   comparisons, and the adjusted intervals backed out of them, as GrowthBook;
//! - [`power`] — the relative MDE at a power for a sample (fixed-horizon or sequential) and the
//!   days of traffic until it reaches a target, as GrowthBook's power.ts;
//! - `std_normal` — the standard normal quantile in GrowthBook's form;
//! - `student` — Student's t tail and quantile, precise for any degrees of freedom;
//! - [`error`] — `StatsError`.

pub mod correction;
pub mod error;
pub mod power;
#[cfg(test)]
mod properties;
pub mod srm;
mod std_normal;
mod student;
pub mod sufficient;
#[cfg(test)]
mod test_rng;
pub mod ttest;
pub mod verdict;

pub use error::StatsError;
pub use srm::{sample_ratio_mismatch, SampleRatio, SRM_THRESHOLD};
pub use sufficient::{MetricKind, VariantStats};
pub use ttest::{compare, Comparison, Estimate};
pub use verdict::{
    judge, judge_evidence, Evidence, Expectation, GoodDirection, Thresholds, Verdict,
};
