//! Request-scoped batch loading: every relation a list can ask for per item (a metric's
//! attachments, an attachment's experiment and metric, an experiment's metrics, feature and
//! environment, a metric's environment and versions, an attachment's pinned version, a result's
//! attachment) goes through one `DataLoader`, so
//! a page of 50 items costs one statement per relation, not 50. (A page of metrics reads its
//! attachments and their experiments itself, in one statement: `Metric::page`.)
//!
//! A fresh loader is put into every request's data (HTTP and WebSocket operations alike) by
//! [`RequestLoaders::attach`], which the executor (`executor.rs`) calls for each request. It caches nothing between batches and never outlives its
//! request, so a permission change is seen by the next request; the environment relation checks
//! the viewer's access once per batch, through `service::`.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll, Wake, Waker};
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Data, ErrorExtensions, Request};
use futures_util::future::BoxFuture;
use futures_util::stream::{BoxStream, Stream};
use tracing::Instrument;

use crate::auth::Authentication;
use crate::db::Db;
use crate::domain::model::{Experiment, ExperimentMetric, Feature, Metric, MetricVersion};
use crate::domain::DomainError;
use crate::service;
use crate::service::access::EnvironmentAccess;

use super::error::GqlResult;
use super::policy::find;

/// What a batch failed with, shared by every field waiting on it.
type LoadError = Arc<DomainError>;

/// The loader of one request.
pub type Loaders = DataLoader<Batch>;

/// Loads batches of keys for one request: its database and its caller.
pub struct Batch {
    db: Db,
    auth: Authentication,
}

/// Live attachments of a metric, in the order they were attached.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct AttachmentsOfMetric(pub String);
/// Attachments of live metrics to an experiment, in the order they were attached.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct AttachmentsOfExperiment(pub String);
/// A live attachment by id.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct AttachmentById(pub String);
/// A live experiment by id.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct ExperimentById(pub String);
/// A live metric by id.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct MetricById(pub String);
/// A feature by id.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct FeatureById(pub String);
/// Every version of a live metric, newest first (a metric has few; the page is cut in memory).
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct VersionsOfMetric(pub String);
/// One version of a live metric: (metric id, version), as an attachment pins it.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct PinnedVersion(pub String, pub u32);
/// An environment by id, with the viewer's access; absent when the viewer cannot see it.
#[derive(Clone, Hash, PartialEq, Eq)]
pub struct EnvironmentById(pub String);

/// The ids of `keys`, for one `IN (…)`.
fn ids<K>(keys: &[K], id: impl Fn(&K) -> &String) -> Vec<String> {
    keys.iter().map(|k| id(k).clone()).collect()
}

/// `found` (by id) keyed by the loader's keys.
fn keyed<K: Clone + Hash + Eq, V>(
    keys: &[K],
    id: impl Fn(&K) -> &String,
    mut found: HashMap<String, V>,
) -> HashMap<K, V> {
    keys.iter()
        .filter_map(|k| found.remove(id(k)).map(|v| (k.clone(), v)))
        .collect()
}

/// One `Loader` impl per key type: the service call that loads a batch of ids.
macro_rules! loader {
    ($key:ident => $value:ty, |$batch:ident, $ids:ident| $load:expr) => {
        impl Loader<$key> for Batch {
            type Value = $value;
            type Error = LoadError;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, $value>, LoadError> {
                let $batch = self;
                let $ids = ids(keys, |k| &k.0);
                let found = $load.await.map_err(Arc::new)?;
                Ok(keyed(keys, |k| &k.0, found))
            }
        }
    };
}

loader!(AttachmentsOfMetric => Vec<ExperimentMetric>, |batch, ids| {
    service::metrics::attachments_of(&batch.db, &ids)
});
loader!(AttachmentsOfExperiment => Vec<ExperimentMetric>, |batch, ids| {
    service::experiments::attachments_of(&batch.db, &ids)
});
loader!(AttachmentById => ExperimentMetric, |batch, ids| {
    service::attachments::in_results(&batch.db, &ids)
});
loader!(ExperimentById => Experiment, |batch, ids| {
    service::attachments::experiments_by_ids(&batch.db, &ids)
});
loader!(MetricById => Metric, |batch, ids| {
    service::attachments::metrics_by_ids(&batch.db, &ids)
});
loader!(FeatureById => Feature, |batch, ids| {
    service::experiments::features_by_ids(&batch.db, &ids)
});
loader!(VersionsOfMetric => Vec<MetricVersion>, |batch, ids| {
    service::metrics::versions_of(&batch.db, &ids)
});
loader!(EnvironmentById => EnvironmentAccess, |batch, ids| {
    async {
        let viewer = batch.auth.viewer()?;
        service::environments::by_ids(&batch.db, viewer, &ids).await
    }
});

