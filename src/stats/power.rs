//! Power: the relative minimum detectable effect (MDE) of a comparison for a given sample, and how
//! many days of traffic it takes to bring it down to a target, reproducing GrowthBook's
//! `packages/shared/src/power/power.ts` (`findMdeFrequentist` with `sequentialTesting` off or on).
//!
//! Identities are split equally over `variants` arms, `n_a = n / variants`; the baseline has mean
//! `m` and per-identity variance `v` (`p(1 − p)` for a conversion rate), and the treatment arm is
//! assumed to share `v`. With `z = Φ⁻¹(1 − α/2) − Φ⁻¹(1 − power)`, the MDE is the relative lift `δ`
//! the two-sided test detects with that power, the root of
//!
//! `δ² = z² · v/(n_a·m²) · (1 + (1 + δ)²)`
//!
//! (the delta-method variance of the relative lift when the treatment mean is `m(1 + δ)`), which
//! power.ts solves as a quadratic in `m(1 + δ)`; it has no positive root while
//! `n_a ≤ v·z²/m²`, and then there is no MDE yet ([`mde`] returns `None`).
//!
//! Sequential testing (gbstats' always-valid intervals, tuning `τ`) replaces `v` by the variance
//! that makes a fixed-horizon interval as wide as the confidence sequence at `N = 2·n_a`:
//! `ρ² = (−2 ln α + ln(−2 ln α + 1))/τ`, `d = 2(Nρ² + 1)·ln(√(Nρ² + 1)/α)/(Nρ)²`,
//! `v_seq = v·N·d / Φ⁻¹(1 − α/2)²`.
//!
//! One deliberate difference: power.ts divides by the signed mean, so for a negative baseline it
//! returns the negative root of the same equation. The equation depends on `m²` only, so lift uses
//! `|m|` and always returns the positive MDE, a magnitude; positive baselines are unaffected.

use serde::{Deserialize, Serialize};

use super::error::StatsError;
use super::std_normal::quantile;

/// The power at which the MDE is reported unless the caller chooses another.
pub const DEFAULT_POWER: f64 = 0.8;

/// Doublings of the sample allowed when searching for the size that reaches a target: from one
/// identity, past `f64::MAX`, so the search ends on its own.
const MAX_DOUBLINGS: usize = 1100;
/// Bisection steps: enough to separate two neighbouring doubles even from 0 (down through the
/// subnormals); from a positive sample about 53 suffice.
const MAX_BISECTIONS: usize = 1100;

/// A metric's baseline: the control's mean and the per-identity variance.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Must be nonzero: a relative MDE is relative to it.
    pub mean: f64,
    /// Per-identity (population) variance, `≥ 0`.
    pub variance: f64,
}

impl Baseline {
    /// A conversion metric with this rate, variance `p(1 − p)` as power.ts's binomial metrics.
    pub fn conversion(rate: f64) -> Self {
        Baseline {
            mean: rate,
            variance: rate * (1.0 - rate),
        }
    }
}

/// How the experiment is analysed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Design {
    /// Two-sided significance level, in (0, 1).
    pub alpha: f64,
    /// The power at which the effect is detected, in (α, 1); usually [`DEFAULT_POWER`].
    pub power: f64,
    /// Arms sharing the identities equally, control included, at least 2.
    pub variants: u32,
    /// The sequential tuning parameter `τ > 0` (identities), or `None` for a fixed horizon.
    pub sequential_tuning: Option<f64>,
}

/// The relative MDE at `design.power` with `identities` identities in total over all the arms, or
/// `None` when no effect is detectable with that power yet (the sample is too small).
///
/// For one variant against control during an experiment, pass the two arms' identities with
/// `variants: 2`: power.ts assumes equal arms, so each counts as half of them.
///
/// Errors when the design or the baseline is out of its domain (see their fields).
pub fn mde(
    baseline: &Baseline,
    identities: u64,
    design: &Design,
) -> Result<Option<f64>, StatsError> {
    Prepared::new(baseline, design)?.mde_at(identities as f64)
}

