//! The permission grants a user holds on an environment, its project and its organisation, read
//! as three scalar subqueries: on their own (`of`) or beside the environment's own row
//! (`tenancy::environment_context_with_grants`).

use sea_orm::sea_query::{
    Expr, ExprTrait, IntoIden, Query, QueryStatementBuilder, SelectStatement,
};
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
    use environment_permission as env;
    use organisation_membership as member;
    use project_permission as proj;
    statement
        .expr_as(
            grant(
                (member::Entity, member::Column::Role),
                (member::Entity, member::Column::OrganisationId),
                organisation_id,
                (member::Entity, member::Column::UserId),
                user_id,
            ),
            "organisation_role",
        )
        .expr_as(
            grant(
                (proj::Entity, proj::Column::Admin),
                (proj::Entity, proj::Column::ProjectId),
                project_id,
                (proj::Entity, proj::Column::UserId),
                user_id,
            ),
            "project_admin",
        )
        .expr_as(
            grant(
                (env::Entity, env::Column::Admin),
                (env::Entity, env::Column::EnvironmentId),
                environment_id,
                (env::Entity, env::Column::UserId),
                user_id,
            ),
            "environment_admin",
        );
}

/// `(SELECT <value> FROM <its table> WHERE <on> = <target> AND <user> = <user_id>)`: one grant row
/// of `user_id` on one target, or NULL.
fn grant<E: IntoIden + Copy>(
    value: (E, impl IntoIden),
    on: (E, impl IntoIden),
    target: Expr,
    user: (E, impl IntoIden),
    user_id: &str,
) -> Expr {
    let table = value.0;
    let query = Query::select()
        .column(value)
        .from(table)
        .and_where(Expr::col(on).eq(target))
        .and_where(Expr::col(user).eq(user_id))
        .take();
    Expr::SubQuery(None, Box::new(query.into_sub_query_statement()))
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
