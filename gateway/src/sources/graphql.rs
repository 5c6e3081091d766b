//! GraphQL federation subgraphs over HTTP, with `reqwest`.
//!
//! A [`GraphqlSource`] holds the subgraph's URL, static headers and limits.
//! Its calls carry a document generated when an operation is planned (see
//! `pipeline::subgraph`): a [`SubgraphQuery`] asks root fields, a
//! [`SubgraphEntities`] asks `_entities` for a batch of representations.
//! The operation's variables the document uses are passed as variables.
//! An answer with `errors` is kept for the executor, which places them at
//! their paths (`pipeline::placed`); one with neither `data` nor `errors`
//! is a [`SourceError`]. Queries are idempotent, so every call may be
//! retried.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use reqwest::header::HeaderMap;
use serde_json::{Map, Value, json};

use super::rest::static_headers;
use super::{Connector, Forward, Limits, Prepared, described, measured};
use crate::config::{Config, GraphqlSourceConfig, SourceConfig, SourceKind, SubgraphSdl};
use crate::error::{Diagnostics, SourceError};
use crate::json::{Doc, Json};
use crate::metrics::Metrics;
use crate::template::{Caller, Vars};

/// A configured GraphQL subgraph.
#[derive(Debug)]
pub struct GraphqlSource {
    name: String,
    url: reqwest::Url,
    subscriptions_url: reqwest::Url,
    client: reqwest::Client,
    headers: HeaderMap,
    forward: Forward,
    limits: Limits,
    metrics: Arc<Metrics>,
    /// Its open subscriptions, shared by the subscribers that ask the same.
    upstreams: super::shared_subscriptions::Upstreams,
}

impl GraphqlSource {
    /// Builds the source; fails when a configured header is not a valid HTTP
    /// header.
    pub fn new(
        name: &str,
        config: &GraphqlSourceConfig,
        source: &SourceConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let mut limits = Limits::new(source);
        limits.report_to(&metrics, name);
        let headers = static_headers(&config.headers)?;
        Ok(Self {
            name: name.to_owned(),
            url: config.url.clone(),
            subscriptions_url: config.subscriptions_url.clone(),
            client: reqwest::Client::new(),
            headers,
            forward: Forward::new(source),
            limits,
            metrics,
            upstreams: super::shared_subscriptions::Upstreams::default(),
        })
    }

    /// The source's name, as in the config.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The source's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Posts `body` (`{query, variables}`) and returns the answer's JSON,
    /// through the source's breaker, concurrency, timeout and retries.
    async fn send(&self, body: &Value, headers: HeaderMap) -> Result<Doc, SourceError> {
        measured(&self.metrics, &self.name, &self.limits, true, || {
            self.exchange(body, headers.clone())
        })
        .await
    }

