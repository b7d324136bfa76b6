//! The fixed-horizon test on [`Moments`]: Welch's two-sided t-test as gbstats 0.8.0
//! `TwoSidedTTest`, on the absolute and the relative scale, with or without CUPED (the adjusted
//! moments go in instead of the raw ones).
//!
//! Interval `estimate ± t_{1−α/2, df}·√variance` with Welch–Satterthwaite `df` from the arms'
//! (adjusted) variances; p-value `2·P(T_df > |estimate|/√variance)` from the survival function,
//! which equals gbstats' `2·(1 − cdf)` but keeps its digits when tiny.

use super::error::StatsError;
use super::moments::{difference, finite, welch_freedom, Difference, Moments, Scale};
use super::student::StudentT;
use super::ttest::{Comparison, Estimate};

/// Welch's test of `b` against `a` at level `alpha` (already checked to be in (0, 1)).
///
/// Errors when both arms have zero variance or a value would not be finite. One arm with zero
/// variance is allowed: the test then rests on the other arm's variance (gbstats instead returns
/// an uninformative default).
pub(crate) fn welch(a: &Moments, b: &Moments, alpha: f64) -> Result<Comparison, StatsError> {
    if a.variance == 0.0 && b.variance == 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let t = StudentT::new(welch_freedom(a, b)?)?;
    let quantile = t.upper_quantile(alpha / 2.0)?;
    let absolute = difference(a, b, Scale::Absolute)?.ok_or(StatsError::ZeroVariance)?;
    let relative = difference(a, b, Scale::Relative)?;
    Ok(Comparison {
        absolute: interval(&t, quantile, absolute)?,
        relative: relative.map(|d| interval(&t, quantile, d)).transpose()?,
    })
}

/// Interval and p-value of one difference under `t`.
fn interval(t: &StudentT, quantile: f64, d: Difference) -> Result<Estimate, StatsError> {
    let se = finite(d.variance.sqrt(), "standard error")?;
    if se <= 0.0 {
        return Err(StatsError::NonFiniteResult("standard error"));
    }
    let half_width = finite(quantile * se, "interval width")?;
    let p_value = (2.0 * t.sf((d.point / se).abs())).clamp(0.0, 1.0);
    Ok(Estimate {
        estimate: d.point,
        ci_lower: finite(d.point - half_width, "interval bound")?,
        ci_upper: finite(d.point + half_width, "interval bound")?,
        p_value: finite(p_value, "p-value")?,
    })
}

/// `alpha` must be strictly between 0 and 1 (`!(0 < α < 1)` also rejects NaN).
pub(crate) fn check_alpha(alpha: f64) -> Result<(), StatsError> {
    if alpha > 0.0 && alpha < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidAlpha(alpha))
    }
}
