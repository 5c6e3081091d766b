//! The request pipeline: one stage per file, called in order from here.
//!
//! [`persisted`] (the document of a request sent by hash) → [`parse`] →
//! [`limits`] → [`validate`] → [`normalize`] → [`plan`] (parse to plan once
//! per document and operation name: their result is kept in a bounded
//! [`cache`]) → [`coerce_variables`] → [`authorize`] → [`execute`] →
//! [`write`].
//!
//! A request that fails before execution is answered without `data`; one
//! that executes always has `data`, with `null`s and errors (each with its
//! `path` and `extensions.code`) where fields failed. Introspection fields
//! are answered by the async-graphql schema built beside the model; nothing
//! else of a request goes through it.

pub mod authorize;
pub mod cache;
pub mod coerce_variables;
pub mod execute;
pub(crate) mod keyed;
pub mod limits;
pub mod normalize;
pub mod parse;
pub mod persisted;
pub(crate) mod placed;
pub mod plan;
pub(crate) mod subgraph;
pub mod validate;
pub mod write;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use self::authorize::Denied;
use self::cache::PlanCache;
use self::coerce_variables::Variables;
use self::execute::{Context, Found, Results, Slot, slot_key};
use self::plan::Plan;
use crate::auth::Identity;
use crate::config::LimitsConfig;
use crate::error::{GraphqlError, PathSegment, codes};
use crate::events::EventBus;
use crate::json::Doc;
use crate::metrics::Metrics;
use crate::schema::model::Model;
use crate::sources::batching::{Calls, Recording};
use crate::template::Caller;

/// A GraphQL request as clients send it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphqlRequest {
    /// The document.
    #[serde(default)]
    pub query: String,
    /// The operation to run, when the document has several.
    #[serde(default)]
    pub operation_name: Option<String>,
    /// The variables (`null` counts as none).
    #[serde(default, deserialize_with = "object_or_null")]
    pub variables: Map<String, Value>,
    /// Protocol extensions (`null` counts as none).
    #[serde(default, deserialize_with = "object_or_null")]
    pub extensions: Map<String, Value>,
    /// The client's headers that sources forward (`forward_headers`); set
    /// by the transport, not read from the body.
    #[serde(skip)]
    pub headers: http::HeaderMap,
    /// The caller, as the transport identified it.
    #[serde(skip)]
    pub identity: Identity,
    /// The WebSocket `connection_init` payload, on a WebSocket.
    #[serde(skip)]
    pub connection: Option<Arc<Value>>,
}

fn object_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Map<String, Value>, D::Error> {
    Ok(Option::<Map<String, Value>>::deserialize(deserializer)?.unwrap_or_default())
}

/// `extensions.weft.resumeFrom`: the cursor a subscription resumes after;
/// a value that is not a string is refused with `CURSOR_INVALID`.
fn resume_point(request: &GraphqlRequest) -> Result<Option<String>, GraphqlError> {
    let cursor = request
        .extensions
        .get("weft")
        .and_then(|weft| weft.get("resumeFrom"));
    match cursor {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(cursor)) => Ok(Some(cursor.clone())),
        Some(other) => Err(GraphqlError::new(
            format!("`extensions.weft.resumeFrom` must be a cursor string, not `{other}`"),
            codes::CURSOR_INVALID,
        )),
    }
}

/// What a subscription's root field is for one event.
enum RootEvent<'a> {
    /// Its value.
    Value(Arc<Doc>),
    /// A subgraph's GraphQL response, the value at the path given.
    Answer(Arc<Doc>, &'a [String]),
}

/// A response: `data` as JSON bytes (absent when the request never ran),
/// the errors, and extensions.
#[derive(Debug, Default)]
pub struct Response {
    /// `data`, written; `None` when the request failed before execution.
    pub data: Option<Vec<u8>>,
    /// Every error, in the order met.
    pub errors: Vec<GraphqlError>,
    /// `extensions`, if any.
    pub extensions: Option<Value>,
    /// How many backend calls answering it took.
    pub calls: usize,
}

