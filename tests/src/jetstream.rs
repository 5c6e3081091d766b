//! JetStream streams of a test's own: a unique stream name and subject
//! prefix per test, so tests running at once on the shared NATS server
//! never see each other's events, and the stream deleted when the test
//! ends (passed or failed).

use std::time::Duration;

use futures::StreamExt;

use weft::config::JetStreamConfig;
use weft::events::jetstream::JetStreamBus;

use crate::nats::unique_prefix;

/// How long deleting a stream may take on drop.
const DELETE_TIMEOUT: Duration = Duration::from_secs(5);

/// A stream `<NAME>` storing the subjects `<prefix>.>` of one test (or
/// some topics under the prefix only), on the NATS server at `url`; the
/// gateway under test creates it. Deleted on drop.
#[derive(Debug)]
pub struct TestStream {
    /// The stream's name.
    pub name: String,
    /// The prefix of every topic the stream stores.
    pub prefix: String,
    /// The NATS server, `nats://…`.
    pub url: String,
    /// The topics (under the prefix) the stream stores; all when empty.
    topics: Vec<String>,
    /// `jetstream.max_msgs`, if set.
    max_msgs: Option<u64>,
}

impl TestStream {
    /// A stream name and prefix no other test uses, on the server at `url`.
    pub fn new(url: &str) -> Self {
        let prefix = unique_prefix();
        Self {
            name: prefix.replace('-', "_").to_uppercase(),
            prefix,
            url: url.to_owned(),
            topics: Vec::new(),
            max_msgs: None,
        }
    }

    /// The stream stores these topics (under the prefix) only.
    #[must_use]
    pub fn storing(mut self, topics: &[&str]) -> Self {
        self.topics = topics.iter().map(|topic| self.topic(topic)).collect();
        self
    }

    /// The subjects the stream stores.
    pub fn subjects(&self) -> Vec<String> {
        if self.topics.is_empty() {
            vec![format!("{}.>", self.prefix)]
        } else {
            self.topics.clone()
        }
    }

    /// The stream keeps at most `max` events.
    #[must_use]
    pub fn max_msgs(mut self, max: u64) -> Self {
        self.max_msgs = Some(max);
        self
    }

    /// The stream's settings, as the gateway's config gives them.
    pub fn config(&self) -> JetStreamConfig {
        JetStreamConfig {
            stream: self.name.clone(),
            subjects: self.subjects(),
            max_age: None,
            max_msgs: self.max_msgs,
        }
    }

    /// `topic` under the test's prefix.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}.{topic}", self.prefix)
    }

    /// The `[events]` table of a JetStream bus on this stream.
    pub fn events_toml(&self) -> String {
        let max_msgs = self
            .max_msgs
            .map(|max| format!(", max_msgs = {max}"))
            .unwrap_or_default();
        let subjects: Vec<String> = self
            .subjects()
            .iter()
            .map(|subject| format!("\"{subject}\""))
            .collect();
        format!(
            "[events]\nkind = \"nats\"\nurl = \"{}\"\njetstream = {{ stream = \"{}\", subjects = [{}]{max_msgs} }}\n",
            self.url,
            self.name,
            subjects.join(", ")
        )
    }

    /// A bus of the test's own on the stream, publishing as a service
    /// would (it creates the stream if the gateway has not yet).
    ///
    /// # Panics
    ///
    /// When NATS refuses the stream.
    pub async fn bus(&self) -> JetStreamBus {
        JetStreamBus::connect(&self.url, 1024, &self.config())
            .await
            .unwrap_or_else(|error| panic!("cannot open the stream {}: {error}", self.name))
    }
}

impl TestStream {
    /// Deletes every consumer of the stream, as an operator (or the server
    /// losing them) would; returns how many there were.
    ///
    /// # Panics
    ///
    /// When NATS or the stream cannot be reached.
    pub async fn delete_consumers(&self) -> usize {
        let (stream, names) = self.consumer_names().await;
        for name in &names {
            stream
                .delete_consumer(name)
                .await
                .unwrap_or_else(|error| panic!("cannot delete the consumer {name}: {error}"));
        }
        names.len()
    }

    /// How many consumers the stream has.
    ///
    /// # Panics
    ///
    /// When NATS or the stream cannot be reached.
    pub async fn consumers(&self) -> usize {
        self.consumer_names().await.1.len()
    }

    async fn consumer_names(&self) -> (async_nats::jetstream::stream::Stream, Vec<String>) {
        let client = async_nats::connect(&self.url)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.url));
        let stream = async_nats::jetstream::new(client)
            .get_stream(&self.name)
            .await
            .unwrap_or_else(|error| panic!("cannot find the stream {}: {error}", self.name));
        let names = stream
            .consumer_names()
            .filter_map(|name| futures::future::ready(name.ok()))
            .collect()
            .await;
        (stream, names)
    }
}

impl Drop for TestStream {
    fn drop(&mut self) {
        let url = self.url.clone();
        let name = self.name.clone();
        // Drop cannot wait on the test's runtime: a runtime of its own, on
        // a thread of its own, deletes the stream.
        let deleting = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let delete = async {
                    let client = async_nats::connect(url).await.ok()?;
                    async_nats::jetstream::new(client)
                        .delete_stream(name)
                        .await
                        .ok()
                };
                let _ = tokio::time::timeout(DELETE_TIMEOUT, delete).await;
            });
        });
        let _ = deleting.join();
    }
}
