//! Backends, one file per kind, behind one trait.
//!
//! A *source* is a configured backend (`[sources.<name>]`): a connection pool
//! and its settings. A *connector* is one directive bound to a source: the
//! compiled request templates of an `@rest` or `@grpc` field. The executor
//! asks a connector to [`Connector::fetch`] with the field's variables and
//! gets JSON back; it knows nothing of HTTP or protobuf, and the sources know
//! nothing of GraphQL.
//!
//! Calling is split in two so the per-request layer in [`batching`] can
//! deduplicate and record calls: [`Connector::prepare`] renders the request
//! (cheap, synchronous) into a [`Prepared`] call that names itself, and
//! awaiting the prepared call sends it.

pub mod batching;
pub mod grpc;
pub mod rest;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::json::Json;
use futures::future::BoxFuture;

use tokio::sync::Semaphore;

use crate::config::SourceConfig;
use crate::error::SourceError;
use crate::metrics::Metrics;
use crate::template::Vars;

/// One directive bound to its source: renders a request from the field's
/// arguments, parent or batch of keys, ready to send.
pub trait Connector: Send + Sync + fmt::Debug {
    /// Renders the request; fails when a required value is missing or does
    /// not fit.
    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError>;

    /// The name of the source it calls, as in the config.
    fn source_name(&self) -> &str;

    /// The source and the request as declared, e.g.
    /// `users: GET /users/{$args.id}`, for `weft plan`.
    fn describe(&self) -> String;
}

/// A rendered backend call, not yet sent.
pub struct Prepared {
    /// The source it goes to.
    pub source: String,
    /// What it asks, e.g. `GET /users/1` or `catalog.v1.Catalog/GetProduct {"sku":"A"}`;
    /// two calls with the same source and description are the same call.
    pub description: String,
    /// Sends it and yields the backend's JSON.
    pub call: BoxFuture<'static, Result<Json, SourceError>>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("source", &self.source)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What every source is limited by: its config's timeout, batch size and
/// concurrency.
#[derive(Debug)]
pub struct Limits {
    /// How long one call may take.
    pub timeout: Duration,
    /// How many keys one batched call carries at most.
    pub max_batch_size: usize,
    in_flight: Arc<Semaphore>,
}

impl Limits {
    /// The limits a source's config sets.
    pub fn new(config: &SourceConfig) -> Self {
        Self {
            timeout: Duration::from_millis(config.timeout_ms),
            max_batch_size: config.max_batch_size,
            in_flight: Arc::new(Semaphore::new(config.max_concurrency)),
        }
    }

    /// The timeout in whole milliseconds, for error messages.
    pub fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Runs one backend call once the source's concurrency allows it, and
/// records it in the metrics under `source`.
async fn measured<F>(
    metrics: &Metrics,
    source: &str,
    limits: &Limits,
    call: F,
) -> Result<Json, SourceError>
where
    F: Future<Output = Result<Json, SourceError>>,
{
    let _permit = limits.in_flight.acquire().await;
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
