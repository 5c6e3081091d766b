//! The Redis Streams event bus (`[events] kind = "redis"` with `streams`):
//! every topic's events are stored in the Redis stream `<prefix><topic>`,
//! so a subscription can resume after the last event its client saw — on
//! any replica, and after the gateway restarted, since the streams live in
//! Redis.
//!
//! Publishing appends (`XADD <key> MAXLEN ~ <max_len> * payload <json>`);
//! each event's cursor is its entry id ([`Cursor::Entry`]). Each replica
//! reads the streams of the topics it has local subscribers for on one
//! connection (`XREAD BLOCK`), and fans the entries out through a local
//! [`Hub`], so every subscriber keeps its own bounded buffer. A topic new
//! to the reader starts after the stream's last entry at that moment, and
//! the reader is woken (`CLIENT UNBLOCK`) to take it in.
//!
//! A subscription resuming after a cursor first pages through the stored
//! entries after it (`XRANGE`) at its own pace; once a page comes back
//! short it joins the live fan-out, reads once more what was appended
//! meanwhile, and drops the live entries it has already delivered, so the
//! seam has neither a gap nor a duplicate.
//!
//! While Redis is away, new subscriptions and publishes fail with
//! `EVENT_BUS_UNAVAILABLE`; the reader reconnects through
//! [`relay_forever`] and goes on from the last entry it read of every
//! topic, so the subscriptions already open miss nothing Redis kept.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use serde_json::Value;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;

use super::in_memory::Hub;
use super::reconnect::{FIRST_CONNECT, IDLE_CHECK, relay_forever};
use super::redis::{Commands, unreachable};
use super::{BusError, Cursor, Delivery, EventBus, EventStream, Payload, SubscribeError};
use crate::config::RedisStreamsConfig;

/// How long one `XREAD` blocks waiting for entries.
const BLOCK: Duration = Duration::from_secs(2);

/// How many entries one `XREAD` or `XRANGE` returns at most.
const PAGE: usize = 256;

/// The entry field that holds an event's bytes.
const FIELD: &str = "payload";

/// The Redis Streams bus. Dropping it stops its reader.
#[derive(Debug)]
pub struct RedisStreamsBus {
    shared: Arc<Shared>,
    reader: JoinHandle<()>,
}

/// What the bus and its reader share.
#[derive(Debug)]
struct Shared {
    commands: Commands,
    hub: Hub,
    config: RedisStreamsConfig,
    /// The topics the reader reads, each with the last entry it read.
    positions: Mutex<HashMap<String, Cursor>>,
    /// The reader connection's Redis client id, while it is connected.
    reader_id: Mutex<Option<i64>>,
    connected: AtomicBool,
    /// Wakes a reader that has no topic to read.
    topic_added: Notify,
}

impl RedisStreamsBus {
    /// A bus on the Redis server at `url` storing events as `config`
    /// says, connecting in the background; fails only when `url` is
    /// malformed.
    pub async fn connect(
        url: &str,
        buffer: usize,
        config: &RedisStreamsConfig,
    ) -> Result<Self, BusError> {
        let client = redis::Client::open(url)
            .map_err(|error| BusError(format!("cannot use Redis at {url}: {error}")))?;
        let shared = Arc::new(Shared {
            commands: Commands::new(client.clone()),
            hub: Hub::new(buffer),
            config: config.clone(),
            positions: Mutex::default(),
            reader_id: Mutex::default(),
            connected: AtomicBool::new(false),
            topic_added: Notify::new(),
        });
        let first = match shared.open_reader(&client).await {
            Ok(connection) => Some(connection),
            Err(error) => {
                tracing::warn!(
                    "Redis at {url} cannot be reached yet ({error}); connecting in the background"
                );
                None
            }
        };
        let reader = tokio::spawn(read_forever(client, first, shared.clone()));
        Ok(Self { shared, reader })
    }
}

impl Drop for RedisStreamsBus {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Shared {
    /// The stream key of `topic`.
    fn key(&self, topic: &str) -> String {
        format!("{}{topic}", self.config.prefix)
    }

    /// Fails while the reader is not connected to Redis.
    fn connected(&self) -> Result<(), BusError> {
        if self.connected.load(Ordering::Acquire) {
            Ok(())
        } else {
            Err(BusError("Redis cannot be reached".to_owned()))
        }
    }

