//! Experiments.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
};

use crate::db::entity::experiment;
use crate::db::page::{self, Page, PageRequest};
use crate::db::scope::LiveScope;
use crate::db::{conflict_on_unique, new_id, now};
use crate::domain::analysis::StoredAnalysis;
use crate::domain::experiment::{ExperimentStatus, NewExperiment};
use crate::domain::model::Experiment;
use crate::domain::DomainError;

const ACTIVE_CONFLICT: &str =
    "this feature already has an active experiment in this environment: complete or delete it first";

pub async fn live(db: &impl ConnectionTrait, id: &str) -> Result<Option<Experiment>, DomainError> {
    experiment::Entity::find_live()
        .filter(experiment::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Experiment::try_from)
        .transpose()
}

/// The live experiments among `ids` (deleted and unknown ones are absent), in no particular order.
pub async fn live_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Experiment>, DomainError> {
    super::in_chunks(ids, |ids| async move {
        let rows = experiment::Entity::find_live()
            .filter(experiment::Column::Id.is_in(ids))
            .all(db)
            .await?;
        crate::db::convert::all(rows)
    })
    .await
}

pub async fn live_for_update(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Experiment>, DomainError> {
    experiment::Entity::find_live()
        .filter(experiment::Column::Id.eq(id))
        .lock_exclusive()
        .one(db)
        .await?
        .map(Experiment::try_from)
        .transpose()
}

pub async fn page(
    db: &impl ConnectionTrait,
    environment_id: &str,
    status: Option<ExperimentStatus>,
    request: &PageRequest,
) -> Result<Page<Experiment>, DomainError> {
    let mut select = experiment::Entity::find_live()
        .filter(experiment::Column::EnvironmentId.eq(environment_id));
    if let Some(status) = status {
        select = select.filter(experiment::Column::Status.eq(status.as_str()));
    }
    page::fetch(db, select, experiment::Column::Id, request)
        .await?
        .try_map(Experiment::try_from)
}

pub async fn insert(
    db: &impl ConnectionTrait,
    environment_id: &str,
    feature_id: &str,
    new: &NewExperiment,
) -> Result<Experiment, DomainError> {
    let now = now();
    let row = experiment::ActiveModel {
        id: Set(new_id()),
        environment_id: Set(environment_id.to_owned()),
        feature_id: Set(feature_id.to_owned()),
        name: Set(new.name().to_owned()),
        hypothesis: Set(new.hypothesis().to_owned()),
        status: Set(ExperimentStatus::Created.as_str().to_owned()),
        exposure_event: Set(new.exposure_event().to_owned()),
        control_variant: Set(new.control_variant().to_owned()),
        multiple_exposure_handling: Set(new.multiple_exposure_handling().as_str().to_owned()),
        analysis: Set(Some(new.analysis().to_stored())),
        started_at: Set(None),
        ended_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| conflict_on_unique(e, ACTIVE_CONFLICT))?;
    Experiment::try_from(row)
}

/// Writes every mutable field of `next` (name, hypothesis, exposure event, control variant,
/// analysis settings, status and its timestamps) and stamps `updated_at`. Settings that still
/// follow the server's defaults stay NULL.
pub async fn save(db: &impl ConnectionTrait, next: &Experiment) -> Result<Experiment, DomainError> {
    let now = now();
    experiment::Entity::update_many()
        .col_expr(experiment::Column::Name, Expr::value(next.name.clone()))
        .col_expr(
            experiment::Column::Hypothesis,
            Expr::value(next.hypothesis.clone()),
        )
        .col_expr(
            experiment::Column::ExposureEvent,
            Expr::value(next.exposure_event.clone()),
        )
        .col_expr(
            experiment::Column::ControlVariant,
            Expr::value(next.control_variant.clone()),
        )
        .col_expr(
            experiment::Column::MultipleExposureHandling,
            Expr::value(next.multiple_exposure_handling.as_str()),
        )
        .col_expr(
            experiment::Column::Analysis,
            Expr::value(match &next.analysis {
                StoredAnalysis::Pinned(settings) => Some(settings.to_stored()),
                StoredAnalysis::ServerDefaults => None,
            }),
        )
        .col_expr(
            experiment::Column::Status,
            Expr::value(next.status.as_str()),
        )
        .col_expr(experiment::Column::StartedAt, Expr::value(next.started_at))
        .col_expr(experiment::Column::EndedAt, Expr::value(next.ended_at))
        .col_expr(experiment::Column::UpdatedAt, Expr::value(now))
        .filter(experiment::Column::Id.eq(&next.id))
        .exec(db)
        .await
        .map_err(|e| conflict_on_unique(e, ACTIVE_CONFLICT))?;
    Ok(Experiment {
        updated_at: now,
        ..next.clone()
    })
}

pub async fn soft_delete(
    db: &impl ConnectionTrait,
    current: &Experiment,
) -> Result<Experiment, DomainError> {
    let now = now();
    experiment::Entity::update_many()
        .col_expr(experiment::Column::DeletedAt, Expr::value(now))
        .col_expr(experiment::Column::UpdatedAt, Expr::value(now))
        .filter(experiment::Column::Id.eq(&current.id))
        .exec(db)
        .await?;
    Ok(Experiment {
        deleted_at: Some(now),
        updated_at: now,
        ..current.clone()
    })
}
