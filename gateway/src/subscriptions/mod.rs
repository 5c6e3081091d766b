//! Subscriptions: bus events and gRPC server streams → a stream of
//! responses, each event run through the operation's cached plan with a
//! fresh call scope (its fields batch with each other, never with an
//! earlier event).
//!
//! - `@event(topic:, filter:, protobuf:)`: each event's JSON payload (or,
//!   with `protobuf:`, the protobuf message in its bytes, read as JSON:
//!   [`payload`]) that matches the filter is the root field's value.
//! - `@grpc` on a server-streaming method: each message (at `response:`)
//!   is an event; the upstream call is cancelled when the stream is dropped.
//! - a GraphQL subgraph's `Subscription` field: each subscriber opens its
//!   own graphql-transport-ws subscription to the subgraph
//!   (`sources::graphql_ws`); each `next` result is an event, its errors
//!   placed at their paths like a query's. The subgraph's `error` is a
//!   last result and `complete` ends the subscription; a connection that
//!   goes away ends it with `SOURCE_UNAVAILABLE`. A subscriber that
//!   leaves completes the upstream subscription.
//!
//! - `@event(initial:, version:)`: the subscriber first gets the current
//!   state, fetched after subscribing, then the events not already
//!   reflected in it ([`initial`]).
//!
//! Subscribers of one subscription share each bus event's response
//! ([`shared`]): an event costs one run per distinct subscription. The
//! initial state is each subscriber's own and is never shared.
//!
//! Queries and mutations sent over a subscription transport run once. Each
//! subscriber has a bounded buffer at the bus; a subscriber that falls
//! behind gets an error with code `SUBSCRIBER_TOO_SLOW` and its
//! subscription ends, without slowing the publisher or other subscribers.
//!
//! Cursors: on a bus that stores events (JetStream), every result carries
//! its event's cursor in `extensions.weft.cursor` (SSE also writes it as
//! the event's `id:`). A subscription whose request names one
//! (`extensions.weft.resumeFrom`, or SSE's `Last-Event-ID`) first gets
//! every event after it; the bus refuses a cursor it cannot resume from
//! (`RESUME_UNSUPPORTED`, `CURSOR_INVALID`, `CURSOR_EXPIRED`). An event the
//! `@event` filter passes over sends nothing: the next result's cursor is
//! its own event's, so resuming re-reads the skipped events and passes
//! over them again.

mod initial;
mod payload;
pub(crate) mod shared;

use std::sync::Arc;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use serde_json::Value;

use crate::Gateway;
use crate::error::{GraphqlError, PathSegment, codes};
use crate::events::{Cursor, Delivery};
use crate::json::{Doc, Json, find};
use crate::pipeline::normalize::{FieldKind, OperationKind};
use crate::pipeline::{Prepared, Response};
use crate::schema::model::{Binding, EventPlan, StreamPlan};
use crate::sources::batching::Recording;
use crate::sources::graphql::SubgraphSubscription;
use crate::template::Vars;
use payload::Published;

/// Runs one prepared operation as a stream of responses. A response
/// without `data` means the operation could not start.
pub fn run(
    gateway: &Arc<Gateway>,
    prepared: Result<Prepared, Vec<GraphqlError>>,
) -> BoxStream<'static, Arc<Response>> {
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(errors) => return once(Response::refused(errors)),
    };
    if prepared.plan.operation.kind != OperationKind::Subscription {
        let gateway = gateway.clone();
        return futures::stream::once(async move {
            let response = gateway
                .served()
                .pipeline
                .run(&prepared, &gateway.bus, Recording::Off)
                .await;
            Arc::new(response)
        })
        .boxed();
    }
    let gateway = gateway.clone();
    futures::stream::once(async move {
        match open(&gateway, &prepared).await {
            Ok(events) => per_event(gateway, prepared, events).boxed(),
            Err(error) => once(Response::refused(vec![error])),
        }
    })
    .flatten()
    .boxed()
}

fn once(response: Response) -> BoxStream<'static, Arc<Response>> {
    futures::stream::once(async move { Arc::new(response) }).boxed()
}

/// What the root field's value comes from.
enum Occurrence {
    /// A bus event, handed to every local subscriber of its topic (with
    /// its cursor, when the bus stores events).
    Published(Published, Option<Cursor>),
    /// A message of this subscriber's own gRPC stream.
    Streamed(Arc<Doc>),
    /// The current state this subscriber gets first (`@event(initial:)`).
    State(Arc<Doc>),
    /// A result of this subscriber's own subgraph subscription: a GraphQL
    /// response, the root field's value at `data.<key>`.
    Answered(Arc<Doc>, Arc<SubgraphSubscription>),
}

