//! `App`: what use-cases need beyond the viewer: the database, and the hub that wakes live
//! audit subscribers after a commit.

use crate::db::Db;
use crate::events::AuditHub;

#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub audit: AuditHub,
}
