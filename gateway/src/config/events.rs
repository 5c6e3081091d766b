//! `[events]`: the event bus subscriptions listen on and mutations publish to.
//!
//! ```toml
//! [events]
//! kind = "nats"                    # or "redis", "rabbitmq", or "in_memory" (the default)
//! url = "nats://127.0.0.1:4222"    # nats, redis (redis://127.0.0.1:6379) and rabbitmq
//!                                  # (amqp://guest:guest@127.0.0.1:5672/%2f)
//! exchange = "weft.events"         # rabbitmq only: the topic exchange events go through
//! buffer = 1024                    # events a subscriber may fall behind before it is dropped
//! # kind = "nats" only: events stored in a JetStream stream, so subscriptions can resume
//! jetstream = { stream = "WEFT_EVENTS", subjects = ["orders.>"], max_age = "24h", max_msgs = 1000000 }
//! # kind = "redis" only: events stored in Redis Streams, so subscriptions can resume
//! streams = { prefix = "weft:", max_len = 1000000 }
//! ```

use std::time::Duration;

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
    /// `jetstream`: the stream NATS stores events in (only with NATS).
    pub jetstream: Option<JetStreamConfig>,
    /// `streams`: the Redis Streams events are stored in (only with Redis).
    pub streams: Option<RedisStreamsConfig>,
}

/// `[events] streams`: every topic's events are stored in the Redis stream
/// `<prefix><topic>`, so that a subscription can resume after its last
/// event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStreamsConfig {
    /// What every stream key starts with.
    pub prefix: String,
    /// About how many events each stream keeps (`XADD MAXLEN ~`); at least 1.
    pub max_len: u64,
}

/// The key prefix `streams` gets when it names none.
pub const DEFAULT_STREAM_PREFIX: &str = "weft:";

/// The length `streams` trims each stream to when it names none.
pub const DEFAULT_MAX_LEN: u64 = 1_000_000;

/// The RabbitMQ exchange of `[events]` without `exchange`.
pub const DEFAULT_EXCHANGE: &str = "weft.events";

/// `[events] jetstream`: the JetStream stream that stores the events of
/// `subjects`, so that a subscription can resume after its last event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The stream's name.
    pub stream: String,
    /// The subjects (NATS wildcards allowed) the stream stores; never empty.
    pub subjects: Vec<String>,
    /// How long an event is kept; `None`: until `max_msgs` pushes it out.
    pub max_age: Option<Duration>,
    /// How many events are kept; `None`: no limit.
    pub max_msgs: Option<u64>,
}

