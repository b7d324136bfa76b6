//! The `identities` CTE: the one read of the events table for the metrics query.
//!
//! It takes the environment's exposure events and the events of every metric, from the experiment
//! start to the end of the longest metric window (or the experiment end), and groups them by
//! `identifier`: per identity, its assignment ([`assignment_columns`] over its exposure rows) and,
//! per distinct metric event name *k*, `events_k`: its events of that name as an array of
//! `(timestamp, value, metadata)`, each once. The `WHERE` follows the table's sort key
//! `(environment_key, event, …, timestamp)`, so ClickHouse reads only those key ranges.
//!
//! At-least-once duplicates are removed by `arrayDistinct` on `events_k`: within one identity and
//! one event name the tuple holds the rest of the natural key `(identifier, event, timestamp,
//! value, metadata)`, so two elements are equal exactly when the events' natural keys are.
//!
//! [`assignment_columns`]: super::exposures::assignment_columns

use super::exposures::{assignment_columns, exposure_condition};
use super::query::Cte;
use super::scope::BoundScope;

/// The type of an element of `events_k`; the metrics' conditions read `e.timestamp`, `e.value`
/// and `e.metadata` (see `entity_metrics.rs`, `filter.rs`, `property.rs`).
const EVENT_TUPLE: &str = "Tuple(timestamp DateTime64(3, 'UTC'), value String, metadata String)";

/// The array of identity `a`'s events named by the `k`-th metric event name.
pub(super) fn events_column(k: usize) -> String {
    format!("a.events_{k}")
}

/// `events` is the placeholder of the metrics' distinct event names (`Array(String)`), `names`
/// one `String` placeholder per name in the same order, `scan_end` that of the last timestamp any
/// metric can count (never before the experiment end).
pub(super) fn identities_cte(
    scope: &BoundScope,
    events: &str,
    names: &[String],
    scan_end: &str,
) -> Cte {
    let arrays: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let condition = format!("event = {name})) AS events_{k}");
            match k {
                0 => format!(
                    "    arrayDistinct(groupArrayIf(\n        CAST((timestamp, value, metadata) \
                     AS {EVENT_TUPLE}) AS metric_event,\n        {condition}"
                ),
                _ => format!("    arrayDistinct(groupArrayIf(metric_event, {condition}"),
            }
        })
        .collect();
    let body = format!(
        "SELECT
    identifier,
{assignment},
{arrays}
FROM {table}
WHERE environment_key = {environment}
    AND (event = {exposure_event} OR event IN {events})
    AND timestamp >= {start}
    AND timestamp <= {scan_end}
GROUP BY identifier
",
        assignment = assignment_columns(Some(&exposure_condition(scope))),
        arrays = arrays.join(",\n"),
        table = scope.table,
        environment = scope.environment,
        exposure_event = scope.exposure_event,
        start = scope.start,
    );
    Cte {
        name: "identities",
        body,
    }
}
