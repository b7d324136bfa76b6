//! `auditLogCreated` served by groups (`events/fanout.rs`) instead of one stream per subscriber.
//!
//! A `subscribe` of a subscription is first run through the schema as a probe
//! (`AuditFanout::Probe`): async-graphql parses and validates the document under the same limits as
//! always, and the resolver checks the viewer's view permission and names the environment and the
//! starting point. When the document subscribes to exactly one `auditLogCreated` and nothing
//! failed, the subscription joins the group of (environment, document, operation name, variables);
//! anything else (an error, two root fields) goes to async-graphql unchanged, which answers it as
//! it always did.
//!
//! Why those members may share: the group resolves each entry without a viewer
//! (`AuditFanout::Deliver`), so the bytes depend only on the entry and the request; the only
//! access that bears on the stream is view permission on the environment (view or admin, through
//! any grant), checked for each member when it subscribes — as `auditLogCreated` always did. Two
//! viewers whose access differs in what the stream shows (one may view the environment, the other
//! may not) never share: the second one is refused before it could join.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::http::ClientMessage;
use async_graphql::parser::types::OperationType;
use async_graphql::{Executor, Request, Response, ServerError, Variables};
use futures_util::future::BoxFuture;
use futures_util::StreamExt;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::inbound::Session;
use crate::auth::Authentication;
use crate::domain::model::AuditEntry;
use crate::events::fanout::{Delivery, GroupKey, Membership, Render, RENDER_FAILED};
use crate::graphql::{AuditFanout, AuditStart, LiftExecutor};
use crate::http::graphql_request::operation_type;
use crate::http::AppState;

/// A subscription of this socket served by a group.
pub struct GroupedSubscription {
    member: u64,
    /// The subscription id, JSON-encoded (quotes included), as its frames carry it.
    encoded_id: Arc<str>,
    key: Arc<GroupKey>,
    cancel: CancellationToken,
}

/// The grouped subscriptions of one socket.
#[derive(Default)]
pub struct Grouped {
    by_id: Mutex<HashMap<String, GroupedSubscription>>,
}

impl Grouped {
    /// The JSON-encoded id of `member` while it still is the subscription it was delivered for
    /// (the client may have completed it, and may even have reused its id since).
    pub fn encoded_id(&self, member: u64) -> Option<Arc<str>> {
        let by_id = self.by_id.lock().ok()?;
        by_id
            .values()
            .find(|s| s.member == member)
            .map(|s| s.encoded_id.clone())
    }
}

/// What a socket needs to hand subscriptions to groups.
#[derive(Clone)]
pub struct Grouping {
    state: AppState,
    session: Arc<Session>,
    deliveries: mpsc::Sender<Delivery>,
}

impl Grouping {
    pub fn new(state: AppState, session: Arc<Session>, deliveries: mpsc::Sender<Delivery>) -> Self {
        Grouping {
            state,
            session,
            deliveries,
        }
    }

