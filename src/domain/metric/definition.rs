//! What a metric counts, as stored: `MetricDefinition` and its parts, and the versioned JSON in
//! `metrics.definition` (`MetricDefinition::to_stored` / `from_stored` are its only writer and
//! reader).
//!
//! One flat shape holds every kind, each part optional, so that a stored definition of an older
//! format reads as the same metric: a single-event metric uses `event`, `filters` and `value`; a
//! funnel (CONVERSION) names its events in `steps`; a RATIO metric in `numerator` and
//! `denominator`; QUANTILE metrics add `quantile`, capped NUMERIC metrics `capping`. Which parts a
//! kind takes is checked by `NewMetric::parse` (`parse.rs`).

use serde::{Deserialize, Serialize};

use super::{Aggregation, FilterOp};

/// The format `to_stored` writes. Format 1 (before funnels, ratios, quantiles and capping) reads
/// unchanged: every part added since has a default.
pub const DEFINITION_VERSION: u32 = 2;
const OLDEST_READABLE_VERSION: u32 = 1;

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

/// Where SUM, MEAN and QUANTILE metrics (and SUM parts of a ratio) read each event's number from.
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

/// One step of a funnel: an event, with filters, that must follow the previous step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunnelStep {
    pub event: String,
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
}

/// The numerator or the denominator of a RATIO metric: per identity, the COUNT of its events or
/// the SUM of their values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatioPart {
    pub event: String,
    #[serde(default)]
    pub filters: Vec<PropertyFilter>,
    /// COUNT or SUM.
    pub aggregation: Aggregation,
    /// Required for SUM, refused for COUNT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueSource>,
}

/// What the quantile of a QUANTILE metric is taken over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuantileOver {
    /// Every event's value (an identity with several events contributes several values; the
    /// variance accounts for that clustering).
    Events,
    /// Each identity's sum of values.
    Identities,
}

/// A QUANTILE metric's quantile.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuantileSpec {
    /// In [0.5, 0.99].
    pub level: f64,
    pub over: QuantileOver,
    /// Leave values of 0 out of the quantile.
    #[serde(default)]
    pub ignore_zeros: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CappingKind {
    /// `upper` and `lower` are values on the metric's own scale.
    Absolute,
    /// `upper` and `lower` are quantile levels of the per-identity values pooled across variants.
    Percentile,
}

/// Outlier capping of a NUMERIC metric's per-identity values (and of its CUPED covariate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capping {
    pub kind: CappingKind,
    pub upper: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lower: Option<f64>,
    /// PERCENTILE only: leave identities whose value is 0 out when computing the cap values.
    #[serde(default)]
    pub ignore_zeros: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricDefinition {
    /// The event of a single-event metric; empty for funnels and ratios.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub event: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<PropertyFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<ValueSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<MetricWindow>,
    /// A funnel's steps, in order (CONVERSION).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<FunnelStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<RatioPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<RatioPart>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantile: Option<QuantileSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capping: Option<Capping>,
}

#[derive(Serialize)]
struct StoredDefinition {
    version: u32,
    #[serde(flatten)]
    definition: MetricDefinition,
}

impl MetricDefinition {
    /// A single-event definition without filters, value, or window.
    pub fn on_event(event: impl Into<String>) -> Self {
        MetricDefinition {
            event: event.into(),
            ..Default::default()
        }
    }

    /// Whether the metric is a funnel (its events are in `steps`).
    pub fn is_funnel(&self) -> bool {
        !self.steps.is_empty()
    }

    /// The JSON stored in `metrics.definition`.
    pub fn to_stored(&self) -> serde_json::Value {
        let stored = StoredDefinition {
            version: DEFINITION_VERSION,
            definition: self.clone(),
        };
        serde_json::to_value(stored).unwrap_or(serde_json::Value::Null)
    }

    /// Reads a stored definition, refusing versions this build does not know. The version is
    /// read first and the definition straight from the same object (its `version` key is not a
    /// field, so it is skipped): `#[serde(flatten)]` would buffer every value first, on every
    /// metric of every list.
    pub fn from_stored(value: serde_json::Value) -> Result<Self, String> {
        readable(value.get("version"))?;
        serde_json::from_value(value).map_err(|e| format!("malformed metric definition: {e}"))
    }

    /// [`Self::from_stored`] from the stored JSON's text, without building a `serde_json::Value`
    /// first (a page of metrics reads each definition this way).
    pub fn from_stored_text(text: &str) -> Result<Self, String> {
        // Only the version is read into a value; the other keys are skipped.
        #[derive(Deserialize)]
        struct Versioned {
            version: Option<serde_json::Value>,
        }
        // serde would read a sequence's first item as `version`: a definition is an object.
        let version = match text.trim_start().starts_with('{') {
            true => {
                serde_json::from_str::<Versioned>(text)
                    .map_err(|e| format!("malformed metric definition: {e}"))?
                    .version
            }
            false => None,
        };
        readable(version.as_ref())?;
        serde_json::from_str(text).map_err(|e| format!("malformed metric definition: {e}"))
    }
}

/// A stored definition's `version`, refused unless this build reads it.
fn readable(version: Option<&serde_json::Value>) -> Result<u64, String> {
    let version = version.ok_or("malformed metric definition: missing field `version`")?;
    let version = version.as_u64().ok_or_else(|| {
        format!("malformed metric definition: version {version} is not a whole number")
    })?;
    if (u64::from(OLDEST_READABLE_VERSION)..=u64::from(DEFINITION_VERSION)).contains(&version) {
        return Ok(version);
    }
    Err(format!(
        "metric definition version {version} is not supported (expected \
         {OLDEST_READABLE_VERSION} to {DEFINITION_VERSION})"
    ))
}
