//! Sample ratio mismatch: did the identities split across variants the way the traffic weights
//! say they should? A χ² goodness-of-fit test of the observed counts against the expected
//! counts `total · wᵢ / Σw`, with `k − 1` degrees of freedom. A p-value below
//! [`SRM_THRESHOLD`] means assignment or logging is broken, and the experiment's results should
//! not be trusted.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::error::StatsError;

/// The p-value under which a sample ratio is reported as a mismatch (GrowthBook's default).
pub const SRM_THRESHOLD: f64 = 0.001;

/// The χ² statistic, its p-value, and whether it signals a mismatch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SampleRatio {
    pub chi_square: f64,
    pub p_value: f64,
    pub mismatch: bool,
}

/// Tests `observed` identity counts against traffic `weights` (any positive scale; they are
/// normalised). Errors for fewer than 2 variants, different lengths, or a weight that is not
/// positive and finite. No identities at all is no evidence of a mismatch: χ² 0, p 1.
pub fn sample_ratio_mismatch(observed: &[u64], weights: &[f64]) -> Result<SampleRatio, StatsError> {
    if observed.len() != weights.len() {
        return Err(StatsError::LengthMismatch {
            observed: observed.len(),
            weights: weights.len(),
        });
    }
    if observed.len() < 2 {
        return Err(StatsError::TooFewVariants(observed.len()));
    }
    if let Some((index, &weight)) = weights
        .iter()
        .enumerate()
        .find(|(_, w)| !(w.is_finite() && **w > 0.0))
    {
        return Err(StatsError::InvalidWeight { index, weight });
    }
    let total: f64 = observed.iter().map(|&o| o as f64).sum();
    if total == 0.0 {
        return Ok(SampleRatio {
            chi_square: 0.0,
            p_value: 1.0,
            mismatch: false,
        });
    }
    let weight_sum: f64 = weights.iter().sum();
    if !weight_sum.is_finite() {
        return Err(StatsError::NonFiniteResult("sum of weights"));
    }
    let chi_square: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = total * (w / weight_sum);
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    if !chi_square.is_finite() {
        return Err(StatsError::NonFiniteResult("chi-square statistic"));
    }
    let distribution = ChiSquared::new((observed.len() - 1) as f64)?;
    let p_value = distribution.sf(chi_square).clamp(0.0, 1.0);
    Ok(SampleRatio {
        chi_square,
        p_value,
        mismatch: p_value < SRM_THRESHOLD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_perfect_split_has_no_mismatch() {
        let result = sample_ratio_mismatch(&[500, 500], &[0.5, 0.5]).unwrap();

        assert_eq!(result.chi_square, 0.0);
        assert_eq!(result.p_value, 1.0);
        assert!(!result.mismatch);
    }

    #[test]
    fn a_small_imbalance_matches_scipy_chisquare() {
        // scipy.stats.chisquare([5080, 4920]) → statistic 2.56, p 0.10959858339911568
        let result = sample_ratio_mismatch(&[5080, 4920], &[1.0, 1.0]).unwrap();

        assert!((result.chi_square - 2.56).abs() < 1e-12);
        assert!((result.p_value - 0.109_598_583_399_115_7).abs() < 1e-10);
        assert!(!result.mismatch);
    }

    #[test]
    fn a_large_imbalance_is_a_mismatch() {
        // scipy.stats.chisquare([5300, 4700]) → statistic 36.0, p 1.9731752900753933e-09
        let result = sample_ratio_mismatch(&[5300, 4700], &[50.0, 50.0]).unwrap();

        assert!((result.chi_square - 36.0).abs() < 1e-12);
        assert!((result.p_value / 1.973_175_290_075_393_3e-9 - 1.0).abs() < 1e-6);
        assert!(result.mismatch);
    }

    #[test]
    fn weights_are_normalised_and_unequal_splits_are_respected() {
        // expected 2000 / 6000 / 2000 for weights 1:3:1
        let scaled = sample_ratio_mismatch(&[2000, 6000, 2000], &[1.0, 3.0, 1.0]).unwrap();
        let fractions = sample_ratio_mismatch(&[2000, 6000, 2000], &[0.2, 0.6, 0.2]).unwrap();

        assert!(scaled.chi_square.abs() < 1e-9);
        assert!((scaled.chi_square - fractions.chi_square).abs() < 1e-9);
        assert!(!scaled.mismatch);
    }

    #[test]
    fn five_variants_use_four_degrees_of_freedom() {
        // scipy.stats.chisquare([1000, 1010, 990, 1020, 980]) → statistic 1.0, p 0.9097959895689501
        let result = sample_ratio_mismatch(&[1000, 1010, 990, 1020, 980], &[1.0; 5]).unwrap();

        assert!((result.chi_square - 1.0).abs() < 1e-12);
        assert!((result.p_value - 0.909_795_989_568_950_1).abs() < 1e-10);
    }

    #[test]
    fn no_identities_at_all_is_no_mismatch() {
        let result = sample_ratio_mismatch(&[0, 0, 0], &[1.0, 1.0, 1.0]).unwrap();

        assert_eq!(
            result,
            SampleRatio {
                chi_square: 0.0,
                p_value: 1.0,
                mismatch: false
            }
        );
    }

    #[test]
    fn fewer_than_two_variants_is_an_error() {
        assert_eq!(
            sample_ratio_mismatch(&[10], &[1.0]),
            Err(StatsError::TooFewVariants(1))
        );
        assert_eq!(
            sample_ratio_mismatch(&[], &[]),
            Err(StatsError::TooFewVariants(0))
        );
    }

    #[test]
    fn mismatched_lengths_are_an_error() {
        let result = sample_ratio_mismatch(&[10, 20], &[1.0, 1.0, 1.0]);

        assert_eq!(
            result,
            Err(StatsError::LengthMismatch {
                observed: 2,
                weights: 3
            })
        );
    }

    #[test]
    fn zero_negative_or_non_finite_weights_are_an_error() {
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let result = sample_ratio_mismatch(&[10, 20], &[1.0, bad]);

            assert!(
                matches!(result, Err(StatsError::InvalidWeight { index: 1, .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn traffic_in_a_variant_with_a_tiny_weight_is_a_mismatch_not_a_panic() {
        let result = sample_ratio_mismatch(&[1000, 1000], &[1.0, 1e-300]).unwrap();

        assert!(result.mismatch);
        assert!(result.p_value.is_finite());
    }
}
