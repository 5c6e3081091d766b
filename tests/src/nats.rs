//! A NATS server for tests that need one, and topic isolation on a server
//! other test runs share.
//!
//! [`NatsServer::start`] uses the server on `127.0.0.1:4222` when one
//! answers; otherwise it starts `nats-server` with JetStream on a free port
//! of 127.0.0.1 (stopped on drop), and fails the test saying what is missing when it
//! cannot. [`PrefixedBus`] and [`isolated_demo_schema`] put every topic of
//! one test under a prefix of its own, so events of concurrent tests on the
//! same server never meet.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use serde_json::Value;
use weft::events::{BusError, EventBus, EventStream};

use crate::TestDir;
use crate::broker::{Program, Started};

/// Where a NATS server usually listens.
pub const DEFAULT_NATS: &str = "127.0.0.1:4222";
/// Where Debian's `nats-server` package installs the binary.
pub const NATS_BINARY: &str = "/usr/sbin/nats-server";

const NATS: Program = Program {
    name: "nats-server",
    installed: NATS_BINARY,
    package: "nats-server",
    default: DEFAULT_NATS,
};

/// A reachable NATS server with JetStream: the shared one, or one started
/// for this test.
#[derive(Debug)]
pub struct NatsServer {
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    child: Option<Started>,
    /// JetStream's storage of a server started here; removed after it stops.
    _store: Option<TestDir>,
}

impl NatsServer {
    /// The server on [`DEFAULT_NATS`] if it accepts a TCP connection, else a
    /// `nats-server -a 127.0.0.1 -p <free port>` started here.
    ///
    /// # Panics
    ///
    /// When nothing listens on [`DEFAULT_NATS`] and no `nats-server` binary
    /// can be started (at [`NATS_BINARY`] or on `PATH`).
    pub fn start() -> Self {
        if NATS.default_reachable() {
            return Self {
                url: format!("nats://{DEFAULT_NATS}"),
                child: None,
                _store: None,
            };
        }
        Self::start_on(free_port())
    }

    /// A `nats-server -a 127.0.0.1 -p <port> -js -sd <fresh directory>`
    /// (JetStream on, storing in a directory of its own) started here,
    /// whatever else runs.
    ///
    /// # Panics
    ///
    /// When no `nats-server` binary can be started (at [`NATS_BINARY`] or on
    /// `PATH`), or it does not accept connections in time.
    pub fn start_on(port: u16) -> Self {
        let store = TestDir::new();
        let store_path = store.path().to_str().expect("a UTF-8 temporary directory");
        let port_text = port.to_string();
        let args = [
            "-a",
            "127.0.0.1",
            "-p",
            &port_text,
            "-js",
            "-sd",
            store_path,
        ];
        let child = NATS.start(&args, port);
        Self {
            url: format!("nats://127.0.0.1:{port}"),
            child: Some(child),
            _store: Some(store),
        }
    }

    /// Whether this server was started by [`Self::start`] (and is stopped on
    /// drop).
    pub fn started_here(&self) -> bool {
        self.child.is_some()
    }
}

/// A port nothing listens on now.
///
/// # Panics
///
/// When no local port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free local port")
}

/// A topic prefix no other test (or test run) uses: `weft-tests-<pid>-<n>-<nanos>`.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.subsec_nanos());
    format!(
        "weft-tests-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The demo schema ([`weft::demo::SCHEMA`]) with every `@event` and
/// `@publish` topic put under `prefix` (`orders.status` becomes
/// `<prefix>.orders.status`); nothing else changes.
///
/// # Panics
///
/// When the demo schema no longer names those topics.
pub fn isolated_demo_schema(prefix: &str) -> String {
    let mut schema = weft::demo::SCHEMA.to_owned();
    for topic in ["orders.status", "announcements", "stock.changed"] {
        let quoted = format!("topic: \"{topic}\"");
        assert!(
            schema.contains(&quoted),
            "the demo schema has no `{quoted}` to isolate"
        );
        schema = schema.replace(&quoted, &format!("topic: \"{prefix}.{topic}\""));
    }
    schema
}

/// An event bus that puts every topic under a prefix before handing it to
/// another bus: a service's events, isolated the way
/// [`isolated_demo_schema`] isolates the gateway's topics.
#[derive(Debug)]
pub struct PrefixedBus {
    inner: Arc<dyn EventBus>,
    prefix: String,
}

impl PrefixedBus {
    /// `topic` becomes `<prefix>.<topic>` on `inner`.
    pub fn new(inner: Arc<dyn EventBus>, prefix: &str) -> Self {
        Self {
            inner,
            prefix: prefix.to_owned(),
        }
    }
}

impl EventBus for PrefixedBus {
    fn publish(&self, topic: &str, payload: Value) -> BoxFuture<'_, Result<(), BusError>> {
        let topic = format!("{}.{topic}", self.prefix);
        Box::pin(async move { self.inner.publish(&topic, payload).await })
    }

    fn subscribe(&self, topic: &str) -> BoxFuture<'_, Result<EventStream, BusError>> {
        let topic = format!("{}.{topic}", self.prefix);
        Box::pin(async move { self.inner.subscribe(&topic).await })
    }
}
