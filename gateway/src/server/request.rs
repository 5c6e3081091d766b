//! Stage 2: the HTTP request → a GraphQL request.
//!
//! `POST` takes a JSON body (`Content-Type: application/json`); `GET` takes
//! `query`, `variables` (JSON), `operationName` and `extensions` (JSON) from
//! the query string, and may only run queries. Both parse the document here,
//! so syntax errors are answered before execution.

use async_graphql::parser::types::{DocumentOperations, OperationType};
use async_graphql::{Request, ServerError};
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use serde::Deserialize;

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
    /// The document does not parse.
    #[error("{}", .0.message)]
    Syntax(ServerError),
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

/// A `GET` request as a GraphQL query (or, when `streaming`, a query or
/// subscription).
pub fn from_get(params: GetParams, streaming: bool) -> Result<Request, RequestError> {
    let query = params.query.ok_or_else(|| {
        RequestError::Malformed("GET /graphql needs a `query` parameter".to_owned())
    })?;
    let mut request = Request::new(query);
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
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    parse(
        request,
        if streaming {
            Only::NoMutations
        } else {
            Only::Queries
        },
    )
}

/// A `POST` request's JSON body as a GraphQL request.
pub fn from_post(headers: &HeaderMap, body: &[u8]) -> Result<Request, RequestError> {
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
    let request: Request = serde_json::from_slice(body).map_err(|error| {
        RequestError::Malformed(format!("the body is not a GraphQL request: {error}"))
    })?;
    if request.query.is_empty() {
        return Err(RequestError::Malformed(
            "the request has no `query`".to_owned(),
        ));
    }
    parse(request, Only::Anything)
}

/// Which operations a request may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Only {
    Queries,
    NoMutations,
    Anything,
}

/// Parses the document, and refuses operations that `only` rules out.
fn parse(mut request: Request, only: Only) -> Result<Request, RequestError> {
    let operation_name = request.operation_name.clone();
    let document = request.parsed_query().map_err(RequestError::Syntax)?;
    if only != Only::Anything {
        let ty = match &document.operations {
            DocumentOperations::Single(operation) => Some(operation.node.ty),
            DocumentOperations::Multiple(operations) => operation_name
                .as_deref()
                .and_then(|name| operations.get(name))
                .map(|operation| operation.node.ty),
        };
        match ty {
            Some(OperationType::Mutation) => return Err(RequestError::NotAQuery("mutation")),
            Some(OperationType::Subscription) if only == Only::Queries => {
                return Err(RequestError::NotAQuery("subscription"));
            }
            _ => {}
        }
    }
    Ok(request)
}
