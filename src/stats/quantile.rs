//! QUANTILE metrics as gbstats 0.8.0: an arm's quantile and its variance (`QuantileStatistic`
//! for a quantile of identities' values, `QuantileClusteredStatistic` for a quantile of events,
//! whose identities are clusters of values), then the same fixed-horizon, sequential or Bayesian
//! test as every metric, on the quantiles' difference (`tests/stats/quantile.json`).
//!
//! The variance is the order-statistic one: `(n*/n)·(n − 1)·((upper − lower)/(2z))²` with
//! `z = Φ⁻¹(0.975)`, `lower` and `upper` the quantiles at `ν ∓ z·√(ν(1 − ν)/n*)` (the query's
//! `quantile.rs`); for events it is scaled by the clusters' variance of the share of values below
//! the quantile over its i.i.d. value `ν(1 − ν)/n` (delta method on `ΣSᵢ/ΣNᵢ`). Below 100 values
//! the variance is used as is, from 100 on it is at least 1e−5.
//!
//! What gbstats answers with an uninformative default, lift refuses with a typed error (the
//! comparison is then not computed, and the verdict is NOT_ENOUGH_DATA): an arm with too few
//! values for its quantile's interval to lie inside (0, 1) (`n ≤ z²·ν/(1 − ν)` or
//! `n ≤ z²·(1 − ν)/ν`), or without variance below 1000 values. CUPED does not apply (gbstats has
//! no regression-adjusted quantile): a requested CUPED falls back with
//! [`CupedFallback::QuantileMetric`].

use serde::{Deserialize, Serialize};

use super::analysis::{analyze_unadjusted, check_method, Analysis, Spec};
use super::cuped::CupedFallback;
use super::error::StatsError;
use super::moments::Moments;

/// `Φ⁻¹(0.975)` as scipy computes it (gbstats' multiplier).
pub const Z_975: f64 = 1.959963984540054;

/// One arm of a QUANTILE metric, as the metrics query returns it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QuantileStats {
    /// How many values the quantile is over (identities, or events).
    pub n: u64,
    /// The order-statistic sample size the bounds were taken at.
    pub n_star: u64,
    /// The level `ν`.
    pub level: f64,
    pub quantile: f64,
    pub lower: f64,
    pub upper: f64,
    /// For a quantile of events: the identities' cluster sums.
    pub clusters: Option<ClusterSums>,
}

/// Per arm, over its identities `i` with `Nᵢ` values of which `Sᵢ` are at most the quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClusterSums {
    /// Identities (clusters), those without values included.
    pub clusters: u64,
    /// `ΣSᵢ`.
    pub main_sum: f64,
    /// `ΣSᵢ²`.
    pub main_sum_sq: f64,
    /// `ΣNᵢ` (the arm's `n`).
    pub den_sum: f64,
    /// `ΣNᵢ²`.
    pub den_sum_sq: f64,
    /// `ΣSᵢNᵢ`.
    pub main_den_sum: f64,
}

impl QuantileStats {
    /// gbstats `variance_init`: the order-statistic variance, scaled for clusters.
    fn variance_init(&self) -> f64 {
        if self.n <= 1 {
            return 0.0;
        }
        let n = self.n as f64;
        let spread = (self.upper - self.lower) / (2.0 * Z_975);
        let iid = (self.n_star as f64 / n) * (n - 1.0) * spread.powi(2);
        let Some(c) = &self.clusters else {
            return iid;
        };
        if self.level == 0.0 || c.clusters <= 1 || c.den_sum <= 0.0 {
            return 0.0;
        }
        iid * c.share_variance() / (self.level * (1.0 - self.level) / n)
    }

    /// gbstats `variance`: at least 1e−5 from 100 values on.
    pub fn variance(&self) -> f64 {
        let init = self.variance_init();
        if self.n < 100 {
            init
        } else {
            init.max(1e-5)
        }
    }

    /// gbstats `_has_zero_variance`, as an error naming `arm`.
    fn check(&self, arm: &'static str) -> Result<(), StatsError> {
        let z2 = Z_975 * Z_975;
        let n = self.n as f64;
        let odds = self.level / (1.0 - self.level);
        if n <= z2 * odds || n <= z2 / odds {
            // The smallest `n` above both limits.
            let required = (z2 * odds.max(1.0 / odds)).floor() as u64 + 1;
            return Err(StatsError::TooFewObservations {
                arm,
                n: self.n,
                required,
            });
        }
        if self.variance_init() <= 0.0 && self.n < 1000 {
            return Err(StatsError::ZeroVariance);
        }
        Ok(())
    }

