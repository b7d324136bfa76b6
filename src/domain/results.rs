//! Experiment results as lift reports them: exposure counts with the sample-ratio check, and per
//! attached metric the per-variant statistics, each variant's comparison against the control and
//! its verdict. Pure: the warehouse rows come in, the report goes out; a completed experiment's
//! report is stored as JSON (`MetricResultSnapshot.payload`), so these types are also the
//! snapshot format (`SNAPSHOT_VERSION`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::experiment::{ExpectedDirection, MultipleExposureHandling};
use super::feature::Variant;
use super::metric::{Direction, MetricType};
use super::model::{ExperimentMetric, Metric};
use crate::stats::{
    self, Comparison, Expectation, GoodDirection, MetricKind, SampleRatio, Thresholds,
    VariantStats, Verdict,
};

pub const SNAPSHOT_VERSION: u32 = 1;

/// Identities per variant, as the exposure query counts them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantExposure {
    pub variant: String,
    pub identities: u64,
}

/// Who was assigned where, and who was left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExposureSummary {
    /// Every variant of the feature, in the feature's order (zero when nobody saw it).
    pub variants: Vec<VariantExposure>,
    /// Identities exposed to more than one variant (left out under EXCLUDE, kept under FIRST_TOUCH).
    pub multiple_exposure_identities: u64,
    /// Identities whose assignment is not one of the feature's variants (always left out).
    pub unknown_variant_identities: u64,
    /// Identities left out of the analysis.
    pub excluded_identities: u64,
    /// χ² of the assigned identities against the feature's weights; `None` when it cannot be
    /// computed (fewer than two variants with weight).
    pub srm: Option<SampleRatio>,
}

/// What the exposure query returns, before it is judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExposureCounts {
    pub identities: HashMap<String, u64>,
    pub multiple_exposures: u64,
    pub unknown_variant: u64,
}

impl ExposureSummary {
    pub fn build(
        variants: &[Variant],
        counts: &ExposureCounts,
        handling: MultipleExposureHandling,
    ) -> Self {
        let exposures: Vec<VariantExposure> = variants
            .iter()
            .map(|v| VariantExposure {
                variant: v.key.clone(),
                identities: counts.identities.get(&v.key).copied().unwrap_or(0),
            })
            .collect();
        let observed: Vec<u64> = exposures.iter().map(|e| e.identities).collect();
        let weights: Vec<f64> = variants.iter().map(|v| v.weight).collect();
        let excluded_multiple = match handling {
            MultipleExposureHandling::Exclude => counts.multiple_exposures,
            MultipleExposureHandling::FirstTouch => 0,
        };
        ExposureSummary {
            variants: exposures,
            multiple_exposure_identities: counts.multiple_exposures,
            unknown_variant_identities: counts.unknown_variant,
            excluded_identities: excluded_multiple + counts.unknown_variant,
            srm: stats::sample_ratio_mismatch(&observed, &weights).ok(),
        }
    }
}

/// One variant's sufficient statistics for one metric, with what follows from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    pub variant: String,
    pub n: u64,
    /// `None` when the total overflowed (an absurd event value): JSON has no infinity, and a
    /// snapshot must always read back.
    pub sum: Option<f64>,
    pub sum_sq: Option<f64>,
    pub mean: Option<f64>,
    pub variance: Option<f64>,
}

/// A treatment variant against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantComparison {
    pub variant: String,
    /// `None` when the statistics cannot be computed (too few identities, no variance).
    pub comparison: Option<Comparison>,
    pub verdict: Verdict,
}

/// Results of one attached metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    pub experiment_metric_id: String,
    pub metric_id: String,
    pub variants: Vec<VariantSummary>,
    pub comparisons: Vec<VariantComparison>,
}

/// CUPED's sums over the identities counted for a metric in a variant: `x` the identity's
/// covariate (the metric before its exposure), `y` its metric value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CovariateSums {
    pub sum_x: f64,
    pub sum_x2: f64,
    pub sum_xy: f64,
}

/// One (metric, variant)'s sufficient statistics, and its covariate's sums when CUPED was asked
/// for and applies (not for MEAN metrics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VariantMetricStats {
    pub stats: VariantStats,
    pub covariate: Option<CovariateSums>,
}

/// Sufficient statistics per (attached metric index, variant), as the metrics query returns them.
pub type MetricStats = HashMap<(usize, String), VariantMetricStats>;

/// What results are judged against, kept with a snapshot so a frozen report explains itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsPolicy {
    pub thresholds: Thresholds,
    pub control_variant: String,
    pub multiple_exposure_handling: MultipleExposureHandling,
}

/// A full report: what a snapshot stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultsReport {
    pub version: u32,
    pub computed_at: DateTime<Utc>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub policy: ResultsPolicy,
    pub exposures: ExposureSummary,
    pub metrics: Vec<MetricResult>,
}

