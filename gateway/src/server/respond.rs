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

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{ALLOW, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use http_body::{Frame, SizeHint};
use serde_json::json;

use super::negotiate::MediaType;
use super::request::RequestError;
use crate::error::codes;

/// Writes an executed (or validation-failed) GraphQL response.
pub fn graphql(media: MediaType, response: crate::pipeline::Response) -> Response {
    let status = if response.timed_out() {
        StatusCode::GATEWAY_TIMEOUT
    } else if response.never_executed() && media == MediaType::GraphqlResponse {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = Body::new(Parts::new(response.into_parts()));
    (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static(media.content_type()))],
        body,
    )
        .into_response()
}

/// A body sent as the parts it was made of, without joining them: its
/// exact length is known, so it goes with a `content-length`.
struct Parts {
    parts: VecDeque<Bytes>,
}

impl Parts {
    fn new(parts: impl IntoIterator<Item = Bytes>) -> Self {
        let parts = parts.into_iter().filter(|part| !part.is_empty()).collect();
        Self { parts }
    }
}

impl http_body::Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.parts.pop_front().map(|part| Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        let left: usize = self.parts.iter().map(Bytes::len).sum();
        SizeHint::with_exact(u64::try_from(left).unwrap_or(u64::MAX))
    }
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::error::GraphqlError;
    use crate::pipeline::Response as PipelineResponse;

    #[tokio::test]
    async fn a_response_sent_in_parts_is_its_text_with_its_length() {
        let error = || GraphqlError::new("failed", codes::SOURCE_BAD_RESPONSE);
        let answers = [
            PipelineResponse {
                data: Some(br#"{"user":{"name":"Ada"}}"#.to_vec()),
                errors: vec![error()],
                extensions: Some(json!({ "weft": { "callCount": 1 } })),
                calls: 1,
            },
            PipelineResponse {
                data: Some(b"null".to_vec()),
                errors: Vec::new(),
                extensions: None,
                calls: 0,
            },
            PipelineResponse::refused(vec![error()]),
        ];
        for answer in answers {
            let text = answer.to_bytes();
            let sent = graphql(MediaType::Json, answer);
            // The server writes the exact length as the `content-length`.
            let length = http_body::Body::size_hint(sent.body()).exact();
            let body = axum::body::to_bytes(sent.into_body(), usize::MAX)
                .await
                .unwrap();
            assert_eq!(body, text);
            assert_eq!(length, Some(text.len() as u64));
            serde_json::from_slice::<serde_json::Value>(&body).unwrap();
        }
    }
}
