//! `lift admin …` (tenancy and permissions, which the GraphQL API does not manage) and `lift demo`
//! (an idempotent seed of a demo organisation). Both write through `db::repo` like the API does.

use crate::db::{begin_write, repo, Db};
use crate::domain::error::DomainResult;
use crate::domain::experiment::{ExpectedDirection, ExperimentDraft, MetricRole, NewExperiment};
use crate::domain::feature::{parse_variants, Variant};
use crate::domain::metric::{
    Aggregation, Direction, MetricDefinition, MetricDraft, MetricType, NewMetric,
};
use crate::domain::permission::OrganisationRole;
use crate::domain::DomainError;

#[derive(clap::Subcommand, Debug, Clone)]
pub enum AdminCommand {
    /// Create an organisation; prints its id.
    CreateOrganisation {
        #[arg(long)]
        name: String,
        /// Turn the experimentation feature gate on.
        #[arg(long)]
        experimentation_enabled: bool,
    },
    /// Create a project in an organisation; prints its id.
    CreateProject {
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        name: String,
    },
    /// Create an environment in a project; prints its id.
    CreateEnvironment {
        #[arg(long)]
        project: String,
        #[arg(long)]
        name: String,
        /// The unique public key clients use, e.g. `production`.
        #[arg(long)]
        key: String,
    },
    /// Create a user (or find the existing one); prints its id.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// Create a feature; `--variants control:50,treatment:50` (key:weight, in order). Prints its id.
    CreateFeature {
        #[arg(long)]
        project: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        variants: String,
    },
    /// Make a user a member of an organisation (`--role admin|user`).
    GrantOrganisation {
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = ["admin", "user"])]
        role: String,
    },
    /// Give a user view (or with `--admin`, admin) permission on a project's environments.
    GrantProject {
        #[arg(long)]
        project: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        admin: bool,
    },
    /// Give a user view (or with `--admin`, admin) permission on one environment (by key).
    GrantEnvironment {
        #[arg(long)]
        environment: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        admin: bool,
    },
    /// Turn experimentation on or off for an organisation.
    SetExperimentation {
        #[arg(long)]
        organisation: String,
        #[arg(long, action = clap::ArgAction::Set)]
        enabled: bool,
    },
}

/// Runs one admin command and returns what to print.
pub async fn run(db: &Db, command: AdminCommand) -> DomainResult<String> {
    use AdminCommand::*;
    let txn = begin_write(db).await?;
    let out = match command {
        CreateOrganisation {
            name,
            experimentation_enabled,
        } => {
            repo::tenancy::insert_organisation(
                &txn,
                &required("name", &name)?,
                experimentation_enabled,
            )
            .await?
            .id
        }
        CreateProject { organisation, name } => {
            repo::tenancy::organisation_by_id(&txn, &organisation)
                .await?
                .ok_or_else(|| DomainError::not_found("organisation"))?;
            repo::tenancy::insert_project(&txn, &organisation, &required("name", &name)?)
                .await?
                .id
        }
        CreateEnvironment { project, name, key } => {
            repo::tenancy::project_by_id(&txn, &project)
                .await?
                .ok_or_else(|| DomainError::not_found("project"))?;
            repo::tenancy::insert_environment(
                &txn,
                &project,
                &required("name", &name)?,
                &required("key", &key)?,
            )
            .await?
            .id
        }
        CreateUser { email, name } => {
            repo::tenancy::ensure_user(&txn, &required("email", &email)?, &name)
                .await?
                .id
        }
        CreateFeature {
            project,
            name,
            variants,
        } => {
            repo::tenancy::project_by_id(&txn, &project)
                .await?
                .ok_or_else(|| DomainError::not_found("project"))?;
            let variants = parse_variants(parse_variant_list(&variants)?)?;
            repo::tenancy::insert_feature(&txn, &project, &required("name", &name)?, &variants)
                .await?
                .id
        }
        GrantOrganisation {
            organisation,
            email,
            role,
        } => {
            let user = user(&txn, &email).await?;
            let role = role
                .to_uppercase()
                .parse::<OrganisationRole>()
                .map_err(|e| DomainError::validation("role", e))?;
            repo::tenancy::grant_organisation(&txn, &organisation, &user.id, role).await?;
            format!("{email} is {role} of organisation {organisation}")
        }
        GrantProject {
            project,
            email,
            admin,
        } => {
            let user = user(&txn, &email).await?;
            repo::tenancy::grant_project(&txn, &project, &user.id, admin).await?;
            format!(
                "{email} can {} project {project}",
                if admin { "administer" } else { "view" }
            )
        }
        GrantEnvironment {
            environment,
            email,
            admin,
        } => {
            let user = user(&txn, &email).await?;
            let env = repo::tenancy::environment_by_key(&txn, &environment)
                .await?
                .ok_or_else(|| DomainError::not_found("environment"))?;
            repo::tenancy::grant_environment(&txn, &env.id, &user.id, admin).await?;
            format!(
                "{email} can {} environment {environment}",
                if admin { "administer" } else { "view" }
            )
        }
        SetExperimentation {
            organisation,
            enabled,
        } => {
            if !repo::tenancy::set_experimentation(&txn, &organisation, enabled).await? {
                return Err(DomainError::not_found("organisation"));
            }
            format!(
                "experimentation {} for organisation {organisation}",
                if enabled { "enabled" } else { "disabled" }
            )
        }
    };
    txn.commit().await?;
    Ok(out)
}

