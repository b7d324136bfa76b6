//! Row shapes of the compiled queries (names and types are checked against the server's header).

use serde::Deserialize;

use crate::domain::funnel_capping::KindNumbers;
use crate::domain::preview::PreviewCounts;
use crate::domain::results::{CovariateSums, DenominatorSums, VariantMetricStats};
use crate::stats::{ClusterSums, QuantileStats, VariantStats};

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
    pub step_reached: Vec<u64>,
    pub capped_identities: u64,
    pub cap_upper: Option<f64>,
    pub cap_lower: Option<f64>,
    /// QUANTILE metrics' columns (`sql/quantile.rs`), NULL for other metrics.
    pub quantile_level: Option<f64>,
    pub quantile_n: Option<u64>,
    pub quantile_nstar: Option<u64>,
    pub quantile: Option<f64>,
    pub quantile_lower: Option<f64>,
    pub quantile_upper: Option<f64>,
    pub quantile_main_sum: Option<f64>,
    pub quantile_main_sum_sq: Option<f64>,
    pub quantile_main_den_sum: Option<f64>,
    pub quantile_den_sum_sq: Option<f64>,
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
    pub step_reached: Vec<u64>,
    pub capped_identities: u64,
    pub cap_upper: Option<f64>,
    pub cap_lower: Option<f64>,
    pub quantile_level: Option<f64>,
    pub quantile_n: Option<u64>,
    pub quantile_nstar: Option<u64>,
    pub quantile: Option<f64>,
    pub quantile_lower: Option<f64>,
    pub quantile_upper: Option<f64>,
    pub quantile_main_sum: Option<f64>,
    pub quantile_main_sum_sq: Option<f64>,
    pub quantile_main_den_sum: Option<f64>,
    pub quantile_den_sum_sq: Option<f64>,
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
        let quantile = self.quantile_stats();
        let key = (self.metric as usize, self.variant);
        (
            key,
            VariantMetricStats {
                stats,
                covariate: None,
                kinds: KindNumbers {
                    step_reached: self.step_reached,
                    capped_identities: self.capped_identities,
                    cap_upper: self.cap_upper,
                    cap_lower: self.cap_lower,
                },
                denominator,
                quantile,
            },
        )
    }

    /// A QUANTILE metric's arm: `None` for other metrics, and when the arm has no value.
    fn quantile_stats(&self) -> Option<QuantileStats> {
        let clusters = match (
            self.quantile_main_sum,
            self.quantile_main_sum_sq,
            self.quantile_main_den_sum,
            self.quantile_den_sum_sq,
        ) {
            (Some(main_sum), Some(main_sum_sq), Some(main_den_sum), Some(den_sum_sq)) => {
                Some(ClusterSums {
                    clusters: self.n,
                    main_sum,
                    main_sum_sq,
                    den_sum: self.quantile_n? as f64,
                    den_sum_sq,
                    main_den_sum,
                })
            }
            _ => None,
        };
        Some(QuantileStats {
            n: self.quantile_n?,
            n_star: self.quantile_nstar?,
            level: self.quantile_level?,
            quantile: self.quantile?,
            lower: self.quantile_lower?,
            upper: self.quantile_upper?,
            clusters,
        })
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
            step_reached: self.step_reached,
            capped_identities: self.capped_identities,
            cap_upper: self.cap_upper,
            cap_lower: self.cap_lower,
            quantile_level: self.quantile_level,
            quantile_n: self.quantile_n,
            quantile_nstar: self.quantile_nstar,
            quantile: self.quantile,
            quantile_lower: self.quantile_lower,
            quantile_upper: self.quantile_upper,
            quantile_main_sum: self.quantile_main_sum,
            quantile_main_sum_sq: self.quantile_main_sum_sq,
            quantile_main_den_sum: self.quantile_main_den_sum,
            quantile_den_sum_sq: self.quantile_den_sum_sq,
        }
        .into_entry();
        (key, VariantMetricStats { covariate, ..plain })
    }
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct ProbeRow {
    pub exposures: u64,
}

/// The one row of a metric preview (`sql::compile_preview`).
#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct PreviewRow {
    pub matching_events: u64,
    pub identities: u64,
    pub identities_in_period: u64,
    pub identities_with_value: u64,
    pub value_quantiles: Vec<f64>,
    pub max_value: f64,
    pub event_rows: u64,
    pub property_rows: Vec<u64>,
    pub values_not_numeric: u64,
}

impl PreviewRow {
    pub fn into_counts(self) -> PreviewCounts {
        PreviewCounts {
            matching_events: self.matching_events,
            identities: self.identities,
            identities_in_period: self.identities_in_period,
            identities_with_value: self.identities_with_value,
            quantiles: self.value_quantiles,
            max: self.max_value,
            event_rows: self.event_rows,
            property_rows: self.property_rows,
            values_not_numeric: self.values_not_numeric,
        }
    }
}
