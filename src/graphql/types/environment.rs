//! `Environment`: the scope of a metric library and its experiments.

use async_graphql::{Context, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::audit::{audit_cursor, AuditAction, AuditLog, RelatedObjectType};
use super::enums::ExperimentStatus;
use super::experiment::Experiment;
use super::feature::Feature;
use super::metric::Metric;
use super::warehouse::WarehouseConnection;
use crate::db::repo::audit::AuditFilter;
use crate::domain::permission::Access;
use crate::graphql::context::{app, db};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::nullable::or_null;
use crate::graphql::pagination::{connection, connection_by, page_cost, page_request, Conn};
use crate::graphql::plain::{Fast, FastConn};
use crate::service;
use crate::service::access::EnvironmentAccess;

pub struct Environment(pub EnvironmentAccess);

#[derive(SimpleObject)]
pub struct Organisation {
    pub id: ID,
    pub name: String,
    /// The feature gate: without it, metrics and experiments are unavailable.
    pub experimentation_enabled: bool,
}

#[derive(SimpleObject)]
pub struct Project {
    pub id: ID,
    pub name: String,
}

#[Object]
impl Environment {
    async fn id(&self) -> ID {
        ID(self.0.environment.id.clone())
    }
    /// The public key that identifies the environment.
    async fn key(&self) -> &str {
        &self.0.environment.key
    }
    async fn name(&self) -> &str {
        &self.0.environment.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.environment.created_at
    }
    async fn project(&self) -> Project {
        Project {
            id: ID(self.0.project.id.clone()),
            name: self.0.project.name.clone(),
        }
    }
    async fn organisation(&self) -> Organisation {
        Organisation {
            id: ID(self.0.organisation.id.clone()),
            name: self.0.organisation.name.clone(),
            experimentation_enabled: self.0.organisation.experimentation_enabled,
        }
    }
    /// Whether the viewer may create and change metrics and experiments here.
    async fn viewer_can_administer(&self) -> bool {
        self.0.access == Access::Admin
    }

    /// The metric library, newest first. `search` matches names, ignoring case.
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn metrics(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        search: Option<String>,
    ) -> GqlResult<FastConn<Fast<Metric>>> {
        let page = page_request(ctx, first, after).gql()?;
        Metric::page(ctx, db(ctx)?, &self.0, search.as_deref(), &page)
            .await
            .map(FastConn)
    }

    /// Experiments, newest first, optionally only those with `status`.
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn experiments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        status: Option<ExperimentStatus>,
    ) -> GqlResult<FastConn<Fast<Experiment>>> {
        let page = page_request(ctx, first, after).gql()?;
        let experiments =
            service::experiments::list(db(ctx)?, &self.0, status.map(Into::into), &page)
                .await
                .gql()?;
        Ok(FastConn(connection(
            experiments,
            |e| &e.id,
            |e| Fast(Experiment(e)),
        )))
    }

    /// Audit entries of this environment, newest first, optionally filtered by the kind of object,
    /// the action, or the actor's email. Needs view permission on the environment.
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn audit_logs(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        related_object_type: Option<RelatedObjectType>,
        action: Option<AuditAction>,
        actor: Option<String>,
    ) -> GqlResult<Conn<AuditLog>> {
        let page = page_request(ctx, first, after).gql()?;
        let filter = AuditFilter {
            object_type: related_object_type.map(Into::into),
            action: action.map(Into::into),
            actor_email: actor,
        };
        let entries = service::audit::list(db(ctx)?, &self.0, &filter, &page)
            .await
            .gql()?;
        Ok(connection_by(entries, audit_cursor, AuditLog))
    }

    /// The environment's own warehouse connection (environment admins only); null when results use
    /// the server's default warehouse, or none is configured.
    async fn warehouse_connection(&self, ctx: &Context<'_>) -> Option<WarehouseConnection> {
        or_null(ctx, async {
            let connection = service::warehouse::of_environment(app(ctx)?, &self.0)
                .await
                .gql()?;
            Ok(connection.map(WarehouseConnection))
        })
        .await
    }

    /// Features of this environment's project, newest first.
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn features(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<Feature>> {
        let page = page_request(ctx, first, after).gql()?;
        let features = service::environments::features(db(ctx)?, &self.0, &page)
            .await
            .gql()?;
        Ok(connection(features, |f| &f.id, Feature))
    }
}