/// An event, or the error that ends the subscription.
type Event = Result<Occurrence, GraphqlError>;

/// The cursor of the event a subscription result answers
/// (`extensions.weft.cursor`), on a bus that stores events.
pub fn cursor(response: &Response) -> Option<&str> {
    response
        .extensions
        .as_ref()?
        .pointer("/weft/cursor")?
        .as_str()
}

/// `response` with `cursor` in `extensions.weft.cursor`.
fn with_cursor(mut response: Response, cursor: Cursor) -> Response {
    let mut extensions = response
        .extensions
        .take()
        .unwrap_or_else(|| Value::Object(serde_json::Map::new()));
    if let Some(extensions) = extensions.as_object_mut() {
        let weft = extensions
            .entry("weft")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(weft) = weft.as_object_mut() {
            weft.insert("cursor".to_owned(), Value::String(cursor.to_string()));
        }
    }
    response.extensions = Some(extensions);
    response
}

/// Opens the root field's event source.
async fn open(
    gateway: &Gateway,
    prepared: &Prepared,
) -> Result<BoxStream<'static, Event>, GraphqlError> {
    let root = prepared.plan.operation.selection.fields.first();
    let (Some(field), Some(root)) = (root, root.map(|field| &field.kind)) else {
        return Err(GraphqlError::new(
            "the subscription selects no field",
            codes::BAD_REQUEST,
        ));
    };
    let FieldKind::Schema(definition) = root else {
        return Err(GraphqlError::new(
            "a subscription's root field must be a field of the schema",
            codes::VALIDATION_FAILED,
        ));
    };
    let args = field.args.render(&prepared.variables).into_owned();
    let resume_from = prepared.resume_from.as_deref();
    let opened = match &definition.binding {
        Binding::Event(plan) => {
            let events = bus_events(gateway, plan, &args, resume_from).await;
            match (&plan.initial, events) {
                // A resumed subscriber has had the state: it goes on from its cursor.
                (Some(initial), Ok(events)) if resume_from.is_none() => {
                    let at = (&args, field.key.as_str());
                    Ok(initial::state_then_events(gateway, prepared, initial, at, events).await)
                }
                (_, events) => events,
            }
        }
        Binding::Stream(_) if resume_from.is_some() => Err(GraphqlError::new(
            "a gRPC stream keeps no events, so this subscription cannot resume; \
             subscribe without a cursor",
            codes::RESUME_UNSUPPORTED,
        )),
        Binding::Stream(plan) => stream_messages(plan, &args, &prepared.headers).await,
        Binding::SubgraphStream(_) if resume_from.is_some() => Err(GraphqlError::new(
            "a subgraph's subscription keeps no events, so it cannot resume; \
             subscribe without a cursor",
            codes::RESUME_UNSUPPORTED,
        )),
        Binding::SubgraphStream(plan) => subgraph_results(plan, prepared, &field.key).await,
        _ => Err(GraphqlError::new(
            "this field cannot be subscribed to",
            codes::VALIDATION_FAILED,
        )),
    };
    opened.map_err(|error| error.at(vec![PathSegment::Key(field.key.clone())]))
}

async fn bus_events(
    gateway: &Gateway,
    plan: &Arc<EventPlan>,
    args: &Value,
    resume_from: Option<&str>,
) -> Result<BoxStream<'static, Event>, GraphqlError> {
    let vars = Vars::field(args, None);
    let topic = plan
        .topic
        .render_raw(&vars)
        .map_err(|reason| GraphqlError::topic(&reason))?;
    let filter = plan.filter.as_ref().map(|filter| filter.render(&vars));
    let deliveries = gateway
        .bus
        .subscribe_after(&topic, resume_from)
        .await
        .map_err(|error| GraphqlError::from(&error))?;
    let plan = plan.clone();
    let events = deliveries.filter_map(move |delivery| {
        let read = |event| {
            payload::read(event, plan.message.as_ref(), &topic)
                .filter(|event| filter.as_ref().is_none_or(|f| matches(event.value(), f)))
        };
        let item = match delivery {
            Delivery::Event(event) => {
                read(event).map(|event| Ok(Occurrence::Published(event, None)))
            }
            Delivery::Stored(event, cursor) => {
                read(event).map(|event| Ok(Occurrence::Published(event, Some(cursor))))
            }
            Delivery::Lagged(missed) => Some(Err(GraphqlError::new(
                format!(
                    "the subscriber fell {missed} events behind and was dropped; subscribe again"
                ),
                codes::SUBSCRIBER_TOO_SLOW,
            ))),
        };
        futures::future::ready(item)
    });
    Ok(events.boxed())
}

