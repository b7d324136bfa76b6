//! The metric library's rules: metric kinds, the metric definition (what events count and how,
//! `definition.rs`), and `NewMetric::parse`, the only way to obtain a metric that may be stored
//! (the definition's rules per kind in `parse.rs`).

mod definition;
mod parse;
#[cfg(test)]
mod tests;

pub use definition::{
    Capping, CappingKind, FilterValue, FunnelStep, MetricDefinition, MetricWindow, PropertyFilter,
    QuantileOver, QuantileSpec, RatioPart, ValueSource, DEFINITION_VERSION,
};
pub use parse::{MAX_FUNNEL_STEPS, MAX_WINDOW_SECONDS, MIN_FUNNEL_STEPS, QUANTILE_LEVELS};

use super::error::{DomainError, DomainResult};
use super::string_enum::string_enum;
use super::text::{optional_text, required_line};

string_enum! {
    /// NUMERIC metrics measure an amount per identity; CONVERSION metrics are 0/1 per identity
    /// (one event, or a funnel of steps); RATIO metrics divide two sums over the same identities.
    pub enum MetricType { Numeric = "NUMERIC", Conversion = "CONVERSION", Ratio = "RATIO" }
}

string_enum! {
    /// How an identity's events become its value.
    pub enum Aggregation {
        Count = "COUNT", Sum = "SUM", Mean = "MEAN", Occurrence = "OCCURRENCE",
        Quantile = "QUANTILE", Ratio = "RATIO",
    }
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
        let definition =
            parse::parse_definition(draft.metric_type, draft.aggregation, draft.definition)?;
        Ok(NewMetric(MetricDraft {
            name,
            description,
            definition,
            ..draft
        }))
    }
}

/// The definition rules of [`NewMetric::parse`] for a metric of this type and aggregation (also
/// what a preview of a definition checks); fields are named `definition.…`.
pub fn parse_definition(
    metric_type: MetricType,
    aggregation: Aggregation,
    definition: MetricDefinition,
) -> DomainResult<MetricDefinition> {
    parse::parse_definition(metric_type, aggregation, definition)
}

/// CONVERSION ⇔ OCCURRENCE; RATIO ⇔ RATIO; NUMERIC takes COUNT, SUM, MEAN or QUANTILE.
fn check_kind(metric_type: MetricType, aggregation: Aggregation) -> DomainResult<()> {
    let ok = match metric_type {
        MetricType::Conversion => aggregation == Aggregation::Occurrence,
        MetricType::Ratio => aggregation == Aggregation::Ratio,
        MetricType::Numeric => matches!(
            aggregation,
            Aggregation::Count | Aggregation::Sum | Aggregation::Mean | Aggregation::Quantile
        ),
    };
    if ok {
        return Ok(());
    }
    let message = match metric_type {
        MetricType::Conversion => "a CONVERSION metric must use the OCCURRENCE aggregation",
        MetricType::Ratio => "a RATIO metric must use the RATIO aggregation",
        MetricType::Numeric => "a NUMERIC metric takes COUNT, SUM, MEAN or QUANTILE",
    };
    Err(DomainError::validation("aggregation", message))
}
