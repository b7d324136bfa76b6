//! An identity's value for one metric: an aggregate over its rows of `metric_events` (`e`),
//! joined to its assignment (`a`), in the `identities` CTE.
//!
//! An event counts for metric *m* when it is *m*'s event, passes *m*'s filters, and falls in *m*'s
//! window: from the identity's first exposure (+ `startSeconds`) to the first exposure +
//! `endSeconds` (exclusive), or to the experiment end (inclusive) when the window is open or
//! unset. The filters do not depend on the identity, so they are computed in the scan, once per
//! event, as a carried `UInt8` column; so is the number SUM and MEAN read. CUPED's covariate is
//! the same value over another [`Period`], the lookback before the first exposure (see
//! `covariates.rs`): a metric's [`MetricParts`] are bound once and shared by both, so the scan
//! carries each column once.
//!
//! Identity values: OCCURRENCE 0/1, COUNT the number of events, SUM the sum of the events' values
//! (0 without any), MEAN the mean of the events' values (`NULL` without any: the identity is not
//! counted). A value that is absent or not finite is skipped by SUM and MEAN (the carried number is
//! NaN then, and only finite ones are aggregated). A funnel (CONVERSION with steps) is 1 when the
//! identity completes its steps in order within the period (`funnel.rs`); its level, the steps
//! reached, is the `identities` column `s{m}` its value reads. Capping comes after this stage
//! (`capping.rs`).

use super::error::CompileError;
use super::filter;
use super::funnel::{self, FunnelSteps};
use super::metric_events::Carried;
use super::param::Params;
use super::property;
use super::quantile::BoundQuantile;
use super::scope::{BoundScope, MetricSpec};
use crate::domain::metric::{Aggregation, MetricWindow, ValueSource};

/// Which of an identity's events a value aggregates (besides the metric's event and filters).
#[derive(Debug, Clone, Copy)]
pub(super) enum Period<'a> {
    /// The metric's window after the identity's first exposure.
    Window,
    /// CUPED's pre-exposure period `[first exposure − lookback, first exposure)`; `lookback` is
    /// the placeholder of its length in seconds (`Int64`). The metric's window does not apply.
    BeforeExposure { lookback: &'a str },
}

/// A checked metric with its values bound: the placeholders and carried columns its values read.
pub(super) struct MetricParts {
    /// The metric's index in the scope (names its per-identity columns).
    index: usize,
    aggregate: Aggregate,
    /// The placeholder of the metric's event name.
    name: String,
    /// `e.timestamp` bounds of its window relative to `a.first_exposure`, `a.` included.
    window_start: String,
    window_end: String,
    /// The carried column of its filters' result, if it has filters.
    filters: Option<String>,
}

/// A metric's aggregation, with the carried column of the number SUM and MEAN read.
enum Aggregate {
    Occurrence,
    Count,
    Sum(String),
    Mean(String),
    /// A funnel (CONVERSION with steps, see `funnel.rs`).
    Funnel(FunnelSteps),
    /// The carried number and the bound quantile (see `quantile.rs`).
    Quantile(String, BoundQuantile),
}

