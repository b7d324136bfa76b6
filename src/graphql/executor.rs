//! `LiftExecutor`: how lift runs a GraphQL request, over HTTP and WebSocket alike (it is the
//! `async_graphql::Executor` both use). Around async-graphql's own parse, validation and
//! execution it:
//! - gives the request its document parsed earlier from the same text ([`DocumentCache`]);
//! - applies the [`RequestPolicy`] first, then explains async-graphql's limit refusals;
//! - puts the request's [`Loaders`](super::loaders::Loaders) into its data and starts their
//!   batches whenever the execution waits;
//! - runs queries and mutations in a `graphql` span, and records HTTP requests in `/metrics`.
//!
//! The schema has no async-graphql extension on purpose: with any, async-graphql sends every
//! field of every response through the extension chain (a registry lookup, a `ResolveInfo` and a
//! boxed future per field and extension), which cost several times the rest of a large list.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::{Data, Executor, Request, Response};
use futures_util::stream::{self, BoxStream, StreamExt};
use tracing::Instrument;

use super::documents::DocumentCache;
use super::loaders::RequestLoaders;
use super::observe::{self, Operation};
use super::policy::{self, RequestPolicy};
use super::schema::AppSchema;
use crate::telemetry::Metrics;

/// The schema and what runs around each of its requests. Cheap to clone.
#[derive(Clone)]
pub struct LiftExecutor(Arc<Parts>);

struct Parts {
    schema: AppSchema,
    documents: DocumentCache,
    loaders: RequestLoaders,
    policy: RequestPolicy,
    metrics: Metrics,
}

impl LiftExecutor {
    pub(super) fn new(
        schema: AppSchema,
        loaders: RequestLoaders,
        policy: RequestPolicy,
        metrics: Metrics,
    ) -> Self {
        LiftExecutor(Arc::new(Parts {
            schema,
            documents: DocumentCache::default(),
            loaders,
            policy,
            metrics,
        }))
    }
}

impl Executor for LiftExecutor {
    /// One request over HTTP (or anything else that renders a single response).
    async fn execute(&self, mut request: Request) -> Response {
        let started = Instant::now();
        let parts = &self.0;
        let deferred = parts.loaders.attach(&mut request, None);
        let recalled = parts.documents.recall(&mut request);
        if let Err(refusal) = parts.policy.admit(&mut request, None) {
            let response = Response::from_errors(vec![refusal]);
            observe::record(&parts.metrics, &Operation::none(), started, &response);
            return response;
        }
        if !recalled {
            parts.documents.remember(&mut request);
        }
        let operation = Operation::of(&mut request);
        let mut response = deferred
            .drive(parts.schema.execute(request))
            .instrument(operation.span())
            .await;
        policy::explain_refusals(&mut response);
        observe::record(&parts.metrics, &operation, started, &response);
        response
    }

    /// One operation over WebSocket: a subscription's events, or a query's or mutation's one
    /// response. `session_data` is the connection's (its viewer).
    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let parts = &self.0;
        let session = session_data.unwrap_or_default();
        let deferred = parts.loaders.attach(&mut request, Some(&session));
        let recalled = parts.documents.recall(&mut request);
        if let Err(refusal) = parts.policy.admit(&mut request, Some(&session)) {
            return stream::once(async { Response::from_errors(vec![refusal]) }).boxed();
        }
        if !recalled {
            parts.documents.remember(&mut request);
        }
        let span = Operation::of(&mut request).span();
        let responses = parts
            .schema
            .execute_stream_with_session_data(request, session);
        deferred
            .drive_stream(responses, span)
            .map(|mut response| {
                policy::explain_refusals(&mut response);
                response
            })
            .boxed()
    }
}
