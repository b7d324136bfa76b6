//! The audit log table: writing one entry inside a mutation's transaction, and reading entries by
//! sequence (pages newest first, or everything after a cursor, oldest first).
//!
//! **Cursor order is commit order.** On PostgreSQL a sequence value is taken before commit, so
//! without care a row with a lower sequence could become visible after one with a higher
//! sequence, and a reader remembering "last sequence seen" would skip it forever. `record` takes a
//! transaction-scoped advisory lock per environment before inserting: the next writer of that
//! environment can only take its sequence after this transaction has committed or rolled back.
//! SQLite write transactions are already serialized (`BEGIN IMMEDIATE`). The same transaction
//! issues `NOTIFY lift_audit` with the environment id, which PostgreSQL delivers only on commit.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DatabaseTransaction, DbBackend, FromQueryResult, NotSet,
    Set, Statement,
};

use crate::db::entity::{audit_log, user};
use crate::db::page::{Page, PageRequest};
use crate::db::{new_id, now};
use crate::domain::audit::{AuditAction, AuditRecord, RelatedObjectType};
use crate::domain::model::{AuditEntry, Environment, Project, User};
use crate::domain::DomainError;

/// The PostgreSQL channel that carries "environment X has new audit entries".
pub const NOTIFY_CHANNEL: &str = "lift_audit";
/// First key of the advisory lock (`"lift"` as an int4); the second is `hashtext(environment_id)`.
const ADVISORY_LOCK_CLASS: i32 = 1_818_846_836;

/// Writes one audit entry in `txn` (the type makes it impossible outside a transaction).
pub async fn record(
    txn: &DatabaseTransaction,
    environment: &Environment,
    project: &Project,
    actor: &User,
    record: &AuditRecord,
) -> Result<i64, DomainError> {
    let postgres = txn.get_database_backend() == DbBackend::Postgres;
    if postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            [ADVISORY_LOCK_CLASS.into(), environment.id.clone().into()],
        ))
        .await?;
    }
    let row = audit_log::ActiveModel {
        sequence: NotSet,
        id: Set(new_id()),
        created_at: Set(now()),
        organisation_id: Set(project.organisation_id.clone()),
        project_id: Set(Some(project.id.clone())),
        environment_id: Set(Some(environment.id.clone())),
        actor_id: Set(Some(actor.id.clone())),
        action: Set(record.action.as_str().to_owned()),
        related_object_type: Set(record.object_type.as_str().to_owned()),
        related_object_id: Set(record.object_id.clone()),
        log: Set(record.log.clone()),
        changes: Set(record.changes.clone()),
    }
    .insert(txn)
    .await?;
    if postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [NOTIFY_CHANNEL.into(), environment.id.clone().into()],
        ))
        .await?;
    }
    Ok(row.sequence)
}

/// Filters of `Environment.auditLogs`.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub object_type: Option<RelatedObjectType>,
    pub action: Option<AuditAction>,
    pub actor_email: Option<String>,
}

/// A page of an environment's entries, newest first. `request.after` is a sequence (as text).
pub async fn page(
    db: &impl ConnectionTrait,
    environment_id: &str,
    filter: &AuditFilter,
    request: &PageRequest,
) -> Result<Page<AuditEntry>, DomainError> {
    let mut base = select_entries(environment_id);
    if let Some(t) = filter.object_type {
        base.and_where(
            Expr::col((audit_log::Entity, audit_log::Column::RelatedObjectType)).eq(t.as_str()),
        );
    }
    if let Some(a) = filter.action {
        base.and_where(Expr::col((audit_log::Entity, audit_log::Column::Action)).eq(a.as_str()));
    }
    if let Some(email) = &filter.actor_email {
        base.and_where(
            Expr::col((user::Entity, user::Column::Email)).eq(email.trim().to_lowercase()),
        );
    }
    let total_count = match request.with_total {
        true => {
            let count = Query::select()
                .expr_as(Expr::cust("COUNT(*)"), "count")
                .from_subquery(base.clone(), "entries")
                .take();
            let row = CountRow::find_by_statement(db.get_database_backend().build(&count))
                .one(db)
                .await?;
            Some(row.map(|r| r.count).unwrap_or(0) as u64)
        }
        false => None,
    };
    let mut page = base;
    if let Some(after) = &request.after {
        let after = crate::db::page::sequence_cursor(after)?;
        page.and_where(Expr::col((audit_log::Entity, audit_log::Column::Sequence)).lt(after));
    }
    page.order_by(
        (audit_log::Entity, audit_log::Column::Sequence),
        Order::Desc,
    )
    .limit(request.overfetch());
    let items = fetch(db, &page).await?;
    Ok(Page::from_overfetched(items, request, total_count))
}

