//! The permission grants a user holds on an environment, its project and its organisation, read
//! as three scalar subqueries: on their own (`of`) or beside the environment's own row
//! (`tenancy::environment_context_with_grants`).

use sea_orm::sea_query::{Expr, ExprTrait, Query, QueryStatementBuilder, SelectStatement};
use sea_orm::{ConnectionTrait, FromQueryResult};

use crate::db::entity::{environment_permission, organisation_membership, project_permission};
use crate::domain::model::{Environment, Project};
use crate::domain::permission::{Grants, OrganisationRole};
use crate::domain::DomainError;

/// The grants `user_id` holds on `environment` (whose project is `project`), in one round trip:
/// a single `SELECT` of three scalar subqueries.
pub async fn of(
    db: &impl ConnectionTrait,
    user_id: &str,
    environment: &Environment,
    project: &Project,
) -> Result<Grants, DomainError> {
    let mut statement = Query::select();
    grant_columns(
        &mut statement,
        user_id,
        Expr::val(project.organisation_id.as_str()),
        Expr::val(project.id.as_str()),
        Expr::val(environment.id.as_str()),
    );
    let row = GrantsRow::find_by_statement(db.get_database_backend().build(&statement))
        .one(db)
        .await?
        .unwrap_or_default();
    row.into_grants(user_id)
}

/// Adds to `statement` the three grants of `user_id` as scalar subqueries (`organisation_role`,
/// `project_admin`, `environment_admin`) on the organisation, project and environment the three
/// expressions name (values, or columns of the statement's own tables).
pub(super) fn grant_columns(
    statement: &mut SelectStatement,
    user_id: &str,
    organisation_id: Expr,
    project_id: Expr,
    environment_id: Expr,
) {
    let scalar = |q: SelectStatement| Expr::SubQuery(None, Box::new(q.into_sub_query_statement()));
    statement
        .expr_as(
            scalar(
                Query::select()
                    .column((
                        organisation_membership::Entity,
                        organisation_membership::Column::Role,
                    ))
                    .from(organisation_membership::Entity)
                    .and_where(
                        Expr::col((
                            organisation_membership::Entity,
                            organisation_membership::Column::OrganisationId,
                        ))
                        .eq(organisation_id),
                    )
                    .and_where(
                        Expr::col((
                            organisation_membership::Entity,
                            organisation_membership::Column::UserId,
                        ))
                        .eq(user_id),
                    )
                    .take(),
            ),
            "organisation_role",
        )
        .expr_as(
            scalar(
                Query::select()
                    .column((
                        project_permission::Entity,
                        project_permission::Column::Admin,
                    ))
                    .from(project_permission::Entity)
                    .and_where(
                        Expr::col((
                            project_permission::Entity,
                            project_permission::Column::ProjectId,
                        ))
                        .eq(project_id),
                    )
                    .and_where(
                        Expr::col((
                            project_permission::Entity,
                            project_permission::Column::UserId,
                        ))
                        .eq(user_id),
                    )
                    .take(),
            ),
            "project_admin",
        )
        .expr_as(
            scalar(
                Query::select()
                    .column((
                        environment_permission::Entity,
                        environment_permission::Column::Admin,
                    ))
                    .from(environment_permission::Entity)
                    .and_where(
                        Expr::col((
                            environment_permission::Entity,
                            environment_permission::Column::EnvironmentId,
                        ))
                        .eq(environment_id),
                    )
                    .and_where(
                        Expr::col((
                            environment_permission::Entity,
                            environment_permission::Column::UserId,
                        ))
                        .eq(user_id),
                    )
                    .take(),
            ),
            "environment_admin",
        );
}

impl GrantsRow {
    pub(super) fn into_grants(self, user_id: &str) -> Result<Grants, DomainError> {
        let organisation_role = self
            .organisation_role
            .map(|role| {
                crate::db::convert::parse::<OrganisationRole>(
                    "organisation_memberships",
                    user_id,
                    &role,
                )
            })
            .transpose()?;
        Ok(Grants {
            organisation_role,
            project: self.project_admin,
            environment: self.environment_admin,
        })
    }
}

#[derive(Debug, Default, FromQueryResult)]
pub(super) struct GrantsRow {
    organisation_role: Option<String>,
    project_admin: Option<bool>,
    environment_admin: Option<bool>,
}
