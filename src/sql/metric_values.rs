//! An identity's value for one metric: an aggregate over its rows of `metric_events` (`e`),
//! joined to its assignment (`a`), in the `identities` CTE.
//!
//! An event counts for metric *m* when it is *m*'s event, passes *m*'s filters, and falls in *m*'s
//! window: from the identity's first exposure (+ `startSeconds`) to the first exposure +
//! `endSeconds` (exclusive), or to the experiment end (inclusive) when the window is open or
//! unset. The filters do not depend on the identity, so they are computed in the scan, once per
//! event, as a carried `UInt8` column; so is the number SUM and MEAN read.
//!
//! Identity values: OCCURRENCE 0/1, COUNT the number of events, SUM the sum of the events' values
//! (0 without any), MEAN the mean of the events' values (`NULL` without any: the identity is not
//! counted). A value that is absent or not finite is skipped by SUM and MEAN (the carried number is
//! NaN then, and only finite ones are aggregated).

use super::error::CompileError;
use super::filter;
use super::metric_events::Carried;
use super::param::Params;
use super::property;
use super::scope::{BoundScope, MetricSpec};
use crate::domain::metric::{Aggregation, MetricWindow, ValueSource};

/// The identity's value for metric `index` (`Float64`, or `Nullable(Float64)` for MEAN); `name`
/// is the placeholder of the metric's event name.
pub(super) fn metric_value(
    index: usize,
    spec: &MetricSpec,
    scope: &BoundScope,
    name: &str,
    carried: &mut Carried,
    params: &mut Params,
) -> Result<String, CompileError> {
    let invalid = |reason: String| CompileError::InvalidMetric {
        metric: index,
        reason,
    };
    let counts = counted_event(spec, scope, name, carried, params).map_err(invalid)?;
    let mut number = |source: &ValueSource, params: &mut Params| {
        let number = carried.column(format!(
            "if(e.event = {name}, ifNull({}, nan), nan)",
            value(source, params)
        ));
        (
            number.clone(),
            format!("{counts}\n        AND isFinite({number})"),
        )
    };
    Ok(match (spec.aggregation, &spec.definition.value) {
        (Aggregation::Occurrence, None) => format!("toFloat64(countIf({counts}) > 0)"),
        (Aggregation::Count, None) => format!("toFloat64(countIf({counts}))"),
        (Aggregation::Sum, Some(source)) => {
            let (number, counted) = number(source, params);
            format!("sumIf({number}, {counted})")
        }
        (Aggregation::Mean, Some(source)) => {
            let (number, counted) = number(source, params);
            format!("avgOrNullIf({number}, {counted})")
        }
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

/// The condition under which a row `e` counts for identity `a`.
fn counted_event(
    spec: &MetricSpec,
    scope: &BoundScope,
    name: &str,
    carried: &mut Carried,
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
    let mut conditions = vec![format!("e.event = {name}")];
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
    let predicates = definition
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| filter::predicate(f, params).map_err(|e| format!("filter {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if !predicates.is_empty() {
        // Evaluated (JSON parsed) only for the metric's own events: `AND` short-circuits.
        conditions.push(carried.column(format!(
            "e.event = {name}\n        AND {}",
            predicates.join("\n        AND ")
        )));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::fixtures::{metric, scope};

    fn compiled(spec: &MetricSpec) -> (String, Carried) {
        let mut params = Params::new();
        let bound = BoundScope::bind(&scope(), &mut params).unwrap();
        let mut carried = Carried::default();
        let value = metric_value(3, spec, &bound, "{p9:String}", &mut carried, &mut params);
        (value.unwrap(), carried)
    }

    #[test]
    fn each_aggregation_is_a_plain_combinator_over_the_identity_rows() {
        let counted =
            "e.event = {p9:String}\n        AND e.timestamp >= a.first_exposure\n        \
                       AND e.timestamp <= {p6:DateTime64(3, 'UTC')}";
        let finite = format!("{counted}\n        AND isFinite(e.c0)");
        let source = || Some(ValueSource::EventValue);
        for (aggregation, value, expected) in [
            (
                Aggregation::Occurrence,
                None,
                format!("toFloat64(countIf({counted}) > 0)"),
            ),
            (
                Aggregation::Count,
                None,
                format!("toFloat64(countIf({counted}))"),
            ),
            (Aggregation::Sum, source(), format!("sumIf(e.c0, {finite})")),
            (
                Aggregation::Mean,
                source(),
                format!("avgOrNullIf(e.c0, {finite})"),
            ),
        ] {
            let spec = metric(aggregation, "purchase", value, None, vec![]);
            assert_eq!(compiled(&spec).0, expected);
        }
    }

    #[test]
    fn the_scan_carries_numbers_and_filter_results_never_metadata() {
        use crate::domain::metric::{FilterOp, FilterValue};
        let spec = metric(
            Aggregation::Sum,
            "purchase",
            Some(ValueSource::EventValue),
            None,
            vec![crate::sql::fixtures::filter(
                "plan",
                FilterOp::Eq,
                Some(FilterValue::String("pro".into())),
            )],
        );
        let (value, carried) = compiled(&spec);
        assert!(value.contains("AND e.c0\n") && value.starts_with("sumIf(e.c1, "));
        assert!(!value.contains("metadata"), "{value}");
        assert_eq!(carried.columns.len(), 2);
        assert!(carried.columns[0].starts_with("e.event = {p9:String}\n        AND (JSONType("));
        assert_eq!(
            carried.columns[1],
            "if(e.event = {p9:String}, ifNull(toFloat64OrNull(e.value), nan), nan)"
        );
    }
}
