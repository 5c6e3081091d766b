//! Backends, one file per kind, behind one trait.
//!
//! A *source* is a configured backend (`[sources.<name>]`): a connection pool
//! and its settings. A *connector* is one directive bound to a source: the
//! compiled request templates of an `@rest` or `@grpc` field. The executor
//! asks a connector to [`Connector::fetch`] with the field's variables and
//! gets JSON back; it knows nothing of HTTP or protobuf, and the sources know
//! nothing of GraphQL.

pub mod grpc;
pub mod rest;

use std::fmt;
use std::future::Future;
use std::time::Instant;

use futures::future::BoxFuture;
use serde_json::Value;

use crate::error::SourceError;
use crate::metrics::Metrics;
use crate::template::Vars;

/// One directive bound to its source: renders a request from the field's
/// arguments and parent, sends it, and returns the backend's JSON.
pub trait Connector: Send + Sync + fmt::Debug {
    /// Calls the backend once for one field.
    fn fetch<'a>(&'a self, vars: Vars<'a>) -> BoxFuture<'a, Result<Value, SourceError>>;
}

/// Runs one backend call and records it in the metrics under `source`.
async fn measured<F>(metrics: &Metrics, source: &str, call: F) -> Result<Value, SourceError>
where
    F: Future<Output = Result<Value, SourceError>>,
{
    let started = Instant::now();
    let result = call.await;
    let outcome = result.as_ref().map_or_else(SourceError::outcome, |_| "ok");
    metrics.record_source_call(source, outcome, started.elapsed());
    if let Err(error) = &result {
        tracing::debug!(
            source,
            code = error.code(),
            "backend call failed: {error:?}"
        );
    }
    result
}
