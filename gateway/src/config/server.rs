//! `[server]`: where the gateway listens, what it serves besides GraphQL,
//! how long a request may take and how it shuts down.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:4000"
//! graphiql = true
//! introspection = true          # false: `__schema` and `__type` are refused
//! request_timeout_ms = 30000    # a whole query or mutation; over it: 504
//! shutdown_drain_ms = 1000      # `/health` answers 503 this long before the server stops taking requests
//! shutdown_timeout_ms = 10000   # then requests in flight have this long to finish
//! debug = false                 # true: `x-weft-debug: calls` lists the backend calls in answers
//!
//! [server.cors]                 # see `cors`
//! allow_origins = ["https://app.example.com"]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Origin;
use super::cors::{self, CorsConfig};
use crate::error::Diagnostics;

/// How long a whole query or mutation may take, unless set.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// The validated `[server]` section.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The socket address of the HTTP server (`listen`, default
    /// `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// Whether `GET /graphql` from a browser serves GraphiQL (`graphiql`,
    /// default `true`).
    pub graphiql: bool,
    /// Whether `__schema` and `__type` are answered (`introspection`,
    /// default `true`); `__typename` always is.
    pub introspection: bool,
    /// How long a whole query or mutation may take (`request_timeout_ms`,
    /// default 30 s); a subscription's event gets as long.
    pub request_timeout: Duration,
    /// How long `/health` reports `503` before the server stops taking
    /// requests, so that load balancers stop sending them
    /// (`shutdown_drain_ms`, default 1 s).
    pub shutdown_drain: Duration,
    /// How long requests in flight then have to finish before the process
    /// exits anyway (`shutdown_timeout_ms`, default 10 s).
    pub shutdown_timeout: Duration,
    /// Which browser origins may call (`[server.cors]`); `None`: no CORS
    /// header is sent.
    pub cors: Option<CorsConfig>,
    /// Whether `x-weft-debug: calls` lists a request's backend calls in its
    /// answer (`debug`, default `false`; `weft demo` turns it on).
    pub debug: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            graphiql: true,
            introspection: true,
            request_timeout: Duration::from_millis(DEFAULT_REQUEST_TIMEOUT_MS),
            shutdown_drain: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(10),
            cors: None,
            debug: false,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<toml::Spanned<String>>,
    graphiql: Option<bool>,
    introspection: Option<bool>,
    request_timeout_ms: Option<toml::Spanned<u64>>,
    shutdown_drain_ms: Option<u64>,
    shutdown_timeout_ms: Option<u64>,
    cors: Option<cors::RawCors>,
    debug: Option<bool>,
}

pub(super) fn validate(
    raw: RawServer,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> ServerConfig {
    let default = ServerConfig::default();
    let default_listen = default.listen;
    let listen = raw.listen.map_or(default_listen, |listen| {
        listen.get_ref().parse().unwrap_or_else(|_| {
            problems.push(origin.error(
                listen.span(),
                format!(
                    "`listen = \"{}\"` is not a socket address like 127.0.0.1:4000",
                    listen.get_ref()
                ),
            ));
            default_listen
        })
    });
    let request_timeout = Duration::from_millis(origin.at_least_one(
        "request_timeout_ms",
        raw.request_timeout_ms,
        DEFAULT_REQUEST_TIMEOUT_MS,
        problems,
    ));
    ServerConfig {
        listen,
        graphiql: raw.graphiql.unwrap_or(default.graphiql),
        introspection: raw.introspection.unwrap_or(default.introspection),
        request_timeout,
        shutdown_drain: raw
            .shutdown_drain_ms
            .map_or(default.shutdown_drain, Duration::from_millis),
        shutdown_timeout: raw
            .shutdown_timeout_ms
            .map_or(default.shutdown_timeout, Duration::from_millis),
        cors: raw.cors.map(|raw| cors::validate(raw, origin, problems)),
        debug: raw.debug.unwrap_or(default.debug),
    }
}
