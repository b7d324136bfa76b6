//! Row shapes of the compiled queries (names and types are checked against the server's header).

use serde::Deserialize;

use crate::domain::results::{CovariateSums, DenominatorSums, VariantMetricStats};
use crate::stats::VariantStats;

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct ExposureRow {
    pub variant: String,
    pub identities: u64,
    pub multiple_exposures: u64,
    pub unknown_variant: u64,
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct MetricRow {
    pub metric: u32,
    pub variant: String,
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
    /// RATIO metrics: Σd, Σd², Σm·d (NULL for other metrics; `sum`, `sum_sq` are the numerators').
    pub den_sum: Option<f64>,
    pub den_sum_sq: Option<f64>,
    pub num_den_sum: Option<f64>,
}

/// A metrics row with CUPED (`ResultsScope::cuped_lookback` set): the covariate's sums too, NULL
/// for metrics without a covariate (MEAN).
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct CupedMetricRow {
    pub metric: u32,
    pub variant: String,
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
    pub den_sum: Option<f64>,
    pub den_sum_sq: Option<f64>,
    pub num_den_sum: Option<f64>,
    pub sum_x: Option<f64>,
    pub sum_x2: Option<f64>,
    pub sum_xy: Option<f64>,
}

impl MetricRow {
    /// `(metric index, variant)` and its statistics (a RATIO metric's with its denominator sums),
    /// without a covariate.
    pub fn into_entry(self) -> ((usize, String), VariantMetricStats) {
        let stats = VariantStats {
            n: self.n,
            sum: self.sum,
            sum_sq: self.sum_sq,
        };
        let denominator = match (self.den_sum, self.den_sum_sq, self.num_den_sum) {
            (Some(sum), Some(sum_sq), Some(sum_product)) => Some(DenominatorSums {
                sum,
                sum_sq,
                sum_product,
            }),
            _ => None,
        };
        let key = (self.metric as usize, self.variant);
        (
            key,
            VariantMetricStats {
                stats,
                covariate: None,
                denominator,
            },
        )
    }
}

impl CupedMetricRow {
    /// `(metric index, variant)` and its statistics, with the covariate's sums when it has them.
    pub fn into_entry(self) -> ((usize, String), VariantMetricStats) {
        let covariate = match (self.sum_x, self.sum_x2, self.sum_xy) {
            (Some(sum_x), Some(sum_x2), Some(sum_xy)) => Some(CovariateSums {
                sum: sum_x,
                sum_sq: sum_x2,
                sum_product: sum_xy,
            }),
            _ => None,
        };
        let (key, plain) = MetricRow {
            metric: self.metric,
            variant: self.variant,
            n: self.n,
            sum: self.sum,
            sum_sq: self.sum_sq,
            den_sum: self.den_sum,
            den_sum_sq: self.den_sum_sq,
            num_den_sum: self.num_den_sum,
        }
        .into_entry();
        (key, VariantMetricStats { covariate, ..plain })
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct ProbeRow {
    pub exposures: u64,
}