/// A stored snapshot: when it was computed and what it says.
#[derive(Debug, Clone)]
pub struct StoredSnapshot {
    pub id: String,
    pub experiment_id: String,
    pub computed_at: DateTime<Utc>,
    pub report: ResultsReport,
}

/// Which snapshot an audit entry is about.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRef {
    pub id: String,
    pub experiment_id: String,
    pub computed_at: DateTime<Utc>,
}

/// An attached metric with what judging it needs.
#[derive(Debug, Clone)]
pub struct AttachedMetric {
    pub attachment: ExperimentMetric,
    pub metric: Metric,
}

/// Judges every attached metric: per-variant summaries in the feature's order, then every
/// non-control variant against the control.
pub fn judge_metrics(
    attached: &[AttachedMetric],
    variants: &[Variant],
    stats: &MetricStats,
    policy: &ResultsPolicy,
) -> Vec<MetricResult> {
    attached
        .iter()
        .enumerate()
        .map(|(index, a)| judge_metric(index, a, variants, stats, policy))
        .collect()
}

fn judge_metric(
    index: usize,
    attached: &AttachedMetric,
    variants: &[Variant],
    stats: &MetricStats,
    policy: &ResultsPolicy,
) -> MetricResult {
    let kind = metric_kind(attached.metric.metric_type);
    let of = |key: &str| {
        stats
            .get(&(index, key.to_owned()))
            .map(|s| s.stats)
            .unwrap_or(VariantStats {
                n: 0,
                sum: 0.0,
                sum_sq: 0.0,
            })
    };
    let summaries = variants
        .iter()
        .map(|v| {
            let s = of(&v.key);
            VariantSummary {
                variant: v.key.clone(),
                n: s.n,
                sum: s.sum.is_finite().then_some(s.sum),
                sum_sq: s.sum_sq.is_finite().then_some(s.sum_sq),
                mean: s.mean(),
                variance: s.variance(kind),
            }
        })
        .collect();
    let control = of(&policy.control_variant);
    let comparisons = variants
        .iter()
        .filter(|v| v.key != policy.control_variant)
        .map(|v| {
            let treatment = of(&v.key);
            let comparison =
                stats::compare(&control, &treatment, kind, policy.thresholds.alpha).ok();
            let verdict = stats::judge(
                &control,
                &treatment,
                kind,
                comparison.as_ref(),
                expectation(attached.attachment.expected_direction),
                good_direction(attached.metric.direction),
                &policy.thresholds,
            );
            VariantComparison {
                variant: v.key.clone(),
                comparison,
                verdict,
            }
        })
        .collect();
    MetricResult {
        experiment_metric_id: attached.attachment.id.clone(),
        metric_id: attached.metric.id.clone(),
        variants: summaries,
        comparisons,
    }
}

fn metric_kind(metric_type: MetricType) -> MetricKind {
    match metric_type {
        MetricType::Numeric => MetricKind::Numeric,
        MetricType::Conversion => MetricKind::Conversion,
    }
}

fn expectation(direction: ExpectedDirection) -> Expectation {
    match direction {
        ExpectedDirection::Increase => Expectation::Increase,
        ExpectedDirection::Decrease => Expectation::Decrease,
        ExpectedDirection::NotIncrease => Expectation::NotIncrease,
        ExpectedDirection::NotDecrease => Expectation::NotDecrease,
    }
}

fn good_direction(direction: Direction) -> GoodDirection {
    match direction {
        Direction::Up => GoodDirection::Up,
        Direction::Down => GoodDirection::Down,
        Direction::Informational => GoodDirection::Informational,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variants() -> Vec<Variant> {
        ["control", "treatment"]
            .iter()
            .map(|k| Variant {
                key: (*k).into(),
                weight: 1.0,
            })
            .collect()
    }

    #[test]
    fn excluded_identities_count_multiple_exposures_only_under_exclude() {
        let counts = ExposureCounts {
            identities: [("control".to_owned(), 500), ("treatment".to_owned(), 510)]
                .into_iter()
                .collect(),
            multiple_exposures: 7,
            unknown_variant: 3,
        };
        let exclude =
            ExposureSummary::build(&variants(), &counts, MultipleExposureHandling::Exclude);
        assert_eq!(exclude.excluded_identities, 10);
        let first =
            ExposureSummary::build(&variants(), &counts, MultipleExposureHandling::FirstTouch);
        assert_eq!(first.excluded_identities, 3);
        assert_eq!(first.multiple_exposure_identities, 7);
        assert!(!first.srm.expect("srm").mismatch);
    }

    #[test]
    fn variants_nobody_saw_are_reported_with_zero_identities() {
        let summary = ExposureSummary::build(
            &variants(),
            &ExposureCounts::default(),
            MultipleExposureHandling::Exclude,
        );
        assert_eq!(
            summary
                .variants
                .iter()
                .map(|v| v.identities)
                .collect::<Vec<_>>(),
            vec![0, 0]
        );
    }
}
