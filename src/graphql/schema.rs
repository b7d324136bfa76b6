//! Building the schema. `sdl()` is what `lift schema` prints and what `schema.graphql` must equal.

use async_graphql::{EmptySubscription, Schema};

use super::mutation::MutationRoot;
use super::query::QueryRoot;
use crate::db::Db;

pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Query depth and complexity limits: generous for any real client, fatal for abusive nesting.
const MAX_DEPTH: usize = 16;
const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(db: Db) -> AppSchema {
    Schema::build(QueryRoot, MutationRoot::default(), EmptySubscription)
        .data(db)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The SDL of the schema, without needing a database.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot::default(), EmptySubscription)
        .finish()
        .sdl()
}
