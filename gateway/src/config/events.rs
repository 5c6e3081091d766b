//! `[events]`: the event bus subscriptions listen on and mutations publish to.
//!
//! ```toml
//! [events]
//! kind = "nats"                    # or "in_memory" (the default)
//! url = "nats://127.0.0.1:4222"    # nats only
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
    url: Option<String>,
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
            ("nats", Some(url)) => BusKind::Nats(url),
            ("nats", None) => {
                problems.push(origin.error(kind.span(), "`[events] kind = \"nats\"` needs `url`"));
                BusKind::InMemory
            }
            (other, _) => {
                let message =
                    format!("unknown event bus kind `{other}`; use \"in_memory\" or \"nats\"");
                problems.push(origin.error(kind.span(), message));
                BusKind::InMemory
            }
        },
    };
    EventsConfig { kind, buffer }
}
