//! Use-cases, one function per query or mutation. A mutation runs
//! `begin_write → load (locked) → authorize → domain rules → repo writes → audit::commit`, where
//! `audit::commit` writes the audit entry in the same transaction, commits, and wakes live
//! subscribers. Returning early with an error drops the transaction, which rolls it back, so a
//! failed mutation changes nothing and records nothing.
//!
//! Reads of nested objects (an experiment's metrics, a metric's attachments) take the parent that an
//! authorized call already returned, so they do not authorize again.

pub mod access;
mod app;
pub mod attachments;
pub mod audit;
pub mod environments;
pub mod experiments;
pub mod metrics;
pub mod preview;
pub mod results;
pub mod warehouse;

pub use app::App;
