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
use tracing::Instrument as _;

use super::negotiate::{MediaType, negotiate, wants_html};
use super::request::{self, Allowed, GetParams, RequestError};
use super::{cors, graphiql, respond, sse, websocket};
use crate::error::GraphqlError;
use crate::pipeline::{GraphqlRequest, Prepared, Response as PipelineResponse};
use crate::sources::batching::Recording;
use crate::{Gateway, traces};

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
    let body = match request::inflated(&headers, body) {
        Ok(body) => body,
        Err(error) => return respond::refused(MediaType::Json, &error),
    };
    let request = request::from_post(&headers, &body)
        .and_then(|request| identified(&gateway, &headers, request));
    if sse::wanted(&headers) {
        if !cors::stream_allowed(&gateway, &headers) {
            return cors::forbidden_origin();
        }
        return match request {
            Ok(request) => {
                let request = sse::resuming(request, &headers);
                let prepared = gateway.served().pipeline.prepare(&request);
                sse::stream(gateway, prepared)
            }
            Err(error) => respond::refused(MediaType::Json, &error),
        };
    }
    let Some(media) = negotiate(&headers) else {
        return respond::not_acceptable();
    };
    match request {
        Ok(request) => {
            Box::pin(execute(
                &gateway,
                media,
                &request,
                Allowed::Anything,
                &headers,
            ))
            .await
        }
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
        if !cors::stream_allowed(&gateway, &headers) {
            return cors::forbidden_origin();
        }
        let served = gateway.served();
        let identity = match served.identify(&headers) {
            Ok(identity) => identity,
            Err(error) => {
                return respond::refused(MediaType::Json, &RequestError::Unauthenticated(error));
            }
        };
        return websocket::upgrade(gateway, ws, headers, identity);
    }
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            let media = negotiate(&headers).unwrap_or(MediaType::Json);
            return respond::refused(media, &RequestError::Malformed(rejection.body_text()));
        }
    };
    if params.is_empty() && gateway.server.graphiql && wants_html(&headers) {
        return graphiql::page();
    }
    let request =
        request::from_get(params).and_then(|request| identified(&gateway, &headers, request));
    if sse::wanted(&headers) {
        if !cors::stream_allowed(&gateway, &headers) {
            return cors::forbidden_origin();
        }
        let prepared = request.and_then(|request| {
            let request = sse::resuming(request, &headers);
            prepare(&gateway, &request, Allowed::NoMutations)
        });
        return match prepared {
            Ok(prepared) => sse::stream(gateway, prepared),
            Err(error) => respond::refused(MediaType::Json, &error),
        };
    }
    let Some(media) = negotiate(&headers) else {
        return respond::not_acceptable();
    };
    match request {
        Ok(request) => {
            Box::pin(execute(
                &gateway,
                media,
                &request,
                Allowed::Queries,
                &headers,
            ))
            .await
        }
        Err(error) => respond::refused(media, &error),
    }
}

/// The request with what its HTTP headers add: the headers themselves (for
/// `forward_headers` and `$request.headers`) and the caller; refused when
/// the caller's token does not verify.
fn identified(
    gateway: &Gateway,
    headers: &HeaderMap,
    request: GraphqlRequest,
) -> Result<GraphqlRequest, RequestError> {
    let served = gateway.served();
    let identity = served
        .identify(headers)
        .map_err(RequestError::Unauthenticated)?;
    Ok(GraphqlRequest {
        headers: headers.clone(),
        identity,
        ..request
    })
}

/// Prepares the request, refusing an operation it may not run; a request
/// that cannot be prepared is left to be answered with the pipeline's
/// errors.
fn prepare(
    gateway: &Gateway,
    request: &GraphqlRequest,
    allowed: Allowed,
) -> Result<Result<Prepared, Vec<GraphqlError>>, RequestError> {
    match gateway.served().pipeline.prepare(request) {
        Ok(prepared) => allowed
            .check(prepared.plan.operation.kind)
            .map(|()| Ok(prepared)),
        Err(errors) => Ok(Err(errors)),
    }
}

/// The request header that asks for the list of backend calls in
/// `extensions.weft.calls`: `x-weft-debug: calls` (and `bodies`, for their
/// request bodies too), heard only with `[server] debug = true`.
pub const DEBUG_HEADER: &str = "x-weft-debug";

fn recording(gateway: &Gateway, headers: &HeaderMap) -> Recording {
    let asked = |what: &str| {
        headers
            .get(DEBUG_HEADER)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(what))
            })
    };
    match (gateway.server.debug, asked("calls"), asked("bodies")) {
        (true, true, true) => Recording::WithBodies,
        (true, true, false) => Recording::Calls,
        _ => Recording::Off,
    }
}

async fn execute(
    gateway: &Gateway,
    media: MediaType,
    request: &GraphqlRequest,
    allowed: Allowed,
    headers: &HeaderMap,
) -> Response {
    let started = Instant::now();
    let prepared = match prepare(gateway, request, allowed) {
        Ok(prepared) => prepared,
        Err(error) => return respond::refused(media, &error),
    };
    let recording = recording(gateway, headers);
    let operation = match &prepared {
        Ok(prepared) => prepared.plan.operation.name.clone(),
        Err(_) => request.operation_name.clone(),
    };
    let span = tracing::info_span!(
        "graphql.request",
        http.method = allowed.method(),
        graphql.operation = operation.as_deref().unwrap_or("")
    );
    traces::continue_from(&span, headers);
    let response = match prepared {
        Ok(prepared) => gateway.run(&prepared, recording).instrument(span).await,
        Err(errors) => PipelineResponse::refused(errors),
    };
    let elapsed = started.elapsed();
    gateway
        .metrics
        .record_graphql_request(response.errors.is_empty(), elapsed);
    let (calls, errors) = (response.calls, response.errors.len());
    let answer = respond::graphql(media, response);
    if gateway.log.requests {
        tracing::info!(
            target: "weft::request",
            method = allowed.method(),
            operation = operation.as_deref().unwrap_or(""),
            status = answer.status().as_u16(),
            duration_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0,
            calls,
            errors,
            "request"
        );
    }
    answer
}
