//! `AuditHub`: per-environment tail readers and bounded broadcast channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, Mutex, Notify};
use tokio_util::sync::CancellationToken;

use crate::db::{repo, Db};
use crate::domain::model::AuditEntry;
use crate::domain::DomainError;

/// Entries buffered per environment for subscribers that are momentarily slow. A subscriber more
/// than this far behind is told it lagged and catches up from the table instead.
pub const BROADCAST_CAPACITY: usize = 1024;
/// Tails poll this often even without a wake-up, so a lost notification delays but never loses.
const POLL_INTERVAL: Duration = Duration::from_secs(2);
/// Rows read per query while catching up.
pub const READ_BATCH: u64 = 500;

#[derive(Clone)]
pub struct AuditHub {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    shutdown: CancellationToken,
}

struct Tail {
    sender: broadcast::Sender<Arc<AuditEntry>>,
    wake: Notify,
}

impl AuditHub {
    pub fn new(db: Db, shutdown: CancellationToken) -> Self {
        AuditHub {
            inner: Arc::new(Inner {
                db,
                tails: Mutex::new(HashMap::new()),
                shutdown,
            }),
        }
    }

    /// Cancelled when the server shuts down: live streams end.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// Something new may have been committed in `environment_id`.
    pub async fn wake(&self, environment_id: &str) {
        if let Some(tail) = self.inner.tails.lock().await.get(environment_id) {
            tail.wake.notify_one();
        }
    }

    /// Wakes every tail (after a reconnect, when notifications may have been missed).
    pub async fn wake_all(&self) {
        for tail in self.inner.tails.lock().await.values() {
            tail.wake.notify_one();
        }
    }

    /// A receiver of every entry of `environment_id` committed after this call returns, and
    /// possibly some committed shortly before (callers skip sequences they already have).
    pub async fn subscribe(
        &self,
        environment_id: &str,
    ) -> Result<broadcast::Receiver<Arc<AuditEntry>>, DomainError> {
        let mut tails = self.inner.tails.lock().await;
        if let Some(tail) = tails.get(environment_id) {
            return Ok(tail.sender.subscribe());
        }
        // The tail starts from what is committed now, before the first receiver exists: anything
        // committed later is broadcast, anything earlier the subscriber reads from the table.
        let start = repo::audit::max_sequence(&self.inner.db, environment_id).await?;
        let (sender, receiver) = broadcast::channel(BROADCAST_CAPACITY);
        let tail = Arc::new(Tail {
            sender,
            wake: Notify::new(),
        });
        tails.insert(environment_id.to_owned(), tail.clone());
        tokio::spawn(run_tail(
            self.clone(),
            environment_id.to_owned(),
            tail,
            start,
        ));
        Ok(receiver)
    }

    /// How many environments currently have a tail (for tests and metrics).
    pub async fn active_tails(&self) -> usize {
        self.inner.tails.lock().await.len()
    }
}

/// Reads new rows of one environment and broadcasts them, until it has no subscribers left.
async fn run_tail(hub: AuditHub, environment_id: String, tail: Arc<Tail>, mut last: i64) {
    loop {
        tokio::select! {
            _ = tail.wake.notified() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = hub.inner.shutdown.cancelled() => break,
        }
        loop {
            match repo::audit::after(&hub.inner.db, &environment_id, last, READ_BATCH).await {
                Ok(rows) => {
                    let full = rows.len() as u64 == READ_BATCH;
                    for row in rows {
                        last = row.sequence;
                        // An error only means no receiver right now; the check below handles it.
                        let _ = tail.sender.send(Arc::new(row));
                    }
                    if !full {
                        break;
                    }
                }
                Err(err) => {
                    tracing::warn!(environment_id, error.cause_chain = ?err, "audit tail read failed; retrying");
                    break;
                }
            }
        }
        let mut tails = hub.inner.tails.lock().await;
        if tail.sender.receiver_count() == 0 {
            tails.remove(&environment_id);
            break;
        }
    }
    hub.inner.tails.lock().await.remove(&environment_id);
}