    async fn exchange(&self, body: &Value, mut headers: HeaderMap) -> Result<Doc, SourceError> {
        crate::traces::inject(&mut headers);
        let response = self
            .client
            .post(self.url.clone())
            .headers(self.headers.clone())
            .headers(headers)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.limits.timeout)
            .json(body)
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SourceError::HttpStatus {
                source_name: self.name.clone(),
                status: status.as_u16(),
            });
        }
        let bytes = super::body_bytes(response)
            .await
            .map_err(|error| self.transport_error(&error))?;
        let doc = Doc::parse_body(bytes).map_err(|reason| SourceError::BadResponse {
            source_name: self.name.clone(),
            reason: format!("the body is not JSON: {reason}"),
        })?;
        self.check_errors(doc)
    }

    /// The answer, when it has `data` or `errors` (which the executor
    /// places at their paths).
    fn check_errors(&self, doc: Doc) -> Result<Doc, SourceError> {
        let root = doc.root();
        let has_data = root.get("data").is_some_and(|data| !data.is_null());
        let has_errors = root
            .get("errors")
            .and_then(Json::items)
            .is_some_and(|mut errors| errors.next().is_some());
        if has_data || has_errors {
            return Ok(doc);
        }
        Err(SourceError::SubgraphErrors {
            source_name: self.name.clone(),
            message: "the answer has neither `data` nor `errors`".to_owned(),
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> SourceError {
        if error.is_timeout() {
            SourceError::Timeout {
                source_name: self.name.clone(),
                timeout_ms: self.limits.timeout_ms(),
            }
        } else {
            SourceError::Unavailable {
                source_name: self.name.clone(),
                detail: format!("{error:?}"),
            }
        }
    }

    /// A prepared call of `document` with `variables`.
    fn prepare(self: &Arc<Self>, document: &str, variables: Value, caller: Caller<'_>) -> Prepared {
        let description = described(document, &variables);
        let body = json!({ "query": document, "variables": variables });
        let headers = self.forward.pick(caller.headers);
        let source = self.clone();
        Prepared {
            source: self.name.clone(),
            description,
            body_at: document.len(),
            max_in_flight: self.limits.max_request_concurrency,
            reads: None,
            call: async move { source.send(&body, headers).await }.boxed(),
        }
    }
}

/// A root subscription field of a subgraph, subscribed to with a
/// document made for one operation over graphql-transport-ws.
#[derive(Debug)]
pub struct SubgraphSubscription {
    /// The subgraph.
    pub source: Arc<GraphqlSource>,
    /// The document sent, a `subscription` operation.
    pub document: String,
    /// The operation's variables it uses.
    pub variables: Vec<String>,
    /// Where each result holds the field's value (`data.<key>`).
    pub response: Vec<String>,
}

impl SubgraphSubscription {
    /// Opens the subscription for a client's operation (its variables
    /// and the headers the source forwards), or joins the open one that
    /// asks the same; each result is a GraphQL response. Fails when the
    /// subgraph cannot be reached or does not acknowledge the connection
    /// within the source's timeout.
    pub(crate) async fn open(
        &self,
        caller: Caller<'_>,
    ) -> Result<super::shared_subscriptions::Subscriber, SourceError> {
        let source = &self.source;
        let mut headers = source.headers.clone();
        headers.extend(source.forward.pick(caller.headers));
        let request = super::graphql_ws::Request {
            source_name: &source.name,
            url: &source.subscriptions_url,
            headers,
            document: &self.document,
            variables: Value::Object(pick_variables(&self.variables, caller)),
            timeout: source.limits.timeout,
        };
        source.upstreams.subscribe(request).await
    }

    /// The subgraph and the document, for `weft plan`.
    pub fn describe(&self) -> String {
        format!("{}: {}", self.source.name, self.document)
    }
}

/// The operation's variables a document uses, by name.
fn pick_variables(names: &[String], caller: Caller<'_>) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|name| {
            let value = caller.variables?.get(name)?;
            Some((name.clone(), value.clone()))
        })
        .collect()
}

/// Root fields of a subgraph, asked with a document made for one
/// operation.
#[derive(Debug)]
pub struct SubgraphQuery {
    /// The subgraph.
    pub source: Arc<GraphqlSource>,
    /// The document sent.
    pub document: String,
    /// The operation's variables it uses.
    pub variables: Vec<String>,
}

impl Connector for SubgraphQuery {
    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError> {
        let variables = pick_variables(&self.variables, vars.caller);
        Ok(self
            .source
            .prepare(&self.document, Value::Object(variables), vars.caller))
    }

    fn source_name(&self) -> &str {
        &self.source.name
    }

    fn describe(&self) -> String {
        format!("{}: {}", self.source.name, self.document)
    }

    fn speaks_graphql(&self) -> bool {
        true
    }
}

