//! `Metric` and its inputs.

use async_graphql::{Context, ContextSelectionSet, InputObject, Object, Value, ID};
use chrono::{DateTime, Utc};

use super::attachment::ExperimentMetric;
use super::definition::{MetricDefinition, MetricDefinitionInput};
use super::enums::{Aggregation, Direction, MetricType};
use super::environment::Environment;
use super::experiment::Experiment;
use super::metric_version::MetricVersion;
use crate::db::page::PageRequest;
use crate::db::Db;
use crate::domain::metric_edit::MetricPatch;
use crate::domain::DomainError;
use crate::domain::{metric::MetricDraft, model};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::loaders::{self, AttachmentsOfMetric, EnvironmentById, VersionsOfMetric};
use crate::graphql::pagination::{
    connection, connection_by, encode_cursor, list_cost, page_cost, page_request, Conn,
};
use crate::graphql::plain::{try_walk, Fast, Plain, PlainFields};
use crate::service;
use crate::service::access::EnvironmentAccess;

/// A metric; in a page of metrics whose query asks for their attachments, with every attachment
/// and its experiment, read for the whole page in one statement before the page resolves (`None`:
/// the `attachments` field loads them).
pub struct Metric(pub model::Metric, pub Option<Vec<ExperimentMetric>>);

impl Metric {
    /// A metric whose `attachments` field loads them.
    pub fn new(metric: model::Metric) -> Self {
        Self(metric, None)
    }

    /// A page of an environment's metrics. When the query asks for their attachments, each
    /// metric's attachments and their experiments are read in the page's own statement (instead
    /// of a batch for the attachments, then one for their experiments), and each node's
    /// attachments are then walked like its other data.
    pub async fn page(
        ctx: &Context<'_>,
        db: &Db,
        environment: &EnvironmentAccess,
        search: Option<&str>,
        page: &PageRequest,
    ) -> GqlResult<Conn<Fast<Metric>>> {
        let asked = [
            ctx.look_ahead().field("edges").field("node"),
            ctx.look_ahead().field("nodes"),
        ]
        .iter()
        .any(|node| node.field("attachments").exists());
        let metrics = service::metrics::list(db, environment, search, page, asked)
            .await
            .gql()?;
        Ok(connection(
            metrics,
            |(m, _)| &m.id,
            |(m, attachments)| {
                let attachments = attachments.map(|read| {
                    read.into_iter()
                        .map(|(attachment, experiment)| {
                            ExperimentMetric(attachment, Some(Experiment(experiment)))
                        })
                        .collect()
                });
                Fast(Metric(m, attachments))
            },
        ))
    }
}

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
    /// The current version: 1 when created, one more for each change of type, aggregation,
    /// direction or definition. New attachments pin it.
    async fn version(&self) -> u32 {
        self.0.version
    }
    /// Every version of the metric, newest first (the current one first).
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<MetricVersion>> {
        let page = page_request(ctx, first, after).gql()?;
        let all = loaders::load(ctx, VersionsOfMetric(self.0.id.clone())).await?;
        let versions = service::metrics::versions_page(all.unwrap_or_default(), &page).gql()?;
        Ok(connection_by(
            versions,
            |v| encode_cursor(&v.version.to_string()),
            MetricVersion,
        ))
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
    async fn attachments(&self, ctx: &Context<'_>) -> GqlResult<Vec<Fast<ExperimentMetric>>> {
        if let Some(attached) = &self.1 {
            return Ok(attached.iter().cloned().map(Fast).collect());
        }
        let rows = loaders::load(ctx, AttachmentsOfMetric(self.0.id.clone())).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|row| Fast(ExperimentMetric::new(row)))
            .collect())
    }
}

impl PlainFields for Metric {
    fn plain_field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
        let metric = &self.0;
        Some(match name {
            "id" => metric.id.plain(ctx),
            "name" => metric.name.plain(ctx),
            "description" => metric.description.plain(ctx),
            "metricType" => MetricType::from(metric.metric_type).plain(ctx),
            "aggregation" => Aggregation::from(metric.aggregation).plain(ctx),
            "direction" => Direction::from(metric.direction).plain(ctx),
            "definition" => MetricDefinition::from(metric.definition.clone()).plain(ctx),
            "version" => metric.version.plain(ctx),
            "createdAt" => metric.created_at.plain(ctx),
            "deletedAt" => metric.deleted_at.plain(ctx),
            // Read with the page: plain when everything selected of them is.
            "attachments" => Value::List(
                self.1
                    .as_ref()?
                    .iter()
                    .map(|attachment| try_walk(ctx, attachment))
                    .collect::<Option<_>>()?,
            ),
            _ => return None,
        })
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

/// Changes to a metric; omitted fields stay. `name` and `description` change in place; a change of
/// `metricType`, `aggregation`, `direction` or `definition` makes a new version (experiments keep
/// the version they use until `upgradeExperimentMetric`). The result is checked like a new metric.
#[derive(InputObject)]
pub struct UpdateMetricInput {
    /// 1–255 characters, unique among the environment's metrics.
    pub name: Option<String>,
    pub description: Option<String>,
    pub metric_type: Option<MetricType>,
    pub aggregation: Option<Aggregation>,
    pub direction: Option<Direction>,
    /// Replaces the whole definition.
    pub definition: Option<MetricDefinitionInput>,
}

impl From<UpdateMetricInput> for MetricPatch {
    fn from(input: UpdateMetricInput) -> Self {
        MetricPatch {
            name: input.name,
            description: input.description,
            metric_type: input.metric_type.map(Into::into),
            aggregation: input.aggregation.map(Into::into),
            direction: input.direction.map(Into::into),
            definition: input.definition.map(Into::into),
        }
    }
}
