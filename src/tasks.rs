//! `Tasks`: the tasks a running server started, so that shutdown can wait for all of them
//! (tokio-util's `TaskTracker` needs its `rt` feature, which this build does not enable).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// Counts live tasks (and other holders of a [`TaskToken`]); cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Tasks {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    live: AtomicUsize,
    idle: Notify,
}

/// Counts as one live task until dropped.
pub struct TaskToken {
    inner: Arc<Inner>,
}

impl Tasks {
    pub fn new() -> Self {
        Tasks::default()
    }

    /// Spawns `future` on the runtime, counted until it ends.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_on(&tokio::runtime::Handle::current(), future)
    }

    /// Spawns `future` on the runtime of `handle` (e.g. the subscription runtime), counted until
    /// it ends.
    pub fn spawn_on<F>(
        &self,
        handle: &tokio::runtime::Handle,
        future: F,
    ) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let token = self.token();
        handle.spawn(async move {
            let _token = token;
            future.await
        })
    }

    /// A token that counts as a live task until dropped (for work that outlives the task that
    /// started it, like a socket handed to a WebSocket task).
    pub fn token(&self) -> TaskToken {
        self.inner.live.fetch_add(1, Ordering::AcqRel);
        TaskToken {
            inner: self.inner.clone(),
        }
    }

    /// How many tasks are live.
    pub fn live(&self) -> usize {
        self.inner.live.load(Ordering::Acquire)
    }

    /// Resolves once no task is live.
    pub async fn wait(&self) {
        loop {
            let idle = self.inner.idle.notified();
            tokio::pin!(idle);
            // Registered before the check, so a task ending in between still wakes us.
            idle.as_mut().enable();
            if self.live() == 0 {
                return;
            }
            idle.await;
        }
    }
}

impl Drop for TaskToken {
    fn drop(&mut self) {
        if self.inner.live.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Tasks;
    use std::time::Duration;

    #[tokio::test]
    async fn wait_returns_once_every_task_and_token_is_gone() {
        let tasks = Tasks::new();
        let token = tasks.token();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(async move {
            let _ = rx.await;
        });
        assert_eq!(tasks.live(), 2);
        let waiting = tokio::spawn({
            let tasks = tasks.clone();
            async move { tasks.wait().await }
        });
        drop(token);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        let _ = tx.send(());
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("wait ends when the last task does")
            .expect("no panic");
        assert_eq!(tasks.live(), 0);
    }
}
