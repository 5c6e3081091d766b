//! Per-request dedupe and batch loading, for the executor's levels.
//!
//! - [`Calls`] remembers every call a request made, so identical calls
//!   (same source, same rendered request) are sent once, and records them
//!   when the client asked for it (`x-weft-debug: calls`).
//! - [`BatchPlan`] says how to fetch many of something at once: the executor
//!   gathers every key of one plan (and arguments) over a whole level,
//!   [`BatchPlan::prepare_many`] renders one call per `max_batch_size` chunk,
//!   and [`BatchPlan::index`] matches the answered items back to keys,
//!   whatever their order.
//!
//! Nothing here knows GraphQL: keys and answers are JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value};
use smallvec::{SmallVec, smallvec};

use super::{Connector, Prepared, Reads};
use crate::error::SourceError;
use crate::json::{self, Doc, Items, Json, KeyPath};
use crate::template::{Caller, Vars};

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
    /// Whether the connector [`Connector::speaks_graphql`], asked once
    /// when the plan is made: the executor asks for every parent.
    pub graphql: bool,
    /// The names under `$batch`, one per key component.
    pub key_names: Vec<String>,
    /// Where each key component stands in an answered item. A connector
    /// that [`Connector::speaks_graphql`] is answered in key order (its
    /// `_entities` list); there only their number counts: keys are told
    /// apart by that many leading components, so values sent beside the
    /// key (`@requires` fields) do not split one entity in two.
    pub match_paths: Vec<KeyPath>,
    /// Where the list of items stands in the response.
    pub response: KeyPath,
    /// At most this many keys per call.
    pub max_batch_size: usize,
    /// For a subgraph's `_entities` batch: the response key of every field
    /// its document asks of each entity. Fields of one entity type asked
    /// at one plan level share the call, and each one loaded picks its own
    /// ([`crate::schema::model::GroupedPlan::pick`]); an error at another's
    /// key is not its error.
    pub fields: Vec<String>,
}

/// A key: one JSON value per key component. Most keys have one, kept
/// inline.
pub type Key = SmallVec<[Value; 1]>;

/// What a finished call answered, shared by everything that asked for it.
pub type Answer = Result<Arc<Doc>, SourceError>;

impl BatchPlan {
    /// A rendered key as its components: the value itself for a one-field
    /// key, the named entries of an object for a compound one.
    pub fn key_of(&self, key: Value) -> Key {
        match (self.key_names.as_slice(), key) {
            ([_], key) => smallvec![key],
            (names, Value::Object(mut entries)) => names
                .iter()
                .map(|name| entries.remove(name).unwrap_or(Value::Null))
                .collect(),
            (names, other) => names.iter().map(|_| other.clone()).collect(),
        }
    }

    /// One call per chunk of at most `max_batch_size` distinct keys.
    ///
    /// With `reads`, only those members of each answered item are read
    /// (see [`Connector::prepare_reading`]). The keys are lent to the
    /// calls' templates, not copied: they are as they were on return.
    pub fn prepare_many(
        &self,
        args: &Value,
        keys: &mut [Key],
        caller: Caller<'_>,
        reads: Option<&Arc<[String]>>,
    ) -> Vec<Result<Prepared, SourceError>> {
        keys.chunks_mut(self.max_batch_size.max(1))
            .map(|chunk| self.prepare_chunk(args, chunk, caller, reads))
            .collect()
    }

    fn prepare_chunk(
        &self,
        args: &Value,
        keys: &mut [Key],
        caller: Caller<'_>,
        reads: Option<&Arc<[String]>>,
    ) -> Result<Prepared, SourceError> {
        let batch = self.columns(keys);
        let vars = Vars {
            args,
            this: None,
            batch: Some(&batch),
            caller,
        };
        let prepared = match reads {
            Some(members) => {
                let items = &self.response;
                self.connector
                    .prepare_reading(&vars, &Reads { items, members })
            }
            None => self.connector.prepare(&vars),
        };
        self.restore(keys, batch);
        prepared
    }