/// The estimated days until the MDE reaches `target_mde` if identities keep arriving at
/// `identities_per_day` (over all the arms), starting from `identities` now: `Some(0.0)` when it
/// already has, `None` when it never will at this rate (no traffic, or too little to matter
/// before the count overflows). Days are fractional; round up to report whole days.
///
/// Errors as [`mde`], and when the target is not positive and finite or the rate is negative or
/// not finite.
pub fn days_to_target(
    baseline: &Baseline,
    identities: u64,
    identities_per_day: f64,
    target_mde: f64,
    design: &Design,
) -> Result<Option<f64>, StatsError> {
    let prepared = Prepared::new(baseline, design)?;
    if !(target_mde > 0.0 && target_mde.is_finite()) {
        return Err(StatsError::InvalidArgument {
            name: "target MDE",
            reason: "must be positive and finite",
        });
    }
    if !(identities_per_day >= 0.0 && identities_per_day.is_finite()) {
        return Err(StatsError::InvalidArgument {
            name: "identities per day",
            reason: "must be non-negative and finite",
        });
    }
    let reaches = |n: f64| -> Result<bool, StatsError> {
        Ok(matches!(prepared.mde_at(n)?, Some(m) if m <= target_mde))
    };
    let now = identities as f64;
    if reaches(now)? {
        return Ok(Some(0.0));
    }
    if identities_per_day == 0.0 {
        return Ok(None);
    }
    // The MDE falls as the sample grows, fixed-horizon and sequential alike (the test
    // `mde_falls_as_the_sample_grows_and_sequential_costs_more_than_fixed` checks it), so double
    // until the target is reached, then bisect to the smallest such sample.
    let (mut short, mut enough) = (now, now.max(1.0));
    let mut found = false;
    for _ in 0..MAX_DOUBLINGS {
        if reaches(enough)? {
            found = true;
            break;
        }
        short = enough;
        enough *= 2.0;
        if !enough.is_finite() {
            break;
        }
    }
    if !found {
        return Ok(None);
    }
    for _ in 0..MAX_BISECTIONS {
        let middle = short + (enough - short) / 2.0;
        if middle <= short || middle >= enough {
            break;
        }
        if reaches(middle)? {
            enough = middle;
        } else {
            short = middle;
        }
    }
    let days = (enough - now) / identities_per_day;
    Ok(days.is_finite().then_some(days))
}

/// The constants of one baseline and design, validated and derived once: a search for the days
/// to a target evaluates the MDE some 70 times, and the normal quantiles would dominate it.
struct Prepared {
    /// `|m|`: see the module documentation for the sign.
    m: f64,
    variance: f64,
    variants: f64,
    /// `(Φ⁻¹(1 − α/2) − Φ⁻¹(1 − power))²`.
    z2: f64,
    sequential: Option<Sequential>,
}

/// The constants of power.ts's `sequentialPowerSequentialVariance` that do not depend on `n`.
struct Sequential {
    alpha: f64,
    /// `ρ = √((−2 ln α + ln(−2 ln α + 1))/τ)`.
    rho: f64,
    /// `Φ⁻¹(1 − α/2)`.
    z_star: f64,
}

