//! The event bus: topics that services and mutations publish JSON events to,
//! and that subscriptions listen on.
//!
//! Four implementations behind one trait: [`in_memory::InMemoryBus`] (the
//! default, one process), [`nats::NatsBus`] (core NATS subjects),
//! [`redis::RedisBus`] (Redis pub/sub channels) and
//! [`rabbitmq::RabbitMqBus`] (routing keys on a RabbitMQ topic exchange);
//! the last three let every gateway replica see every event. All deliver to
//! local subscribers through the same [`in_memory::Hub`], which gives each
//! subscriber a bounded buffer: a subscriber that falls behind is told so
//! ([`Delivery::Lagged`]) and its stream ends, while the publisher and the
//! other subscribers carry on.

pub mod in_memory;
pub mod nats;
pub mod rabbitmq;
pub mod redis;

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::config::{BusKind, EventsConfig};

/// What a subscriber's stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// An event's payload.
    Event(Arc<Value>),
    /// The subscriber fell this many events behind and was dropped; the
    /// stream ends after this.
    Lagged(u64),
}

/// A subscription to one topic; dropping it unsubscribes.
pub type EventStream = BoxStream<'static, Delivery>;

/// Why the bus could not publish or subscribe.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the event bus is unavailable: {0}")]
pub struct BusError(pub String);

/// Opens the bus `[events]` configures.
pub async fn open(config: &EventsConfig) -> Result<Arc<dyn EventBus>, BusError> {
    Ok(match &config.kind {
        BusKind::InMemory => Arc::new(in_memory::InMemoryBus::new(config.buffer)),
        BusKind::Nats(url) => Arc::new(nats::NatsBus::connect(url, config.buffer).await?),
        BusKind::Redis(url) => Arc::new(redis::RedisBus::connect(url, config.buffer).await?),
        BusKind::RabbitMq(url) => {
            Arc::new(rabbitmq::RabbitMqBus::connect(url, &config.exchange, config.buffer).await?)
        }
    })
}

/// An event's payload as the brokers carry it: JSON bytes.
pub(crate) fn encode(payload: &Value) -> Result<Vec<u8>, BusError> {
    serde_json::to_vec(payload).map_err(|error| BusError(error.to_string()))
}

/// Publishes JSON events to topics and streams them to subscribers.
pub trait EventBus: Send + Sync + fmt::Debug {
    /// Publishes `payload` on `topic` to every subscriber, on every replica
    /// sharing the bus.
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>>;

    /// Subscribes to `topic`; events published after the subscription is
    /// established are delivered.
    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>>;
}
