//! Welch's two-sided t-test of treatment against control, absolute and relative, reproducing
//! GrowthBook gbstats 0.8.0 `TwoSidedTTest` (frequentist engine, no CUPED, no sequential).
//!
//! With `mᵢ`, `vᵢ`, `nᵢ` the mean, variance and size of control `a` and treatment `b`:
//! - absolute: estimate `m_b − m_a`, variance `v_b/n_b + v_a/n_a`;
//! - relative (delta method): estimate `(m_b − m_a)/m_a`,
//!   variance `v_b/(n_b·m_a²) + v_a·m_b²/(n_a·m_a⁴)`;
//! - both use the Welch–Satterthwaite degrees of freedom
//!   `(v_a/n_a + v_b/n_b)² / ((v_a/n_a)²/(n_a−1) + (v_b/n_b)²/(n_b−1))`;
//! - interval `estimate ± t_{1−α/2, df}·√variance`, p-value `2·P(T_df > |estimate|/√variance)`.
//!
//! Each scale has its own t-statistic and so its own p-value. The p-value is computed from the
//! survival function, which equals gbstats' `2·(1 − cdf)` but keeps its precision when tiny. The
//! t distribution is [`super::student`], not statrs' own quantile (imprecise for large `df`).

use serde::{Deserialize, Serialize};

use super::error::StatsError;
use super::fixed::{check_alpha, welch};
use super::moments::Moments;
use super::sufficient::{MetricKind, VariantStats};

/// A point estimate with its two-sided `1 − α` confidence interval and p-value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub estimate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    pub p_value: f64,
}

/// Treatment against control on both scales.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// `mean_b − mean_a`.
    pub absolute: Estimate,
    /// `mean_b / mean_a − 1`; `None` when the control mean is 0 (no lift is defined), or when the
    /// delta-method variance is 0 (treatment constant at 0), so no t-statistic exists.
    pub relative: Option<Estimate>,
}

