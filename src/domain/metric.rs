//! The metric library's rules: metric kinds, the metric definition (what events count and how), and
//! `NewMetric::parse`, the only way to obtain a metric that may be stored.
//!
//! A definition is stored as versioned JSON (`{"version": 1, ...}`); `MetricDefinition::to_stored` and
//! `from_stored` are the only readers and writers of that format.

use serde::{Deserialize, Serialize};

use super::error::{DomainError, DomainResult};
use super::string_enum::string_enum;
use super::text::{optional_text, required_line};

string_enum! {
    /// NUMERIC metrics measure an amount per identity; CONVERSION metrics are 0/1 per identity.
    pub enum MetricType { Numeric = "NUMERIC", Conversion = "CONVERSION" }
}

string_enum! {
    /// How an identity's events become its value.
    pub enum Aggregation { Count = "COUNT", Sum = "SUM", Mean = "MEAN", Occurrence = "OCCURRENCE" }
}

string_enum! {
    /// Which way is good for the business.
    pub enum Direction { Up = "UP", Down = "DOWN", Informational = "INFORMATIONAL" }
}

string_enum! {
    /// Comparison applied to an event property.
    pub enum FilterOp {
        Eq = "EQ", Neq = "NEQ", In = "IN", NotIn = "NOT_IN", Gt = "GT", Gte = "GTE", Lt = "LT",
        Lte = "LTE", Contains = "CONTAINS", Exists = "EXISTS", NotExists = "NOT_EXISTS",
    }
}

pub const MAX_NAME: usize = 255;
pub const MAX_DESCRIPTION: usize = 10_000;
pub const MAX_EVENT: usize = 200;
pub const MAX_PROPERTY: usize = 200;
pub const MAX_FILTERS: usize = 20;
pub const MAX_LIST_VALUES: usize = 100;
pub const MAX_STRING_VALUE: usize = 1_000;
pub const DEFINITION_VERSION: u32 = 1;

/// The value a filter compares against; exactly one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FilterValue {
    String(String),
    Number(f64),
    Boolean(bool),
    StringList(Vec<String>),
    NumberList(Vec<f64>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyFilter {
    pub property: String,
    pub op: FilterOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<FilterValue>,
}

/// Where SUM and MEAN metrics read each event's number from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueSource {
    /// The event's own numeric `value`.
    EventValue,
    /// A numeric property of the event.
    Property { property: String },
}

/// Seconds relative to each identity's first exposure; `end_seconds: None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricWindow {
    pub start_seconds: i64,
    pub end_seconds: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDefinition {
    pub event: String,
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MetricWindow>,
}

#[derive(Serialize, Deserialize)]
struct StoredDefinition {
    version: u32,
    #[serde(flatten)]
    definition: MetricDefinition,
}

