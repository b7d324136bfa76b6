//! A metric definition's preview: what it would read from an environment's recent events.

use async_graphql::{Enum, Object, SimpleObject};

use crate::domain::preview as domain;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "domain::PreviewWarningCode")]
/// What a preview warns about.
pub enum PreviewWarningCode {
    /// No event of the definition's name in the period.
    NoEvents,
    /// A filter's property, or the value source's property, never appears on the event's rows in
    /// the period (a misspelt name, or one the SDK does not send).
    PropertyNeverPresent,
    /// The value (the value source's property, or the event's value) is present but not a finite
    /// number on some matching events; the message says how many.
    ValuesNotNumeric,
}

/// Something in a definition a person can act on.
#[derive(SimpleObject)]
pub struct PreviewWarning {
    /// What is wrong.
    pub code: PreviewWarningCode,
    /// What is wrong and what to check, for people (names the event, the property, how many).
    pub message: String,
    /// The property the warning is about, if any.
    pub property: Option<String>,
}

/// What a definition would read over the last `days` days up to now, without exposures: every
/// event of its name that passes its filters counts. An identity's value is the SUM of its
/// matching events' finite values when the definition has a value source, else the COUNT of its
/// matching events.
pub struct MetricPreview(pub domain::MetricPreview);

#[Object]
impl MetricPreview {
    /// The days covered, ending now.
    async fn days(&self) -> u32 {
        self.0.days
    }
    /// Events of the definition's name that pass its filters (each event once).
    async fn matching_events(&self) -> u64 {
        self.0.matching_events
    }
    /// Distinct identifiers among the matching events.
    async fn identities(&self) -> u64 {
        self.0.identities
    }
    /// Distinct identifiers with any event of the environment in the period.
    async fn identities_in_period(&self) -> u64 {
        self.0.identities_in_period
    }
    /// Identities with a value ÷ `identitiesInPeriod`: an identity has a value when it has a
    /// matching event and, with a value source, at least one finite numeric value. Null when no
    /// identity has an event in the period.
    async fn share_with_value(&self) -> Option<f64> {
        self.0.share_with_value
    }
    /// Median of the per-identity values over identities with a value; null when none. Quantiles
    /// interpolate linearly between the closest ranks of the sorted values (R-7, ClickHouse's
    /// `quantileExactInclusive`).
    async fn p50(&self) -> Option<f64> {
        self.0.quantiles.map(|q| q[0])
    }
    /// 90th percentile of the per-identity values (as `p50`); null when none.
    async fn p90(&self) -> Option<f64> {
        self.0.quantiles.map(|q| q[1])
    }
    /// 99th percentile of the per-identity values (as `p50`); null when none.
    async fn p99(&self) -> Option<f64> {
        self.0.quantiles.map(|q| q[2])
    }
    /// The largest per-identity value; null when no identity has a value.
    async fn max(&self) -> Option<f64> {
        self.0.max
    }
    /// Problems a person can fix before saving the metric; empty when none.
    async fn warnings(&self) -> Vec<PreviewWarning> {
        self.0
            .warnings
            .iter()
            .map(|w| PreviewWarning {
                code: w.code.into(),
                message: w.message.clone(),
                property: w.property.clone(),
            })
            .collect()
    }
}
