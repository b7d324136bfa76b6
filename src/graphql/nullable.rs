//! `NullOnError`: a nullable field whose resolver fails is `null` in `data`, with its error in
//! `errors`, as the GraphQL specification says. async-graphql leaves such a field out of its
//! parent object instead, so a client could not tell "failed" from "not asked for".

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, NextSubscribe,
    ResolveInfo,
};
use async_graphql::{Response, ServerError, ServerResult, Value};
use futures_util::stream::{BoxStream, StreamExt};

/// The extension factory registered on the schema.
pub struct NullOnError;

impl ExtensionFactory for NullOnError {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(NullOnErrorExtension::default())
    }
}

/// Errors of nulled fields, until they join the response they belong to.
#[derive(Default)]
struct NullOnErrorExtension {
    errors: Arc<Mutex<Vec<ServerError>>>,
}

fn drain(errors: &Mutex<Vec<ServerError>>) -> Vec<ServerError> {
    errors
        .lock()
        .map(|mut errors| std::mem::take(&mut *errors))
        .unwrap_or_default()
}

#[async_graphql::async_trait::async_trait]
impl Extension for NullOnErrorExtension {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        response.errors.extend(drain(&self.errors));
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        let errors = self.errors.clone();
        next.run(ctx, stream)
            .map(move |mut response| {
                response.errors.extend(drain(&errors));
                response
            })
            .boxed()
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let nullable = !info.return_type.ends_with('!');
        match next.run(ctx, info).await {
            Err(error) if nullable => {
                if let Ok(mut errors) = self.errors.lock() {
                    errors.push(error);
                }
                Ok(Some(Value::Null))
            }
            other => other,
        }
    }
}
