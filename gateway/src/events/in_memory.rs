//! The in-process event bus, and the local fan-out hub every bus but
//! JetStream delivers through (with each event's cursor on Redis Streams).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use futures::{FutureExt, Stream};
use serde_json::Value;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::{BusError, Cursor, Delivery, EventBus, EventStream, Payload};

/// How many events a subscriber may fall behind before it is dropped, unless
/// configured.
pub const DEFAULT_BUFFER: usize = 1024;

/// An event on its way to a topic's local subscribers, with its cursor
/// when the bus stores events.
type Broadcast = (Arc<Payload>, Option<Cursor>);

/// Local fan-out: one broadcast channel per topic with live subscribers.
/// Publishing never waits for subscribers.
#[derive(Debug)]
pub struct Hub {
    topics: Arc<Mutex<HashMap<String, broadcast::Sender<Broadcast>>>>,
    buffer: usize,
}

impl Hub {
    /// A hub whose subscribers may each fall `buffer` events behind.
    pub fn new(buffer: usize) -> Self {
        Self {
            topics: Arc::default(),
            buffer: buffer.max(1),
        }
    }

    /// Delivers `payload` to this process's subscribers of `topic`.
    pub fn deliver(&self, topic: &str, payload: Arc<Payload>) {
        self.send(topic, (payload, None));
    }

    /// Delivers a stored event with its `cursor`: subscribers get it as
    /// [`Delivery::Stored`].
    pub(crate) fn deliver_stored(&self, topic: &str, payload: Arc<Payload>, cursor: Cursor) {
        self.send(topic, (payload, Some(cursor)));
    }

    fn send(&self, topic: &str, event: Broadcast) {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = topics.get(topic) {
            let _ = sender.send(event);
        }
    }

    /// Delivers an event a broker carried as `bytes`: JSON, or bytes a
    /// subscription decodes with the message type its `@event` declares.
    pub(crate) fn deliver_bytes(&self, topic: &str, bytes: impl Into<bytes::Bytes>) {
        self.deliver(topic, Arc::new(Payload::from_bytes(bytes)));
    }

    /// Subscribes to `topic` in this process.
    pub fn subscribe(&self, topic: &str) -> EventStream {
        let receiver = {
            let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
            topics
                .entry(topic.to_owned())
                .or_insert_with(|| broadcast::channel(self.buffer).0)
                .subscribe()
        };
        Box::pin(Subscription {
            events: Some(BroadcastStream::new(receiver)),
            topic: topic.to_owned(),
            topics: self.topics.clone(),
        })
    }

    /// Subscribes to `topic` here, then has the broker deliver it with
    /// `forward` (lazy until now): subscribed first, so that nothing the
    /// broker delivers once `forward` is done can be missed.
    pub(crate) async fn subscribe_through(
        &self,
        topic: &str,
        forward: impl Future<Output = Result<(), BusError>>,
    ) -> Result<EventStream, BusError> {
        let stream = self.subscribe(topic);
        forward.await?;
        Ok(stream)
    }

    /// How many local subscribers `topic` has.
    pub fn subscribers(&self, topic: &str) -> usize {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        topics
            .get(topic)
            .map_or(0, broadcast::Sender::receiver_count)
    }

    /// How many topics have local subscribers.
    pub fn topics(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// One subscriber's stream; removes the topic when its last subscriber goes.
struct Subscription {
    events: Option<BroadcastStream<Broadcast>>,
    topic: String,
    topics: Arc<Mutex<HashMap<String, broadcast::Sender<Broadcast>>>>,
}

impl Stream for Subscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        let Some(events) = self.events.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(events).poll_next(cx) {
            Poll::Ready(Some(Ok((payload, None)))) => Poll::Ready(Some(Delivery::Event(payload))),
            Poll::Ready(Some(Ok((payload, Some(cursor))))) => {
                Poll::Ready(Some(Delivery::Stored(payload, cursor)))
            }
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                self.release();
                Poll::Ready(Some(Delivery::Lagged(missed)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Subscription {
    fn release(&mut self) {
        drop(self.events.take());
        let mut topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        if topics
            .get(&self.topic)
            .is_some_and(|sender| sender.receiver_count() == 0)
        {
            topics.remove(&self.topic);
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.release();
    }
}

/// The default bus: events stay within this process.
#[derive(Debug)]
pub struct InMemoryBus {
    hub: Hub,
}

impl InMemoryBus {
    /// A bus whose subscribers may each fall `buffer` events behind.
    pub fn new(buffer: usize) -> Self {
        Self {
            hub: Hub::new(buffer),
        }
    }

    /// The hub, for inspection.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }
}

impl EventBus for InMemoryBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        self.hub.deliver(topic, Arc::new(Payload::json(payload)));
        futures::future::ready(Ok(())).boxed()
    }

    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>> {
        futures::future::ready(Ok(self.hub.subscribe(topic))).boxed()
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn subscribers_get_events_published_after_they_subscribe() {
        let bus = InMemoryBus::new(8);
        bus.publish("t", json!(0)).await.unwrap();
        let mut first = bus.subscribe("t").await.unwrap();
        let mut second = bus.subscribe("t").await.unwrap();
        bus.publish("t", json!(1)).await.unwrap();
        bus.publish("other", json!(2)).await.unwrap();
        assert_eq!(
            first.next().await,
            Some(Delivery::Event(Arc::new(Payload::json(json!(1)))))
        );
        assert_eq!(
            second.next().await,
            Some(Delivery::Event(Arc::new(Payload::json(json!(1)))))
        );
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_dropped_without_slowing_others() {
        let bus = InMemoryBus::new(2);
        let mut slow = bus.subscribe("t").await.unwrap();
        let mut fast = bus.subscribe("t").await.unwrap();
        for i in 0..5 {
            bus.publish("t", json!(i)).await.unwrap();
            assert_eq!(
                fast.next().await,
                Some(Delivery::Event(Arc::new(Payload::json(json!(i)))))
            );
        }
        assert_eq!(slow.next().await, Some(Delivery::Lagged(3)));
        assert_eq!(slow.next().await, None);
        assert_eq!(bus.hub().subscribers("t"), 1);
    }

    #[tokio::test]
    async fn topics_are_forgotten_when_their_last_subscriber_leaves() {
        let bus = InMemoryBus::new(2);
        let first = bus.subscribe("orders.1").await.unwrap();
        let second = bus.subscribe("orders.1").await.unwrap();
        assert_eq!(bus.hub().topics(), 1);
        drop(first);
        assert_eq!(bus.hub().topics(), 1);
        drop(second);
        assert_eq!(bus.hub().topics(), 0);
    }
}
