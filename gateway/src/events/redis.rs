//! The Redis event bus: topics are Redis pub/sub channels, so an event
//! published on one gateway replica reaches subscribers on all of them.
//!
//! Each replica holds two connections to Redis. A multiplexed one
//! publishes (`PUBLISH <topic> <json>`). One pub/sub connection is
//! subscribed to every channel that has local subscribers, and its messages
//! fan out through a local [`Hub`], so every subscriber still has its own
//! bounded buffer. A channel is unsubscribed once its last local subscriber
//! has gone.
//!
//! The gateway starts whether Redis is up or not. While Redis is away, new
//! subscriptions and publishes fail with `EVENT_BUS_UNAVAILABLE`; a
//! background task reconnects (waiting longer after each failed try, at
//! most [`MAX_RETRY`](super::reconnect::MAX_RETRY)), subscribes again to the channels that still have
//! local subscribers, and the subscriptions already open resume. Events
//! published while a replica is disconnected never reach it: Redis pub/sub
//! delivers at most once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use redis::aio::{MultiplexedConnection, PubSub, PubSubSink, PubSubStream};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::in_memory::Hub;
use super::reconnect::{FIRST_CONNECT, IDLE_CHECK, relay_forever};
use super::{BusError, EventBus, EventStream};

/// How long a `SUBSCRIBE` or `UNSUBSCRIBE` may wait for Redis's answer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The Redis-backed bus. Dropping it closes its connections.
#[derive(Debug)]
pub struct RedisBus {
    commands: Commands,
    hub: Arc<Hub>,
    upstream: Arc<Mutex<Upstream>>,
    listener: JoinHandle<()>,
}

/// The pub/sub connection's side the bus subscribes through.
#[derive(Debug, Default)]
struct Upstream {
    /// The current connection's sink; `None` while Redis is away.
    sink: Option<PubSubSink>,
    /// The channels subscribed to on Redis.
    channels: HashSet<String>,
}

impl RedisBus {
    /// A bus on the Redis server at `url` (`redis://host:port[/db]`),
    /// connecting in the background; fails only when `url` is malformed
    /// or asks for TLS (`rediss://`), which this build does not support.
    pub async fn connect(url: &str, buffer: usize) -> Result<Self, BusError> {
        let client = redis::Client::open(url)
            .map_err(|error| BusError(format!("cannot use Redis at {url}: {error}")))?;
        let mut upstream = Upstream::default();
        let messages = match open_pubsub(&client).await {
            Ok(connection) => {
                let (sink, messages) = connection.split();
                upstream.sink = Some(sink);
                Some(messages)
            }
            Err(error) => {
                tracing::warn!(
                    "Redis at {url} cannot be reached yet ({error}); connecting in the background"
                );
                None
            }
        };
        let hub = Arc::new(Hub::new(buffer));
        let upstream = Arc::new(Mutex::new(upstream));
        let listener = tokio::spawn(listen(
            client.clone(),
            messages,
            hub.clone(),
            upstream.clone(),
        ));
        Ok(Self {
            commands: Commands::new(client),
            hub,
            upstream,
            listener,
        })
    }

