//! Errors, split by who may see them.
//!
//! [`SourceError`] is what goes wrong when a backend is called during a
//! request. Its `Display` text and [`SourceError::code`] are safe to show a
//! client: they name the source but never its address, and carry no REST
//! response body. A gRPC status message is passed on, since gRPC services
//! write it for their callers. The internal detail (connection errors) is
//! kept in `detail` and only logged.
//!
//! [`Diagnostic`] is a start-up problem in a schema or config file, located by
//! file and line; [`Diagnostics`] collects every one found so that `weft check`
//! can print them all at once.

use std::fmt;
use std::path::{Path, PathBuf};

/// A failure while calling a backend on behalf of a request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SourceError {
    /// The backend could not be reached (refused, reset, DNS).
    #[error("source `{source_name}` is unavailable")]
    Unavailable {
        /// The source as named in the config.
        source_name: String,
        /// What the transport said; logged, not shown.
        detail: String,
    },
    /// The backend did not answer within the source's timeout.
    #[error("source `{source_name}` did not answer within {timeout_ms} ms")]
    Timeout {
        /// The source as named in the config.
        source_name: String,
        /// The timeout that ran out.
        timeout_ms: u64,
    },
    /// A REST backend answered with a non-success HTTP status.
    #[error("source `{source_name}` answered HTTP {status}")]
    HttpStatus {
        /// The source as named in the config.
        source_name: String,
        /// The HTTP status code.
        status: u16,
    },
    /// A gRPC backend answered with a non-OK status.
    #[error("source `{source_name}` answered gRPC status {status}: {message}")]
    GrpcStatus {
        /// The source as named in the config.
        source_name: String,
        /// The gRPC status code name, e.g. `NOT_FOUND`.
        status: &'static str,
        /// The status message the backend sent.
        message: String,
    },
    /// The backend answered, but not with what the schema promised.
    #[error("source `{source_name}` sent a response weft cannot use: {reason}")]
    BadResponse {
        /// The source as named in the config.
        source_name: String,
        /// Why it could not be used; safe to show.
        reason: String,
    },
    /// A GraphQL subgraph answered neither `data` nor `errors`.
    #[error("source `{source_name}` answered with errors: {message}")]
    SubgraphErrors {
        /// The source as named in the config.
        source_name: String,
        /// What was wrong with the answer.
        message: String,
    },
    /// A GraphQL subgraph's `_entities` list is not one entity per
    /// representation sent, so no answer can be matched to its parent.
    #[error("source `{source_name}` answered {answered} entities for {sent} representations")]
    EntitiesMismatch {
        /// The source as named in the config.
        source_name: String,
        /// How many representations were sent.
        sent: usize,
        /// How many entities came back.
        answered: usize,
    },
    /// The request to the backend could not be built from the field's
    /// arguments and parent (a required value was missing or did not fit).
    #[error("cannot build the request to source `{source_name}`: {reason}")]
    BadRequest {
        /// The source as named in the config.
        source_name: String,
        /// What did not fit; safe to show.
        reason: String,
    },
    /// A subscriber fell so far behind a subscription it shares with
    /// others that results it had not read were dropped.
    #[error(
        "the subscriber fell {missed} results of source `{source_name}` behind and was dropped; subscribe again"
    )]
    Lagged {
        /// The source as named in the config.
        source_name: String,
        /// How many results it missed.
        missed: u64,
    },
    /// The call was not made: the operation would have made more backend
    /// calls than `[limits] max_calls`.
    #[error(
        "not calling source `{source_name}`: the operation would make more than {limit} backend calls"
    )]
    TooManyCalls {
        /// The source as named in the config.
        source_name: String,
        /// `[limits] max_calls`.
        limit: usize,
    },
}

impl SourceError {
    /// The stable code clients see in `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "SOURCE_UNAVAILABLE",
            Self::Timeout { .. } => "SOURCE_TIMEOUT",
            Self::HttpStatus { .. } => "SOURCE_HTTP_ERROR",
            Self::GrpcStatus { .. } => "SOURCE_GRPC_ERROR",
            Self::BadResponse { .. } => "SOURCE_BAD_RESPONSE",
            Self::SubgraphErrors { .. } | Self::EntitiesMismatch { .. } => {
                codes::SOURCE_GRAPHQL_ERROR
            }
            Self::BadRequest { .. } => "SOURCE_BAD_REQUEST",
            Self::TooManyCalls { .. } => codes::MAX_CALLS_LIMIT,
            Self::Lagged { .. } => codes::SUBSCRIBER_TOO_SLOW,
        }
    }

    /// Whether the backend said the thing asked for does not exist (HTTP 404,
    /// gRPC `NOT_FOUND`); a nullable field then resolves to `null` quietly.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::HttpStatus { status: 404, .. })
            || matches!(
                self,
                Self::GrpcStatus {
                    status: "NOT_FOUND",
                    ..
                }
            )
    }

    /// The label used for this outcome in metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::HttpStatus { .. } | Self::GrpcStatus { .. } | Self::SubgraphErrors { .. } => {
                "error_status"
            }
            Self::BadResponse { .. } | Self::EntitiesMismatch { .. } => "bad_response",
            Self::BadRequest { .. } => "bad_request",
            Self::TooManyCalls { .. } | Self::Lagged { .. } => "not_sent",
        }
    }
}

