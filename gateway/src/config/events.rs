//! `[events]`: the event bus subscriptions listen on and mutations publish to.
//!
//! ```toml
//! [events]
//! kind = "nats"                    # or "redis", or "in_memory" (the default)
//! url = "nats://127.0.0.1:4222"    # nats and redis (redis://127.0.0.1:6379)
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
}

/// The kinds of event bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusKind {
    /// Within this process.
    InMemory,
    /// Core NATS at this URL.
    Nats(String),
    /// Redis pub/sub at this `redis://` or `rediss://` URL.
    Redis(String),
}

impl BusKind {
    /// The shared bus a URL names: Redis for `redis://` and `rediss://`,
    /// NATS for any other.
    pub fn for_url(url: String) -> Self {
        if is_redis_url(&url) {
            Self::Redis(url)
        } else {
            Self::Nats(url)
        }
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
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEvents {
    kind: Option<toml::Spanned<String>>,
    url: Option<toml::Spanned<String>>,
    buffer: Option<usize>,
}

pub(super) fn validate(
    raw: RawEvents,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> EventsConfig {
    let buffer = raw.buffer.unwrap_or(DEFAULT_BUFFER).max(1);
    let kind = match raw.kind {
        None => BusKind::InMemory,
        Some(kind) => match (kind.get_ref().as_str(), raw.url) {
            ("in_memory", _) => BusKind::InMemory,
            ("nats", Some(url)) => BusKind::Nats(url.into_inner()),
            ("redis", Some(url)) if is_redis_url(url.get_ref()) => BusKind::Redis(url.into_inner()),
            ("redis", Some(url)) => {
                let message = format!(
                    "`[events] url` of kind = \"redis\" must start with redis:// or rediss://, \
                     not `{}`",
                    url.get_ref()
                );
                problems.push(origin.error(url.span(), message));
                BusKind::InMemory
            }
            (name @ ("nats" | "redis"), None) => {
                let message = format!("`[events] kind = \"{name}\"` needs `url`");
                problems.push(origin.error(kind.span(), message));
                BusKind::InMemory
            }
            (other, _) => {
                let message = format!(
                    "unknown event bus kind `{other}`; use \"in_memory\", \"nats\" or \"redis\""
                );
                problems.push(origin.error(kind.span(), message));
                BusKind::InMemory
            }
        },
    };
    EventsConfig { kind, buffer }
}
