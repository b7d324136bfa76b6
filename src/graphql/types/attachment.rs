//! `ExperimentMetric`: a metric attached to an experiment, with its role and expected direction.

use async_graphql::{Context, ContextSelectionSet, InputObject, Object, Value, ID};
use chrono::{DateTime, Utc};

use super::enums::{ExpectedDirection, MetricRole};
use super::experiment::Experiment;
use super::metric::Metric;
use super::metric_version::MetricVersion;
use crate::domain::experiment as domain;
use crate::domain::model;
use crate::domain::DomainError;
use crate::graphql::error::GqlResult;
use crate::graphql::loaders::{self, ExperimentById, MetricById, PinnedVersion};
use crate::graphql::plain::{try_walk, Fast, Plain, PlainFields};
use crate::service::attachments::{AttachDraft, AttachmentPatch};

/// An attachment; with its experiment when the list it came from read both in one statement (a
/// page of metrics, see `Metric`), else the experiment is batch-loaded.
#[derive(Clone)]
pub struct ExperimentMetric(pub model::ExperimentMetric, pub Option<Experiment>);

impl ExperimentMetric {
    /// An attachment whose experiment the `experiment` field loads.
    pub fn new(attachment: model::ExperimentMetric) -> Self {
        Self(attachment, None)
    }
}

#[Object]
impl ExperimentMetric {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn expected_direction(&self) -> ExpectedDirection {
        self.0.expected_direction.into()
    }
    async fn role(&self) -> MetricRole {
        self.0.role.into()
    }
    /// The metric's version this experiment is analysed with: the current one when attached,
    /// moved to the latest only by `upgradeExperimentMetric`.
    async fn metric_version(&self) -> u32 {
        self.0.metric_version
    }
    /// What the pinned version measures (`metric` shows the latest).
    async fn definition(&self, ctx: &Context<'_>) -> GqlResult<MetricVersion> {
        let key = PinnedVersion(self.0.metric_id.clone(), self.0.metric_version);
        let version =
            loaders::require(ctx, key, || DomainError::not_found("metric version")).await?;
        Ok(MetricVersion(version))
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    async fn experiment(&self, ctx: &Context<'_>) -> GqlResult<Fast<Experiment>> {
        if let Some(experiment) = &self.1 {
            return Ok(Fast(experiment.clone()));
        }
        let id = ExperimentById(self.0.experiment_id.clone());
        let experiment = loaders::require(ctx, id, || DomainError::not_found("experiment")).await?;
        Ok(Fast(Experiment(experiment)))
    }
    async fn metric(&self, ctx: &Context<'_>) -> GqlResult<Fast<Metric>> {
        let id = MetricById(self.0.metric_id.clone());
        let metric = loaders::require(ctx, id, || DomainError::not_found("metric")).await?;
        Ok(Fast(Metric::new(metric)))
    }
}

impl PlainFields for ExperimentMetric {
    fn plain_field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
        let attachment = &self.0;
        Some(match name {
            "id" => attachment.id.plain(ctx),
            "expectedDirection" => {
                ExpectedDirection::from(attachment.expected_direction).plain(ctx)
            }
            "role" => MetricRole::from(attachment.role).plain(ctx),
            "metricVersion" => attachment.metric_version.plain(ctx),
            "createdAt" => attachment.created_at.plain(ctx),
            "updatedAt" => attachment.updated_at.plain(ctx),
            // Read with the attachment: plain when everything selected of it is.
            "experiment" => try_walk(ctx, self.1.as_ref()?)?,
            _ => return None,
        })
    }
}

#[derive(InputObject)]
pub struct AttachMetricInput {
    pub experiment_id: ID,
    /// A metric of the same environment as the experiment.
    pub metric_id: ID,
    pub expected_direction: ExpectedDirection,
    #[graphql(default_with = "MetricRole::Primary")]
    pub role: MetricRole,
}

impl From<AttachMetricInput> for AttachDraft {
    fn from(input: AttachMetricInput) -> Self {
        AttachDraft {
            experiment_id: input.experiment_id.0,
            metric_id: input.metric_id.0,
            expected_direction: domain::ExpectedDirection::from(input.expected_direction),
            role: domain::MetricRole::from(input.role),
        }
    }
}

#[derive(InputObject)]
pub struct UpdateExperimentMetricInput {
    pub expected_direction: Option<ExpectedDirection>,
    pub role: Option<MetricRole>,
}

impl From<UpdateExperimentMetricInput> for AttachmentPatch {
    fn from(input: UpdateExperimentMetricInput) -> Self {
        AttachmentPatch {
            expected_direction: input.expected_direction.map(Into::into),
            role: input.role.map(Into::into),
        }
    }
}
