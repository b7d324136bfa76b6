//! Previewing a metric definition before it is saved: what it would read from the last days of an
//! environment's events, and warnings a person can act on.
//!
//! A preview has no experiment, so no exposures: it counts every event of the definition's name
//! that passes its filters over `[now − days, now]`, and the definition's window does not apply.
//! Each identity's value is, as for SUM, the sum of its matching events' finite values when the
//! definition has a value source, and else, as for COUNT, the number of its matching events. An
//! identity *has a value* when it has a matching event and, with a value source, at least one
//! finite value. The quantiles are those of the values of identities with a value, computed like
//! ClickHouse's `quantileExactInclusive` (R-7: linear interpolation between closest ranks of the
//! sorted values).
//!
//! The rules of `domain::metric` apply unchanged: the definition is checked as a SUM metric's when
//! it has a value source, as a COUNT metric's otherwise.

use super::error::{DomainError, DomainResult};
use super::metric::{parse_definition, Aggregation, MetricDefinition, MetricType, ValueSource};
use super::string_enum::string_enum;

/// `days` defaults to a week and may span up to 90 days.
pub const DEFAULT_DAYS: i32 = 7;
pub const MAX_DAYS: i32 = 90;

/// The levels of [`MetricPreview::quantiles`], in order.
pub const QUANTILE_LEVELS: [f64; 3] = [0.5, 0.9, 0.99];

string_enum! {
    /// What a preview warns about.
    pub enum PreviewWarningCode {
        NoEvents = "NO_EVENTS",
        PropertyNeverPresent = "PROPERTY_NEVER_PRESENT",
        ValuesNotNumeric = "VALUES_NOT_NUMERIC",
    }
}

/// A definition and period that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRequest {
    pub definition: MetricDefinition,
    pub days: u32,
}

impl PreviewRequest {
    /// Checks `days` (1..=90) and the definition as `createMetric` does.
    pub fn parse(definition: MetricDefinition, days: i32) -> DomainResult<Self> {
        if !(1..=MAX_DAYS).contains(&days) {
            return Err(DomainError::validation(
                "days",
                format!("a preview covers 1 to {MAX_DAYS} days (got {days})"),
            ));
        }
        refuse_beyond_one_event(&definition)?;
        let aggregation = match definition.value {
            Some(_) => Aggregation::Sum,
            None => Aggregation::Count,
        };
        Ok(PreviewRequest {
            definition: parse_definition(MetricType::Numeric, aggregation, definition)?,
            days: days.unsigned_abs(),
        })
    }
}

/// A preview covers single-event definitions: one event, its filters and its value source.
fn refuse_beyond_one_event(definition: &MetricDefinition) -> DomainResult<()> {
    let beyond = [
        ("funnel steps", definition.is_funnel()),
        ("a numerator", definition.numerator.is_some()),
        ("a denominator", definition.denominator.is_some()),
        ("a quantile", definition.quantile.is_some()),
        ("capping", definition.capping.is_some()),
    ];
    match beyond.iter().find(|(_, used)| *used) {
        Some((what, _)) => Err(DomainError::validation(
            "definition",
            format!(
                "a preview covers single-event definitions (an event, its filters and its value \
                 source), not {what}"
            ),
        )),
        None => Ok(()),
    }
}

/// The properties whose presence a preview checks, in the order the warehouse counts them: each
/// filter's (one entry per filter, repeats included), then the value source's property.
pub fn checked_properties(definition: &MetricDefinition) -> Vec<&str> {
    let mut properties: Vec<&str> = definition
        .filters
        .iter()
        .map(|f| f.property.as_str())
        .collect();
    if let Some(ValueSource::Property { property }) = &definition.value {
        properties.push(property);
    }
    properties
}

