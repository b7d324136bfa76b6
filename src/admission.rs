//! Admission of GraphQL requests: at most `LIFT_MAX_CONCURRENT_REQUESTS` execute at once; the
//! others wait their turn in arrival order (tokio's semaphore is fair) before anything of theirs
//! is authenticated, parsed or resolved.
//!
//! Why: a request in flight holds its partial results and its pending database queries. On the
//! metrics list (50 metrics with definitions and attachments) that is ~2 MB, so RSS grew with the
//! number of open connections (27 MB idle, 130–175 MB at 64 connections; `benches/memory.md`),
//! while a 4-connection SQLite pool and two cores serve no more requests per second when more
//! of them wait inside. Bounding requests in flight bounds that memory: with 8 slots, ~50 MB.
//!
//! Time a request spends waiting on the warehouse does not hold a slot (`outside`): results of a
//! slow or hung tenant's warehouse can take seconds, and must not occupy every slot and stall the
//! API for everyone (the warehouse has its own per-target and per-process bounds).

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The slots of one application.
#[derive(Debug, Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
}

tokio::task_local! {
    static SLOT: Arc<Slot>;
}

/// The slot of the request running in this task.
struct Slot {
    slots: Arc<Semaphore>,
    state: Mutex<State>,
}

struct State {
    permit: Option<OwnedSemaphorePermit>,
    /// Warehouse calls of this request in progress; the slot is given back while any is.
    outside: usize,
}

impl Admission {
    pub fn new(max_concurrent: usize) -> Self {
        Admission {
            slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
        }
    }

    /// Runs `request` once a slot is free, holding the slot until it ends.
    pub async fn run<F: Future>(&self, request: F) -> F::Output {
        // The semaphore is never closed, so acquiring only waits.
        let permit = self.slots.clone().acquire_owned().await.ok();
        let slot = Arc::new(Slot {
            slots: self.slots.clone(),
            state: Mutex::new(State { permit, outside: 0 }),
        });
        SLOT.scope(slot, request).await
    }

    /// Slots free now.
    pub fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

/// Runs `wait` (a warehouse call) with the current request's slot given back, and takes a slot
/// again afterwards. Outside a request (the command line, background work) it just runs `wait`.
pub async fn outside<F: Future>(wait: F) -> F::Output {
    let Ok(slot) = SLOT.try_with(Arc::clone) else {
        return wait.await;
    };
    slot.leave();
    let output = wait.await;
    slot.enter().await;
    output
}

impl Slot {
    fn leave(&self) {
        let mut state = self.lock();
        state.outside += 1;
        if state.outside == 1 {
            state.permit = None;
        }
    }

    async fn enter(&self) {
        let last = {
            let mut state = self.lock();
            state.outside = state.outside.saturating_sub(1);
            state.outside == 0
        };
        if !last {
            return;
        }
        let permit = self.slots.clone().acquire_owned().await.ok();
        let mut state = self.lock();
        // Another warehouse call of this request may have left meanwhile: then it stays out.
        if state.outside == 0 && state.permit.is_none() {
            state.permit = permit;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Each step under the lock leaves the state consistent, so a poisoned lock is usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn requests_beyond_the_bound_wait_and_warehouse_waits_give_the_slot_back() {
        let admission = Admission::new(1);
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let waiting_on_the_warehouse = {
            let admission = admission.clone();
            tokio::spawn(async move {
                admission
                    .run(outside(async {
                        let _ = released.await;
                    }))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(admission.available(), 1, "the warehouse wait holds no slot");

        let holder = admission.clone();
        let (started, mut running) = tokio::sync::oneshot::channel::<()>();
        let (finish, finished) = tokio::sync::oneshot::channel::<()>();
        let busy = tokio::spawn(async move {
            holder
                .run(async {
                    let _ = started.send(());
                    let _ = finished.await;
                })
                .await
        });
        (&mut running).await.expect("the first request runs");
        assert_eq!(admission.available(), 0);
        let queued = admission.run(async {});
        tokio::pin!(queued);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut queued)
                .await
                .is_err(),
            "a second request waits while the only slot is taken"
        );
        let _ = finish.send(());
        busy.await.expect("the first request ends");
        queued.await;
        let _ = release.send(());
        waiting_on_the_warehouse
            .await
            .expect("the warehouse wait ends");
        assert_eq!(admission.available(), 1, "every slot came back");
    }
}
