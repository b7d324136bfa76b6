//! Resolving a viewer's access to an environment (see `domain::permission` for the rules).

use sea_orm::ConnectionTrait;

use crate::auth::Viewer;
use crate::db::repo::tenancy;
use crate::domain::error::DomainResult;
use crate::domain::model::{Environment, Organisation, Project};
use crate::domain::permission::{authorize, authorize_experimentation, Access, Need};
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

/// The viewer's access to `environment`. Never fails for lack of access: see `access`.
pub async fn resolve(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    environment: Environment,
) -> DomainResult<EnvironmentAccess> {
    let missing = || {
        DomainError::internal(format!(
            "environment {} has no project or organisation",
            environment.id
        ))
    };
    let project = tenancy::project_by_id(db, &environment.project_id)
        .await?
        .ok_or_else(missing)?;
    let organisation = tenancy::organisation_by_id(db, &project.organisation_id)
        .await?
        .ok_or_else(missing)?;
    let grants = tenancy::grants(db, viewer.user_id(), &environment, &project).await?;
    Ok(EnvironmentAccess {
        access: grants.access(),
        environment,
        project,
        organisation,
    })
}

/// The environment with `id`, as the viewer sees it; `NOT_FOUND` (`what` not found) without access.
pub async fn by_id(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    id: &str,
    what: &str,
) -> DomainResult<EnvironmentAccess> {
    let environment = tenancy::environment_by_id(db, id)
        .await?
        .ok_or_else(|| DomainError::not_found(what))?;
    visible(resolve(db, viewer, environment).await?, what)
}

/// The environment with `key`; `NOT_FOUND` when it does not exist or the viewer cannot see it.
pub async fn by_key(
    db: &impl ConnectionTrait,
    viewer: &Viewer,
    key: &str,
) -> DomainResult<EnvironmentAccess> {
    let environment = tenancy::environment_by_key(db, key)
        .await?
        .ok_or_else(|| DomainError::not_found("environment"))?;
    visible(resolve(db, viewer, environment).await?, "environment")
}

fn visible(access: EnvironmentAccess, what: &str) -> DomainResult<EnvironmentAccess> {
    authorize(access.access, Need::View, what)?;
    Ok(access)
}