    /// `$batch`: a list per key component, each holding that component
    /// of every key, moved out of `keys` (until [`Self::restore`]).
    fn columns(&self, keys: &mut [Key]) -> Value {
        let columns: Map<String, Value> = self
            .key_names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let column = keys.iter_mut().map(|key| key[i].take()).collect();
                (name.clone(), column)
            })
            .collect();
        Value::Object(columns)
    }

    /// Moves the components [`Self::columns`] took back into `keys`.
    fn restore(&self, keys: &mut [Key], batch: Value) {
        let Value::Object(mut columns) = batch else {
            return;
        };
        for (i, name) in self.key_names.iter().enumerate() {
            if let Some(Value::Array(column)) = columns.remove(name) {
                for (key, value) in keys.iter_mut().zip(column) {
                    key[i] = value;
                }
            }
        }
    }

    /// The items of a batch answer: the list at `response` (none when it
    /// is missing).
    pub fn items<'a>(&self, answer: Json<'a>) -> Result<Option<Items<'a>>, SourceError> {
        match self.response.find(answer).map(Json::items) {
            Some(Some(items)) => Ok(Some(items)),
            None => Ok(None),
            Some(None) => Err(SourceError::BadResponse {
                source_name: self.connector.source_name().to_owned(),
                reason: "a batch answer is not a list".to_owned(),
            }),
        }
    }

    /// Calls `found` with each item that has a key, and its key's text.
    pub fn each_key<'a>(&self, items: Option<Items<'a>>, mut found: impl FnMut(&[u8], Json<'a>)) {
        let mut text = Vec::new();
        for item in items.into_iter().flatten() {
            if let [path] = self.match_paths.as_slice() {
                if let Some(part) = path.find(item) {
                    found(&json::key_text(part), item);
                }
                continue;
            }
            text.clear();
            for (n, path) in self.match_paths.iter().enumerate() {
                let Some(part) = path.find(item) else {
                    text.clear();
                    break;
                };
                if n > 0 {
                    text.push(KEY_SEPARATOR);
                }
                text.extend_from_slice(&json::key_text(part));
            }
            if !text.is_empty() {
                found(&text, item);
            }
        }
    }
}

/// What stands between the parts of a key of several parts in its text.
const KEY_SEPARATOR: u8 = 0x1f;

/// A key as text, so that `7` and `"7"` match: backends often disagree on
/// whether an id is a number or a string.
pub fn key_text(key: &[Value]) -> String {
    let mut text = String::new();
    for (i, part) in key.iter().enumerate() {
        if i > 0 {
            text.push(char::from(KEY_SEPARATOR));
        }
        match part {
            Value::String(part) => text.push_str(part),
            other => text.push_str(&other.to_string()),
        }
    }
    text
}

/// The calls of one request (or of one subscription event).
#[derive(Debug, Default)]
pub struct Calls {
    answers: HashMap<CallId, Answer>,
    log: Option<Vec<CallRecord>>,
    bodies: bool,
    made: usize,
}

/// What tells calls apart: two calls with the same source and
/// description that read the same of their answers are one call.
pub(crate) type CallId = (String, String, Option<Arc<[String]>>);

impl Prepared {
    /// What tells this call from others.
    pub(crate) fn id(&self) -> CallId {
        (
            self.source.clone(),
            self.description.clone(),
            self.reads.clone(),
        )
    }
}

/// Whether a request's backend calls are listed in its answer
/// (`extensions.weft.calls`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Recording {
    /// Not listed.
    #[default]
    Off,
    /// Listed without their request bodies.
    Calls,
    /// Listed with their request bodies.
    WithBodies,
}

/// A call once answered.
#[derive(Debug)]
pub struct Sent {
    source: String,
    description: String,
    reads: Option<Arc<[String]>>,
    body_at: usize,
    answer: Answer,
    elapsed: Duration,
}

