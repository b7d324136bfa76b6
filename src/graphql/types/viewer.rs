//! `Viewer`: the signed-in user and where they can go.

use async_graphql::{Context, Object, ID};

use super::environment::Environment;
use crate::auth;
use crate::graphql::context::db;
use crate::graphql::error::{GqlResult, IntoGql};
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
    async fn environments(&self, ctx: &Context<'_>) -> GqlResult<Vec<Environment>> {
        let db = db(ctx)?;
        let mut out = Vec::new();
        for env in service::environments::visible_to(db, &self.0).await.gql()? {
            out.push(Environment(
                service::access::resolve(db, &self.0, env).await.gql()?,
            ));
        }
        Ok(out)
    }
}
