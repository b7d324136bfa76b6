//! Per identity metric values: the `entity_metrics` CTE, one row per identity that counts, with an
//! array holding its value for every metric, computed from its `events_k` arrays (see
//! `identities.rs`) with lambdas over the events `e`.
//!
//! An event counts for metric *m* when it is *m*'s event (it is in the array of *m*'s event name),
//! passes *m*'s filters, and falls in *m*'s window: from the identity's first exposure
//! (+ `startSeconds`) to the first exposure + `endSeconds` (exclusive), or to the experiment end
//! (inclusive) when the window is open or unset.
//!
//! Identity values: OCCURRENCE 0/1, COUNT the number of events, SUM the sum of the events' values
//! (0 without any), MEAN the mean of the events' values (`NULL` without any: the identity is not
//! counted). A value that is `NULL` or not finite is skipped by SUM and MEAN: counted events map to
//! their value or NaN, the others to NaN, and only finite numbers are kept (`arraySum` and
//! `arrayAvg` do not take arrays of `Nullable`).

use super::error::CompileError;
use super::exposures::counts;
use super::filter;
use super::param::Params;
use super::property;
use super::query::Cte;
use super::scope::{BoundScope, MetricSpec};
use crate::domain::metric::{Aggregation, MetricWindow, ValueSource};

/// The identity's value for metric `index` (`Float64`, or `Nullable(Float64)` for MEAN), where
/// `events` is the array of identity `a`'s events of the metric's event name.
pub(super) fn metric_value(
    index: usize,
    spec: &MetricSpec,
    scope: &BoundScope,
    events: &str,
    params: &mut Params,
) -> Result<String, CompileError> {
    let invalid = |reason: String| CompileError::InvalidMetric {
        metric: index,
        reason,
    };
    let counts = counted_event(spec, scope, params).map_err(invalid)?;
    let values = |source: &ValueSource, params: &mut Params| {
        format!(
            "arrayFilter(x -> isFinite(x), arrayMap(e -> if({counts},\n            \
             ifNull({}, nan), nan), {events}))",
            value(source, params)
        )
    };
    Ok(match (spec.aggregation, &spec.definition.value) {
        (Aggregation::Occurrence, None) => {
            format!("toFloat64(arrayExists(e -> {counts}, {events}))")
        }
        (Aggregation::Count, None) => format!("toFloat64(arrayCount(e -> {counts}, {events}))"),
        (Aggregation::Sum, Some(source)) => format!("arraySum({})", values(source, params)),
        (Aggregation::Mean, Some(source)) => format!(
            "if(empty({} AS m{index}_values), NULL, arrayAvg(m{index}_values))",
            values(source, params)
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
    })
}

/// The condition under which an event `e` of the metric's event name counts for identity `a`.
fn counted_event(
    spec: &MetricSpec,
    scope: &BoundScope,
    params: &mut Params,
) -> Result<String, String> {
    let definition = &spec.definition;
    if definition.event.is_empty() {
        return Err("the metric has no event".into());
    }
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
    let mut conditions = vec![match window.start_seconds {
        0 => "e.timestamp >= a.first_exposure".to_owned(),
        start => format!(
            "e.timestamp >= a.first_exposure + toIntervalSecond({})",
            params.int(start)
        ),
    }];
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
    Ok(conditions.join("\n            AND "))
}

/// `Nullable(Float64)`: the number an event carries for SUM and MEAN.
fn value(source: &ValueSource, params: &mut Params) -> String {
    match source {
        ValueSource::EventValue => "toFloat64OrNull(e.value)".to_owned(),
        ValueSource::Property { property } => property::number(&params.string(property)),
    }
}

/// One row per identity that counts ([`counts`]): `variant, metric_values
/// Array(Nullable(Float64))`, element *m* being the identity's value for metric *m* (`NULL`: not
/// counted). An identity without any metric event gets its zeros from the empty arrays.
pub(super) fn entity_metrics_cte(scope: &BoundScope, values: &[String]) -> Cte {
    let body = format!(
        "SELECT
    a.variant AS variant,
    [
        {}
    ] AS metric_values
FROM identities AS a
WHERE {}
",
        values.join(",\n        "),
        counts(scope, "a.")
    );
    Cte {
        name: "entity_metrics",
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{metric, scope};

    fn compiled(spec: &MetricSpec) -> String {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        metric_value(3, spec, &bound, "a.events_1", &mut params).unwrap()
    }

    #[test]
    fn each_aggregation_reads_the_array_of_its_event_name() {
        let counted = "e.timestamp >= a.first_exposure\n            \
                       AND e.timestamp <= {p6:DateTime64(3, 'UTC')}";
        let values = format!(
            "arrayFilter(x -> isFinite(x), arrayMap(e -> if({counted},\n            \
             ifNull(toFloat64OrNull(e.value), nan), nan), a.events_1))"
        );
        let source = || Some(ValueSource::EventValue);
        for (aggregation, value, expected) in [
            (
                Aggregation::Occurrence,
                None,
                format!("toFloat64(arrayExists(e -> {counted}, a.events_1))"),
            ),
            (
                Aggregation::Count,
                None,
                format!("toFloat64(arrayCount(e -> {counted}, a.events_1))"),
            ),
            (Aggregation::Sum, source(), format!("arraySum({values})")),
            (
                Aggregation::Mean,
                source(),
                format!("if(empty({values} AS m3_values), NULL, arrayAvg(m3_values))"),
            ),
        ] {
            let spec = metric(aggregation, "purchase", value, None, vec![]);
            assert_eq!(compiled(&spec), expected);
        }
    }
}
