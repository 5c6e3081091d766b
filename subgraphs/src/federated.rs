//! A federation subgraph (an async-graphql schema) served at
//! `POST /graphql`, every request counted by its route label:
//!
//! | request | route label |
//! | --- | --- |
//! | an operation with root field `_entities` | [`ROUTE_ENTITIES`] |
//! | `_service { sdl }` | [`ROUTE_SERVICE`] |
//! | any other operation | [`ROUTE_QUERY`] |
//!
//! The demo's reviews service and the benchmark's four subgraphs are
//! served this way.

use async_graphql::{EmptySubscription, ObjectType, Schema};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::{Json, Router};

use crate::calls::CallLog;

/// Route label of an `_entities` call.
pub const ROUTE_ENTITIES: &str = "POST /graphql _entities";
/// Route label of a `_service` call.
pub const ROUTE_SERVICE: &str = "POST /graphql _service";
/// Route label of any other operation.
pub const ROUTE_QUERY: &str = "POST /graphql";

/// The route label of a query: [`ROUTE_ENTITIES`], [`ROUTE_SERVICE`] or
/// [`ROUTE_QUERY`].
pub fn route_of(query: &str) -> &'static str {
    if query.contains("_entities") {
        ROUTE_ENTITIES
    } else if query.contains("_service") {
        ROUTE_SERVICE
    } else {
        ROUTE_QUERY
    }
}

/// Serves `schema` at `POST /graphql`, counting each request in `calls`
/// by [`route_of`].
pub fn serve<Q: ObjectType + 'static, M: ObjectType + 'static>(
    schema: Schema<Q, M, EmptySubscription>,
    calls: CallLog,
) -> Router {
    Router::new()
        .route("/graphql", post(graphql::<Q, M>))
        .with_state((calls, schema))
}

async fn graphql<Q: ObjectType + 'static, M: ObjectType + 'static>(
    State((calls, schema)): State<(CallLog, Schema<Q, M, EmptySubscription>)>,
    headers: HeaderMap,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    calls.record_with(route_of(&request.query), &headers);
    Json(schema.execute(request).await)
}
