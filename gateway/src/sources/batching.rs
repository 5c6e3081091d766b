//! The per-request call layer: every backend call a request makes goes
//! through one [`RequestScope`], which
//!
//! - makes identical calls once (same source, same rendered request), so two
//!   fields asking for the same thing share one answer;
//! - batches keys: loads of a [`BatchPlan`] made while one level of the
//!   response resolves are coalesced into one call per `max_batch_size`
//!   chunk, and the answers are matched back by key, whatever their order;
//! - records each call when the client asked for it (`x-weft-debug: calls`).
//!
//! A scope lives for one request only, so nothing is shared between users.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use serde::Serialize;
use serde_json::{Map, Value};

use super::{Connector, Prepared};
use crate::error::SourceError;
use crate::template::{Vars, lookup};

type SharedCall = Shared<BoxFuture<'static, Result<Value, SourceError>>>;

/// One backend call, as shown in `extensions.weft.calls`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRecord {
    /// The source called.
    pub source: String,
    /// What was asked, e.g. `GET /users?ids=1,2`.
    pub request: String,
    /// How long it took, in milliseconds.
    pub duration_ms: f64,
    /// `ok`, or the error code.
    pub outcome: &'static str,
}

/// How to fetch many of something at once and match the answers to keys.
#[derive(Debug)]
pub struct BatchPlan {
    /// Tells plans apart within a request.
    pub id: usize,
    /// Renders the call from `$batch.<key field>` lists.
    pub connector: Box<dyn Connector>,
    /// The names under `$batch`, one per key component.
    pub key_names: Vec<String>,
    /// Where each key component stands in an answered item.
    pub match_paths: Vec<Vec<String>>,
    /// Where the list of items stands in the response.
    pub response: Vec<String>,
    /// At most this many keys per call.
    pub max_batch_size: usize,
}

/// A key: one JSON value per key component.
pub type Key = Vec<Value>;

type Answer = Result<Vec<Value>, SourceError>;
type Waiter = (String, futures::channel::oneshot::Sender<Answer>);

#[derive(Default)]
struct PendingBatch {
    keys: Vec<Key>,
    seen: HashSet<String>,
    waiters: Vec<Waiter>,
}

/// The call layer of a subscription: each event's selection resolves with a
/// fresh [`RequestScope`], so its fields batch with each other but never
/// reuse answers from an earlier event. It also collects the field errors of
/// the current event, which the subscription executor would otherwise keep
/// for the whole subscription and never report.
#[derive(Debug, Default)]
pub struct EventScope {
    calls: Mutex<Arc<RequestScope>>,
    errors: Mutex<Vec<async_graphql::ServerError>>,
}

impl EventScope {
    /// Starts a new event: later calls get a fresh scope.
    pub fn renew(&self) {
        *locked(&self.calls) = Arc::default();
    }

    /// The scope of the current event.
    pub fn current(&self) -> Arc<RequestScope> {
        locked(&self.calls).clone()
    }

    /// Records a field error of the current event.
    pub fn add_error(&self, error: async_graphql::ServerError) {
        locked(&self.errors).push(error);
    }

    /// The field errors recorded since the last call.
    pub fn take_errors(&self) -> Vec<async_graphql::ServerError> {
        std::mem::take(&mut *locked(&self.errors))
    }
}

/// The call layer of one request.
#[derive(Default)]
pub struct RequestScope {
    calls: Mutex<HashMap<(String, String), SharedCall>>,
    batches: Mutex<HashMap<(usize, String), PendingBatch>>,
    log: Option<Arc<Mutex<Vec<CallRecord>>>>,
}

