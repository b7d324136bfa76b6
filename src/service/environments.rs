//! Environments and their features.

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

/// Every environment the viewer can at least view, with the viewer's access to each.
pub async fn visible_to(db: &Db, viewer: &Viewer) -> DomainResult<Vec<EnvironmentAccess>> {
    let mut visible = Vec::new();
    for environment in repo::tenancy::environments_visible_to(db, viewer.user_id()).await? {
        visible.push(access::by_id(db, viewer, &environment.id, "environment").await?);
    }
    Ok(visible)
}

/// Features of the environment's project (features are defined per project).
pub async fn features(
    db: &Db,
    environment: &EnvironmentAccess,
    page: &PageRequest,
) -> DomainResult<Page<Feature>> {
    repo::tenancy::features_page(db, &environment.project.id, page).await
}
