//! `Observe`: an async-graphql extension that runs each operation inside a `graphql` tracing span
//! named after the operation, and records it in `/metrics` (count by operation and outcome, and
//! latency from parse to response).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest,
};
use async_graphql::{Response, ServerError, Value};
use tracing::Instrument;

use crate::telemetry::Metrics;

/// Registered once on the schema; creates one [`ObserveRequest`] per request.
pub struct Observe {
    metrics: Metrics,
}

impl Observe {
    pub fn new(metrics: Metrics) -> Self {
        Observe { metrics }
    }
}

impl ExtensionFactory for Observe {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ObserveRequest {
            metrics: self.metrics.clone(),
            operation: Mutex::new(None),
        })
    }
}

/// One request: the operation's name is learnt when it executes (after parse and validation),
/// and recorded when the response is ready.
struct ObserveRequest {
    metrics: Metrics,
    operation: Mutex<Option<String>>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for ObserveRequest {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let operation = self.operation.lock().ok().and_then(|name| name.clone());
        let code = response.errors.first().map(code_of);
        self.metrics
            .graphql_request(operation.as_deref(), code, started.elapsed());
        response
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        if let Ok(mut slot) = self.operation.lock() {
            *slot = operation_name.map(str::to_owned);
        }
        let span =
            tracing::info_span!("graphql", operation = operation_name.unwrap_or("anonymous"));
        next.run(ctx, operation_name).instrument(span).await
    }
}

/// The error's code; errors async-graphql raises itself (syntax, validation) have none yet and
/// reach the client as `BAD_USER_INPUT` (see `http::coded_as_bad_input`).
fn code_of(error: &ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(Value::String(code)) => code,
        _ => super::BAD_USER_INPUT,
    }
}
