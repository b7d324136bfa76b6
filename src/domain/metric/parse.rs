//! The rules a metric definition must pass, per metric kind: `parse_definition` is called by
//! `NewMetric::parse` and returns the definition trimmed, or the first rule it breaks with the
//! field it names (`definition.numerator.value`, `definition.steps[2].filters[0].value`, …).

use super::definition::{
    Capping, CappingKind, FunnelStep, MetricDefinition, MetricWindow, PropertyFilter, QuantileSpec,
    RatioPart, ValueSource,
};
use super::{Aggregation, FilterOp, FilterValue, MetricType};
use super::{MAX_EVENT, MAX_FILTERS, MAX_LIST_VALUES, MAX_PROPERTY, MAX_STRING_VALUE};
use crate::domain::error::{DomainError, DomainResult};
use crate::domain::text::required_line;

/// A funnel has 2 to 8 steps.
pub const MIN_FUNNEL_STEPS: usize = 2;
pub const MAX_FUNNEL_STEPS: usize = 8;
/// The quantile levels a QUANTILE metric may use.
pub const QUANTILE_LEVELS: std::ops::RangeInclusive<f64> = 0.5..=0.99;

pub(super) fn parse_definition(
    metric_type: MetricType,
    aggregation: Aggregation,
    def: MetricDefinition,
) -> DomainResult<MetricDefinition> {
    if let Some(window) = def.window {
        check_window(window)?;
    }
    match metric_type {
        MetricType::Ratio => parse_ratio(def),
        MetricType::Conversion if def.is_funnel() => parse_funnel(def),
        MetricType::Conversion | MetricType::Numeric => parse_single_event(aggregation, def),
    }
}

/// A metric over one event: CONVERSION (OCCURRENCE) or NUMERIC (COUNT, SUM, MEAN, QUANTILE).
fn parse_single_event(
    aggregation: Aggregation,
    def: MetricDefinition,
) -> DomainResult<MetricDefinition> {
    refuse_ratio_parts(&def)?;
    if !def.steps.is_empty() {
        return Err(DomainError::validation(
            "definition.steps",
            "only a CONVERSION metric can be a funnel",
        ));
    }
    let event = required_line("definition.event", &def.event, MAX_EVENT)?;
    let filters = parse_filters("definition.filters", def.filters)?;
    let value = parse_value_source("definition.value", aggregation, def.value)?;
    let quantile = parse_quantile(aggregation, def.quantile)?;
    let capping = def
        .capping
        .map(|capping| parse_capping(aggregation, capping))
        .transpose()?;
    Ok(MetricDefinition {
        event,
        filters,
        value,
        window: def.window,
        quantile,
        capping,
        ..Default::default()
    })
}

/// A funnel: 2–8 steps, each an event with filters; no single event, value, quantile or capping.
fn parse_funnel(def: MetricDefinition) -> DomainResult<MetricDefinition> {
    refuse_ratio_parts(&def)?;
    let single_event_parts = [
        ("definition.event", !def.event.is_empty()),
        ("definition.filters", !def.filters.is_empty()),
        ("definition.value", def.value.is_some()),
    ];
    if let Some((field, _)) = single_event_parts.iter().find(|(_, set)| *set) {
        return Err(DomainError::validation(
            *field,
            "a funnel names its events and filters in `steps` only",
        ));
    }
    refuse_numeric_parts(&def)?;
    let count = def.steps.len();
    if !(MIN_FUNNEL_STEPS..=MAX_FUNNEL_STEPS).contains(&count) {
        return Err(DomainError::validation(
            "definition.steps",
            format!("a funnel has {MIN_FUNNEL_STEPS} to {MAX_FUNNEL_STEPS} steps (got {count})"),
        ));
    }
    let steps = def
        .steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            let path = format!("definition.steps[{i}]");
            Ok(FunnelStep {
                event: required_line(&format!("{path}.event"), &step.event, MAX_EVENT)?,
                filters: parse_filters(&format!("{path}.filters"), step.filters)?,
            })
        })
        .collect::<DomainResult<Vec<_>>>()?;
    Ok(MetricDefinition {
        steps,
        window: def.window,
        ..Default::default()
    })
}

/// A ratio: a numerator and a denominator, nothing else but the window.
fn parse_ratio(def: MetricDefinition) -> DomainResult<MetricDefinition> {
    let single_event_parts = [
        ("definition.event", !def.event.is_empty()),
        ("definition.filters", !def.filters.is_empty()),
        ("definition.value", def.value.is_some()),
        ("definition.steps", !def.steps.is_empty()),
    ];
    if let Some((field, _)) = single_event_parts.iter().find(|(_, set)| *set) {
        return Err(DomainError::validation(
            *field,
            "a RATIO metric names its events in `numerator` and `denominator` only",
        ));
    }
    refuse_numeric_parts(&def)?;
    let part = |name: &str, part: Option<RatioPart>| {
        let path = format!("definition.{name}");
        let part = part.ok_or_else(|| {
            DomainError::validation(&path, format!("a RATIO metric needs a {name}"))
        })?;
        parse_ratio_part(&path, part)
    };
    let numerator = part("numerator", def.numerator)?;
    let denominator = part("denominator", def.denominator)?;
    Ok(MetricDefinition {
        numerator: Some(numerator),
        denominator: Some(denominator),
        window: def.window,
        ..Default::default()
    })
}

