//! Live audit events: the process-wide [`AuditHub`] and the PostgreSQL listener that feeds it.
//!
//! The database is the source of truth; notifications only say "environment X has something new".
//! - `hub`      one tail reader per environment with subscribers: on each wake-up it reads the rows
//!   after the last sequence it has seen and broadcasts them to that environment's subscribers;
//! - `listener` on PostgreSQL, `LISTEN lift_audit` turns commits made by any replica into wake-ups.
//!
//! A lost wake-up cannot lose an event: tails also poll, and a subscriber that falls behind its
//! bounded buffer catches up from the table (see `service::audit::live`).

pub mod hub;
mod listener;

pub use hub::{AuditHub, BROADCAST_CAPACITY};
pub use listener::spawn_postgres_listener;
