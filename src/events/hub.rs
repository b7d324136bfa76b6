//! `AuditHub`: per-environment tail readers and bounded broadcast channels.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::tasks::Tasks;
use tokio::runtime::Handle;
use tokio::sync::{broadcast, Mutex, Notify};
use tokio_util::sync::CancellationToken;

use super::fanout::Groups;
use crate::db::{repo, Db};
use crate::domain::model::AuditEntry;
use crate::domain::DomainError;
use crate::telemetry::Metrics;

/// Default number of entries buffered per environment for subscribers that are momentarily slow
/// (`LIFT_AUDIT_BUFFER`). A subscriber further behind is told it lagged and catches up from the
/// table instead, so a slow subscriber costs memory bounded by this, never a lost event.
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
    capacity: usize,
    tails: Mutex<HashMap<String, Arc<Tail>>>,
    shutdown: CancellationToken,
    /// The server's tasks: tails and the listener run in it, so shutdown waits for them.
    tasks: Tasks,
    metrics: Metrics,
    /// Live subscriptions sharing one resolution per entry (`fanout.rs`).
    groups: Groups,
    /// Where groups offer entries to their members' writers (`subscription_runtime.rs`).
    lane: Handle,
    /// Where database work and rendering run: the runtime that built the hub.
    home: Handle,
}

struct Tail {
    sender: broadcast::Sender<Arc<AuditEntry>>,
    wake: Notify,
}

impl AuditHub {
    /// A hub whose tails end when `shutdown` is cancelled and run in `tasks`, recording delivery
    /// lag and catch-ups in `metrics`; its groups run on the runtime of `lane` (must be called
    /// inside the runtime that does the database work).
    pub fn new(
        db: Db,
        capacity: usize,
        shutdown: CancellationToken,
        tasks: Tasks,
        metrics: Metrics,
        lane: Handle,
    ) -> Self {
        AuditHub {
            inner: Arc::new(Inner {
                db,
                capacity: capacity.max(1),
                tails: Mutex::new(HashMap::new()),
                shutdown,
                tasks,
                metrics,
                groups: Groups::default(),
                lane,
                home: Handle::current(),
            }),
        }
    }

    /// Entries buffered per environment (`LIFT_AUDIT_BUFFER`); also how far behind a grouped
    /// subscriber's socket may be before it reads from the table.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Cancelled when the server shuts down: live streams end.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    /// The server's task tracker: what runs in it is waited for on shutdown.
    pub fn tasks(&self) -> &Tasks {
        &self.inner.tasks
    }

    /// The runtime groups run on.
    pub(super) fn lane(&self) -> &Handle {
        &self.inner.lane
    }

    /// The runtime database work and rendering run on.
    pub(super) fn home(&self) -> &Handle {
        &self.inner.home
    }

    /// Runs `work` on the hub's home runtime and waits for it: database connections opened and
    /// driven there stay responsive to requests whatever the groups' backlog (`None`: it
    /// panicked, or the runtime is shutting down).
    pub(super) async fn at_home<F>(&self, work: F) -> Option<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.inner.tasks.spawn_on(&self.inner.home, work).await.ok()
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
        let (sender, receiver) = broadcast::channel(self.inner.capacity);
        let tail = Arc::new(Tail {
            sender,
            wake: Notify::new(),
        });
        tails.insert(environment_id.to_owned(), tail.clone());
        self.inner.tasks.spawn(run_tail(
            self.clone(),
            environment_id.to_owned(),
            tail,
            start,
        ));
        Ok(receiver)
    }

    /// How many environments currently have a tail.
    pub async fn active_tails(&self) -> usize {
        self.inner.tails.lock().await.len()
    }

    /// How many live subscriptions this process serves: members of groups, and streams that
    /// hold a receiver of their own (every receiver but the groups' one each).
    pub async fn subscribers(&self) -> usize {
        let receivers: usize = {
            let tails = self.inner.tails.lock().await;
            tails.values().map(|t| t.sender.receiver_count()).sum()
        };
        let groups = &self.inner.groups;
        receivers.saturating_sub(groups.count()) + groups.members()
    }

    pub(super) fn groups(&self) -> &Groups {
        &self.inner.groups
    }

    pub(super) fn db(&self) -> &Db {
        &self.inner.db
    }

    /// A subscriber fell behind the buffer and reads the gap from the table.
    pub fn note_catch_up(&self) {
        self.inner.metrics.audit_catch_up();
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
                        let lag = (chrono::Utc::now() - row.created_at)
                            .to_std()
                            .unwrap_or_default();
                        hub.inner.metrics.audit_delivered(lag);
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
