//! The API boundary: the only module that names `async_graphql`.
//!
//! - `schema`      `AppSchema`, `build_schema`, `sdl()` (what `lift schema` prints);
//! - `executor`    `LiftExecutor`: runs each request (policy, loaders, span and metrics around it);
//! - `context`     reaching the database and the viewer from a resolver;
//! - `error`       the one place `DomainError` becomes `extensions.code`;
//! - `limits`      the expanded size of a document, measured without expanding it;
//! - `loaders`     the request's batch loader: one statement per relation per page, not per item;
//! - `nullable`    `or_null`: a nullable field that fails is `null` in `data` (async-graphql omits it);
//! - `pagination`  Relay connections over `db::Page`, opaque cursors;
//! - `plain`       `Fast`: an object's data fields read in one walk, not one future per field;
//! - `policy`      checks before validation: document size, who may introspect;
//! - `query`       `Query` root; `mutation/` one `*Mutation` per domain, merged;
//! - `subscription` `Subscription` root: the live audit stream (and `AuditFanout`, with which the
//!   WebSocket layer serves it to groups);
//! - `types/`      output objects wrapping read models, input objects converting into drafts.

mod context;
mod documents;
mod error;
mod executor;
mod limits;
mod loaders;
mod mutation;
mod nullable;
mod observe;
mod pagination;
mod plain;
mod policy;
mod query;
mod schema;
mod subscription;
mod types;

pub use error::code::BAD_USER_INPUT;
pub use executor::LiftExecutor;
pub use schema::{build_schema, sdl, AppSchema};
pub use subscription::{AuditFanout, AuditStart};
