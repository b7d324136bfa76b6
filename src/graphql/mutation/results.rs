use async_graphql::{Context, Object, ID};

use crate::graphql::context::{app, viewer};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::types::results::ResultSnapshot;
use crate::service;

#[derive(Default)]
pub struct ResultsMutation;

#[Object]
impl ResultsMutation {
    /// Stores a new results snapshot of a running or paused experiment (environment admins). At
    /// most one per minute per experiment (`CONFLICT`); completed experiments are frozen.
    async fn refresh_results(
        &self,
        ctx: &Context<'_>,
        experiment_id: ID,
    ) -> GqlResult<ResultSnapshot> {
        let snapshot = service::results::refresh(app(ctx)?, viewer(ctx)?, &experiment_id)
            .await
            .gql()?;
        Ok(ResultSnapshot(snapshot))
    }
}