impl Prepared {
    fn new(baseline: &Baseline, design: &Design) -> Result<Self, StatsError> {
        if !(design.alpha > 0.0 && design.alpha < 1.0) {
            return Err(StatsError::InvalidAlpha(design.alpha));
        }
        if !(design.power > design.alpha && design.power < 1.0) {
            return Err(StatsError::InvalidArgument {
                name: "power",
                reason: "must be above alpha and below 1",
            });
        }
        if design.variants < 2 {
            return Err(StatsError::TooFewVariants(design.variants as usize));
        }
        if !(baseline.mean.is_finite() && baseline.mean != 0.0) {
            return Err(StatsError::InvalidArgument {
                name: "baseline mean",
                reason: "must be finite and nonzero for a relative MDE",
            });
        }
        if !(baseline.variance >= 0.0 && baseline.variance.is_finite()) {
            return Err(StatsError::InvalidArgument {
                name: "baseline variance",
                reason: "must be non-negative and finite",
            });
        }
        let alpha = design.alpha;
        let z_star = quantile(1.0 - 0.5 * alpha);
        let sequential = match design.sequential_tuning {
            None => None,
            Some(tuning) if tuning > 0.0 && tuning.is_finite() => {
                let log_alpha = -2.0 * alpha.ln();
                let rho = ((log_alpha + (log_alpha + 1.0).ln()) / tuning).sqrt();
                Some(Sequential { alpha, rho, z_star })
            }
            Some(_) => {
                return Err(StatsError::InvalidArgument {
                    name: "sequential tuning",
                    reason: "must be positive and finite",
                })
            }
        };
        let z = z_star - quantile(1.0 - design.power);
        Ok(Prepared {
            m: baseline.mean.abs(),
            variance: baseline.variance,
            variants: f64::from(design.variants),
            z2: z.powi(2),
            sequential,
        })
    }

    /// power.ts's `findMdeFrequentist` for `n` identities in total, in its order of operations
    /// so the rounding is the same.
    fn mde_at(&self, n: f64) -> Result<Option<f64>, StatsError> {
        let (m, z2) = (self.m, self.z2);
        let n_a = n / self.variants;
        let v = match &self.sequential {
            Some(sequential) => sequential.variance(self.variance, 2.0 * n_a),
            None => self.variance,
        };
        let m2 = m.powi(2);
        // The smallest arm size with a positive root; NaN when there are no identities yet (the
        // sequential variance divides by the sample), which has no MDE either.
        let threshold = v * z2 / m2;
        if threshold.is_nan() || n_a <= threshold {
            return Ok(None);
        }
        let sigma2 = v / n_a;
        let a = 1.0 - z2 * sigma2 / m2;
        let b = -2.0 * m;
        let c = m2 - z2 * sigma2;
        let discriminant = b.powi(2) - 4.0 * a * c;
        let root = (-b + discriminant.sqrt()) / (2.0 * a);
        let mde = (root - m) / m;
        if !mde.is_finite() {
            return Err(StatsError::NonFiniteResult("MDE"));
        }
        Ok(Some(mde))
    }
}

