//! Metric definitions: typed input (converted into `domain::metric::MetricDefinition`) and output.

use async_graphql::{InputObject, OneofObject, SimpleObject};

use super::enums::{Aggregation, CappingKind, FilterOp, QuantileOver, ValueSourceKind};
use crate::domain::metric as domain;
use crate::graphql::plain::plain_object;

/// What a metric counts. A single-event metric (NUMERIC, or a CONVERSION on one event) sets
/// `event`, `filters` and `value`; a funnel (CONVERSION) sets `steps` instead; a RATIO metric sets
/// `numerator` and `denominator` instead.
#[derive(InputObject)]
#[graphql(name = "MetricDefinitionInput")]
pub struct MetricDefinitionInput {
    /// The event that counts (1–200 characters); required for single-event metrics, refused for
    /// funnels and ratios.
    pub event: Option<String>,
    /// Up to 20 property filters, all of which must hold.
    #[graphql(default)]
    pub filters: Vec<PropertyFilterInput>,
    /// Required for SUM, MEAN and QUANTILE; refused for COUNT and OCCURRENCE.
    pub value: Option<ValueSourceInput>,
    /// Count only events in this window after each identity's first exposure (every step of a
    /// funnel, both parts of a ratio). Not applied by `previewMetric`, which has no exposures.
    pub window: Option<MetricWindowInput>,
    /// A funnel (CONVERSION only): 2–8 steps an identity must complete in this order, after its
    /// first exposure and inside the window; the identity converts when it completes the last.
    /// Each step counts at its earliest matching event strictly later than the previous step's:
    /// events at the same millisecond as the previous step do not complete the next one.
    /// Results show how many identities of each variant reached each step.
    #[graphql(default)]
    pub steps: Vec<FunnelStepInput>,
    /// RATIO only: the numerator, per identity.
    pub numerator: Option<RatioPartInput>,
    /// RATIO only: the denominator, per identity. Only identities whose denominator is > 0 count.
    pub denominator: Option<RatioPartInput>,
    /// QUANTILE only: which quantile, over what.
    pub quantile: Option<QuantileInput>,
    /// NUMERIC metrics aggregated by COUNT, SUM or MEAN: caps on each identity's value (and on
    /// its CUPED covariate, with the same cap values: those computed from the metric's values).
    /// A PERCENTILE cap cannot be computed on a sharded cluster warehouse (CONFLICT).
    pub capping: Option<CappingInput>,
}

/// One step of a funnel.
#[derive(InputObject)]
pub struct FunnelStepInput {
    /// The step's event (1–200 characters).
    pub event: String,
    /// Up to 20 property filters, all of which must hold.
    #[graphql(default)]
    pub filters: Vec<PropertyFilterInput>,
}

/// The numerator or the denominator of a RATIO metric.
#[derive(InputObject)]
pub struct RatioPartInput {
    /// The event that counts (1–200 characters).
    pub event: String,
    /// Up to 20 property filters, all of which must hold.
    #[graphql(default)]
    pub filters: Vec<PropertyFilterInput>,
    /// COUNT (the identity's number of events) or SUM (of their values).
    pub aggregation: Aggregation,
    /// Required for SUM; refused for COUNT.
    pub value: Option<ValueSourceInput>,
}

#[derive(InputObject)]
pub struct QuantileInput {
    /// The quantile level, in [0.5, 0.99] (0.9 is the 90th percentile).
    pub level: f64,
    pub over: QuantileOver,
    /// Leave values of 0 out of the quantile.
    #[graphql(default)]
    pub ignore_zeros: bool,
}

#[derive(InputObject)]
pub struct CappingInput {
    pub kind: CappingKind,
    /// ABSOLUTE: the largest value an identity keeps. PERCENTILE: a level in (0, 1], e.g. 0.99.
    pub upper: f64,
    /// ABSOLUTE: the smallest value an identity keeps (below `upper`). PERCENTILE: a level in
    /// [0, upper).
    pub lower: Option<f64>,
    /// PERCENTILE only: leave identities whose value is 0 out when computing the cap values
    /// (quantiles with linear interpolation, as GrowthBook's, of the values of every counted
    /// identity across variants).
    #[graphql(default)]
    pub ignore_zeros: bool,
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
            // An absent event becomes an empty one, which the domain requires or refuses by kind.
            event: input.event.unwrap_or_default(),
            filters: filters(input.filters),
            value: input.value.map(Into::into),
            window: input.window.map(|w| domain::MetricWindow {
                start_seconds: w.start_seconds,
                end_seconds: w.end_seconds,
            }),
            steps: input
                .steps
                .into_iter()
                .map(|s| domain::FunnelStep {
                    event: s.event,
                    filters: filters(s.filters),
                })
                .collect(),
            numerator: input.numerator.map(Into::into),
            denominator: input.denominator.map(Into::into),
            quantile: input.quantile.map(|q| domain::QuantileSpec {
                level: q.level,
                over: q.over.into(),
                ignore_zeros: q.ignore_zeros,
            }),
            capping: input.capping.map(|c| domain::Capping {
                kind: c.kind.into(),
                upper: c.upper,
                lower: c.lower,
                ignore_zeros: c.ignore_zeros,
            }),
        }
    }
}

fn filters(inputs: Vec<PropertyFilterInput>) -> Vec<domain::PropertyFilter> {
    inputs
        .into_iter()
        .map(|f| domain::PropertyFilter {
            property: f.property,
            op: f.op.into(),
            value: f.value.map(Into::into),
        })
        .collect()
}

