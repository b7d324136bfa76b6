//! Resolving a viewer's access to an environment (see `domain::permission` for the rules).

use sea_orm::ConnectionTrait;

use crate::auth::Viewer;
use crate::db::repo;
use crate::db::repo::tenancy::{self, EnvironmentRef};
use crate::domain::error::DomainResult;
use crate::domain::model::{Environment, Organisation, Project};
use crate::domain::permission::{authorize, authorize_experimentation, Access, Grants, Need};
use crate::domain::DomainError;

/// An environment together with what the viewer may do in it.
#[derive(Debug, Clone)]
pub struct EnvironmentAccess {
    pub environment: Environment,
    pub project: Project,
    pub organisation: Organisation,
    pub access: Access,
}

impl EnvironmentAccess {
    /// Authorizes an operation on metrics, experiments or attachments of this environment.
    pub fn require(&self, need: Need, what: &str) -> DomainResult<()> {
        authorize_experimentation(
            self.access,
            self.organisation.experimentation_enabled,
            need,
            what,
        )
    }
}

/// The viewer's access to an environment already loaded with its project and organisation.
pub async fn resolve(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    (environment, project, organisation): (Environment, Project, Organisation),
) -> DomainResult<EnvironmentAccess> {
    let grants = repo::grants::of(db, viewer.user_id(), &environment, &project).await?;
    Ok(granted((environment, project, organisation), grants))
}

/// An environment with the access `grants` give on it.
fn granted(
    (environment, project, organisation): (Environment, Project, Organisation),
    grants: Grants,
) -> EnvironmentAccess {
    EnvironmentAccess {
        access: grants.access(),
        environment,
        project,
        organisation,
    }
}

/// The environment with `id`, as the viewer sees it; `NOT_FOUND` (`what` not found) without access.
pub async fn by_id(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
    what: &str,
) -> DomainResult<EnvironmentAccess> {
    find(db, viewer, EnvironmentRef::Id(id), what).await
}

/// The environment with `key`; `NOT_FOUND` when it does not exist or the viewer cannot see it.
pub async fn by_key(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    key: &str,
) -> DomainResult<EnvironmentAccess> {
    find(db, viewer, EnvironmentRef::Key(key), "environment").await
}

/// The environments among `ids` the viewer can see, with the viewer's access to each; unknown and
/// invisible ones are absent. One statement loads the environments; the grants take one per
/// distinct environment (the items of a list share theirs).
pub async fn visible_by_ids(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    ids: &[String],
) -> DomainResult<Vec<EnvironmentAccess>> {
    let mut visible = Vec::new();
    for context in tenancy::environment_contexts(db, ids).await? {
        let access = resolve(db, viewer, context).await?;
        if access.access != Access::None {
            visible.push(access);
        }
    }
    Ok(visible)
}

/// Like `by_id`, but without requiring visibility: for deciding what an error may reveal.
pub async fn unchecked_by_id(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
) -> DomainResult<Option<EnvironmentAccess>> {
    match tenancy::environment_context(db, EnvironmentRef::Id(id)).await? {
        Some(context) => Ok(Some(resolve(db, viewer, context).await?)),
        None => Ok(None),
    }
}

async fn find(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    by: EnvironmentRef<'_>,
    what: &str,
) -> DomainResult<EnvironmentAccess> {
    let (context, grants) = tenancy::environment_context_with_grants(db, by, viewer.user_id())
        .await?
        .ok_or_else(|| DomainError::not_found(what))?;
    let access = granted(context, grants);
    authorize(access.access, Need::View, what)?;
    Ok(access)
}
