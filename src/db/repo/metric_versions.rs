//! What metrics measured, per version (`metric_versions`). A version is live when its metric is;
//! rows are written once and never change.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, QueryFilter, QueryOrder, Set,
};

use crate::db::entity::metric_version;
use crate::db::scope::LiveScope;
use crate::db::{conflict_on_unique, convert};
use crate::domain::model::{Metric, MetricVersion};
use crate::domain::DomainError;

/// Stores `metric`'s current version. A version that exists already (a concurrent edit took the
/// number) is `CONFLICT`.
pub async fn insert_current(db: &impl ConnectionTrait, metric: &Metric) -> Result<(), DomainError> {
    metric_version::ActiveModel {
        metric_id: Set(metric.id.clone()),
        version: Set(version_column(metric.version)?),
        metric_type: Set(metric.metric_type.as_str().to_owned()),
        aggregation: Set(metric.aggregation.as_str().to_owned()),
        direction: Set(metric.direction.as_str().to_owned()),
        definition: Set(metric.definition.to_stored()),
        created_at: Set(crate::db::now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(
            e,
            format!(
                "metric {:?} was changed concurrently: version {} exists already; retry",
                metric.name, metric.version
            ),
        )
    })?;
    Ok(())
}

pub(super) fn version_column(version: u32) -> Result<i32, DomainError> {
    i32::try_from(version).map_err(|_| DomainError::internal(format!("version {version}")))
}

/// Every version of the live metrics among `metric_ids`, per metric newest first.
pub async fn of_metrics(
    db: &impl ConnectionTrait,
    metric_ids: &[String],
) -> Result<Vec<MetricVersion>, DomainError> {
    super::in_chunks(metric_ids, |ids| async move {
        let rows = metric_version::Entity::find_live()
            .filter(metric_version::Column::MetricId.is_in(ids))
            .order_by_asc(metric_version::Column::MetricId)
            .order_by_desc(metric_version::Column::Version)
            .all(db)
            .await?;
        convert::all(rows)
    })
    .await
}

/// The versions named by `(metric id, version)` pairs, of live metrics; unknown ones are absent.
pub async fn by_pairs(
    db: &impl ConnectionTrait,
    pairs: &[(String, u32)],
) -> Result<Vec<MetricVersion>, DomainError> {
    let mut versions = Vec::new();
    // Two parameters per pair: half as many pairs per statement as ids.
    for chunk in pairs.chunks(super::IDS_PER_STATEMENT / 2) {
        let mut any = Condition::any();
        for (metric_id, version) in chunk {
            any = any.add(
                Condition::all()
                    .add(metric_version::Column::MetricId.eq(metric_id.as_str()))
                    .add(metric_version::Column::Version.eq(version_column(*version)?)),
            );
        }
        let rows = metric_version::Entity::find_live()
            .filter(any)
            .all(db)
            .await?;
        versions.extend(convert::all::<_, MetricVersion>(rows)?);
    }
    Ok(versions)
}