/// Checks metric `index` and binds what its values read, in this order: window, filters, value
/// source; `name` is the placeholder of the metric's event name.
pub(super) fn metric_parts(
    index: usize,
    spec: &MetricSpec,
    scope: &BoundScope,
    name: &str,
    carried: &mut Carried,
    params: &mut Params,
) -> Result<MetricParts, CompileError> {
    let invalid = |reason: String| CompileError::InvalidMetric {
        metric: index,
        reason,
    };
    let definition = &spec.definition;
    if definition.is_funnel() && spec.aggregation != Aggregation::Occurrence {
        return Err(invalid(
            "a funnel is a CONVERSION (OCCURRENCE) metric".into(),
        ));
    }
    if definition.is_funnel() && definition.capping.is_some() {
        return Err(invalid("a funnel takes no capping".into()));
    }
    if definition.event.is_empty() && !definition.is_funnel() {
        return Err(invalid("the metric has no event".into()));
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
        return Err(invalid(format!(
            "the window {window:?} is not a window after exposure"
        )));
    }
    let window_start = match window.start_seconds {
        0 => "e.timestamp >= a.first_exposure".to_owned(),
        start => format!(
            "e.timestamp >= a.first_exposure + toIntervalSecond({})",
            params.int(start)
        ),
    };
    let window_end = match window.end_seconds {
        Some(end) => format!(
            "e.timestamp < a.first_exposure + toIntervalSecond({})",
            params.int(end)
        ),
        None => format!("e.timestamp <= {}", scope.end),
    };
    let predicates = definition
        .filters
        .iter()
        .enumerate()
        .map(|(i, f)| filter::predicate(f, params).map_err(|e| format!("filter {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    // Evaluated (JSON parsed) only for the metric's own events: `AND` short-circuits.
    let filters = (!predicates.is_empty()).then(|| {
        carried.column(format!(
            "e.event = {name}\n        AND {}",
            predicates.join("\n        AND ")
        ))
    });
    let mut number = |source: &ValueSource| {
        carried.column(format!(
            "if(e.event = {name}, ifNull({}, nan), nan)",
            value(source, params)
        ))
    };
    let aggregate = match (spec.aggregation, &definition.value) {
        (Aggregation::Occurrence, None) if definition.is_funnel() => {
            Aggregate::Funnel(funnel::funnel_steps(definition, carried, params).map_err(invalid)?)
        }
        (Aggregation::Occurrence, None) => Aggregate::Occurrence,
        (Aggregation::Count, None) => Aggregate::Count,
        (Aggregation::Sum, Some(source)) => Aggregate::Sum(number(source)),
        (Aggregation::Mean, Some(source)) => Aggregate::Mean(number(source)),
        (Aggregation::Quantile, Some(source)) => {
            let number = number(source);
            let spec = definition
                .quantile
                .as_ref()
                .ok_or_else(|| invalid("a QUANTILE metric needs its quantile".into()))?;
            Aggregate::Quantile(number, BoundQuantile::bind(spec, params))
        }
        (aggregation @ (Aggregation::Sum | Aggregation::Mean | Aggregation::Quantile), None) => {
            return Err(invalid(format!(
                "a {aggregation} metric needs a value source"
            )))
        }
        (aggregation @ (Aggregation::Occurrence | Aggregation::Count), Some(_)) => {
            return Err(invalid(format!(
                "a {aggregation} metric takes no value source"
            )))
        }
        (Aggregation::Ratio, _) => {
            return Err(invalid("a RATIO metric is not compiled yet".into()))
        }
    };
    Ok(MetricParts {
        index,
        aggregate,
        name: name.to_owned(),
        window_start,
        window_end,
        filters,
    })
}

/// The identity's value of the metric over `period` (`Float64`, or `Nullable(Float64)` for MEAN).
/// A funnel's value over the window reads its level column `s{m}` (see [`funnel_level`]).
pub(super) fn metric_value(parts: &MetricParts, period: Period<'_>) -> String {
    let mut conditions = vec![format!("e.event = {}", parts.name)];
    conditions.extend(period_conditions(parts, period));
    conditions.extend(parts.filters.clone());
    let counts = conditions.join("\n        AND ");
    let finite = |number: &str| format!("{counts}\n        AND isFinite({number})");
    match &parts.aggregate {
        Aggregate::Occurrence => format!("toFloat64(countIf({counts}) > 0)"),
        Aggregate::Count => format!("toFloat64(countIf({counts}))"),
        Aggregate::Sum(number) => format!("sumIf({number}, {})", finite(number)),
        Aggregate::Mean(number) => format!("avgOrNullIf({number}, {})", finite(number)),
        Aggregate::Quantile(number, quantile) => quantile.identity_value(number, &counts),
        Aggregate::Funnel(steps) => {
            let level = match period {
                Period::Window => format!("s{}", parts.index),
                Period::BeforeExposure { .. } => funnel::level(
                    steps,
                    &period_conditions(parts, period),
                    &format!("fx{}", parts.index),
                ),
            };
            funnel::converted(&level, steps.columns.len())
        }
    }
}

/// For a funnel metric, its level over the window (`UInt8`, the steps reached in order), which the
/// `identities` CTE names `s{m}`; `None` for other metrics.
pub(super) fn funnel_level(parts: &MetricParts) -> Option<(String, usize)> {
    match &parts.aggregate {
        Aggregate::Funnel(steps) => Some((
            funnel::level(
                steps,
                &period_conditions(parts, Period::Window),
                &format!("f{}", parts.index),
            ),
            steps.columns.len(),
        )),
        _ => None,
    }
}

/// The conditions on `e.timestamp` of `period`.
fn period_conditions(parts: &MetricParts, period: Period<'_>) -> Vec<String> {
    match period {
        Period::Window => vec![parts.window_start.clone(), parts.window_end.clone()],
        // The first exposure is at or after the experiment start, so the scan (which starts the
        // lookback before it) holds every event of this period.
        Period::BeforeExposure { lookback } => vec![
            format!("e.timestamp >= a.first_exposure - toIntervalSecond({lookback})"),
            "e.timestamp < a.first_exposure".to_owned(),
        ],
    }
}

/// A QUANTILE metric's bound quantile, `None` for other metrics.
pub(super) fn quantile_of(parts: &MetricParts) -> Option<&BoundQuantile> {
    match &parts.aggregate {
        Aggregate::Quantile(_, quantile) => Some(quantile),
        _ => None,
    }
}

/// Over EVENTS, the identity's values in the metric's window (`Array(Float64)`, see
/// `quantile.rs`); `None` for every other metric.
pub(super) fn quantile_values(parts: &MetricParts) -> Option<String> {
    let Aggregate::Quantile(number, quantile) = &parts.aggregate else {
        return None;
    };
    let mut conditions = vec![
        format!("e.event = {}", parts.name),
        parts.window_start.clone(),
        parts.window_end.clone(),
    ];
    conditions.extend(parts.filters.clone());
    quantile.identity_values(number, &conditions.join("\n        AND "))
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
        let parts = metric_parts(3, spec, &bound, "{p9:String}", &mut carried, &mut params);
        (metric_value(&parts.unwrap(), Period::Window), carried)
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
