//! The one entry point the results code calls per (metric, variant): [`analyze`] compares a
//! treatment arm with the control under a [`Spec`] (metric kind, [`Method`], CUPED on or off,
//! which way is better) and returns the adjusted comparison the verdict uses, the unadjusted one
//! beside it, and what CUPED did ([`Cuped`]). Every number reproduces gbstats 0.8.0
//! (`tests/stats/analysis.json`).
//!
//! With more than two arms, call it once per treatment: gbstats compares each variation with the
//! baseline alone and pools CUPED's `θ` over those two arms only, which is what one call does.
//!
//! Where lift departs from gbstats, on inputs gbstats answers with an uninformative default
//! (`expected 0, ci [0, 0]`) or not at all, none of which the fixture holds:
//! - one arm with zero variance is tested against the other's; a control mean of 0 still gives
//!   the absolute comparison (the relative one is `None`);
//! - CUPED falls back to the unadjusted test, saying why ([`super::cuped::CupedFallback`]), also
//!   when covariate sums are missing or invalid or an adjusted variance is not positive;
//! - p-values and chances to win come from the tails directly, not `1 − cdf`, so they keep their
//!   digits when tiny; a sequential p-value does not overflow to 0;
//! - gbstats' runner (`get_configured_test`) does not pass α to the Bayesian test, whose
//!   credible intervals then stay at 95 %; lift honours `alpha` there too;
//! - a proper prior around a control mean of 0 cannot be scaled to the absolute scale: the
//!   absolute posterior is then the flat one (gbstats divides by zero).

use serde::{Deserialize, Serialize};

use super::arm::ArmSums;
use super::bayesian::{check_prior, posterior, Prior, Risk};
use super::cuped::{adjust, Cuped, CupedFallback};
use super::error::StatsError;
use super::fixed::{check_alpha, welch};
use super::moments::{difference, Moments, Scale};
use super::sequential::{self, check_tuning};
use super::sufficient::MetricKind;
use super::ttest::{compare, Comparison, Estimate};
use super::verdict::GoodDirection;

/// How the effect is tested.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Method {
    /// Fixed-horizon Welch t-test (gbstats `TwoSidedTTest`), `1 − alpha` intervals.
    Fixed { alpha: f64 },
    /// Always-valid confidence sequences (gbstats `SequentialTwoSidedTTest`); `tuning` is the
    /// number of identities (both arms) at which the sequence is tightest.
    Sequential { alpha: f64, tuning: f64 },
    /// Bayesian posterior (gbstats `EffectBayesianABTest`), `1 − alpha` credible intervals.
    Bayesian { alpha: f64, prior: Prior },
}

/// Everything [`analyze`] needs besides the arms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub kind: MetricKind,
    pub method: Method,
    /// Adjust by the pre-exposure covariate when the arms carry one.
    pub cuped: bool,
    /// Which side of 0 a Bayesian chance to win and risk count as good; `Informational` counts
    /// as `Up`. The frequentist numbers do not depend on it.
    pub direction: GoodDirection,
}

/// One difference with its interval and the engine's measures of evidence.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// The point estimate; under the Bayesian engine the posterior mean (shrunk by a proper prior).
    pub estimate: f64,
    pub ci_lower: f64,
    pub ci_upper: f64,
    /// Frequentist engines only.
    pub p_value: Option<f64>,
    /// Bayesian engine only: the posterior probability the variant is better.
    pub chance_to_win: Option<f64>,
    /// Bayesian engine only.
    pub risk: Option<Risk>,
}

/// A comparison on both scales.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Effects {
    /// `mean_b − mean_a`.
    pub absolute: Effect,
    /// `mean_b / mean_a − 1`; `None` when the control's raw mean is 0, or the treatment is
    /// constant at 0, as in [`Comparison`].
    pub relative: Option<Effect>,
}

/// What [`analyze`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The comparison verdicts use: CUPED-adjusted when [`Cuped::Applied`], else the unadjusted.
    pub adjusted: Effects,
    /// The same test on the raw means and variances.
    pub unadjusted: Effects,
    pub cuped: Cuped,
}

impl Analysis {
    /// `Some` when CUPED was applied.
    pub fn variance_reduction(&self) -> Option<f64> {
        match self.cuped {
            Cuped::Applied {
                variance_reduction, ..
            } => Some(variance_reduction),
            _ => None,
        }
    }
}

