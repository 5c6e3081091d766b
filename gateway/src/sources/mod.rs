//! Backends, one file per kind, behind one trait.
//!
//! A *source* is a configured backend (`[sources.<name>]`): a connection pool
//! and its settings. A *connector* is one directive bound to a source: the
//! compiled request templates of an `@rest` or `@grpc` field. The executor
//! has a connector prepare a call with the field's variables, sends it and
//! gets JSON back; it knows nothing of HTTP or protobuf, and the sources know
//! nothing of GraphQL.
//!
//! Calling is split in two so the per-request layer in [`batching`] can
//! deduplicate and record calls: [`Connector::prepare`] renders the request
//! (cheap, synchronous) into a [`Prepared`] call that names itself, and
//! awaiting the prepared call sends it.
//!
//! Every call goes through one place, `measured`: the source's circuit
//! breaker admits it (or refuses it at once), it waits for the source's
//! concurrency, is timed and counted in the metrics, and an idempotent call
//! that failed transiently is sent again after a backoff ([`resilience`]).

pub mod batching;
pub(crate) mod encode;
pub mod graphql;
pub(crate) mod graphql_ws;
pub mod grpc;
pub mod reflection;
pub mod resilience;
pub mod rest;
pub(crate) mod shared_subscriptions;
pub mod transcode;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::config::{Config, SourceConfig, SourceKind};
use crate::error::{Diagnostic, Diagnostics, SourceError};
use crate::json::Doc;
use crate::metrics::Metrics;
use crate::template::Vars;
use resilience::{Admission, Breaker, RetryPolicy};

/// One directive bound to its source: renders a request from the field's
/// arguments, parent or batch of keys, ready to send.
pub trait Connector: Send + Sync + fmt::Debug {
    /// Renders the request; fails when a required value is missing or does
    /// not fit.
    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError>;
    /// [`Self::prepare`] for a batch of which only `reads` is read: a
    /// connector that can leave the rest of its answer unwritten does, and
    /// says so in [`Prepared::reads`]; by default the answer is whole.
    fn prepare_reading(&self, vars: &Vars<'_>, reads: &Reads<'_>) -> Result<Prepared, SourceError> {
        let _ = reads;
        self.prepare(vars)
    }

    /// The name of the source it calls, as in the config.
    fn source_name(&self) -> &str;

    /// The source and the request as declared, e.g.
    /// `users: GET /users/{$args.id}`, for `weft plan`.
    fn describe(&self) -> String;

    /// Whether its answers are GraphQL responses: their `errors` are
    /// placed at their paths, and an `_entities` list answers the
    /// representations sent in their order.
    fn speaks_graphql(&self) -> bool {
        false
    }
}

/// What the executor reads of a batch answer's items: the members named
/// of each item at `items`.
#[derive(Debug, Clone, Copy)]
pub struct Reads<'a> {
    /// Where the items stand in the answer (JSON names from its root).
    pub items: &'a [String],
    /// The JSON names of the members read of each item, sorted.
    pub members: &'a Arc<[String]>,
}

/// A rendered backend call, not yet sent.
pub struct Prepared {
    /// The source it goes to.
    pub source: String,
    /// What it asks, e.g. `GET /users/1` or `catalog.v1.Catalog/GetProduct {"sku":"A"}`;
    /// two calls with the same source and description are the same call.
    pub description: String,
    /// Where the request's body starts in `description` (its length when
    /// there is none): debug output shows bodies only when asked.
    pub body_at: usize,
    /// How many calls to its source one request may have in flight.
    pub max_in_flight: usize,
    /// When its answer holds only these members of each item (see
    /// [`Connector::prepare_reading`]): it is then the same call as
    /// another only when that one reads the same.
    pub reads: Option<Arc<[String]>>,
    /// Sends it and yields the backend's JSON.
    pub call: BoxFuture<'static, Result<Doc, SourceError>>,
}

/// A call's description: `what` and its JSON body. The body goes through
/// `serde_json::to_string`, which writes to a buffer: formatting it through
/// `Display` cost more than the rest of preparing a batch of keys.
fn described(what: &str, body: &serde_json::Value) -> String {
    let body = serde_json::to_string(body).unwrap_or_default();
    let mut description = String::with_capacity(what.len() + 1 + body.len());
    description.push_str(what);
    description.push(' ');
    description.push_str(&body);
    description
}

/// The most a body's declared length reserves up front; a larger body
/// grows its buffer as it arrives.
const MAX_PRESIZE: usize = 16 << 20;

/// A response's body. A body that arrives in one chunk (the usual case)
/// is that chunk, without a copy; one of several chunks is copied once
/// into a buffer of its declared length.
async fn body_bytes(mut response: reqwest::Response) -> Result<bytes::Bytes, reqwest::Error> {
    let Some(first) = response.chunk().await? else {
        return Ok(bytes::Bytes::new());
    };
    let Some(second) = response.chunk().await? else {
        return Ok(first);
    };
    let rest = response.content_length().unwrap_or(0);
    let declared = usize::try_from(rest).unwrap_or(usize::MAX);
    let room = declared.saturating_add(first.len() + second.len());
    let mut body = Vec::with_capacity(room.min(MAX_PRESIZE));
    body.extend_from_slice(&first);
    body.extend_from_slice(&second);
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
    }
    Ok(body.into())
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("source", &self.source)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Which client headers a source forwards (`forward_headers`), and under
/// which names.
#[derive(Debug, Clone, Default)]
pub struct Forward(Vec<(http::HeaderName, http::HeaderName)>);

impl Forward {
    /// What a source's config forwards.
    pub fn new(config: &SourceConfig) -> Self {
        Self(config.forward_headers.clone())
    }

