//! `RequestPolicy`: what every request must pass before async-graphql validates it.
//!
//! It runs at `prepare_request`, the first hook, and parses the query itself (async-graphql keeps
//! that parse): the parse hook would only see the document after async-graphql's recursion-depth
//! check, which already walks every fragment expanded. Here, in order:
//! - a document larger than [`limits::MAX_SELECTIONS`] once its fragments are inlined is refused
//!   with `BAD_USER_INPUT`, before anything is expanded;
//! - each request gets its [`ResultsBudget`];
//! - introspection is allowed or refused by `LIFT_INTROSPECTION` and the request's
//!   authentication (`UNAUTHENTICATED` without a token when only signed-in users may introspect,
//!   `FORBIDDEN` when nobody may).
//!
//! After validation, async-graphql's terse complexity and depth refusals get the limit and what
//! costs what, and `BAD_USER_INPUT` on every transport.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{IntrospectionMode, Request, ServerError, ServerResult, ValidationResult};

use super::error::gql;
use super::limits::{self, ResultsBudget, MAX_SELECTIONS};
use super::schema::{MAX_COMPLEXITY, MAX_DEPTH};
use crate::auth::Authentication;
use crate::configuration::Introspection;
use crate::domain::DomainError;

/// The extension factory registered on the schema.
pub struct RequestPolicy {
    pub introspection: Introspection,
}

impl ExtensionFactory for RequestPolicy {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestPolicyExtension {
            introspection: self.introspection,
        })
    }
}

struct RequestPolicyExtension {
    introspection: Introspection,
}

/// A coded error about the whole request (no location, no path).
fn refused(err: DomainError) -> ServerError {
    let coded = gql(err);
    let mut error = ServerError::new(coded.message, None);
    error.extensions = coded.extensions;
    error
}

#[async_graphql::async_trait::async_trait]
impl Extension for RequestPolicyExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        // HTTP requests carry the authentication in the request's data, WebSocket connections in
        // the session's.
        let signed_in = request
            .data
            .get(&std::any::TypeId::of::<Authentication>())
            .and_then(|data| data.downcast_ref::<Authentication>())
            .or_else(|| ctx.data_opt::<Authentication>())
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
        next.run(ctx, request).await
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        next.run(ctx).await.map_err(|errors| {
            errors
                .into_iter()
                .map(|error| match explained(&error.message) {
                    Some(message) => refused(DomainError::validation("query", message)),
                    None => error,
                })
                .collect()
        })
    }
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
