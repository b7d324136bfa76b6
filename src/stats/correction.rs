//! Multiple-testing correction over one experiment's family of comparisons, reproducing GrowthBook
//! (`packages/shared/src/experiments/experiments.ts`: `adjustPValuesHolmBonferroni`,
//! `adjustPValuesBenjaminiHochberg`, `adjustedCI` and `getAdjustedCI`).
//!
//! The caller chooses the family and passes its p-values flat, in any order; the adjusted values
//! come back in the same order. In lift the family is (PRIMARY + SECONDARY metrics) × non-control
//! variants of one experiment; guardrails stay out so they keep their full sensitivity. A
//! comparison without a p-value (not enough data yet) is left out of the family, and so out of
//! `m`, as GrowthBook leaves out metrics whose p-value is undefined.
//!
//! With `m` p-values:
//! - Holm–Bonferroni (family-wise error rate): sorted ascending, the `i`-th (from 0) becomes
//!   `min(p·(m − i), 1)`, then a running maximum keeps the adjusted values in the order of the raw.
//! - Benjamini–Hochberg (false discovery rate): sorted descending, the `i`-th (from 0) becomes
//!   `min(p·m/(m − i), 1)`, then a running minimum (the product is formed so that rounding never
//!   takes an adjusted value below its raw one; GrowthBook's order can, by an ulp).
//!
//! Ties sort stably (as JavaScript's `sort` does), and both methods give tied p-values the same
//! adjusted value whatever their order, so the result does not depend on the family's order.
//!
//! An adjusted interval is backed out of the adjusted p-value as GrowthBook does: the standard
//! error that would give the estimate this p-value under a normal test is `|estimate| / z(p_adj)`
//! with `z(x) = Φ⁻¹(1 − x/2)`, and the interval is `estimate ± z(α)·|estimate|/z(p_adj)`. It only
//! ever widens the raw interval: when the backed-out one is not wider on both sides, the raw
//! interval stands; an adjusted p-value above 0.999999 has no finite interval.
//!
//! So an adjusted verdict never contradicts the adjusted interval: when the raw interval is
//! symmetric and excludes zero exactly when the raw p < α (as a test's own interval does), the
//! result excludes zero exactly when `p_adj < α`. For `p_adj ≥ α` the backed-out half-width is at
//! least `|estimate|`, wider than any raw interval that excludes zero; for `p_adj < α` the
//! backed-out interval excludes zero, and a raw one that stands does too, as `p ≤ p_adj < α`.

use serde::{Deserialize, Serialize};

use super::error::StatsError;
use super::std_normal::quantile;

/// GrowthBook's cut-off (`getAdjustedCI`): an adjusted p-value above it is treated as 1, whose
/// interval is the whole line.
pub const UNBOUNDED_ABOVE: f64 = 0.999_999;

/// How a family's p-values are adjusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Correction {
    /// No adjustment: each comparison stands alone.
    None,
    /// Holm's step-down Bonferroni: controls the family-wise error rate.
    HolmBonferroni,
    /// Benjamini–Hochberg step-up: controls the false discovery rate.
    BenjaminiHochberg,
}

/// A confidence interval after correction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AdjustedInterval {
    /// Finite bounds, `lower ≤ estimate ≤ upper` whenever the raw interval contained the estimate.
    Bounded { lower: f64, upper: f64 },
    /// The adjusted p-value is (within 10⁻⁶ of) 1, or the backed-out bounds overflowed: no finite
    /// interval at this level (GrowthBook shows `[−∞, ∞]`).
    Unbounded,
}

/// The family's p-values adjusted by `correction`, in the order they were given.
///
/// An empty family gives an empty result. Errors with [`StatsError::InvalidPValue`] when a value
/// is NaN or outside `[0, 1]`.
pub fn adjust(p_values: &[f64], correction: Correction) -> Result<Vec<f64>, StatsError> {
    for (index, &value) in p_values.iter().enumerate() {
        if !(0.0..=1.0).contains(&value) {
            return Err(StatsError::InvalidPValue { index, value });
        }
    }
    // `+ 0.0` turns −0 into +0, so no adjusted value prints as "-0".
    let p: Vec<f64> = p_values.iter().map(|v| v + 0.0).collect();
    Ok(match correction {
        Correction::None => p,
        Correction::HolmBonferroni => holm_bonferroni(&p),
        Correction::BenjaminiHochberg => benjamini_hochberg(&p),
    })
}

