//! The resume scenario of `weft bench fanout` (with NATS): subscribers move
//! from a replica that is killed to another one, with their cursors, while
//! events keep coming; counted is what they missed and what they got twice.
//!
//! Two `weft serve` processes (this binary) share the demo's JetStream
//! stream ([`crate::demo::STREAM`]); the example services run in this
//! process. A stream the run made is deleted after it: left in place, it
//! would go on storing the `announcements` of the NATS fan-out rows that
//! later runs measure. Every subscriber starts on replica A. Events are published at a
//! fixed rate; after half of them, A is killed (`SIGKILL`), and each
//! subscriber reconnects to replica B with `resumeFrom` set to the last
//! cursor it saw, and reads until the last event.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::queries::{TempDir, free_port, start_gateway};
use crate::config::Config;
use crate::demo::{Demo, STREAM, config_text, events_table, write_files};

/// What the subscribers saw.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Subscribers moved from A to B.
    pub subscribers: usize,
    /// Events published (half before A was killed, half after).
    pub events: usize,
    /// Events some subscriber never got, over all subscribers.
    pub missed: usize,
    /// Events some subscriber got more than once, over all subscribers.
    pub duplicated: usize,
    /// From the kill to the last subscriber's first event on B.
    pub moved_within: Duration,
}

/// How long a subscriber waits for its next message before giving up.
const SILENCE: Duration = Duration::from_secs(20);

/// Runs the scenario on the NATS server at `nats_url`.
pub async fn run(
    nats_url: &str,
    subscribers: usize,
    events: usize,
    rate: u32,
) -> Result<Outcome, String> {
    let client = async_nats::connect(nats_url)
        .await
        .map_err(|error| format!("cannot reach NATS at {nats_url}: {error}"))?;
    let jetstream = async_nats::jetstream::new(client);
    let existed = jetstream.get_stream(STREAM).await.is_ok();
    let outcome = scenario(nats_url, subscribers, events, rate).await?;
    if !existed {
        jetstream
            .delete_stream(STREAM)
            .await
            .map_err(|error| format!("cannot delete the stream `{STREAM}`: {error}"))?;
    }
    Ok(outcome)
}

async fn scenario(
    nats_url: &str,
    subscribers: usize,
    events: usize,
    rate: u32,
) -> Result<Outcome, String> {
    let demo = Demo::start(0).map_err(|problems| problems.to_string())?;
    let exe = std::env::current_exe().map_err(|error| error.to_string())?;
    let (dir_a, dir_b) = (
        replica_files(&demo, nats_url)?,
        replica_files(&demo, nats_url)?,
    );
    let (replica_a, addr_a) = start_gateway(&exe, &dir_a.0, false)?;
    let (_replica_b, addr_b) = start_gateway(&exe, &dir_b.0, false)?;
    let config =
        Config::load(&dir_a.0.join("weft.toml")).map_err(|problems| problems.to_string())?;
    let bus = crate::events::open(&config.events)
        .await
        .map_err(|error| error.to_string())?;

    let warmed = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..subscribers)
        .map(|_| {
            let subscriber = Subscriber {
                warmed: warmed.clone(),
                last: events - 1,
            };
            tokio::spawn(subscriber.run(addr_a, addr_b))
        })
        .collect();
    // Every subscriber's consumer exists once it has seen a warm-up event.
    let deadline = Instant::now() + Duration::from_mins(1);
    while warmed.load(Ordering::Relaxed) < subscribers {
        if Instant::now() > deadline {
            return Err("the subscribers did not all start within 60 s".to_owned());
        }
        publish(&*bus, json!("warm-up")).await?;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let mut ticker = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    let mut replica_a = Some(replica_a);
    let mut killed_at = Instant::now();
    for index in 0..events {
        ticker.tick().await;
        if index == events / 2 {
            drop(replica_a.take());
            killed_at = Instant::now();
        }
        publish(&*bus, json!(index.to_string())).await?;
    }
    let mut outcome = Outcome {
        subscribers,
        events,
        missed: 0,
        duplicated: 0,
        moved_within: Duration::ZERO,
    };
    for client in clients {
        let seen = client.await.map_err(|error| error.to_string())??;
        let mut distinct = seen.got.clone();
        distinct.sort_unstable();
        distinct.dedup();
        outcome.missed += events - distinct.len();
        outcome.duplicated += seen.got.len() - distinct.len();
        if let Some(first_on_b) = seen.first_on_b {
            outcome.moved_within = outcome
                .moved_within
                .max(first_on_b.saturating_duration_since(killed_at));
        }
    }
    Ok(outcome)
}

