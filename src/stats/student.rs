//! Student's t upper tail and quantile with standard location and scale, precise for any degrees
//! of freedom `ν ≥ 1` (Welch's ν is at least `min(n_a, n_b) − 1`).
//!
//! statrs alone is not enough here: its `inverse_cdf` is off by up to 6e-5 at `ν = 10⁶` and never
//! returns at `ν = 10⁸`, and its tail loses digits above `ν ≈ 10⁴` because its incomplete beta
//! stops after 140 continued-fraction terms. So:
//! - the tail uses statrs below [`HILL_FROM`] (≤ 1e-10 relative to scipy; for `|t| < 1` the
//!   central mass from the incomplete beta, as statrs' tail is flat near 0) and Hill's normalising
//!   transformation from there on (G. W. Hill, *Algorithm 395: Student's t-distribution*,
//!   CACM 13(10), 1970; ≤ 1e-12 relative to scipy for `ν ≥ 10⁴`);
//! - the quantile solves `ln sf(q) = ln τ` by Newton's method kept inside a bracket, with a
//!   bounded number of steps.

use statrs::distribution::{Continuous, ContinuousCDF, StudentsT};
use statrs::function::beta::checked_beta_reg;
use statrs::function::erf::erfc_inv;

use super::normal;

use super::error::StatsError;

/// From this many degrees of freedom on, the tail is Hill's transformation to the normal.
const HILL_FROM: f64 = 1e4;
/// A bound on the quantile's steps: enough to double from 1 past `f64::MAX` and then bisect to
/// the last bit; in practice it converges in 2 to 6.
const MAX_STEPS: usize = 1100;

/// A Student's t distribution with location 0 and scale 1.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StudentT {
    freedom: f64,
    statrs: StudentsT,
}

impl StudentT {
    pub(crate) fn new(freedom: f64) -> Result<Self, StatsError> {
        let statrs = StudentsT::new(0.0, 1.0, freedom)?;
        Ok(StudentT { freedom, statrs })
    }

    /// `P(T > t)`.
    pub(crate) fn sf(&self, t: f64) -> f64 {
        if t.is_nan() {
            // statrs would panic on NaN; callers turn a NaN tail into a `StatsError`.
            return f64::NAN;
        }
        if t < 0.0 {
            return 1.0 - self.sf(-t);
        }
        if t == f64::INFINITY {
            return 0.0;
        }
        if self.freedom < HILL_FROM {
            if t * t < 1.0 {
                // statrs' tail is flat at 0.5 very near 0 (its incomplete beta takes an x within
                // a few ulps of 1 as 1), so near the centre compute the small central mass
                // P(|T| < t) = I_x(1/2, ν/2), x = t²/(ν + t²), directly.
                let x = t * t / (self.freedom + t * t);
                let central = checked_beta_reg(0.5, 0.5 * self.freedom, x).unwrap_or(f64::NAN);
                return 0.5 - 0.5 * central;
            }
            return self.statrs.sf(t);
        }
        let nu = self.freedom;
        let a = nu - 0.5;
        let b = 48.0 * a * a;
        let y = a * (t * t / nu).ln_1p();
        let z =
            (((((-0.4 * y - 3.3) * y - 24.0) * y - 85.5) / (0.8 * y * y + 100.0 + b) + y + 3.0)
                / b
                + 1.0)
                * y.sqrt();
        normal::sf(z)
    }

    /// The `q ≥ 0` with `P(T > q) = tail`, for `tail` in `(0, 0.5]`.
    ///
    /// Newton's method on `h(q) = ln sf(q) − ln tail`, which falls from `ln(0.5/tail) > 0` at
    /// `q = 0` towards −∞. Every step narrows a bracket `(lo, hi)` around the root; a Newton step
    /// that leaves it is replaced by doubling (no upper bound yet) or bisection.
    pub(crate) fn upper_quantile(&self, tail: f64) -> Result<f64, StatsError> {
        if !(tail > 0.0 && tail <= 0.5) {
            return Err(StatsError::NonFiniteResult("t quantile"));
        }
        if tail == 0.5 {
            return Ok(0.0);
        }
        let target = tail.ln();
        let (mut lo, mut hi) = (0.0, f64::INFINITY);
        let mut q = self.seed(tail);
        for _ in 0..MAX_STEPS {
            let ln_sf = self.sf(q).ln();
            let value = ln_sf - target;
            if value == 0.0 {
                return Ok(q);
            }
            if value > 0.0 {
                lo = q;
            } else {
                hi = q;
            }
            // d/dq ln sf(q) = −pdf(q) / sf(q)
            let slope = -(self.statrs.ln_pdf(q) - ln_sf).exp();
            let newton = q - value / slope;
            let next = if newton.is_finite() && newton > lo && newton < hi {
                newton
            } else if hi.is_infinite() {
                2.0 * q
            } else {
                0.5 * (lo + hi)
            };
            if !next.is_finite() {
                break;
            }
            if (next - q).abs() <= 4.0 * f64::EPSILON * q {
                return Ok(next);
            }
            q = next;
        }
        Err(StatsError::NonFiniteResult("t quantile"))
    }

