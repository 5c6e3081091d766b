//! The JetStream event bus (`[events] kind = "nats"` with `jetstream`):
//! events on the subjects of `jetstream.subjects` are stored in a
//! JetStream stream, so a subscription can resume after the last event its
//! client saw — on any replica, and after the gateway restarted, since the
//! stream lives in NATS.
//!
//! At start-up the bus creates the stream, or brings an existing one to the
//! configured subjects and limits (`max_age`, `max_msgs`); when NATS cannot
//! be reached yet, this happens before the first publish or subscription.
//! Publishing waits for JetStream's acknowledgement, so a published event
//! is stored. Every subscription reads through an ordered consumer of its
//! own (ephemeral, in memory, filtered to its topic): it starts at new
//! events, or just after a [`Cursor`]; each event comes with its stream
//! sequence as its cursor ([`Delivery::Stored`]). A subscriber reads at its
//! own pace, so it never lags behind and is never dropped; the server
//! removes a consumer 30 s after its subscription ended.
//!
//! Topics outside the stream's subjects travel over core NATS through the
//! [`NatsBus`] (and its local fan-out hub): live only, and a cursor for one
//! is refused with [`SubscribeError::ResumeUnsupported`].

use std::sync::Arc;

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::pull::{Ordered, OrderedConfig, OrderedError};
use async_nats::jetstream::{self, stream};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::OnceCell;

use super::nats::NatsBus;
use super::{BusError, Cursor, Delivery, EventBus, EventStream, Payload, SubscribeError};
use crate::config::JetStreamConfig;

/// The bus over a JetStream stream, with core NATS for the other topics.
#[derive(Debug)]
pub struct JetStreamBus {
    live: NatsBus,
    context: jetstream::Context,
    config: JetStreamConfig,
    /// Set once the stream has been created or updated.
    stream_ready: OnceCell<()>,
}

impl JetStreamBus {
    /// A bus on the NATS server at `url` storing the events of `config`'s
    /// subjects. Fails when `url` is malformed, or when NATS is reachable
    /// and refuses the stream (JetStream off, subjects another stream
    /// holds, a change the server does not allow).
    pub async fn connect(
        url: &str,
        buffer: usize,
        config: &JetStreamConfig,
    ) -> Result<Self, BusError> {
        let live = NatsBus::connect(url, buffer).await?;
        let context = jetstream::new(live.client().clone());
        let bus = Self {
            live,
            context,
            config: config.clone(),
            stream_ready: OnceCell::new(),
        };
        if bus.live.connected().is_ok() {
            bus.ensure_stream().await?;
        }
        Ok(bus)
    }

    /// Whether the stream stores the events of `topic`.
    pub fn stores(&self, topic: &str) -> bool {
        stores(&self.config.subjects, topic)
    }

    /// Creates the stream or updates it to the config, once per process.
    async fn ensure_stream(&self) -> Result<(), BusError> {
        self.live.connected()?;
        self.stream_ready
            .get_or_try_init(|| async {
                self.context
                    .create_or_update_stream(stream_config(&self.config))
                    .await
                    .map(drop)
                    .map_err(|error| {
                        BusError(format!(
                            "cannot create or update the JetStream stream `{}`: {error}",
                            self.config.stream
                        ))
                    })
            })
            .await
            .map(|&()| ())
    }

    /// Where a consumer resuming after the event at `sequence` starts. Fails when the
    /// stream no longer holds every event after it, or when it lies past
    /// the stream's last event (it is not this stream's).
    async fn start_after(&self, sequence: u64) -> Result<DeliverPolicy, SubscribeError> {
        let cursor = Cursor::Sequence(sequence);
        let stream = self
            .context
            .get_stream(&self.config.stream)
            .await
            .map_err(unavailable)?;
        let state = &stream.cached_info().state;
        if cursor > Cursor::Sequence(state.last_sequence) {
            return Err(SubscribeError::CursorInvalid(cursor.to_string()));
        }
        if Cursor::Sequence(state.first_sequence).before() > cursor {
            return Err(SubscribeError::CursorExpired {
                cursor,
                oldest: Cursor::Sequence(state.first_sequence),
            });
        }
        Ok(DeliverPolicy::ByStartSequence {
            start_sequence: sequence + 1,
        })
    }

    /// The stored events of `topic` from `start` on.
    async fn consume(&self, topic: &str, start: DeliverPolicy) -> Result<EventStream, BusError> {
        let config = OrderedConfig {
            filter_subject: topic.to_owned(),
            deliver_policy: start,
            ..OrderedConfig::default()
        };
        let consumer = self
            .context
            .create_consumer_on_stream(config, &self.config.stream)
            .await
            .map_err(unavailable)?;
        let started_after = Cursor::Sequence(consumer.cached_info().delivered.stream_sequence);
        let messages = consumer.messages().await.map_err(unavailable)?;
        Ok(deliveries(messages, topic.to_owned(), started_after))
    }
}