/// Indices of `p` by ascending (or descending) value, ties in input order (stable, like JS).
fn sorted_indices(p: &[f64], descending: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = if descending {
            (p[b], p[a])
        } else {
            (p[a], p[b])
        };
        // Validated: no NaN, so `partial_cmp` always answers.
        x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal)
    });
    order
}

fn holm_bonferroni(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0;
    for (rank, &index) in sorted_indices(p, false).iter().enumerate() {
        let scaled = (p[index] * (m - rank) as f64).min(1.0);
        // Running maximum: a larger raw p-value never gets a smaller adjusted one.
        if rank == 0 || scaled > running {
            running = scaled;
        }
        adjusted[index] = running;
    }
    adjusted
}

fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0;
    for (rank, &index) in sorted_indices(p, true).iter().enumerate() {
        // GrowthBook computes `(p·m)/(m − i)`, which can round one ulp below `p` (at `i = 0`);
        // `p·(m/(m − i))` multiplies `p` by a factor that rounds to at least 1, so the adjusted
        // value is never below the raw one. The two differ by at most a couple of ulps.
        let scaled = (p[index] * (m as f64 / (m - rank) as f64)).min(1.0);
        // Running minimum from the largest p down: a smaller raw p-value never gets a larger one.
        if rank == 0 || scaled < running {
            running = scaled;
        }
        adjusted[index] = running;
    }
    adjusted
}

