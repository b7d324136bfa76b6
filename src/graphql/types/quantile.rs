//! A QUANTILE metric's per-variant quantile, as results report it.

use async_graphql::SimpleObject;

use crate::stats::QuantileStats;

/// The variant's quantile of the metric's values (over identities' sums or over events), and
/// the order-statistic bounds its variance is computed from (as gbstats 0.8.0).
#[derive(SimpleObject)]
pub struct QuantileStatistics {
    /// The quantile level ν.
    pub level: f64,
    /// The quantile: linear interpolation between the order statistics around (n − 1)·ν.
    pub value: f64,
    /// The quantile at ν − z·√(ν(1 − ν)/n*) (z = Φ⁻¹(0.975)).
    pub lower: f64,
    /// The quantile at ν + z·√(ν(1 − ν)/n*).
    pub upper: f64,
    /// How many values the quantile is over (identities, or events).
    pub n: u64,
    /// The order-statistic sample size the bounds are taken at (GrowthBook's grid 100·2ᵏ).
    pub n_star: u64,
    /// The variance per value the comparisons use (clustered by identity for event quantiles).
    pub variance: f64,
}

impl From<&QuantileStats> for QuantileStatistics {
    fn from(q: &QuantileStats) -> Self {
        QuantileStatistics {
            level: q.level,
            value: q.quantile,
            lower: q.lower,
            upper: q.upper,
            n: q.n,
            n_star: q.n_star,
            variance: q.variance(),
        }
    }
}
