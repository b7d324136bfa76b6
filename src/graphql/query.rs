//! The `Query` root: entry points by key or id. Missing or invisible objects are `null` with a
//! `NOT_FOUND` error.

use async_graphql::{Context, Object, ID};

use super::context::{db, viewer};
use super::error::{GqlResult, IntoGql};
use super::nullable::or_null;
use super::types::environment::Environment;
use super::types::experiment::Experiment;
use super::types::metric::Metric;
use super::types::viewer::Viewer;
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
            Ok(Some(Metric(metric)))
        })
        .await
    }
}
