//! A nullable field whose resolver fails is `null` in `data`, with its error in `errors`, as the
//! GraphQL specification says. async-graphql 7 leaves such a field out of its parent object
//! instead (`resolver_utils::container`: a field's `Err` is added to the response's errors and the
//! field is skipped), so a client could not tell "failed" from "not asked for".
//!
//! Only the few nullable fields that can fail ask for this, through [`or_null`]: a schema
//! extension doing it for every field would put async-graphql's per-field extension chain on every
//! field of every response.

use std::future::Future;

use async_graphql::Context;

use super::error::GqlResult;

/// The field's value, or `None` with its error recorded at the field's position and path (what
/// async-graphql itself records for a failed field).
pub async fn or_null<T>(
    ctx: &Context<'_>,
    resolve: impl Future<Output = GqlResult<Option<T>>>,
) -> Option<T> {
    match resolve.await {
        Ok(value) => value,
        Err(err) => {
            ctx.add_error(ctx.set_error_path(err.into_server_error(ctx.item.pos)));
            None
        }
    }
}
