//! Reads and writes, one file per aggregate. Every function takes `&impl ConnectionTrait`, so the
//! service layer decides what runs inside a transaction. Functions named `*_for_update` lock the row
//! (`SELECT … FOR UPDATE` on PostgreSQL; SQLite write transactions are already exclusive).

pub mod attachments;
pub mod audit;
pub mod experiments;
pub mod metrics;
pub mod tenancy;
pub mod warehouse;