impl Calls {
    /// The calls of one request, listed as `recording` says.
    pub fn new(recording: Recording) -> Self {
        Self {
            answers: HashMap::new(),
            log: (recording != Recording::Off).then(Vec::new),
            bodies: recording == Recording::WithBodies,
            made: 0,
        }
    }

    /// The answer of an identical call already made.
    pub fn answered(&self, prepared: &Prepared) -> Option<Answer> {
        self.answers.get(&prepared.id()).cloned()
    }

    /// Sends a prepared call; yields its answer and how long it took.
    pub async fn send(prepared: Prepared) -> Sent {
        let started = std::time::Instant::now();
        let answer = prepared.call.await.map(Arc::new);
        Sent {
            source: prepared.source,
            description: prepared.description,
            reads: prepared.reads,
            body_at: prepared.body_at,
            answer,
            elapsed: started.elapsed(),
        }
    }

    /// Remembers a finished call; with `shared`, identical calls later in
    /// the request get its answer instead of calling again.
    pub fn finished(&mut self, sent: Sent, shared: bool) -> Answer {
        self.made += 1;
        if let Some(log) = &mut self.log {
            let shown = if self.bodies {
                sent.description.as_str()
            } else {
                sent.description.get(..sent.body_at).unwrap_or_default()
            };
            log.push(CallRecord {
                source: sent.source.clone(),
                request: shown.to_owned(),
                duration_ms: sent.elapsed.as_secs_f64() * 1000.0,
                outcome: sent
                    .answer
                    .as_ref()
                    .map_or_else(SourceError::code, |_| "ok"),
            });
        }
        if shared {
            self.answers.insert(
                (sent.source, sent.description, sent.reads),
                sent.answer.clone(),
            );
        }
        sent.answer
    }

    /// How many backend calls were made.
    pub fn made(&self) -> usize {
        self.made
    }

    /// The calls made, when recording.
    pub fn records(&self) -> Option<&[CallRecord]> {
        self.log.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;
    use serde_json::json;

    use super::*;

    /// Describes each call by the `$batch` it was rendered from.
    #[derive(Debug)]
    struct BatchEcho;

    impl Connector for BatchEcho {
        fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError> {
            Ok(Prepared {
                source: "echo".to_owned(),
                description: vars.batch.map(Value::to_string).unwrap_or_default(),
                body_at: 0,
                max_in_flight: 1,
                reads: None,
                call: async { Ok(Doc::null()) }.boxed(),
            })
        }

        fn source_name(&self) -> &'static str {
            "echo"
        }

        fn describe(&self) -> String {
            "echo".to_owned()
        }
    }

    fn plan(key_names: &[&str], max_batch_size: usize) -> BatchPlan {
        BatchPlan {
            id: 0,
            connector: Box::new(BatchEcho),
            graphql: false,
            key_names: key_names.iter().map(|&name| name.to_owned()).collect(),
            match_paths: Vec::new(),
            response: KeyPath::from(Vec::new()),
            max_batch_size,
            fields: Vec::new(),
        }
    }

    #[test]
    fn each_chunk_renders_its_keys_by_column_and_the_keys_are_left_as_they_were() {
        let plan = plan(&["id", "region"], 2);
        let mut keys: Vec<Key> = vec![
            smallvec![json!(1), json!("eu")],
            smallvec![json!("2"), json!(null)],
            smallvec![json!(3), json!({"zone": "b"})],
        ];
        let before = keys.clone();
        let described: Vec<String> = plan
            .prepare_many(&Value::Null, &mut keys, Caller::default(), None)
            .into_iter()
            .map(|prepared| prepared.unwrap().description)
            .collect();
        assert_eq!(
            described,
            [
                r#"{"id":[1,"2"],"region":["eu",null]}"#,
                r#"{"id":[3],"region":[{"zone":"b"}]}"#
            ]
        );
        assert_eq!(keys, before);
    }
}