impl std::fmt::Debug for RequestScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestScope").finish_non_exhaustive()
    }
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl RequestScope {
    /// A scope that records its calls when `record` is set.
    pub fn new(record: bool) -> Self {
        Self {
            log: record.then(Arc::default),
            ..Self::default()
        }
    }

    /// The calls made so far, when recording.
    pub fn records(&self) -> Option<Vec<CallRecord>> {
        self.log.as_ref().map(|log| locked(log).clone())
    }

    /// Sends a prepared call, or joins an identical one already made by this
    /// request. Calls that change state (`dedupe` false) are always sent.
    pub async fn call(&self, prepared: Prepared, dedupe: bool) -> Result<Value, SourceError> {
        if !dedupe {
            return self.recorded(prepared).await;
        }
        let key = (prepared.source.clone(), prepared.description.clone());
        let shared = locked(&self.calls)
            .entry(key)
            .or_insert_with(|| self.recorded(prepared).boxed().shared())
            .clone();
        shared.await
    }

    fn recorded(&self, prepared: Prepared) -> BoxFuture<'static, Result<Value, SourceError>> {
        let Some(log) = self.log.clone() else {
            return prepared.call;
        };
        async move {
            let started = Instant::now();
            let result = prepared.call.await;
            locked(&log).push(CallRecord {
                source: prepared.source,
                request: prepared.description,
                duration_ms: started.elapsed().as_secs_f64() * 1000.0,
                outcome: result.as_ref().map_or_else(SourceError::code, |_| "ok"),
            });
            result
        }
        .boxed()
    }

    /// The items the backend answers for `key`, loaded together with every
    /// other key of the same plan (and arguments) requested while the current
    /// level of the response resolves.
    pub async fn load(
        &self,
        plan: &BatchPlan,
        args: &Value,
        key: Key,
    ) -> Result<Vec<Value>, SourceError> {
        let batch_id = (plan.id, args.to_string());
        let (receiver, leads) = self.enqueue(&batch_id, key);
        if leads {
            self.wait_for_siblings(&batch_id).await;
            let batch = locked(&self.batches).remove(&batch_id).unwrap_or_default();
            self.dispatch(plan, args, batch).await;
        }
        receiver.await.unwrap_or_else(|_| {
            Err(SourceError::BadRequest {
                source_name: String::new(),
                reason: "the batch was cancelled".to_owned(),
            })
        })
    }

    /// Adds a key to the pending batch; the first caller leads the batch.
    fn enqueue(
        &self,
        batch_id: &(usize, String),
        key: Key,
    ) -> (futures::channel::oneshot::Receiver<Answer>, bool) {
        let mut batches = locked(&self.batches);
        let leads = !batches.contains_key(batch_id);
        let batch = batches.entry(batch_id.clone()).or_default();
        let text = key_text(&key);
        if batch.seen.insert(text.clone()) {
            batch.keys.push(key);
        }
        let (sender, receiver) = futures::channel::oneshot::channel();
        batch.waiters.push((text, sender));
        (receiver, leads)
    }

    /// Yields until a pass over the response adds no more keys: the sibling
    /// fields of this level all run in the same task, so each yield lets the
    /// ones that are ready enqueue their keys.
    async fn wait_for_siblings(&self, batch_id: &(usize, String)) {
        loop {
            let before = self.waiting(batch_id);
            tokio::task::yield_now().await;
            if self.waiting(batch_id) == before {
                return;
            }
        }
    }

    fn waiting(&self, batch_id: &(usize, String)) -> usize {
        locked(&self.batches)
            .get(batch_id)
            .map_or(0, |batch| batch.waiters.len())
    }

    async fn dispatch(&self, plan: &BatchPlan, args: &Value, batch: PendingBatch) {
        let chunks = batch.keys.chunks(plan.max_batch_size.max(1));
        let answers =
            futures::future::join_all(chunks.map(|chunk| self.load_chunk(plan, args, chunk))).await;
        let mut found: HashMap<String, Vec<Value>> = HashMap::new();
        let mut failed: HashMap<String, SourceError> = HashMap::new();
        for (answer, chunk) in answers
            .into_iter()
            .zip(batch.keys.chunks(plan.max_batch_size.max(1)))
        {
            match answer {
                Ok(items) => group_by_key(plan, items, &mut found),
                Err(error) => failed.extend(chunk.iter().map(|key| (key_text(key), error.clone()))),
            }
        }
        for (text, sender) in batch.waiters {
            let result = match failed.get(&text) {
                Some(error) => Err(error.clone()),
                None => Ok(found.get(&text).cloned().unwrap_or_default()),
            };
            let _ = sender.send(result);
        }
    }

    async fn load_chunk(
        &self,
        plan: &BatchPlan,
        args: &Value,
        keys: &[Key],
    ) -> Result<Vec<Value>, SourceError> {
        let columns: Map<String, Value> = plan
            .key_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                (
                    name.clone(),
                    keys.iter().map(|key| key[i].clone()).collect(),
                )
            })
            .collect();
        let batch = Value::Object(columns);
        let vars = Vars {
            args,
            this: None,
            batch: Some(&batch),
        };
        let prepared = plan.connector.prepare(&vars)?;
        let source = prepared.source.clone();
        let response = self.call(prepared, true).await?;
        match lookup(&response, &plan.response) {
            Some(Value::Array(items)) => Ok(items.clone()),
            None => Ok(Vec::new()),
            Some(_) => Err(SourceError::BadResponse {
                source_name: source,
                reason: "a batch answer is not a list".to_owned(),
            }),
        }
    }
}

fn group_by_key(plan: &BatchPlan, items: Vec<Value>, found: &mut HashMap<String, Vec<Value>>) {
    for item in items {
        let key: Option<Key> = plan
            .match_paths
            .iter()
            .map(|path| lookup(&item, path).cloned())
            .collect();
        if let Some(key) = key {
            found.entry(key_text(&key)).or_default().push(item);
        }
    }
}

/// A key as text, so that `7` and `"7"` match: backends often disagree on
/// whether an id is a number or a string.
pub fn key_text(key: &[Value]) -> String {
    let parts: Vec<String> = key
        .iter()
        .map(|part| match part {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        })
        .collect();
    parts.join("\u{1f}")
}