/// A directory with the demo config of one replica: its own port, the
/// demo's services, events in the demo's JetStream stream.
fn replica_files(demo: &Demo, nats_url: &str) -> Result<TempDir, String> {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "weft-bench-resume-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let dir = TempDir(std::env::temp_dir().join(name));
    let listen = free_port()?;
    let urls: Vec<String> = demo
        .services
        .iter()
        .map(subgraphs::RunningService::url)
        .collect();
    let text =
        config_text(&listen.to_string(), [&urls[0], &urls[1], &urls[2]]) + &events_table(nats_url);
    write_files(&dir.0, &text).map_err(|error| format!("cannot write the bench files: {error}"))?;
    Ok(dir)
}

async fn publish(bus: &dyn crate::events::EventBus, message: Value) -> Result<(), String> {
    bus.publish("announcements", json!({ "message": message }))
        .await
        .map_err(|error| error.to_string())
}

/// One client of the scenario.
struct Subscriber {
    /// Counts the subscribers that have seen a warm-up event.
    warmed: Arc<AtomicUsize>,
    /// The index of the last event.
    last: usize,
}

/// What one subscriber got.
struct Seen {
    /// The indexes of the events, in the order they came.
    got: Vec<usize>,
    /// When its first message on replica B came.
    first_on_b: Option<Instant>,
}

impl Subscriber {
    /// Subscribes on `a`; when that connection ends, resumes on `b` after
    /// the last cursor seen; returns once the last event has come, or
    /// nothing came for [`SILENCE`].
    async fn run(self, a: std::net::SocketAddr, b: std::net::SocketAddr) -> Result<Seen, String> {
        let mut socket = super::subscribe_to_announcements(a, None).await?;
        let (mut cursor, mut warmed, mut on_b) = (None::<String>, false, false);
        let mut seen = Seen {
            got: Vec::new(),
            first_on_b: None,
        };
        loop {
            match tokio::time::timeout(SILENCE, socket.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let message: Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    let payload = &message["payload"];
                    if let Some(at) = payload["extensions"]["weft"]["cursor"].as_str() {
                        cursor = Some(at.to_owned());
                    }
                    if on_b && seen.first_on_b.is_none() {
                        seen.first_on_b = Some(Instant::now());
                    }
                    match payload["data"]["announcements"]["message"].as_str() {
                        Some("warm-up") if !warmed => {
                            warmed = true;
                            self.warmed.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(index) => {
                            if let Ok(index) = index.parse::<usize>() {
                                seen.got.push(index);
                                if index == self.last {
                                    return Ok(seen);
                                }
                            }
                        }
                        None => {}
                    }
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) if !on_b => {
                    on_b = true;
                    socket = super::subscribe_to_announcements(b, cursor.as_deref()).await?;
                }
                Ok(Some(Err(_)) | None) | Err(_) => return Ok(seen),
            }
        }
    }
}

/// The outcome as a Markdown table.
pub fn table(outcome: &Outcome) -> String {
    format!(
        "\nResume: replica A killed after half the events, subscribers moved to B with their cursors\n\n\
         | subscribers | events | missed | duplicated | last subscriber back within |\n\
         |---:|---:|---:|---:|---:|\n\
         | {} | {} | {} | {} | {:.0} ms |\n",
        outcome.subscribers,
        outcome.events,
        outcome.missed,
        outcome.duplicated,
        super::ms(outcome.moved_within)
    )
}