impl From<ValueSourceInput> for domain::ValueSource {
    fn from(v: ValueSourceInput) -> Self {
        match v.source {
            ValueSourceKind::EventValue => domain::ValueSource::EventValue,
            // PROPERTY without a name becomes an empty name, which the domain rejects with its field.
            ValueSourceKind::Property => domain::ValueSource::Property {
                property: v.property.unwrap_or_default(),
            },
        }
    }
}

impl From<RatioPartInput> for domain::RatioPart {
    fn from(part: RatioPartInput) -> Self {
        domain::RatioPart {
            event: part.event,
            filters: filters(part.filters),
            aggregation: part.aggregation.into(),
            value: part.value.map(Into::into),
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

/// What a metric counts: a single-event metric has `event` (with `filters` and `value`), a funnel
/// `steps`, a RATIO metric `numerator` and `denominator`.
#[derive(SimpleObject)]
pub struct MetricDefinition {
    /// Null for funnels and ratios.
    pub event: Option<String>,
    pub filters: Vec<PropertyFilter>,
    pub value: Option<ValueSource>,
    pub window: Option<MetricWindow>,
    /// A funnel's steps, in order; empty for other metrics.
    pub steps: Vec<FunnelStep>,
    /// RATIO only: per identity, the numerator, over the metric's window.
    pub numerator: Option<RatioPart>,
    /// RATIO only: per identity, the denominator, over the metric's window. Only identities whose
    /// denominator is > 0 count; the metric is Σ numerator / Σ denominator over them.
    pub denominator: Option<RatioPart>,
    pub quantile: Option<Quantile>,
    pub capping: Option<Capping>,
}

#[derive(SimpleObject)]
pub struct FunnelStep {
    pub event: String,
    pub filters: Vec<PropertyFilter>,
}

#[derive(SimpleObject)]
pub struct RatioPart {
    pub event: String,
    pub filters: Vec<PropertyFilter>,
    /// COUNT or SUM.
    pub aggregation: Aggregation,
    pub value: Option<ValueSource>,
}

#[derive(SimpleObject)]
pub struct Quantile {
    pub level: f64,
    pub over: QuantileOver,
    pub ignore_zeros: bool,
}

#[derive(SimpleObject)]
pub struct Capping {
    pub kind: CappingKind,
    pub upper: f64,
    pub lower: Option<f64>,
    pub ignore_zeros: bool,
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

plain_object!(MetricDefinition {
    "event" => event,
    "filters" => filters,
    "value" => value,
    "window" => window,
    "steps" => steps,
    "numerator" => numerator,
    "denominator" => denominator,
    "quantile" => quantile,
    "capping" => capping,
});
plain_object!(FunnelStep { "event" => event, "filters" => filters });
plain_object!(RatioPart {
    "event" => event,
    "filters" => filters,
    "aggregation" => aggregation,
    "value" => value,
});
plain_object!(Quantile { "level" => level, "over" => over, "ignoreZeros" => ignore_zeros });
plain_object!(Capping {
    "kind" => kind,
    "upper" => upper,
    "lower" => lower,
    "ignoreZeros" => ignore_zeros,
});
plain_object!(PropertyFilter { "property" => property, "op" => op, "value" => value });
plain_object!(FilterValue {
    "string" => string,
    "number" => number,
    "boolean" => boolean,
    "stringList" => string_list,
    "numberList" => number_list,
});
plain_object!(ValueSource { "source" => source, "property" => property });
plain_object!(MetricWindow { "startSeconds" => start_seconds, "endSeconds" => end_seconds });

impl From<domain::MetricDefinition> for MetricDefinition {
    fn from(d: domain::MetricDefinition) -> Self {
        MetricDefinition {
            event: (!d.event.is_empty()).then_some(d.event),
            filters: output_filters(d.filters),
            value: d.value.map(value_source),
            window: d.window.map(|w| MetricWindow {
                start_seconds: w.start_seconds,
                end_seconds: w.end_seconds,
            }),
            steps: d
                .steps
                .into_iter()
                .map(|s| FunnelStep {
                    event: s.event,
                    filters: output_filters(s.filters),
                })
                .collect(),
            numerator: d.numerator.map(ratio_part),
            denominator: d.denominator.map(ratio_part),
            quantile: d.quantile.map(|q| Quantile {
                level: q.level,
                over: q.over.into(),
                ignore_zeros: q.ignore_zeros,
            }),
            capping: d.capping.map(|c| Capping {
                kind: c.kind.into(),
                upper: c.upper,
                lower: c.lower,
                ignore_zeros: c.ignore_zeros,
            }),
        }
    }
}

fn output_filters(filters: Vec<domain::PropertyFilter>) -> Vec<PropertyFilter> {
    filters
        .into_iter()
        .map(|f| PropertyFilter {
            property: f.property,
            op: f.op.into(),
            value: f.value.map(filter_value),
        })
        .collect()
}

fn value_source(v: domain::ValueSource) -> ValueSource {
    match v {
        domain::ValueSource::EventValue => ValueSource {
            source: ValueSourceKind::EventValue,
            property: None,
        },
        domain::ValueSource::Property { property } => ValueSource {
            source: ValueSourceKind::Property,
            property: Some(property),
        },
    }
}

fn ratio_part(part: domain::RatioPart) -> RatioPart {
    RatioPart {
        event: part.event,
        filters: output_filters(part.filters),
        aggregation: part.aggregation.into(),
        value: part.value.map(value_source),
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
