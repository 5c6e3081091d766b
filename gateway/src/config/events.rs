//! `[events]`: the event bus subscriptions listen on and mutations publish to.
//!
//! ```toml
//! [events]
//! kind = "nats"                    # or "redis", "rabbitmq", or "in_memory" (the default)
//! url = "nats://127.0.0.1:4222"    # nats, redis (redis://127.0.0.1:6379) and rabbitmq
//!                                  # (amqp://guest:guest@127.0.0.1:5672/%2f)
//! exchange = "weft.events"         # rabbitmq only: the topic exchange events go through
//! buffer = 1024                    # events a subscriber may fall behind before it is dropped
//! ```

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;
use crate::events::in_memory::DEFAULT_BUFFER;

/// The validated `[events]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsConfig {
    /// Which bus.
    pub kind: BusKind,
    /// How many events a subscriber may fall behind before it is dropped.
    pub buffer: usize,
    /// The RabbitMQ topic exchange events are published to and queues are
    /// bound to; [`DEFAULT_EXCHANGE`] unless configured. Only
    /// [`BusKind::RabbitMq`] uses it.
    pub exchange: String,
}

/// The RabbitMQ exchange of `[events]` without `exchange`.
pub const DEFAULT_EXCHANGE: &str = "weft.events";

/// The kinds of event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusKind {
    /// Within this process.
    InMemory,
    /// Core NATS at this URL.
    Nats(String),
    /// Redis pub/sub at this `redis://` or `rediss://` URL.
    Redis(String),
    /// A RabbitMQ (AMQP 0.9.1) topic exchange, on the broker at this
    /// `amqp://` URL.
    RabbitMq(String),
}

impl BusKind {
    /// The shared bus a URL names: Redis for `redis://` and `rediss://`,
    /// RabbitMQ for `amqp://` and `amqps://` (the latter refused when the
    /// bus opens), NATS for any other.
    pub fn for_url(url: String) -> Self {
        if is_redis_url(&url) {
            Self::Redis(url)
        } else if url.starts_with("amqp://") || url.starts_with(AMQPS) {
            Self::RabbitMq(url)
        } else {
            Self::Nats(url)
        }
    }
}

/// The scheme of AMQP over TLS, which this build does not support.
pub(crate) const AMQPS: &str = "amqps://";

/// Why the RabbitMQ bus cannot use `url`, if it cannot: anything but
/// `amqp://`.
pub(crate) fn rabbitmq_url_problem(url: &str) -> Option<String> {
    if url.starts_with(AMQPS) {
        Some(format!(
            "`{url}`: amqps:// (AMQP over TLS) is not supported by this build of weft; use \
             amqp:// to a broker on a trusted network, or a TLS-terminating proxy in front of it"
        ))
    } else if url.starts_with("amqp://") {
        None
    } else {
        Some(format!(
            "`[events] url` of kind = \"rabbitmq\" must start with amqp://, not `{url}`"
        ))
    }
}

/// Whether `url` has a scheme the Redis bus accepts.
fn is_redis_url(url: &str) -> bool {
    url.starts_with("redis://") || url.starts_with("rediss://")
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            kind: BusKind::InMemory,
            buffer: DEFAULT_BUFFER,
            exchange: DEFAULT_EXCHANGE.to_owned(),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    kind: Option<toml::Spanned<String>>,
    url: Option<toml::Spanned<String>>,
    exchange: Option<toml::Spanned<String>>,
    buffer: Option<usize>,
}

pub(super) fn validate(
    raw: RawEvents,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> EventsConfig {
    let buffer = raw.buffer.unwrap_or(DEFAULT_BUFFER).max(1);
    let is_rabbitmq = raw
        .kind
        .as_ref()
        .is_some_and(|kind| kind.get_ref() == "rabbitmq");
    let exchange = validate_exchange(raw.exchange, is_rabbitmq, origin, problems);
    let kind = match raw.kind {
        None => BusKind::InMemory,
        Some(kind) => match (kind.get_ref().as_str(), raw.url) {
            ("in_memory", _) => BusKind::InMemory,
            ("nats", Some(url)) => BusKind::Nats(url.into_inner()),
            ("redis", Some(url)) if is_redis_url(url.get_ref()) => BusKind::Redis(url.into_inner()),
            ("rabbitmq", Some(url)) => match rabbitmq_url_problem(url.get_ref()) {
                None => BusKind::RabbitMq(url.into_inner()),
                Some(message) => {
                    problems.push(origin.error(url.span(), message));
                    BusKind::InMemory
                }
            },
            ("redis", Some(url)) => {
                let message = format!(
                    "`[events] url` of kind = \"redis\" must start with redis:// or rediss://, \
                     not `{}`",
                    url.get_ref()
                );
                problems.push(origin.error(url.span(), message));
                BusKind::InMemory
            }
            (name @ ("nats" | "redis" | "rabbitmq"), None) => {
                let message = format!("`[events] kind = \"{name}\"` needs `url`");
                problems.push(origin.error(kind.span(), message));
                BusKind::InMemory
            }
            (other, _) => {
                let message = format!(
                    "unknown event bus kind `{other}`; use \"in_memory\", \"nats\", \"redis\" or \
                     \"rabbitmq\""
                );
                problems.push(origin.error(kind.span(), message));
                BusKind::InMemory
            }
        },
    };
    EventsConfig {
        kind,
        buffer,
        exchange,
    }
}

/// The configured exchange, which must be an AMQP exchange name (1 to 255
/// letters, digits, `-`, `_`, `.` or `:`) and is refused for the kinds
/// without exchanges.
fn validate_exchange(
    exchange: Option<toml::Spanned<String>>,
    is_rabbitmq: bool,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> String {
    let Some(exchange) = exchange else {
        return DEFAULT_EXCHANGE.to_owned();
    };
    let name = exchange.get_ref();
    let problem = if !is_rabbitmq {
        Some("`[events] exchange` is for kind = \"rabbitmq\" only")
    } else if name.is_empty()
        || name.len() > 255
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
    {
        Some(
            "`[events] exchange` must be 1 to 255 letters, digits, `-`, `_`, `.` or `:` \
             (an AMQP exchange name)",
        )
    } else {
        None
    };
    if let Some(message) = problem {
        problems.push(origin.error(exchange.span(), message.to_owned()));
    }
    exchange.into_inner()
}