impl Response {
    /// A response to a request that could not run.
    pub fn refused(errors: Vec<GraphqlError>) -> Self {
        Self {
            data: None,
            errors,
            extensions: None,
            calls: 0,
        }
    }

    /// Whether the request failed before it executed (or was cut off).
    pub fn never_executed(&self) -> bool {
        self.data.is_none()
    }

    /// Whether the request ran out of time.
    pub fn timed_out(&self) -> bool {
        self.never_executed()
            && self
                .errors
                .first()
                .is_some_and(|error| error.code() == codes::REQUEST_TIMEOUT)
    }

    /// The response as JSON text.
    pub fn to_bytes(&self) -> Vec<u8> {
        let data = self.data.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(data.len() + 64);
        out.extend_from_slice(head(self.data.is_some()));
        out.extend_from_slice(data);
        self.write_tail(self.data.is_some(), &mut out);
        out
    }

    /// [`Self::to_bytes`] in three parts, `data` in the middle, not
    /// copied: a large response's copy cost as much as writing it.
    pub fn into_parts(mut self) -> [Bytes; 3] {
        let data = self.data.take();
        let mut tail = Vec::with_capacity(64);
        self.write_tail(data.is_some(), &mut tail);
        [
            Bytes::from_static(head(data.is_some())),
            Bytes::from(data.unwrap_or_default()),
            Bytes::from(tail),
        ]
    }

    /// What follows `data`: the errors, the extensions and the closing
    /// brace.
    fn write_tail(&self, has_data: bool, out: &mut Vec<u8>) {
        if !self.errors.is_empty() {
            if has_data {
                out.push(b',');
            }
            out.extend_from_slice(b"\"errors\":");
            let _ = serde_json::to_writer(&mut *out, &self.errors);
        }
        if let Some(extensions) = &self.extensions {
            out.extend_from_slice(b",\"extensions\":");
            let _ = serde_json::to_writer(&mut *out, extensions);
        }
        out.push(b'}');
    }
}

/// What precedes a response's `data`.
fn head(has_data: bool) -> &'static [u8] {
    if has_data { b"{\"data\":" } else { b"{" }
}

/// A planned request with its coerced variables, ready to run (once, or
/// once per event of a subscription).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The plan, shared with the cache.
    pub plan: Arc<Plan>,
    /// The coerced variables.
    pub variables: Arc<Variables>,
    /// The client's headers.
    pub headers: Arc<http::HeaderMap>,
    /// The fields the caller may not read.
    pub denied: Arc<Denied>,
    /// The caller.
    pub identity: Identity,
    /// The WebSocket `connection_init` payload, on a WebSocket.
    pub connection: Option<Arc<Value>>,
    /// The cursor a subscription resumes after
    /// (`extensions.weft.resumeFrom`), as the client sent it.
    pub resume_from: Option<String>,
}

impl Prepared {
    /// What templates may read of the request as a whole.
    pub fn caller(&self) -> Caller<'_> {
        Caller {
            headers: Some(&self.headers),
            connection: self.connection.as_deref(),
            claims: self.identity.claims(),
            variables: Some(&self.variables),
        }
    }
}

/// Everything the pipeline needs, built once at start-up.
pub struct Pipeline {
    model: Model,
    introspection: async_graphql::dynamic::Schema,
    validator: validate::Validator,
    cache: PlanCache,
    metrics: Arc<Metrics>,
    settings: Settings,
    persisted: persisted::Persisted,
}

/// How the pipeline treats requests, from `[limits]` and `[server]`.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The operation limits.
    pub limits: LimitsConfig,
    /// Whether `__schema` and `__type` are answered.
    pub introspection: bool,
    /// How long one run (a query, a mutation, a subscription's event) may
    /// take before it is answered with `REQUEST_TIMEOUT` alone.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").finish_non_exhaustive()
    }
}

/// Keeps the first `max - 1` of `errors` and, in the last place, one that
/// says how many more there were.
fn cap_errors(errors: &mut Vec<GraphqlError>, max: usize) {
    if errors.len() <= max {
        return;
    }
    let left_out = errors.len() - (max - 1);
    errors.truncate(max - 1);
    errors.push(GraphqlError::new(
        format!("{left_out} more errors are left out of this response"),
        codes::ERRORS_TRUNCATED,
    ));
}

