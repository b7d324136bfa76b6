//! The standard normal quantile in the form GrowthBook evaluates it, for the corrections and the
//! power calculation that reproduce its TypeScript (`packages/shared`).
//!
//! GrowthBook calls `@stdlib`'s `normal.quantile(p, 0, 1)`, which is `√2 · erfinv(2p − 1)`, and
//! always passes `p = 1 − x/2` or `1 − power` computed first in floating point. Evaluating the same
//! expression (statrs' `erf_inv` and stdlib's both follow Boost's rational approximations) keeps
//! the results within a few ulps of GrowthBook's, including where forming `1 − x/2` first loses
//! digits for tiny `x`: that loss is GrowthBook's behaviour, so it is reproduced, not repaired.

use std::f64::consts::SQRT_2;

use statrs::function::erf::erf_inv;

/// `Φ⁻¹(p)` for `p` in `[0, 1]`: `−∞` at 0, `+∞` at 1, NaN outside (callers validate first).
pub(crate) fn quantile(p: f64) -> f64 {
    SQRT_2 * erf_inv(2.0 * p - 1.0)
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn the_quantile_matches_known_normal_quantiles() {
        // Reference values: scipy.stats.norm.ppf.
        let cases = [
            (0.975, 1.959_963_984_540_054),
            (0.995, 2.575_829_303_548_900_4),
            (0.2, -0.841_621_233_572_914_2),
            (0.5, 0.0),
        ];
        for (p, expected) in cases {
            let actual = quantile(p);
            assert!(
                (actual - expected).abs() <= 1e-14 * expected.abs().max(1.0),
                "Φ⁻¹({p}) = {actual}, expected {expected}"
            );
        }
    }

    #[test]
    fn the_quantile_is_infinite_at_the_ends() {
        assert_eq!(quantile(1.0), f64::INFINITY);
        assert_eq!(quantile(0.0), f64::NEG_INFINITY);
    }
}