/// Compares `treatment` with `control` under `spec`.
///
/// Errors as [`compare`] does on the metric's sums (fewer than 2 identities, non-finite or
/// inconsistent sums, zero variance in both arms), on an invalid `alpha`, sequential tuning or
/// proper prior, or when an unadjusted result would not be finite. A covariate problem never
/// errors: CUPED falls back to the unadjusted comparison and says why.
pub fn analyze(
    control: &ArmSums,
    treatment: &ArmSums,
    spec: &Spec,
) -> Result<Analysis, StatsError> {
    check_method(&spec.method)?;
    let a = Moments::of(&control.metric(), spec.kind, "control")?;
    let b = Moments::of(&treatment.metric(), spec.kind, "treatment")?;
    if a.variance == 0.0 && b.variance == 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let unadjusted = test(&a, &b, spec)?;
    if !spec.cuped {
        return Ok(Analysis {
            adjusted: unadjusted,
            unadjusted,
            cuped: Cuped::Off,
        });
    }
    let fell_back = |reason| Analysis {
        adjusted: unadjusted,
        unadjusted,
        cuped: Cuped::FellBack(reason),
    };
    let adjusted = match adjust(control, treatment, spec.kind, (&a, &b)) {
        Ok(adjusted) => adjusted,
        Err(reason) => return Ok(fell_back(reason)),
    };
    let (c, t) = (&adjusted.control, &adjusted.treatment);
    let raw_variance = difference(&a, &b, Scale::Absolute)?.map(|d| d.variance);
    let new_variance = difference(c, t, Scale::Absolute).map(|d| d.map(|d| d.variance));
    // The adjusted moments are finite with positive variances, so only covariates of absurd
    // magnitude (an overflowing variance or interval) fail here; the unadjusted comparison still
    // stands.
    let (Ok(Some(new)), Some(raw), Ok(adjusted_effects)) =
        (new_variance, raw_variance, test(c, t, spec))
    else {
        return Ok(fell_back(CupedFallback::InvalidCovariate));
    };
    let variance_reduction = 1.0 - new / raw;
    Ok(Analysis {
        adjusted: adjusted_effects,
        unadjusted,
        cuped: Cuped::Applied {
            theta: adjusted.theta,
            variance_reduction,
        },
    })
}

/// The Welch p-value of the covariate's means, variant against control: the PRE_EXPOSURE_BIAS
/// check (randomisation should leave pre-exposure behaviour balanced). It is [`compare`] on the
/// covariate's `VariantStats { n, Σx, Σx² }` (its absolute p-value, which does not depend on
/// α). `None` when an arm has no covariate; `Err(ZeroVariance)` when no identity in either arm
/// has pre-period activity (nothing to compare).
pub fn pre_exposure_p_value(
    control: &ArmSums,
    treatment: &ArmSums,
    kind: MetricKind,
) -> Result<Option<f64>, StatsError> {
    match (control.covariate_stats(), treatment.covariate_stats()) {
        (Some(a), Some(b)) => Ok(Some(compare(&a, &b, kind, 0.05)?.absolute.p_value)),
        _ => Ok(None),
    }
}

pub(crate) fn check_method(method: &Method) -> Result<(), StatsError> {
    match method {
        Method::Fixed { alpha } => check_alpha(*alpha),
        Method::Sequential { alpha, tuning } => {
            check_alpha(*alpha)?;
            check_tuning(*tuning)
        }
        Method::Bayesian { alpha, prior } => {
            check_alpha(*alpha)?;
            check_prior(prior)
        }
    }
}

/// Compares two arms of a statistic CUPED does not adjust (a ratio's delta method, a quantile's
/// order statistics) with the same tests as [`analyze`]; with `spec.cuped` the result says why
/// CUPED fell back. The method is checked by the caller, before it reads the arms.
pub(crate) fn analyze_unadjusted(
    a: &Moments,
    b: &Moments,
    spec: &Spec,
    fallback: CupedFallback,
) -> Result<Analysis, StatsError> {
    if a.variance == 0.0 && b.variance == 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let effects = test(a, b, spec)?;
    Ok(Analysis {
        adjusted: effects,
        unadjusted: effects,
        cuped: if spec.cuped {
            Cuped::FellBack(fallback)
        } else {
            Cuped::Off
        },
    })
}

/// `spec.method` on moments `a` (control) and `b` (treatment).
pub(crate) fn test(a: &Moments, b: &Moments, spec: &Spec) -> Result<Effects, StatsError> {
    match spec.method {
        Method::Fixed { alpha } => Ok(frequentist(welch(a, b, alpha)?)),
        Method::Sequential { alpha, tuning } => {
            let n = a.n + b.n;
            let at = |scale| {
                difference(a, b, scale)?
                    .map(|d| sequential::interval(d, n, alpha, tuning))
                    .transpose()
            };
            let absolute = at(Scale::Absolute)?.ok_or(StatsError::ZeroVariance)?;
            Ok(frequentist(Comparison {
                absolute,
                relative: at(Scale::Relative)?,
            }))
        }
        Method::Bayesian { alpha, prior } => {
            let lower_is_better = spec.direction == GoodDirection::Down;
            let at = |scale| -> Result<Option<Effect>, StatsError> {
                let Some(d) = difference(a, b, scale)? else {
                    return Ok(None);
                };
                let p = posterior(d, scale, a.unadjusted_mean, &prior, alpha, lower_is_better)?;
                Ok(Some(Effect {
                    estimate: p.mean,
                    ci_lower: p.ci_lower,
                    ci_upper: p.ci_upper,
                    p_value: None,
                    chance_to_win: Some(p.chance_to_win),
                    risk: Some(p.risk),
                }))
            };
            let absolute = at(Scale::Absolute)?.ok_or(StatsError::ZeroVariance)?;
            Ok(Effects {
                absolute,
                relative: at(Scale::Relative)?,
            })
        }
    }
}

fn frequentist(comparison: Comparison) -> Effects {
    let effect = |e: Estimate| Effect {
        estimate: e.estimate,
        ci_lower: e.ci_lower,
        ci_upper: e.ci_upper,
        p_value: Some(e.p_value),
        chance_to_win: None,
        risk: None,
    };
    Effects {
        absolute: effect(comparison.absolute),
        relative: comparison.relative.map(effect),
    }
}
