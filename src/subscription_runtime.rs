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
//!
//! Its threads run at a lower priority (`LIFT_WS_NICE`): when both want the cores, a mutation's
//! few milliseconds of work come before the next thousand socket writes, and the fan-out takes
//! whatever the requests leave (`benches/fanout.md`, round 6). Without contention it changes nothing.

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
    /// A runtime of `threads` worker threads at niceness `nice` (or the process's, if that is
    /// already lower in priority); with 0 threads, the current runtime (which must exist).
    pub fn new(threads: usize, nice: i32) -> std::io::Result<Self> {
        if threads == 0 {
            return Ok(SubscriptionRuntime {
                runtime: None,
                handle: Handle::current(),
            });
        }
        let runtime = Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("lift-subscriptions")
            .on_thread_start(move || lower_priority(nice))
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

/// Lowers the calling thread's priority to niceness `nice`. Never raises it: an unprivileged
/// process may not, and an operator who started lift niced meant it.
#[cfg(target_os = "linux")]
pub fn lower_priority(nice: i32) {
    if nice <= thread_niceness() {
        return;
    }
    // On Linux, `setpriority(PRIO_PROCESS, tid)` applies to the one thread `tid`.
    // SAFETY: a system call on the calling thread's own id, with no memory passed.
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, thread_id(), nice) } != 0 {
        let error = std::io::Error::last_os_error();
        tracing::warn!(nice, %error, "could not lower this thread's priority");
    }
}

/// The calling thread's niceness.
#[cfg(target_os = "linux")]
fn thread_niceness() -> i32 {
    // SAFETY: a system call on the calling thread's own id, with no memory passed.
    unsafe { libc::getpriority(libc::PRIO_PROCESS, thread_id()) }
}

#[cfg(target_os = "linux")]
fn thread_id() -> libc::id_t {
    // SAFETY: `gettid` takes nothing and cannot fail.
    unsafe { libc::gettid() as libc::id_t }
}

/// Elsewhere `setpriority` names the whole process, requests included: threads keep the
/// process's priority.
#[cfg(not(target_os = "linux"))]
pub fn lower_priority(_nice: i32) {}

/// The default number of subscription threads: half the cores, at least one.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| (n.get() / 2).max(1))
        .unwrap_or(1)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn only_the_subscription_threads_run_at_the_lower_priority() {
        let before = thread_niceness();
        let wanted = (before + 3).min(19);
        let runtime = SubscriptionRuntime::new(2, wanted).expect("runtime");
        let (sender, seen) = std::sync::mpsc::channel();
        for _ in 0..4 {
            let sender = sender.clone();
            runtime.handle().spawn(async move {
                let _ = sender.send(thread_niceness());
            });
        }
        for _ in 0..4 {
            let seen = seen
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("a task ran");
            assert_eq!(seen, wanted);
        }
        assert_eq!(
            thread_niceness(),
            before,
            "the calling thread keeps its priority"
        );
    }
}