    fn moments(&self, arm: &'static str) -> Result<Moments, StatsError> {
        for (field, value) in [
            ("quantile", self.quantile),
            ("quantile_lower", self.lower),
            ("quantile_upper", self.upper),
            ("quantile_level", self.level),
        ] {
            if !value.is_finite() {
                return Err(StatsError::NonFiniteInput { arm, field });
            }
        }
        self.check(arm)?;
        let variance = self.variance();
        if !variance.is_finite() {
            return Err(StatsError::NonFiniteResult("quantile variance"));
        }
        Ok(Moments {
            n: self.n as f64,
            mean: self.quantile,
            unadjusted_mean: self.quantile,
            variance,
        })
    }
}

impl ClusterSums {
    /// gbstats `get_cluster_variance`: the delta-method variance of `ΣSᵢ/ΣNᵢ` over clusters.
    fn share_variance(&self) -> f64 {
        let k = self.clusters as f64;
        let mu_s = self.main_sum / k;
        let mu_n = self.den_sum / k;
        let var_s = (self.main_sum_sq / k - mu_s * mu_s) * k / (k - 1.0);
        let var_n = (self.den_sum_sq / k - mu_n * mu_n) * k / (k - 1.0);
        let cov = (self.main_den_sum / k - mu_s * mu_n) * k / (k - 1.0);
        let num = var_s - 2.0 * mu_s * cov / mu_n + mu_s.powi(2) * var_n / mu_n.powi(2);
        num / (k * mu_n.powi(2))
    }
}

/// Compares two arms' quantiles under `spec` (the method's checks as [`super::analyze`]). CUPED,
/// when asked for, falls back ([`CupedFallback::QuantileMetric`]).
pub fn analyze_quantile(
    control: &QuantileStats,
    treatment: &QuantileStats,
    spec: &Spec,
) -> Result<Analysis, StatsError> {
    check_method(&spec.method)?;
    let a = control.moments("control")?;
    let b = treatment.moments("treatment")?;
    analyze_unadjusted(&a, &b, spec, CupedFallback::QuantileMetric)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::cuped::Cuped;
    use crate::stats::{GoodDirection, Method, MetricKind};

    fn arm(n: u64, quantile: f64, lower: f64, upper: f64) -> QuantileStats {
        QuantileStats {
            n,
            n_star: 100,
            level: 0.9,
            quantile,
            lower,
            upper,
            clusters: None,
        }
    }

    fn spec(cuped: bool) -> Spec {
        Spec {
            kind: MetricKind::Numeric,
            method: Method::Fixed { alpha: 0.05 },
            cuped,
            direction: GoodDirection::Up,
        }
    }

    #[test]
    fn too_few_values_for_the_interval_are_refused_naming_the_arm() {
        // z²·9 = 34.57…: 34 values are too few at the 90th percentile, 35 are enough.
        let err = analyze_quantile(
            &arm(34, 5.0, 4.0, 6.0),
            &arm(40, 6.0, 5.0, 7.0),
            &spec(false),
        );
        assert_eq!(
            err,
            Err(StatsError::TooFewObservations {
                arm: "control",
                n: 34,
                required: 35
            })
        );
        assert!(analyze_quantile(
            &arm(35, 5.0, 4.0, 6.0),
            &arm(40, 6.0, 5.0, 7.0),
            &spec(false)
        )
        .is_ok());
    }

    #[test]
    fn cuped_falls_back_with_its_reason_and_changes_nothing() {
        let (a, b) = (arm(200, 5.0, 4.0, 6.0), arm(220, 6.0, 5.0, 7.5));
        let off = analyze_quantile(&a, &b, &spec(false)).unwrap();
        let on = analyze_quantile(&a, &b, &spec(true)).unwrap();
        assert_eq!(on.cuped, Cuped::FellBack(CupedFallback::QuantileMetric));
        assert_eq!(on.adjusted, off.adjusted);
    }

    #[test]
    fn the_variance_has_a_floor_from_100_values_on() {
        let flat = arm(100, 5.0, 5.0, 5.0);
        assert_eq!(flat.variance(), 1e-5);
        assert_eq!(arm(99, 5.0, 5.0, 5.0).variance(), 0.0);
    }
}
