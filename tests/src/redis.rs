//! A Redis server for the tests of the Redis event bus.
//!
//! [`RedisServer::start`] uses the server on `127.0.0.1:6379` when one
//! answers; otherwise it starts `redis-server` on a free port of 127.0.0.1
//! (stopped on drop), and fails the test saying what is missing when it
//! cannot. Tests isolate their channels as the NATS tests do, with
//! [`crate::nats::unique_prefix`] and [`crate::PrefixedBus`].

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