async fn stream_messages(
    plan: &Arc<StreamPlan>,
    args: &Value,
    headers: &http::HeaderMap,
) -> Result<BoxStream<'static, Event>, GraphqlError> {
    let request = plan.request.render(&Vars::field(args, None));
    let metadata = plan.source.forwarded(Some(headers));
    let messages = plan
        .source
        .server_stream(&plan.method, request, metadata)
        .await
        .map_err(|error| GraphqlError::from(&error))?;
    let plan = plan.clone();
    Ok(messages
        .map(move |message| match message {
            Ok(message) => Ok(Occurrence::Streamed(Arc::new(
                find(message.root(), &plan.response).map_or_else(Doc::null, Json::to_doc),
            ))),
            Err(error) => Err(GraphqlError::from(&error)),
        })
        .boxed())
}

/// The results of a subgraph's subscription for the root field at `key`;
/// the connection's end is an error at that field.
async fn subgraph_results(
    plan: &Arc<SubgraphSubscription>,
    prepared: &Prepared,
    key: &str,
) -> Result<BoxStream<'static, Event>, GraphqlError> {
    let results = plan
        .open(prepared.caller())
        .await
        .map_err(|error| GraphqlError::from(&error))?;
    let (plan, path) = (plan.clone(), vec![PathSegment::Key(key.to_owned())]);
    Ok(results
        .map(move |result| match result {
            Ok(answer) => Ok(Occurrence::Answered(answer, plan.clone())),
            Err(error) => Err(GraphqlError::from(&error).at(path.clone())),
        })
        .boxed())
}

/// Runs the plan for each event; an error event ends the stream after it
/// is reported.
fn per_event(
    gateway: Arc<Gateway>,
    prepared: Prepared,
    events: BoxStream<'static, Event>,
) -> impl Stream<Item = Arc<Response>> {
    let key = shared::share_key(&prepared);
    let prepared = Arc::new(prepared);
    events
        .scan(false, |ended, event| {
            let item = (!*ended).then(|| {
                *ended = event.is_err();
                event
            });
            futures::future::ready(item)
        })
        .then(move |event| {
            let (gateway, prepared, key) = (gateway.clone(), prepared.clone(), key.clone());
            async move {
                match event {
                    Ok(Occurrence::Published(event, Some(cursor))) => {
                        // Each subscriber reads its own consumer: nothing to share.
                        let event = Arc::new(Doc::from_plain(event.value()));
                        Arc::new(with_cursor(
                            respond(&gateway, &prepared, event).await,
                            cursor,
                        ))
                    }
                    Ok(Occurrence::Published(event, None)) => {
                        let shared = gateway.shared_responses.of(&event.event, &key);
                        let made = shared.get_or_init(|| async {
                            let event = Arc::new(Doc::from_plain(event.value()));
                            Arc::new(respond(&gateway, &prepared, event).await)
                        });
                        made.await.clone()
                    }
                    Ok(Occurrence::Streamed(message) | Occurrence::State(message)) => {
                        Arc::new(respond(&gateway, &prepared, message).await)
                    }
                    Ok(Occurrence::Answered(answer, plan)) => {
                        let pipeline = &gateway.served().pipeline;
                        let response = &plan.response;
                        let run = pipeline.run_answer(&prepared, &gateway.bus, answer, response);
                        Arc::new(run.await)
                    }
                    Err(error) => Arc::new(Response {
                        data: Some(b"null".to_vec()),
                        ..Response::refused(vec![error])
                    }),
                }
            }
        })
}

/// The response to one event.
async fn respond(gateway: &Gateway, prepared: &Prepared, event: Arc<Doc>) -> Response {
    gateway
        .served()
        .pipeline
        .run_event(prepared, &gateway.bus, event)
        .await
}

/// Whether `event` carries every entry of `filter`.
fn matches(event: &Value, filter: &Value) -> bool {
    let Value::Object(entries) = filter else {
        return true;
    };
    entries
        .iter()
        .all(|(key, wanted)| match (event.get(key), wanted) {
            (Some(Value::String(got)), Value::Number(n))
            | (Some(Value::Number(n)), Value::String(got)) => *got == n.to_string(),
            (Some(got), wanted) => got == wanted,
            (None, _) => false,
        })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn filters_match_every_entry_and_ids_match_across_number_and_string() {
        let event = json!({"orderId": "7", "status": "PAID"});
        assert!(matches(&event, &json!({})));
        assert!(matches(&event, &json!({"orderId": "7"})));
        assert!(matches(&event, &json!({"orderId": 7})));
        assert!(!matches(&event, &json!({"orderId": "8"})));
        assert!(!matches(&event, &json!({"userId": "1"})));
    }
}
