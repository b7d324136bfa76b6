//! The API boundary: the only module that names `async_graphql`.
//!
//! - `schema`      `AppSchema`, `build_schema`, `sdl()` (what `lift schema` prints);
//! - `context`     reaching the database and the viewer from a resolver;
//! - `error`       the one place `DomainError` becomes `extensions.code`;
//! - `pagination`  Relay connections over `db::Page`, opaque cursors;
//! - `query`       `Query` root; `mutation/` one `*Mutation` per domain, merged;
//! - `subscription` `Subscription` root: the live audit stream;
//! - `types/`      output objects wrapping read models, input objects converting into drafts.

mod context;
mod error;
mod mutation;
mod observe;
mod pagination;
mod query;
mod schema;
mod subscription;
mod types;

pub use error::code::BAD_USER_INPUT;
pub use schema::{build_schema, sdl, AppSchema};
