//! Live audit events: the process-wide [`AuditHub`] and the PostgreSQL listener that feeds it.
//!
//! The database is the source of truth; notifications only say "environment X has something new".
//! - `hub`      one tail reader per environment with subscribers: on each wake-up it reads the rows
//!   after the last sequence it has seen and broadcasts them to that environment's subscribers;
//! - `fanout`   groups of subscriptions that receive the same bytes: each group holds one receiver
//!   of its environment's broadcast and renders each entry once for all its members;
//! - `listener` on PostgreSQL, `LISTEN lift_audit` turns commits made by any replica into wake-ups.
//!
//! A lost wake-up cannot lose an event: tails also poll, and a subscriber that falls behind its
//! bounded buffer catches up from the table (`fanout.rs`, and `service::audit::live` for
//! subscriptions served one by one).

pub mod fanout;
pub mod hub;
mod listener;

pub use hub::{AuditHub, BROADCAST_CAPACITY};
pub use listener::spawn_postgres_listener;
