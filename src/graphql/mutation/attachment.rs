use async_graphql::{Context, Object, ID};

use crate::graphql::context::{app, viewer};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::types::attachment::{
    AttachMetricInput, ExperimentMetric, UpdateExperimentMetricInput,
};
use crate::service;

#[derive(Default)]
pub struct AttachmentMutation;

#[Object]
impl AttachmentMutation {
    /// Attaches a metric of the same environment to an experiment that is not completed.
    async fn attach_metric(
        &self,
        ctx: &Context<'_>,
        input: AttachMetricInput,
    ) -> GqlResult<ExperimentMetric> {
        let attachment = service::attachments::attach(app(ctx)?, viewer(ctx)?, input.into())
            .await
            .gql()?;
        Ok(ExperimentMetric::new(attachment))
    }

    async fn update_experiment_metric(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateExperimentMetricInput,
    ) -> GqlResult<ExperimentMetric> {
        let attachment = service::attachments::update(app(ctx)?, viewer(ctx)?, &id, input.into())
            .await
            .gql()?;
        Ok(ExperimentMetric::new(attachment))
    }

    /// Moves an attachment (experiment admins) to its metric's latest version, so the experiment's
    /// results follow it; refused on a completed experiment, `CONFLICT` when already there.
    async fn upgrade_experiment_metric(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<ExperimentMetric> {
        let attachment = service::attachments::upgrade(app(ctx)?, viewer(ctx)?, &id)
            .await
            .gql()?;
        Ok(ExperimentMetric::new(attachment))
    }

    /// Removes a metric from an experiment that is not completed; returns what was removed.
    async fn detach_metric(&self, ctx: &Context<'_>, id: ID) -> GqlResult<ExperimentMetric> {
        Ok(ExperimentMetric::new(
            service::attachments::detach(app(ctx)?, viewer(ctx)?, &id)
                .await
                .gql()?,
        ))
    }
}
