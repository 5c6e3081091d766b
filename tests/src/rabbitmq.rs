//! A RabbitMQ broker for the tests of the RabbitMQ event bus.
//!
//! [`RabbitMqServer::start`] uses the broker on `127.0.0.1:5672` (user
//! `guest`, password `guest`, the default virtual host); when none
//! answers, it starts `rabbitmq-server` as the machine's shared broker and
//! leaves it running, since it takes seconds to start. Tests isolate their
//! topics with [`crate::nats::unique_prefix`] and
//! [`crate::nats::isolated_demo_schema`], and cut the connection to the
//! broker with a [`crate::TcpTap`] in front of it rather than stopping the
//! shared broker.

use std::net::SocketAddr;
use std::time::Duration;

use crate::broker::Program;

/// Where a RabbitMQ broker usually listens.
pub const DEFAULT_RABBITMQ: &str = "127.0.0.1:5672";

/// How long a `rabbitmq-server` started here has to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(90);

const RABBITMQ: Program = Program {
    name: "rabbitmq-server",
    installed: "/usr/sbin/rabbitmq-server",
    package: "rabbitmq-server",
    default: DEFAULT_RABBITMQ,
};

/// A reachable RabbitMQ broker.
#[derive(Debug)]
pub struct RabbitMqServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub url: String,
}

impl RabbitMqServer {
    /// The broker on [`DEFAULT_RABBITMQ`], started first if nothing accepts
    /// connections there.
    ///
    /// # Panics
    ///
    /// When nothing listens on [`DEFAULT_RABBITMQ`] and no
    /// `rabbitmq-server` can be started, or it does not accept connections
    /// in time.
    pub fn start() -> Self {
        RABBITMQ.start_shared(&["-detached"], START_TIMEOUT);
        let addr = DEFAULT_RABBITMQ.parse().expect("a socket address");
        Self {
            addr,
            url: amqp_url(addr),
        }
    }
}

/// The URL of the broker at `addr` (or of a proxy to it), as user `guest`
/// on the default virtual host.
pub fn amqp_url(addr: SocketAddr) -> String {
    format!("amqp://guest:guest@{addr}/%2f")
}
