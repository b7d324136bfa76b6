//! What every test reads from an arm, as gbstats' `Statistic` interface: `n`, the (possibly
//! CUPED-adjusted) `mean`, the `unadjusted_mean` and the per-identity `variance`; and the
//! difference of two arms on the absolute or relative scale (gbstats `frequentist_diff`,
//! `frequentist_variance`), which the fixed, sequential and Bayesian tests all start from.

use super::error::StatsError;
use super::sufficient::{MetricKind, VariantStats};

/// One arm as the tests see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    pub(crate) n: f64,
    /// The mean the effect is measured on: the raw mean, or `ȳ − θ·x̄` under CUPED.
    pub(crate) mean: f64,
    /// The raw mean: relative lifts divide by the control's, and the delta method's variance
    /// uses both arms' (as gbstats does, also under CUPED).
    pub(crate) unadjusted_mean: f64,
    /// Per-identity variance of what `mean` averages.
    pub(crate) variance: f64,
}

impl Moments {
    /// The unadjusted moments of validated sums (`n ≥ 2`, finite, consistent), naming `arm` in
    /// the error.
    pub(crate) fn of(
        stats: &VariantStats,
        kind: MetricKind,
        arm: &'static str,
    ) -> Result<Self, StatsError> {
        let variance = stats.validate(kind, arm)?;
        let mean = stats
            .mean()
            .ok_or(StatsError::NonFiniteInput { arm, field: "sum" })?;
        Ok(Moments {
            n: stats.n as f64,
            mean,
            unadjusted_mean: mean,
            variance,
        })
    }
}

/// Which difference is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scale {
    /// `mean_b − mean_a`.
    Absolute,
    /// `(mean_b − mean_a) / unadjusted_mean_a`, its variance by the delta method.
    Relative,
}

/// A point estimate of the difference and its sampling variance (`> 0`, finite).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Difference {
    pub(crate) point: f64,
    pub(crate) variance: f64,
}

/// The difference of `b` against `a` on `scale`; `None` on the relative scale when the control's
/// raw mean is 0 (no lift is defined) or the delta-method variance is 0 (the treatment is
/// constant at 0), so no test exists there. Errors when a value is not finite.
pub(crate) fn difference(
    a: &Moments,
    b: &Moments,
    scale: Scale,
) -> Result<Option<Difference>, StatsError> {
    let (point, variance) = match scale {
        Scale::Absolute => (b.mean - a.mean, b.variance / b.n + a.variance / a.n),
        Scale::Relative => {
            let base = a.unadjusted_mean;
            if base == 0.0 {
                return Ok(None);
            }
            let variance = b.variance / (base.powi(2) * b.n)
                + a.variance * b.unadjusted_mean.powi(2) / (base.powi(4) * a.n);
            if variance == 0.0 {
                return Ok(None);
            }
            ((b.mean - a.mean) / base, variance)
        }
    };
    let point = finite(point, "estimate")?;
    let variance = finite(variance, "variance of the estimate")?;
    if variance <= 0.0 {
        // Zero on the absolute scale means both arms are constant; callers reject that first.
        return Err(StatsError::ZeroVariance);
    }
    Ok(Some(Difference { point, variance }))
}

/// Welch–Satterthwaite degrees of freedom of the two arms' variances.
pub(crate) fn welch_freedom(a: &Moments, b: &Moments) -> Result<f64, StatsError> {
    let (se2_a, se2_b) = (a.variance / a.n, b.variance / b.n);
    let df = (se2_a + se2_b).powi(2) / (se2_a.powi(2) / (a.n - 1.0) + se2_b.powi(2) / (b.n - 1.0));
    finite(df, "degrees of freedom")
}

pub(crate) fn finite(value: f64, what: &'static str) -> Result<f64, StatsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(StatsError::NonFiniteResult(what))
    }
}
