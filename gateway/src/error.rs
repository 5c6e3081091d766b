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
    /// The request to the backend could not be built from the field's
    /// arguments and parent (a required value was missing or did not fit).
    #[error("cannot build the request to source `{source_name}`: {reason}")]
    BadRequest {
        /// The source as named in the config.
        source_name: String,
        /// What did not fit; safe to show.
        reason: String,
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
            Self::BadRequest { .. } => "SOURCE_BAD_REQUEST",
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
            Self::HttpStatus { .. } | Self::GrpcStatus { .. } => "error_status",
            Self::BadResponse { .. } => "bad_response",
            Self::BadRequest { .. } => "bad_request",
        }
    }
}

/// Whether a response's errors stopped the operation before it ran (a
/// validation error): no data, and no error at a path.
pub fn never_executed(response: &async_graphql::Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// Gives every error of a response an `extensions.code`: validation errors
/// (the operation never ran) get `GRAPHQL_VALIDATION_FAILED`, anything else
/// without one `INTERNAL_ERROR`.
pub fn fill_missing_codes(response: &mut async_graphql::Response) {
    let fallback = if never_executed(response) {
        "GRAPHQL_VALIDATION_FAILED"
    } else {
        "INTERNAL_ERROR"
    };
    for error in &mut response.errors {
        let extensions = error
            .extensions
            .get_or_insert_with(async_graphql::ErrorExtensionValues::default);
        if extensions.get("code").is_none() {
            extensions.set("code", fallback);
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

/// Every problem found at start-up; weft refuses to start while there is one.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Adds one problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
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
