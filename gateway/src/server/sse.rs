//! GraphQL over Server-Sent Events, in the graphql-sse "distinct
//! connections" mode: a `POST /graphql` (JSON body) or `GET /graphql?query=…`
//! with `Accept: text/event-stream` runs one operation on its own
//! connection. Each result is an `event: next`, the end an `event: complete`;
//! closing the connection cancels the operation.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::Gateway;
use crate::error::GraphqlError;
use crate::pipeline::Prepared;
use crate::subscriptions;

/// Whether the client asks for an event stream.
pub fn wanted(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/event-stream"))
}

/// Streams the operation's results as SSE.
pub fn stream(gateway: Arc<Gateway>, prepared: Result<Prepared, Vec<GraphqlError>>) -> Response {
    let active = gateway.metrics.subscription_started();
    let responses = subscriptions::run(&gateway, prepared).take_until(gateway.shutting_down());
    let next = responses.map(|response| {
        let data = String::from_utf8_lossy(&response.to_bytes()).into_owned();
        Ok::<_, Infallible>(Event::default().event("next").data(data))
    });
    let complete = futures::stream::once(async move {
        drop(active);
        Ok(Event::default().event("complete").data(""))
    });
    Sse::new(next.chain(complete))
        .keep_alive(KeepAlive::new().interval(gateway.subscriptions.keepalive))
        .into_response()
}
