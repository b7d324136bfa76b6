//! The yardstick: the same five metrics written by hand as one scan of the events table.
//!
//! One read of `(environment_key, event IN [exposure, purchase, pageview], timestamp range)` on
//! the sort-key prefix, grouped by identity: the exposure columns become the identity's
//! assignment (`argMinIf` on `(timestamp, value)`, `minIf`; "saw several variants" is
//! `minIf(value) != maxIf(value)`, cheaper than a `uniqExact` set per identity), the metric events
//! become two small per-identity arrays of `(timestamp, value, metadata)`, deduplicated with
//! `arrayDistinct` (the natural key within one identity and event name). Windows, the filter and
//! the per-aggregation values are then array functions of those arrays and the first exposure,
//! and a final `ARRAY JOIN` + `GROUP BY` gives `n, sum, sum_sq` per (metric, variant).
//! Same semantics as lift's compiled query: first exposure in `[start, end]`, EXCLUDE identities
//! that saw several variants, drop unknown variants, count events at or after the first exposure
//! up to `end` (inclusive) or within `[first exposure, + 3 days)` for the windowed metric, string
//! filter only on JSON strings, SUM 0 and MEAN absent (not counted) without a usable value.

use chrono::{DateTime, Duration, Utc};

use crate::generate::{ENVIRONMENT, EXPOSURE_EVENT, FEATURE};
use crate::scope::{end, start, PRO_WINDOW_SECONDS};

fn literal(instant: DateTime<Utc>) -> String {
    format!(
        "toDateTime64('{}', 3, 'UTC')",
        instant.format("%Y-%m-%d %H:%M:%S%.3f")
    )
}

/// The query, over `database.events`; columns `metric, variant, n, sum, sum_sq`.
pub fn metrics_sql(database: &str) -> String {
    let scan_end = end() + Duration::seconds(PRO_WINDOW_SECONDS);
    format!(
        "SELECT
    toUInt32(i - 1) AS metric,
    variant,
    count() AS n,
    sum(assumeNotNull(x)) AS sum,
    sum(assumeNotNull(x) * assumeNotNull(x)) AS sum_sq
FROM (
    SELECT
        variant,
        arrayFilter(p -> p.1 >= fe AND p.1 <= {end}, purchases) AS bought,
        arrayFilter(v -> isFinite(v), arrayMap(p -> ifNull(toFloat64OrNull(p.2), nan), bought)) AS amounts,
        [
            toFloat64(notEmpty(bought)),
            arraySum(amounts),
            if(empty(amounts), NULL, arrayAvg(amounts)),
            toFloat64(arrayExists(p -> p.1 >= fe AND p.1 < fe + toIntervalSecond({window})
                AND JSONType(p.3, 'plan') = 'String' AND JSONExtractString(p.3, 'plan') = 'pro', purchases)),
            toFloat64(arrayCount(t -> t >= fe AND t <= {end}, pageviews))
        ] AS metric_values
    FROM (
        SELECT
            argMinIf(value, (timestamp, value),
                (event = '{exposure}' AND feature_name = '{feature}' AND timestamp <= {end}) AS is_exposure) AS variant,
            minIf(timestamp, is_exposure) AS fe,
            minIf(value, is_exposure) = maxIf(value, is_exposure) AND countIf(is_exposure) > 0 AS one_variant,
            arrayDistinct(groupArrayIf((timestamp, value, metadata), event = 'purchase')) AS purchases,
            arrayMap(p -> p.1, arrayDistinct(groupArrayIf((timestamp, value, metadata), event = 'pageview'))) AS pageviews
        FROM {database}.events
        WHERE environment_key = '{environment}'
            AND event IN ('{exposure}', 'purchase', 'pageview')
            AND timestamp >= {start}
            AND timestamp <= {scan_end}
        GROUP BY identifier
        HAVING one_variant AND variant IN ('control', 'treatment')
    )
)
ARRAY JOIN metric_values AS x, arrayEnumerate(metric_values) AS i
WHERE x IS NOT NULL
GROUP BY metric, variant
ORDER BY metric, variant",
        end = literal(end()),
        start = literal(start()),
        scan_end = literal(scan_end),
        window = PRO_WINDOW_SECONDS,
        environment = ENVIRONMENT,
        exposure = EXPOSURE_EVENT,
        feature = FEATURE,
    )
}
