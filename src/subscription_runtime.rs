//! The runtime WebSocket writers run on, apart from the runtime that answers requests.
//!
//! One audit entry to 10,000 subscribers wakes 10,000 socket writers. On the runtime that serves
//! HTTP, each step of a mutation (reading its request, awaiting its commit, writing its answer)
//! waited behind all of them in the run queue, so mutations slowed to the pace of the fan-out
//! (`benches/fanout.md`). On threads of their own, the writers and request handling share the
//! cores through the operating system's scheduler instead.
//!
//! Only socket writes run here, never database work: a pooled PostgreSQL connection is driven by
//! the runtime it was opened on, so one opened here would make requests that later use it wait
//! for this runtime's backlog.

use std::future::Future;

use tokio::runtime::{Builder, Handle, Runtime};
use tokio::task::JoinHandle;

use crate::tasks::Tasks;

/// Owns the subscription runtime (if any) and hands out where to spawn on it.
pub struct SubscriptionRuntime {
    /// `None`: subscriptions run on the runtime that built the server.
    runtime: Option<Runtime>,
    handle: Handle,
}

impl SubscriptionRuntime {
    /// A runtime of `threads` worker threads; with 0, the current runtime (which must exist).
    pub fn new(threads: usize) -> std::io::Result<Self> {
        if threads == 0 {
            return Ok(SubscriptionRuntime {
                runtime: None,
                handle: Handle::current(),
            });
        }
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("lift-subscriptions")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        Ok(SubscriptionRuntime {
            runtime: Some(runtime),
            handle,
        })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns `future` on the subscription runtime, counted in `tasks` until it ends.
    pub fn spawn<F>(&self, tasks: &Tasks, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tasks.spawn_on(&self.handle, future)
    }
}

impl Drop for SubscriptionRuntime {
    fn drop(&mut self) {
        // The server has waited for every task it spawned before it is dropped; what is left (a
        // timer, an idle worker) needs no waiting, and dropping a runtime may not block inside
        // another runtime's task.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The default number of subscription threads: half the cores, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}
