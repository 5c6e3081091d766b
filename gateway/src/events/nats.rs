//! The NATS event bus: topics are core NATS subjects, so an event published
//! on one gateway replica reaches subscribers on all of them.
//!
//! Each replica holds one NATS subscription per topic that has local
//! subscribers, and fans its messages out through a local [`Hub`], so every
//! subscriber still has its own bounded buffer. The NATS subscription is
//! dropped once the topic's last local subscriber has gone.
//!
//! The gateway starts whether NATS is up or not: the client connects (and
//! reconnects) in the background. While it is away, new subscriptions and
//! publishes fail with `EVENT_BUS_UNAVAILABLE`; subscriptions already open
//! resume once it is back.

use std::collections::HashMap;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use serde_json::Value;
use tokio::sync::Mutex;

use super::in_memory::Hub;
use super::reconnect::{FIRST_CONNECT, IDLE_CHECK};
use super::{BusError, EventBus, EventStream};

/// The NATS-backed bus.
#[derive(Debug)]
pub struct NatsBus {
    client: async_nats::Client,
    hub: Arc<Hub>,
    forwarders: Arc<Mutex<HashMap<String, tokio::task::JoinHandle<()>>>>,
}

impl NatsBus {
    /// A bus on the NATS server at `url` (e.g. `nats://127.0.0.1:4222`),
    /// connecting in the background; fails only when `url` is malformed.
    pub async fn connect(url: &str, buffer: usize) -> Result<Self, BusError> {
        let client = connect_client(url).await?;
        Ok(Self {
            client,
            hub: Arc::new(Hub::new(buffer)),
            forwarders: Arc::default(),
        })
    }

    /// The connection to NATS, which other users of the server (the
    /// JetStream bus) share.
    pub(crate) fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// Fails while the client is not connected to NATS.
    pub(crate) fn connected(&self) -> Result<(), BusError> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            _ => Err(BusError("NATS cannot be reached".to_owned())),
        }
    }

    /// Starts forwarding `topic` from NATS to the hub, unless already done.
    async fn forward(&self, topic: &str) -> Result<(), BusError> {
        self.connected()?;
        let mut forwarders = self.forwarders.lock().await;
        if forwarders
            .get(topic)
            .is_some_and(|task| !task.is_finished())
        {
            return Ok(());
        }
        let subscriber = self
            .client
            .subscribe(topic.to_owned())
            .await
            .map_err(|error| BusError(error.to_string()))?;
        // The server has the subscription once a round trip has completed, so
        // events published after `subscribe` returns are not missed.
        self.client
            .flush()
            .await
            .map_err(|error| BusError(error.to_string()))?;
        let task = tokio::spawn(forward_messages(
            subscriber,
            topic.to_owned(),
            self.hub.clone(),
            self.forwarders.clone(),
        ));
        forwarders.insert(topic.to_owned(), task);
        Ok(())
    }
}

/// A client of the NATS server at `url` that connects (and reconnects) in
/// the background; waits at most [`FIRST_CONNECT`] for the first
/// connection. Fails only when `url` is malformed.
async fn connect_client(url: &str) -> Result<async_nats::Client, BusError> {
    let client = async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .connect(url)
        .await
        .map_err(|error| BusError(format!("cannot connect to NATS at {url}: {error}")))?;
    if tokio::time::timeout(FIRST_CONNECT, client.flush())
        .await
        .is_err()
    {
        tracing::warn!("NATS at {url} cannot be reached yet; connecting in the background");
    }
    Ok(client)
}

async fn forward_messages(
    mut subscriber: async_nats::Subscriber,
    topic: String,
    hub: Arc<Hub>,
    forwarders: Arc<Mutex<HashMap<String, tokio::task::JoinHandle<()>>>>,
) {
    let mut idle_check = tokio::time::interval(IDLE_CHECK);
    loop {
        tokio::select! {
            message = subscriber.next() => {
                let Some(message) = message else { break };
                hub.deliver_bytes(&topic, message.payload);
            }
            _ = idle_check.tick() => {
                let mut forwarders = forwarders.lock().await;
                if hub.subscribers(&topic) == 0 {
                    forwarders.remove(&topic);
                    break;
                }
            }
        }
    }
    let _ = subscriber.unsubscribe().await;
}

impl EventBus for NatsBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        let topic = topic.to_owned();
        async move {
            self.connected()?;
            let bytes = super::encode(&payload)?;
            self.client
                .publish(topic, bytes.into())
                .await
                .map_err(|error| BusError(error.to_string()))
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
