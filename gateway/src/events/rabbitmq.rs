//! The RabbitMQ event bus (AMQP 0.9.1): topics are routing keys on one
//! topic exchange, so an event published on one gateway replica reaches
//! subscribers on all of them.
//!
//! Each replica holds one connection and one channel. At connect it
//! declares the exchange (a durable topic exchange) and one exclusive,
//! auto-delete queue with a server-chosen name, and consumes from it. The
//! queue is bound to the exchange with every topic that has local
//! subscribers, and its messages fan out through a local [`Hub`], so every
//! subscriber still has its own bounded buffer. A topic is unbound once its
//! last local subscriber has gone. Publishing sends the JSON bytes
//! (`content-type: application/json`) to the exchange with the topic as
//! routing key.
//!
//! The gateway starts whether RabbitMQ is up or not. While it is away, new
//! subscriptions and publishes fail with `EVENT_BUS_UNAVAILABLE`; a
//! background task reconnects (waiting longer after each failed try, at
//! most [`MAX_RETRY`](super::reconnect::MAX_RETRY)), declares a new queue bound to the topics that still
//! have local subscribers, and the subscriptions already open resume.
//! Events published while a replica is disconnected never reach it.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{FieldTable, ShortString};
use lapin::uri::{AMQPScheme, AMQPUri};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::in_memory::Hub;
use super::reconnect::{FIRST_CONNECT, IDLE_CHECK, relay_forever};
use super::{BusError, EventBus, EventStream};

/// How long a bind, unbind or publish may wait for RabbitMQ.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// The RabbitMQ-backed bus. Dropping it closes its connection.
#[derive(Debug)]
pub struct RabbitMqBus {
    hub: Arc<Hub>,
    upstream: Arc<Mutex<Upstream>>,
    listener: JoinHandle<()>,
}

/// Where the broker is and which exchange the bus uses.
#[derive(Debug, Clone)]
struct Broker {
    uri: AMQPUri,
    exchange: ShortString,
}

/// One connection's channel and queue.
#[derive(Debug)]
struct Session {
    /// Kept so that the connection lives as long as the session.
    _connection: Connection,
    channel: Channel,
    queue: ShortString,
}

/// What the bus binds and publishes through.
#[derive(Debug)]
struct Upstream {
    broker: Broker,
    /// The current session; `None` while RabbitMQ is away.
    session: Option<Session>,
    /// The topics the current queue is bound with.
    bound: HashSet<String>,
}

impl RabbitMqBus {
    /// A bus on the RabbitMQ broker at `url`
    /// (`amqp://user:password@host:port/vhost`) using the topic exchange
    /// `exchange`, connecting in the background; fails only when `url` is
    /// malformed or asks for TLS (`amqps://`), which this build does not
    /// support.
    pub async fn connect(url: &str, exchange: &str, buffer: usize) -> Result<Self, BusError> {
        let broker = Broker {
            uri: parse_url(url)?,
            exchange: routing_name(exchange)?,
        };
        let mut upstream = Upstream {
            broker: broker.clone(),
            session: None,
            bound: HashSet::new(),
        };
        let consumer = match open_session(&broker).await {
            Ok((session, consumer)) => {
                upstream.session = Some(session);
                Some(consumer)
            }
            Err(error) => {
                tracing::warn!(
                    "RabbitMQ at {url} cannot be reached yet ({error}); connecting in the \
                     background"
                );
                None
            }
        };
        let hub = Arc::new(Hub::new(buffer));
        let upstream = Arc::new(Mutex::new(upstream));
        let listener = tokio::spawn(listen(consumer, hub.clone(), upstream.clone()));
        Ok(Self {
            hub,
            upstream,
            listener,
        })
    }

    /// Binds the queue with `topic`, unless already done; fails while
    /// RabbitMQ is away.
    async fn forward(&self, topic: &str) -> Result<(), BusError> {
        let routing_key = routing_name(topic)?;
        let mut upstream = self.upstream.lock().await;
        let Upstream {
            broker,
            session,
            bound,
        } = &mut *upstream;
        let session = session.as_ref().ok_or_else(away)?;
        if bound.contains(topic) {
            return Ok(());
        }
        bind(session, &broker.exchange, routing_key).await?;
        bound.insert(topic.to_owned());
        Ok(())
    }

    /// The current channel and the exchange to publish to; fails while
    /// RabbitMQ is away.
    async fn publishing(&self) -> Result<(Channel, ShortString), BusError> {
        let upstream = self.upstream.lock().await;
        let session = upstream.session.as_ref().ok_or_else(away)?;
        Ok((session.channel.clone(), upstream.broker.exchange.clone()))
    }
}

