//! RATIO metrics as gbstats 0.8.0 `RatioStatistic`: per identity a numerator `m` and a
//! denominator `d` (only identities with `d > 0` count), and per arm the ratio of the totals
//! `Σm / Σd` with its per-identity variance by the delta method, including the numerator's
//! covariance with the denominator:
//!
//! `var = var(m)/d̄² − 2·cov(m, d)·m̄/d̄³ + m̄²·var(d)/d̄⁴`
//!
//! (`m̄ = Σm/n`, `d̄ = Σd/n`, sample variances and covariance over `n − 1`). The arm then enters
//! every engine (fixed, sequential, Bayesian) exactly as a mean metric's arm does, through its
//! `n`, mean and variance, which is what gbstats does with a `RatioStatistic`.
//!
//! CUPED: gbstats 0.8.0 has no regression-adjusted ratio statistic, so a ratio's comparison is
//! never adjusted; with CUPED on it falls back with [`CupedFallback::RatioMetric`].

use serde::{Deserialize, Serialize};

use super::analysis::{analyze_unadjusted, check_method, Analysis, Spec};
use super::cuped::CupedFallback;
use super::error::StatsError;
use super::moments::Moments;
use super::sufficient::{MetricKind, VariantStats};

/// A ratio's denominator sums for one arm, over the identities whose denominator is > 0.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DenominatorSums {
    /// `Σd`.
    pub sum: f64,
    /// `Σd²`.
    pub sum_sq: f64,
    /// `Σm·d`, `m` the numerator.
    pub sum_product: f64,
}

/// One arm of a ratio comparison: the numerator's `n, Σm, Σm²` and the denominator's sums.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RatioArm {
    pub numerator: VariantStats,
    pub denominator: DenominatorSums,
}

impl RatioArm {
    /// `Σm / Σd`; `None` without identities or when it is not finite.
    pub fn mean(&self) -> Option<f64> {
        let mean = self.numerator.sum / self.denominator.sum;
        (self.numerator.n > 0 && mean.is_finite()).then_some(mean)
    }

    /// The delta-method per-identity variance; `None` when it cannot be computed (fewer than two
    /// identities, sums that are not finite or not consistent).
    pub fn variance(&self) -> Option<f64> {
        self.moments("arm").ok().map(|m| m.variance)
    }

    /// The moments every test reads: `n`, the ratio as the mean, its delta-method variance.
    pub(crate) fn moments(&self, arm: &'static str) -> Result<Moments, StatsError> {
        let n = self.numerator.n;
        let numerator_variance = self.numerator.validate(MetricKind::Numeric, arm)?;
        let d = self.denominator;
        let denominator = VariantStats {
            n,
            sum: d.sum,
            sum_sq: d.sum_sq,
        };
        let denominator_variance = denominator.validate(MetricKind::Numeric, arm)?;
        if !d.sum_product.is_finite() {
            return Err(StatsError::NonFiniteInput {
                arm,
                field: "sum of numerator × denominator",
            });
        }
        if d.sum <= 0.0 {
            return Err(StatsError::InconsistentSums {
                arm,
                reason: "a ratio's denominators must be positive",
            });
        }
        let count = n as f64;
        let (m, dm) = (self.numerator.sum / count, d.sum / count);
        let covariance = (d.sum_product - self.numerator.sum * d.sum / count) / (count - 1.0);
        let variance = numerator_variance / dm.powi(2) - 2.0 * covariance * m / dm.powi(3)
            + m.powi(2) * denominator_variance / dm.powi(4);
        let mean = self.numerator.sum / d.sum;
        if !(variance.is_finite() && mean.is_finite()) {
            return Err(StatsError::NonFiniteResult("ratio variance"));
        }
        // A quadratic form of a covariance matrix: negative only by rounding.
        Ok(Moments {
            n: count,
            mean,
            unadjusted_mean: mean,
            variance: variance.max(0.0),
        })
    }
}

/// [`super::analyze`] for RATIO metrics: compares `treatment` with `control` under `spec`
/// (`spec.kind` is not read: the delta method gives the variance). Errors as `analyze` does; with
/// `spec.cuped` the result says CUPED fell back ([`CupedFallback::RatioMetric`]).
pub fn analyze_ratio(
    control: &RatioArm,
    treatment: &RatioArm,
    spec: &Spec,
) -> Result<Analysis, StatsError> {
    check_method(&spec.method)?;
    let a = control.moments("control")?;
    let b = treatment.moments("treatment")?;
    analyze_unadjusted(&a, &b, spec, CupedFallback::RatioMetric)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Identities' (numerator, denominator) pairs reduced to an arm.
    fn arm(pairs: &[(f64, f64)]) -> RatioArm {
        let sum = |f: &dyn Fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>();
        RatioArm {
            numerator: VariantStats {
                n: pairs.len() as u64,
                sum: sum(&|p| p.0),
                sum_sq: sum(&|p| p.0 * p.0),
            },
            denominator: DenominatorSums {
                sum: sum(&|p| p.1),
                sum_sq: sum(&|p| p.1 * p.1),
                sum_product: sum(&|p| p.0 * p.1),
            },
        }
    }

    #[test]
    fn the_mean_is_the_ratio_of_the_totals_not_the_mean_of_ratios() {
        let a = arm(&[(10.0, 1.0), (30.0, 3.0), (2.0, 2.0)]);
        assert_eq!(a.mean(), Some(42.0 / 6.0));
    }

    #[test]
    fn a_ratio_proportional_to_its_denominator_has_no_variance() {
        // m = 5·d for every identity: the ratio is 5 whatever the sample.
        let a = arm(&[(5.0, 1.0), (10.0, 2.0), (20.0, 4.0)]);
        assert!(a.variance().unwrap().abs() < 1e-12);
    }

    #[test]
    fn the_covariance_lowers_the_variance_of_correlated_parts() {
        let correlated = arm(&[(4.0, 1.0), (11.0, 2.0), (19.0, 4.0), (9.0, 2.0)]);
        let mut independent = correlated;
        // The same marginal sums, Σm·d as if m and d were uncorrelated.
        independent.denominator.sum_product =
            correlated.numerator.sum * correlated.denominator.sum / 4.0;
        assert!(correlated.variance().unwrap() < independent.variance().unwrap());
    }

    #[test]
    fn denominators_must_be_positive_and_sums_consistent() {
        let mut a = arm(&[(1.0, 1.0), (2.0, 1.0)]);
        a.denominator.sum = -2.0;
        assert!(matches!(
            a.moments("control"),
            Err(StatsError::InconsistentSums { arm: "control", .. })
        ));
        let one = arm(&[(1.0, 1.0)]);
        assert!(matches!(
            one.moments("treatment"),
            Err(StatsError::TooFewObservations { n: 1, .. })
        ));
    }
}
