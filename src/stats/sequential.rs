//! Always-valid confidence sequences as gbstats 0.8.0 `SequentialTwoSidedTTest`: the asymptotic
//! confidence sequence of Waudby-Smith et al., *Time-uniform central limit theory and
//! asymptotic confidence sequences* (arXiv 2103.06476v7), so the interval may be looked at after
//! every new identity without inflating the false-positive rate.
//!
//! With `N = n_a + n_b`, `V` the sampling variance of the difference (absolute or relative, as
//! the fixed test), `s² = V·N` and the tuning `η` (`sequentialTuning`, the sample size at which
//! the sequence is tightest, default 5000):
//! - `ρ² = (−2 ln α + ln(−2 ln α + 1)) / η` (their eq. 161);
//! - half-width `√s² · √(2(Nρ² + 1)/(Nρ)² · ln(√(Nρ² + 1)/α))` (eq. 9);
//! - p-value `min(1, 1/E)` with the e-value `E = exp(ρ²·S/(2(Nρ² + 1)))/√(Nρ² + 1)` and
//!   `S = estimate²·N/V` (eq. 155). lift computes `1/E` as one `exp` of its logarithm, which
//!   equals gbstats' value and, unlike it, does not overflow to 0 for huge effects first.

use super::error::StatsError;
use super::moments::{finite, Difference};
use super::ttest::Estimate;

/// The confidence sequence and p-value of `d` after `n` identities in both arms.
pub(crate) fn interval(
    d: Difference,
    n: f64,
    alpha: f64,
    tuning: f64,
) -> Result<Estimate, StatsError> {
    let log_alpha = alpha.ln();
    let rho2 = (-2.0 * log_alpha + (-2.0 * log_alpha + 1.0).ln()) / tuning;
    let n_rho2 = n * rho2;
    let s2 = d.variance * n;
    let half_width = s2.sqrt()
        * ((2.0 * (n_rho2 + 1.0)) * ((n_rho2 + 1.0).sqrt() / alpha).ln() / (n * n * rho2)).sqrt();
    let half_width = finite(half_width, "interval width")?;
    let statistic = d.point.powi(2) * n / d.variance;
    let log_p = -rho2 * statistic / (2.0 * (n_rho2 + 1.0)) + 0.5 * (n_rho2 + 1.0).ln();
    let p_value = finite(log_p.exp().min(1.0), "p-value")?;
    Ok(Estimate {
        estimate: d.point,
        ci_lower: finite(d.point - half_width, "interval bound")?,
        ci_upper: finite(d.point + half_width, "interval bound")?,
        p_value,
    })
}

/// The tuning parameter must be a positive, finite number of identities.
pub(crate) fn check_tuning(tuning: f64) -> Result<(), StatsError> {
    if tuning > 0.0 && tuning.is_finite() {
        Ok(())
    } else {
        Err(StatsError::InvalidTuning(tuning))
    }
}
