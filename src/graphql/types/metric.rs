//! `Metric` and its inputs.

use async_graphql::{Context, InputObject, Object, ID};
use chrono::{DateTime, Utc};

use super::attachment::ExperimentMetric;
use super::definition::{MetricDefinition, MetricDefinitionInput};
use super::enums::{Aggregation, Direction, MetricType};
use super::environment::Environment;
use crate::domain::DomainError;
use crate::domain::{metric::MetricDraft, model};
use crate::graphql::error::GqlResult;
use crate::graphql::loaders::{self, AttachmentsOfMetric, EnvironmentById};
use crate::graphql::pagination::list_cost;

pub struct Metric(pub model::Metric);

#[Object]
impl Metric {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
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
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Set only on the result of `deleteMetric`: deleted metrics are otherwise invisible.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    async fn environment(&self, ctx: &Context<'_>) -> GqlResult<Environment> {
        let id = EnvironmentById(self.0.environment_id.clone());
        let env = loaders::require(ctx, id, || DomainError::not_found("environment")).await?;
        Ok(Environment(env))
    }
    /// Where this metric is attached (experiments that are not deleted).
    /// Query complexity: what is selected inside, counted for 10 items.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn attachments(&self, ctx: &Context<'_>) -> GqlResult<Vec<ExperimentMetric>> {
        let rows = loaders::load(ctx, AttachmentsOfMetric(self.0.id.clone())).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(ExperimentMetric)
            .collect())
    }
}

#[derive(InputObject)]
pub struct CreateMetricInput {
    /// The environment whose library gets the metric.
    pub environment_key: String,
    /// 1–255 characters, unique among the environment's metrics.
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub metric_type: MetricType,
    pub aggregation: Aggregation,
    pub direction: Direction,
    pub definition: MetricDefinitionInput,
}

impl From<CreateMetricInput> for MetricDraft {
    fn from(input: CreateMetricInput) -> Self {
        MetricDraft {
            name: input.name,
            description: input.description,
            metric_type: input.metric_type.into(),
            aggregation: input.aggregation.into(),
            direction: input.direction.into(),
            definition: input.definition.into(),
        }
    }
}
