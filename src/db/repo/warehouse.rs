//! Warehouse connections (one per environment at most) and result snapshots.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::db::convert::warehouse_connection as from_row;
use crate::db::entity::{metric_result_snapshot, warehouse_connection};
use crate::db::page::{self, Page, PageRequest};
use crate::db::scope::find_all;
use crate::db::{conflict_on_unique, new_id, now, Sealer};
use crate::domain::results::{ResultsReport, StoredSnapshot};
use crate::domain::warehouse::{WarehouseConnection, WarehouseKind, WarehouseTarget};
use crate::domain::DomainError;

pub async fn connection_of_environment(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    environment_id: &str,
) -> Result<Option<WarehouseConnection>, DomainError> {
    find_all::<warehouse_connection::Entity>()
        .filter(warehouse_connection::Column::EnvironmentId.eq(environment_id))
        .one(db)
        .await?
        .map(|row| from_row(row, sealer))
        .transpose()
}

pub async fn connection_by_id(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    id: &str,
) -> Result<Option<WarehouseConnection>, DomainError> {
    find_all::<warehouse_connection::Entity>()
        .filter(warehouse_connection::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .map(|row| from_row(row, sealer))
        .transpose()
}

/// Stores a connection, its password sealed.
pub async fn insert_connection(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
    environment_id: &str,
    target: &WarehouseTarget,
) -> Result<WarehouseConnection, DomainError> {
    let password = sealer.seal("password", &target.password)?;
    let row = warehouse_connection::ActiveModel {
        id: Set(new_id()),
        environment_id: Set(environment_id.to_owned()),
        kind: Set(WarehouseKind::ClickHouse.as_str().to_owned()),
        url: Set(target.url.clone()),
        database_name: Set(target.database.clone()),
        table_name: Set(target.table.clone()),
        cluster_name: Set(target.cluster.clone()),
        username: Set(target.user.clone()),
        password: Set(password),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(
            e,
            "this environment already has a warehouse connection: delete it first",
        )
    })?;
    from_row(row, sealer)
}

/// Seals the passwords stored before sealing existed (idempotent; nothing to do without a key).
/// Returns how many were sealed.
pub async fn seal_plaintext_passwords(
    db: &impl ConnectionTrait,
    sealer: &Sealer,
) -> Result<usize, DomainError> {
    if !sealer.has_key() {
        return Ok(0);
    }
    let rows = find_all::<warehouse_connection::Entity>()
        .filter(warehouse_connection::Column::Password.ne(""))
        .all(db)
        .await?;
    let mut sealed = 0;
    for row in rows {
        if Sealer::is_sealed(&row.password) {
            continue;
        }
        let password = sealer.seal("password", &secrecy::SecretString::from(row.password))?;
        warehouse_connection::Entity::update_many()
            .col_expr(
                warehouse_connection::Column::Password,
                sea_orm::sea_query::Expr::value(password),
            )
            .filter(warehouse_connection::Column::Id.eq(row.id))
            .exec(db)
            .await?;
        sealed += 1;
    }
    Ok(sealed)
}

pub async fn delete_connection(db: &impl ConnectionTrait, id: &str) -> Result<(), DomainError> {
    warehouse_connection::Entity::delete_by_id(id.to_owned())
        .exec(db)
        .await?;
    Ok(())
}

pub async fn insert_snapshot(
    db: &impl ConnectionTrait,
    experiment_id: &str,
    report: &ResultsReport,
) -> Result<StoredSnapshot, DomainError> {
    let payload = serde_json::to_value(report)
        .map_err(|e| DomainError::Internal(anyhow::Error::new(e).context("encoding a snapshot")))?;
    let row = metric_result_snapshot::ActiveModel {
        id: Set(new_id()),
        experiment_id: Set(experiment_id.to_owned()),
        computed_at: Set(report.computed_at),
        payload: Set(payload),
    }
    .insert(db)
    .await?;
    StoredSnapshot::try_from(row)
}

/// The newest snapshot of an experiment.
pub async fn latest_snapshot(
    db: &impl ConnectionTrait,
    experiment_id: &str,
) -> Result<Option<StoredSnapshot>, DomainError> {
    find_all::<metric_result_snapshot::Entity>()
        .filter(metric_result_snapshot::Column::ExperimentId.eq(experiment_id))
        .order_by_desc(metric_result_snapshot::Column::Id)
        .one(db)
        .await?
        .map(StoredSnapshot::try_from)
        .transpose()
}

/// When the newest snapshot of an experiment was computed (without reading its payload).
pub async fn latest_snapshot_time(
    db: &impl ConnectionTrait,
    experiment_id: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, DomainError> {
    Ok(find_all::<metric_result_snapshot::Entity>()
        .select_only()
        .column(metric_result_snapshot::Column::ComputedAt)
        .filter(metric_result_snapshot::Column::ExperimentId.eq(experiment_id))
        .order_by_desc(metric_result_snapshot::Column::Id)
        .into_tuple::<chrono::DateTime<chrono::Utc>>()
        .one(db)
        .await?)
}

/// Snapshots of an experiment, newest first.
pub async fn snapshots_page(
    db: &impl ConnectionTrait,
    experiment_id: &str,
    request: &PageRequest,
) -> Result<Page<StoredSnapshot>, DomainError> {
    let select = find_all::<metric_result_snapshot::Entity>()
        .filter(metric_result_snapshot::Column::ExperimentId.eq(experiment_id));
    page::fetch(db, select, metric_result_snapshot::Column::Id, request)
        .await?
        .try_map(StoredSnapshot::try_from)
}