    /// Subscribes to `topic` on Redis, unless already done; fails while
    /// Redis is away.
    async fn forward(&self, topic: &str) -> Result<(), BusError> {
        let mut upstream = self.upstream.lock().await;
        let Upstream { sink, channels } = &mut *upstream;
        let sink = sink
            .as_mut()
            .ok_or_else(|| BusError("Redis cannot be reached".to_owned()))?;
        if channels.contains(topic) {
            return Ok(());
        }
        request(sink.subscribe(topic)).await?;
        channels.insert(topic.to_owned());
        Ok(())
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// A connection for commands to Redis, opened on first use and again after
/// a failure that lost it; the Redis buses publish (and read stored events)
/// through it.
#[derive(Debug)]
pub(crate) struct Commands {
    client: redis::Client,
    connection: Mutex<Option<MultiplexedConnection>>,
}

impl Commands {
    pub(crate) fn new(client: redis::Client) -> Self {
        Self {
            client,
            connection: Mutex::default(),
        }
    }

    /// Runs `command` and reads its reply as `T`; fails while Redis is away.
    pub(crate) async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, BusError> {
        let mut connection = self.connection().await?;
        let reply = command.query_async(&mut connection).await;
        if let Err(error) = &reply
            && (error.is_unrecoverable_error() || error.is_io_error() || error.is_timeout())
        {
            // The next command opens a new connection.
            self.connection.lock().await.take();
        }
        reply.map_err(unreachable)
    }

    /// The connection, opened first if there is none.
    async fn connection(&self) -> Result<MultiplexedConnection, BusError> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(unreachable)?;
        *slot = Some(connection.clone());
        Ok(connection)
    }
}

/// A Redis failure as the bus reports it.
pub(crate) fn unreachable(error: redis::RedisError) -> BusError {
    BusError(format!("Redis: {error}"))
}

/// A new pub/sub connection, bounded by [`FIRST_CONNECT`].
pub(crate) async fn open_pubsub(client: &redis::Client) -> Result<PubSub, BusError> {
    tokio::time::timeout(FIRST_CONNECT, client.get_async_pubsub())
        .await
        .map_err(|_| BusError(format!("Redis did not answer within {FIRST_CONNECT:?}")))?
        .map_err(unreachable)
}

/// A `SUBSCRIBE` or `UNSUBSCRIBE`, bounded by [`REQUEST_TIMEOUT`].
async fn request(sent: impl Future<Output = redis::RedisResult<()>>) -> Result<(), BusError> {
    tokio::time::timeout(REQUEST_TIMEOUT, sent)
        .await
        .map_err(|_| BusError(format!("Redis did not answer within {REQUEST_TIMEOUT:?}")))?
        .map_err(unreachable)
}

/// Relays the pub/sub connection's messages to the hub for as long as the
/// bus lives, reconnecting whenever the connection is lost.
async fn listen(
    client: redis::Client,
    messages: Option<PubSubStream>,
    hub: Arc<Hub>,
    upstream: Arc<Mutex<Upstream>>,
) {
    let relayed = |messages| async {
        relay(messages, &hub, &upstream).await;
        upstream.lock().await.sink = None;
    };
    let reconnected = || reconnect(&client, &hub, &upstream);
    relay_forever("Redis", messages, relayed, reconnected).await;
}

/// A new pub/sub connection, subscribed to the channels that still have
/// local subscribers, and made the one [`RedisBus::forward`] uses.
async fn reconnect(
    client: &redis::Client,
    hub: &Hub,
    upstream: &Mutex<Upstream>,
) -> Result<PubSubStream, BusError> {
    let (mut sink, messages) = open_pubsub(client).await?.split();
    let mut upstream = upstream.lock().await;
    upstream
        .channels
        .retain(|channel| hub.subscribers(channel) > 0);
    if !upstream.channels.is_empty() {
        let channels: Vec<&String> = upstream.channels.iter().collect();
        request(sink.subscribe(channels)).await?;
    }
    upstream.sink = Some(sink);
    Ok(messages)
}

/// Delivers `messages` to the hub until the connection is lost,
/// unsubscribing channels whose local subscribers have all gone.
async fn relay(mut messages: PubSubStream, hub: &Hub, upstream: &Mutex<Upstream>) {
    let mut idle_check = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return };
                hub.deliver_bytes(
                    message.get_channel_name(),
                    bytes::Bytes::copy_from_slice(message.get_payload_bytes()),
                );
            }
            _ = idle_check.tick() => unsubscribe_idle(hub, upstream).await,
        }
    }
}

/// Unsubscribes on Redis the channels without local subscribers.
async fn unsubscribe_idle(hub: &Hub, upstream: &Mutex<Upstream>) {
    let mut upstream = upstream.lock().await;
    let Upstream { sink, channels } = &mut *upstream;
    let Some(sink) = sink.as_mut() else { return };
    let idle: Vec<String> = channels
        .iter()
        .filter(|channel| hub.subscribers(channel) == 0)
        .cloned()
        .collect();
    if idle.is_empty() {
        return;
    }
    for channel in &idle {
        channels.remove(channel);
    }
    // Should this fail, the connection is lost and the reconnection
    // subscribes to the channels still in use only.
    if let Err(error) = request(sink.unsubscribe(idle)).await {
        tracing::debug!("cannot unsubscribe idle Redis channels: {error}");
    }
}

impl EventBus for RedisBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        let published = super::encode(&payload)
            .map(|bytes| redis::cmd("PUBLISH").arg(topic).arg(bytes).to_owned());
        async move {
            let _receivers: usize = self.commands.query(&published?).await?;
            Ok(())
        }
        .boxed()
    }

    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>> {
        let topic = topic.to_owned();
        async move {
            self.hub
                .subscribe_through(&topic, self.forward(&topic))
                .await
        }
        .boxed()
    }
}
