//! `AuditLog`: one recorded change, as listed by `Environment.auditLogs` and streamed by
//! `auditLogCreated`.

use async_graphql::{Enum, Json, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use crate::domain::audit as domain;
use crate::domain::model::AuditEntry;
use crate::graphql::pagination::encode_cursor;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "domain::AuditAction")]
pub enum AuditAction {
    Created,
    Updated,
    Deleted,
    Started,
    Paused,
    Completed,
    Attached,
    Detached,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "domain::RelatedObjectType")]
pub enum RelatedObjectType {
    Metric,
    Experiment,
    ExperimentMetric,
    WarehouseConnection,
    ResultSnapshot,
}

/// Who made a change (null fields when the user no longer exists).
#[derive(SimpleObject)]
pub struct AuditActor {
    pub id: Option<ID>,
    pub email: Option<String>,
    pub name: Option<String>,
}

pub struct AuditLog(pub AuditEntry);

/// The cursor of an entry: accepted by `auditLogs(after:)` and `auditLogCreated(after:)`.
pub fn audit_cursor(entry: &AuditEntry) -> String {
    encode_cursor(&entry.sequence.to_string())
}

#[Object]
impl AuditLog {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Resume point: pass it as `after` to `auditLogCreated` or `auditLogs`.
    async fn cursor(&self) -> String {
        audit_cursor(&self.0)
    }
    /// Increases with commit order within the environment (numbered across all environments, so
    /// with gaps).
    async fn sequence(&self) -> String {
        self.0.sequence.to_string()
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn action(&self) -> AuditAction {
        self.0.action.into()
    }
    async fn related_object_type(&self) -> RelatedObjectType {
        self.0.related_object_type.into()
    }
    async fn related_object_id(&self) -> ID {
        ID(self.0.related_object_id.clone())
    }
    /// A readable line, e.g. `Metric 'Checkout conversion' created`.
    async fn log(&self) -> &str {
        &self.0.log
    }
    /// `{"before": {…}, "after": {…}}`: the fields that changed (one side for creations and
    /// deletions).
    async fn changes(&self) -> Option<Json<serde_json::Value>> {
        self.0.changes.clone().map(Json)
    }
    async fn actor(&self) -> AuditActor {
        AuditActor {
            id: self.0.actor_id.clone().map(ID),
            email: self.0.actor_email.clone(),
            name: self.0.actor_name.clone(),
        }
    }
    async fn organisation_id(&self) -> ID {
        ID(self.0.organisation_id.clone())
    }
    async fn project_id(&self) -> Option<ID> {
        self.0.project_id.clone().map(ID)
    }
    async fn environment_id(&self) -> Option<ID> {
        self.0.environment_id.clone().map(ID)
    }
}