/// How many plans the cache keeps.
pub const PLAN_CACHE_SIZE: usize = 1024;

impl Pipeline {
    /// A pipeline over `model`, with `introspection` answering introspection.
    pub fn new(
        model: Model,
        introspection: async_graphql::dynamic::Schema,
        metrics: Arc<Metrics>,
        settings: Settings,
        persisted: persisted::Persisted,
    ) -> Result<Self, String> {
        let validator = validate::Validator::new(&introspection.sdl())?;
        Ok(Self {
            model,
            introspection,
            validator,
            cache: PlanCache::new(PLAN_CACHE_SIZE),
            metrics,
            settings,
            persisted,
        })
    }

    /// The schema model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The public schema as SDL.
    pub fn sdl(&self) -> String {
        self.introspection.sdl()
    }

    /// The plan of the document's operation: from the cache, or parsed,
    /// checked, validated, normalized and planned now.
    pub fn plan(
        &self,
        query: &str,
        operation: Option<&str>,
    ) -> Result<Arc<Plan>, Vec<GraphqlError>> {
        let cached = self.cache.get(query, operation);
        self.metrics.plan_cache(cached.is_some());
        let plan = if let Some(plan) = cached {
            plan
        } else {
            let plan = Arc::new(self.plan_anew(query, operation)?);
            self.cache.insert(query, operation, plan.clone());
            plan
        };
        if plan.introspection.is_some() && !self.settings.introspection {
            return Err(vec![GraphqlError::new(
                "introspection is turned off on this gateway",
                codes::INTROSPECTION_DISABLED,
            )]);
        }
        Ok(plan)
    }

    fn plan_anew(&self, query: &str, operation: Option<&str>) -> Result<Plan, Vec<GraphqlError>> {
        let limits = &self.settings.limits;
        let document = parse::parse(query, limits).map_err(|error| vec![error])?;
        limits::check(&document, limits).map_err(|error| vec![error])?;
        self.validator.validate(&document)?;
        let operation_plan = normalize::normalize(&self.model, &document, operation, limits)
            .map_err(|error| vec![error])?;
        Ok(plan::plan(operation_plan, &document, query, &self.model))
    }

    /// Plans the request and coerces its variables.
    pub fn prepare(&self, request: &GraphqlRequest) -> Result<Prepared, Vec<GraphqlError>> {
        let document = self
            .persisted
            .document(request)
            .map_err(|error| vec![error])?;
        let plan = self.plan(&document, request.operation_name.as_deref())?;
        let variables =
            coerce_variables::coerce(&self.model, &plan.operation.variables, &request.variables)?;
        let denied = Denied::of(&plan.guarded, &request.identity);
        if plan.operation.kind == normalize::OperationKind::Subscription
            && let Some(field) = plan.operation.selection.fields.first()
            && let Some(error) = denied.get(field.id)
        {
            let error = error.clone().at(vec![PathSegment::Key(field.key.clone())]);
            return Err(vec![error]);
        }
        let resume_from = if plan.operation.kind == normalize::OperationKind::Subscription {
            resume_point(request).map_err(|error| vec![error])?
        } else {
            None
        };
        Ok(Prepared {
            plan,
            variables: Arc::new(variables),
            headers: Arc::new(request.headers.clone()),
            denied: Arc::new(denied),
            identity: request.identity.clone(),
            connection: request.connection.clone(),
            resume_from,
        })
    }

    /// Runs a prepared query or mutation; `recording` says whether the
    /// response lists the backend calls made (`extensions.weft.calls`).
    pub async fn run(
        &self,
        prepared: &Prepared,
        bus: &Arc<dyn EventBus>,
        recording: Recording,
    ) -> Response {
        self.bounded(Box::pin(self.run_with(prepared, bus, recording, None)))
            .await
    }

    /// Runs a subscription's selection for one event: `event` is the root
    /// field's value.
    pub async fn run_event(
        &self,
        prepared: &Prepared,
        bus: &Arc<dyn EventBus>,
        event: Arc<Doc>,
    ) -> Response {
        self.bounded(Box::pin(self.run_with(
            prepared,
            bus,
            Recording::Off,
            Some(RootEvent::Value(event)),
        )))
        .await
    }

