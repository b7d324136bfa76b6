//! `RequestPolicy`: what every request must pass before async-graphql validates it.
//!
//! The executor (`executor.rs`) calls [`RequestPolicy::admit`] first, which parses the query
//! itself (async-graphql keeps that parse): async-graphql's own parse step only ends after its
//! recursion-depth check, which already walks every fragment expanded. Here, in order:
//! - a document larger than [`limits::MAX_SELECTIONS`] once its fragments are inlined is refused
//!   with `BAD_USER_INPUT`, before anything is expanded;
//! - each request gets its [`ResultsBudget`];
//! - introspection is allowed or refused by `LIFT_INTROSPECTION` and the request's
//!   authentication (`UNAUTHENTICATED` without a token when only signed-in users may introspect,
//!   `FORBIDDEN` when nobody may).
//!
//! After validation, [`explain_refusals`] gives async-graphql's terse complexity and depth
//! refusals the limit and what costs what, and `BAD_USER_INPUT` on every transport.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Data, IntrospectionMode, Request, Response, ServerError, ServerResult};

use super::error::gql;
use super::limits::{self, ResultsBudget, MAX_SELECTIONS};
use super::schema::{MAX_COMPLEXITY, MAX_DEPTH};
use crate::auth::Authentication;
use crate::configuration::Introspection;
use crate::domain::DomainError;

/// The server's policy for every request.
#[derive(Clone, Copy)]
pub struct RequestPolicy {
    pub introspection: Introspection,
}

/// A coded error about the whole request (no location, no path).
fn refused(err: DomainError) -> ServerError {
    let coded = gql(err);
    let mut error = ServerError::new(coded.message, None);
    error.extensions = coded.extensions;
    error
}

impl RequestPolicy {
    /// Checks `request` before async-graphql parses or validates it. `session` is the WebSocket
    /// connection's data: HTTP requests carry the authentication in the request's data,
    /// WebSocket connections in the session's.
    pub fn admit(&self, request: &mut Request, session: Option<&Data>) -> ServerResult<()> {
        let signed_in = find::<Authentication>(&request.data)
            .or_else(|| session.and_then(find::<Authentication>))
            .is_some_and(|auth| matches!(auth, Authentication::Viewer(_)));
        let document = request.parsed_query()?;
        let selections = limits::expanded_selections(document);
        if selections > MAX_SELECTIONS {
            return Err(refused(DomainError::validation(
                "query",
                format!(
                    "the query has more than {MAX_SELECTIONS} selections once its fragments are \
                     inlined; ask for fewer fields"
                ),
            )));
        }
        let refusal = match (self.introspection, signed_in) {
            (Introspection::Always, _) | (Introspection::Authenticated, true) => None,
            (Introspection::Authenticated, false) => Some(DomainError::Unauthenticated(
                "sign in to introspect the schema: send `Authorization: Bearer <token>`".into(),
            )),
            (Introspection::Never, _) => Some(DomainError::Forbidden(
                "introspection is disabled on this server".into(),
            )),
        };
        if let Some(refusal) = refusal {
            if asks_for_introspection(document) {
                return Err(refused(refusal));
            }
            request.introspection_mode = IntrospectionMode::Disabled;
        }
        request.data.insert(ResultsBudget::default());
        Ok(())
    }
}

/// A request async-graphql refused before executing it (syntax, validation) has no data and only
/// errors without a path; those refusals of its complexity and depth limits are explained.
pub fn explain_refusals(response: &mut Response) {
    let refused_before_execution = response.data == async_graphql::Value::Null
        && response.errors.iter().all(|e| e.path.is_empty());
    if !refused_before_execution {
        return;
    }
    for error in &mut response.errors {
        if let Some(message) = explained(&error.message) {
            *error = refused(DomainError::validation("query", message));
        }
    }
}

/// The value of type `T` in `data`, if any.
pub(super) fn find<T: 'static>(data: &Data) -> Option<&T> {
    data.get(&std::any::TypeId::of::<T>())
        .and_then(|d| d.downcast_ref::<T>())
}

/// async-graphql's messages for its complexity and depth limits, with the limit and the costs.
fn explained(message: &str) -> Option<String> {
    match message {
        "Query is too complex." => Some(format!(
            "Query is too complex: its complexity is above {MAX_COMPLEXITY}. Each field costs 1 and \
             Experiment.results 100; a connection costs what is selected inside it once per item \
             of `first` (default 20), an unpaginated list as if it held 10 items"
        )),
        "Query is nested too deep." => Some(format!(
            "Query is nested too deep: at most {MAX_DEPTH} levels of fields"
        )),
        _ => None,
    }
}

/// Whether an operation selects `__schema` or `__type` on the query root, directly or through
/// fragments (followed iteratively, each once).
fn asks_for_introspection(doc: &ExecutableDocument) -> bool {
    let mut pending: Vec<&SelectionSet> = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node)
        .collect();
    let mut seen: HashSet<&str> = HashSet::new();
    while let Some(set) = pending.pop() {
        for selection in &set.items {
            match &selection.node {
                Selection::Field(field) => {
                    if matches!(field.node.name.node.as_str(), "__schema" | "__type") {
                        return true;
                    }
                }
                Selection::InlineFragment(inline) => pending.push(&inline.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(fragment) = doc.fragments.get(name) {
                        if seen.insert(name) {
                            pending.push(&fragment.node.selection_set.node);
                        }
                    }
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::asks_for_introspection;
    use async_graphql::parser::parse_query;

    fn asks(query: &str) -> bool {
        asks_for_introspection(&parse_query(query).expect("parses"))
    }

    #[test]
    fn introspection_is_found_through_fragments_and_typename_is_not_introspection() {
        assert!(asks("{ __schema { queryType { name } } }"));
        assert!(asks(
            "{ ...A } fragment A on Q { ... on Q { __type(name: \"X\") { name } } }"
        ));
        assert!(!asks("{ __typename viewer { email } }"));
        assert!(!asks("{ ...A } fragment A on Q { ...A }"));
    }
}
