//! The event bus: topics that services and mutations publish events to,
//! and that subscriptions listen on. Publishing through [`EventBus`] writes
//! JSON; a broker may also carry other bytes (a protobuf message a service
//! published), which reach subscribers as they came ([`Payload`]).
//!
//! Six implementations behind one trait: [`in_memory::InMemoryBus`] (the
//! default, one process), [`nats::NatsBus`] (core NATS subjects),
//! [`redis::RedisBus`] (Redis pub/sub channels),
//! [`rabbitmq::RabbitMqBus`] (routing keys on a RabbitMQ topic exchange),
//! [`jetstream::JetStreamBus`] (NATS subjects stored in a JetStream
//! stream) and [`redis_streams::RedisStreamsBus`] (a Redis stream per
//! topic); all but the first let every gateway replica see every event.
//! All but JetStream deliver to local subscribers through the same
//! [`in_memory::Hub`], which gives each subscriber a bounded buffer: a
//! subscriber that falls behind is told so ([`Delivery::Lagged`]) and its
//! stream ends, while the publisher and the other subscribers carry on.
//!
//! Only a bus that stores events can resume a subscription: each event it
//! delivers carries a [`Cursor`] ([`Delivery::Stored`]), and
//! [`EventBus::subscribe_after`] starts after one. The other buses refuse a
//! cursor with [`SubscribeError::ResumeUnsupported`].

pub mod in_memory;
pub mod jetstream;
pub mod nats;
pub mod rabbitmq;
pub mod reconnect;
pub mod redis;
pub mod redis_streams;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::config::{BusKind, EventsConfig};

/// What a subscriber's stream yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// An event's payload.
    Event(Arc<Payload>),
    /// A stored event's payload, and where it stands in its stream.
    Stored(Arc<Payload>, Cursor),
    /// The subscriber fell this many events behind and was dropped; the
    /// stream ends after this.
    Lagged(u64),
}

/// One event as subscribers get it: its JSON value, and, when a broker
/// carried it, the bytes it came as. Broker bytes that are not JSON (a
/// protobuf message) have no JSON value; subscriptions that declare a
/// message type decode the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    json: Option<Value>,
    bytes: Option<Bytes>,
}

impl Payload {
    /// An event published in this process: JSON, no bytes.
    pub fn json(value: Value) -> Self {
        Self {
            json: Some(value),
            bytes: None,
        }
    }

    /// An event a broker carried as `bytes`, with their JSON value when
    /// they are JSON.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            json: serde_json::from_slice(&bytes).ok(),
            bytes: Some(bytes),
        }
    }

    /// The event as JSON, unless its bytes are not JSON.
    pub fn as_json(&self) -> Option<&Value> {
        self.json.as_ref()
    }

    /// The bytes a broker carried, unless the event was published in this
    /// process.
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }
}

/// A subscription to one topic; dropping it unsubscribes.
pub type EventStream = BoxStream<'static, Delivery>;

/// Why the bus could not publish or subscribe.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the event bus is unavailable: {0}")]
pub struct BusError(pub String);

/// Where a stored event stands in its stream: after a client has seen the
/// event, it resumes from here. Clients see it as text: decimal digits for
/// a JetStream stream sequence, `<millis>-<seq>` for a Redis stream entry
/// id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cursor {
    /// A JetStream stream sequence.
    Sequence(u64),
    /// A Redis stream entry id: milliseconds, then a sequence within them.
    Entry(u64, u64),
}

impl Cursor {
    /// The JetStream cursor `text` writes: decimal digits only.
    pub fn parse(text: &str) -> Result<Self, SubscribeError> {
        decimal(text)
            .map(Self::Sequence)
            .ok_or_else(|| SubscribeError::CursorInvalid(text.to_owned()))
    }

    /// The Redis stream entry id `text` writes: `<millis>-<seq>`, both
    /// decimal digits.
    pub fn parse_entry(text: &str) -> Result<Self, SubscribeError> {
        text.split_once('-')
            .and_then(|(millis, seq)| Some(Self::Entry(decimal(millis)?, decimal(seq)?)))
            .ok_or_else(|| SubscribeError::CursorInvalid(text.to_owned()))
    }

    /// The cursor just before this one: resuming from it delivers the
    /// event at this one first.
    #[must_use]
    pub fn before(self) -> Self {
        match self {
            Self::Sequence(sequence) => Self::Sequence(sequence.saturating_sub(1)),
            Self::Entry(0, 0) => self,
            Self::Entry(millis, 0) => Self::Entry(millis - 1, u64::MAX),
            Self::Entry(millis, seq) => Self::Entry(millis, seq - 1),
        }
    }
}

