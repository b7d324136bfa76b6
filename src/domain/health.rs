//! Whether an experiment's results can be trusted: the checks a reviewer would run before reading
//! any lift, each with the value measured, the threshold it is held to and a sentence a person can
//! act on. The overall status is the worst check's. Pure: the numbers come in, the verdicts go out.

use serde::{Deserialize, Serialize};

use super::results::ExposureSummary;
use crate::stats::SRM_THRESHOLD;

/// Ordered: a worse status compares greater.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum HealthStatus {
    Healthy,
    Warning,
    Unhealthy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckKind {
    /// χ² of the assigned identities against the feature's weights.
    SampleRatio,
    /// Share of exposed identities that saw more than one variant.
    MultipleExposures,
    /// Per metric: the pre-exposure covariate's means differ between a variant and the control.
    PreExposureBias,
    /// An arm has fewer identities than the experiment's minimum.
    LowTraffic,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub kind: CheckKind,
    pub status: HealthStatus,
    /// What was measured (a p-value, a share, a count); `None` when it could not be measured.
    pub value: Option<f64>,
    /// The value at which the check stops being healthy.
    pub threshold: f64,
    pub message: String,
    /// The attached metric a PRE_EXPOSURE_BIAS check is about.
    pub experiment_metric_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: HealthStatus,
    pub checks: Vec<HealthCheck>,
}

/// Multiple exposures above this share of exposed identities: WARNING.
pub const MULTIPLE_EXPOSURES_WARNING: f64 = 0.01;
/// Above this share: UNHEALTHY.
pub const MULTIPLE_EXPOSURES_UNHEALTHY: f64 = 0.05;
/// Pre-exposure covariate means differing at p below this: WARNING.
pub const PRE_EXPOSURE_BIAS_THRESHOLD: f64 = 0.001;

/// The smallest pre-exposure p-value of one attached metric over its variants (see
/// `stats::pre_exposure_p_value`); `None` when the metric has no covariate.
#[derive(Debug, Clone, PartialEq)]
pub struct PreExposure {
    pub experiment_metric_id: String,
    pub metric_name: String,
    pub variant: String,
    pub p_value: f64,
}

/// Runs every check. `minimum_identities` is the experiment's setting.
pub fn assess(
    exposures: &ExposureSummary,
    pre_exposure: &[PreExposure],
    minimum_identities: u64,
) -> Health {
    let mut checks = vec![
        sample_ratio(exposures),
        multiple_exposures(exposures),
        low_traffic(exposures, minimum_identities),
    ];
    checks.extend(pre_exposure.iter().map(pre_exposure_bias));
    let status = checks
        .iter()
        .map(|c| c.status)
        .max()
        .unwrap_or(HealthStatus::Healthy);
    Health { status, checks }
}

fn sample_ratio(exposures: &ExposureSummary) -> HealthCheck {
    let (status, value, message) = match &exposures.srm {
        Some(srm) if srm.mismatch => (
            HealthStatus::Unhealthy,
            Some(srm.p_value),
            format!(
                "The split of identities between variants differs from the feature's weights \
                 (χ² p = {:.2e} < {SRM_THRESHOLD}): assignment or logging is broken; do not trust \
                 these results until it is fixed.",
                srm.p_value
            ),
        ),
        Some(srm) => (
            HealthStatus::Healthy,
            Some(srm.p_value),
            format!(
                "The split of identities matches the feature's weights (χ² p = {:.3}).",
                srm.p_value
            ),
        ),
        None => (
            HealthStatus::Healthy,
            None,
            "Not enough variants with weight and identities to test the split.".to_owned(),
        ),
    };
    HealthCheck {
        kind: CheckKind::SampleRatio,
        status,
        value,
        threshold: SRM_THRESHOLD,
        message,
        experiment_metric_id: None,
    }
}

fn multiple_exposures(exposures: &ExposureSummary) -> HealthCheck {
    let assigned: u64 = exposures.variants.iter().map(|v| v.identities).sum();
    // Under EXCLUDE the identities seen in several variants are not among the assigned ones;
    // under FIRST_TOUCH they are. Either way the share is of everyone exposed.
    let exposed = assigned.saturating_add(exposures.excluded_identities);
    let share = if exposed == 0 {
        0.0
    } else {
        exposures.multiple_exposure_identities as f64 / exposed as f64
    };
    let status = if share > MULTIPLE_EXPOSURES_UNHEALTHY {
        HealthStatus::Unhealthy
    } else if share > MULTIPLE_EXPOSURES_WARNING {
        HealthStatus::Warning
    } else {
        HealthStatus::Healthy
    };
    let percent = share * 100.0;
    let message = match status {
        HealthStatus::Healthy => format!(
            "{percent:.2}% of exposed identities saw more than one variant."
        ),
        _ => format!(
            "{percent:.2}% of exposed identities saw more than one variant (over {}%): check that \
             assignment is sticky per identity and that the exposure event names the variant served.",
            if status == HealthStatus::Unhealthy {
                MULTIPLE_EXPOSURES_UNHEALTHY * 100.0
            } else {
                MULTIPLE_EXPOSURES_WARNING * 100.0
            }
        ),
    };
    HealthCheck {
        kind: CheckKind::MultipleExposures,
        status,
        value: Some(share),
        threshold: if status == HealthStatus::Unhealthy {
            MULTIPLE_EXPOSURES_UNHEALTHY
        } else {
            MULTIPLE_EXPOSURES_WARNING
        },
        message,
        experiment_metric_id: None,
    }
}