/// What the warehouse counted for a preview (one row of the preview query).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewCounts {
    /// Events of the definition's name that pass its filters.
    pub matching_events: u64,
    /// Distinct identifiers among them.
    pub identities: u64,
    /// Distinct identifiers with any event in the period.
    pub identities_in_period: u64,
    pub identities_with_value: u64,
    /// At [`QUANTILE_LEVELS`], over identities with a value (meaningless when there are none).
    pub quantiles: Vec<f64>,
    pub max: f64,
    /// Events of the definition's name, filters or not.
    pub event_rows: u64,
    /// Per [`checked_properties`] entry: events of the name that carry the property.
    pub property_rows: Vec<u64>,
    /// Matching events whose value is present but not a finite number.
    pub values_not_numeric: u64,
}

/// A warning about a definition, with the property it is about when there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewWarning {
    pub code: PreviewWarningCode,
    pub message: String,
    pub property: Option<String>,
}

/// What a definition would read, as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPreview {
    pub days: u32,
    pub matching_events: u64,
    pub identities: u64,
    pub identities_in_period: u64,
    /// Identities with a value ÷ identities in the period; `None` when nobody has an event.
    pub share_with_value: Option<f64>,
    /// The per-identity values at [`QUANTILE_LEVELS`] and their maximum; `None` without values.
    pub quantiles: Option<[f64; 3]>,
    pub max: Option<f64>,
    pub warnings: Vec<PreviewWarning>,
}

impl MetricPreview {
    pub fn build(request: &PreviewRequest, counts: &PreviewCounts) -> DomainResult<Self> {
        let properties = checked_properties(&request.definition);
        if counts.property_rows.len() != properties.len()
            || counts.quantiles.len() != QUANTILE_LEVELS.len()
        {
            return Err(DomainError::internal(
                "the preview query answered in another shape than asked",
            ));
        }
        let with_values = counts.identities_with_value > 0;
        let quantiles = match counts.quantiles.as_slice() {
            [p50, p90, p99] if with_values => Some([*p50, *p90, *p99]),
            _ => None,
        };
        Ok(MetricPreview {
            days: request.days,
            matching_events: counts.matching_events,
            identities: counts.identities,
            identities_in_period: counts.identities_in_period,
            share_with_value: (counts.identities_in_period > 0)
                .then(|| counts.identities_with_value as f64 / counts.identities_in_period as f64),
            quantiles,
            max: with_values.then_some(counts.max),
            warnings: warnings(request, counts, &properties),
        })
    }
}

