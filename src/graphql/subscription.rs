//! The `Subscription` root: the live audit stream.

use std::sync::{Arc, Mutex};

use async_graphql::{Context, Subscription};
use futures_util::stream::{self, BoxStream};
use futures_util::StreamExt;

use super::context::{app, viewer};
use super::error::{gql, GqlResult, IntoGql};
use super::pagination::decode_cursor;
use super::types::audit::AuditLog;
use crate::domain::model::AuditEntry;
use crate::domain::DomainError;
use crate::service;

pub struct SubscriptionRoot;

/// Request data with which the WebSocket layer serves `auditLogCreated` to groups of subscribers
/// (`http/websocket/grouped.rs`): the schema still validates the document, checks access and
/// resolves the selection, but the stream itself is the group's.
pub enum AuditFanout {
    /// Check the subscription as usual (arguments, view permission) and record which stream it
    /// is in the slot, streaming nothing.
    Probe(Arc<Mutex<Vec<AuditStart>>>),
    /// Resolve the selection of this one entry. No viewer is present: the group checked each
    /// member's access when it joined, and no field of `AuditLog` depends on who watches.
    Deliver(Arc<AuditEntry>),
}

/// Which stream an `auditLogCreated` subscription asks for, once authorized.
#[derive(Debug, Clone)]
pub struct AuditStart {
    pub environment_id: String,
    /// Entries after this sequence (`None`: from now on).
    pub after: Option<i64>,
    /// The variable that carries `after`, if one does: it chooses where the stream starts, not
    /// what it shows, so subscriptions that differ only in it can share.
    pub after_variable: Option<String>,
}

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
    ) -> Result<BoxStream<'static, GqlResult<AuditLog>>, async_graphql::Error> {
        let fanout = ctx.data_opt::<AuditFanout>();
        if let Some(AuditFanout::Deliver(entry)) = fanout {
            let entry = AuditLog(AuditEntry::clone(entry));
            return Ok(stream::once(async move { Ok(entry) }).boxed());
        }
        let after = after
            .map(|cursor| {
                decode_cursor(&cursor)?.parse::<i64>().map_err(|_| {
                    DomainError::validation("after", "after is not an audit log cursor")
                })
            })
            .transpose()
            .gql()?;
        if let Some(AuditFanout::Probe(starts)) = fanout {
            let environment_id =
                service::audit::authorize_live(app(ctx)?, viewer(ctx)?, &environment_key)
                    .await
                    .gql()?;
            // The argument as written: a variable prints as `$name` (a literal string, quoted).
            let after_variable = ctx.item.node.get_argument("after").and_then(|argument| {
                argument
                    .node
                    .to_string()
                    .strip_prefix('$')
                    .map(str::to_owned)
            });
            if let Ok(mut starts) = starts.lock() {
                starts.push(AuditStart {
                    environment_id,
                    after,
                    after_variable,
                });
            }
            return Ok(stream::empty().boxed());
        }
        let stream = service::audit::live(app(ctx)?, viewer(ctx)?, &environment_key, after)
            .await
            .gql()?;
        Ok(stream.map(|entry| entry.map(AuditLog).map_err(gql)).boxed())
    }
}