impl Drop for RabbitMqBus {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

/// `url` as the client takes it; `amqps://` is refused, since this build
/// has no TLS for AMQP.
fn parse_url(url: &str) -> Result<AMQPUri, BusError> {
    let uri: AMQPUri = url
        .parse()
        .map_err(|error| BusError(format!("cannot use RabbitMQ at {url}: {error}")))?;
    if uri.scheme == AMQPScheme::AMQPS {
        return Err(BusError(format!(
            "cannot use RabbitMQ at {url}: amqps:// (AMQP over TLS) is not supported by this \
             build of weft"
        )));
    }
    Ok(uri)
}

/// `name` as an AMQP short string: at most 255 bytes.
fn routing_name(name: &str) -> Result<ShortString, BusError> {
    ShortString::try_new(name).map_err(|_| {
        BusError(format!(
            "`{name}` is longer than the 255 bytes RabbitMQ allows in a routing key or exchange \
             name"
        ))
    })
}

/// The error of a request made while RabbitMQ is away.
fn away() -> BusError {
    BusError("RabbitMQ cannot be reached".to_owned())
}

/// A RabbitMQ failure as the bus reports it.
fn failed(error: lapin::Error) -> BusError {
    BusError(format!("RabbitMQ: {error}"))
}

/// Runs `request`, bounded by `limit`.
async fn within<T>(
    limit: Duration,
    request: impl Future<Output = lapin::Result<T>>,
) -> Result<T, BusError> {
    tokio::time::timeout(limit, request)
        .await
        .map_err(|_| BusError(format!("RabbitMQ did not answer within {limit:?}")))?
        .map_err(failed)
}

/// A new connection with the exchange declared and a queue of its own
/// consumed from, bounded by [`FIRST_CONNECT`].
async fn open_session(broker: &Broker) -> Result<(Session, Consumer), BusError> {
    within(FIRST_CONNECT, async {
        let connection =
            Connection::connect_uri(broker.uri.clone(), ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                broker.exchange.clone(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        let private = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..QueueDeclareOptions::default()
        };
        let queue = channel
            .queue_declare(ShortString::default(), private, FieldTable::default())
            .await?;
        let queue = queue.name().clone();
        let no_ack = BasicConsumeOptions {
            no_ack: true,
            ..BasicConsumeOptions::default()
        };
        let consumer = channel
            .basic_consume(
                queue.clone(),
                ShortString::default(),
                no_ack,
                FieldTable::default(),
            )
            .await?;
        let session = Session {
            _connection: connection,
            channel,
            queue,
        };
        Ok((session, consumer))
    })
    .await
}

/// Binds `session`'s queue to `exchange` with `routing_key`.
async fn bind(
    session: &Session,
    exchange: &ShortString,
    routing_key: ShortString,
) -> Result<(), BusError> {
    let request = session.channel.queue_bind(
        session.queue.clone(),
        exchange.clone(),
        routing_key,
        QueueBindOptions::default(),
        FieldTable::default(),
    );
    within(REQUEST_TIMEOUT, request).await
}

/// Relays the queue's messages to the hub for as long as the bus lives,
/// reconnecting whenever the connection is lost.
async fn listen(consumer: Option<Consumer>, hub: Arc<Hub>, upstream: Arc<Mutex<Upstream>>) {
    let relayed = |consumer| async {
        relay(consumer, &hub, &upstream).await;
        upstream.lock().await.session = None;
    };
    let reconnected = || reconnect(&hub, &upstream);
    relay_forever("RabbitMQ", consumer, relayed, reconnected).await;
}

/// A new session whose queue is bound with the topics that still have
/// local subscribers, made the one [`RabbitMqBus::forward`] uses.
async fn reconnect(hub: &Hub, upstream: &Mutex<Upstream>) -> Result<Consumer, BusError> {
    let broker = upstream.lock().await.broker.clone();
    let (session, consumer) = open_session(&broker).await?;
    let mut upstream = upstream.lock().await;
    upstream.bound.retain(|topic| hub.subscribers(topic) > 0);
    for topic in &upstream.bound {
        bind(&session, &broker.exchange, routing_name(topic)?).await?;
    }
    upstream.session = Some(session);
    Ok(consumer)
}

/// Delivers the queue's messages to the hub until the connection is lost,
/// unbinding topics whose local subscribers have all gone.
async fn relay(mut consumer: Consumer, hub: &Hub, upstream: &Mutex<Upstream>) {
    let mut idle_check = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => hub.deliver_bytes(delivery.routing_key.as_str(), delivery.data),
                Some(Err(error)) => {
                    tracing::debug!("the RabbitMQ consumer failed: {error}");
                    return;
                }
                None => return,
            },
            _ = idle_check.tick() => unbind_idle(hub, upstream).await,
        }
    }
}

/// Unbinds the topics without local subscribers.
async fn unbind_idle(hub: &Hub, upstream: &Mutex<Upstream>) {
    let mut upstream = upstream.lock().await;
    let Upstream {
        broker,
        session,
        bound,
    } = &mut *upstream;
    let Some(session) = session.as_ref() else {
        return;
    };
    let idle: Vec<String> = bound
        .iter()
        .filter(|topic| hub.subscribers(topic) == 0)
        .cloned()
        .collect();
    for topic in idle {
        bound.remove(&topic);
        let Ok(routing_key) = routing_name(&topic) else {
            continue;
        };
        let request = session.channel.queue_unbind(
            session.queue.clone(),
            broker.exchange.clone(),
            routing_key,
            FieldTable::default(),
        );
        // Should this fail, the connection is lost and the reconnection
        // binds the topics still in use only.
        if let Err(error) = within(REQUEST_TIMEOUT, request).await {
            tracing::debug!("cannot unbind the idle RabbitMQ topic {topic}: {error}");
            return;
        }
    }
}

impl EventBus for RabbitMqBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        let topic = topic.to_owned();
        async move {
            let routing_key = routing_name(&topic)?;
            let bytes = super::encode(&payload)?;
            let (channel, exchange) = self.publishing().await?;
            let properties =
                BasicProperties::default().with_content_type("application/json".into());
            let request = channel.basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions::default(),
                &bytes,
                properties,
            );
            // Without publisher confirms, the returned confirmation is
            // already settled: the message is written to the connection.
            within(REQUEST_TIMEOUT, request).await.map(drop)
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
