//! The `metric_events` CTE: the one read of the metric events for the metrics query, each event
//! once, carrying only what the metrics need.
//!
//! It reads the environment's events of every metric event name from the experiment start (with
//! CUPED, the lookback before it) to the end of the longest metric window (or the experiment end), on the table's sort-key prefix
//! `(environment_key, event, …, timestamp)`. Each row keeps the identifier's `key` (its
//! `sipHash128`, the join key of `identities.rs`), `event` and `timestamp`
//! and the [`Carried`] columns: per metric, its filters' result (`UInt8`) and its number
//! (`Float64`, NaN when absent), computed here once per event, never the `metadata` text itself.
//!
//! Each event is read once (at-least-once duplicates removed) by the natural key
//! `(identifier, event, feature_name, timestamp, value, metadata)` (`environment_key` is fixed by
//! the read; `collected_at`, the delivery time, is not part of it):
//! - [`EventsTableKind::Deduplicating`]: the table's merges keep one row per natural key, and
//!   `FINAL` merges at read time the parts that are not merged yet (only the key ranges where parts
//!   overlap; the query sets `do_not_merge_across_partitions_select_final`, which is correct
//!   because the partition key depends only on natural-key columns, so duplicates share a
//!   partition).
//! - [`EventsTableKind::Plain`]: `GROUP BY` the natural key, with the metadata as its 128-bit
//!   `sipHash128` (two events with different metadata and equal hashes would be merged; as for
//!   `DISTINCT`, which compares rows by a 128-bit hash too, negligible). The carried columns are
//!   `any` of the group: they are functions of the key. This is the part of the query whose memory
//!   grows with the events; the warehouse client sets `max_bytes_before_external_group_by`, so it
//!   spills to disk instead of failing.

use super::query::Cte;
use super::scope::{BoundScope, EventsTableKind};

/// The typed columns the scan carries, each distinct expression once (`c0`, `c1`, …).
#[derive(Default)]
pub(super) struct Carried {
    pub(super) columns: Vec<String>,
}

impl Carried {
    /// The column holding `expression` (over the table's row `e`), as the metrics read it
    /// (`e.cN`).
    pub fn column(&mut self, expression: String) -> String {
        let index = match self.columns.iter().position(|c| *c == expression) {
            Some(index) => index,
            None => {
                self.columns.push(expression);
                self.columns.len() - 1
            }
        };
        format!("e.c{index}")
    }
}

/// How a scan of the table `e` reads each event once (see the module doc): the function that wraps
/// each computed column (`any` when grouping), what follows `FROM <table> AS e`, and the
/// `GROUP BY` line after the `WHERE` (empty for the deduplicating table).
pub(super) fn each_event_once(kind: EventsTableKind) -> (&'static str, &'static str, &'static str) {
    match kind {
        EventsTableKind::Deduplicating => ("", " FINAL", ""),
        EventsTableKind::Plain => (
            "any",
            "",
            "GROUP BY e.identifier, e.event, e.feature_name, e.timestamp, e.value, \
             sipHash128(e.metadata)\n",
        ),
    }
}

/// `events` is the placeholder of the metrics' distinct event names (`Array(String)`),
/// `scan_start` that of the first timestamp any value can count (the experiment start, or with
/// CUPED a lookback earlier), `scan_end` that of the last (never before the experiment end).
pub(super) fn metric_events_cte(
    scope: &BoundScope,
    kind: EventsTableKind,
    events: &str,
    scan_start: &str,
    scan_end: &str,
    carried: &Carried,
) -> Cte {
    let (wrap, from, group) = each_event_once(kind);
    let columns: String = carried
        .columns
        .iter()
        .enumerate()
        .map(|(i, expression)| format!(",\n    {wrap}({expression}) AS c{i}"))
        .collect();
    let body = format!(
        "SELECT
    sipHash128(e.identifier) AS key,
    e.event AS event,
    e.timestamp AS timestamp{columns}
FROM {table} AS e{from}
WHERE e.environment_key = {environment}
    AND e.event IN {events}
    AND e.timestamp >= {scan_start}
    AND e.timestamp <= {scan_end}
{group}",
        table = scope.table,
        environment = scope.environment,
    );
    Cte {
        name: "metric_events",
        body,
    }
}