fn low_traffic(exposures: &ExposureSummary, minimum: u64) -> HealthCheck {
    let smallest = exposures.variants.iter().min_by_key(|v| v.identities);
    let (status, value, message) = match smallest {
        Some(v) if v.identities < minimum => (
            HealthStatus::Warning,
            Some(v.identities as f64),
            format!(
                "Variant {} has {} identities, fewer than the {minimum} the experiment needs \
                 before it judges a metric: keep it running.",
                v.variant, v.identities
            ),
        ),
        Some(v) => (
            HealthStatus::Healthy,
            Some(v.identities as f64),
            format!(
                "Every variant has at least {minimum} identities (smallest: {}).",
                v.identities
            ),
        ),
        None => (
            HealthStatus::Warning,
            None,
            "The feature has no variants.".to_owned(),
        ),
    };
    HealthCheck {
        kind: CheckKind::LowTraffic,
        status,
        value,
        threshold: minimum as f64,
        message,
        experiment_metric_id: None,
    }
}

fn pre_exposure_bias(pre: &PreExposure) -> HealthCheck {
    let biased = pre.p_value < PRE_EXPOSURE_BIAS_THRESHOLD;
    let message = if biased {
        format!(
            "Before exposure, {} already differed between {} and the control (p = {:.2e}): the \
             groups were not comparable; CUPED corrects part of it, but check the assignment.",
            pre.metric_name, pre.variant, pre.p_value
        )
    } else {
        format!(
            "Before exposure, {} was balanced between the variants (smallest p = {:.3}).",
            pre.metric_name, pre.p_value
        )
    };
    HealthCheck {
        kind: CheckKind::PreExposureBias,
        status: if biased {
            HealthStatus::Warning
        } else {
            HealthStatus::Healthy
        },
        value: Some(pre.p_value),
        threshold: PRE_EXPOSURE_BIAS_THRESHOLD,
        message,
        experiment_metric_id: Some(pre.experiment_metric_id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::results::VariantExposure;
    use crate::stats::SampleRatio;

    fn exposures(control: u64, treatment: u64, multiple: u64, srm_p: f64) -> ExposureSummary {
        ExposureSummary {
            variants: vec![
                VariantExposure {
                    variant: "control".into(),
                    identities: control,
                },
                VariantExposure {
                    variant: "treatment".into(),
                    identities: treatment,
                },
            ],
            multiple_exposure_identities: multiple,
            unknown_variant_identities: 0,
            excluded_identities: multiple,
            srm: Some(SampleRatio {
                chi_square: 0.0,
                p_value: srm_p,
                mismatch: srm_p < SRM_THRESHOLD,
            }),
        }
    }

    fn status_of(health: &Health, kind: CheckKind) -> HealthStatus {
        health
            .checks
            .iter()
            .find(|c| c.kind == kind)
            .map(|c| c.status)
            .expect("check present")
    }

    #[test]
    fn a_clean_experiment_is_healthy() {
        let health = assess(&exposures(1000, 1000, 5, 0.5), &[], 100);
        assert_eq!(health.status, HealthStatus::Healthy);
        assert_eq!(health.checks.len(), 3);
    }

    #[test]
    fn a_sample_ratio_mismatch_is_unhealthy() {
        let health = assess(&exposures(1000, 800, 0, 1e-6), &[], 100);
        assert_eq!(
            status_of(&health, CheckKind::SampleRatio),
            HealthStatus::Unhealthy
        );
        assert_eq!(health.status, HealthStatus::Unhealthy);
    }

    #[test]
    fn multiple_exposures_warn_above_one_percent_and_fail_above_five() {
        // 1,980 assigned + 20 excluded: exactly 1 % is still healthy.
        let at_one = assess(&exposures(990, 990, 20, 0.5), &[], 100);
        assert_eq!(
            status_of(&at_one, CheckKind::MultipleExposures),
            HealthStatus::Healthy
        );
        let over_one = assess(&exposures(990, 990, 21, 0.5), &[], 100);
        assert_eq!(
            status_of(&over_one, CheckKind::MultipleExposures),
            HealthStatus::Warning
        );
        let over_five = assess(&exposures(900, 900, 120, 0.5), &[], 100);
        assert_eq!(
            status_of(&over_five, CheckKind::MultipleExposures),
            HealthStatus::Unhealthy
        );
    }

    #[test]
    fn low_traffic_and_pre_exposure_bias_warn() {
        let pre = PreExposure {
            experiment_metric_id: "em".into(),
            metric_name: "Purchases".into(),
            variant: "treatment".into(),
            p_value: 1e-5,
        };
        let health = assess(&exposures(40, 45, 0, 0.5), &[pre], 50);
        assert_eq!(
            status_of(&health, CheckKind::LowTraffic),
            HealthStatus::Warning
        );
        assert_eq!(
            status_of(&health, CheckKind::PreExposureBias),
            HealthStatus::Warning
        );
        assert_eq!(health.status, HealthStatus::Warning);
    }

    #[test]
    fn nobody_exposed_is_not_a_division_by_zero() {
        let health = assess(&exposures(0, 0, 0, 1.0), &[], 50);
        let share = health
            .checks
            .iter()
            .find(|c| c.kind == CheckKind::MultipleExposures)
            .and_then(|c| c.value);
        assert_eq!(share, Some(0.0));
    }
}
