//! The resolvers of `Subscription` fields, and of mutation fields that
//! publish.
//!
//! - `@event(topic:, filter:)`: subscribes to a bus topic; each event's JSON
//!   payload becomes the field's value, and nested fields resolve through
//!   their own directives, batched per event.
//! - `@grpc` on a server-streaming method: each message is an event; the
//!   upstream call is cancelled when the subscription ends.
//! - `@publish(topic:, payload:)` on a mutation: publishes the payload (by
//!   default the field's result, or its arguments when it has no backend).

use std::sync::Arc;

use async_graphql::ErrorExtensions;
use async_graphql::dynamic::{
    Field, FieldValue, ResolverContext, SubscriptionField, SubscriptionFieldFuture, TypeRef,
};
use futures::{FutureExt, Stream, StreamExt};
use prost_reflect::MethodDescriptor;
use serde_json::Value;

use crate::error::SourceError;
use crate::events::{Delivery, EventBus};
use crate::schema::output::{Shape, ShapeKind, to_field_value};
use crate::schema::resolve::{
    FieldResult, arguments, bad_response, fallible_field, select, source_error,
};
use crate::sources::batching::EventScope;
use crate::sources::grpc::GrpcSource;
use crate::template::{StringTemplate, ValueTemplate, Vars};

/// The code of the error a subscriber gets when it fell too far behind.
pub const TOO_SLOW: &str = "SUBSCRIBER_TOO_SLOW";
/// The code of the error raised when the event bus cannot be reached.
pub const BUS_UNAVAILABLE: &str = "EVENT_BUS_UNAVAILABLE";

/// A subscription field fed by bus events.
#[derive(Debug)]
pub struct EventPlan {
    /// The topic, rendered from the arguments.
    pub topic: StringTemplate,
    /// Entries every delivered event must match.
    pub filter: Option<ValueTemplate>,
    /// The field's declared type.
    pub shape: Shape,
}

/// A subscription field fed by a gRPC server stream.
#[derive(Debug)]
pub struct StreamPlan {
    /// The source to call.
    pub source: Arc<GrpcSource>,
    /// The server-streaming method.
    pub method: MethodDescriptor,
    /// The request message.
    pub request: ValueTemplate,
    /// The path of the value in each message.
    pub response: Vec<String>,
    /// The field's declared type.
    pub shape: Shape,
}

/// What a mutation publishes.
#[derive(Debug)]
pub struct PublishPlan {
    /// The topic, rendered from the arguments.
    pub topic: StringTemplate,
    /// The payload; `None` publishes the field's result.
    pub payload: Option<ValueTemplate>,
}

impl PublishPlan {
    /// The payload template rendered, or `default` without one.
    pub fn payload(&self, args: &Value, default: &Value) -> Value {
        match &self.payload {
            Some(payload) => payload.render(&Vars::field(args, None)),
            None => default.clone(),
        }
    }

    /// Publishes `payload` on the topic rendered from `args`.
    pub async fn publish(
        &self,
        ctx: &ResolverContext<'_>,
        args: &Value,
        payload: Value,
    ) -> async_graphql::Result<()> {
        let vars = Vars::field(args, None);
        let topic = self
            .topic
            .render_raw(&vars)
            .map_err(|reason| bad_request(&reason))?;
        bus(ctx)?
            .publish(&topic, payload)
            .await
            .map_err(|error| bus_error(&error))
    }
}

fn bus<'c>(ctx: &ResolverContext<'c>) -> async_graphql::Result<&'c Arc<dyn EventBus>> {
    ctx.data::<Arc<dyn EventBus>>()
}

fn bus_error(error: &crate::events::BusError) -> async_graphql::Error {
    tracing::warn!("{error}");
    async_graphql::Error::new("the event bus is unavailable")
        .extend_with(|_, e| e.set("code", BUS_UNAVAILABLE))
}

fn bad_request(reason: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("cannot build the topic: {reason}"))
        .extend_with(|_, e| e.set("code", "BAD_REQUEST"))
}

