//! Environments and their features.

use std::collections::HashMap;

use crate::auth::Viewer;
use crate::db::page::{Page, PageRequest};
use crate::db::{repo, Db};
use crate::domain::error::DomainResult;
use crate::domain::model::Feature;

use super::access::{self, EnvironmentAccess};

pub async fn by_key(db: &Db, viewer: &Viewer, key: &str) -> DomainResult<EnvironmentAccess> {
    access::by_key(db, viewer, key).await
}

pub async fn by_id(db: &Db, viewer: &Viewer, id: &str) -> DomainResult<EnvironmentAccess> {
    access::by_id(db, viewer, id, "environment").await
}

/// The environments among `ids` the viewer can see, by id (as `by_id`: the others are absent).
pub async fn by_ids(
    db: &Db,
    viewer: &Viewer,
    ids: &[String],
) -> DomainResult<HashMap<String, EnvironmentAccess>> {
    Ok(access::visible_by_ids(db, viewer, ids)
        .await?
        .into_iter()
        .map(|access| (access.environment.id.clone(), access))
        .collect())
}

/// Every environment the viewer can at least view, with the viewer's access to each.
pub async fn visible_to(db: &Db, viewer: &Viewer) -> DomainResult<Vec<EnvironmentAccess>> {
    let environments = repo::tenancy::environments_visible_to(db, viewer.user_id()).await?;
    let ids: Vec<String> = environments.into_iter().map(|e| e.id).collect();
    let mut by_id = by_ids(db, viewer, &ids).await?;
    // In the order of `environments_visible_to` (by key).
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

/// Features of the environment's project (features are defined per project).
pub async fn features(
    db: &Db,
    environment: &EnvironmentAccess,
    page: &PageRequest,
) -> DomainResult<Page<Feature>> {
    repo::tenancy::features_page(db, &environment.project.id, page).await
}
