//! CORS, before routing: a preflight from an allowed origin is answered
//! here (`204`), every other request from one gets the
//! `access-control-allow-*` headers on its response. Requests without an
//! `Origin`, or from an origin `[server.cors]` does not allow, pass
//! untouched: the browser then keeps their answer from the page. Without
//! `[server.cors]` this layer does nothing.
//!
//! Streams are checked harder, because browsers do not apply CORS to
//! WebSocket upgrades and a page could otherwise drive weft with its
//! user's cookies: [`stream_allowed`] refuses a WebSocket upgrade or an
//! event stream whose `Origin` is neither allowed by `[server.cors]` nor,
//! without that table, weft's own origin.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, HOST, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use crate::Gateway;
use crate::config::CorsConfig;

/// The CORS layer (`axum::middleware::from_fn_with_state`).
pub async fn handle(State(gateway): State<Arc<Gateway>>, request: Request, next: Next) -> Response {
    let Some(cors) = &gateway.server.cors else {
        return next.run(request).await;
    };
    let origin = request
        .headers()
        .get(ORIGIN)
        .filter(|origin| origin.to_str().is_ok_and(|origin| cors.allows(origin)))
        .cloned();
    let Some(origin) = origin else {
        return next.run(request).await;
    };
    if request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    {
        return preflight(cors, origin, request.headers());
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    allow_origin(cors, origin, headers);
    if !cors.expose_headers.is_empty() {
        insert_list(headers, ACCESS_CONTROL_EXPOSE_HEADERS, &cors.expose_headers);
    }
    response
}

/// Whether a WebSocket upgrade or an event stream with these headers may
/// open: no `Origin` (not a browser), an origin `[server.cors]` allows, or
/// without that table the gateway's own (`Origin` naming the `Host`).
pub fn stream_allowed(gateway: &Gateway, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN).and_then(|origin| origin.to_str().ok()) else {
        return true;
    };
    if let Some(cors) = &gateway.server.cors {
        return cors.allows(origin);
    }
    let host = headers.get(HOST).and_then(|host| host.to_str().ok());
    let authority = origin.split_once("://").map(|(_, authority)| authority);
    host.is_some_and(|host| authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host)))
}

/// `403` for a stream from an origin [`stream_allowed`] refuses.
pub fn forbidden_origin() -> Response {
    let body = serde_json::json!({"errors": [{
        "message": "this origin may not open WebSocket or event-stream connections",
        "extensions": {"code": "FORBIDDEN_ORIGIN"}
    }]});
    (
        StatusCode::FORBIDDEN,
        [(http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn preflight(cors: &CorsConfig, origin: HeaderValue, request: &HeaderMap) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let headers = response.headers_mut();
    allow_origin(cors, origin, headers);
    insert_list(headers, ACCESS_CONTROL_ALLOW_METHODS, &cors.allow_methods);
    if cors.allow_headers.is_empty() {
        if let Some(asked) = request.get(ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        headers.append(
            VARY,
            HeaderValue::from_static("access-control-request-headers"),
        );
    } else {
        insert_list(headers, ACCESS_CONTROL_ALLOW_HEADERS, &cors.allow_headers);
    }
    headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(cors.max_age_secs));
    response
}

fn allow_origin(cors: &CorsConfig, origin: HeaderValue, headers: &mut HeaderMap) {
    if cors.is_wildcard() {
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        return;
    }
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.append(VARY, HeaderValue::from_static("origin"));
    if cors.allow_credentials {
        headers.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

fn insert_list(headers: &mut HeaderMap, name: http::HeaderName, values: &[String]) {
    if let Ok(value) = HeaderValue::from_str(&values.join(", ")) {
        headers.insert(name, value);
    }
}