    /// A new reader connection, whose client id [`Self::wake_reader`] uses.
    async fn open_reader(&self, client: &redis::Client) -> Result<MultiplexedConnection, BusError> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(FIRST_CONNECT))
            .set_response_timeout(Some(BLOCK + FIRST_CONNECT));
        let mut connection = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(unreachable)?;
        let id: i64 = redis::cmd("CLIENT")
            .arg("ID")
            .query_async(&mut connection)
            .await
            .map_err(unreachable)?;
        *self.reader_id.lock().await = Some(id);
        self.connected.store(true, Ordering::Release);
        Ok(connection)
    }

    /// Has the reader read `topic` from its stream's last entry on, unless
    /// it already does; fails while Redis is away.
    async fn read_topic(&self, topic: &str) -> Result<(), BusError> {
        self.connected()?;
        if self.positions.lock().await.contains_key(topic) {
            return Ok(());
        }
        let last = self.last_entry(topic).await?.unwrap_or(Cursor::Entry(0, 0));
        self.positions
            .lock()
            .await
            .entry(topic.to_owned())
            .or_insert(last);
        self.topic_added.notify_one();
        self.wake_reader().await;
        Ok(())
    }

    /// Ends the reader's blocking `XREAD`, so that it reads the topics
    /// added since. Should this fail, the reader takes them in at its next
    /// read, at most [`BLOCK`] later.
    async fn wake_reader(&self) {
        let Some(id) = *self.reader_id.lock().await else {
            return;
        };
        let unblock = redis::cmd("CLIENT").arg("UNBLOCK").arg(id).to_owned();
        if let Err(error) = self.commands.query::<i64>(&unblock).await {
            tracing::debug!("cannot wake the Redis stream reader: {error}");
        }
    }

    /// The id of the last entry of `topic`'s stream, if it has one.
    async fn last_entry(&self, topic: &str) -> Result<Option<Cursor>, BusError> {
        let command = redis::cmd("XREVRANGE")
            .arg(self.key(topic))
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .to_owned();
        let reply: StreamRangeReply = self.commands.query(&command).await?;
        Ok(reply.ids.first().and_then(|entry| entry_id(&entry.id)))
    }

    /// What `topic`'s stream holds: nothing, while it does not exist.
    async fn state(&self, topic: &str) -> Result<StreamState, BusError> {
        let command = redis::cmd("EVAL")
            .arg(STREAM_INFO)
            .arg(1)
            .arg(self.key(topic))
            .to_owned();
        let info: Option<HashMap<String, redis::Value>> = self.commands.query(&command).await?;
        Ok(info.map_or_else(StreamState::default, |info| StreamState::of(&info)))
    }

    /// Fails when `cursor` lies past the stream's last entry (it is not
    /// one of this topic's), or when entries after it were trimmed away:
    /// the stream has been trimmed and `cursor` lies before its first
    /// entry.
    async fn check_resumable(&self, topic: &str, cursor: Cursor) -> Result<(), SubscribeError> {
        self.connected()?;
        let state = self.state(topic).await?;
        if cursor > state.last {
            return Err(SubscribeError::CursorInvalid(cursor.to_string()));
        }
        match state.first {
            Some(oldest) if state.trimmed && cursor < oldest.before() => {
                Err(SubscribeError::CursorExpired { cursor, oldest })
            }
            _ => Ok(()),
        }
    }

    /// Up to [`PAGE`] stored events of `topic` after `after`.
    async fn page_after(&self, topic: &str, after: Cursor) -> Result<Vec<Delivery>, BusError> {
        let command = redis::cmd("XRANGE")
            .arg(self.key(topic))
            .arg(format!("({after}"))
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .to_owned();
        let reply: StreamRangeReply = self.commands.query(&command).await?;
        Ok(reply.ids.iter().filter_map(delivery).collect())
    }

    /// The topics with local subscribers and where the reader stands in
    /// each; forgets the others.
    async fn topics_in_use(&self) -> Vec<(String, Cursor)> {
        let mut positions = self.positions.lock().await;
        positions.retain(|topic, _| self.hub.subscribers(topic) > 0);
        positions
            .iter()
            .map(|(topic, cursor)| (topic.clone(), *cursor))
            .collect()
    }

    /// Hands the entries `reply` holds to the hub, and moves the reader
    /// past them.
    async fn deliver(&self, reply: StreamReadReply) {
        let mut positions = self.positions.lock().await;
        for stream in reply.keys {
            let Some(topic) = stream.key.strip_prefix(&self.config.prefix) else {
                continue;
            };
            for entry in &stream.ids {
                if let (Some(cursor), Some(position)) =
                    (entry_id(&entry.id), positions.get_mut(topic))
                {
                    *position = cursor;
                }
                if let Some(Delivery::Stored(payload, cursor)) = delivery(entry) {
                    self.hub.deliver_stored(topic, payload, cursor);
                }
            }
        }
    }
}

