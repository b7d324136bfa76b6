//! Property-style invariants of [`compare`](super::ttest::compare), checked over inputs from a
//! deterministic generator (no proptest dependency; failures reproduce): p-values lie in [0, 1],
//! intervals contain their estimate, intervals shrink as samples grow, and arbitrary sums never
//! panic or produce NaN.

use super::error::StatsError;
use super::sufficient::{MetricKind, VariantStats};
use super::test_rng::Rng;
use super::ttest::{compare, Estimate};

fn stats(n: u64, sum: f64, sum_sq: f64) -> VariantStats {
    VariantStats { n, sum, sum_sq }
}

/// Random but valid sufficient statistics: `n` in 2..=5000, numeric from a skewed
/// distribution of values, conversion from a random rate.
fn random_stats(rng: &mut Rng, kind: MetricKind) -> VariantStats {
    let n = 2 + rng.below(4999);
    match kind {
        MetricKind::Conversion => {
            let rate = rng.unit();
            let conversions = ((n as f64) * rate).round();
            stats(n, conversions, conversions)
        }
        MetricKind::Numeric => {
            let (scale, shift) = (rng.unit() * 100.0, rng.unit() * 20.0 - 10.0);
            let (mut sum, mut sum_sq) = (0.0, 0.0);
            for _ in 0..n {
                let value = shift + scale * rng.unit().powi(3);
                sum += value;
                sum_sq += value * value;
            }
            stats(n, sum, sum_sq)
        }
    }
}

fn check_estimate(estimate: &Estimate) {
    assert!((0.0..=1.0).contains(&estimate.p_value), "{estimate:?}");
    assert!(estimate.ci_lower <= estimate.estimate, "{estimate:?}");
    assert!(estimate.estimate <= estimate.ci_upper, "{estimate:?}");
}

#[test]
fn p_values_lie_in_the_unit_interval_and_intervals_contain_the_estimate() {
    let mut rng = Rng::new(0x5eed);
    for case in 0..500 {
        let kind = if case % 2 == 0 {
            MetricKind::Numeric
        } else {
            MetricKind::Conversion
        };
        let alpha = 0.001 + rng.unit() * 0.3;
        let (a, b) = (random_stats(&mut rng, kind), random_stats(&mut rng, kind));

        match compare(&a, &b, kind, alpha) {
            Ok(comparison) => {
                check_estimate(&comparison.absolute);
                comparison.relative.iter().for_each(check_estimate);
            }
            Err(error) => assert_eq!(error, StatsError::ZeroVariance, "{a:?} {b:?}"),
        }
    }
}

#[test]
fn arbitrary_sums_never_panic_and_never_give_nan() {
    const VALUES: [f64; 11] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-300,
        1e300,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        12.5,
        3e7,
    ];
    const SIZES: [u64; 7] = [0, 1, 2, 3, 10, 1_000_000, u64::MAX];
    let mut rng = Rng::new(7);
    let pick = |rng: &mut Rng| VariantStats {
        n: SIZES[rng.below(SIZES.len() as u64) as usize],
        sum: VALUES[rng.below(VALUES.len() as u64) as usize],
        sum_sq: VALUES[rng.below(VALUES.len() as u64) as usize],
    };
    for case in 0..5000 {
        let kind = if case % 2 == 0 {
            MetricKind::Numeric
        } else {
            MetricKind::Conversion
        };
        let (a, b) = (pick(&mut rng), pick(&mut rng));

        if let Ok(comparison) = compare(&a, &b, kind, 0.05) {
            check_estimate(&comparison.absolute);
            comparison.relative.iter().for_each(check_estimate);
            let all = [comparison.absolute].into_iter().chain(comparison.relative);
            for e in all {
                let values = [e.estimate, e.ci_lower, e.ci_upper, e.p_value];
                assert!(values.iter().all(|v| v.is_finite()), "{a:?} {b:?} {e:?}");
            }
        }
    }
}

#[test]
fn intervals_shrink_as_both_arms_grow_with_the_same_moments() {
    let mut rng = Rng::new(42);
    for _ in 0..200 {
        let (mean_a, mean_b) = (1.0 + rng.unit() * 10.0, 1.0 + rng.unit() * 10.0);
        let (sd_a, sd_b) = (0.1 + rng.unit() * 5.0, 0.1 + rng.unit() * 5.0);
        let arm = |n: u64, mean: f64, sd: f64| {
            let n_f = n as f64;
            stats(n, mean * n_f, (sd * sd * (n_f - 1.0)) + mean * mean * n_f)
        };
        let widths = [10, 100, 1_000, 10_000, 100_000].map(|n| {
            let c = compare(
                &arm(n, mean_a, sd_a),
                &arm(n, mean_b, sd_b),
                MetricKind::Numeric,
                0.05,
            )
            .unwrap();
            let relative = c.relative.unwrap();
            (
                c.absolute.ci_upper - c.absolute.ci_lower,
                relative.ci_upper - relative.ci_lower,
            )
        });

        for pair in widths.windows(2) {
            assert!(pair[1].0 < pair[0].0, "{widths:?}");
            assert!(pair[1].1 < pair[0].1, "{widths:?}");
        }
    }
}
