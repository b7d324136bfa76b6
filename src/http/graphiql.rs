//! GraphiQL, the in-browser IDE served at `GET /graphql`.

use async_graphql::http::GraphiQLSource;
use axum::response::{Html, IntoResponse, Response};

/// The GraphiQL page, talking to `/graphql` for queries and subscriptions.
pub fn page() -> Response {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .finish(),
    )
    .into_response()
}
