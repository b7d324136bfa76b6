//! Previewing a metric definition against an environment's warehouse, before saving it: a read,
//! so nothing is stored and nothing audited.

use chrono::Duration;

use crate::auth::Viewer;
use crate::domain::error::DomainResult;
use crate::domain::metric::MetricDefinition;
use crate::domain::permission::Need;
use crate::domain::preview::{MetricPreview, PreviewRequest};
use crate::sql::PreviewScope;

use super::{access, warehouse as connections, App};

/// What `definition` would read from the environment's events of the last `days` days (up to
/// now), on the warehouse its results use (the environment's connection, else the server
/// default). Environment viewers only; an environment the viewer cannot see is `NOT_FOUND`.
#[tracing::instrument(name = "metrics.preview", skip_all, fields(viewer_id = %viewer.user_id(), environment = %environment_key))]
pub async fn preview_metric(
    app: &App,
    viewer: &Viewer,
    environment_key: &str,
    definition: MetricDefinition,
    days: i32,
) -> DomainResult<MetricPreview> {
    let environment = access::by_key(&app.db, viewer, environment_key).await?;
    environment.require(Need::View, "environment")?;
    let request = PreviewRequest::parse(definition, days)?;
    let warehouse = connections::warehouse_for(app, &environment.environment.id).await?;
    let end = crate::db::now();
    let scope = PreviewScope {
        table: warehouse.events_table(),
        environment_key: environment.environment.key.clone(),
        definition: request.definition.clone(),
        start: end - Duration::days(i64::from(request.days)),
        end,
    };
    let counts = warehouse.preview(&scope).await?;
    MetricPreview::build(&request, &counts)
}
