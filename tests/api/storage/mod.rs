//! The database under failure (a full disk, an outage), `/health` and `/ready`, and secrets at rest.

mod disk_full;
mod outage;
mod secrets;
mod support;