/// The `extensions.code` of every error weft answers with, in one place.
pub mod codes {
    /// The document does not parse.
    pub const PARSE_FAILED: &str = "GRAPHQL_PARSE_FAILED";
    /// The document is not valid against the schema.
    pub const VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";
    /// The document has more tokens than `[limits] max_tokens`.
    pub const MAX_TOKENS_LIMIT: &str = "MAX_TOKENS_LIMIT";
    /// The document's brackets nest deeper than `[limits] max_recursion`.
    pub const MAX_RECURSION_LIMIT: &str = "MAX_RECURSION_LIMIT";
    /// The operation's fields nest deeper than `[limits] max_depth`.
    pub const MAX_DEPTH_LIMIT: &str = "MAX_DEPTH_LIMIT";
    /// The operation has more aliases than `[limits] max_aliases`.
    pub const MAX_ALIASES_LIMIT: &str = "MAX_ALIASES_LIMIT";
    /// The root selection has more fields than `[limits] max_root_fields`.
    pub const MAX_ROOT_FIELDS_LIMIT: &str = "MAX_ROOT_FIELDS_LIMIT";
    /// A field or fragment has more directives than `[limits] max_directives`.
    pub const MAX_DIRECTIVES_LIMIT: &str = "MAX_DIRECTIVES_LIMIT";
    /// The operation selects more fields than `[limits] max_fields` once
    /// its fragments are spread.
    pub const MAX_FIELDS_LIMIT: &str = "MAX_FIELDS_LIMIT";
    /// Introspection is turned off (`[server] introspection = false`).
    pub const INTROSPECTION_DISABLED: &str = "INTROSPECTION_DISABLED";
    /// A hash sent alone names no document weft knows (yet).
    pub const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// A hash sent alone while APQ is off and the safelist lacks it.
    pub const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
    /// A document sent with a hash that is not its sha256.
    pub const PERSISTED_QUERY_HASH_MISMATCH: &str = "PERSISTED_QUERY_HASH_MISMATCH";
    /// An operation outside the safelist, with `safelist_only = true`.
    pub const OPERATION_NOT_IN_SAFELIST: &str = "OPERATION_NOT_IN_SAFELIST";
    /// The operation would make more backend calls than `[limits]
    /// max_calls`: the calls past it are not made.
    pub const MAX_CALLS_LIMIT: &str = "MAX_CALLS_LIMIT";
    /// The response had more errors than `[limits] max_errors`; this one
    /// says how many were left out.
    pub const ERRORS_TRUNCATED: &str = "ERRORS_TRUNCATED";
    /// The request took longer than `[server] request_timeout_ms`.
    pub const REQUEST_TIMEOUT: &str = "REQUEST_TIMEOUT";
    /// A variable's value does not fit its declared type.
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    /// The HTTP request is not a GraphQL request.
    pub const BAD_REQUEST: &str = "BAD_REQUEST";
    /// A backend's JSON does not fit the field's type.
    pub const SOURCE_BAD_RESPONSE: &str = "SOURCE_BAD_RESPONSE";
    /// A GraphQL subgraph answered with an error that has no code of its
    /// own (its own `extensions.code` is passed on when it has one).
    pub const SOURCE_GRAPHQL_ERROR: &str = "SOURCE_GRAPHQL_ERROR";
    /// A non-null entity was not found.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// A subscriber fell too far behind and was dropped.
    pub const SUBSCRIBER_TOO_SLOW: &str = "SUBSCRIBER_TOO_SLOW";
    /// The event bus cannot be reached.
    pub const EVENT_BUS_UNAVAILABLE: &str = "EVENT_BUS_UNAVAILABLE";
    /// A subscription asked to resume after a cursor, on a bus (or a
    /// topic, or a field) that stores no events.
    pub const RESUME_UNSUPPORTED: &str = "RESUME_UNSUPPORTED";
    /// The cursor to resume after is not one the gateway wrote.
    pub const CURSOR_INVALID: &str = "CURSOR_INVALID";
    /// The events after the cursor are no longer all stored.
    pub const CURSOR_EXPIRED: &str = "CURSOR_EXPIRED";
    /// Something went wrong inside weft.
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    /// A field needs an authenticated caller, or the caller's token does
    /// not verify.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// A field needs scopes the caller's token does not grant.
    pub const FORBIDDEN: &str = "FORBIDDEN";
}