/// `XINFO STREAM` of the stream `KEYS[1]`, or nil while it does not exist
/// (where `XINFO` fails), in one round trip.
const STREAM_INFO: &str = "if redis.call('EXISTS', KEYS[1]) == 0 then return false end \
                           return redis.call('XINFO', 'STREAM', KEYS[1])";

/// What a stream holds, as far as resuming in it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StreamState {
    /// Its first entry, unless it is empty.
    first: Option<Cursor>,
    /// The last entry id it generated.
    last: Cursor,
    /// Whether it holds fewer entries than were added to it.
    trimmed: bool,
}

impl Default for StreamState {
    fn default() -> Self {
        Self {
            first: None,
            last: Cursor::Entry(0, 0),
            trimmed: false,
        }
    }
}

impl StreamState {
    /// The state `XINFO STREAM` reports (Redis 7 adds `entries-added`;
    /// without it, a stream counts as trimmed).
    fn of(info: &HashMap<String, redis::Value>) -> Self {
        let number = |field: &str| {
            info.get(field)
                .and_then(|value| redis::from_redis_value_ref::<u64>(value).ok())
        };
        let text = |value: &redis::Value| redis::from_redis_value_ref::<String>(value).ok();
        let first = match info.get("first-entry") {
            Some(redis::Value::Array(entry)) => entry.first().and_then(text),
            _ => None,
        };
        Self {
            first: first.as_deref().and_then(entry_id),
            last: info
                .get("last-generated-id")
                .and_then(text)
                .as_deref()
                .and_then(entry_id)
                .unwrap_or(Cursor::Entry(0, 0)),
            trimmed: match (number("entries-added"), number("length")) {
                (Some(added), Some(length)) => added > length,
                _ => true,
            },
        }
    }
}

/// The entry id `text` as a cursor.
fn entry_id(text: &str) -> Option<Cursor> {
    Cursor::parse_entry(text).ok()
}

/// The delivery one stream entry makes; `None` for an entry without an
/// event (not written by weft).
fn delivery(entry: &StreamId) -> Option<Delivery> {
    let cursor = entry_id(&entry.id)?;
    let bytes = match entry.map.get(FIELD)? {
        redis::Value::BulkString(bytes) => bytes.clone(),
        redis::Value::SimpleString(text) => text.clone().into_bytes(),
        _ => return None,
    };
    Some(Delivery::Stored(
        Arc::new(Payload::from_bytes(bytes)),
        cursor,
    ))
}

/// Reads the streams of the topics in use for as long as the bus lives,
/// reconnecting whenever the connection is lost.
async fn read_forever(
    client: redis::Client,
    first: Option<MultiplexedConnection>,
    shared: Arc<Shared>,
) {
    let read = |connection| async {
        read_streams(connection, &shared).await;
        shared.connected.store(false, Ordering::Release);
        shared.reader_id.lock().await.take();
    };
    let reconnect = || shared.open_reader(&client);
    relay_forever("Redis", first, read, reconnect).await;
}

/// Reads entries into the hub until the connection is lost.
async fn read_streams(mut connection: MultiplexedConnection, shared: &Shared) {
    loop {
        let topics = shared.topics_in_use().await;
        if topics.is_empty() {
            let _ = tokio::time::timeout(IDLE_CHECK, shared.topic_added.notified()).await;
            continue;
        }
        let mut command = redis::cmd("XREAD");
        command
            .arg("COUNT")
            .arg(PAGE)
            .arg("BLOCK")
            .arg(BLOCK.as_millis().to_string())
            .arg("STREAMS");
        for (topic, _) in &topics {
            command.arg(shared.key(topic));
        }
        for (_, cursor) in &topics {
            command.arg(cursor.to_string());
        }
        // A nil reply (nothing new, or woken) reads as no streams.
        match command
            .query_async::<Option<StreamReadReply>>(&mut connection)
            .await
        {
            Ok(Some(reply)) => shared.deliver(reply).await,
            Ok(None) => {}
            Err(error) => {
                tracing::debug!("the Redis stream reader stopped: {error}");
                return;
            }
        }
    }
}

