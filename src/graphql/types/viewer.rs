//! `Viewer`: the signed-in user and where they can go.

use async_graphql::{Context, Object, ID};

use super::environment::Environment;
use crate::auth;
use crate::graphql::context::db;
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::pagination::list_cost;
use crate::service;

pub struct Viewer(pub auth::Viewer);

#[Object]
impl Viewer {
    async fn id(&self) -> ID {
        ID(self.0.user.id.clone())
    }
    async fn email(&self) -> &str {
        &self.0.user.email
    }
    async fn name(&self) -> &str {
        &self.0.user.name
    }
    /// Environments the viewer can at least view, by key.
    /// Query complexity: what is selected inside, counted for 10 items.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn environments(&self, ctx: &Context<'_>) -> GqlResult<Vec<Environment>> {
        let visible = service::environments::visible_to(db(ctx)?, &self.0)
            .await
            .gql()?;
        Ok(visible.into_iter().map(Environment).collect())
    }
}