fn too_slow(missed: u64) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "the subscriber fell {missed} events behind and was dropped; subscribe again"
    ))
    .extend_with(|_, e| e.set("code", TOO_SLOW))
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

/// Starts a new per-event call scope before each item is resolved.
fn per_event<S: Stream>(
    ctx: &ResolverContext<'_>,
    stream: S,
) -> impl Stream<Item = S::Item> + use<S> {
    let events = ctx.data_opt::<Arc<EventScope>>().cloned();
    stream.inspect(move |_| {
        if let Some(events) = &events {
            events.renew();
        }
    })
}

/// A mutation field without a backend that publishes its payload (by
/// default its arguments) and returns it (or `true` for a `Boolean` field).
pub fn publish_field(name: &str, ty: TypeRef, plan: Arc<PublishPlan>, shape: Shape) -> Field {
    let plan = Arc::new((plan, shape));
    fallible_field(name, ty, plan, |ctx, plan| {
        publish_only(ctx, &plan.0, &plan.1).boxed()
    })
}

async fn publish_only(ctx: &ResolverContext<'_>, plan: &PublishPlan, shape: &Shape) -> FieldResult {
    let args = arguments(ctx)?;
    let payload = plan.payload(&args, &args);
    plan.publish(ctx, &args, payload.clone()).await?;
    let value = if matches!(shape.kind, ShapeKind::Boolean) {
        Value::Bool(true)
    } else {
        payload
    };
    to_field_value(Some(value), shape).map_err(bad_response)
}

/// A subscription field fed by bus events.
pub fn event_field(name: &str, ty: TypeRef, plan: Arc<EventPlan>) -> SubscriptionField {
    SubscriptionField::new(name, ty, move |ctx| {
        let plan = plan.clone();
        SubscriptionFieldFuture::new(async move {
            let args = arguments(&ctx)?;
            let vars = Vars::field(&args, None);
            let topic = plan
                .topic
                .render_raw(&vars)
                .map_err(|reason| bad_request(&reason))?;
            let filter = plan.filter.as_ref().map(|filter| filter.render(&vars));
            let deliveries = bus(&ctx)?
                .subscribe(&topic)
                .await
                .map_err(|error| bus_error(&error))?;
            let events = deliveries.filter_map(move |delivery| {
                let item = match delivery {
                    Delivery::Event(event)
                        if filter.as_ref().is_none_or(|filter| matches(&event, filter)) =>
                    {
                        Some(Ok(event))
                    }
                    Delivery::Event(_) => None,
                    Delivery::Lagged(missed) => Some(Err(too_slow(missed))),
                };
                futures::future::ready(item)
            });
            let shape = plan.shape.clone();
            Ok(per_event(&ctx, events).map(move |event| {
                let event: Arc<Value> = event?;
                let event = Value::clone(&event);
                to_value(to_field_value(Some(event), &shape))
            }))
        })
    })
}

/// A subscription field fed by a gRPC server stream.
pub fn stream_field(name: &str, ty: TypeRef, plan: Arc<StreamPlan>) -> SubscriptionField {
    SubscriptionField::new(name, ty, move |ctx| {
        let plan = plan.clone();
        SubscriptionFieldFuture::new(async move {
            let args = arguments(&ctx)?;
            let request = plan.request.render(&Vars::field(&args, None));
            let messages = plan
                .source
                .server_stream(&plan.method, request)
                .await
                .map_err(|error: SourceError| source_error(&error))?;
            let plan = plan.clone();
            Ok(per_event(&ctx, messages).map(move |message| {
                let message = message.map_err(|error| source_error(&error))?;
                to_value(to_field_value(select(message, &plan.response), &plan.shape))
            }))
        })
    })
}

fn to_value(
    converted: Result<Option<FieldValue<'static>>, String>,
) -> async_graphql::Result<FieldValue<'static>> {
    Ok(converted.map_err(bad_response)?.unwrap_or(FieldValue::NULL))
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