impl Loader<PinnedVersion> for Batch {
    type Value = MetricVersion;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[PinnedVersion],
    ) -> Result<HashMap<PinnedVersion, MetricVersion>, LoadError> {
        let pairs: Vec<(String, u32)> = keys.iter().map(|k| (k.0.clone(), k.1)).collect();
        let found = service::metrics::versions_by_pairs(&self.db, &pairs)
            .await
            .map_err(Arc::new)?;
        Ok(found
            .into_iter()
            .map(|((metric_id, version), v)| (PinnedVersion(metric_id, version), v))
            .collect())
    }
}

/// The value of `key` in this request's batch (`None` when there is none).
pub async fn load<K>(ctx: &Context<'_>, key: K) -> GqlResult<Option<<Batch as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Batch: Loader<K, Error = LoadError>,
{
    ctx.data::<Loaders>()?
        .load_one(key)
        .await
        .map_err(|err| err.extend())
}

/// Like [`load`], but a missing value is `err`.
pub async fn require<K>(
    ctx: &Context<'_>,
    key: K,
    err: impl FnOnce() -> DomainError,
) -> GqlResult<<Batch as Loader<K>>::Value>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Batch: Loader<K, Error = LoadError>,
{
    load(ctx, key).await?.ok_or_else(|| err().extend())
}

/// Puts a fresh [`Loaders`] into every request's data, for the request's caller (from the
/// request's data over HTTP, from the connection's over WebSocket); the executor runs the
/// request under [`Deferred::drive`].
///
/// A batch starts only once the request's task has finished the poll that asked for its keys:
/// async-graphql resolves a list's items in one poll, so all of them join one batch however long
/// that poll takes (a batch started on a timer alone, another worker thread could start it
/// half-way through the list, and statements would again grow with the page size).
#[derive(Clone)]
pub struct RequestLoaders {
    pub db: Db,
}

impl RequestLoaders {
    /// Inserts this request's loader; its batches wait in the returned [`Deferred`].
    pub fn attach(&self, request: &mut Request, session: Option<&Data>) -> Deferred {
        let auth = find::<Authentication>(&request.data)
            .or_else(|| session.and_then(find::<Authentication>))
            .cloned()
            .unwrap_or(Authentication::Anonymous);
        let batch = Batch {
            db: self.db.clone(),
            auth,
        };
        let deferred = Deferred::default();
        let queue = deferred.clone();
        // No delay: the batch already waits for the end of the poll (above), and async-graphql's
        // default 1 ms delay is a timer on async-io's own reactor thread, two thread hand-offs
        // per batch for nothing.
        let loader = DataLoader::new(batch, move |load| queue.push(load)).delay(Duration::ZERO);
        request.data.insert(loader);
        deferred
    }
}

/// Batch loads waiting for the end of the request's current poll.
#[derive(Clone, Default)]
pub struct Deferred(Arc<Mutex<Vec<BoxFuture<'static, ()>>>>);

impl Deferred {
    fn push(&self, load: BoxFuture<'static, ()>) {
        if let Ok(mut queued) = self.0.lock() {
            queued.push(load);
        }
    }

    /// Runs `request`, starting the batches it queued whenever a poll leaves it waiting.
    pub async fn drive<T>(&self, request: impl Future<Output = T>) -> T {
        let mut request = std::pin::pin!(request);
        std::future::poll_fn(|cx| self.poll_then_start(cx, |cx| request.as_mut().poll(cx))).await
    }

    /// [`Deferred::drive`] for a stream of responses (a subscription's events), each poll in
    /// `span`.
    pub fn drive_stream<S: Stream + Send + 'static>(
        self,
        events: S,
        span: tracing::Span,
    ) -> BoxStream<'static, S::Item> {
        let mut events = Box::pin(events);
        Box::pin(futures_util::stream::poll_fn(move |cx| {
            let _entered = span.enter();
            self.poll_then_start(cx, |cx| events.as_mut().poll_next(cx))
        }))
    }

    /// Polls the request with `poll`, then starts the loads it queued, unless it was woken
    /// meanwhile: then it has more items to resolve right away (async-graphql's lists wake
    /// themselves after polling every item once; a batch that finished wakes it for each item it
    /// answers), which may ask for more keys of the same batch. It is polled again at once, and
    /// the loads start when a poll leaves it waiting.
    fn poll_then_start<T>(
        &self,
        cx: &mut TaskContext<'_>,
        poll: impl FnOnce(&mut TaskContext<'_>) -> Poll<T>,
    ) -> Poll<T> {
        let flag = Arc::new(WakeFlag {
            woken: AtomicBool::new(false),
            waker: cx.waker().clone(),
        });
        let waker = Waker::from(flag.clone());
        let polled = poll(&mut TaskContext::from_waker(&waker));
        if polled.is_ready() || !flag.woken.load(Ordering::Acquire) {
            self.start();
        }
        polled
    }

    /// Spawns the queued loads (in the request's span).
    fn start(&self) {
        let queued = match self.0.lock() {
            Ok(mut queued) => std::mem::take(&mut *queued),
            Err(_) => return,
        };
        for load in queued {
            tokio::spawn(load.in_current_span());
        }
    }
}

/// Forwards wakes to the request's waker and remembers that one came.
struct WakeFlag {
    woken: AtomicBool,
    waker: Waker,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.waker.wake_by_ref();
    }
}