impl MetricDefinition {
    /// The JSON stored in `metrics.definition`.
    pub fn to_stored(&self) -> serde_json::Value {
        let stored = StoredDefinition {
            version: DEFINITION_VERSION,
            definition: self.clone(),
        };
        serde_json::to_value(stored).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored definition, refusing versions this build does not know.
    pub fn from_stored(value: serde_json::Value) -> Result<Self, String> {
        let stored: StoredDefinition = serde_json::from_value(value)
            .map_err(|e| format!("malformed metric definition: {e}"))?;
        if stored.version != DEFINITION_VERSION {
            return Err(format!(
                "metric definition version {} is not supported (expected {DEFINITION_VERSION})",
                stored.version
            ));
        }
        Ok(stored.definition)
    }
}

/// A metric as submitted, not yet checked.
#[derive(Debug, Clone)]
pub struct MetricDraft {
    pub name: String,
    pub description: String,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub direction: Direction,
    pub definition: MetricDefinition,
}

/// A metric that passed every rule. Only [`NewMetric::parse`] makes one; read it through `Deref`.
#[derive(Debug, Clone)]
pub struct NewMetric(MetricDraft);

impl std::ops::Deref for NewMetric {
    type Target = MetricDraft;
    fn deref(&self) -> &MetricDraft {
        &self.0
    }
}

impl NewMetric {
    pub fn parse(draft: MetricDraft) -> DomainResult<Self> {
        let name = required_line("name", &draft.name, MAX_NAME)?;
        let description = optional_text("description", &draft.description, MAX_DESCRIPTION)?;
        check_kind(draft.metric_type, draft.aggregation)?;
        let definition = parse_definition(draft.aggregation, draft.definition)?;
        Ok(NewMetric(MetricDraft {
            name,
            description,
            definition,
            ..draft
        }))
    }
}

/// CONVERSION ⇔ OCCURRENCE; NUMERIC takes COUNT, SUM or MEAN.
fn check_kind(metric_type: MetricType, aggregation: Aggregation) -> DomainResult<()> {
    let ok = match metric_type {
        MetricType::Conversion => aggregation == Aggregation::Occurrence,
        MetricType::Numeric => aggregation != Aggregation::Occurrence,
    };
    if ok {
        return Ok(());
    }
    let message = match metric_type {
        MetricType::Conversion => "a CONVERSION metric must use the OCCURRENCE aggregation",
        MetricType::Numeric => "a NUMERIC metric takes COUNT, SUM or MEAN, not OCCURRENCE",
    };
    Err(DomainError::validation("aggregation", message))
}

/// The definition rules of [`NewMetric::parse`] for a metric of `aggregation` (also what a preview
/// of a definition checks); fields are named `definition.…`.
pub fn parse_definition(
    aggregation: Aggregation,
    def: MetricDefinition,
) -> DomainResult<MetricDefinition> {
    let event = required_line("definition.event", &def.event, MAX_EVENT)?;
    if def.filters.len() > MAX_FILTERS {
        return Err(DomainError::validation(
            "definition.filters",
            format!(
                "at most {MAX_FILTERS} filters are allowed (got {})",
                def.filters.len()
            ),
        ));
    }
    let filters = def
        .filters
        .into_iter()
        .enumerate()
        .map(|(i, f)| parse_filter(&format!("definition.filters[{i}]"), f))
        .collect::<DomainResult<Vec<_>>>()?;
    let value = parse_value_source(aggregation, def.value)?;
    if let Some(window) = def.window {
        check_window(window)?;
    }
    Ok(MetricDefinition {
        event,
        filters,
        value,
        window: def.window,
    })
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
    aggregation: Aggregation,
    value: Option<ValueSource>,
) -> DomainResult<Option<ValueSource>> {
    let field = "definition.value";
    match (aggregation, value) {
        (Aggregation::Sum | Aggregation::Mean, None) => Err(DomainError::validation(
            field,
            format!("a {aggregation} metric needs a value source (EVENT_VALUE or PROPERTY)"),
        )),
        (Aggregation::Count | Aggregation::Occurrence, Some(_)) => Err(DomainError::validation(
            field,
            format!("a {aggregation} metric does not take a value source"),
        )),
        (_, Some(ValueSource::Property { property })) => {
            let property = required_line("definition.value.property", &property, MAX_PROPERTY)?;
            Ok(Some(ValueSource::Property { property }))
        }
        (_, value) => Ok(value),
    }
}

/// The longest window a metric may use: ten years, far beyond any experiment, and far below what
/// the warehouse's interval arithmetic can hold.
pub const MAX_WINDOW_SECONDS: i64 = 10 * 366 * 86_400;

fn check_window(window: MetricWindow) -> DomainResult<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_longer_than_ten_years_are_rejected() {
        let window = MetricWindow {
            start_seconds: 0,
            end_seconds: Some(MAX_WINDOW_SECONDS + 1),
        };
        assert!(matches!(
            check_window(window),
            Err(DomainError::Validation { field, .. }) if field == "definition.window.endSeconds"
        ));
    }

    fn draft(aggregation: Aggregation) -> MetricDraft {
        MetricDraft {
            name: " Checkout conversion ".into(),
            description: String::new(),
            metric_type: if aggregation == Aggregation::Occurrence {
                MetricType::Conversion
            } else {
                MetricType::Numeric
            },
            aggregation,
            direction: Direction::Up,
            definition: MetricDefinition {
                event: "purchase".into(),
                filters: vec![],
                value: None,
                window: None,
            },
        }
    }