fn parse_ratio_part(path: &str, part: RatioPart) -> DomainResult<RatioPart> {
    if !matches!(part.aggregation, Aggregation::Count | Aggregation::Sum) {
        return Err(DomainError::validation(
            format!("{path}.aggregation"),
            format!(
                "a ratio's {} is a COUNT or a SUM (got {})",
                path.trim_start_matches("definition."),
                part.aggregation
            ),
        ));
    }
    Ok(RatioPart {
        event: required_line(&format!("{path}.event"), &part.event, MAX_EVENT)?,
        filters: parse_filters(&format!("{path}.filters"), part.filters)?,
        value: parse_value_source(&format!("{path}.value"), part.aggregation, part.value)?,
        aggregation: part.aggregation,
    })
}

fn refuse_ratio_parts(def: &MetricDefinition) -> DomainResult<()> {
    for (field, set) in [
        ("definition.numerator", def.numerator.is_some()),
        ("definition.denominator", def.denominator.is_some()),
    ] {
        if set {
            return Err(DomainError::validation(
                field,
                "only a RATIO metric has a numerator and a denominator",
            ));
        }
    }
    Ok(())
}

fn refuse_numeric_parts(def: &MetricDefinition) -> DomainResult<()> {
    if def.quantile.is_some() {
        return Err(DomainError::validation(
            "definition.quantile",
            "only a QUANTILE metric takes a quantile",
        ));
    }
    if def.capping.is_some() {
        return Err(DomainError::validation(
            "definition.capping",
            "capping applies to NUMERIC metrics aggregated by COUNT, SUM or MEAN",
        ));
    }
    Ok(())
}

fn parse_quantile(
    aggregation: Aggregation,
    quantile: Option<QuantileSpec>,
) -> DomainResult<Option<QuantileSpec>> {
    let field = "definition.quantile";
    match (aggregation, quantile) {
        (Aggregation::Quantile, None) => Err(DomainError::validation(
            field,
            "a QUANTILE metric needs its quantile (level and what it is over)",
        )),
        (Aggregation::Quantile, Some(spec)) => {
            if !QUANTILE_LEVELS.contains(&spec.level) {
                return Err(DomainError::validation(
                    "definition.quantile.level",
                    format!(
                        "the quantile level is between {} and {} (got {})",
                        QUANTILE_LEVELS.start(),
                        QUANTILE_LEVELS.end(),
                        spec.level
                    ),
                ));
            }
            Ok(Some(spec))
        }
        (_, Some(_)) => Err(DomainError::validation(
            field,
            "only a QUANTILE metric takes a quantile",
        )),
        (_, None) => Ok(None),
    }
}

fn parse_capping(aggregation: Aggregation, capping: Capping) -> DomainResult<Capping> {
    if !matches!(
        aggregation,
        Aggregation::Count | Aggregation::Sum | Aggregation::Mean
    ) {
        return Err(DomainError::validation(
            "definition.capping",
            "capping applies to NUMERIC metrics aggregated by COUNT, SUM or MEAN",
        ));
    }
    let bad = |member: &str, message: String| {
        Err(DomainError::validation(
            format!("definition.capping.{member}"),
            message,
        ))
    };
    let finite = [("upper", Some(capping.upper)), ("lower", capping.lower)];
    if let Some((member, _)) = finite
        .iter()
        .find(|(_, v)| v.is_some_and(|v| !v.is_finite()))
    {
        return bad(member, "cap values must be finite numbers".into());
    }
    match capping.kind {
        CappingKind::Percentile => {
            if !(capping.upper > 0.0 && capping.upper <= 1.0) {
                return bad(
                    "upper",
                    format!(
                        "a PERCENTILE cap is a quantile level in (0, 1] (got {})",
                        capping.upper
                    ),
                );
            }
            if capping
                .lower
                .is_some_and(|l| !(0.0..capping.upper).contains(&l))
            {
                return bad(
                    "lower",
                    "a PERCENTILE lower cap is a level in [0, upper)".into(),
                );
            }
        }
        CappingKind::Absolute => {
            if capping.lower.is_some_and(|l| l >= capping.upper) {
                return bad("lower", "the lower cap must be below the upper cap".into());
            }
            if capping.ignore_zeros {
                return bad(
                    "ignoreZeros",
                    "ignoreZeros applies to PERCENTILE caps (they are computed from the values)"
                        .into(),
                );
            }
        }
    }
    Ok(capping)
}

fn parse_filters(path: &str, filters: Vec<PropertyFilter>) -> DomainResult<Vec<PropertyFilter>> {
    if filters.len() > MAX_FILTERS {
        return Err(DomainError::validation(
            path,
            format!(
                "at most {MAX_FILTERS} filters are allowed (got {})",
                filters.len()
            ),
        ));
    }
    filters
        .into_iter()
        .enumerate()
        .map(|(i, f)| parse_filter(&format!("{path}[{i}]"), f))
        .collect()
}

