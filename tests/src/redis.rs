//! A Redis server for the tests of the Redis event bus.
//!
//! [`RedisServer::start`] uses the server on `127.0.0.1:6379` when one
//! answers; otherwise it starts `redis-server` on a free port of 127.0.0.1
//! (stopped on drop), and fails the test saying what is missing when it
//! cannot. Tests isolate their channels as the NATS tests do, with
//! [`crate::nats::unique_prefix`] and [`crate::PrefixedBus`]; the tests of
//! Redis Streams with the keys of a [`TestRedisStreams`].

use weft::config::RedisStreamsConfig;
use weft::events::redis_streams::RedisStreamsBus;

use crate::broker::{Program, Started};
use crate::nats::free_port;

/// Where a Redis server usually listens.
pub const DEFAULT_REDIS: &str = "127.0.0.1:6379";

const REDIS: Program = Program {
    name: "redis-server",
    installed: "/usr/bin/redis-server",
    package: "redis-server",
    default: DEFAULT_REDIS,
};

/// A reachable Redis server: the shared one, or one started for this test.
#[derive(Debug)]
pub struct RedisServer {
    /// `redis://127.0.0.1:<port>`.
    pub url: String,
    child: Option<Started>,
}

impl RedisServer {
    /// The server on [`DEFAULT_REDIS`] if it accepts a TCP connection, else
    /// a `redis-server` on a free port started here.
    ///
    /// # Panics
    ///
    /// When nothing listens on [`DEFAULT_REDIS`] and no `redis-server`
    /// binary can be started.
    pub fn start() -> Self {
        if REDIS.default_reachable() {
            return Self {
                url: format!("redis://{DEFAULT_REDIS}"),
                child: None,
            };
        }
        Self::start_on(free_port())
    }

    /// A `redis-server --bind 127.0.0.1 --port <port>` that keeps nothing on
    /// disk, started here whatever else runs.
    ///
    /// # Panics
    ///
    /// When no `redis-server` binary can be started, or it does not accept
    /// connections in time.
    pub fn start_on(port: u16) -> Self {
        let port_text = port.to_string();
        let args = [
            "--bind",
            "127.0.0.1",
            "--port",
            &port_text,
            "--save",
            "",
            "--appendonly",
            "no",
        ];
        Self {
            url: format!("redis://127.0.0.1:{port}"),
            child: Some(REDIS.start(&args, port)),
        }
    }

    /// Whether this server was started here (and is stopped on drop).
    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }
}

/// The stream key prefix of every test: keys a stray run leaves behind are
/// easy to find.
const TEST_KEY_PREFIX: &str = "weft-tests:";

/// Redis stream keys of one test's own: its topics are under a unique
/// prefix ([`crate::nats::unique_prefix`]), stored in the streams
/// `weft-tests:<prefix>.<topic>`, which are deleted on drop (passed or
/// failed).
#[derive(Debug)]
pub struct TestRedisStreams {
    /// The prefix of every topic of the test.
    pub prefix: String,
    /// The Redis server, `redis://…`.
    pub url: String,
    /// `streams.max_len`, if set.
    max_len: Option<u64>,
}

impl TestRedisStreams {
    /// A topic prefix no other test uses, on the server at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            prefix: crate::nats::unique_prefix(),
            url: url.to_owned(),
            max_len: None,
        }
    }

    /// The streams keep about `max` events each.
    #[must_use]
    pub fn max_len(mut self, max: u64) -> Self {
        self.max_len = Some(max);
        self
    }

    /// `topic` under the test's prefix.
    pub fn topic(&self, topic: &str) -> String {
        format!("{}.{topic}", self.prefix)
    }

    /// The stream key of `topic` (under the test's prefix).
    pub fn key(&self, topic: &str) -> String {
        format!("{TEST_KEY_PREFIX}{}", self.topic(topic))
    }

    /// The streams' settings, as the gateway's config gives them.
    pub fn config(&self) -> RedisStreamsConfig {
        RedisStreamsConfig {
            prefix: TEST_KEY_PREFIX.to_owned(),
            max_len: self
                .max_len
                .unwrap_or(weft::config::events::DEFAULT_MAX_LEN),
        }
    }

    /// The `[events]` table of a Redis Streams bus on these streams.
    pub fn events_toml(&self) -> String {
        let max_len = self
            .max_len
            .map(|max| format!(", max_len = {max}"))
            .unwrap_or_default();
        format!(
            "[events]\nkind = \"redis\"\nurl = \"{}\"\nstreams = {{ prefix = \"{TEST_KEY_PREFIX}\"{max_len} }}\n",
            self.url
        )
    }

    /// A bus of the test's own on the streams, publishing as a service
    /// would.
    ///
    /// # Panics
    ///
    /// When the URL is malformed.
    pub async fn bus(&self) -> RedisStreamsBus {
        RedisStreamsBus::connect(&self.url, 1024, &self.config())
            .await
            .unwrap_or_else(|error| panic!("cannot open the Redis streams: {error}"))
    }

    /// The entry ids stored under `topic`, oldest first.
    ///
    /// # Panics
    ///
    /// When Redis cannot be reached.
    pub fn entry_ids(&self, topic: &str) -> Vec<String> {
        let mut connection = self.connection();
        let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(self.key(topic))
            .arg("-")
            .arg("+")
            .query(&mut connection)
            .unwrap_or_else(|error| panic!("cannot read the stream: {error}"));
        entries.ids.into_iter().map(|entry| entry.id).collect()
    }

    fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection_with_timeout(DELETE_TIMEOUT))
            .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", self.url))
    }
}

/// How long connecting to delete a test's keys may take on drop.
const DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

impl Drop for TestRedisStreams {
    fn drop(&mut self) {
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut connection) = client.get_connection_with_timeout(DELETE_TIMEOUT) else {
            return;
        };
        let pattern = format!("{TEST_KEY_PREFIX}{}.*", self.prefix);
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut connection)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: redis::RedisResult<usize> = redis::cmd("DEL").arg(keys).query(&mut connection);
        }
    }
}