/// The confidence interval of `estimate` at level `1 − alpha` after correction, backed out of its
/// `adjusted_p` (see the module documentation); `interval` is the raw `(lower, upper)`.
///
/// The raw interval should be the symmetric normal-approximation interval the p-value came from
/// (GrowthBook applies this to the relative lift). A zero estimate keeps the raw interval, as in
/// GrowthBook (nothing can be backed out of it).
///
/// Errors when `alpha` is not in (0, 1), `adjusted_p` is not in `[0, 1]`, or the estimate or the
/// raw bounds are not finite or not ordered.
pub fn adjusted_interval(
    estimate: f64,
    interval: (f64, f64),
    adjusted_p: f64,
    alpha: f64,
) -> Result<AdjustedInterval, StatsError> {
    if !(alpha > 0.0 && alpha < 1.0) {
        return Err(StatsError::InvalidAlpha(alpha));
    }
    if !(0.0..=1.0).contains(&adjusted_p) {
        return Err(StatsError::InvalidArgument {
            name: "adjusted p-value",
            reason: "must be in [0, 1]",
        });
    }
    let (lower, upper) = interval;
    if !(estimate.is_finite() && lower.is_finite() && upper.is_finite()) {
        return Err(StatsError::InvalidArgument {
            name: "interval",
            reason: "needs a finite estimate and finite bounds",
        });
    }
    if lower > upper {
        return Err(StatsError::InvalidArgument {
            name: "interval",
            reason: "lower bound is above the upper bound",
        });
    }
    if adjusted_p > UNBOUNDED_ABOVE {
        return Ok(AdjustedInterval::Unbounded);
    }
    let raw = AdjustedInterval::Bounded { lower, upper };
    if estimate == 0.0 {
        return Ok(raw);
    }
    let z = quantile(1.0 - alpha / 2.0);
    // Infinite for a tiny adjusted p-value: the backed-out error is then 0 and the raw stands.
    let z_adjusted = quantile(1.0 - adjusted_p / 2.0);
    let width = z * (estimate / z_adjusted).abs();
    let (wide_lower, wide_upper) = (estimate - width, estimate + width);
    if !(wide_lower.is_finite() && wide_upper.is_finite()) {
        // Only when 1 − α/2 rounds to 1 (α below 1.2e-16) is `z` infinite: no finite interval.
        return Ok(if width.is_nan() {
            raw
        } else {
            AdjustedInterval::Unbounded
        });
    }
    // Only widen, as GrowthBook: the correction never makes an interval narrower.
    Ok(if wide_lower < lower && wide_upper > upper {
        AdjustedInterval::Bounded {
            lower: wide_lower,
            upper: wide_upper,
        }
    } else {
        raw
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::student::StudentT;
    use crate::stats::test_rng::Rng;

    const METHODS: [Correction; 2] = [Correction::HolmBonferroni, Correction::BenjaminiHochberg];

    /// A random family: 0 to 40 p-values, a third of them repeated to make ties, some at 0 and 1.
    fn random_family(rng: &mut Rng) -> Vec<f64> {
        let m = rng.below(41) as usize;
        let mut family: Vec<f64> = Vec::with_capacity(m);
        for _ in 0..m {
            let p = match rng.below(12) {
                0 => 0.0,
                1 => 1.0,
                2..=5 if !family.is_empty() => family[rng.below(family.len() as u64) as usize],
                _ => rng.unit().powi(3),
            };
            family.push(p);
        }
        family
    }

    #[test]
    fn holm_scales_the_smallest_p_by_the_family_size_and_keeps_the_order() {
        // Sorted: 0.005·4, then max(0.01·3, ·), max(0.02·2, ·), max(0.5·1, ·).
        let adjusted = adjust(&[0.02, 0.5, 0.005, 0.01], Correction::HolmBonferroni).unwrap();

        assert_eq!(adjusted, vec![0.02 * 2.0, 0.5, 0.005 * 4.0, 0.01 * 3.0]);
    }

    #[test]
    fn benjamini_hochberg_takes_the_running_minimum_from_the_largest_p() {
        // Descending: 0.5·4/4 = 0.5, 0.02·4/3, 0.01·4/2 = 0.02, 0.005·4/1 = 0.02.
        let adjusted = adjust(&[0.02, 0.5, 0.005, 0.01], Correction::BenjaminiHochberg).unwrap();

        assert_eq!(adjusted, vec![0.02 * (4.0 / 3.0), 0.5, 0.02, 0.02]);
    }

    #[test]
    fn no_correction_returns_the_p_values_as_given() {
        let family = [0.3, 0.001, 1.0, 0.0];

        assert_eq!(adjust(&family, Correction::None).unwrap(), family.to_vec());
    }

    #[test]
    fn an_empty_family_adjusts_to_an_empty_family_and_a_single_p_value_to_itself() {
        for method in METHODS {
            assert_eq!(adjust(&[], method).unwrap(), Vec::<f64>::new());
            assert_eq!(adjust(&[0.037], method).unwrap(), vec![0.037]);
        }
    }

    #[test]
    fn a_p_value_outside_the_unit_interval_is_refused_with_its_place() {
        for bad in [f64::NAN, -0.1, 1.5, f64::INFINITY, f64::NEG_INFINITY] {
            for method in [Correction::None, METHODS[0], METHODS[1]] {
                let error = adjust(&[0.2, bad], method).unwrap_err();

                match error {
                    StatsError::InvalidPValue { index, value } => {
                        assert_eq!(index, 1);
                        assert!(value.is_nan() == bad.is_nan() && (bad.is_nan() || value == bad));
                    }
                    other => panic!("{other:?}"),
                }
            }
        }
    }

    #[test]
    fn adjusted_p_values_are_at_least_the_raw_at_most_one_and_keep_the_raw_order() {
        let mut rng = Rng::new(0xc0ffee);
        for _ in 0..2000 {
            let family = random_family(&mut rng);
            for method in METHODS {
                let adjusted = adjust(&family, method).unwrap();

                assert_eq!(adjusted.len(), family.len());
                for (i, (&raw, &adj)) in family.iter().zip(&adjusted).enumerate() {
                    assert!(adj >= raw && adj <= 1.0, "{method:?} {i}: {raw} → {adj}");
                    for (j, &other) in family.iter().enumerate() {
                        if raw <= other {
                            assert!(adj <= adjusted[j], "{method:?} {family:?} → {adjusted:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn benjamini_hochberg_never_exceeds_holm_and_holm_never_exceeds_bonferroni() {
        let mut rng = Rng::new(99);
        for _ in 0..2000 {
            let family = random_family(&mut rng);
            let holm = adjust(&family, Correction::HolmBonferroni).unwrap();
            let bh = adjust(&family, Correction::BenjaminiHochberg).unwrap();
            let m = family.len() as f64;

            for i in 0..family.len() {
                assert!(bh[i] <= holm[i], "{family:?}: BH {bh:?}, Holm {holm:?}");
                assert!(
                    holm[i] <= (family[i] * m).min(1.0),
                    "{family:?}: Holm {holm:?}"
                );
            }
        }
    }

    #[test]
    fn the_adjustment_does_not_depend_on_the_order_of_the_family() {
        let mut rng = Rng::new(5);
        for _ in 0..500 {
            let family = random_family(&mut rng);
            // A Fisher–Yates shuffle, remembering where each value went.
            let mut order: Vec<usize> = (0..family.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i as u64 + 1) as usize);
            }
            let shuffled: Vec<f64> = order.iter().map(|&i| family[i]).collect();
            for method in METHODS {
                let adjusted = adjust(&family, method).unwrap();
                let adjusted_shuffled = adjust(&shuffled, method).unwrap();

                for (k, &i) in order.iter().enumerate() {
                    assert_eq!(adjusted_shuffled[k], adjusted[i], "{method:?} {family:?}");
                }
            }
        }
    }

    /// A z-test's raw p-value and interval for `estimate` with standard error `se`.
    fn z_test(estimate: f64, se: f64, alpha: f64) -> (f64, (f64, f64)) {
        let p = statrs::function::erf::erfc((estimate / se).abs() / std::f64::consts::SQRT_2);
        let half = quantile(1.0 - alpha / 2.0) * se;
        (p, (estimate - half, estimate + half))
    }

    #[test]
    fn the_adjusted_interval_excludes_zero_exactly_when_the_adjusted_p_is_below_alpha() {
        let mut rng = Rng::new(17);
        let mut widened = 0;
        for _ in 0..5000 {
            let estimate = (rng.unit() - 0.5) * 0.4;
            let se = 0.002 + rng.unit() * 0.05;
            let alpha = [0.01, 0.05, 0.1][rng.below(3) as usize];
            let (p, raw) = z_test(estimate, se, alpha);
            let adjusted_p = (p * (1.0 + rng.unit() * 9.0)).min(1.0);

            let interval = adjusted_interval(estimate, raw, adjusted_p, alpha).unwrap();

            let AdjustedInterval::Bounded { lower, upper } = interval else {
                assert!(
                    adjusted_p > UNBOUNDED_ABOVE,
                    "{interval:?} for {adjusted_p}"
                );
                continue;
            };
            assert!(
                lower <= raw.0 && upper >= raw.1,
                "narrowed: {raw:?} → {interval:?}"
            );
            assert!(
                lower <= estimate && estimate <= upper,
                "{estimate} ∉ {interval:?}"
            );
            if (lower, upper) != raw {
                widened += 1;
            }
            // Widened or not, away from the boundary by more than the rounding of the back-out.
            if (adjusted_p - alpha).abs() > 1e-9 {
                let excludes_zero = lower > 0.0 || upper < 0.0;
                assert_eq!(
                    excludes_zero,
                    adjusted_p < alpha,
                    "{adjusted_p} {interval:?}"
                );
            }
        }
        assert!(widened > 2500, "only {widened} intervals widened");
    }

    #[test]
    fn with_student_t_raw_intervals_the_adjusted_interval_still_agrees_with_the_adjusted_p() {
        // A t interval is wider than the z interval backed out of the same p-value, so here the
        // raw interval often stands; the verdict must still follow the adjusted p-value.
        let mut rng = Rng::new(23);
        let mut kept = 0;
        for _ in 0..3000 {
            let freedom = 1.0 + rng.below(30) as f64;
            let t = StudentT::new(freedom).unwrap();
            let estimate = (rng.unit() - 0.5) * 0.4;
            let se = 0.002 + rng.unit() * 0.05;
            let alpha = [0.01, 0.05, 0.1][rng.below(3) as usize];
            let half = t.upper_quantile(alpha / 2.0).unwrap() * se;
            let raw = (estimate - half, estimate + half);
            let p = (2.0 * t.sf((estimate / se).abs())).min(1.0);
            let adjusted_p = (p * (1.0 + rng.unit() * 4.0)).min(1.0);

            let interval = adjusted_interval(estimate, raw, adjusted_p, alpha).unwrap();

            let AdjustedInterval::Bounded { lower, upper } = interval else {
                continue;
            };
            if (lower, upper) == raw {
                kept += 1;
            }
            if (adjusted_p - alpha).abs() > 1e-9 && (p - alpha).abs() > 1e-9 {
                let excludes_zero = lower > 0.0 || upper < 0.0;
                assert_eq!(
                    excludes_zero,
                    adjusted_p < alpha,
                    "{p} → {adjusted_p} {interval:?}"
                );
            }
        }
        assert!(kept > 100, "only {kept} raw intervals stood");
    }

    #[test]
    fn an_unadjusted_p_value_gives_back_the_raw_interval() {
        let (p, raw) = z_test(0.08, 0.03, 0.05);

        let interval = adjusted_interval(0.08, raw, p, 0.05).unwrap();

        // Equal up to the rounding of backing the standard error out of p.
        let AdjustedInterval::Bounded { lower, upper } = interval else {
            panic!("{interval:?}");
        };
        assert!((lower - raw.0).abs() <= 1e-12 && (upper - raw.1).abs() <= 1e-12);
    }

    #[test]
    fn an_adjusted_p_value_of_one_has_no_finite_interval() {
        for adjusted_p in [1.0, 0.999_999_5] {
            let interval = adjusted_interval(0.1, (0.0, 0.2), adjusted_p, 0.05).unwrap();

            assert_eq!(interval, AdjustedInterval::Unbounded);
        }
    }

    #[test]
    fn a_zero_estimate_or_a_zero_adjusted_p_keeps_the_raw_interval() {
        let raw = AdjustedInterval::Bounded {
            lower: -0.1,
            upper: 0.1,
        };

        assert_eq!(adjusted_interval(0.0, (-0.1, 0.1), 0.5, 0.05).unwrap(), raw);
        assert_eq!(
            adjusted_interval(0.05, (-0.1, 0.1), 0.0, 0.05).unwrap(),
            raw
        );
        assert_eq!(
            adjusted_interval(0.05, (-0.1, 0.1), 1e-300, 0.05).unwrap(),
            raw
        );
    }

    #[test]
    fn invalid_interval_arguments_are_refused_without_panicking() {
        let cases = [
            (0.1, (0.0, 0.2), 0.5, 0.0),
            (0.1, (0.0, 0.2), 0.5, 1.0),
            (0.1, (0.0, 0.2), 0.5, f64::NAN),
            (0.1, (0.0, 0.2), -0.5, 0.05),
            (0.1, (0.0, 0.2), f64::NAN, 0.05),
            (f64::NAN, (0.0, 0.2), 0.5, 0.05),
            (0.1, (f64::NEG_INFINITY, 0.2), 0.5, 0.05),
            (0.1, (0.2, 0.0), 0.5, 0.05),
        ];
        for (estimate, interval, adjusted_p, alpha) in cases {
            let result = adjusted_interval(estimate, interval, adjusted_p, alpha);

            assert!(
                result.is_err(),
                "{estimate} {interval:?} {adjusted_p} {alpha}: {result:?}"
            );
        }
    }

    #[test]
    fn a_tiny_alpha_gives_an_unbounded_interval_rather_than_infinite_bounds() {
        let interval = adjusted_interval(0.1, (0.05, 0.15), 0.3, 1e-17).unwrap();

        assert_eq!(interval, AdjustedInterval::Unbounded);
    }
}
