//! `Experiment` and its inputs.

use async_graphql::{Context, ContextSelectionSet, InputObject, Object, Value, ID};
use chrono::{DateTime, Utc};

use super::analysis::{ExperimentAnalysis, ExperimentAnalysisInput};
use super::attachment::ExperimentMetric;
use super::enums::{ExperimentStatus, MultipleExposureHandling};
use super::environment::Environment;
use super::feature::Feature;
use super::results::{ExperimentResults, ResultSnapshot};
use crate::domain::experiment::{ExperimentDraft, ExperimentPatch};
use crate::domain::model;
use crate::domain::DomainError;
use crate::graphql::context::{app, db};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::limits::ResultsBudget;
use crate::graphql::loaders::{self, AttachmentsOfExperiment, EnvironmentById, FeatureById};
use crate::graphql::nullable::or_null;
use crate::graphql::pagination::{connection, list_cost, page_cost, page_request, Conn};
use crate::graphql::plain::{Fast, Plain, PlainFields};
use crate::service;

#[derive(Clone)]
pub struct Experiment(pub model::Experiment);

#[Object]
impl Experiment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn hypothesis(&self) -> &str {
        &self.0.hypothesis
    }
    async fn status(&self) -> ExperimentStatus {
        self.0.status.into()
    }
    /// The event that records which variant an identity saw.
    async fn exposure_event(&self) -> &str {
        &self.0.exposure_event
    }
    /// The variant every other variant is compared against.
    async fn control_variant(&self) -> &str {
        &self.0.control_variant
    }
    /// What happens to identities exposed to more than one variant.
    async fn multiple_exposure_handling(&self) -> MultipleExposureHandling {
        self.0.multiple_exposure_handling.into()
    }
    /// How the results are analysed (engine, alpha, sequential testing, CUPED, correction, prior,
    /// minimums, target MDE). An experiment created before these settings existed shows the
    /// server's current defaults until its next change or start stores them.
    async fn analysis(&self, ctx: &Context<'_>) -> GqlResult<ExperimentAnalysis> {
        let defaults = app(ctx)?.results.analysis_defaults();
        Ok(ExperimentAnalysis(self.0.analysis.resolve(&defaults)))
    }
    async fn started_at(&self) -> Option<DateTime<Utc>> {
        self.0.started_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Set only on the result of `deleteExperiment`: deleted experiments are otherwise invisible.
    async fn deleted_at(&self) -> Option<DateTime<Utc>> {
        self.0.deleted_at
    }
    async fn feature(&self, ctx: &Context<'_>) -> GqlResult<Feature> {
        let id = FeatureById(self.0.feature_id.clone());
        let experiment = &self.0.id;
        let feature = loaders::require(ctx, id, || {
            DomainError::internal(format!("experiment {experiment} has no feature"))
        })
        .await?;
        Ok(Feature(feature))
    }
    async fn environment(&self, ctx: &Context<'_>) -> GqlResult<Environment> {
        let id = EnvironmentById(self.0.environment_id.clone());
        let env = loaders::require(ctx, id, || DomainError::not_found("environment")).await?;
        Ok(Environment(env))
    }
    /// Results computed from the warehouse, lazily per requested field; from a frozen snapshot once
    /// the experiment is completed. Null before the experiment first starts.
    /// `WAREHOUSE_NOT_CONFIGURED` / `WAREHOUSE_UNAVAILABLE` when the warehouse cannot answer.
    /// Query complexity: 100 plus what is selected inside, since each use can run warehouse
    /// queries; a request resolves at most 50 (`BAD_USER_INPUT` beyond).
    #[graphql(complexity = "100 + child_complexity")]
    async fn results(&self, ctx: &Context<'_>) -> Option<ExperimentResults> {
        or_null(ctx, async {
            if let Some(budget) = ctx.data_opt::<ResultsBudget>() {
                budget.spend().gql()?;
            }
            let results = service::results::of_experiment(app(ctx)?, &self.0)
                .await
                .gql()?;
            Ok(results.map(ExperimentResults))
        })
        .await
    }
    /// Stored result snapshots, newest first.
    /// Query complexity: what is selected inside, once per item of `first` (default 20).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn snapshots(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> GqlResult<Conn<ResultSnapshot>> {
        let page = page_request(ctx, first, after).gql()?;
        let snapshots = service::results::snapshots(db(ctx)?, &self.0, &page)
            .await
            .gql()?;
        Ok(connection(snapshots, |s| &s.id, ResultSnapshot))
    }
    /// Attached metrics (deleted metrics are not shown), in the order they were attached.
    /// Query complexity: what is selected inside, counted for 10 items.
    #[graphql(complexity = "list_cost(child_complexity)")]
    async fn metrics(&self, ctx: &Context<'_>) -> GqlResult<Vec<Fast<ExperimentMetric>>> {
        let rows = loaders::load(ctx, AttachmentsOfExperiment(self.0.id.clone())).await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(|row| Fast(ExperimentMetric::new(row)))
            .collect())
    }
}

