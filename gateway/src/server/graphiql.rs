//! GraphiQL, served on `GET /graphql` to browsers.

use axum::response::{Html, IntoResponse, Response};

/// The GraphiQL page, pointed at `/graphql`.
pub fn page() -> Response {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .title("weft")
            .finish(),
    )
    .into_response()
}