    /// A first guess: the normal quantile with the first two Cornish–Fisher terms in `1/ν`.
    fn seed(&self, tail: f64) -> f64 {
        let z = std::f64::consts::SQRT_2 * erfc_inv(2.0 * tail);
        let nu = self.freedom;
        let guess = z
            + (z.powi(3) + z) / (4.0 * nu)
            + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * nu * nu);
        if guess.is_finite() && guess > 0.0 {
            guess
        } else {
            1.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_relative(actual: f64, expected: f64, tolerance: f64) {
        let error = (actual / expected - 1.0).abs();
        assert!(
            error <= tolerance,
            "{actual:e} vs {expected:e}: relative error {error:e}"
        );
    }

    // Reference values: scipy 1.17 `scipy.stats.t.sf(t, ν)` and `t.isf(τ, ν)`.

    #[test]
    fn the_tail_matches_scipy_for_small_and_huge_degrees_of_freedom() {
        let cases = [
            (1.0, 2.5, 0.121_118_941_590_843_41),
            (3.7, 2.5, 0.035_911_011_455_913_39),
            (1e3, 2.5, 0.006_289_283_900_545_403_6),
            (1e5, 2.5, 0.006_210_459_596_279_525_5),
            (1e8, 2.5, 0.006_209_666_120_027_275),
            (1e5, 8.0, 6.286_959_938_128_173e-16),
        ];
        for (nu, t, expected) in cases {
            assert_relative(StudentT::new(nu).unwrap().sf(t), expected, 1e-10);
        }
    }

    #[test]
    fn the_tail_is_symmetric_around_zero() {
        let t = StudentT::new(12.0).unwrap();

        assert_eq!(t.sf(0.0), 0.5);
        assert!((t.sf(-1.3) - (1.0 - t.sf(1.3))).abs() < 1e-15);
    }

    #[test]
    fn quantiles_match_scipy_where_statrs_inverse_is_off() {
        let cases = [
            (1.0, 0.025, 12.706_204_736_174_705),
            (2.0, 0.005, 9.924_843_200_918_293),
            (29.0, 0.025, 2.045_229_642_132_704),
            (99_998.0, 0.025, 1.959_987_708_009_084_6),
            (1e6, 0.05, 1.644_855_150_722_040_6),
            (1e8, 0.025, 1.959_964_008_262_766_7),
            (4.5, 1e-12, 670.942_702_505_106),
        ];
        for (nu, tail, expected) in cases {
            assert_relative(
                StudentT::new(nu).unwrap().upper_quantile(tail).unwrap(),
                expected,
                1e-9,
            );
        }
    }

    #[test]
    fn the_quantile_inverts_the_tail() {
        for nu in [1.0, 1.7, 5.0, 40.0, 2_500.0, 1e4, 3e7, 1e12] {
            let t = StudentT::new(nu).unwrap();
            for tail in [0.499_999, 0.4999, 0.3, 0.05, 0.025, 1e-3, 1e-8] {
                let q = t.upper_quantile(tail).unwrap();

                assert_relative(t.sf(q), tail, 1e-12);
            }
        }
    }

    #[test]
    fn the_tail_of_infinity_is_zero_and_of_nan_is_nan() {
        for nu in [3.0, 1e6] {
            let t = StudentT::new(nu).unwrap();

            assert_eq!(t.sf(f64::INFINITY), 0.0);
            assert_eq!(t.sf(f64::NEG_INFINITY), 1.0);
            assert!(t.sf(f64::NAN).is_nan());
        }
    }

    #[test]
    fn half_the_mass_is_above_zero() {
        assert_eq!(StudentT::new(3.0).unwrap().upper_quantile(0.5), Ok(0.0));
    }

    #[test]
    fn a_tail_outside_zero_to_one_half_is_an_error() {
        let t = StudentT::new(3.0).unwrap();
        for tail in [0.0, 0.6, f64::NAN] {
            assert!(t.upper_quantile(tail).is_err(), "{tail}");
        }
    }

    #[test]
    fn non_positive_freedom_is_a_typed_error() {
        assert!(matches!(StudentT::new(0.0), Err(StatsError::StudentsT(_))));
        assert!(matches!(
            StudentT::new(f64::NAN),
            Err(StatsError::StudentsT(_))
        ));
    }
}
