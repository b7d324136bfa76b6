use async_graphql::{Context, Object, ID};

use crate::domain::experiment::Transition;
use crate::graphql::context::{app, viewer};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::types::experiment::{CreateExperimentInput, Experiment, UpdateExperimentInput};
use crate::service;

#[derive(Default)]
pub struct ExperimentMutation;

impl ExperimentMutation {
    async fn transition(
        &self,
        ctx: &Context<'_>,
        id: ID,
        transition: Transition,
    ) -> GqlResult<Experiment> {
        let experiment = service::experiments::transition(app(ctx)?, viewer(ctx)?, &id, transition)
            .await
            .gql()?;
        Ok(Experiment(experiment))
    }
}

#[Object]
impl ExperimentMutation {
    /// Creates an experiment in status CREATED. `CONFLICT` when the feature already has an active
    /// (not completed) experiment in the environment.
    async fn create_experiment(
        &self,
        ctx: &Context<'_>,
        input: CreateExperimentInput,
    ) -> GqlResult<Experiment> {
        let (key, feature_id, draft) = input.into_parts();
        let experiment =
            service::experiments::create(app(ctx)?, viewer(ctx)?, &key, &feature_id, draft)
                .await
                .gql()?;
        Ok(Experiment(experiment))
    }

    async fn update_experiment(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateExperimentInput,
    ) -> GqlResult<Experiment> {
        let experiment = service::experiments::update(app(ctx)?, viewer(ctx)?, &id, input.into())
            .await
            .gql()?;
        Ok(Experiment(experiment))
    }

    /// CREATED or PAUSED → RUNNING.
    async fn start_experiment(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Experiment> {
        self.transition(ctx, id, Transition::Start).await
    }

    /// RUNNING → PAUSED.
    async fn pause_experiment(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Experiment> {
        self.transition(ctx, id, Transition::Pause).await
    }

    /// RUNNING or PAUSED → COMPLETED (terminal). With a warehouse configured, the results are
    /// computed and frozen in a snapshot in the same transaction; if the warehouse cannot answer,
    /// the experiment is not completed (`WAREHOUSE_UNAVAILABLE`) and nothing changes.
    async fn complete_experiment(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Experiment> {
        self.transition(ctx, id, Transition::Complete).await
    }

    /// Soft-deletes an experiment that is not running.
    async fn delete_experiment(&self, ctx: &Context<'_>, id: ID) -> GqlResult<Experiment> {
        Ok(Experiment(
            service::experiments::delete(app(ctx)?, viewer(ctx)?, &id)
                .await
                .gql()?,
        ))
    }
}