    /// The client's headers this source forwards, under their sent names.
    pub fn pick(&self, client: Option<&http::HeaderMap>) -> http::HeaderMap {
        let mut picked = http::HeaderMap::new();
        let Some(client) = client else {
            return picked;
        };
        for (from, to) in &self.0 {
            for value in client.get_all(from) {
                picked.append(to.clone(), value.clone());
            }
        }
        picked
    }
}

/// What every source is limited by: its config's timeout, batch size,
/// concurrency, retries and circuit breaker.
#[derive(Debug)]
pub struct Limits {
    /// How long one call may take.
    pub timeout: Duration,
    /// How many keys one batched call carries at most.
    pub max_batch_size: usize,
    /// How many calls one request may have in flight at once.
    pub max_request_concurrency: usize,
    in_flight: Arc<Semaphore>,
    retry: RetryPolicy,
    breaker: Option<Breaker>,
}

impl Limits {
    /// The limits a source's config sets.
    pub fn new(config: &SourceConfig) -> Self {
        Self {
            timeout: Duration::from_millis(config.timeout_ms),
            max_batch_size: config.max_batch_size,
            max_request_concurrency: config.max_request_concurrency,
            in_flight: Arc::new(Semaphore::new(config.max_concurrency)),
            retry: RetryPolicy::new(
                config.retries,
                Duration::from_millis(config.retry_backoff_ms),
            ),
            breaker: config.breaker.as_ref().map(Breaker::new),
        }
    }

    /// Shows the state of the source's breaker, if it has one, on
    /// `weft_source_circuit_state` under `source`.
    pub fn report_to(&mut self, metrics: &Metrics, source: &str) {
        if let Some(breaker) = &mut self.breaker {
            breaker.report_to(metrics.circuit_state(source));
        }
    }

    /// The source's breaker's permission for one call: `Ok(None)` without a
    /// breaker, an error (counted as refused) while it is open.
    fn admit(&self, metrics: &Metrics, source: &str) -> Result<Option<Admission<'_>>, SourceError> {
        let Some(breaker) = &self.breaker else {
            return Ok(None);
        };
        let admission = breaker.admit();
        if admission.is_none() {
            metrics.record_refused_call(source);
        }
        admission
            .map(Some)
            .ok_or_else(|| resilience::refused(source))
    }

    /// The timeout in whole milliseconds, for error messages.
    pub fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }
}

/// Runs one backend call, made afresh by `attempt` for every try: the
/// breaker must admit it, the source's concurrency allow it, and each try is
/// recorded in the metrics under `source`. An `idempotent` call that fails
/// transiently is tried again up to the source's `retries`.
async fn measured<F, C>(
    metrics: &Metrics,
    source: &str,
    limits: &Limits,
    idempotent: bool,
    mut attempt: F,
) -> Result<Doc, SourceError>
where
    F: FnMut() -> C,
    C: Future<Output = Result<Doc, SourceError>>,
{
    let retries = if idempotent {
        limits.retry.retries()
    } else {
        0
    };
    let mut retry = 0;
    // The last transient failure: what a retry the breaker refuses answers.
    let mut failed: Option<SourceError> = None;
    loop {
        let admission = match limits.admit(metrics, source) {
            Ok(admission) => admission,
            Err(refused) => return Err(failed.unwrap_or(refused)),
        };
        if failed.is_some() {
            metrics.record_retry(source);
        }
        let span = tracing::info_span!("source.call", source, attempt = retry + 1);
        let result = timed(metrics, source, limits, attempt().instrument(span)).await;
        settle(admission, &result);
        match result {
            Err(error) if retry < retries && resilience::is_transient(&error) => {
                tokio::time::sleep(limits.retry.backoff(retry)).await;
                retry += 1;
                failed = Some(error);
            }
            result => return result,
        }
    }
}

/// Tells the breaker, if any, how its admitted call went.
fn settle<T>(admission: Option<Admission<'_>>, result: &Result<T, SourceError>) {
    if let Some(admission) = admission {
        admission.finish(result.as_ref().is_err_and(resilience::is_backend_failure));
    }
}

/// Sends one try once the source's concurrency allows it, and records it
/// in the metrics.
async fn timed<C>(
    metrics: &Metrics,
    source: &str,
    limits: &Limits,
    call: C,
) -> Result<Doc, SourceError>
where
    C: Future<Output = Result<Doc, SourceError>>,
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

/// Fetches, at start-up, what some sources learn from their backend: for
/// every source `wanted` names an endpoint of (all at once, each within its
/// `timeout_ms`), `fetch` runs and `keep` stores its result in the source's
/// kind. A fetch that fails is reported at the source's table in the config
/// file.
pub(crate) async fn fetch_at_start<E, T, Fetched>(
    config: &mut Config,
    wanted: impl Fn(&SourceKind) -> Option<E>,
    fetch: impl Fn(E, Duration) -> Fetched,
    keep: impl Fn(&mut SourceKind, T),
) -> Diagnostics
where
    Fetched: Future<Output = Result<T, String>>,
{
    let (names, fetches): (Vec<String>, Vec<Fetched>) = config
        .sources
        .iter()
        .filter_map(|(name, source)| {
            let endpoint = wanted(&source.kind)?;
            let timeout = Duration::from_millis(source.timeout_ms);
            Some((name.clone(), fetch(endpoint, timeout)))
        })
        .unzip();
    let results = futures::future::join_all(fetches).await;
    let mut problems = Diagnostics::default();
    for (name, result) in names.into_iter().zip(results) {
        let Some(source) = config.sources.get_mut(&name) else {
            continue;
        };
        match result {
            Ok(fetched) => keep(&mut source.kind, fetched),
            Err(message) => problems.push(Diagnostic::at(
                &config.path,
                source.line,
                0,
                format!("source `{name}`: {message}"),
            )),
        }
    }
    problems
}
