//! Stage 2: the HTTP request → a GraphQL request.
//!
//! `POST` takes a JSON body (`Content-Type: application/json`); `GET` takes
//! `query`, `variables` (JSON), `operationName` and `extensions` (JSON) from
//! the query string, and may only run queries ([`Allowed`] says which
//! operations a request may run; the pipeline checks it once the operation
//! is known). A `POST` body may come compressed (`Content-Encoding: gzip`,
//! `deflate` or `br`): it is inflated here, and the body limit applies to
//! what it inflates to, so a compression bomb is refused after
//! [`MAX_BODY`] bytes.

use std::io::Read;

use axum::body::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde::Deserialize;

use crate::pipeline::GraphqlRequest;
use crate::pipeline::normalize::OperationKind;

/// Why an HTTP request is not a GraphQL request.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// `POST` without a JSON content type.
    #[error("POST /graphql takes Content-Type: application/json")]
    UnsupportedMediaType,
    /// A body or parameter that is not what GraphQL over HTTP expects.
    #[error("{0}")]
    Malformed(String),
    /// A mutation (or subscription) sent with `GET`.
    #[error("GET /graphql runs queries only; send {0} operations with POST")]
    NotAQuery(&'static str),
    /// A `Content-Encoding` weft does not inflate.
    #[error("Content-Encoding `{0}` is not supported; send gzip, deflate, br or none")]
    UnsupportedEncoding(String),
    /// A body that inflates to more than [`MAX_BODY`] bytes.
    #[error("the body inflates to more than {MAX_BODY} bytes")]
    TooLarge,
    /// A token that does not verify.
    #[error("{0}")]
    Unauthenticated(String),
}

/// The most bytes a request body may have, once inflated (axum's limit on
/// the body as sent).
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The body as sent, inflated when it is compressed.
pub fn inflated(headers: &HeaderMap, body: Bytes) -> Result<Bytes, RequestError> {
    let Some(encoding) = headers.get(CONTENT_ENCODING) else {
        return Ok(body);
    };
    let encoding = encoding
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let reader: Box<dyn Read + '_> = match encoding.as_str() {
        "" | "identity" => return Ok(body),
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(&body[..])),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        "br" => Box::new(brotli::Decompressor::new(&body[..], 4096)),
        _ => return Err(RequestError::UnsupportedEncoding(encoding)),
    };
    let mut inflated = Vec::with_capacity(body.len() * 4);
    reader
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut inflated)
        .map_err(|error| {
            RequestError::Malformed(format!("the {encoding} body does not inflate: {error}"))
        })?;
    if inflated.len() > MAX_BODY {
        return Err(RequestError::TooLarge);
    }
    Ok(Bytes::from(inflated))
}

/// The parameters of a `GET` request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    operation_name: Option<String>,
    extensions: Option<String>,
}

impl GetParams {
    /// Whether the request carries no query (a browser opening the URL).
    pub fn is_empty(&self) -> bool {
        self.query.is_none()
    }
}

/// Which operations a request may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// Queries only (`GET`).
    Queries,
    /// Queries and subscriptions (`GET` with an event stream).
    NoMutations,
    /// Anything (`POST`).
    Anything,
}

impl Allowed {
    /// The HTTP method the request came with.
    pub fn method(self) -> &'static str {
        match self {
            Self::Queries | Self::NoMutations => "GET",
            Self::Anything => "POST",
        }
    }
}

impl Allowed {
    /// Refuses an operation of `kind` that this request may not run.
    pub fn check(self, kind: OperationKind) -> Result<(), RequestError> {
        match (self, kind) {
            (Self::Queries | Self::NoMutations, OperationKind::Mutation) => {
                Err(RequestError::NotAQuery("mutation"))
            }
            (Self::Queries, OperationKind::Subscription) => {
                Err(RequestError::NotAQuery("subscription"))
            }
            _ => Ok(()),
        }
    }
}

/// A `GET` request's parameters as a GraphQL request.
pub fn from_get(params: GetParams) -> Result<GraphqlRequest, RequestError> {
    let sent_by_hash = params
        .extensions
        .as_deref()
        .is_some_and(|extensions| extensions.contains("persistedQuery"));
    let query = match params.query {
        Some(query) => query,
        None if sent_by_hash => String::new(),
        None => {
            return Err(RequestError::Malformed(
                "GET /graphql needs a `query` parameter".to_owned(),
            ));
        }
    };
    let mut request = GraphqlRequest {
        query,
        operation_name: params.operation_name.filter(|name| !name.is_empty()),
        ..GraphqlRequest::default()
    };
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        request.variables = serde_json::from_str(&variables).map_err(|error| {
            RequestError::Malformed(format!("`variables` is not a JSON object: {error}"))
        })?;
    }
    if let Some(extensions) = params.extensions.filter(|e| !e.is_empty()) {
        request.extensions = serde_json::from_str(&extensions).map_err(|error| {
            RequestError::Malformed(format!("`extensions` is not a JSON object: {error}"))
        })?;
    }
    Ok(request)
}

/// A `POST` request's JSON body as a GraphQL request.
pub fn from_post(headers: &HeaderMap, body: &[u8]) -> Result<GraphqlRequest, RequestError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            let media = media.trim();
            media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/graphql-response+json")
        });
    if !is_json {
        return Err(RequestError::UnsupportedMediaType);
    }
    let request: GraphqlRequest = serde_json::from_slice(body).map_err(|error| {
        RequestError::Malformed(format!("the body is not a GraphQL request: {error}"))
    })?;
    if request.query.is_empty() && !request.extensions.contains_key("persistedQuery") {
        return Err(RequestError::Malformed(
            "the request has no `query`".to_owned(),
        ));
    }
    Ok(request)
}
