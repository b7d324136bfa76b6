//! The `metric_events` CTE: the one read of the events table for all metrics together.
//!
//! It takes every event of the environment whose name is one of the metrics' events, from the
//! experiment start to the end of the longest metric window (or the experiment end), and removes
//! at-least-once duplicates on the natural key `(identifier, event, timestamp, value, metadata)`.
//! The `WHERE` follows the table's sort key `(environment_key, event, …, timestamp)`, so ClickHouse
//! reads only those key ranges.

use super::query::Cte;
use super::scope::BoundScope;

/// `events` is the placeholder of the metrics' distinct event names (`Array(String)`), `scan_end`
/// that of the last timestamp any metric can count.
pub(super) fn metric_events_cte(scope: &BoundScope, events: &str, scan_end: &str) -> Cte {
    let body = format!(
        "SELECT DISTINCT identifier, event, timestamp, value, metadata
FROM {table}
WHERE environment_key = {environment}
    AND event IN {events}
    AND timestamp >= {start}
    AND timestamp <= {scan_end}
",
        table = scope.table,
        environment = scope.environment,
        start = scope.start,
    );
    Cte {
        name: "metric_events",
        body,
    }
}
