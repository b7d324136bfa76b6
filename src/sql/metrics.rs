//! [`compile_metrics`]: the sufficient statistics `n, sum, sum_sq` of every metric per variant,
//! from one pass over the events table (`identities`), then per-identity values
//! (`entity_metrics`) aggregated per variant.

use chrono::{DateTime, Duration, Utc};

use super::cluster::{place, ShardMerge};
use super::entity_metrics::{entity_metrics_cte, metric_value};
use super::error::CompileError;
use super::identities::{events_column, identities_cte};
use super::param::Params;
use super::query::CompiledQuery;
use super::scope::{BoundScope, ResultsScope};

/// Rows `metric UInt32, variant String, n UInt64, sum Float64, sum_sq Float64`, one per
/// (metric, variant) with `n > 0`, ordered by metric then variant (scope order). `metric` indexes
/// `scope.metrics`; `sum` and `sum_sq` add the identities' values and their squares.
pub fn compile_metrics(scope: &ResultsScope) -> Result<CompiledQuery, CompileError> {
    if scope.metrics.is_empty() {
        return Err(CompileError::NoMetrics);
    }
    let mut params = Params::new();
    let bound = BoundScope::bind(scope, &mut params)?;
    let names = metric_event_names(scope);
    let events = params.strings(&names);
    let scan_end = match last_counted_instant(scope)? {
        Some(instant) => params.datetime(instant),
        None => bound.end.clone(),
    };
    let name_params: Vec<String> = names.iter().map(|name| params.string(name)).collect();
    let values = scope
        .metrics
        .iter()
        .enumerate()
        .map(|(index, spec)| {
            let k = names
                .iter()
                .position(|name| *name == spec.definition.event)
                .expect("every metric's event is among the names");
            metric_value(index, spec, &bound, &events_column(k), &mut params)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ctes = [
        identities_cte(&bound, &events, &name_params, &scan_end),
        entity_metrics_cte(&bound, &values),
    ];
    let select = "SELECT
    toUInt32(metric_index - 1) AS metric,
    variant,
    count() AS n,
    sum(assumeNotNull(metric_value)) AS sum,
    sum(assumeNotNull(metric_value) * assumeNotNull(metric_value)) AS sum_sq
FROM entity_metrics
ARRAY JOIN
    metric_values AS metric_value,
    arrayEnumerate(metric_values) AS metric_index
WHERE metric_value IS NOT NULL
GROUP BY metric, variant
";
    let order = format!("metric, indexOf({}, variant)", bound.variant_array());
    let merge = ShardMerge {
        keys: &["metric", "variant"],
        sums: &["n", "sum", "sum_sq"],
        order_by: &order,
    };
    Ok(place(
        &scope.table.placement,
        &ctes,
        select,
        Some(&order),
        &merge,
        params,
    ))
}

/// The metrics' event names, each once, in first-use order.
fn metric_event_names(scope: &ResultsScope) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for spec in &scope.metrics {
        if !names.contains(&spec.definition.event) {
            names.push(spec.definition.event.clone());
        }
    }
    names
}

/// When a window ends after the experiment end, the latest instant an event can count
/// (`end` + the longest window); `None` when no metric counts past `end`.
fn last_counted_instant(scope: &ResultsScope) -> Result<Option<DateTime<Utc>>, CompileError> {
    let longest = scope
        .metrics
        .iter()
        .filter_map(|spec| spec.definition.window.and_then(|w| w.end_seconds))
        .max();
    match longest {
        Some(seconds) if seconds > 0 => Duration::try_seconds(seconds)
            .and_then(|d| scope.end.checked_add_signed(d))
            .map(Some)
            .ok_or(CompileError::WindowOutOfRange),
        _ => Ok(None),
    }
}
