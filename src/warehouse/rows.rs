//! Row shapes of the compiled queries (names and types are checked against the server's header).

use serde::Deserialize;

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
}

#[derive(Debug, clickhouse::Row, Deserialize)]
pub struct ProbeRow {
    pub exposures: u64,
}
