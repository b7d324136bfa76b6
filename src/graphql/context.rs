//! What a resolver can reach: the database (schema data) and the request's authentication.

use async_graphql::Context;

use crate::auth::{Authentication, Viewer};
use crate::db::Db;

use super::error::{gql, GqlResult};

static ANONYMOUS: Authentication = Authentication::Anonymous;

pub fn db<'a>(ctx: &Context<'a>) -> GqlResult<&'a Db> {
    ctx.data::<Db>()
}

/// The authenticated user, or `UNAUTHENTICATED` with the reason.
pub fn viewer<'a>(ctx: &Context<'a>) -> GqlResult<&'a Viewer> {
    ctx.data_opt::<Authentication>()
        .unwrap_or(&ANONYMOUS)
        .viewer()
        .map_err(gql)
}
