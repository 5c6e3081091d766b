//! `[subscriptions]`: limits of WebSocket and SSE subscriptions.
//!
//! ```toml
//! [subscriptions]
//! max_connections = 10000          # WebSocket connections open at once; more are closed with 1013
//! max_per_connection = 100          # operations one WebSocket may run at once
//! connection_init_timeout_ms = 10000  # time a WebSocket has to send connection_init
//! keepalive_ms = 15000              # ping (graphql-transport-ws) / ka (graphql-ws) interval
//! ```

use std::time::Duration;

use serde::Deserialize;

/// The validated `[subscriptions]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionsConfig {
    /// WebSocket connections open at once.
    pub max_connections: usize,
    /// Operations one WebSocket connection may run at once.
    pub max_per_connection: usize,
    /// How long a WebSocket has to send `connection_init`.
    pub connection_init_timeout: Duration,
    /// How often the server pings an idle connection.
    pub keepalive: Duration,
}

impl Default for SubscriptionsConfig {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            max_per_connection: 100,
            connection_init_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(15),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSubscriptions {
    max_connections: Option<usize>,
    max_per_connection: Option<usize>,
    connection_init_timeout_ms: Option<u64>,
    keepalive_ms: Option<u64>,
}

pub(super) fn validate(raw: RawSubscriptions) -> SubscriptionsConfig {
    let default = SubscriptionsConfig::default();
    SubscriptionsConfig {
        max_connections: raw
            .max_connections
            .unwrap_or(default.max_connections)
            .max(1),
        max_per_connection: raw
            .max_per_connection
            .unwrap_or(default.max_per_connection)
            .max(1),
        connection_init_timeout: raw
            .connection_init_timeout_ms
            .map_or(default.connection_init_timeout, Duration::from_millis),
        keepalive: raw
            .keepalive_ms
            .map_or(default.keepalive, |ms| Duration::from_millis(ms.max(100))),
    }
}
