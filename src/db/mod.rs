//! Persistence: the only module that names SeaORM entities.
//!
//! - `entity/`: one SeaORM entity per table (rows never leave `db/`);
//! - `scope`: named query scopes; soft-deleted rows are invisible unless a name says
//!   `_including_deleted`; no other file calls an entity's `find` (checked by a test);
//! - `convert`: rows → `domain::model` read models (parse, don't trust, what is at rest);
//! - `page`: keyset pagination on UUIDv7 ids, newest first;
//! - `nested`: rows read as JSON the database builds (a page as one value, a row's children as
//!   one column);
//! - `sealing`: warehouse passwords sealed at rest (ChaCha20-Poly1305);
//! - `repo/`: reads and writes, each `fn(&impl ConnectionTrait, ..)` so they run inside a
//!   transaction or outside one alike;
//! - `sqlite_memory`: what SQLite's own allocator holds, for `/metrics`;
//! - `sqlite_plans`: SQLite plans statements without looking at bound values, so cached
//!   statements are reused.

pub mod connect;
mod convert;
pub mod entity;
mod failure;
mod nested;
pub mod page;
#[cfg(test)]
mod plan_check;
pub mod repo;
mod scope;
pub mod sealing;
mod sqlite_memory;
pub mod sqlite_plans;

pub use connect::{begin_write, connect, connect_with, Db};
pub use failure::is_unavailable;
pub use page::{Page, PageRequest};
pub use sealing::Sealer;
pub use sqlite_memory::sqlite_memory_used;

use crate::domain::DomainError;

/// The current time at the precision both databases store (microseconds), so that what a mutation
/// returns equals what a later read returns.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// A fresh UUIDv7 id: unique, and ordered by creation time.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Maps a unique-index violation to `CONFLICT` with `message`; anything else stays internal.
pub(crate) fn conflict_on_unique(err: sea_orm::DbErr, message: impl Into<String>) -> DomainError {
    match err.sql_err() {
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
            DomainError::Conflict(message.into())
        }
        _ => err.into(),
    }
}
