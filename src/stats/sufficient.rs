//! Sufficient statistics of one variant: `n`, `sum` and `sum_sq`, the same names the compiled SQL
//! returns per variant. Everything the t-test needs is a function of these three numbers.

use serde::{Deserialize, Serialize};

use super::error::StatsError;

/// How a metric's per-identity values are distributed, which decides its variance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MetricKind {
    /// Any real value per identity; variance is the sample variance.
    Numeric,
    /// A 0/1 value per identity (converted or not); variance is `p(1 − p)`.
    Conversion,
}

/// One variant's sufficient statistics: identity count, sum and sum of squares of the
/// per-identity values. For a conversion metric `sum` is the number of converted identities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VariantStats {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

/// Relative slack under which a slightly negative `sum_sq − sum²/n` is rounding, not bad data.
const ROUNDING_SLACK: f64 = 1e-9;

impl VariantStats {
    /// The per-identity mean `sum / n`; `None` when `n` is 0 or `sum` is not finite.
    pub fn mean(&self) -> Option<f64> {
        let mean = self.sum / self.n_f64();
        (self.n > 0 && mean.is_finite()).then_some(mean)
    }

    /// The per-identity variance as gbstats computes it: for `Numeric` the sample variance
    /// `(sum_sq − sum²/n) / (n − 1)`, for `Conversion` `p(1 − p)` with `p` the mean.
    /// `None` when `n` is too small (< 2 for numeric, 0 for conversion) or the sums are not
    /// finite or inconsistent (see [`VariantStats::validate`]).
    pub fn variance(&self, kind: MetricKind) -> Option<f64> {
        self.checked_variance(kind, "variant").ok()
    }

    /// Checks that these sums can come from real data for `kind` and returns the variance, naming
    /// `arm` in the error. Needs `n ≥ 2` for both kinds, which the t-test requires.
    pub(crate) fn validate(&self, kind: MetricKind, arm: &'static str) -> Result<f64, StatsError> {
        if self.n < 2 {
            return Err(StatsError::TooFewObservations {
                arm,
                n: self.n,
                required: 2,
            });
        }
        self.checked_variance(kind, arm)
    }

    fn checked_variance(&self, kind: MetricKind, arm: &'static str) -> Result<f64, StatsError> {
        let required = match kind {
            MetricKind::Numeric => 2,
            MetricKind::Conversion => 1,
        };
        if self.n < required {
            return Err(StatsError::TooFewObservations {
                arm,
                n: self.n,
                required,
            });
        }
        if !self.sum.is_finite() {
            return Err(StatsError::NonFiniteInput { arm, field: "sum" });
        }
        let n = self.n_f64();
        let variance = match kind {
            MetricKind::Numeric => {
                if !self.sum_sq.is_finite() {
                    return Err(StatsError::NonFiniteInput {
                        arm,
                        field: "sum_sq",
                    });
                }
                let centred = self.sum_sq - self.sum * self.sum / n;
                if centred < -ROUNDING_SLACK * self.sum_sq.abs().max(1.0) {
                    return Err(StatsError::InconsistentSums {
                        arm,
                        reason: "sum_sq is smaller than sum²/n",
                    });
                }
                centred.max(0.0) / (n - 1.0)
            }
            MetricKind::Conversion => {
                if self.sum < 0.0 || self.sum > n {
                    return Err(StatsError::InconsistentSums {
                        arm,
                        reason: "conversions must be between 0 and n",
                    });
                }
                let p = self.sum / n;
                p * (1.0 - p)
            }
        };
        if variance.is_finite() {
            Ok(variance)
        } else {
            Err(StatsError::NonFiniteResult("variance"))
        }
    }

    fn n_f64(&self) -> f64 {
        // u64 → f64 is exact up to 2^53 identities, far beyond any experiment.
        self.n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n: u64, sum: f64, sum_sq: f64) -> VariantStats {
        VariantStats { n, sum, sum_sq }
    }

    #[test]
    fn mean_is_sum_over_n() {
        assert_eq!(stats(4, 10.0, 30.0).mean(), Some(2.5));
    }

    #[test]
    fn mean_of_an_empty_variant_is_none() {
        assert_eq!(stats(0, 0.0, 0.0).mean(), None);
    }

    #[test]
    fn numeric_variance_is_the_sample_variance_with_n_minus_one() {
        // values 1, 2, 3, 4: mean 2.5, squared deviations sum to 5, over n − 1 = 3
        let variance = stats(4, 10.0, 30.0).variance(MetricKind::Numeric).unwrap();
        assert!((variance - 5.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn conversion_variance_is_p_times_one_minus_p() {
        let variance = stats(28, 14.0, 14.0)
            .variance(MetricKind::Conversion)
            .unwrap();
        assert_eq!(variance, 0.25);
    }

    #[test]
    fn numeric_variance_needs_two_identities() {
        assert_eq!(stats(1, 3.0, 9.0).variance(MetricKind::Numeric), None);
    }

    #[test]
    fn conversion_variance_of_one_identity_is_defined() {
        assert_eq!(
            stats(1, 1.0, 1.0).variance(MetricKind::Conversion),
            Some(0.0)
        );
    }

    #[test]
    fn variance_of_non_finite_sums_is_none() {
        assert_eq!(stats(5, f64::NAN, 1.0).variance(MetricKind::Numeric), None);
        assert_eq!(
            stats(5, 1.0, f64::INFINITY).variance(MetricKind::Numeric),
            None
        );
    }

    #[test]
    fn constant_values_have_zero_variance_despite_rounding() {
        // 3 × 0.1: sum_sq − sum²/n is a tiny negative number in floating point
        let variance = stats(3, 0.3, 0.03).variance(MetricKind::Numeric).unwrap();
        assert_eq!(variance, 0.0);
    }

    #[test]
    fn sum_sq_below_sum_squared_over_n_is_inconsistent() {
        let error = stats(10, 10.0, 5.0).validate(MetricKind::Numeric, "control");
        assert!(matches!(
            error,
            Err(StatsError::InconsistentSums { arm: "control", .. })
        ));
    }

    #[test]
    fn more_conversions_than_identities_is_inconsistent() {
        let error = stats(10, 11.0, 11.0).validate(MetricKind::Conversion, "treatment");
        assert!(matches!(
            error,
            Err(StatsError::InconsistentSums {
                arm: "treatment",
                ..
            })
        ));
    }

    #[test]
    fn validation_requires_two_identities_for_both_kinds() {
        let error = stats(1, 1.0, 1.0).validate(MetricKind::Conversion, "control");
        assert_eq!(
            error,
            Err(StatsError::TooFewObservations {
                arm: "control",
                n: 1,
                required: 2
            })
        );
    }
}