/// Compares `treatment` with `control` at significance level `alpha`, without CUPED.
///
/// Errors when either arm has fewer than 2 identities, non-finite or inconsistent sums, when both
/// arms have zero variance, when `alpha` is not in (0, 1), or when a result would not be finite.
/// One arm with zero variance is allowed: Welch's test then rests on the other arm's variance
/// (gbstats instead returns an uninformative default in that case). The same test with CUPED,
/// sequential intervals or the Bayesian engine is [`super::analysis::analyze`].
pub fn compare(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    alpha: f64,
) -> Result<Comparison, StatsError> {
    check_alpha(alpha)?;
    let a = Moments::of(control, kind, "control")?;
    let b = Moments::of(treatment, kind, "treatment")?;
    welch(&a, &b, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(n: u64, sum: f64, sum_sq: f64) -> VariantStats {
        VariantStats { n, sum, sum_sq }
    }

    /// Asserts `actual` equals `expected` to the number of decimals `expected` was printed with.
    fn assert_close(actual: f64, expected: f64, decimals: i32) {
        let tolerance = 0.5 * 10f64.powi(-decimals);
        assert!(
            (actual - expected).abs() <= tolerance,
            "{actual} differs from {expected} by more than {tolerance}"
        );
    }

    fn assert_estimate(actual: &Estimate, expected: [f64; 4], decimals: i32) {
        assert_close(actual.estimate, expected[0], decimals);
        assert_close(actual.ci_lower, expected[1], decimals);
        assert_close(actual.ci_upper, expected[2], decimals);
        assert_close(actual.p_value, expected[3], decimals);
    }

    #[test]
    fn numeric_golden_vector_matches_gbstats_relative_and_absolute() {
        let a = stats(1000, 5000.0, 30000.0);
        let b = stats(1100, 5720.0, 35000.0);

        let comparison = compare(&a, &b, MetricKind::Numeric, 0.05).unwrap();

        let relative = comparison.relative.unwrap();
        assert_estimate(&relative, [0.04, 0.00124898, 0.07875102, 0.043065504], 8);
        assert_estimate(
            &comparison.absolute,
            [0.2, 0.0103416, 0.3896584, 0.038759741],
            7,
        );
        assert_close(comparison.absolute.p_value, 0.038759741, 9);
        assert_close(relative.p_value, 0.043065504, 9);
    }

    #[test]
    fn skewed_numeric_golden_vector_matches_gbstats() {
        let a = stats(3407, 1396.87, 52377.9767);
        let b = stats(3461, 2422.7, 134698.29);

        let comparison = compare(&a, &b, MetricKind::Numeric, 0.05).unwrap();

        let relative = comparison.relative.unwrap();
        assert_estimate(&relative, [0.70732, -0.03526, 1.44989, 0.06191], 5);
        assert_estimate(&comparison.absolute, [0.29, 0.04538, 0.53462, 0.02016], 5);
    }

    #[test]
    fn conversion_golden_vector_matches_gbstats() {
        let a = stats(28, 14.0, 14.0);
        let b = stats(30, 16.0, 16.0);

        let comparison = compare(&a, &b, MetricKind::Conversion, 0.05).unwrap();

        assert_estimate(
            &comparison.relative.unwrap(),
            [0.06667, -0.47767, 0.61101, 0.80707],
            5,
        );
    }

    #[test]
    fn relative_and_absolute_p_values_differ() {
        let a = stats(1000, 5000.0, 30000.0);
        let b = stats(1100, 5720.0, 35000.0);

        let comparison = compare(&a, &b, MetricKind::Numeric, 0.05).unwrap();

        assert_ne!(
            comparison.absolute.p_value,
            comparison.relative.unwrap().p_value
        );
    }

    #[test]
    fn relative_lift_is_none_when_the_control_mean_is_zero() {
        let a = stats(100, 0.0, 0.0);
        let b = stats(100, 10.0, 30.0);

        let comparison = compare(&a, &b, MetricKind::Numeric, 0.05).unwrap();

        assert_eq!(comparison.relative, None);
        assert_close(comparison.absolute.estimate, 0.1, 12);
    }

    #[test]
    fn relative_lift_is_none_when_the_treatment_is_constant_zero() {
        let a = stats(100, 20.0, 20.0);
        let b = stats(100, 0.0, 0.0);

        let comparison = compare(&a, &b, MetricKind::Conversion, 0.05).unwrap();

        assert_eq!(comparison.relative, None);
        assert!(comparison.absolute.p_value < 1e-3);
    }

    #[test]
    fn a_wider_alpha_gives_a_narrower_interval_with_the_same_p_value() {
        let a = stats(1000, 5000.0, 30000.0);
        let b = stats(1100, 5720.0, 35000.0);

        let strict = compare(&a, &b, MetricKind::Numeric, 0.01).unwrap().absolute;
        let loose = compare(&a, &b, MetricKind::Numeric, 0.10).unwrap().absolute;

        assert!(loose.ci_upper - loose.ci_lower < strict.ci_upper - strict.ci_lower);
        assert_eq!(loose.p_value, strict.p_value);
    }

    #[test]
    fn fewer_than_two_identities_is_an_error() {
        let result = compare(
            &stats(1, 1.0, 1.0),
            &stats(10, 5.0, 5.0),
            MetricKind::Conversion,
            0.05,
        );

        assert_eq!(
            result,
            Err(StatsError::TooFewObservations {
                arm: "control",
                n: 1,
                required: 2
            })
        );
    }

    #[test]
    fn zero_variance_in_both_arms_is_an_error() {
        let result = compare(
            &stats(10, 10.0, 10.0),
            &stats(10, 20.0, 40.0),
            MetricKind::Numeric,
            0.05,
        );

        assert_eq!(result, Err(StatsError::ZeroVariance));
    }

    #[test]
    fn zero_variance_in_one_arm_is_tested_against_the_other() {
        let result = compare(
            &stats(10, 10.0, 10.0),
            &stats(10, 20.0, 50.0),
            MetricKind::Numeric,
            0.05,
        );

        assert!(result.is_ok());
    }

    #[test]
    fn non_finite_sums_are_an_error() {
        let good = stats(10, 5.0, 5.0);
        for bad in [
            stats(10, f64::NAN, 5.0),
            stats(10, f64::INFINITY, 5.0),
            stats(10, 5.0, f64::NEG_INFINITY),
        ] {
            let as_treatment = compare(&good, &bad, MetricKind::Numeric, 0.05);
            let as_control = compare(&bad, &good, MetricKind::Numeric, 0.05);

            assert!(matches!(
                as_treatment,
                Err(StatsError::NonFiniteInput {
                    arm: "treatment",
                    ..
                })
            ));
            assert!(matches!(
                as_control,
                Err(StatsError::NonFiniteInput { arm: "control", .. })
            ));
        }
    }

    #[test]
    fn alpha_outside_the_open_unit_interval_is_an_error() {
        let (a, b) = (stats(10, 5.0, 5.0), stats(10, 6.0, 6.0));
        for alpha in [0.0, 1.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
            let result = compare(&a, &b, MetricKind::Conversion, alpha);

            assert!(
                matches!(result, Err(StatsError::InvalidAlpha(_))),
                "alpha {alpha}"
            );
        }
    }

    #[test]
    fn overflowing_sums_are_an_error_not_nan() {
        let a = stats(10, 1e300, 1e300);
        let b = stats(10, 1e200, 1e301);

        let result = compare(&a, &b, MetricKind::Numeric, 0.05);

        assert!(result.is_err(), "{result:?}");
    }

    #[test]
    fn warehouse_sized_arms_use_the_normal_limit_of_the_t_quantile() {
        // 10⁹ identities per arm, variance 4 in both: df ≈ 2·10⁹, so the 97.5% quantile is the
        // normal one, 1.959963984540054 (statrs' own t quantile never returns here).
        let arm = |mean: f64| {
            let n = 1_000_000_000_u64;
            stats(n, mean * n as f64, (4.0 + mean * mean) * n as f64)
        };

        let absolute = compare(&arm(3.0), &arm(3.001), MetricKind::Numeric, 0.05)
            .unwrap()
            .absolute;

        let half_width = 0.5 * (absolute.ci_upper - absolute.ci_lower);
        assert!((half_width / (1.959_963_984_540_054 * 8e-9_f64.sqrt()) - 1.0).abs() < 1e-6);
        assert!(absolute.p_value < 1e-20);
    }

    #[test]
    fn extreme_but_valid_alphas_give_finite_intervals() {
        let (a, b) = (stats(30, 12.0, 12.0), stats(30, 15.0, 15.0));
        for alpha in [1e-12, 0.999_999] {
            let absolute = compare(&a, &b, MetricKind::Conversion, alpha)
                .unwrap()
                .absolute;

            assert!(absolute.ci_lower.is_finite() && absolute.ci_upper.is_finite());
            assert!(
                absolute.ci_lower <= absolute.estimate && absolute.estimate <= absolute.ci_upper
            );
        }
    }

    #[test]
    fn vanishingly_small_variances_are_an_error_not_a_panic() {
        // values 0 and 1e-160 in each arm: the variances are subnormal and the df is 0/0
        let tiny = stats(2, 1e-160, 1e-320);

        let result = compare(&tiny, &tiny, MetricKind::Numeric, 0.05);

        assert!(
            matches!(result, Err(StatsError::NonFiniteResult(_))),
            "{result:?}"
        );
    }
}
