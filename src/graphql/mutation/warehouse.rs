use async_graphql::{Context, Object, ID};

use crate::domain::experiment::DEFAULT_EXPOSURE_EVENT;
use crate::graphql::context::{app, viewer};
use crate::graphql::error::{GqlResult, IntoGql};
use crate::graphql::types::warehouse::{
    CreateWarehouseConnectionInput, WarehouseConnection, WarehouseConnectionTest,
};
use crate::service;

#[derive(Default)]
pub struct WarehouseMutation;

#[Object]
impl WarehouseMutation {
    /// Connects an environment to its ClickHouse events table (environment admins). `CONFLICT`
    /// when the environment already has a connection.
    async fn create_warehouse_connection(
        &self,
        ctx: &Context<'_>,
        input: CreateWarehouseConnectionInput,
    ) -> GqlResult<WarehouseConnection> {
        let (key, draft) = input.into_parts();
        let connection = service::warehouse::create(app(ctx)?, viewer(ctx)?, &key, draft)
            .await
            .gql()?;
        Ok(WarehouseConnection(connection))
    }

    /// Removes the connection; results then use the server's default warehouse, if any.
    async fn delete_warehouse_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> GqlResult<WarehouseConnection> {
        let connection = service::warehouse::delete(app(ctx)?, viewer(ctx)?, &id)
            .await
            .gql()?;
        Ok(WarehouseConnection(connection))
    }

    /// Runs a probe query: is the events table reachable, and does it hold exposure events of the
    /// environment (`exposureEvent` defaults to `$flag_exposure`)? Changes nothing.
    async fn test_warehouse_connection(
        &self,
        ctx: &Context<'_>,
        id: ID,
        exposure_event: Option<String>,
    ) -> GqlResult<WarehouseConnectionTest> {
        let event = exposure_event.unwrap_or_else(|| DEFAULT_EXPOSURE_EVENT.to_owned());
        let report = service::warehouse::test(app(ctx)?, viewer(ctx)?, &id, &event)
            .await
            .gql()?;
        Ok(report.into())
    }
}