/// `text` as a `u64` written with decimal digits only (no sign, no space).
fn decimal(text: &str) -> Option<u64> {
    let digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    digits.then(|| text.parse().ok()).flatten()
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sequence(sequence) => write!(f, "{sequence}"),
            Self::Entry(millis, seq) => write!(f, "{millis}-{seq}"),
        }
    }
}

/// Why a subscription could not start.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SubscribeError {
    /// The bus cannot be reached.
    #[error(transparent)]
    Unavailable(#[from] BusError),
    /// A cursor was given to a bus that stores no events.
    #[error(
        "this gateway's event bus keeps no events, so a subscription cannot resume; \
         subscribe without a cursor"
    )]
    ResumeUnsupported,
    /// The cursor is not one this bus wrote.
    #[error("`{0}` is not a cursor of this gateway's events")]
    CursorInvalid(String),
    /// The events after the cursor are no longer all stored.
    #[error(
        "the events after cursor {cursor} are no longer stored; the oldest available is \
         {oldest} (resume from {resume} or subscribe without a cursor)",
        resume = oldest.before()
    )]
    CursorExpired {
        /// The cursor asked for.
        cursor: Cursor,
        /// The oldest event the stream still stores.
        oldest: Cursor,
    },
}

/// Opens the bus `[events]` configures.
pub async fn open(config: &EventsConfig) -> Result<Arc<dyn EventBus>, BusError> {
    Ok(match (&config.kind, &config.jetstream) {
        (BusKind::Nats(url), Some(stream)) => {
            Arc::new(jetstream::JetStreamBus::connect(url, config.buffer, stream).await?)
        }
        (BusKind::InMemory, _) => Arc::new(in_memory::InMemoryBus::new(config.buffer)),
        (BusKind::Nats(url), None) => Arc::new(nats::NatsBus::connect(url, config.buffer).await?),
        (BusKind::Redis(url), _) => match &config.streams {
            Some(streams) => Arc::new(
                redis_streams::RedisStreamsBus::connect(url, config.buffer, streams).await?,
            ),
            None => Arc::new(redis::RedisBus::connect(url, config.buffer).await?),
        },
        (BusKind::RabbitMq(url), _) => {
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

    /// Subscribes to `topic`, resuming after the cursor `after` when there
    /// is one: every event of `topic` stored after it is delivered first,
    /// in order and once, then the new ones. Without a cursor it is
    /// [`Self::subscribe`]. A bus that stores no events (this default)
    /// refuses a cursor with [`SubscribeError::ResumeUnsupported`].
    fn subscribe_after(
        &self,
        topic: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<EventStream, SubscribeError>> {
        let subscribed = after.is_none().then(|| self.subscribe(topic));
        Box::pin(async move {
            match subscribed {
                Some(subscribed) => Ok(subscribed.await?),
                None => Err(SubscribeError::ResumeUnsupported),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_decimal_digits_that_fit_a_sequence() {
        assert_eq!(Cursor::parse("0").unwrap(), Cursor::Sequence(0));
        assert_eq!(Cursor::parse("42").unwrap(), Cursor::Sequence(42));
        assert_eq!(Cursor::Sequence(42).to_string(), "42");
        for text in [
            "",
            "-1",
            "+1",
            "1.5",
            " 1",
            "0x1",
            "99999999999999999999999",
        ] {
            assert!(
                matches!(Cursor::parse(text), Err(SubscribeError::CursorInvalid(t)) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn an_entry_cursor_is_millis_dash_seq() {
        let cursor = Cursor::parse_entry("1733300000000-7").unwrap();
        assert_eq!(cursor, Cursor::Entry(1_733_300_000_000, 7));
        assert_eq!(cursor.to_string(), "1733300000000-7");
        assert!(Cursor::Entry(5, 0) > Cursor::Entry(4, 9));
        for text in [
            "",
            "42",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "1- 2",
            "1-99999999999999999999999",
        ] {
            assert!(
                matches!(Cursor::parse_entry(text), Err(SubscribeError::CursorInvalid(t)) if t == text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn the_cursor_before_an_entry_precedes_it_directly() {
        assert_eq!(Cursor::Entry(5, 3).before(), Cursor::Entry(5, 2));
        assert_eq!(Cursor::Entry(5, 0).before(), Cursor::Entry(4, u64::MAX));
        assert_eq!(Cursor::Sequence(7).before(), Cursor::Sequence(6));
    }
}