impl PlainFields for Experiment {
    fn plain_field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> Option<Value> {
        let experiment = &self.0;
        Some(match name {
            "id" => experiment.id.plain(ctx),
            "name" => experiment.name.plain(ctx),
            "hypothesis" => experiment.hypothesis.plain(ctx),
            "status" => ExperimentStatus::from(experiment.status).plain(ctx),
            "exposureEvent" => experiment.exposure_event.plain(ctx),
            "controlVariant" => experiment.control_variant.plain(ctx),
            "multipleExposureHandling" => {
                MultipleExposureHandling::from(experiment.multiple_exposure_handling).plain(ctx)
            }
            "startedAt" => experiment.started_at.plain(ctx),
            "endedAt" => experiment.ended_at.plain(ctx),
            "createdAt" => experiment.created_at.plain(ctx),
            "updatedAt" => experiment.updated_at.plain(ctx),
            "deletedAt" => experiment.deleted_at.plain(ctx),
            _ => return None,
        })
    }
}

#[derive(InputObject)]
pub struct CreateExperimentInput {
    pub environment_key: String,
    /// A feature of the environment's project with at least two variants.
    pub feature_id: ID,
    /// 1–255 characters.
    pub name: String,
    pub hypothesis: Option<String>,
    /// Defaults to `$flag_exposure`.
    pub exposure_event: Option<String>,
    /// One of the feature's variant keys; defaults to `control`.
    pub control_variant: Option<String>,
    /// Defaults to EXCLUDE.
    pub multiple_exposure_handling: Option<MultipleExposureHandling>,
    /// Analysis settings; what is left out takes its default (see `ExperimentAnalysis`).
    pub analysis: Option<ExperimentAnalysisInput>,
}

impl CreateExperimentInput {
    pub fn into_parts(self) -> (String, String, ExperimentDraft) {
        let draft = ExperimentDraft {
            name: self.name,
            hypothesis: self.hypothesis,
            exposure_event: self.exposure_event,
            control_variant: self.control_variant,
            multiple_exposure_handling: self.multiple_exposure_handling.map(Into::into),
            analysis: self.analysis.map(Into::into),
        };
        (self.environment_key, self.feature_id.0, draft)
    }
}

/// Fields left out stay as they are. The feature cannot change; the exposure event and control
/// variant only before the first start; the analysis engine, alpha, sequential testing and
/// correction only before the first start; nothing after completion.
#[derive(InputObject)]
pub struct UpdateExperimentInput {
    pub name: Option<String>,
    pub hypothesis: Option<String>,
    pub exposure_event: Option<String>,
    pub control_variant: Option<String>,
    /// Only before the first start.
    pub multiple_exposure_handling: Option<MultipleExposureHandling>,
    /// Merged into the current settings: fields left out keep their value.
    pub analysis: Option<ExperimentAnalysisInput>,
}

impl From<UpdateExperimentInput> for ExperimentPatch {
    fn from(input: UpdateExperimentInput) -> Self {
        ExperimentPatch {
            name: input.name,
            hypothesis: input.hypothesis,
            exposure_event: input.exposure_event,
            control_variant: input.control_variant,
            multiple_exposure_handling: input.multiple_exposure_handling.map(Into::into),
            analysis: input.analysis.map(Into::into),
        }
    }
}
