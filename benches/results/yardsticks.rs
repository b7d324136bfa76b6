//! The queries lift's are measured against and checked with, written by hand over `{table}`:
//! - the plain scan: the rows and columns the metrics query reads, counted (the physical floor of
//!   any query over them);
//! - the per-identity floor: one `GROUP BY identifier` over the same rows computing the assignment
//!   (`argMinIf`, `minIf`) and one `countIf`: what any per-identity computation costs at least;
//! - the check: an independent computation of the five metrics, written the straightforward way
//!   (`SELECT DISTINCT` of the metric events by natural key, a sort-merge `LEFT JOIN` to the
//!   assignments, per-identity aggregates), deliberately not lift's shape, so that agreeing with
//!   it means something. It is timed once and not compared for speed; it may use more memory.

use chrono::{DateTime, Duration, Utc};

use crate::generate::{ENVIRONMENT, EXPOSURE_EVENT, FEATURE};
use crate::scope::{end, start, PRO_WINDOW_SECONDS};

fn literal(instant: DateTime<Utc>) -> String {
    format!(
        "toDateTime64('{}', 3, 'UTC')",
        instant.format("%Y-%m-%d %H:%M:%S%.3f")
    )
}

/// The range both lift's metrics query and these read.
fn range() -> String {
    format!(
        "environment_key = '{ENVIRONMENT}'
    AND event IN ('{EXPOSURE_EVENT}', 'purchase', 'pageview')
    AND timestamp >= {start}
    AND timestamp <= {scan_end}",
        start = literal(start()),
        scan_end = literal(end() + Duration::seconds(PRO_WINDOW_SECONDS)),
    )
}

pub fn plain_scan(table: &str) -> String {
    format!(
        "SELECT count()
FROM {table}
WHERE {range}
    AND NOT ignore(identifier, value, metadata, feature_name)",
        range = range()
    )
}

pub fn per_identity_floor(table: &str) -> String {
    format!(
        "SELECT count(), sum(variant = 'control'), sum(toUnixTimestamp64Milli(first_exposure) % 7), sum(purchases)
FROM (
    SELECT
        argMinIf(value, (timestamp, value),
            (event = '{EXPOSURE_EVENT}' AND feature_name = '{FEATURE}' AND timestamp <= {end}) AS is_exposure) AS variant,
        minIf(timestamp, is_exposure) AS first_exposure,
        countIf(event = 'purchase') AS purchases
    FROM {table}
    WHERE {range}
    GROUP BY identifier
)",
        end = literal(end()),
        range = range()
    )
}

/// Columns `metric, variant, n, sum, sum_sq`, like lift's metrics query, over the plain table.
pub fn check(table: &str) -> String {
    let end_at = literal(end());
    let in_range = format!("d.timestamp >= f.first_exposure AND d.timestamp <= {end_at}");
    let purchase = format!("d.event = 'purchase' AND {in_range}");
    let amount = "ifNull(toFloat64OrNull(d.value), nan)";
    format!(
        "WITH
first_exposures AS (
    SELECT
        identifier,
        argMin(value, (timestamp, value)) AS variant,
        min(timestamp) AS first_exposure,
        uniqExact(value) AS variants
    FROM {table}
    WHERE environment_key = '{ENVIRONMENT}' AND event = '{EXPOSURE_EVENT}'
        AND feature_name = '{FEATURE}'
        AND timestamp >= {start} AND timestamp <= {end_at}
    GROUP BY identifier
    HAVING variants = 1 AND variant IN ('control', 'treatment')
),
distinct_events AS (
    SELECT DISTINCT identifier, event, feature_name, timestamp, value, metadata
    FROM {table}
    WHERE environment_key = '{ENVIRONMENT}' AND event IN ('purchase', 'pageview')
        AND timestamp >= {start} AND timestamp <= {scan_end}
),
per_identity AS (
    SELECT
        f.identifier,
        any(f.variant) AS variant,
        max({purchase}) AS purchased,
        sum(if({purchase} AND isFinite({amount}), {amount}, 0)) AS amount_sum,
        sum({purchase} AND isFinite({amount})) AS amounts,
        max(d.event = 'purchase' AND d.timestamp >= f.first_exposure
            AND d.timestamp < f.first_exposure + INTERVAL {window} SECOND
            AND JSONType(d.metadata, 'plan') = 'String' AND JSONExtractString(d.metadata, 'plan') = 'pro') AS pro,
        sum(d.event = 'pageview' AND {in_range}) AS pageviews
    FROM first_exposures AS f
    LEFT JOIN distinct_events AS d ON d.identifier = f.identifier
    GROUP BY f.identifier
)
SELECT toUInt32(m.1) AS metric, variant, count() AS n, sum(m.2) AS sum, sum(m.2 * m.2) AS sum_sq
FROM per_identity
ARRAY JOIN [
    (0, toFloat64(purchased)),
    (1, amount_sum),
    (2, if(amounts = 0, nan, amount_sum / amounts)),
    (3, toFloat64(pro)),
    (4, toFloat64(pageviews))
] AS m
WHERE NOT isNaN(m.2)
GROUP BY metric, variant
ORDER BY metric, variant
SETTINGS join_algorithm = 'full_sorting_merge', max_bytes_before_external_sort = 1000000000",
        start = literal(start()),
        scan_end = literal(end() + Duration::seconds(PRO_WINDOW_SECONDS)),
        window = PRO_WINDOW_SECONDS,
    )
}