    /// Runs a subscription's selection for one result of a subgraph's
    /// subscription: `answer` is a GraphQL response, the root field's
    /// value at `response` (`data.<key>`), its errors placed at their
    /// paths.
    pub async fn run_answer(
        &self,
        prepared: &Prepared,
        bus: &Arc<dyn EventBus>,
        answer: Arc<Doc>,
        response: &[String],
    ) -> Response {
        let event = RootEvent::Answer(answer, response);
        self.bounded(Box::pin(self.run_with(
            prepared,
            bus,
            Recording::Off,
            Some(event),
        )))
        .await
    }

    /// `run` within `[server] request_timeout_ms`. A run's future is large
    /// (every stage's state): callers box it, so that it is not copied
    /// each time the futures around it move.
    async fn bounded(&self, run: impl Future<Output = Response>) -> Response {
        let limit = self.settings.request_timeout;
        tokio::time::timeout(limit, run).await.unwrap_or_else(|_| {
            Response::refused(vec![GraphqlError::new(
                format!("the request took longer than {} ms", limit.as_millis()),
                codes::REQUEST_TIMEOUT,
            )])
        })
    }

    async fn run_with(
        &self,
        prepared: &Prepared,
        bus: &Arc<dyn EventBus>,
        recording: Recording,
        event: Option<RootEvent<'_>>,
    ) -> Response {
        let plan = &prepared.plan;
        let root = Doc::empty_object();
        let mut results = Results::with_capacity(plan.slot_hint.load(Ordering::Relaxed));
        if let (Some(event), Some(field)) = (event, plan.operation.selection.fields.first()) {
            let key = slot_key(root.root(), field);
            match event {
                RootEvent::Value(event) => results.insert(key, Slot::One(Found::whole(event))),
                RootEvent::Answer(answer, response) => {
                    execute::file_answer(&mut results, key, answer, response);
                }
            }
        }
        let mut calls = Calls::new(recording);
        let context = Context {
            variables: &prepared.variables,
            caller: prepared.caller(),
            max_calls: self.settings.limits.max_calls,
            bus,
            denied: &prepared.denied,
        };
        execute::execute(plan, root.root(), &context, &mut results, &mut calls).await;
        plan.slot_hint.store(results.len(), Ordering::Relaxed);
        let mut errors = Vec::new();
        let introspection = match &plan.introspection {
            Some(document) => Some(self.introspect(document, prepared, &mut errors).await),
            None => None,
        };
        let (data, field_errors) = write::write(
            &plan.operation,
            root.root(),
            &results,
            &prepared.variables,
            &prepared.denied,
            introspection.as_ref(),
            plan.size_hint.load(Ordering::Relaxed),
        );
        plan.size_hint
            .store(data.len() + data.len() / 8, Ordering::Relaxed);
        errors.extend(field_errors);
        cap_errors(&mut errors, self.settings.limits.max_errors);
        let extensions = calls.records().map(
            |calls| serde_json::json!({ "weft": { "callCount": calls.len(), "calls": calls } }),
        );
        Response {
            data: Some(data),
            errors,
            extensions,
            calls: calls.made(),
        }
    }

    /// Answers the introspection fields with the async-graphql schema.
    async fn introspect(
        &self,
        document: &str,
        prepared: &Prepared,
        errors: &mut Vec<GraphqlError>,
    ) -> Value {
        let variables =
            async_graphql::Variables::from_json(Value::Object(Map::clone(&prepared.variables)));
        let mut request = async_graphql::Request::new(document).variables(variables);
        if let Some(name) = &prepared.plan.operation.name {
            request = request.operation_name(name);
        }
        let response = self.introspection.execute(request).await;
        for error in response.errors {
            let located = error.locations.iter().fold(
                GraphqlError::new(error.message, codes::VALIDATION_FAILED),
                |graphql, pos| graphql.located(pos.line, pos.column),
            );
            errors.push(located);
        }
        response.data.into_json().unwrap_or(Value::Null)
    }
}
