//! Per identity metric values: the `entity_events` CTE (each assigned identity joined to its metric
//! events, with one column per metric saying whether, or with which value, the event counts) and
//! the `entity_metrics` CTE (one row per identity, an array with one value per metric).
//!
//! An event counts for metric *m* when it is *m*'s event, passes *m*'s filters, and falls in *m*'s
//! window: from the identity's first exposure (+ `startSeconds`) to the first exposure +
//! `endSeconds` (exclusive), or to the experiment end (inclusive) when the window is open or unset.
//!
//! Identity values: OCCURRENCE 0/1, COUNT the number of events, SUM the sum of the events' values
//! (0 without any), MEAN the mean of the events' values (`NULL` without any: the identity is not
//! counted). A value that is `NULL` or not finite is skipped by SUM and MEAN.

use super::error::CompileError;
use super::filter;
use super::param::Params;
use super::property;
use super::query::Cte;
use super::scope::{BoundScope, MetricSpec};
use crate::domain::metric::{Aggregation, MetricWindow, ValueSource};

/// What one metric adds: a column of `entity_events` and an element of `metric_values`.
pub(super) struct MetricColumns {
    event_column: String,
    identity_value: String,
}

pub(super) fn metric_columns(
    index: usize,
    spec: &MetricSpec,
    scope: &BoundScope,
    params: &mut Params,
) -> Result<MetricColumns, CompileError> {
    let invalid = |reason: String| CompileError::InvalidMetric {
        metric: index,
        reason,
    };
    let counts = counted_events(spec, scope, params).map_err(invalid)?;
    let (event_column, identity_value) = match (spec.aggregation, &spec.definition.value) {
        (Aggregation::Occurrence, None) => (
            format!("({counts}) AS m{index}_hit"),
            format!("toFloat64(countIf(m{index}_hit) > 0)"),
        ),
        (Aggregation::Count, None) => (
            format!("({counts}) AS m{index}_hit"),
            format!("toFloat64(countIf(m{index}_hit))"),
        ),
        (Aggregation::Sum, Some(source)) => (
            format!(
                "if({counts},\n        {}, NULL) AS m{index}_value",
                value(source, params)
            ),
            format!("coalesce(sumIf(m{index}_value, isFinite(m{index}_value)), 0)"),
        ),
        (Aggregation::Mean, Some(source)) => (
            format!(
                "if({counts},\n        {}, NULL) AS m{index}_value",
                value(source, params)
            ),
            format!("avgIf(m{index}_value, isFinite(m{index}_value))"),
        ),
        (aggregation @ (Aggregation::Sum | Aggregation::Mean), None) => {
            return Err(invalid(format!(
                "a {aggregation} metric needs a value source"
            )))
        }
        (aggregation, Some(_)) => {
            return Err(invalid(format!(
                "a {aggregation} metric takes no value source"
            )))
        }
    };
    Ok(MetricColumns {
        event_column,
        identity_value,
    })
}

/// The condition under which a joined event (`e`) counts for the metric of identity `a`.
fn counted_events(
    spec: &MetricSpec,
    scope: &BoundScope,
    params: &mut Params,
) -> Result<String, String> {
    let definition = &spec.definition;
    if definition.event.is_empty() {
        return Err("the metric has no event".into());
    }
    let mut conditions = vec![format!("e.event = {}", params.string(&definition.event))];
    let window = definition.window.unwrap_or(MetricWindow {
        start_seconds: 0,
        end_seconds: None,
    });
    if window.start_seconds < 0
        || window
            .end_seconds
            .is_some_and(|end| end <= window.start_seconds)
    {
        return Err(format!(
            "the window {window:?} is not a window after exposure"
        ));
    }
    conditions.push(match window.start_seconds {
        0 => "e.timestamp >= a.first_exposure".to_owned(),
        start => format!(
            "e.timestamp >= a.first_exposure + toIntervalSecond({})",
            params.int(start)
        ),
    });
    conditions.push(match window.end_seconds {
        Some(end) => format!(
            "e.timestamp < a.first_exposure + toIntervalSecond({})",
            params.int(end)
        ),
        None => format!("e.timestamp <= {}", scope.end),
    });
    for (i, f) in definition.filters.iter().enumerate() {
        conditions.push(filter::predicate(f, params).map_err(|e| format!("filter {i}: {e}"))?);
    }
    Ok(conditions.join("\n        AND "))
}

/// `Nullable(Float64)`: the number an event carries for SUM and MEAN.
fn value(source: &ValueSource, params: &mut Params) -> String {
    match source {
        ValueSource::EventValue => "toFloat64OrNull(e.value)".to_owned(),
        ValueSource::Property { property } => property::number(&params.string(property)),
    }
}

/// Assigned identities joined to their metric events; an identity without any appears once, with
/// no event, so that it still gets its zeros. `RIGHT JOIN` keeps the hash table on the
/// (smaller) assignments side and the events streaming.
pub(super) fn entity_events_cte(columns: &[MetricColumns]) -> Cte {
    let per_metric: Vec<&str> = columns.iter().map(|c| c.event_column.as_str()).collect();
    let body = format!(
        "SELECT
    a.identifier AS identifier,
    a.variant AS variant,
    {}
FROM metric_events AS e
RIGHT JOIN assignments AS a ON e.identifier = a.identifier
",
        per_metric.join(",\n    ")
    );
    Cte {
        name: "entity_events",
        body,
    }
}

/// One row per assigned identity: `variant, metric_values Array(Nullable(Float64))`, element *m*
/// being the identity's value for metric *m* (`NULL`: not counted).
pub(super) fn entity_metrics_cte(columns: &[MetricColumns]) -> Cte {
    let values: Vec<&str> = columns.iter().map(|c| c.identity_value.as_str()).collect();
    let body = format!(
        "SELECT
    variant,
    [
        {}
    ] AS metric_values
FROM entity_events
GROUP BY identifier, variant
",
        values.join(",\n        ")
    );
    Cte {
        name: "entity_metrics",
        body,
    }
}