fn parse_filter(path: &str, filter: PropertyFilter) -> DomainResult<PropertyFilter> {
    let property = required_line(&format!("{path}.property"), &filter.property, MAX_PROPERTY)?;
    let field = format!("{path}.value");
    let bad = |expected: &str| {
        Err(DomainError::validation(
            &field,
            format!("operator {} takes {expected}", filter.op),
        ))
    };
    use FilterOp::*;
    use FilterValue as V;
    match (filter.op, &filter.value) {
        (Exists | NotExists, None) => {}
        (Exists | NotExists, Some(_)) => return bad("no value"),
        (Eq | Neq, Some(V::String(_) | V::Number(_) | V::Boolean(_))) => {}
        (Eq | Neq, _) => return bad("one string, number or boolean"),
        (In | NotIn, Some(V::StringList(items)))
            if (1..=MAX_LIST_VALUES).contains(&items.len()) => {}
        (In | NotIn, Some(V::NumberList(items)))
            if (1..=MAX_LIST_VALUES).contains(&items.len()) => {}
        (In | NotIn, _) => {
            return bad(&format!(
                "a list of 1 to {MAX_LIST_VALUES} strings or of numbers"
            ))
        }
        (Gt | Gte | Lt | Lte, Some(V::Number(_))) => {}
        (Gt | Gte | Lt | Lte, _) => return bad("a number"),
        (Contains, Some(V::String(s))) if !s.is_empty() => {}
        (Contains, _) => return bad("a non-empty string"),
    }
    if let Some(value) = &filter.value {
        check_scalars(&field, value)?;
    }
    Ok(PropertyFilter { property, ..filter })
}

fn check_scalars(field: &str, value: &FilterValue) -> DomainResult<()> {
    let strings: &[String] = match value {
        FilterValue::String(s) => std::slice::from_ref(s),
        FilterValue::StringList(items) => items,
        _ => &[],
    };
    if let Some(long) = strings
        .iter()
        .find(|s| s.chars().count() > MAX_STRING_VALUE)
    {
        return Err(DomainError::validation(
            field,
            format!(
                "filter values must be at most {MAX_STRING_VALUE} characters (got {})",
                long.chars().count()
            ),
        ));
    }
    let numbers: &[f64] = match value {
        FilterValue::Number(n) => std::slice::from_ref(n),
        FilterValue::NumberList(items) => items,
        _ => &[],
    };
    if numbers.iter().any(|n| !n.is_finite()) {
        return Err(DomainError::validation(
            field,
            "filter numbers must be finite",
        ));
    }
    Ok(())
}

fn parse_value_source(
    field: &str,
    aggregation: Aggregation,
    value: Option<ValueSource>,
) -> DomainResult<Option<ValueSource>> {
    match (aggregation, value) {
        (Aggregation::Sum | Aggregation::Mean | Aggregation::Quantile, None) => {
            Err(DomainError::validation(
                field,
                format!("a {aggregation} metric needs a value source (EVENT_VALUE or PROPERTY)"),
            ))
        }
        (Aggregation::Sum | Aggregation::Mean | Aggregation::Quantile, Some(source)) => {
            match source {
                ValueSource::Property { property } => {
                    let property =
                        required_line(&format!("{field}.property"), &property, MAX_PROPERTY)?;
                    Ok(Some(ValueSource::Property { property }))
                }
                ValueSource::EventValue => Ok(Some(ValueSource::EventValue)),
            }
        }
        (_, Some(_)) => Err(DomainError::validation(
            field,
            format!("a {aggregation} metric does not take a value source"),
        )),
        (_, None) => Ok(None),
    }
}

/// The longest window a metric may use: ten years, far beyond any experiment, and far below what
/// the warehouse's interval arithmetic can hold.
pub const MAX_WINDOW_SECONDS: i64 = 10 * 366 * 86_400;

pub(super) fn check_window(window: MetricWindow) -> DomainResult<()> {
    for (field, seconds) in [
        ("definition.window.startSeconds", Some(window.start_seconds)),
        ("definition.window.endSeconds", window.end_seconds),
    ] {
        if seconds.is_some_and(|s| s > MAX_WINDOW_SECONDS) {
            return Err(DomainError::validation(
                field,
                format!("windows are at most {MAX_WINDOW_SECONDS} seconds (ten years)"),
            ));
        }
    }
    if window.start_seconds < 0 {
        return Err(DomainError::validation(
            "definition.window.startSeconds",
            "the window must start at or after the first exposure (startSeconds ≥ 0)",
        ));
    }
    match window.end_seconds {
        Some(end) if end <= window.start_seconds => Err(DomainError::validation(
            "definition.window.endSeconds",
            "endSeconds must be greater than startSeconds (or null for an open window)",
        )),
        _ => Ok(()),
    }
}