impl Sequential {
    /// power.ts's `sequentialPowerSequentialVariance`: the per-identity variance whose
    /// fixed-horizon interval at `n` is as wide as the confidence sequence.
    fn variance(&self, variance: f64, n: f64) -> f64 {
        let (alpha, rho) = (self.alpha, self.rho);
        let n_rho2 = n * rho.powi(2);
        let discriminant =
            (2.0 * (n_rho2 + 1.0) * ((n_rho2 + 1.0).sqrt() / alpha).ln()) / (n * rho).powi(2);
        let standard_error = (variance / n).sqrt();
        let z_sequential = n.sqrt() * discriminant.sqrt();
        let standard_error_sequential = standard_error * z_sequential / self.z_star;
        n * standard_error_sequential.powi(2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::test_rng::Rng;

    fn design(variants: u32, sequential_tuning: Option<f64>) -> Design {
        Design {
            alpha: 0.05,
            power: DEFAULT_POWER,
            variants,
            sequential_tuning,
        }
    }

    fn relative_gap(actual: f64, expected: f64) -> f64 {
        (actual - expected).abs() / expected.abs()
    }

    /// The smallest total sample whose fixed-horizon MDE is `target`, solving the module's
    /// equation for `n_a` directly: `n_a = z²·v·(1 + (1 + δ)²)/(m²·δ²)`.
    fn closed_form_sample(baseline: &Baseline, target: f64, design: &Design) -> f64 {
        let z = quantile(1.0 - design.alpha / 2.0) - quantile(1.0 - design.power);
        let n_a = z * z * baseline.variance * (1.0 + (1.0 + target).powi(2))
            / (baseline.mean.powi(2) * target.powi(2));
        n_a * f64::from(design.variants)
    }

    #[test]
    fn the_fixed_horizon_days_match_the_closed_form_sample_size() {
        let mut rng = Rng::new(11);
        for _ in 0..300 {
            let baseline = Baseline {
                mean: 0.5 + rng.unit() * 20.0,
                variance: 0.1 + rng.unit() * 400.0,
            };
            let design = design(2 + rng.below(4) as u32, None);
            let target = 0.01 + rng.unit() * 0.2;
            let rate = 10.0 + rng.unit() * 10_000.0;
            let now = rng.below(1000);

            let days = days_to_target(&baseline, now, rate, target, &design).unwrap();

            let needed = closed_form_sample(&baseline, target, &design);
            let expected = ((needed - now as f64) / rate).max(0.0);
            let days = days.unwrap();
            assert!(
                (days - expected).abs() <= 1e-9 * expected.max(1.0),
                "{baseline:?} {design:?} target {target}: {days} days, closed form {expected}"
            );
        }
    }

    #[test]
    fn at_the_estimated_day_the_mde_is_the_target_for_both_variants() {
        let baseline = Baseline::conversion(0.1);
        for tuning in [None, Some(5000.0)] {
            let design = design(3, tuning);
            let (now, rate, target) = (4_000, 1_500.0, 0.05);

            let days = days_to_target(&baseline, now, rate, target, &design)
                .unwrap()
                .unwrap();

            let n = now as f64 + days * rate;
            let at = Prepared::new(&baseline, &design)
                .unwrap()
                .mde_at(n)
                .unwrap()
                .unwrap();
            assert!(
                relative_gap(at, target) <= 1e-9,
                "{tuning:?}: MDE {at} at {n}"
            );
            assert!(days > 0.0);
        }
    }

    #[test]
    fn mde_falls_as_the_sample_grows_and_sequential_costs_more_than_fixed() {
        let baseline = Baseline {
            mean: 10.0,
            variance: 3910.0,
        };
        let (fixed, sequential) = (design(2, None), design(2, Some(5000.0)));
        let mut previous = (f64::INFINITY, f64::INFINITY);
        let mut n = 100.0;
        while n < 1e12 {
            let f = Prepared::new(&baseline, &fixed).unwrap().mde_at(n).unwrap();
            let s = Prepared::new(&baseline, &sequential)
                .unwrap()
                .mde_at(n)
                .unwrap();
            if let (Some(f), Some(s)) = (f, s) {
                assert!(f < previous.0 && s < previous.1, "not falling at {n}");
                assert!(s > f, "sequential {s} ≤ fixed {f} at {n}");
                previous = (f, s);
            } else {
                assert!(previous.0.is_infinite(), "an MDE vanished at {n}");
            }
            n *= 1.07;
        }
        assert!(previous.0 < 0.001 && previous.1 < 0.01, "{previous:?}");
    }

    #[test]
    fn a_sample_too_small_has_no_mde_and_no_identities_never_have_one() {
        let baseline = Baseline::conversion(0.01);
        for tuning in [None, Some(5000.0)] {
            assert_eq!(mde(&baseline, 0, &design(2, tuning)).unwrap(), None);
            assert_eq!(mde(&baseline, 20, &design(2, tuning)).unwrap(), None);
            assert!(mde(&baseline, 1_000_000, &design(2, tuning))
                .unwrap()
                .is_some());
        }
    }

    #[test]
    fn a_reached_target_takes_no_days_and_no_traffic_never_reaches_one() {
        let baseline = Baseline::conversion(0.2);
        let design = design(2, None);
        let now = 1_000_000;
        let current = mde(&baseline, now, &design).unwrap().unwrap();

        assert_eq!(
            days_to_target(&baseline, now, 0.0, current * 1.01, &design),
            Ok(Some(0.0))
        );
        assert_eq!(
            days_to_target(&baseline, now, 0.0, current * 0.99, &design),
            Ok(None)
        );
        assert_eq!(days_to_target(&baseline, 0, 0.0, 0.05, &design), Ok(None));
        let from_nothing = days_to_target(&baseline, 0, 100.0, 0.05, &design).unwrap();
        assert!(from_nothing.is_some_and(|d| d > 0.0), "{from_nothing:?}");
    }

    #[test]
    fn a_negative_baseline_has_the_mde_of_its_magnitude() {
        let design = design(2, Some(2000.0));
        let up = Baseline {
            mean: 3.0,
            variance: 20.0,
        };
        let down = Baseline {
            mean: -3.0,
            variance: 20.0,
        };

        assert_eq!(mde(&down, 50_000, &design), mde(&up, 50_000, &design));
    }

    #[test]
    fn invalid_designs_and_baselines_are_refused() {
        let baseline = Baseline::conversion(0.1);
        let good = design(2, None);
        let bad_designs = [
            Design { alpha: 0.0, ..good },
            Design {
                alpha: f64::NAN,
                ..good
            },
            Design {
                power: 0.04,
                ..good
            },
            Design { power: 1.0, ..good },
            Design {
                variants: 1,
                ..good
            },
            Design {
                sequential_tuning: Some(0.0),
                ..good
            },
            Design {
                sequential_tuning: Some(f64::INFINITY),
                ..good
            },
        ];
        for design in bad_designs {
            assert!(mde(&baseline, 1000, &design).is_err(), "{design:?}");
        }
        let bad_baselines = [
            Baseline {
                mean: 0.0,
                variance: 1.0,
            },
            Baseline {
                mean: f64::NAN,
                variance: 1.0,
            },
            Baseline {
                mean: 1.0,
                variance: -1.0,
            },
            Baseline {
                mean: 1.0,
                variance: f64::INFINITY,
            },
        ];
        for baseline in bad_baselines {
            assert!(mde(&baseline, 1000, &good).is_err(), "{baseline:?}");
        }
        for (rate, target) in [
            (-1.0, 0.05),
            (f64::NAN, 0.05),
            (10.0, 0.0),
            (10.0, f64::NAN),
        ] {
            let result = days_to_target(&baseline, 1000, rate, target, &good);
            assert!(result.is_err(), "{rate} {target}: {result:?}");
        }
    }

    #[test]
    fn arbitrary_inputs_never_panic_and_never_give_nan() {
        const VALUES: [f64; 10] = [
            0.0,
            1e-300,
            1e-9,
            0.3,
            1.0,
            7.5,
            -2.0,
            1e12,
            1e300,
            f64::NAN,
        ];
        const SIZES: [u64; 6] = [0, 1, 2, 100, 1_000_000_000, u64::MAX];
        let mut rng = Rng::new(3);
        let pick = |rng: &mut Rng| VALUES[rng.below(VALUES.len() as u64) as usize];
        for _ in 0..3000 {
            let baseline = Baseline {
                mean: pick(&mut rng),
                variance: pick(&mut rng),
            };
            let design = Design {
                alpha: pick(&mut rng).abs().min(0.5),
                power: 0.5 + rng.unit() * 0.49,
                variants: rng.below(5) as u32,
                sequential_tuning: (rng.below(2) == 0).then(|| pick(&mut rng)),
            };
            let identities = SIZES[rng.below(SIZES.len() as u64) as usize];
            let (rate, target) = (pick(&mut rng), pick(&mut rng));

            if let Ok(Some(mde)) = mde(&baseline, identities, &design) {
                assert!(
                    mde.is_finite() && mde >= 0.0,
                    "{baseline:?} {design:?}: {mde}"
                );
            }
            if let Ok(Some(days)) = days_to_target(&baseline, identities, rate, target, &design) {
                assert!(
                    days.is_finite() && days >= 0.0,
                    "{baseline:?} {design:?}: {days}"
                );
            }
        }
    }
}
