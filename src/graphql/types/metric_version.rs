//! `MetricVersion`: what a metric measured in one of its versions.

use async_graphql::Object;
use chrono::{DateTime, Utc};

use super::definition::MetricDefinition;
use super::enums::{Aggregation, Direction, MetricType};
use crate::domain::model;

pub struct MetricVersion(pub model::MetricVersion);

/// What a metric measured in one of its versions (experiments pin one; see
/// `ExperimentMetric.metricVersion`).
#[Object]
impl MetricVersion {
    /// 1 for the metric as created, one more for each change of what it measures.
    async fn version(&self) -> u32 {
        self.0.version
    }
    async fn metric_type(&self) -> MetricType {
        self.0.metric_type.into()
    }
    async fn aggregation(&self) -> Aggregation {
        self.0.aggregation.into()
    }
    async fn direction(&self) -> Direction {
        self.0.direction.into()
    }
    async fn definition(&self) -> MetricDefinition {
        self.0.definition.clone().into()
    }
    /// When this version was made.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}
