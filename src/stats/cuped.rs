//! CUPED (Deng, Xu, Kohavi & Walker, WSDM 2013) as gbstats 0.8.0 `RegressionAdjustedStatistic`:
//! each arm's metric `y` is adjusted by its pre-exposure covariate `x` as `ȳ − θ·x̄`, with one
//! `θ` for the two arms compared (`compute_theta`): the pooled covariance of `y` and `x` over
//! the pooled variance of `x`. An arm's adjusted variance is
//! `var(y) + θ²·var(x) − 2θ·cov(x, y)`; everything else (relative lifts' denominators, the delta
//! method's means) keeps the raw means, as gbstats does.
//!
//! Variances follow the metric's kind, for `x` as for `y`: a conversion's is `p(1 − p)`, a
//! numeric one's the sample variance; covariances always divide by `n − 1` (gbstats mixes the
//! two the same way). gbstats falls back to the unadjusted test when `θ` is 0 (a pooled variance
//! of 0, or no covariance); lift does too and says why ([`CupedFallback`]), and also falls back
//! where gbstats would answer with an uninformative default or fail: no or invalid covariate
//! sums, an adjusted variance that is not positive.

use serde::{Deserialize, Serialize};

use super::arm::ArmSums;
use super::moments::Moments;
use super::sufficient::{MetricKind, VariantStats};

/// What CUPED did for one comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Cuped {
    /// Not requested: the adjusted numbers are the unadjusted ones.
    Off,
    /// Applied with this `θ`. `variance_reduction` is `1 − adjusted / unadjusted` sampling
    /// variance of the absolute difference (the scale CUPED's reduction `≈ ρ²` is stated on; the
    /// relative one differs only through the delta method's raw means). It can be slightly
    /// negative in small samples, where the pooled `θ` fits one arm poorly.
    Applied { theta: f64, variance_reduction: f64 },
    /// Requested but not applied, for this reason: the adjusted numbers are the unadjusted ones.
    FellBack(CupedFallback),
}

/// Why CUPED was not applied to a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CupedFallback {
    /// An arm has no covariate sums.
    NoCovariate,
    /// An arm's covariate sums are not finite or cannot come from real data.
    InvalidCovariate,
    /// The covariate is constant over both arms (e.g. no identity had pre-period activity):
    /// `θ` is undefined (gbstats sets it to 0).
    CovariateWithoutVariance,
    /// The metric is constant over both arms (gbstats sets `θ` to 0).
    MetricWithoutVariance,
    /// The covariate and the metric have exactly zero covariance, so `θ` is 0.
    Uncorrelated,
    /// An arm's adjusted variance is not positive (its metric is an exact linear function of
    /// its covariate); gbstats would answer with an uninformative default.
    AdjustedVarianceNotPositive,
    /// The metric is a RATIO: gbstats 0.8.0 has no regression adjustment for ratios
    /// (`stats::ratio`).
    RatioMetric,
    /// A QUANTILE metric: gbstats 0.8.0 has no regression-adjusted quantile.
    QuantileMetric,
}

/// Both arms' adjusted moments and the `θ` they share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Adjusted {
    pub(crate) theta: f64,
    pub(crate) control: Moments,
    pub(crate) treatment: Moments,
}

/// Adjusts `raw` moments of `control` and `treatment` (already validated) by their covariates.
pub(crate) fn adjust(
    control: &ArmSums,
    treatment: &ArmSums,
    kind: MetricKind,
    raw: (&Moments, &Moments),
) -> Result<Adjusted, CupedFallback> {
    let a = Pair::of(control, kind, "control covariate")?;
    let b = Pair::of(treatment, kind, "treatment covariate")?;
    let theta = theta(&a, &b, kind)?;
    Ok(Adjusted {
        theta,
        control: a.adjusted(raw.0, theta, kind)?,
        treatment: b.adjusted(raw.1, theta, kind)?,
    })
}

/// One arm's metric and covariate sums, checked.
struct Pair {
    n: f64,
    y: VariantStats,
    x: VariantStats,
    xy: f64,
}

impl Pair {
    fn of(arm: &ArmSums, kind: MetricKind, name: &'static str) -> Result<Self, CupedFallback> {
        let covariate = arm.covariate.ok_or(CupedFallback::NoCovariate)?;
        let x = VariantStats {
            n: arm.n,
            sum: covariate.sum,
            sum_sq: covariate.sum_sq,
        };
        x.validate(kind, name)
            .map_err(|_| CupedFallback::InvalidCovariate)?;
        if !covariate.sum_product.is_finite() {
            return Err(CupedFallback::InvalidCovariate);
        }
        Ok(Pair {
            n: arm.n as f64,
            y: arm.metric(),
            x,
            xy: covariate.sum_product,
        })
    }

    /// `ȳ − θ·x̄` and `var(y) + θ²·var(x) − 2θ·cov(x, y)`.
    fn adjusted(
        &self,
        raw: &Moments,
        theta: f64,
        kind: MetricKind,
    ) -> Result<Moments, CupedFallback> {
        let pre_variance = variance(kind, self.n, self.x.sum, self.x.sum_sq);
        let covariance = covariance(self.n, self.xy, self.y.sum, self.x.sum);
        let variance = raw.variance + theta.powi(2) * pre_variance - 2.0 * theta * covariance;
        let mean = raw.mean - theta * (self.x.sum / self.n);
        if !(variance.is_finite() && mean.is_finite()) {
            return Err(CupedFallback::InvalidCovariate);
        }
        if variance <= 0.0 {
            return Err(CupedFallback::AdjustedVarianceNotPositive);
        }
        Ok(Moments {
            n: raw.n,
            mean,
            unadjusted_mean: raw.unadjusted_mean,
            variance,
        })
    }
}

/// gbstats `compute_theta`: the two arms pooled as one sample.
fn theta(a: &Pair, b: &Pair, kind: MetricKind) -> Result<f64, CupedFallback> {
    let n = a.n + b.n;
    let post = variance(kind, n, a.y.sum + b.y.sum, a.y.sum_sq + b.y.sum_sq);
    let pre = variance(kind, n, a.x.sum + b.x.sum, a.x.sum_sq + b.x.sum_sq);
    // `is_nan` too: 0/0 from sums that cancel exactly is no variance either.
    if pre <= 0.0 || pre.is_nan() {
        return Err(CupedFallback::CovariateWithoutVariance);
    }
    if post <= 0.0 || post.is_nan() {
        return Err(CupedFallback::MetricWithoutVariance);
    }
    let theta = covariance(n, a.xy + b.xy, a.y.sum + b.y.sum, a.x.sum + b.x.sum) / pre;
    if !theta.is_finite() {
        return Err(CupedFallback::InvalidCovariate);
    }
    if theta == 0.0 {
        return Err(CupedFallback::Uncorrelated);
    }
    Ok(theta)
}

/// A statistic's per-identity variance as gbstats computes it for `kind` (`ProportionStatistic`:
/// `p(1 − p)`; `SampleMeanStatistic`: `(Σ² − (Σ)²/n)/(n − 1)`).
fn variance(kind: MetricKind, n: f64, sum: f64, sum_sq: f64) -> f64 {
    match kind {
        MetricKind::Conversion => {
            let p = sum / n;
            p * (1.0 - p)
        }
        MetricKind::Numeric => (sum_sq - sum * sum / n) / (n - 1.0),
    }
}

/// The sample covariance `(Σxy − Σy·Σx/n)/(n − 1)`.
fn covariance(n: f64, sum_product: f64, sum_y: f64, sum_x: f64) -> f64 {
    (sum_product - sum_y * sum_x / n) / (n - 1.0)
}