/// The stream name `jetstream` gets when it names none.
pub const DEFAULT_STREAM: &str = "WEFT_EVENTS";

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
            jetstream: None,
            streams: None,
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
    jetstream: Option<toml::Spanned<RawJetStream>>,
    streams: Option<toml::Spanned<RawStreams>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStreams {
    prefix: Option<toml::Spanned<String>>,
    max_len: Option<toml::Spanned<u64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJetStream {
    stream: Option<toml::Spanned<String>>,
    subjects: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
    max_age: Option<toml::Spanned<String>>,
    max_msgs: Option<toml::Spanned<u64>>,
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
    let jetstream = raw.jetstream.and_then(|jetstream| {
        if !matches!(kind, BusKind::Nats(_)) {
            let message = "`[events] jetstream` needs `kind = \"nats\"`: only NATS stores events";
            problems.push(origin.error(jetstream.span(), message));
            return None;
        }
        validate_jetstream(jetstream, origin, problems)
    });
    let streams = raw.streams.and_then(|streams| {
        if !matches!(kind, BusKind::Redis(_)) {
            let message = "`[events] streams` needs `kind = \"redis\"`: they are Redis Streams";
            problems.push(origin.error(streams.span(), message));
            return None;
        }
        validate_streams(streams.into_inner(), origin, problems)
    });
    EventsConfig {
        kind,
        buffer,
        exchange,
        jetstream,
        streams,
    }
}

fn validate_streams(
    raw: RawStreams,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<RedisStreamsConfig> {
    let before = problems.0.len();
    let prefix = raw.prefix.map_or_else(
        || DEFAULT_STREAM_PREFIX.to_owned(),
        |prefix| {
            if prefix
                .get_ref()
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            {
                let message = format!(
                    "`[events] streams.prefix` `{}` must not contain spaces or control characters",
                    prefix.get_ref().escape_debug()
                );
                problems.push(origin.error(prefix.span(), message));
            }
            prefix.into_inner()
        },
    );
    let max_len = raw.max_len.map_or(DEFAULT_MAX_LEN, |max| {
        if *max.get_ref() == 0 {
            let message = "`[events] streams.max_len` must be at least 1";
            problems.push(origin.error(max.span(), message));
        }
        max.into_inner()
    });
    (problems.0.len() == before).then_some(RedisStreamsConfig { prefix, max_len })
}

fn validate_jetstream(
    raw: toml::Spanned<RawJetStream>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<JetStreamConfig> {
    let span = raw.span();
    let raw = raw.into_inner();
    let before = problems.0.len();
    let stream = match raw.stream {
        Some(name) if !is_stream_name(name.get_ref()) => {
            let message = format!(
                "`[events] jetstream.stream` `{}` is not a stream name: use letters, digits, \
                 `-` and `_`",
                name.get_ref()
            );
            problems.push(origin.error(name.span(), message));
            String::new()
        }
        Some(name) => name.into_inner(),
        None => DEFAULT_STREAM.to_owned(),
    };
    let subjects = match raw.subjects {
        Some(subjects) if subjects.get_ref().is_empty() => {
            let message = "`[events] jetstream.subjects` must name at least one subject";
            problems.push(origin.error(subjects.span(), message));
            Vec::new()
        }
        Some(subjects) => subjects
            .into_inner()
            .into_iter()
            .filter_map(|subject| {
                if is_subject_pattern(subject.get_ref()) {
                    return Some(subject.into_inner());
                }
                let message = format!(
                    "`{}` is not a NATS subject: dot-separated tokens without spaces, \
                     `*` for one token, `>` for the rest (last only)",
                    subject.get_ref()
                );
                problems.push(origin.error(subject.span(), message));
                None
            })
            .collect(),
        None => {
            let message = "`[events] jetstream` needs `subjects`, the subjects its stream \
                           stores, e.g. `subjects = [\"orders.>\"]`";
            problems.push(origin.error(span, message));
            Vec::new()
        }
    };
    let max_age = raw.max_age.and_then(|age| {
        let duration = parse_duration(age.get_ref());
        if duration.is_none() {
            let message = format!(
                "`[events] jetstream.max_age` `{}` is not a duration such as \"90s\", \
                 \"30m\", \"24h\" or \"7d\"",
                age.get_ref()
            );
            problems.push(origin.error(age.span(), message));
        }
        duration
    });
    let max_msgs = raw.max_msgs.and_then(|max| {
        if *max.get_ref() == 0 {
            let message = "`[events] jetstream.max_msgs` must be at least 1";
            problems.push(origin.error(max.span(), message));
            return None;
        }
        Some(max.into_inner())
    });
    (problems.0.len() == before).then_some(JetStreamConfig {
        stream,
        subjects,
        max_age,
        max_msgs,
    })
}

/// Whether `name` can name a JetStream stream (and be part of a subject).
fn is_stream_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Whether `subject` is a NATS subject, wildcards allowed: non-empty
/// tokens without whitespace, `*` only as a whole token, `>` only as the
/// whole last token.
pub fn is_subject_pattern(subject: &str) -> bool {
    let tokens: Vec<&str> = subject.split('.').collect();
    tokens.iter().enumerate().all(|(i, token)| {
        !token.is_empty()
            && !token.chars().any(char::is_whitespace)
            && (*token == "*" || !token.contains('*'))
            && (*token == ">" && i == tokens.len() - 1 || !token.contains('>'))
    })
}

/// `90s`, `30m`, `24h`, `7d`, `500ms`: a whole number and a unit.
fn parse_duration(text: &str) -> Option<Duration> {
    let digits = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let seconds = match unit {
        "ms" => return (number > 0).then(|| Duration::from_millis(number)),
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    number
        .checked_mul(seconds)
        .filter(|_| number > 0)
        .map(Duration::from_secs)
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
