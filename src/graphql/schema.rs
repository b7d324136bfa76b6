//! Building the schema. `sdl()` is what `lift schema` prints and what `schema.graphql` must equal.

use async_graphql::Schema;

use super::mutation::MutationRoot;
use super::query::QueryRoot;
use super::subscription::SubscriptionRoot;
use crate::service::App;

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Query depth and complexity limits: generous for any real client, fatal for abusive nesting.
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(app: App) -> AppSchema {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .extension(super::observe::Observe::new(app.metrics.clone()))
        .data(app)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The SDL of the schema, without needing a database.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .finish()
        .sdl()
}