/// Fields a subgraph adds to an entity type, asked for a batch of
/// representations through `_entities`.
#[derive(Debug)]
pub struct SubgraphEntities {
    /// The subgraph.
    pub source: Arc<GraphqlSource>,
    /// The document sent; it declares `$representations`.
    pub document: String,
    /// The entity type, each representation's `__typename`.
    pub type_name: String,
    /// The key fields, in the order of the batch's key columns, then the
    /// fields `@requires` names.
    pub key_names: Vec<String>,
    /// The operation's variables it uses.
    pub variables: Vec<String>,
    /// How the required fields are typed, by name: their values are sent
    /// in that form.
    pub typed: Vec<(String, crate::schema::model::Typed)>,
    /// Fields `@requires` names for only some of the fields the document
    /// asks (several fields share the call): a `null` of theirs is left out
    /// of the representation, as the parent may not have been asked it.
    pub optional: Vec<String>,
}

impl SubgraphEntities {
    /// One representation per key of the batch's columns.
    fn representations(&self, batch: Option<&Value>) -> Vec<Value> {
        let column = |name: &String| {
            batch
                .and_then(|batch| batch.get(name))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        };
        let columns: Vec<Vec<Value>> = self.key_names.iter().map(column).collect();
        let count = columns.first().map_or(0, Vec::len);
        (0..count)
            .map(|row| {
                let mut representation = Map::new();
                representation.insert("__typename".to_owned(), json!(self.type_name));
                for (name, column) in self.key_names.iter().zip(&columns) {
                    let value = column.get(row).cloned().unwrap_or(Value::Null);
                    if value.is_null() && self.optional.contains(name) {
                        continue;
                    }
                    let value = match self.typed.iter().find(|(typed, _)| typed == name) {
                        Some((_, typed)) => typed.apply(value),
                        None => value,
                    };
                    representation.insert(name.clone(), value);
                }
                Value::Object(representation)
            })
            .collect()
    }
}

impl Connector for SubgraphEntities {
    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError> {
        let mut variables = pick_variables(&self.variables, vars.caller);
        let representations = self.representations(vars.batch);
        variables.insert("representations".to_owned(), Value::Array(representations));
        Ok(self
            .source
            .prepare(&self.document, Value::Object(variables), vars.caller))
    }

    fn source_name(&self) -> &str {
        &self.source.name
    }

    fn describe(&self) -> String {
        format!("{}: {}", self.source.name, self.document)
    }

    fn speaks_graphql(&self) -> bool {
        true
    }
}

/// Asks every subgraph source without an `sdl` file for its SDL
/// (`_service { sdl }`, each within its `timeout_ms`) and keeps it in the
/// config. A subgraph that does not answer is reported at its table in
/// the config file.
pub async fn fetch_sdls(config: &mut Config) -> Result<(), Diagnostics> {
    let wanted = |kind: &SourceKind| match kind {
        SourceKind::Graphql(graphql) if matches!(graphql.sdl, SubgraphSdl::Service(_)) => {
            Some(graphql.url.clone())
        }
        _ => None,
    };
    let keep = |kind: &mut SourceKind, sdl| {
        if let SourceKind::Graphql(graphql) = kind {
            graphql.sdl = SubgraphSdl::Service(Some(sdl));
        }
    };
    super::fetch_at_start(config, wanted, service_sdl, keep)
        .await
        .into_result(())
}

/// A subgraph's SDL from its `_service { sdl }`.
async fn service_sdl(url: reqwest::Url, timeout: Duration) -> Result<String, String> {
    let body = json!({ "query": "{ _service { sdl } }" });
    let response = reqwest::Client::new()
        .post(url.clone())
        .timeout(timeout)
        .json(&body)
        .send()
        .await
        .map_err(|error| format!("cannot ask {url} for `_service {{ sdl }}`: {error}"))?;
    let answer: Value = response
        .json()
        .await
        .map_err(|error| format!("{url} answered `_service {{ sdl }}` without JSON: {error}"))?;
    answer
        .pointer("/data/_service/sdl")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("{url} answered `_service {{ sdl }}` without an SDL: {answer}"))
}
