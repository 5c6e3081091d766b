//! `/graphql`: runs the request stages in order — negotiate, read the
//! request, execute, respond.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use http::HeaderMap;

use super::negotiate::{MediaType, negotiate, wants_html};
use super::request::{self, Allowed, GetParams, RequestError};
use super::{graphiql, respond, sse, websocket};
use crate::Gateway;
use crate::pipeline::GraphqlRequest;

/// `POST /graphql`.
pub async fn post(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return respond::unreadable_body(&rejection),
    };
    if sse::wanted(&headers) {
        return match request::from_post(&headers, &body) {
            Ok(request) => sse::stream(gateway, &request),
            Err(error) => respond::refused(MediaType::Json, &error),
        };
    }
    let Some(media) = negotiate(&headers) else {
        return respond::not_acceptable();
    };
    match request::from_post(&headers, &body) {
        Ok(request) => execute(&gateway, media, &request, Allowed::Anything, &headers).await,
        Err(error) => respond::refused(media, &error),
    }
}

/// `GET /graphql`: a WebSocket upgrade; an SSE stream; GraphiQL for a
/// browser without a query; else a query.
pub async fn get(
    State(gateway): State<Arc<Gateway>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    if let Ok(ws) = ws {
        return websocket::upgrade(gateway, ws);
    }
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            let media = negotiate(&headers).unwrap_or(MediaType::Json);
            return respond::refused(media, &RequestError::Malformed(rejection.body_text()));
        }
    };
    if params.is_empty() && gateway.graphiql && wants_html(&headers) {
        return graphiql::page();
    }
    if sse::wanted(&headers) {
        let request = request::from_get(params).and_then(|request| {
            refuse_mutations(&gateway, &request, Allowed::NoMutations).map(|()| request)
        });
        return match request {
            Ok(request) => sse::stream(gateway, &request),
            Err(error) => respond::refused(MediaType::Json, &error),
        };
    }
    let Some(media) = negotiate(&headers) else {
        return respond::not_acceptable();
    };
    match request::from_get(params) {
        Ok(request) => execute(&gateway, media, &request, Allowed::Queries, &headers).await,
        Err(error) => respond::refused(media, &error),
    }
}

/// Refuses an operation the request may not run; a request that does not
/// plan is left for the pipeline to answer.
fn refuse_mutations(
    gateway: &Gateway,
    request: &GraphqlRequest,
    allowed: Allowed,
) -> Result<(), RequestError> {
    match gateway
        .pipeline
        .plan(&request.query, request.operation_name.as_deref())
    {
        Ok(plan) => allowed.check(plan.operation.kind),
        Err(_) => Ok(()),
    }
}

/// The request header that asks for the list of backend calls in
/// `extensions.weft.calls`: `x-weft-debug: calls`.
pub const DEBUG_HEADER: &str = "x-weft-debug";

async fn execute(
    gateway: &Gateway,
    media: MediaType,
    request: &GraphqlRequest,
    allowed: Allowed,
    headers: &HeaderMap,
) -> Response {
    let started = Instant::now();
    if let Err(error) = refuse_mutations(gateway, request, allowed) {
        return respond::refused(media, &error);
    }
    let record_calls = headers
        .get(DEBUG_HEADER)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case("calls"))
        });
    let response = gateway.execute(request, record_calls).await;
    gateway
        .metrics
        .record_graphql_request(response.errors.is_empty(), started.elapsed());
    respond::graphql(media, &response)
}
