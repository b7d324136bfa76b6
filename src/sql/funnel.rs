//! Funnel CONVERSION metrics in the metrics query: per identity, how many of the funnel's steps it
//! reached in order, and per variant how many identities reached each step.
//!
//! Steps: each step is an event with filters, computed in the scan once per event as a carried
//! `UInt8` column (`e.event = {step event} AND filters…`), like a single-event metric's filters.
//! The scan reads every step's event name.
//!
//! Order (per identity, over its events in the period: the metric's window after the first
//! exposure, or CUPED's lookback before it): step 1 is reached at its earliest event; step *k* + 1
//! at the earliest event of step *k* + 1 strictly later than the moment step *k* was reached. Taking
//! the earliest match at every step is optimal: if the steps can be matched in order at all, this
//! matches them. **Equal timestamps do not advance a funnel**: an event at the same millisecond as
//! the previous step's is not after it, so the outcome never depends on the order rows arrive in,
//! and one event matching two consecutive steps (same event name) counts for one of them only.
//! The identity converts (value 1) when it reaches the last step.
//!
//! SQL: the moment each step is reached is an alias chain `f{m}_{k}` of milliseconds (`NULL` when
//! not reached; every later step is then `NULL` too), and the level `s{m}` counts the steps
//! reached. Only an intermediate step needs the times of its events:
//! - step 1 is reached at its earliest event in the period, `minOrNullIf`;
//! - the last step *K* is reached iff one of its events is later than `f{m}_{K-1}`, that is iff
//!   its latest event is (`maxOrNullIf`), so the moment itself is never needed;
//! - a step in between (funnels of three or more steps) is reached at its earliest event later
//!   than the previous step's moment, which is not known until the identity's last row is read,
//!   so it keeps the times of that step's events in the period (`groupArrayIf`, 8 bytes each) and
//!   picks from them after the `GROUP BY`.
//!
//! So a two-step funnel holds a few numbers per identity, like a COUNT, however many events the
//! identity has; a longer one also holds its middle steps' event times (the per-identity `GROUP
//! BY` spills past `max_bytes_before_external_group_by` like any other). ClickHouse's
//! `windowFunnel` is not used: it holds every step's events, its window is measured from the
//! first step rather than from the exposure, and the order of its equal-time events is the order
//! the rows arrive in.
//!
//! Per variant, `step_reached` is `[countIf(s{m} >= 1), …, countIf(s{m} >= K)]`: identities that
//! reached each step; the last equals the conversions (`sum`). Counts over identities, so shards
//! add them up element by element.

use super::filter;
use super::metric_events::Carried;
use super::param::Params;
use crate::domain::metric::MetricDefinition;

/// The carried step columns of a funnel (`e.cN`, `UInt8`), in step order.
pub(super) struct FunnelSteps {
    pub columns: Vec<String>,
}

/// Binds every step's event name and filters and carries its match as a column; an error names
/// the step and filter.
pub(super) fn funnel_steps(
    definition: &MetricDefinition,
    carried: &mut Carried,
    params: &mut Params,
) -> Result<FunnelSteps, String> {
    let mut columns = Vec::with_capacity(definition.steps.len());
    for (k, step) in definition.steps.iter().enumerate() {
        if step.event.is_empty() {
            return Err(format!("step {k} has no event"));
        }
        let mut conditions = vec![format!("e.event = {}", params.string(&step.event))];
        for (i, f) in step.filters.iter().enumerate() {
            conditions.push(
                filter::predicate(f, params).map_err(|e| format!("step {k} filter {i}: {e}"))?,
            );
        }
        columns.push(carried.column(conditions.join("\n        AND ")));
    }
    Ok(FunnelSteps { columns })
}

/// The identity's level (`UInt8`: how many steps it reached in order) among events for which
/// `period` (conditions over `e` and `a`) holds; `prefix` names the chain's aliases
/// (`{prefix}_{k}`), unique per metric and period.
pub(super) fn level(steps: &FunnelSteps, period: &[String], prefix: &str) -> String {
    let period = period.join("\n        AND ");
    let time = "toUnixTimestamp64Milli(e.timestamp)";
    let last = steps.columns.len();
    let mut reached = Vec::with_capacity(last);
    for (k, column) in steps.columns.iter().enumerate() {
        let step = k + 1;
        let condition = format!("{period}\n        AND {column}");
        let previous = format!("{prefix}_{k}");
        reached.push(if step == 1 {
            format!("isNotNull(minOrNullIf({time}, {condition}) AS {prefix}_1)")
        } else if step == last {
            format!("ifNull(maxOrNullIf({time}, {condition}) > {previous}, 0)")
        } else {
            format!(
                "isNotNull(arrayReduce('minOrNull', arrayFilter(t -> t > ifNull({previous}, \
                 9223372036854775807), groupArrayIf({time}, {condition}))) AS {prefix}_{step})"
            )
        });
    }
    format!("toUInt8({})", reached.join("\n    + "))
}

/// The converted value (`Float64` 0/1) from a level expression (or column) of a funnel of `steps`.
pub(super) fn converted(level: &str, steps: usize) -> String {
    format!("toFloat64({level} = {steps})")
}

/// The per-variant array (one item per metric) of identities reaching each step: for funnel
/// metrics (`levels[m]` = the number of steps) over `identities`' `s{m}`, empty for others.
pub(super) fn per_variant_steps(levels: &[Option<usize>]) -> String {
    let items: Vec<String> = levels
        .iter()
        .enumerate()
        .map(|(m, steps)| match steps {
            Some(steps) => {
                let counts: Vec<String> = (1..=*steps)
                    .map(|k| format!("countIf(s{m} >= {k})"))
                    .collect();
                format!("[{}]", counts.join(", "))
            }
            None => "[]".to_owned(),
        })
        .collect();
    format!("CAST([{}] AS Array(Array(UInt64)))", items.join(", "))
}
