//! Organisations, users, projects, environments, features and the permission grants between them.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, Set,
};

use crate::db::entity::{
    environment, environment_permission, feature, organisation, organisation_membership, project,
    project_permission, user,
};
use crate::db::page::{self, Page, PageRequest};
use crate::db::scope::find_all;
use crate::db::{conflict_on_unique, new_id, now};
use crate::domain::feature::Variant;
use crate::domain::model::{Environment, Feature, Organisation, Project, User};
use crate::domain::permission::{Grants, OrganisationRole};
use crate::domain::DomainError;

pub async fn user_by_email(
    db: &impl ConnectionTrait,
    email: &str,
) -> Result<Option<User>, DomainError> {
    Ok(find_all::<user::Entity>()
        .filter(user::Column::Email.eq(email.trim().to_lowercase()))
        .one(db)
        .await?
        .map(User::from))
}

pub async fn environment_by_key(
    db: &impl ConnectionTrait,
    key: &str,
) -> Result<Option<Environment>, DomainError> {
    Ok(find_all::<environment::Entity>()
        .filter(environment::Column::Key.eq(key))
        .one(db)
        .await?
        .map(Environment::from))
}

pub async fn project_by_id(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Project>, DomainError> {
    Ok(find_all::<project::Entity>()
        .filter(project::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Project::from))
}

pub async fn organisation_by_id(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Organisation>, DomainError> {
    Ok(find_all::<organisation::Entity>()
        .filter(organisation::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Organisation::from))
}

/// How to find an environment.
#[derive(Debug, Clone, Copy)]
pub enum EnvironmentRef<'a> {
    Id(&'a str),
    Key(&'a str),
}

impl EnvironmentRef<'_> {
    /// The `WHERE` condition on `environments` that finds it.
    fn condition(self) -> Expr {
        match self {
            EnvironmentRef::Id(id) => {
                Expr::col((environment::Entity, environment::Column::Id)).eq(id)
            }
            EnvironmentRef::Key(key) => {
                Expr::col((environment::Entity, environment::Column::Key)).eq(key)
            }
        }
    }
}

/// An environment with its project and organisation.
pub type EnvironmentContext = (Environment, Project, Organisation);

/// An environment with its project and organisation, in one round trip (a join).
pub async fn environment_context(
    db: &impl ConnectionTrait,
    by: EnvironmentRef<'_>,
) -> Result<Option<EnvironmentContext>, DomainError> {
    let condition = by.condition();
    let statement = environment_context_query().and_where(condition).take();
    let row = EnvironmentContextRow::find_by_statement(db.get_database_backend().build(&statement))
        .one(db)
        .await?;
    Ok(row.map(EnvironmentContextRow::into_context))
}

/// An environment with its project and organisation and the grants `user_id` holds on them, in one
/// round trip (the join of `environment_context` with the scalar subqueries of `grants` on its
/// columns): every request that names an environment starts with this.
pub async fn environment_context_with_grants(
    db: &impl ConnectionTrait,
    by: EnvironmentRef<'_>,
    user_id: &str,
) -> Result<Option<(EnvironmentContext, Grants)>, DomainError> {
    let condition = by.condition();
    let mut statement = environment_context_query().and_where(condition).take();
    super::grants::grant_columns(
        &mut statement,
        user_id,
        Expr::col((project::Entity, project::Column::OrganisationId)),
        Expr::col((project::Entity, project::Column::Id)),
        Expr::col((environment::Entity, environment::Column::Id)),
    );
    let Some(row) = db
        .query_one_raw(db.get_database_backend().build(&statement))
        .await?
    else {
        return Ok(None);
    };
    let context = EnvironmentContextRow::from_query_result(&row, "")?.into_context();
    let grants = super::grants::GrantsRow::from_query_result(&row, "")?.into_grants(user_id)?;
    Ok(Some((context, grants)))
}

/// The environments among `ids` with their projects and organisations (unknown ids are absent).
pub async fn environment_contexts(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<EnvironmentContext>, DomainError> {
    super::in_chunks(ids, |ids| async move {
        let statement = environment_context_query()
            .and_where(Expr::col((environment::Entity, environment::Column::Id)).is_in(ids))
            .take();
        let rows =
            EnvironmentContextRow::find_by_statement(db.get_database_backend().build(&statement))
                .all(db)
                .await?;
        Ok(rows
            .into_iter()
            .map(EnvironmentContextRow::into_context)
            .collect())
    })
    .await
}

/// Environments joined with their projects and organisations, not yet filtered.
fn environment_context_query() -> SelectStatement {
    Query::select()
        .columns([
            (environment::Entity, environment::Column::Id),
            (environment::Entity, environment::Column::ProjectId),
            (environment::Entity, environment::Column::Name),
            (environment::Entity, environment::Column::Key),
            (environment::Entity, environment::Column::CreatedAt),
        ])
        .expr_as(
            Expr::col((project::Entity, project::Column::Name)),
            "project_name",
        )
        .expr_as(
            Expr::col((organisation::Entity, organisation::Column::Id)),
            "organisation_id",
        )
        .expr_as(
            Expr::col((organisation::Entity, organisation::Column::Name)),
            "organisation_name",
        )
        .expr_as(
            Expr::col((
                organisation::Entity,
                organisation::Column::ExperimentationEnabled,
            )),
            "experimentation_enabled",
        )
        .from(environment::Entity)
        .inner_join(
            project::Entity,
            Expr::col((project::Entity, project::Column::Id))
                .equals((environment::Entity, environment::Column::ProjectId)),
        )
        .inner_join(
            organisation::Entity,
            Expr::col((organisation::Entity, organisation::Column::Id))
                .equals((project::Entity, project::Column::OrganisationId)),
        )
        .take()
}

impl EnvironmentContextRow {
    fn into_context(self) -> EnvironmentContext {
        (
            Environment {
                id: self.id,
                project_id: self.project_id.clone(),
                name: self.name,
                key: self.key,
                created_at: self.created_at,
            },
            Project {
                id: self.project_id,
                organisation_id: self.organisation_id.clone(),
                name: self.project_name,
            },
            Organisation {
                id: self.organisation_id,
                name: self.organisation_name,
                experimentation_enabled: self.experimentation_enabled,
            },
        )
    }
}

#[derive(Debug, FromQueryResult)]
struct EnvironmentContextRow {
    id: String,
    project_id: String,
    name: String,
    key: String,
    created_at: chrono::DateTime<chrono::Utc>,
    project_name: String,
    organisation_id: String,
    organisation_name: String,
    experimentation_enabled: bool,
}

/// Every environment `user_id` can at least view, ordered by key.
pub async fn environments_visible_to(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Vec<Environment>, DomainError> {
    let admin_orgs = Query::select()
        .column(organisation_membership::Column::OrganisationId)
        .from(organisation_membership::Entity)
        .and_where(organisation_membership::Column::UserId.eq(user_id))
        .and_where(organisation_membership::Column::Role.eq(OrganisationRole::Admin.as_str()))
        .take();
    let projects_of_admin_orgs = Query::select()
        .column(project::Column::Id)
        .from(project::Entity)
        .and_where(Expr::col(project::Column::OrganisationId).in_subquery(admin_orgs))
        .take();
    let permitted_projects = Query::select()
        .column(project_permission::Column::ProjectId)
        .from(project_permission::Entity)
        .and_where(project_permission::Column::UserId.eq(user_id))
        .take();
    let permitted_environments = Query::select()
        .column(environment_permission::Column::EnvironmentId)
        .from(environment_permission::Entity)
        .and_where(environment_permission::Column::UserId.eq(user_id))
        .take();
    let rows = find_all::<environment::Entity>()
        .filter(
            Condition::any()
                .add(Expr::col(environment::Column::ProjectId).in_subquery(projects_of_admin_orgs))
                .add(Expr::col(environment::Column::ProjectId).in_subquery(permitted_projects))
                .add(Expr::col(environment::Column::Id).in_subquery(permitted_environments)),
        )
        .order_by_asc(environment::Column::Key)
        .all(db)
        .await?;
    Ok(rows.into_iter().map(Environment::from).collect())
}

pub async fn feature_by_id(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<Feature>, DomainError> {
    find_all::<feature::Entity>()
        .filter(feature::Column::Id.eq(id))
        .one(db)
        .await?
        .map(Feature::try_from)
        .transpose()
}

/// The features among `ids`, in no particular order.
pub async fn features_by_ids(
    db: &impl ConnectionTrait,
    ids: &[String],
) -> Result<Vec<Feature>, DomainError> {
    super::in_chunks(ids, |ids| async move {
        let rows = find_all::<feature::Entity>()
            .filter(feature::Column::Id.is_in(ids))
            .all(db)
            .await?;
        crate::db::convert::all(rows)
    })
    .await
}

pub async fn features_page(
    db: &impl ConnectionTrait,
    project_id: &str,
    request: &PageRequest,
) -> Result<Page<Feature>, DomainError> {
    let select = find_all::<feature::Entity>().filter(feature::Column::ProjectId.eq(project_id));
    page::fetch(db, select, feature::Column::Id, request)
        .await?
        .try_map(Feature::try_from)
}

// --- Administration (the `lift admin` and `lift demo` commands) -------------------------------

pub async fn insert_organisation(
    db: &impl ConnectionTrait,
    name: &str,
    experimentation_enabled: bool,
) -> Result<Organisation, DomainError> {
    let row = organisation::ActiveModel {
        id: Set(new_id()),
        name: Set(name.to_owned()),
        experimentation_enabled: Set(experimentation_enabled),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(row.into())
}

pub async fn set_experimentation(
    db: &impl ConnectionTrait,
    organisation_id: &str,
    enabled: bool,
) -> Result<bool, DomainError> {
    let result = organisation::Entity::update_many()
        .col_expr(
            organisation::Column::ExperimentationEnabled,
            Expr::value(enabled),
        )
        .filter(organisation::Column::Id.eq(organisation_id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Creates the user, or returns the existing one with that email.
pub async fn ensure_user(
    db: &impl ConnectionTrait,
    email: &str,
    name: &str,
) -> Result<User, DomainError> {
    let email = email.trim().to_lowercase();
    if let Some(existing) = user_by_email(db, &email).await? {
        return Ok(existing);
    }
    let row = user::ActiveModel {
        id: Set(new_id()),
        email: Set(email.clone()),
        name: Set(name.to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| conflict_on_unique(e, format!("a user with email {email:?} already exists")))?;
    Ok(row.into())
}

pub async fn insert_project(
    db: &impl ConnectionTrait,
    organisation_id: &str,
    name: &str,
) -> Result<Project, DomainError> {
    let row = project::ActiveModel {
        id: Set(new_id()),
        organisation_id: Set(organisation_id.to_owned()),
        name: Set(name.to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await?;
    Ok(row.into())
}

pub async fn insert_environment(
    db: &impl ConnectionTrait,
    project_id: &str,
    name: &str,
    key: &str,
) -> Result<Environment, DomainError> {
    let row = environment::ActiveModel {
        id: Set(new_id()),
        project_id: Set(project_id.to_owned()),
        name: Set(name.to_owned()),
        key: Set(key.to_owned()),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(e, format!("an environment with key {key:?} already exists"))
    })?;
    Ok(row.into())
}

pub async fn insert_feature(
    db: &impl ConnectionTrait,
    project_id: &str,
    name: &str,
    variants: &[Variant],
) -> Result<Feature, DomainError> {
    let variants_json =
        serde_json::to_value(variants).map_err(|e| DomainError::Internal(e.into()))?;
    let row = feature::ActiveModel {
        id: Set(new_id()),
        project_id: Set(project_id.to_owned()),
        name: Set(name.to_owned()),
        variants: Set(variants_json),
        created_at: Set(now()),
    }
    .insert(db)
    .await
    .map_err(|e| {
        conflict_on_unique(
            e,
            format!("a feature named {name:?} already exists in this project"),
        )
    })?;
    Feature::try_from(row)
}

pub async fn grant_organisation(
    db: &impl ConnectionTrait,
    organisation_id: &str,
    user_id: &str,
    role: OrganisationRole,
) -> Result<(), DomainError> {
    organisation_membership::Entity::insert(organisation_membership::ActiveModel {
        id: Set(new_id()),
        organisation_id: Set(organisation_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        role: Set(role.as_str().to_owned()),
    })
    .on_conflict(
        OnConflict::columns([
            organisation_membership::Column::OrganisationId,
            organisation_membership::Column::UserId,
        ])
        .update_column(organisation_membership::Column::Role)
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn grant_project(
    db: &impl ConnectionTrait,
    project_id: &str,
    user_id: &str,
    admin: bool,
) -> Result<(), DomainError> {
    project_permission::Entity::insert(project_permission::ActiveModel {
        id: Set(new_id()),
        project_id: Set(project_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        admin: Set(admin),
    })
    .on_conflict(
        OnConflict::columns([
            project_permission::Column::ProjectId,
            project_permission::Column::UserId,
        ])
        .update_column(project_permission::Column::Admin)
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn grant_environment(
    db: &impl ConnectionTrait,
    environment_id: &str,
    user_id: &str,
    admin: bool,
) -> Result<(), DomainError> {
    environment_permission::Entity::insert(environment_permission::ActiveModel {
        id: Set(new_id()),
        environment_id: Set(environment_id.to_owned()),
        user_id: Set(user_id.to_owned()),
        admin: Set(admin),
    })
    .on_conflict(
        OnConflict::columns([
            environment_permission::Column::EnvironmentId,
            environment_permission::Column::UserId,
        ])
        .update_column(environment_permission::Column::Admin)
        .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}
