//! What a resolver can reach: the `App` (schema data) and the request's or connection's
//! authentication.

use async_graphql::Context;

use crate::auth::{Authentication, Viewer};
use crate::db::Db;
use crate::service::App;

use super::error::{gql, GqlResult};

static ANONYMOUS: Authentication = Authentication::Anonymous;

pub fn app<'a>(ctx: &Context<'a>) -> GqlResult<&'a App> {
    ctx.data::<App>()
}

pub fn db<'a>(ctx: &Context<'a>) -> GqlResult<&'a Db> {
    Ok(&app(ctx)?.db)
}

/// The authenticated user, or `UNAUTHENTICATED` with the reason.
pub fn viewer<'a>(ctx: &Context<'a>) -> GqlResult<&'a Viewer> {
    ctx.data_opt::<Authentication>()
        .unwrap_or(&ANONYMOUS)
        .viewer()
        .map_err(gql)
}
