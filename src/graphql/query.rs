//! The `Query` root: entry points by key or id. Missing or invisible objects are `null` with a
//! `NOT_FOUND` error.

use async_graphql::{Context, Object, ID};

use super::context::{app, db, viewer};
use super::error::{GqlResult, IntoGql};
use super::nullable::or_null;
use super::types::definition::MetricDefinitionInput;
use super::types::environment::Environment;
use super::types::experiment::Experiment;
use super::types::metric::Metric;
use super::types::preview::MetricPreview;
use super::types::viewer::Viewer;
use crate::domain::preview::DEFAULT_DAYS;
use crate::service;

pub struct QueryRoot;

#[Object]
impl QueryRoot {
    /// The signed-in user.
    async fn viewer(&self, ctx: &Context<'_>) -> GqlResult<Viewer> {
        Ok(Viewer(viewer(ctx)?.clone()))
    }

    /// An environment by its public key.
    async fn environment(&self, ctx: &Context<'_>, key: String) -> Option<Environment> {
        or_null(ctx, async {
            let env = service::environments::by_key(db(ctx)?, viewer(ctx)?, &key)
                .await
                .gql()?;
            Ok(Some(Environment(env)))
        })
        .await
    }

    async fn experiment(&self, ctx: &Context<'_>, id: ID) -> Option<Experiment> {
        or_null(ctx, async {
            let experiment = service::experiments::get(db(ctx)?, viewer(ctx)?, &id)
                .await
                .gql()?;
            Ok(Some(Experiment(experiment)))
        })
        .await
    }

    async fn metric(&self, ctx: &Context<'_>, id: ID) -> Option<Metric> {
        or_null(ctx, async {
            let metric = service::metrics::get(db(ctx)?, viewer(ctx)?, &id)
                .await
                .gql()?;
            Ok(Some(Metric::new(metric)))
        })
        .await
    }

    /// What a metric definition would read from the environment's warehouse over the last `days`
    /// days up to now, without saving anything: counts, per-identity value quantiles and
    /// warnings. Environment viewers; an environment the viewer cannot see is `NOT_FOUND`.
    /// `definition` is checked as `createMetric` checks it (a SUM metric's when it has a value
    /// source, else a COUNT metric's; errors name `definition.…`); its `window` does not apply
    /// (a preview has no exposures). Single-event definitions only, for now: funnel `steps`, a
    /// ratio's `numerator`/`denominator`, `quantile` and `capping` are refused with
    /// `BAD_USER_INPUT` (field `definition`). `days` is 1 to 90 (`BAD_USER_INPUT`, field
    /// `days`). Runs one warehouse query under the results queries' limits;
    /// `WAREHOUSE_NOT_CONFIGURED` / `WAREHOUSE_UNAVAILABLE` when the warehouse cannot answer.
    /// Query complexity: 100 plus what is selected inside.
    #[graphql(complexity = "100 + child_complexity")]
    async fn preview_metric(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The environment whose events are read.")] environment_key: String,
        #[graphql(
            desc = "The definition to try, checked as createMetric checks it; its window does not \
                    apply (a preview has no exposures)."
        )]
        definition: MetricDefinitionInput,
        #[graphql(
            default_with = "Some(DEFAULT_DAYS)",
            desc = "How many days up to now to read (1 to 90); null reads the default, 7."
        )]
        days: Option<i32>,
    ) -> Option<MetricPreview> {
        or_null(ctx, async {
            let preview = service::preview::preview_metric(
                app(ctx)?,
                viewer(ctx)?,
                &environment_key,
                definition.into(),
                days.unwrap_or(DEFAULT_DAYS),
            )
            .await
            .gql()?;
            Ok(Some(MetricPreview(preview)))
        })
        .await
    }
}