/// Up to `limit` entries of an environment committed after `sequence`, oldest first.
pub async fn after(
    db: &impl ConnectionTrait,
    environment_id: &str,
    sequence: i64,
    limit: u64,
) -> Result<Vec<AuditEntry>, DomainError> {
    let mut query = select_entries(environment_id);
    query
        .and_where(Expr::col((audit_log::Entity, audit_log::Column::Sequence)).gt(sequence))
        .order_by((audit_log::Entity, audit_log::Column::Sequence), Order::Asc)
        .limit(limit);
    fetch(db, &query).await
}

/// The highest sequence of an environment's entries (0 when there are none).
pub async fn max_sequence(
    db: &impl ConnectionTrait,
    environment_id: &str,
) -> Result<i64, DomainError> {
    let query = Query::select()
        .expr_as(Expr::cust("COALESCE(MAX(sequence), 0)"), "count")
        .from(audit_log::Entity)
        .and_where(Expr::col(audit_log::Column::EnvironmentId).eq(environment_id))
        .take();
    let row = CountRow::find_by_statement(db.get_database_backend().build(&query))
        .one(db)
        .await?;
    Ok(row.map(|r| r.count).unwrap_or(0))
}

#[derive(Debug, FromQueryResult)]
struct CountRow {
    count: i64,
}

/// Entries of one environment joined with their actor's email and name.
fn select_entries(environment_id: &str) -> SelectStatement {
    use audit_log::Column as A;
    Query::select()
        .columns([
            (audit_log::Entity, A::Sequence),
            (audit_log::Entity, A::Id),
            (audit_log::Entity, A::CreatedAt),
            (audit_log::Entity, A::OrganisationId),
            (audit_log::Entity, A::ProjectId),
            (audit_log::Entity, A::EnvironmentId),
            (audit_log::Entity, A::ActorId),
            (audit_log::Entity, A::Action),
            (audit_log::Entity, A::RelatedObjectType),
            (audit_log::Entity, A::RelatedObjectId),
            (audit_log::Entity, A::Log),
            (audit_log::Entity, A::Changes),
        ])
        .expr_as(
            Expr::col((user::Entity, user::Column::Email)),
            "actor_email",
        )
        .expr_as(Expr::col((user::Entity, user::Column::Name)), "actor_name")
        .from(audit_log::Entity)
        .left_join(
            user::Entity,
            Expr::col((user::Entity, user::Column::Id)).equals((audit_log::Entity, A::ActorId)),
        )
        .and_where(Expr::col((audit_log::Entity, A::EnvironmentId)).eq(environment_id))
        .take()
}

#[derive(Debug, FromQueryResult)]
struct EntryRow {
    sequence: i64,
    id: String,
    created_at: chrono::DateTime<chrono::Utc>,
    organisation_id: String,
    project_id: Option<String>,
    environment_id: Option<String>,
    actor_id: Option<String>,
    action: String,
    related_object_type: String,
    related_object_id: String,
    log: String,
    changes: Option<serde_json::Value>,
    actor_email: Option<String>,
    actor_name: Option<String>,
}

async fn fetch(
    db: &impl ConnectionTrait,
    query: &SelectStatement,
) -> Result<Vec<AuditEntry>, DomainError> {
    let rows = EntryRow::find_by_statement(db.get_database_backend().build(query))
        .all(db)
        .await?;
    rows.into_iter()
        .map(|r| {
            let row = r.sequence.to_string();
            Ok(AuditEntry {
                action: crate::db::convert::parse("audit_logs", &row, &r.action)?,
                related_object_type: crate::db::convert::parse(
                    "audit_logs",
                    &row,
                    &r.related_object_type,
                )?,
                sequence: r.sequence,
                id: r.id,
                created_at: r.created_at,
                organisation_id: r.organisation_id,
                project_id: r.project_id,
                environment_id: r.environment_id,
                actor_id: r.actor_id,
                actor_email: r.actor_email,
                actor_name: r.actor_name,
                related_object_id: r.related_object_id,
                log: r.log,
                changes: r.changes,
            })
        })
        .collect()
}