fn warnings(
    request: &PreviewRequest,
    counts: &PreviewCounts,
    properties: &[&str],
) -> Vec<PreviewWarning> {
    let definition = &request.definition;
    let event = &definition.event;
    let days = request.days;
    if counts.event_rows == 0 {
        return vec![PreviewWarning {
            code: PreviewWarningCode::NoEvents,
            message: format!(
                "no '{event}' event in the last {days} days: check the event name, or that the \
                 environment sends it"
            ),
            property: None,
        }];
    }
    let mut warnings: Vec<PreviewWarning> = Vec::new();
    for (property, rows) in properties.iter().zip(&counts.property_rows) {
        let warned = warnings
            .iter()
            .any(|w| w.property.as_deref() == Some(*property));
        if *rows == 0 && !warned {
            warnings.push(PreviewWarning {
                code: PreviewWarningCode::PropertyNeverPresent,
                message: format!(
                    "property '{property}' never appears on the {} '{event}' events of the last \
                     {days} days: check its name",
                    counts.event_rows
                ),
                property: Some((*property).to_owned()),
            });
        }
    }
    if counts.values_not_numeric > 0 {
        let (what, property) = match &definition.value {
            Some(ValueSource::Property { property }) => {
                (format!("property '{property}'"), Some(property.clone()))
            }
            _ => ("value".to_owned(), None),
        };
        warnings.push(PreviewWarning {
            code: PreviewWarningCode::ValuesNotNumeric,
            message: format!(
                "{} of the {} matching '{event}' events have a {what} that is not a number: they \
                 add nothing to the identities' values",
                counts.values_not_numeric, counts.matching_events
            ),
            property,
        });
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::metric::{FilterOp, FilterValue, PropertyFilter};

    fn definition(value: Option<ValueSource>, filters: &[&str]) -> MetricDefinition {
        MetricDefinition {
            event: "purchase".into(),
            filters: filters
                .iter()
                .map(|p| PropertyFilter {
                    property: (*p).into(),
                    op: FilterOp::Exists,
                    value: None,
                })
                .collect(),
            value,
            ..Default::default()
        }
    }

    fn counts(properties: Vec<u64>) -> PreviewCounts {
        PreviewCounts {
            matching_events: 10,
            identities: 4,
            identities_in_period: 8,
            identities_with_value: 2,
            quantiles: vec![1.0, 2.0, 3.0],
            max: 4.0,
            event_rows: 12,
            property_rows: properties,
            values_not_numeric: 0,
        }
    }

    fn field(result: DomainResult<PreviewRequest>) -> String {
        match result {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn days_are_one_to_ninety() {
        for days in [0, -1, 91] {
            assert_eq!(
                field(PreviewRequest::parse(definition(None, &[]), days)),
                "days"
            );
        }
        for days in [1, 90] {
            assert!(PreviewRequest::parse(definition(None, &[]), days).is_ok());
        }
    }

    #[test]
    fn the_definition_is_checked_by_the_metric_rules() {
        let mut bad = definition(None, &[]);
        bad.filters = vec![PropertyFilter {
            property: "plan".into(),
            op: FilterOp::Eq,
            value: Some(FilterValue::StringList(vec!["a".into()])),
        }];
        assert_eq!(
            field(PreviewRequest::parse(bad, 7)),
            "definition.filters[0].value"
        );
        let blank = definition(
            Some(ValueSource::Property {
                property: " ".into(),
            }),
            &[],
        );
        assert_eq!(
            field(PreviewRequest::parse(blank, 7)),
            "definition.value.property"
        );
    }

    #[test]
    fn parts_beyond_one_event_are_refused_with_the_definition_field() {
        use crate::domain::metric::{Capping, CappingKind, FunnelStep};
        let mut funnel = definition(None, &[]);
        funnel.steps = vec![
            FunnelStep {
                event: "a".into(),
                filters: vec![],
            };
            2
        ];
        let mut capped = definition(None, &[]);
        capped.capping = Some(Capping {
            kind: CappingKind::Absolute,
            upper: 10.0,
            lower: None,
            ignore_zeros: false,
        });
        for def in [funnel, capped] {
            assert_eq!(field(PreviewRequest::parse(def, 7)), "definition");
        }
    }

    #[test]
    fn a_missing_property_is_named_once_and_no_events_says_only_that() {
        let def = definition(
            Some(ValueSource::Property {
                property: "plan".into(),
            }),
            &["plan", "country"],
        );
        let request = PreviewRequest::parse(def, 7).unwrap();
        let preview = MetricPreview::build(&request, &counts(vec![0, 3, 0])).unwrap();
        let named: Vec<_> = preview
            .warnings
            .iter()
            .map(|w| (w.code, w.property.clone()))
            .collect();
        assert_eq!(
            named,
            [(
                PreviewWarningCode::PropertyNeverPresent,
                Some("plan".into())
            )]
        );
        let mut none = counts(vec![0, 0, 0]);
        none.event_rows = 0;
        let preview = MetricPreview::build(&request, &none).unwrap();
        assert_eq!(preview.warnings.len(), 1);
        assert_eq!(preview.warnings[0].code, PreviewWarningCode::NoEvents);
    }

    #[test]
    fn without_values_there_are_no_quantiles_and_without_identities_no_share() {
        let request = PreviewRequest::parse(definition(None, &[]), 7).unwrap();
        let mut c = counts(vec![]);
        assert_eq!(
            MetricPreview::build(&request, &c).unwrap().share_with_value,
            Some(0.25)
        );
        c.identities_with_value = 0;
        c.identities_in_period = 0;
        let preview = MetricPreview::build(&request, &c).unwrap();
        assert_eq!(
            (preview.quantiles, preview.max, preview.share_with_value),
            (None, None, None)
        );
        c.property_rows = vec![1];
        assert!(MetricPreview::build(&request, &c).is_err());
    }
}
