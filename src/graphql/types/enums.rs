//! GraphQL enums, each mirroring a domain enum (`remote` derives the conversions both ways).

use async_graphql::Enum;

use crate::domain::{analysis, experiment, metric};
use crate::graphql::plain::plain_enums;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::MetricType")]
/// NUMERIC metrics measure an amount per identity; CONVERSION metrics are 0/1 per identity (one
/// event, or a funnel of `steps`); RATIO metrics divide a numerator by a denominator, both summed
/// over the same identities.
pub enum MetricType {
    Numeric,
    Conversion,
    Ratio,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::Aggregation")]
/// How an identity's events become its value. CONVERSION metrics use OCCURRENCE; NUMERIC ones
/// COUNT, SUM, MEAN or QUANTILE; RATIO metrics RATIO. A ratio's numerator and denominator are each a
/// COUNT or a SUM.
pub enum Aggregation {
    Count,
    Sum,
    Mean,
    Occurrence,
    /// A quantile of the values (see `MetricDefinition.quantile`), compared between variants.
    Quantile,
    /// The numerator's sum over the denominator's, over the identities whose denominator is > 0.
    Ratio,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::Direction")]
/// Which way is good for the business.
pub enum Direction {
    Up,
    Down,
    Informational,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::FilterOp")]
/// Comparison applied to an event property.
pub enum FilterOp {
    Eq,
    Neq,
    In,
    NotIn,
    Gt,
    Gte,
    Lt,
    Lte,
    Contains,
    Exists,
    NotExists,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
/// Where SUM and MEAN metrics read each event's number from.
pub enum ValueSourceKind {
    /// The event's own numeric value.
    EventValue,
    /// A numeric property of the event (name it in `property`).
    Property,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::QuantileOver")]
/// What a QUANTILE metric's quantile is taken over.
pub enum QuantileOver {
    /// Every event's value; an identity with several events contributes several values (the
    /// variance accounts for that).
    Events,
    /// Each identity's sum of values.
    Identities,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "metric::CappingKind")]
/// How a metric's cap values are given.
pub enum CappingKind {
    /// `upper` and `lower` are values on the metric's own scale.
    Absolute,
    /// `upper` and `lower` are quantile levels of the per-identity values, pooled across variants
    /// and computed in each results query.
    Percentile,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "experiment::ExperimentStatus")]
pub enum ExperimentStatus {
    Created,
    Running,
    Paused,
    Completed,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "experiment::MultipleExposureHandling")]
/// What happens to identities exposed to more than one variant of the experiment's feature.
pub enum MultipleExposureHandling {
    /// Keep each identity in the variant of its first exposure.
    FirstTouch,
    /// Leave such identities out of the analysis and count them (default).
    Exclude,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "experiment::ExpectedDirection")]
/// What the experimenter expects the metric to do under treatment.
pub enum ExpectedDirection {
    Increase,
    Decrease,
    NotIncrease,
    NotDecrease,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "experiment::MetricRole")]
pub enum MetricRole {
    Primary,
    Secondary,
    Guardrail,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "analysis::Engine")]
/// How an experiment's effects are tested.
pub enum AnalysisEngine {
    /// Welch t-tests and delta-method relative lifts: p-values and confidence intervals (default).
    Frequentist,
    /// A Gaussian posterior on the lift: chance to win, credible intervals and risk; no p-values.
    Bayesian,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "analysis::Correction")]
/// How p-values are adjusted across the family of (PRIMARY + SECONDARY metrics) × (non-control
/// variants) of one experiment; GUARDRAIL metrics are never corrected, so they stay sensitive.
pub enum MultipleTestingCorrection {
    /// No adjustment (default).
    None,
    /// Holm–Bonferroni: controls the family-wise error rate.
    HolmBonferroni,
    /// Benjamini–Hochberg: controls the false discovery rate.
    BenjaminiHochberg,
}

plain_enums!(
    MetricType,
    Aggregation,
    Direction,
    FilterOp,
    ValueSourceKind,
    QuantileOver,
    CappingKind,
    ExperimentStatus,
    MultipleExposureHandling,
    ExpectedDirection,
    MetricRole,
);