/// The stream sequence a JetStream cursor `text` names.
fn sequence(text: &str) -> Result<u64, SubscribeError> {
    match Cursor::parse(text)? {
        Cursor::Sequence(sequence) => Ok(sequence),
        Cursor::Entry(..) => Err(SubscribeError::CursorInvalid(text.to_owned())),
    }
}

/// The stream `config` describes.
fn stream_config(config: &JetStreamConfig) -> stream::Config {
    stream::Config {
        name: config.stream.clone(),
        subjects: config.subjects.clone(),
        max_age: config.max_age.unwrap_or_default(),
        max_messages: config
            .max_msgs
            .map_or(-1, |max| i64::try_from(max).unwrap_or(i64::MAX)),
        ..stream::Config::default()
    }
}

/// A JetStream failure as the bus reports it.
fn unavailable(error: impl std::fmt::Display) -> BusError {
    BusError(format!("JetStream: {error}"))
}

/// Whether a stream of `subjects` (NATS wildcards allowed) stores the
/// events of `topic`. A `*` token of `topic` stands for any token (a
/// template's placeholder): only a wildcard of the stream covers it.
pub fn stores(subjects: &[String], topic: &str) -> bool {
    subjects.iter().any(|subject| covers(subject, topic))
}

fn covers(subject: &str, topic: &str) -> bool {
    let mut tokens = topic.split('.');
    for wanted in subject.split('.') {
        if wanted == ">" {
            return tokens.next().is_some();
        }
        match tokens.next() {
            Some(token) if wanted == "*" || (token == wanted && !token.contains('*')) => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

/// The consumer's messages after `started_after` as deliveries; a consumer
/// that fails ends the stream (the client resumes from its last cursor).
fn deliveries(messages: Ordered, topic: String, started_after: Cursor) -> EventStream {
    messages
        .map(delivery)
        .take_while(move |delivery| {
            if let Err(error) = delivery {
                tracing::warn!(
                    topic,
                    "the JetStream consumer failed, its subscription ends: {error}"
                );
            }
            futures::future::ready(delivery.is_ok())
        })
        // An ordered consumer that NATS loses before its first message is
        // recreated at the stream's first event, not where it started.
        .filter_map(move |delivery| {
            let delivery = delivery.ok();
            let replayed = matches!(
                &delivery,
                Some(Delivery::Stored(_, cursor)) if *cursor <= started_after
            );
            futures::future::ready(if replayed { None } else { delivery })
        })
        .boxed()
}

/// The delivery one message makes.
fn delivery(message: Result<jetstream::Message, OrderedError>) -> Result<Delivery, String> {
    let message = message.map_err(|error| error.to_string())?;
    let sequence = message
        .info()
        .map_err(|error| error.to_string())?
        .stream_sequence;
    let payload = Payload::from_bytes(message.payload.clone());
    Ok(Delivery::Stored(
        Arc::new(payload),
        Cursor::Sequence(sequence),
    ))
}

impl EventBus for JetStreamBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        if !self.stores(topic) {
            return self.live.publish(topic, payload);
        }
        let topic = topic.to_owned();
        async move {
            self.ensure_stream().await?;
            let bytes = super::encode(&payload)?;
            let acknowledged = self
                .context
                .publish(topic, bytes.into())
                .await
                .map_err(unavailable)?;
            acknowledged.await.map(drop).map_err(unavailable)
        }
        .boxed()
    }

    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>> {
        let subscribed = self.subscribe_after(topic, None);
        async move {
            subscribed.await.map_err(|error| match error {
                SubscribeError::Unavailable(error) => error,
                other => BusError(other.to_string()),
            })
        }
        .boxed()
    }

    fn subscribe_after(
        &self,
        topic: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<EventStream, SubscribeError>> {
        if !self.stores(topic) {
            return self.live.subscribe_after(topic, after);
        }
        let topic = topic.to_owned();
        let after = after.map(sequence);
        async move {
            self.ensure_stream().await?;
            let start = match after {
                Some(cursor) => self.start_after(cursor?).await?,
                None => DeliverPolicy::New,
            };
            Ok(self.consume(&topic, start).await?)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects(list: &[&str]) -> Vec<String> {
        list.iter().map(|&subject| subject.to_owned()).collect()
    }

    #[test]
    fn a_stream_stores_the_topics_its_subjects_match() {
        let stream = subjects(&["orders.>", "stock.*.level", "announcements"]);
        for topic in [
            "orders.status",
            "orders.7.status",
            "stock.SKU-1.level",
            "announcements",
        ] {
            assert!(stores(&stream, topic), "{topic}");
        }
        for topic in [
            "orders",
            "stock.level",
            "stock.SKU-1.price",
            "announcements.all",
            "users",
        ] {
            assert!(!stores(&stream, topic), "{topic}");
        }
    }

    #[test]
    fn a_placeholder_is_covered_by_wildcards_only() {
        let stream = subjects(&["orders.*.status", "stock.SKU-1"]);
        assert!(stores(&stream, "orders.*.status"));
        assert!(!stores(&stream, "stock.*"));
        assert!(!stores(&stream, "stock.SKU-*"));
        assert!(stores(&subjects(&[">"]), "stock.SKU-*"));
    }
}
