//! Building the schema. `sdl()` is what `lift schema` prints and what `schema.graphql` must equal.
//!
//! It registers no async-graphql extension: the policy, the loaders and the observation run
//! around each request in `executor.rs`, so every field takes async-graphql's fast path.

use async_graphql::Schema;

use super::executor::LiftExecutor;
use super::loaders::RequestLoaders;
use super::mutation::MutationRoot;
use super::policy::RequestPolicy;
use super::query::QueryRoot;
use super::subscription::SubscriptionRoot;
use crate::configuration::GraphqlSettings;
use crate::service::App;

pub type AppSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Query depth and complexity limits: generous for any real client, fatal for abusive nesting.
/// What a field costs is in its description when it is not 1 (lists multiply their items' cost).
pub(super) const MAX_DEPTH: usize = 16;
pub(super) const MAX_COMPLEXITY: usize = 5_000;
/// Directives on one field (`@skip`/`@include` need one each).
const MAX_DIRECTIVES: usize = 4;

pub fn build_schema(app: App, settings: &GraphqlSettings) -> LiftExecutor {
    let loaders = RequestLoaders { db: app.db.clone() };
    let metrics = app.metrics.clone();
    let mut builder = Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .data(app)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .limit_directives(MAX_DIRECTIVES);
    if !settings.field_suggestions {
        builder = builder.disable_suggestions();
    }
    let policy = RequestPolicy {
        introspection: settings.introspection,
    };
    LiftExecutor::new(builder.finish(), loaders, policy, metrics)
}

/// The SDL of the schema, without needing a database.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot::default(), SubscriptionRoot)
        .finish()
        .sdl()
}
