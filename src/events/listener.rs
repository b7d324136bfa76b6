//! PostgreSQL `LISTEN lift_audit`: every replica's commits wake this process's tails.

use std::time::Duration;

use sea_orm::sqlx::postgres::{PgListener, PgPool};

use super::AuditHub;
use crate::db::repo::audit::NOTIFY_CHANNEL;

/// Listens until shutdown, reconnecting after errors. After each (re)connect every tail is woken,
/// since notifications sent while disconnected are gone (the rows are not).
/// Runs in the hub's task tracker, so the server's shutdown waits for it.
pub fn spawn_postgres_listener(pool: PgPool, hub: AuditHub) {
    let tasks = hub.tasks().clone();
    tasks.spawn(async move {
        let shutdown = hub.shutdown().clone();
        while !shutdown.is_cancelled() {
            match PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(err) = listener.listen(NOTIFY_CHANNEL).await {
                        tracing::warn!(error = %err, "LISTEN failed");
                    } else {
                        hub.wake_all().await;
                        loop {
                            tokio::select! {
                                notification = listener.recv() => match notification {
                                    Ok(n) => hub.wake(n.payload()).await,
                                    Err(err) => {
                                        tracing::warn!(error = %err, "audit listener lost its connection; reconnecting");
                                        break;
                                    }
                                },
                                _ = shutdown.cancelled() => return,
                            }
                        }
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "audit listener could not connect; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    });
}