    /// Serves the `subscribe` (`start`) message `message`, whose JSON `payload` is the request,
    /// from a group when it can; otherwise returns it, for async-graphql.
    pub fn subscribe(
        &self,
        id: String,
        payload: Value,
        message: ClientMessage,
    ) -> BoxFuture<'static, Option<ClientMessage>> {
        let grouping = self.clone();
        Box::pin(async move {
            match grouping.probe(&payload).await {
                Some((start, selection)) => {
                    grouping.join(id, start, selection, &payload);
                    None
                }
                None => Some(message),
            }
        })
    }

    /// Ends the grouped subscription `id`, if it is one.
    pub fn complete(&self, id: &str) -> bool {
        let removed = self
            .session
            .grouped
            .by_id
            .lock()
            .ok()
            .and_then(|mut by_id| by_id.remove(id));
        match removed {
            Some(subscription) => {
                self.end(subscription);
                true
            }
            None => false,
        }
    }

    /// Ends every grouped subscription of the socket (it is closing).
    pub fn end_all(&self) {
        let all: Vec<GroupedSubscription> = match self.session.grouped.by_id.lock() {
            Ok(mut by_id) => by_id.drain().map(|(_, s)| s).collect(),
            Err(_) => return,
        };
        for subscription in all {
            self.end(subscription);
        }
    }

    fn end(&self, subscription: GroupedSubscription) {
        subscription.cancel.cancel();
        self.state
            .app
            .audit
            .leave(&subscription.key, subscription.member);
    }

    /// Runs the request through the schema without streaming: `Some` when it is exactly one
    /// `auditLogCreated` the viewer may watch.
    async fn probe(&self, payload: &Value) -> Option<(AuditStart, Selection)> {
        let viewer = self.session.viewer()?;
        let selection = Selection::from_payload(self.state.schema.clone(), payload)?;
        // A query or mutation is never grouped: probing it would run it twice.
        let mut request = selection.request();
        if operation_type(&mut request) != Some(OperationType::Subscription) {
            return None;
        }
        let starts = Arc::new(Mutex::new(Vec::new()));
        let request = request
            .data(AuditFanout::Probe(starts.clone()))
            .data(Authentication::Viewer(viewer));
        let answered = self
            .state
            .schema
            .execute_stream(request, None)
            .next()
            .await
            .is_some();
        let mut starts = starts.lock().ok()?;
        match (answered, starts.len()) {
            (false, 1) => starts.pop().map(|start| (start, selection)),
            _ => None,
        }
    }

    fn join(&self, id: String, start: AuditStart, selection: Selection, payload: &Value) {
        let key = Arc::new(GroupKey {
            environment_id: start.environment_id,
            shape: shape(payload, start.after_variable.as_deref()),
        });
        let cancel = CancellationToken::new();
        let membership = Membership {
            key: key.clone(),
            sink: self.deliveries.clone(),
            cancel: cancel.clone(),
            render: Arc::new(selection),
        };
        // Recorded before the group can deliver, under the lock the writer checks deliveries with.
        let Ok(mut by_id) = self.session.grouped.by_id.lock() else {
            return;
        };
        let member = self.state.app.audit.fan_out(membership, start.after);
        let encoded_id = Arc::from(json!(id).to_string());
        by_id.insert(
            id,
            GroupedSubscription {
                member,
                encoded_id,
                key,
                cancel,
            },
        );
    }
}

/// What every member of a group asked for: the document, its operation and variables, except
/// the one that carries `after` (a String can only be `environmentKey` or `after` in this
/// document, and the environment is part of the key already).
fn shape(payload: &Value, after_variable: Option<&str>) -> String {
    let mut variables = payload.get("variables").cloned().unwrap_or(Value::Null);
    if let (Some(name), Some(variables)) = (after_variable, variables.as_object_mut()) {
        variables.remove(name);
    }
    json!({
        "query": payload.get("query"),
        "operationName": payload.get("operationName"),
        "variables": variables,
    })
    .to_string()
}

/// One subscription request, resolved for one entry at a time.
struct Selection {
    schema: LiftExecutor,
    query: String,
    operation_name: Option<String>,
    variables: Variables,
}

impl Selection {
    fn from_payload(schema: LiftExecutor, payload: &Value) -> Option<Self> {
        let request: Request = serde_json::from_value(payload.clone()).ok()?;
        Some(Selection {
            schema,
            query: request.query,
            operation_name: request.operation_name,
            variables: request.variables,
        })
    }

    fn request(&self) -> Request {
        let request = Request::new(self.query.clone()).variables(self.variables.clone());
        match &self.operation_name {
            Some(name) => request.operation_name(name.clone()),
            None => request,
        }
    }
}

impl Render for Selection {
    fn render(&self, entry: Arc<AuditEntry>) -> BoxFuture<'static, Arc<str>> {
        let request = self.request().data(AuditFanout::Deliver(entry));
        let schema = self.schema.clone();
        Box::pin(async move {
            let response = schema
                .execute_stream(request, None)
                .next()
                .await
                .unwrap_or_else(|| {
                    Response::from_errors(vec![ServerError::new("no entry was resolved", None)])
                });
            match serde_json::to_string(&response) {
                Ok(payload) => Arc::from(payload),
                Err(_) => Arc::from(RENDER_FAILED),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_carrying_after_is_left_out_of_the_shape_and_every_other_counts() {
        let payload = |after: &str, changes: bool| json!({"query": "q", "variables": {"key": "prod", "from": after, "changes": changes}});
        let from = Some("from");
        assert_eq!(
            shape(&payload("a", true), from),
            shape(&payload("b", true), from)
        );
        assert_ne!(
            shape(&payload("a", true), from),
            shape(&payload("a", false), from)
        );
        // Without knowing which variable carries `after`, nothing is left out.
        assert_ne!(
            shape(&payload("a", true), None),
            shape(&payload("b", true), None)
        );
        let other_operation =
            json!({"query": "q", "operationName": "Other", "variables": {"key": "prod"}});
        assert_ne!(
            shape(&other_operation, None),
            shape(&json!({"query": "q", "variables": {"key": "prod"}}), None)
        );
    }
}
