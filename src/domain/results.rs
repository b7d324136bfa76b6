//! Experiment results as lift reports them: exposure counts with the sample-ratio check, and per
//! attached metric the per-variant statistics, each variant's comparison against the control and
//! its verdict. Pure: the warehouse rows come in, the report goes out; a completed experiment's
//! report is stored as JSON (`MetricResultSnapshot.payload`), so these types are also the
//! snapshot format (`SNAPSHOT_VERSION`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::analysis::AnalysisSettings;
use super::experiment::{MetricRole, MultipleExposureHandling};
use super::feature::Variant;
use super::funnel_capping::{CapValues, FunnelStepReached, KindNumbers};
use super::health::Health;
use super::model::{ExperimentMetric, Metric};
use super::recommendation::Recommendation;
use crate::stats::correction::AdjustedInterval;
use crate::stats::{
    self, Analysis, Comparison, QuantileStats, SampleRatio, Thresholds, VariantStats, Verdict,
};

/// The snapshot format this lift writes. Version 1 (before analysis settings, health and
/// recommendations) still reads: every field added since has a serde default.
pub const SNAPSHOT_VERSION: u32 = 2;

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
    /// `sum / n`; for a RATIO metric `sum / denominator_sum` (`sum` is the numerators' total).
    pub mean: Option<f64>,
    /// Per-identity variance; for a RATIO metric the delta method's (`stats::ratio`).
    pub variance: Option<f64>,
    /// Funnel metrics: identities reaching each step (the last equals `sum`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub funnel_steps: Vec<FunnelStepReached>,
    /// Capped metrics: identities whose value was capped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped_identities: Option<u64>,
    /// RATIO metrics: the denominators' total over the `n` identities (each > 0).
    #[serde(default)]
    pub denominator_sum: Option<f64>,
    /// QUANTILE metrics: the quantile, its bounds and sample sizes (snapshots before quantiles
    /// have none).
    #[serde(default)]
    pub quantile: Option<QuantileStats>,
}

/// A treatment variant against the control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantComparison {
    pub variant: String,
    /// Version 1 snapshots: the fixed-horizon Welch comparison they were judged on. `None` in
    /// version 2, which keeps `analysis` instead.
    #[serde(default)]
    pub comparison: Option<Comparison>,
    /// Under the experiment's settings: the adjusted comparison (CUPED when applied) the verdict
    /// uses, the unadjusted one and what CUPED did. `None` when it cannot be computed.
    #[serde(default)]
    pub analysis: Option<Analysis>,
    /// The multiple-testing correction, when the experiment asks for one and the metric is in the
    /// family (primary and secondary metrics).
    #[serde(default)]
    pub corrected: Option<Corrected>,
    pub verdict: Verdict,
    /// How small an effect the comparison can detect now (primary metrics).
    #[serde(default)]
    pub power: Option<Power>,
    /// Welch p-value of the CUPED covariate's means against the control's (the pre-exposure
    /// balance the PRE_EXPOSURE_BIAS check reads); `None` without a covariate.
    #[serde(default)]
    pub pre_exposure_p_value: Option<f64>,
}

/// A comparison after the family's multiple-testing correction; the verdict uses `p_value`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Corrected {
    /// Adjusted p-value of the absolute difference.
    pub p_value: f64,
    pub absolute: AdjustedInterval,
    /// Adjusted p-value and interval of the relative lift; `None` when there is no relative lift.
    pub relative_p_value: Option<f64>,
    pub relative: Option<AdjustedInterval>,
}

/// Power of one comparison for the sample so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Power {
    /// Relative minimum detectable effect at 80 % power; `None` while no effect is detectable.
    pub mde: Option<f64>,
    /// Identities (control and this variant) per day since the start.
    pub identities_per_day: f64,
    /// Days until the MDE reaches the experiment's `targetMde` at this rate (0 when it has);
    /// `None` when it never will.
    pub days_to_target: Option<f64>,
}

/// Results of one attached metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    pub experiment_metric_id: String,
    pub metric_id: String,
    /// Version 2: the metric's name and the attachment's role when the results were computed.
    #[serde(default)]
    pub metric_name: Option<String>,
    #[serde(default)]
    pub role: Option<MetricRole>,
    /// The metric's version the numbers measure (the attachment's pinned one). Snapshots stored
    /// before metrics had versions read as version 1, the only one there was.
    #[serde(default = "first_version")]
    pub metric_version: u32,
    pub variants: Vec<VariantSummary>,
    pub comparisons: Vec<VariantComparison>,
    /// Capped metrics: the cap values used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capping: Option<CapValues>,
}

fn first_version() -> u32 {
    1
}

/// CUPED's sums over the identities counted for a metric in a variant.
pub use crate::stats::CovariateSums;

/// A RATIO metric's denominator sums over the identities counted in a variant.
pub use crate::stats::DenominatorSums;

/// One (metric, variant)'s sufficient statistics, and its covariate's sums when CUPED was asked
/// for and applies (not for MEAN, RATIO and QUANTILE metrics); the funnel and capping numbers in
/// `kinds`. For a RATIO metric `stats` holds the numerators' `n, Σm, Σm²` and `denominator` the
/// rest.
#[derive(Debug, Clone, PartialEq)]
pub struct VariantMetricStats {
    pub stats: VariantStats,
    pub covariate: Option<CovariateSums>,
    pub denominator: Option<DenominatorSums>,
    pub kinds: KindNumbers,
    /// QUANTILE metrics: the variant's quantile and what its variance needs.
    pub quantile: Option<QuantileStats>,
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
    /// Version 2: the settings the report was computed with.
    #[serde(default)]
    pub analysis: Option<AnalysisSettings>,
    pub exposures: ExposureSummary,
    pub metrics: Vec<MetricResult>,
    /// Version 2.
    #[serde(default)]
    pub health: Option<Health>,
    #[serde(default)]
    pub recommendations: Vec<Recommendation>,
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
