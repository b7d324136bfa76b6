//! Observing operations: the executor (`executor.rs`) runs each query and mutation inside a
//! `graphql` tracing span named after the operation, and records each HTTP request in `/metrics`
//! (count by operation and outcome, and latency from parse to response).

use std::time::Instant;

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, Response, ServerError, Value};

use crate::telemetry::Metrics;

/// The operation a request runs, as async-graphql picks it: the one named by `operationName`, or
/// the document's only one. Known once the query is parsed (the policy parses it first).
pub struct Operation {
    pub name: Option<String>,
    pub kind: Option<OperationType>,
}

impl Operation {
    /// A request refused before its operation was known.
    pub fn none() -> Self {
        Operation {
            name: None,
            kind: None,
        }
    }

    pub fn of(request: &mut Request) -> Self {
        let requested = request.operation_name.clone();
        let Ok(document) = request.parsed_query() else {
            return Operation::none();
        };
        let chosen = match (&document.operations, requested) {
            (DocumentOperations::Single(operation), None) => Some((None, operation)),
            (DocumentOperations::Multiple(operations), Some(name)) => operations
                .get_key_value(name.as_str())
                .map(|(name, operation)| (Some(name.to_string()), operation)),
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
                .iter()
                .next()
                .map(|(name, operation)| (Some(name.to_string()), operation)),
            _ => None,
        };
        Operation {
            name: chosen.as_ref().and_then(|(name, _)| name.clone()),
            kind: chosen.map(|(_, operation)| operation.node.ty),
        }
    }

    /// The span a query or mutation executes in (subscriptions' events have none).
    pub fn span(&self) -> tracing::Span {
        match self.kind {
            Some(OperationType::Subscription) => tracing::Span::none(),
            _ => tracing::info_span!(
                "graphql",
                operation = self.name.as_deref().unwrap_or("anonymous")
            ),
        }
    }
}

/// Records a request's outcome in `/metrics`, under its operation's name when it was executed.
pub fn record(metrics: &Metrics, operation: &Operation, started: Instant, response: &Response) {
    let refused = response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let executed = !refused;
    let name = operation.name.as_deref().filter(|_| executed);
    let code = response.errors.first().map(code_of);
    metrics.graphql_request(name, code, started.elapsed());
}

/// The error's code; errors async-graphql raises itself (syntax, validation) have none yet and
/// reach the client as `BAD_USER_INPUT` (see `http::coded_as_bad_input`).
fn code_of(error: &ServerError) -> &str {
    match error.extensions.as_ref().and_then(|e| e.get("code")) {
        Some(Value::String(code)) => code,
        _ => super::BAD_USER_INPUT,
    }
}
