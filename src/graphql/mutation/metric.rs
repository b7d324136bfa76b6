use async_graphql::{Context, Object, ID};

use crate::graphql::context::{app, viewer};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::types::metric::{CreateMetricInput, Metric, UpdateMetricInput};
use crate::service;

#[derive(Default)]
pub struct MetricMutation;

#[Object]
impl MetricMutation {
    /// Adds a metric to an environment's library (environment admins).
    async fn create_metric(
        &self,
        ctx: &Context<'_>,
        input: CreateMetricInput,
    ) -> GqlResult<Metric> {
        let key = input.environment_key.clone();
        let metric = service::metrics::create(app(ctx)?, viewer(ctx)?, &key, input.into())
            .await
            .gql()?;
        Ok(Metric::new(metric))
    }

    /// Changes a metric (environment admins): name and description in place; a change of what it
    /// measures (type, aggregation, direction, definition) makes the next version, which attached
    /// experiments adopt only through `upgradeExperimentMetric`.
    async fn update_metric(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateMetricInput,
    ) -> GqlResult<Metric> {
        let metric = service::metrics::update(app(ctx)?, viewer(ctx)?, &id, input.into())
            .await
            .gql()?;
        Ok(Metric::new(metric))
    }

    /// Soft-deletes a metric; `CONFLICT` while an experiment that is not completed uses it.
    async fn delete_metric(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Metric> {
        Ok(Metric::new(
            service::metrics::delete(app(ctx)?, viewer(ctx)?, &id)
                .await
                .gql()?,
        ))
    }
}