    fn field_of(result: DomainResult<NewMetric>) -> String {
        match result {
            Err(DomainError::Validation { field, .. }) => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    fn filter(op: FilterOp, value: Option<FilterValue>) -> PropertyFilter {
        PropertyFilter {
            property: "plan".into(),
            op,
            value,
        }
    }

    #[test]
    fn a_valid_conversion_metric_is_trimmed_and_kept() {
        let metric = NewMetric::parse(draft(Aggregation::Occurrence)).expect("valid");
        assert_eq!(metric.name, "Checkout conversion");
    }

    #[test]
    fn conversion_requires_occurrence_and_numeric_refuses_it() {
        let mut d = draft(Aggregation::Count);
        d.metric_type = MetricType::Conversion;
        assert_eq!(field_of(NewMetric::parse(d)), "aggregation");
        let mut d = draft(Aggregation::Occurrence);
        d.metric_type = MetricType::Numeric;
        assert_eq!(field_of(NewMetric::parse(d)), "aggregation");
    }

    #[test]
    fn sum_and_mean_need_a_value_source_count_and_occurrence_refuse_one() {
        for agg in [Aggregation::Sum, Aggregation::Mean] {
            assert_eq!(field_of(NewMetric::parse(draft(agg))), "definition.value");
            let mut d = draft(agg);
            d.definition.value = Some(ValueSource::EventValue);
            assert!(NewMetric::parse(d).is_ok());
        }
        for agg in [Aggregation::Count, Aggregation::Occurrence] {
            let mut d = draft(agg);
            d.definition.value = Some(ValueSource::EventValue);
            assert_eq!(field_of(NewMetric::parse(d)), "definition.value");
        }
        let mut d = draft(Aggregation::Sum);
        d.definition.value = Some(ValueSource::Property {
            property: " ".into(),
        });
        assert_eq!(field_of(NewMetric::parse(d)), "definition.value.property");
    }

    #[test]
    fn filter_values_must_fit_their_operator() {
        use FilterValue as V;
        let ok = [
            filter(FilterOp::Eq, Some(V::String("pro".into()))),
            filter(FilterOp::Neq, Some(V::Boolean(true))),
            filter(FilterOp::In, Some(V::StringList(vec!["a".into()]))),
            filter(FilterOp::NotIn, Some(V::NumberList(vec![1.0, 2.0]))),
            filter(FilterOp::Gte, Some(V::Number(3.5))),
            filter(FilterOp::Contains, Some(V::String("x".into()))),
            filter(FilterOp::Exists, None),
        ];
        for f in ok {
            let mut d = draft(Aggregation::Count);
            d.definition.filters = vec![f.clone()];
            assert!(NewMetric::parse(d).is_ok(), "{f:?}");
        }
        let bad = [
            filter(FilterOp::Eq, None),
            filter(FilterOp::Eq, Some(V::StringList(vec!["a".into()]))),
            filter(FilterOp::In, Some(V::StringList(vec![]))),
            filter(FilterOp::In, Some(V::String("a".into()))),
            filter(FilterOp::Gt, Some(V::String("3".into()))),
            filter(FilterOp::Contains, Some(V::Number(1.0))),
            filter(FilterOp::NotExists, Some(V::Boolean(false))),
            filter(FilterOp::Lt, Some(V::Number(f64::NAN))),
        ];
        for f in bad {
            let mut d = draft(Aggregation::Count);
            d.definition.filters = vec![filter(FilterOp::Exists, None), f.clone()];
            assert_eq!(
                field_of(NewMetric::parse(d)),
                "definition.filters[1].value",
                "{f:?}"
            );
        }
    }

    #[test]
    fn at_most_twenty_filters() {
        let mut d = draft(Aggregation::Count);
        d.definition.filters = vec![filter(FilterOp::Exists, None); MAX_FILTERS + 1];
        assert_eq!(field_of(NewMetric::parse(d)), "definition.filters");
    }

    #[test]
    fn windows_start_at_exposure_and_end_after_they_start() {
        let with_window = |start, end| {
            let mut d = draft(Aggregation::Count);
            d.definition.window = Some(MetricWindow {
                start_seconds: start,
                end_seconds: end,
            });
            NewMetric::parse(d)
        };
        assert!(with_window(0, None).is_ok());
        assert!(with_window(60, Some(61)).is_ok());
        assert_eq!(
            field_of(with_window(-1, None)),
            "definition.window.startSeconds"
        );
        assert_eq!(
            field_of(with_window(60, Some(60))),
            "definition.window.endSeconds"
        );
    }

    #[test]
    fn event_names_are_bounded() {
        let mut d = draft(Aggregation::Count);
        d.definition.event = "e".repeat(MAX_EVENT + 1);
        assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
        let mut d = draft(Aggregation::Count);
        d.definition.event = "".into();
        assert_eq!(field_of(NewMetric::parse(d)), "definition.event");
    }

    #[test]
    fn stored_definitions_round_trip_with_their_version() {
        let mut d = draft(Aggregation::Sum);
        d.definition.value = Some(ValueSource::Property {
            property: "amount".into(),
        });
        d.definition.filters = vec![filter(
            FilterOp::In,
            Some(FilterValue::StringList(vec!["a".into()])),
        )];
        d.definition.window = Some(MetricWindow {
            start_seconds: 0,
            end_seconds: Some(3600),
        });
        let stored = d.definition.to_stored();
        assert_eq!(stored["version"], 1);
        assert_eq!(stored["value"]["source"], "PROPERTY");
        assert_eq!(MetricDefinition::from_stored(stored), Ok(d.definition));
    }

    #[test]
    fn unknown_definition_versions_are_refused() {
        let stored = serde_json::json!({"version": 2, "event": "x"});
        assert!(MetricDefinition::from_stored(stored).is_err());
    }
}
