//! `weft bench fanout`: how fast events reach many WebSocket subscribers.
//!
//! For each bus (in-memory; NATS and Redis Streams when their servers are
//! given) and each subscriber count, a gateway serves the demo schema; that many
//! `graphql-transport-ws` clients subscribe to `announcements { message }`;
//! events carrying their publish time are published on the bus at a fixed
//! rate; each client records when each event arrives. Reported: events
//! delivered per second (over all subscribers) and the p50/p99 latency from
//! publish to a client having read the message.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::Gateway;
use crate::config::RedisStreamsConfig;
use crate::demo::Demo;
use crate::events::EventBus;
use crate::events::in_memory::InMemoryBus;
use crate::events::nats::NatsBus;
use crate::events::redis_streams::RedisStreamsBus;

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// The subscriber counts, one table row each.
    pub subscribers: Vec<usize>,
    /// Events published per row.
    pub events: usize,
    /// Events published per second.
    pub rate: u32,
    /// A NATS server to measure the NATS bus against, if any.
    pub nats_url: Option<String>,
    /// A Redis server to measure the Redis Streams bus against, if any.
    pub redis_url: Option<String>,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// `in_memory`, `nats` or `redis_streams`.
    pub bus: &'static str,
    /// WebSocket subscribers.
    pub subscribers: usize,
    /// Events delivered to all subscribers together, per second.
    pub delivered_per_second: f64,
    /// Events that did not arrive.
    pub missed: usize,
    /// Median publish-to-client latency.
    pub p50: Duration,
    /// 99th percentile publish-to-client latency.
    pub p99: Duration,
}

/// Runs every row.
pub async fn run(options: &Options) -> Result<Vec<Row>, String> {
    let demo = Demo::start(0).map_err(|problems| problems.to_string())?;
    let mut rows = Vec::new();
    for &subscribers in &options.subscribers {
        let buffer = options.events + 16;
        let bus: Arc<dyn EventBus> = Arc::new(InMemoryBus::new(buffer));
        rows.push(measure("in_memory", bus, subscribers, &demo, options).await?);
        if let Some(url) = &options.nats_url {
            let bus: Arc<dyn EventBus> = Arc::new(
                NatsBus::connect(url, buffer)
                    .await
                    .map_err(|e| e.to_string())?,
            );
            rows.push(measure("nats", bus, subscribers, &demo, options).await?);
        }
        if let Some(url) = &options.redis_url {
            rows.push(redis_streams_row(url, subscribers, &demo, options).await?);
        }
    }
    Ok(rows)
}

/// The row of the Redis Streams bus: its events kept in a stream of this
/// run's own, deleted afterwards.
async fn redis_streams_row(
    url: &str,
    subscribers: usize,
    demo: &Demo,
    options: &Options,
) -> Result<Row, String> {
    let config = RedisStreamsConfig {
        prefix: format!("weft-bench-{}-{subscribers}:", std::process::id()),
        max_len: u64::try_from(options.events + 16).unwrap_or(u64::MAX),
    };
    let bus = RedisStreamsBus::connect(url, options.events + 16, &config)
        .await
        .map_err(|error| error.to_string())?;
    let row = measure("redis_streams", Arc::new(bus), subscribers, demo, options).await;
    let stream = format!("{}announcements", config.prefix);
    let deleted = async {
        let client = redis::Client::open(url)?;
        let mut connection = client.get_multiplexed_async_connection().await?;
        redis::cmd("DEL")
            .arg(&stream)
            .query_async::<()>(&mut connection)
            .await
    };
    if let Err(error) = deleted.await {
        eprintln!("the bench stream {stream} was not deleted: {error}");
    }
    row
}

async fn measure(
    name: &'static str,
    bus: Arc<dyn EventBus>,
    subscribers: usize,
    demo: &Demo,
    options: &Options,
) -> Result<Row, String> {
    let mut config = demo.config.clone();
    config.subscriptions.max_per_connection = 1;
    let gateway =
        Arc::new(Gateway::new(&config, bus.clone()).map_err(|problems| problems.to_string())?);
    let addr = super::serve(gateway.clone()).await?;
    let clients: Vec<_> = (0..subscribers)
        .map(|_| tokio::spawn(subscriber(addr, options.events)))
        .collect();
    wait_for(|| {
        usize::try_from(gateway.metrics.subscriptions_active()).unwrap_or(0) >= subscribers
    })
    .await?;
    // The bus subscriptions are made just after the operations start; NATS
    // needs a round trip more.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // One event to warm every path up; the clients do not count it.
    bus.publish("announcements", json!({ "message": "warm-up" }))
        .await
        .map_err(|error| error.to_string())?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let interval = Duration::from_secs(1) / options.rate.max(1);
    let mut ticker = tokio::time::interval(interval);
    for _ in 0..options.events {
        ticker.tick().await;
        let payload = json!({ "message": now_micros().to_string() });
        bus.publish("announcements", payload)
            .await
            .map_err(|error| error.to_string())?;
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.map_err(|error| error.to_string())??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let delivered_per_second = latencies.len() as f64 / elapsed;
    Ok(Row {
        bus: name,
        subscribers,
        delivered_per_second,
        missed: subscribers * options.events - latencies.len(),
        p50: super::percentile(&latencies, 50),
        p99: super::percentile(&latencies, 99),
    })
}

fn now_micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
}

async fn wait_for(condition: impl Fn() -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_mins(1);
    while !condition() {
        if Instant::now() > deadline {
            return Err("the subscribers did not all start within 60 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// One client: subscribes, then records the latency of each event (the
/// warm-up event aside) until it has `events` of them or none arrives for
/// 10 s.
async fn subscriber(addr: SocketAddr, events: usize) -> Result<Vec<Duration>, String> {
    let mut socket = super::subscribe_to_announcements(addr, None).await?;
    let mut latencies = Vec::with_capacity(events);
    while latencies.len() < events {
        let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout(Duration::from_secs(10), socket.next()).await
        else {
            break;
        };
        let sent = serde_json::from_str::<Next<'_>>(text.as_str())
            .ok()
            .and_then(|next| next.payload.data.announcements.message.parse::<u128>().ok());
        if let Some(sent) = sent {
            let micros = u64::try_from(now_micros().saturating_sub(sent)).unwrap_or(u64::MAX);
            latencies.push(Duration::from_micros(micros));
        }
    }
    Ok(latencies)
}

/// A `next` message of the `announcements` subscription, as much of it as
/// a subscriber reads: decoding only that keeps the clients, which share
/// the machine with the gateway, cheap.
#[derive(serde::Deserialize)]
struct Next<'a> {
    #[serde(borrow)]
    payload: Payload<'a>,
}

#[derive(serde::Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    data: Data<'a>,
}

#[derive(serde::Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    announcements: Announcement<'a>,
}

#[derive(serde::Deserialize)]
struct Announcement<'a> {
    message: &'a str,
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row], options: &Options) -> String {
    let mut out = format!(
        "{} events per row at {} events/s\n\n| bus | subscribers | delivered/s | missed | p50 | p99 |\n|---|---:|---:|---:|---:|---:|\n",
        options.events, options.rate
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {} | {:.2} ms | {:.2} ms |",
            row.bus,
            row.subscribers,
            row.delivered_per_second,
            row.missed,
            super::ms(row.p50),
            super::ms(row.p99)
        );
    }
    out
}