/// Where a resuming subscription stands: paging through stored events
/// (already subscribed to the live ones, once a page came back short), or
/// relaying the live events after the last one it delivered.
enum Resume {
    Stored {
        after: Cursor,
        live: Option<EventStream>,
    },
    Live {
        after: Cursor,
        live: EventStream,
    },
}

/// The events of `topic` after `after`: the stored ones, then the live
/// ones without a gap or a duplicate at the seam. A failure to read the
/// stored ones ends the stream (the client resumes from its last cursor).
fn resume(shared: Arc<Shared>, topic: String, after: Cursor) -> EventStream {
    let start = Resume::Stored { after, live: None };
    futures::stream::unfold(start, move |state| {
        let shared = shared.clone();
        let topic = topic.clone();
        async move { step(&shared, &topic, state).await }
    })
    .flat_map(futures::stream::iter)
    .boxed()
}

/// The next deliveries of a resuming subscription, and where it then
/// stands; `None` once it ends.
async fn step(shared: &Shared, topic: &str, state: Resume) -> Option<(Vec<Delivery>, Resume)> {
    match state {
        Resume::Stored { after, live } => {
            let page = match shared.page_after(topic, after).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(
                        topic,
                        "cannot replay stored events, the subscription ends: {error}"
                    );
                    return None;
                }
            };
            let after = page.last().map_or(after, cursor_of);
            let next = match live {
                _ if page.len() == PAGE => Resume::Stored { after, live },
                None => {
                    let subscribed = shared
                        .hub
                        .subscribe_through(topic, shared.read_topic(topic))
                        .await;
                    let live = subscribed
                        .map_err(|error| tracing::warn!(topic, "cannot go live: {error}"))
                        .ok()?;
                    Resume::Stored {
                        after,
                        live: Some(live),
                    }
                }
                Some(live) => Resume::Live { after, live },
            };
            Some((page, next))
        }
        Resume::Live { after, mut live } => loop {
            let delivery = live.next().await?;
            if matches!(&delivery, Delivery::Stored(_, cursor) if *cursor <= after) {
                continue;
            }
            return Some((vec![delivery], Resume::Live { after, live }));
        },
    }
}

/// The cursor of a stored delivery.
fn cursor_of(delivery: &Delivery) -> Cursor {
    match delivery {
        Delivery::Stored(_, cursor) => *cursor,
        Delivery::Event(_) | Delivery::Lagged(_) => Cursor::Entry(0, 0),
    }
}

impl EventBus for RedisStreamsBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        let appended = super::encode(&payload).map(|bytes| {
            redis::cmd("XADD")
                .arg(self.shared.key(topic))
                .arg("MAXLEN")
                .arg("~")
                .arg(self.shared.config.max_len)
                .arg("*")
                .arg(FIELD)
                .arg(bytes)
                .to_owned()
        });
        async move {
            let _id: String = self.shared.commands.query(&appended?).await?;
            Ok(())
        }
        .boxed()
    }

    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>> {
        let topic = topic.to_owned();
        async move {
            let shared = &self.shared;
            shared
                .hub
                .subscribe_through(&topic, shared.read_topic(&topic))
                .await
        }
        .boxed()
    }

    fn subscribe_after(
        &self,
        topic: &str,
        after: Option<&str>,
    ) -> BoxFuture<'_, Result<EventStream, SubscribeError>> {
        let Some(after) = after else {
            let subscribed = self.subscribe(topic);
            return async move { Ok(subscribed.await?) }.boxed();
        };
        let topic = topic.to_owned();
        let cursor = Cursor::parse_entry(after);
        async move {
            let cursor = cursor?;
            self.shared.check_resumable(&topic, cursor).await?;
            Ok(resume(self.shared.clone(), topic, cursor))
        }
        .boxed()
    }
}
