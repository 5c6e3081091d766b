//! Subscriptions: turning bus events and gRPC server streams into GraphQL
//! subscription events, and running subscription operations for the
//! WebSocket and SSE transports.
//!
//! [`fields`] holds the resolvers. [`run`] executes one operation (a
//! subscription, or a query or mutation sent over a subscription transport)
//! as a stream of responses, each event resolved with its own batching scope.
//! Each subscriber has a bounded buffer at the bus; a subscriber that falls
//! behind gets an error event with code `SUBSCRIBER_TOO_SLOW` and its
//! subscription ends, without slowing the publisher or other subscribers.

pub mod fields;

use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::Gateway;
use crate::sources::batching::EventScope;

/// The payload of `connection_init`, available to resolvers as request data.
#[derive(Debug, Clone, Default)]
pub struct ConnectionInit(pub serde_json::Value);

/// Runs one operation as a stream of responses.
pub fn run(
    gateway: &Arc<Gateway>,
    request: async_graphql::Request,
    init: Option<ConnectionInit>,
) -> BoxStream<'static, async_graphql::Response> {
    let (query, operation) = (request.query.clone(), request.operation_name.clone());
    let event = Arc::new(EventScope::default());
    let mut request = request.data(event.clone());
    if let Some(init) = init {
        request = request.data(init);
    }
    let gateway = gateway.clone();
    let responses = gateway.schema.execute_stream(request);
    responses
        .map(move |mut response| {
            response.errors.extend(event.take_errors());
            gateway.complete(&mut response, &query, operation.as_deref());
            response
        })
        .boxed()
}
