//! The `Mutation` root, merged from one object per domain.

mod attachment;
mod experiment;
mod metric;
mod results;
mod warehouse;

use async_graphql::MergedObject;

#[derive(MergedObject, Default)]
pub struct MutationRoot(
    metric::MetricMutation,
    experiment::ExperimentMutation,
    attachment::AttachmentMutation,
    warehouse::WarehouseMutation,
    results::ResultsMutation,
);
