//! The audit log: recording every mutation (one call, in the mutation's transaction), listing it,
//! and streaming it live.

use std::sync::Arc;

use futures_util::Stream;
use sea_orm::DatabaseTransaction;
use tokio::sync::broadcast::error::RecvError;

use crate::auth::Viewer;
use crate::db::page::{Page, PageRequest};
use crate::db::repo::{self, audit::AuditFilter};
use crate::db::Db;
use crate::domain::audit::AuditRecord;
use crate::domain::error::DomainResult;
use crate::domain::model::AuditEntry;
use crate::domain::text;
use crate::events::hub::READ_BATCH;

use super::access::{self, EnvironmentAccess};
use super::App;

/// Ends a mutation: writes its audit entry in `txn`, commits, then wakes live subscribers.
/// Every mutation calls this instead of `txn.commit()`, so none can commit without its entry.
pub async fn commit(
    app: &App,
    txn: DatabaseTransaction,
    environment: &EnvironmentAccess,
    viewer: &Viewer,
    record: AuditRecord,
) -> DomainResult<()> {
    repo::audit::record(
        &txn,
        &environment.environment,
        &environment.project,
        &viewer.user,
        &record,
    )
    .await?;
    // A failed COMMIT (disk full, database gone) is an error and nothing is published: the
    // transaction is rolled back, and a connection SQLite left out of step is closed on release
    // (`db::connect`), so a success always means the row and its entry are on disk.
    txn.commit().await?;
    app.audit.wake(&environment.environment.id).await;
    Ok(())
}

/// An environment's entries, newest first (view permission on the environment).
pub async fn list(
    db: &Db,
    environment: &EnvironmentAccess,
    filter: &AuditFilter,
    page: &PageRequest,
) -> DomainResult<Page<AuditEntry>> {
    if let Some(actor) = &filter.actor_email {
        text::lookup("actor", actor, text::MAX_EMAIL)?;
    }
    repo::audit::page(db, &environment.environment.id, filter, page).await
}

/// The id of the environment `key` when the viewer may watch its entries (view permission):
/// every viewer who may gets the same entries, so this is all a shared stream needs to know.
pub async fn authorize_live(app: &App, viewer: &Viewer, key: &str) -> DomainResult<String> {
    let environment = access::by_key(&app.db, viewer, key).await?;
    Ok(environment.environment.id)
}

/// Every entry of the environment `key` committed after `after` (a sequence; `None` = from now),
/// in commit order, each exactly once. Permission is checked here, when the subscription starts.
///
/// The receiver is taken before the starting point is read, so nothing falls between the replay
/// from the table and the live broadcast; sequences at or below the last one delivered are skipped.
/// When the subscriber lags behind the bounded broadcast it reads the gap from the table.
pub async fn live(
    app: &App,
    viewer: &Viewer,
    key: &str,
    after: Option<i64>,
) -> DomainResult<impl Stream<Item = DomainResult<AuditEntry>> + Send + 'static> {
    let environment_id = authorize_live(app, viewer, key).await?;
    let mut receiver = app.audit.subscribe(&environment_id).await?;
    let mut last = match after {
        Some(sequence) => sequence,
        None => repo::audit::max_sequence(&app.db, &environment_id).await?,
    };
    let (db, hub) = (app.db.clone(), app.audit.clone());
    Ok(async_stream::try_stream! {
        let mut catch_up = true;
        loop {
            while catch_up {
                let rows = repo::audit::after(&db, &environment_id, last, READ_BATCH).await?;
                catch_up = rows.len() as u64 == READ_BATCH;
                for row in rows {
                    last = row.sequence;
                    yield row;
                }
            }
            let next = tokio::select! {
                next = receiver.recv() => next,
                _ = hub.shutdown().cancelled() => break,
            };
            match next {
                Ok(entry) if entry.sequence > last => {
                    last = entry.sequence;
                    yield Arc::unwrap_or_clone(entry);
                }
                Ok(_) => {}
                Err(RecvError::Lagged(missed)) => {
                    tracing::debug!(missed, "audit subscriber lagged; catching up from the table");
                    hub.note_catch_up();
                    catch_up = true;
                }
                Err(RecvError::Closed) => {
                    receiver = hub.subscribe(&environment_id).await?;
                    catch_up = true;
                }
            }
        }
    })
}