fn required(field: &str, value: &str) -> DomainResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    Ok(value.to_owned())
}

async fn user(
    db: &impl sea_orm::ConnectionTrait,
    email: &str,
) -> DomainResult<crate::domain::model::User> {
    repo::tenancy::user_by_email(db, email)
        .await?
        .ok_or_else(|| {
            DomainError::not_found("user (create it first with `lift admin create-user`)")
        })
}

/// Parses `control:50,treatment:50` (a bare key means weight 1).
pub fn parse_variant_list(text: &str) -> DomainResult<Vec<Variant>> {
    text.split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (key, weight) = part.split_once(':').unwrap_or((part, "1"));
            let weight = weight.trim().parse::<f64>().map_err(|_| {
                DomainError::validation("variants", format!("weight of {key:?} is not a number"))
            })?;
            Ok(Variant {
                key: key.trim().to_owned(),
                weight,
            })
        })
        .collect()
}

pub const DEMO_ENVIRONMENT_KEY: &str = "demo";
pub const DEMO_ADMIN: &str = "admin@example.com";
pub const DEMO_VIEWER: &str = "viewer@example.com";
pub const DEMO_OUTSIDER: &str = "outsider@example.com";

/// Seeds the demo organisation once; later runs only make sure its users and grants exist.
/// Returns the demo users' emails, admin first.
pub async fn seed_demo(db: &Db) -> DomainResult<Vec<&'static str>> {
    let txn = begin_write(db).await?;
    let admin = repo::tenancy::ensure_user(&txn, DEMO_ADMIN, "Ada Admin").await?;
    let viewer = repo::tenancy::ensure_user(&txn, DEMO_VIEWER, "Vic Viewer").await?;
    repo::tenancy::ensure_user(&txn, DEMO_OUTSIDER, "Oscar Outsider").await?;

    let environment = match repo::tenancy::environment_by_key(&txn, DEMO_ENVIRONMENT_KEY).await? {
        Some(env) => env,
        None => {
            let org = repo::tenancy::insert_organisation(&txn, "Demo Org", true).await?;
            let project = repo::tenancy::insert_project(&txn, &org.id, "Storefront").await?;
            let env =
                repo::tenancy::insert_environment(&txn, &project.id, "Demo", DEMO_ENVIRONMENT_KEY)
                    .await?;
            let variants = parse_variants(parse_variant_list("control:50,treatment:50")?)?;
            let feature =
                repo::tenancy::insert_feature(&txn, &project.id, "new-checkout", &variants).await?;
            let experiment = NewExperiment::parse(
                ExperimentDraft {
                    name: "New checkout flow".into(),
                    hypothesis: Some("A one-page checkout raises purchase conversion.".into()),
                    ..Default::default()
                },
                &feature.variants,
            )?;
            let experiment =
                repo::experiments::insert(&txn, &env.id, &feature.id, &experiment).await?;
            let metric = NewMetric::parse(MetricDraft {
                name: "Purchase conversion".into(),
                description: "Share of exposed users who buy at least once.".into(),
                metric_type: MetricType::Conversion,
                aggregation: Aggregation::Occurrence,
                direction: Direction::Up,
                definition: MetricDefinition {
                    event: "purchase".into(),
                    filters: vec![],
                    value: None,
                    window: None,
                },
            })?;
            let metric = repo::metrics::insert(&txn, &env.id, &metric).await?;
            repo::attachments::insert(
                &txn,
                &experiment.id,
                &metric.id,
                ExpectedDirection::Increase,
                MetricRole::Primary,
            )
            .await?;
            env
        }
    };
    let project = repo::tenancy::project_by_id(&txn, &environment.project_id)
        .await?
        .ok_or_else(|| DomainError::internal("demo environment has no project"))?;
    repo::tenancy::grant_organisation(
        &txn,
        &project.organisation_id,
        &admin.id,
        OrganisationRole::Admin,
    )
    .await?;
    repo::tenancy::grant_environment(&txn, &environment.id, &viewer.id, false).await?;
    txn.commit().await?;
    Ok(vec![DEMO_ADMIN, DEMO_VIEWER, DEMO_OUTSIDER])
}

#[cfg(test)]
mod tests {
    use super::parse_variant_list;

    #[test]
    fn variant_lists_parse_keys_and_weights() {
        let v = parse_variant_list("control:50, treatment:25,extra").expect("valid");
        let parsed: Vec<(String, f64)> = v.into_iter().map(|v| (v.key, v.weight)).collect();
        assert_eq!(
            parsed,
            vec![
                ("control".into(), 50.0),
                ("treatment".into(), 25.0),
                ("extra".into(), 1.0)
            ]
        );
        assert!(parse_variant_list("a:x").is_err());
    }
}
