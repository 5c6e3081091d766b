//! Stage 4: a GraphQL response (or a refused request) → an HTTP response.
//!
//! Status codes follow the GraphQL over HTTP spec: with
//! `application/graphql-response+json`, a request that never executed
//! (syntax or validation error) is `400`; with `application/json` every
//! GraphQL answer is `200`, except one cut off by `[server]
//! request_timeout_ms`: `504`, whatever the media type. Errors at the HTTP level are `400` (malformed),
//! `401` (a token that does not verify), `405` (mutation over GET), `406`
//! (unacceptable `Accept`) and `415` (body not JSON), each with a
//! GraphQL-shaped error body.

use axum::response::{IntoResponse, Response};
use http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::negotiate::MediaType;
use super::request::RequestError;
use crate::error::codes;

/// Writes an executed (or validation-failed) GraphQL response.
pub fn graphql(media: MediaType, response: &crate::pipeline::Response) -> Response {
    let status = if response.timed_out() {
        StatusCode::GATEWAY_TIMEOUT
    } else if response.never_executed() && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = response.to_bytes();
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(media.content_type()))],
        body,
    )
        .into_response()
}

/// Answers a request that could not be run.
pub fn refused(media: MediaType, error: &RequestError) -> Response {
    let (status, code) = match error {
        RequestError::UnsupportedMediaType | RequestError::UnsupportedEncoding(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "BAD_REQUEST")
        }
        RequestError::Malformed(_) => (StatusCode::BAD_REQUEST, "BAD_REQUEST"),
        RequestError::NotAQuery(_) => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
        RequestError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
        RequestError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, codes::UNAUTHENTICATED),
    };
    let error_json = json!({"message": error.to_string(), "extensions": {"code": code}});
    let body = json!({"errors": [error_json]}).to_string();
    let mut response = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(media.content_type()))],
        body,
    )
        .into_response();
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
    }
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

/// A body that could not be read: too large (`413`, over axum's default
/// limit of 2 MiB) or cut off (`400`).
pub fn unreadable_body(rejection: &axum::extract::rejection::BytesRejection) -> Response {
    let status = rejection.status();
    let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
        "PAYLOAD_TOO_LARGE"
    } else {
        "BAD_REQUEST"
    };
    let body =
        json!({"errors": [{ "message": rejection.body_text(), "extensions": {"code": code} }]});
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `406`: the client accepts no media type weft can write.
pub fn not_acceptable() -> Response {
    let body = json!({"errors": [{
        "message": "Accept must allow application/graphql-response+json or application/json",
        "extensions": {"code": "NOT_ACCEPTABLE"}
    }]});
    (
        StatusCode::NOT_ACCEPTABLE,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
