//! Metric definitions: typed input (converted into `domain::metric::MetricDefinition`) and output.

use async_graphql::{InputObject, OneofObject, SimpleObject};

use super::enums::{FilterOp, ValueSourceKind};
use crate::domain::metric as domain;

#[derive(InputObject)]
#[graphql(name = "MetricDefinitionInput")]
pub struct MetricDefinitionInput {
    /// The event that counts (1–200 characters).
    pub event: String,
    /// Up to 20 property filters, all of which must hold.
    #[graphql(default)]
    pub filters: Vec<PropertyFilterInput>,
    /// Required for SUM and MEAN; refused for COUNT and OCCURRENCE.
    pub value: Option<ValueSourceInput>,
    /// Count only events in this window after each identity's first exposure. Not applied by
    /// `previewMetric`, which has no exposures.
    pub window: Option<MetricWindowInput>,
}

#[derive(InputObject)]
pub struct PropertyFilterInput {
    pub property: String,
    pub op: FilterOp,
    /// Omitted for EXISTS / NOT_EXISTS.
    pub value: Option<FilterValueInput>,
}

/// Exactly one of these: EQ/NEQ take a string, number or boolean; IN/NOT_IN a list; GT/GTE/LT/LTE a
/// number; CONTAINS a string.
#[derive(OneofObject)]
pub enum FilterValueInput {
    String(String),
    Number(f64),
    Boolean(bool),
    StringList(Vec<String>),
    NumberList(Vec<f64>),
}

#[derive(InputObject)]
pub struct ValueSourceInput {
    pub source: ValueSourceKind,
    /// The property to read when `source` is PROPERTY.
    pub property: Option<String>,
}

#[derive(InputObject)]
pub struct MetricWindowInput {
    /// Seconds after first exposure where the window opens (≥ 0).
    pub start_seconds: i64,
    /// Seconds after first exposure where it closes (> startSeconds), or null for open-ended.
    pub end_seconds: Option<i64>,
}

impl From<MetricDefinitionInput> for domain::MetricDefinition {
    fn from(input: MetricDefinitionInput) -> Self {
        domain::MetricDefinition {
            event: input.event,
            filters: input
                .filters
                .into_iter()
                .map(|f| domain::PropertyFilter {
                    property: f.property,
                    op: f.op.into(),
                    value: f.value.map(Into::into),
                })
                .collect(),
            // PROPERTY without a name becomes an empty name, which the domain rejects with its field.
            value: input.value.map(|v| match v.source {
                ValueSourceKind::EventValue => domain::ValueSource::EventValue,
                ValueSourceKind::Property => domain::ValueSource::Property {
                    property: v.property.unwrap_or_default(),
                },
            }),
            window: input.window.map(|w| domain::MetricWindow {
                start_seconds: w.start_seconds,
                end_seconds: w.end_seconds,
            }),
        }
    }
}

impl From<FilterValueInput> for domain::FilterValue {
    fn from(v: FilterValueInput) -> Self {
        match v {
            FilterValueInput::String(s) => domain::FilterValue::String(s),
            FilterValueInput::Number(n) => domain::FilterValue::Number(n),
            FilterValueInput::Boolean(b) => domain::FilterValue::Boolean(b),
            FilterValueInput::StringList(l) => domain::FilterValue::StringList(l),
            FilterValueInput::NumberList(l) => domain::FilterValue::NumberList(l),
        }
    }
}

/// What a metric counts.
#[derive(SimpleObject)]
pub struct MetricDefinition {
    pub event: String,
    pub filters: Vec<PropertyFilter>,
    pub value: Option<ValueSource>,
    pub window: Option<MetricWindow>,
}

#[derive(SimpleObject)]
pub struct PropertyFilter {
    pub property: String,
    pub op: FilterOp,
    pub value: Option<FilterValue>,
}

/// The filter's value: exactly one field is set.
#[derive(SimpleObject, Default)]
pub struct FilterValue {
    pub string: Option<String>,
    pub number: Option<f64>,
    pub boolean: Option<bool>,
    pub string_list: Option<Vec<String>>,
    pub number_list: Option<Vec<f64>>,
}

#[derive(SimpleObject)]
pub struct ValueSource {
    pub source: ValueSourceKind,
    pub property: Option<String>,
}

#[derive(SimpleObject)]
pub struct MetricWindow {
    pub start_seconds: i64,
    pub end_seconds: Option<i64>,
}

impl From<domain::MetricDefinition> for MetricDefinition {
    fn from(d: domain::MetricDefinition) -> Self {
        MetricDefinition {
            event: d.event,
            filters: d
                .filters
                .into_iter()
                .map(|f| PropertyFilter {
                    property: f.property,
                    op: f.op.into(),
                    value: f.value.map(filter_value),
                })
                .collect(),
            value: d.value.map(|v| match v {
                domain::ValueSource::EventValue => ValueSource {
                    source: ValueSourceKind::EventValue,
                    property: None,
                },
                domain::ValueSource::Property { property } => ValueSource {
                    source: ValueSourceKind::Property,
                    property: Some(property),
                },
            }),
            window: d.window.map(|w| MetricWindow {
                start_seconds: w.start_seconds,
                end_seconds: w.end_seconds,
            }),
        }
    }
}

fn filter_value(v: domain::FilterValue) -> FilterValue {
    match v {
        domain::FilterValue::String(s) => FilterValue {
            string: Some(s),
            ..Default::default()
        },
        domain::FilterValue::Number(n) => FilterValue {
            number: Some(n),
            ..Default::default()
        },
        domain::FilterValue::Boolean(b) => FilterValue {
            boolean: Some(b),
            ..Default::default()
        },
        domain::FilterValue::StringList(l) => FilterValue {
            string_list: Some(l),
            ..Default::default()
        },
        domain::FilterValue::NumberList(l) => FilterValue {
            number_list: Some(l),
            ..Default::default()
        },
    }
}
