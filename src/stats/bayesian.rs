//! The Bayesian engine as gbstats 0.8.0 `EffectBayesianABTest`: a normal likelihood of the
//! difference (the same point and variance as the frequentist test, CUPED-adjusted or not) and a
//! [`Prior`] on the effect, which is flat unless `proper`; conjugate, so the posterior is normal.
//!
//! - The prior is stated on the relative lift; on the absolute scale its mean is scaled by
//!   `|control raw mean|` and its variance by the mean squared (gbstats `prior_type="relative"`).
//! - Posterior precision `1/V + 1/τ²` (flat: `1/V`), mean `(d/V + μ₀/τ²)/precision` (flat: `d`).
//! - Chance to win: the posterior mass on the good side of 0 (`P(effect > 0)`, or `< 0` when
//!   lower is better, gbstats' `inverse`).
//! - Credible interval: the posterior's `α/2` and `1 − α/2` quantiles.
//! - Risk (expected loss, gbstats `get_risk`): of choosing control `E[max(effect, 0)]`, of choosing
//!   the variant `E[max(−effect, 0)]`, swapped when lower is better. In closed form with
//!   `t = m/s`: `m·Φ(t) + s·φ(t)` and `s·φ(t) − m·Φ(−t)` (gbstats reaches the same numbers
//!   through truncated-normal means).

use serde::{Deserialize, Serialize};

use super::error::StatsError;
use super::moments::{finite, Difference, Scale};
use super::normal;

/// A normal prior on the relative lift.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Prior {
    /// `false`: a flat prior, the data alone decide (`mean`, `variance` are ignored).
    pub proper: bool,
    pub mean: f64,
    /// Must be positive and finite when `proper`.
    pub variance: f64,
}

impl Default for Prior {
    /// Flat, with GrowthBook's default proper shape (mean 0, standard deviation 0.3).
    fn default() -> Self {
        Prior {
            proper: false,
            mean: 0.0,
            variance: 0.09,
        }
    }
}

/// The expected loss of each decision, on the scale of its estimate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Risk {
    /// Expected loss of keeping control.
    pub control: f64,
    /// Expected loss of shipping the variant.
    pub treatment: f64,
}

/// The posterior summary of one difference.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Posterior {
    pub(crate) mean: f64,
    pub(crate) ci_lower: f64,
    pub(crate) ci_upper: f64,
    pub(crate) chance_to_win: f64,
    pub(crate) risk: Risk,
}

/// The posterior of `d` on `scale` under `prior`; `control_mean` is the control's raw mean (it
/// scales the prior to the absolute scale), `lower_is_better` flips the winning side.
pub(crate) fn posterior(
    d: Difference,
    scale: Scale,
    control_mean: f64,
    prior: &Prior,
    alpha: f64,
    lower_is_better: bool,
) -> Result<Posterior, StatsError> {
    let (prior_mean, prior_variance) = match scale {
        Scale::Relative => (prior.mean, prior.variance),
        Scale::Absolute => (
            prior.mean * control_mean.abs(),
            prior.variance * control_mean.powi(2),
        ),
    };
    // A relative prior says nothing about an absolute effect around a control mean of 0 (its
    // scaled variance is 0): the data alone decide there.
    let proper = prior.proper && prior_variance > 0.0 && prior_variance.is_finite();
    let precision = 1.0 / d.variance + if proper { 1.0 / prior_variance } else { 0.0 };
    let mean = if proper {
        (d.point / d.variance + prior_mean / prior_variance) / precision
    } else {
        d.point
    };
    let mean = finite(mean, "posterior mean")?;
    let sd = finite((1.0 / precision).sqrt(), "posterior standard deviation")?;
    if sd <= 0.0 {
        return Err(StatsError::NonFiniteResult("posterior standard deviation"));
    }

    let z = normal::upper_quantile(alpha / 2.0);
    let t = mean / sd;
    let (up, down) = (normal::cdf(t), normal::cdf(-t));
    let gain = mean * up + sd * normal::pdf(t);
    let loss = sd * normal::pdf(t) - mean * down;
    let (chance_to_win, risk) = if lower_is_better {
        (
            down,
            Risk {
                control: loss,
                treatment: gain,
            },
        )
    } else {
        (
            up,
            Risk {
                control: gain,
                treatment: loss,
            },
        )
    };
    Ok(Posterior {
        mean,
        ci_lower: finite(mean - z * sd, "interval bound")?,
        ci_upper: finite(mean + z * sd, "interval bound")?,
        chance_to_win: finite(chance_to_win, "chance to win")?,
        risk: Risk {
            // The closed forms cancel to a hair below 0 far in a tail; a loss is never negative.
            control: finite(risk.control, "risk")?.max(0.0),
            treatment: finite(risk.treatment, "risk")?.max(0.0),
        },
    })
}

/// A proper prior needs a finite mean and a positive, finite variance.
pub(crate) fn check_prior(prior: &Prior) -> Result<(), StatsError> {
    if !prior.proper
        || (prior.mean.is_finite() && prior.variance > 0.0 && prior.variance.is_finite())
    {
        Ok(())
    } else {
        Err(StatsError::InvalidPrior {
            mean: prior.mean,
            variance: prior.variance,
        })
    }
}
