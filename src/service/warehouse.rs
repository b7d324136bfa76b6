//! Warehouse connections: per-environment ClickHouse targets managed by environment admins, and
//! which target an environment's results read (its own, else the server's default).

use crate::auth::Viewer;
use crate::db::{begin_write, repo, Sealer};
use crate::domain::audit::{self as audit_record, AuditAction};
use crate::domain::error::DomainResult;
use crate::domain::permission::Need;
use crate::domain::warehouse::{WarehouseConnection, WarehouseDraft, WarehouseTarget};
use crate::domain::DomainError;
use crate::domain::{experiment, text};
use crate::warehouse::Warehouse;

use super::access::{self, EnvironmentAccess};
use super::{audit, App};

const WHAT: &str = "warehouse connection";

/// The environment's own connection (admins only: it names internal hosts).
pub async fn of_environment(
    app: &App,
    environment: &EnvironmentAccess,
) -> DomainResult<Option<WarehouseConnection>> {
    environment.require(Need::Admin, "environment")?;
    repo::warehouse::connection_of_environment(&app.db, &app.sealer, &environment.environment.id)
        .await
}

#[tracing::instrument(name = "warehouse.create", skip_all, fields(viewer_id = %viewer.user_id(), environment = %environment_key))]
pub async fn create(
    app: &App,
    viewer: &Viewer,
    environment_key: &str,
    draft: WarehouseDraft,
) -> DomainResult<WarehouseConnection> {
    // The address is looked up before the write transaction (a lookup can take seconds, and
    // SQLite has one writer), and only for a viewer who may create the connection, so others
    // learn nothing about addresses. It is checked again on every connection to it.
    access::by_key(&app.db, viewer, environment_key)
        .await?
        .require(Need::Admin, "environment")?;
    let target = WarehouseTarget::parse(draft)?;
    app.warehouse_options
        .egress
        .vet(&target.url)
        .await
        .map_err(|refusal| DomainError::validation("url", refusal.to_string()))?;
    let txn = begin_write(&app.db).await?;
    let environment = access::by_key(&txn, viewer, environment_key).await?;
    environment.require(Need::Admin, "environment")?;
    let connection =
        repo::warehouse::insert_connection(&txn, &app.sealer, &environment.environment.id, &target)
            .await?;
    let record = audit_record::created(&connection, "Warehouse connection created".to_owned());
    audit::commit(app, txn, &environment, viewer, record).await?;
    Ok(connection)
}

#[tracing::instrument(name = "warehouse.delete", skip_all, fields(viewer_id = %viewer.user_id(), connection_id = %id))]
pub async fn delete(app: &App, viewer: &Viewer, id: &str) -> DomainResult<WarehouseConnection> {
    let txn = begin_write(&app.db).await?;
    let (connection, environment) = load_for_change(&txn, &app.sealer, viewer, id).await?;
    repo::warehouse::delete_connection(&txn, &connection.id).await?;
    let record = audit_record::removed(
        AuditAction::Deleted,
        &connection,
        "Warehouse connection deleted".to_owned(),
    );
    audit::commit(app, txn, &environment, viewer, record).await?;
    app.warehouses.forget(&connection.id);
    Ok(connection)
}

/// What a connection test found.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    pub reachable: bool,
    pub exposure_events: u64,
    pub message: String,
}

/// Runs a probe against the connection: can lift query the events table, and does it hold
/// exposure events of this environment? An unreachable warehouse is a report, not an error.
#[tracing::instrument(name = "warehouse.test", skip_all, fields(viewer_id = %viewer.user_id(), connection_id = %id))]
pub async fn test(
    app: &App,
    viewer: &Viewer,
    id: &str,
    exposure_event: &str,
) -> DomainResult<ProbeReport> {
    let exposure_event = &text::required_line(
        "exposureEvent",
        exposure_event,
        experiment::MAX_EXPOSURE_EVENT,
    )?;
    let (connection, environment) = load_for_change(&app.db, &app.sealer, viewer, id).await?;
    let probe = match app.warehouses.for_connection(&connection) {
        Ok(warehouse) => {
            warehouse
                .count_exposures(&environment.environment.key, exposure_event)
                .await
        }
        Err(unusable) => Err(unusable),
    };
    Ok(match probe {
        Ok(0) => ProbeReport {
            reachable: true,
            exposure_events: 0,
            message: format!(
                "connected, but {}.{} has no {exposure_event:?} events for environment {:?} yet",
                connection.target.database, connection.target.table, environment.environment.key
            ),
        },
        Ok(n) => ProbeReport {
            reachable: true,
            exposure_events: n,
            message: format!("connected: {n} {exposure_event:?} events"),
        },
        Err(DomainError::WarehouseUnavailable(message)) => ProbeReport {
            reachable: false,
            exposure_events: 0,
            message,
        },
        Err(other) => return Err(other),
    })
}

/// The warehouse an environment's results read: its own connection, else the server's default.
pub async fn warehouse_for(app: &App, environment_id: &str) -> DomainResult<Warehouse> {
    match repo::warehouse::connection_of_environment(&app.db, &app.sealer, environment_id).await? {
        Some(connection) => app.warehouses.for_connection(&connection),
        None => app
            .warehouses
            .default_target()
            .ok_or(DomainError::WarehouseNotConfigured),
    }
}

async fn load_for_change(
    db: &impl sea_orm::ConnectionTrait,
    sealer: &Sealer,
    viewer: &Viewer,
    id: &str,
) -> DomainResult<(WarehouseConnection, EnvironmentAccess)> {
    let connection = repo::warehouse::connection_by_id(db, sealer, id)
        .await?
        .ok_or_else(|| DomainError::not_found(WHAT))?;
    let environment = access::by_id(db, viewer, &connection.environment_id, WHAT).await?;
    environment.require(Need::Admin, WHAT)?;
    Ok((connection, environment))
}
