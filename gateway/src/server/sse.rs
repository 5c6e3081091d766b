//! GraphQL over Server-Sent Events, in the graphql-sse "distinct
//! connections" mode: a `POST /graphql` (JSON body) or `GET /graphql?query=…`
//! with `Accept: text/event-stream` runs one operation on its own
//! connection. Each result is an `event: next`, the end an `event: complete`;
//! closing the connection cancels the operation.
//!
//! On a bus that stores events, each result's `id:` is its event's cursor,
//! and a `Last-Event-ID` header (what a browser's `EventSource` sends when
//! it reconnects) resumes after it, as `extensions.weft.resumeFrom` does.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::Value;

use crate::Gateway;
use crate::error::GraphqlError;
use crate::pipeline::{GraphqlRequest, Prepared};
use crate::subscriptions;

/// Whether the client asks for an event stream.
pub fn wanted(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// The request, resuming after the cursor of its `Last-Event-ID` header
/// unless its body names one (`extensions.weft.resumeFrom`).
pub fn resuming(mut request: GraphqlRequest, headers: &http::HeaderMap) -> GraphqlRequest {
    let Some(last) = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
    else {
        return request;
    };
    let weft = request
        .extensions
        .entry("weft")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(weft) = weft.as_object_mut() {
        weft.entry("resumeFrom")
            .or_insert_with(|| Value::String(last.to_owned()));
    }
    request
}

/// Streams the operation's results as SSE.
pub fn stream(gateway: Arc<Gateway>, prepared: Result<Prepared, Vec<GraphqlError>>) -> Response {
    let active = gateway.metrics.subscription_started();
    let responses = subscriptions::run(&gateway, prepared).take_until(gateway.shutting_down());
    let next = responses.map(|response| {
        let data = String::from_utf8_lossy(&response.to_bytes()).into_owned();
        let event = Event::default().event("next").data(data);
        let event = match subscriptions::cursor(&response) {
            Some(cursor) => event.id(cursor),
            None => event,
        };
        Ok::<_, Infallible>(event)
    });
    let complete = futures::stream::once(async move {
        drop(active);
        Ok(Event::default().event("complete").data(""))
    });
    Sse::new(next.chain(complete))
        .keep_alive(KeepAlive::new().interval(gateway.subscriptions.keepalive))
        .into_response()
}