/// One segment of an error's `path`: a response key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum PathSegment {
    /// A response key.
    Key(String),
    /// A list index.
    Index(usize),
}

/// Where in the document an error stands (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Location {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// An error as a client sees it in `errors`: a message that reveals no
/// internals, its `locations` and `path` when it has them, and always an
/// `extensions.code`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GraphqlError {
    /// What went wrong.
    pub message: String,
    /// Where in the document.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<Location>,
    /// Where in the response.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path: Vec<PathSegment>,
    /// `code`, and details such as a backend's `status`.
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl GraphqlError {
    /// An error with a message and a code.
    pub fn new(message: impl Into<String>, code: &str) -> Self {
        let mut extensions = serde_json::Map::new();
        extensions.insert("code".to_owned(), code.into());
        Self {
            message: message.into(),
            locations: Vec::new(),
            path: Vec::new(),
            extensions,
        }
    }

    /// The error at a place in the document.
    #[must_use]
    pub fn located(mut self, line: usize, column: usize) -> Self {
        self.locations.push(Location { line, column });
        self
    }

    /// The error at a path of the response.
    #[must_use]
    pub fn at(mut self, path: Vec<PathSegment>) -> Self {
        self.path = path;
        self
    }

    /// The error with one more extension entry.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extensions.insert(key.to_owned(), value.into());
        self
    }

    /// The error's code.
    pub fn code(&self) -> &str {
        self.extensions
            .get("code")
            .and_then(serde_json::Value::as_str)
            .unwrap_or(codes::INTERNAL_ERROR)
    }
}

impl GraphqlError {
    /// A topic template that cannot be rendered from the arguments.
    pub fn topic(reason: &str) -> Self {
        Self::new(
            format!("cannot build the topic: {reason}"),
            codes::BAD_REQUEST,
        )
    }
}

/// The bus's detail is logged; the client learns only that it is down.
impl From<&crate::events::BusError> for GraphqlError {
    fn from(error: &crate::events::BusError) -> Self {
        tracing::warn!("{error}");
        Self::new("the event bus is unavailable", codes::EVENT_BUS_UNAVAILABLE)
    }
}

/// The bus's detail is logged when it is unavailable; a cursor it refuses
/// is explained (the oldest one available, for an expired one).
impl From<&crate::events::SubscribeError> for GraphqlError {
    fn from(error: &crate::events::SubscribeError) -> Self {
        use crate::events::SubscribeError;
        let code = match error {
            SubscribeError::Unavailable(error) => return Self::from(error),
            SubscribeError::ResumeUnsupported => codes::RESUME_UNSUPPORTED,
            SubscribeError::CursorInvalid(_) => codes::CURSOR_INVALID,
            SubscribeError::CursorExpired { .. } => codes::CURSOR_EXPIRED,
        };
        Self::new(error.to_string(), code)
    }
}

impl From<&SourceError> for GraphqlError {
    fn from(error: &SourceError) -> Self {
        let graphql = Self::new(error.to_string(), error.code());
        match error {
            SourceError::HttpStatus { status, .. } => graphql.with("status", *status),
            SourceError::GrpcStatus { status, .. } => graphql.with("grpcStatus", *status),
            _ => graphql,
        }
    }
}

/// One problem found in a schema or config file at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem is in.
    pub file: PathBuf,
    /// 1-based line, or 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column, or 0 when unknown.
    pub column: usize,
    /// What is wrong, and where possible what to do about it.
    pub message: String,
}

impl Diagnostic {
    /// A problem at a line and column of a file.
    pub fn at(file: &Path, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// A problem with a whole file (it cannot be read, say).
    pub fn file(file: &Path, message: impl Into<String>) -> Self {
        Self::at(file, 0, 0, message)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}: {}", self.file.display(), self.message),
            (line, 0) => write!(f, "{}:{line}: {}", self.file.display(), self.message),
            (line, column) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            ),
        }
    }
}

/// Where something stands in a schema or config file, for a problem found
/// after the file was read (`weft check --probe`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl Place {
    /// A problem at this place.
    pub fn problem(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.file, self.line, self.column, message)
    }
}

/// Every problem found at start-up; weft refuses to start while there is one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one problem, unless the same one (place and message) is there
    /// already: a mistake met from several directions is reported once.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        if !self.0.contains(&diagnostic) {
            self.0.push(diagnostic);
        }
    }

    /// Adds every problem of `other` (each once).
    pub fn extend(&mut self, other: impl IntoIterator<Item = Diagnostic>) {
        for diagnostic in other {
            self.push(diagnostic);
        }
    }

    /// The problems ordered by where they stand in their file.
    #[must_use]
    pub fn in_file_order(mut self) -> Self {
        self.0.sort_by_key(|problem| (problem.line, problem.column));
        self
    }

    /// Whether no problem was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no problem was found, else every problem.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Self(vec![diagnostic])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
