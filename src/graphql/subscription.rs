//! The `Subscription` root: the live audit stream.

use async_graphql::{Context, Subscription};
use futures_util::{Stream, StreamExt};

use super::context::{app, viewer};
use super::error::{gql, GqlResult, IntoGql};
use super::pagination::decode_cursor;
use super::types::audit::AuditLog;
use crate::domain::DomainError;
use crate::service;

pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every audit entry committed in the environment, in commit order, exactly once. With
    /// `after` (an `AuditLog.cursor`, from this stream or from `auditLogs`), first replays what was
    /// committed after it, then goes live with no gap. Without `after` the stream starts when the
    /// server has processed the subscription, which no protocol acknowledges: to never miss an
    /// entry, pass the cursor of the newest entry you have. Needs view permission on the
    /// environment (checked when the subscription starts).
    async fn audit_log_created(
        &self,
        ctx: &Context<'_>,
        environment_key: String,
        after: Option<String>,
    ) -> Result<impl Stream<Item = GqlResult<AuditLog>>, async_graphql::Error> {
        let after = after
            .map(|cursor| {
                decode_cursor(&cursor)?.parse::<i64>().map_err(|_| {
                    DomainError::validation("after", "after is not an audit log cursor")
                })
            })
            .transpose()
            .gql()?;
        let stream = service::audit::live(app(ctx)?, viewer(ctx)?, &environment_key, after)
            .await
            .gql()?;
        Ok(stream.map(|entry| entry.map(AuditLog).map_err(gql)))
    }
}
