//! One arm's sums as the metrics query returns them with CUPED: the metric's `n`, `Σy`, `Σy²`
//! and, when the pre-exposure covariate was computed, its `Σx`, `Σx²` and `Σxy`.

use serde::{Deserialize, Serialize};

use super::sufficient::VariantStats;

/// The covariate's sums for one arm: `x` is the same metric over the lookback before each
/// identity's first exposure (0 for an identity without pre-period events), `y` the metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CovariateSums {
    /// `Σx`.
    pub sum: f64,
    /// `Σx²`; for a conversion metric `x` is 0/1, so it equals `Σx` (and is not read).
    pub sum_sq: f64,
    /// `Σxy` over the same identities.
    pub sum_product: f64,
}

/// One arm of a comparison: the metric's sufficient statistics and, optionally, the covariate's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ArmSums {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
    /// `None` when the query did not compute a covariate (CUPED then falls back, saying so).
    #[serde(default)]
    pub covariate: Option<CovariateSums>,
}

impl ArmSums {
    /// The metric's own sufficient statistics.
    pub fn metric(&self) -> VariantStats {
        VariantStats {
            n: self.n,
            sum: self.sum,
            sum_sq: self.sum_sq,
        }
    }

    /// The covariate's sufficient statistics over the same identities, for a balance check
    /// (see [`super::analysis::pre_exposure_p_value`]).
    pub fn covariate_stats(&self) -> Option<VariantStats> {
        self.covariate.map(|c| VariantStats {
            n: self.n,
            sum: c.sum,
            sum_sq: c.sum_sq,
        })
    }
}

impl From<VariantStats> for ArmSums {
    fn from(stats: VariantStats) -> Self {
        ArmSums {
            n: stats.n,
            sum: stats.sum,
            sum_sq: stats.sum_sq,
            covariate: None,
        }
    }
}
