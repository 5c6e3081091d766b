//! `[sources.<name>]`: the backends the schema's directives call, by name.
//!
//! ```toml
//! [sources.users]
//! kind = "rest"
//! url = "http://users.internal:8080"
//! timeout_ms = 2000                       # optional, default 5000
//! max_batch_size = 100                    # optional: keys per batched call; 1 = no batching
//! max_concurrency = 64                    # optional: calls in flight at once
//! max_request_concurrency = 16            # optional: of those, how many one request may have
//! forward_headers = ["authorization", { from = "x-tenant", to = "x-tenant-id" }]  # client headers sent on
//!                                         # every call (gRPC: as metadata), optionally renamed
//! headers = { "x-api-key" = "secret" }    # optional, sent on every call
//! openapi = "users.yaml"                  # optional, REST only: the service's OpenAPI document;
//!                                         # `@rest` directives of this source are checked against it
//!
//! [sources.catalog]
//! kind = "grpc"
//! endpoint = "http://catalog.internal:50051"
//! protos = ["proto/catalog/v1/catalog.proto"]
//! include = ["proto"]                     # optional, default: the first proto's root
//! # reflection = true                     # instead of protos: fetched from the service
//! retries = 2                             # optional, default 0: idempotent calls only
//! retry_backoff_ms = 50                   # optional, default 50: base of the backoff
//! idempotent_methods = ["catalog.v1.Catalog/GetProduct"]   # gRPC only: which may be retried
//!
//! [sources.reviews]
//! kind = "graphql"                        # an Apollo Federation v2 subgraph
//! url = "http://reviews.internal:4000/graphql"
//! sdl = "reviews.graphql"                 # optional: its SDL, relative to this file;
//!                                         # without it, read from `_service { sdl }` at start-up
//!
//! [sources.catalog.breaker]               # optional: these are the defaults
//! error_rate = 0.5                        # open at this share of failed calls...
//! window_ms = 10000                       # ...within this rolling window...
//! min_calls = 20                          # ...once it holds this many calls
//! open_ms = 500                           # refuse calls this long, then let one probe through
//! # enabled = false, or `breaker = false` in the source's table, turns it off
//! ```
//!
//! REST calls are retried when they are `GET`; gRPC calls when their method
//! is listed in `idempotent_methods`. See [`crate::sources::resilience`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::Origin;
use crate::error::Diagnostics;

/// The timeout of a backend call when the source sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// How many keys one batched call carries at most, unless set.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 100;
/// How many calls to one source one request may have in flight at once,
/// unless set.
pub const DEFAULT_MAX_REQUEST_CONCURRENCY: usize = 16;
/// How many calls to one source may be in flight at once, unless set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;
/// The base of the backoff between retries, unless set.
pub const DEFAULT_RETRY_BACKOFF_MS: u64 = 50;
/// The most retries a source may ask for.
pub const MAX_RETRIES: u32 = 10;

/// One validated source.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// How long one call may take before it fails with `SOURCE_TIMEOUT`.
    pub timeout_ms: u64,
    /// How many keys one batched call carries at most; `1` turns batching
    /// off (one call per key).
    pub max_batch_size: usize,
    /// How many calls to this source may be in flight at once, across all
    /// requests; more wait their turn.
    pub max_concurrency: usize,
    /// How many calls to this source one request may have in flight at
    /// once, so that no request takes all of `max_concurrency`.
    pub max_request_concurrency: usize,
    /// How many times an idempotent call is sent again after a transient
    /// failure; `0` never retries.
    pub retries: u32,
    /// The base of the exponential backoff between retries, in ms.
    pub retry_backoff_ms: u64,
    /// The circuit breaker's settings; `None` when it is turned off.
    pub breaker: Option<BreakerConfig>,
    /// The client request headers copied onto every call (REST headers,
    /// gRPC metadata): each client header name, and the name it is sent
    /// under.
    pub forward_headers: Vec<(http::HeaderName, http::HeaderName)>,
    /// The 1-based line of the source's table in the config file.
    pub line: usize,
    /// What kind of backend it is, and how to reach it.
    pub kind: SourceKind,
}

/// When a source's circuit breaker opens and for how long
/// (`[sources.<name>.breaker]`).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerConfig {
    /// The share of failed calls (0 to 1) at which it opens.
    pub error_rate: f64,
    /// The rolling window calls are counted in, in ms.
    pub window_ms: u64,
    /// How many calls the window must hold before it may open.
    pub min_calls: u32,
    /// How long it stays open before one probe call is let through, in ms.
    pub open_ms: u64,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            error_rate: 0.5,
            window_ms: 10_000,
            min_calls: 20,
            open_ms: 500,
        }
    }
}

/// The kinds of backend weft can call.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A REST/JSON service.
    Rest(RestSourceConfig),
    /// A gRPC service.
    Grpc(GrpcSourceConfig),
    /// A GraphQL federation subgraph.
    Graphql(GraphqlSourceConfig),
}

/// A GraphQL subgraph source.
#[derive(Debug, Clone)]
pub struct GraphqlSourceConfig {
    /// The subgraph's GraphQL endpoint.
    pub url: reqwest::Url,
    /// Headers sent with every call.
    pub headers: BTreeMap<String, String>,
    /// Where its SDL comes from.
    pub sdl: SubgraphSdl,
    /// Where its subscriptions are opened (graphql-transport-ws):
    /// `subscriptions_url`, else `url` with `ws`/`wss` for `http`/`https`.
    pub subscriptions_url: reqwest::Url,
}

/// Where a subgraph's SDL comes from.
#[derive(Debug, Clone)]
pub enum SubgraphSdl {
    /// `sdl = "path"`: a file, resolved against the config file.
    File(PathBuf),
    /// No `sdl`: the subgraph's `_service { sdl }`, asked at start-up;
    /// `None` until then.
    Service(Option<String>),
    /// A subgraph of `[supergraph]`: its SDL is its part of the supergraph
    /// file ([`super::SupergraphConfig::subgraphs`]).
    Supergraph,
}

/// A REST source.
#[derive(Debug, Clone)]
pub struct RestSourceConfig {
    /// The base URL that directive paths are appended to.
    pub url: reqwest::Url,
    /// Headers sent with every call.
    pub headers: BTreeMap<String, String>,
    /// The service's OpenAPI document (`openapi`), which the source's
    /// `@rest` directives are checked against.
    pub openapi: Option<PathBuf>,
}

/// A gRPC source.
#[derive(Debug, Clone)]
pub struct GrpcSourceConfig {
    /// The server's URI, e.g. `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// Where the descriptors of its services come from.
    pub descriptors: Descriptors,
    /// The methods (`package.Service/Method`) that may be retried.
    pub idempotent_methods: Vec<String>,
}

/// Where a gRPC source's service descriptors come from: exactly one of
/// `protos` and `reflection = true`.
#[derive(Debug, Clone)]
pub enum Descriptors {
    /// `.proto` files, compiled at start-up.
    Protos {
        /// The files that define its services; each must lie under one of
        /// the `include` directories.
        protos: Vec<PathBuf>,
        /// The directories imports are resolved against.
        include: Vec<PathBuf>,
    },
    /// `reflection = true`: fetched from the service over the gRPC Server
    /// Reflection protocol at start-up and on reload.
    Reflection {
        /// The descriptors once fetched ([`crate::sources::reflection::fetch_all`]);
        /// `None` before, when building the gateway refuses the source.
        fetched: Option<prost_reflect::DescriptorPool>,
    },
}

impl Descriptors {
    /// The `.proto` files to watch for changes (none for reflection).
    pub fn proto_files(&self) -> &[PathBuf] {
        match self {
            Self::Protos { protos, .. } => protos,
            Self::Reflection { .. } => &[],
        }
    }
}

impl SourceConfig {
    /// Points the source at another address (the `WEFT_SOURCE_<NAME>_URL`
    /// override).
    pub(super) fn set_url(&mut self, url: String) {
        match &mut self.kind {
            SourceKind::Rest(rest) => {
                if let Ok(parsed) = url.parse() {
                    rest.url = parsed;
                }
            }
            SourceKind::Grpc(grpc) => grpc.endpoint = url,
            SourceKind::Graphql(graphql) => {
                if let Ok(parsed) = url.parse() {
                    graphql.url = parsed;
                }
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    kind: toml::Spanned<String>,
    url: Option<toml::Spanned<String>>,
    endpoint: Option<String>,
    #[serde(default)]
    protos: Vec<String>,
    #[serde(default)]
    include: Vec<String>,
    reflection: Option<toml::Spanned<bool>>,
    timeout_ms: Option<u64>,
    max_batch_size: Option<usize>,
    max_concurrency: Option<usize>,
    max_request_concurrency: Option<usize>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    retries: Option<toml::Spanned<u32>>,
    retry_backoff_ms: Option<u64>,
    idempotent_methods: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
    breaker: Option<RawBreaker>,
    forward_headers: Option<toml::Spanned<Vec<RawForward>>>,
    openapi: Option<toml::Spanned<String>>,
    sdl: Option<toml::Spanned<String>>,
    subscriptions_url: Option<toml::Spanned<String>>,
}

/// One entry of `forward_headers`: a header name, or `{ from, to }` to send
/// it under another name.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawForward {
    Same(String),
    Renamed { from: String, to: String },
}

/// `breaker = false`, `breaker = true` or a `[sources.<name>.breaker]` table.
pub(super) enum RawBreaker {
    Switch(bool),
    Table(RawBreakerTable),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBreakerTable {
    enabled: Option<bool>,
    error_rate: Option<toml::Spanned<f64>>,
    window_ms: Option<toml::Spanned<u64>>,
    min_calls: Option<toml::Spanned<u32>>,
    open_ms: Option<toml::Spanned<u64>>,
}

impl<'de> Deserialize<'de> for RawBreaker {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(BreakerVisitor)
    }
}

struct BreakerVisitor;

impl<'de> Visitor<'de> for BreakerVisitor {
    type Value = RawBreaker;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("`true`, `false` or a table of breaker settings")
    }

    fn visit_bool<E: de::Error>(self, enabled: bool) -> Result<RawBreaker, E> {
        Ok(RawBreaker::Switch(enabled))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawBreaker, A::Error> {
        RawBreakerTable::deserialize(de::value::MapAccessDeserializer::new(map))
            .map(RawBreaker::Table)
    }
}

pub(super) fn validate(
    name: &str,
    raw: toml::Spanned<RawSource>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<SourceConfig> {
    let span = raw.span();
    let mut raw = raw.into_inner();
    let retries = retries(raw.retries.take(), origin, problems);
    let breaker = breaker(raw.breaker.take(), origin, problems);
    let idempotent_methods = idempotent_methods(raw.idempotent_methods.take(), origin, problems);
    let forward_headers = forward_headers(raw.forward_headers.take(), origin, problems);
    if let Some(openapi) = raw
        .openapi
        .as_ref()
        .filter(|_| raw.kind.get_ref() == "grpc")
    {
        problems.push(origin.error(
            openapi.span(),
            format!("source `{name}`: `openapi` is for REST sources"),
        ));
    }
    let mut kind = kind(name, &span, &mut raw, origin, problems)?;
    match (&mut kind, idempotent_methods) {
        (SourceKind::Grpc(grpc), Some((_, methods))) => grpc.idempotent_methods = methods,
        (SourceKind::Rest(_) | SourceKind::Graphql(_), Some((at, _))) => {
            problems.push(origin.error(
                at,
                format!(
                    "source `{name}`: `idempotent_methods` is for gRPC sources; \
                 REST calls are retried when they are GET, GraphQL queries always"
                ),
            ));
        }
        (_, None) => {}
    }
    Some(SourceConfig {
        timeout_ms: raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        max_batch_size: raw.max_batch_size.unwrap_or(DEFAULT_MAX_BATCH_SIZE).max(1),
        max_concurrency: raw
            .max_concurrency
            .unwrap_or(DEFAULT_MAX_CONCURRENCY)
            .max(1),
        max_request_concurrency: raw
            .max_request_concurrency
            .unwrap_or(DEFAULT_MAX_REQUEST_CONCURRENCY)
            .max(1),
        retries,
        retry_backoff_ms: raw.retry_backoff_ms.unwrap_or(DEFAULT_RETRY_BACKOFF_MS),
        breaker,
        forward_headers,
        line: origin.line_of(span.start),
        kind,
    })
}

/// The `forward_headers` entries as (client name, sent name) pairs; a name
/// that is not a header name is reported at the list's line.
fn forward_headers(
    raw: Option<toml::Spanned<Vec<RawForward>>>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Vec<(http::HeaderName, http::HeaderName)> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let span = raw.span();
    let mut pairs = Vec::new();
    for entry in raw.into_inner() {
        let (from, to) = match entry {
            RawForward::Same(name) => (name.clone(), name),
            RawForward::Renamed { from, to } => (from, to),
        };
        let parse = |name: &str| http::HeaderName::from_bytes(name.trim().as_bytes()).ok();
        match (parse(&from), parse(&to)) {
            (Some(from), Some(to)) => pairs.push((from, to)),
            _ => problems.push(origin.error(
                span.clone(),
                format!("`forward_headers`: `{from}` → `{to}` is not a pair of header names"),
            )),
        }
    }
    pairs
}

/// The kind-specific part of a source: a REST URL, or a gRPC endpoint and
/// its protos.
fn kind(
    name: &str,
    span: &std::ops::Range<usize>,
    raw: &mut RawSource,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<SourceKind> {
    let mut missing = |key: &str| {
        problems.push(origin.error(span.clone(), format!("source `{name}` needs `{key}`")));
    };
    match raw.kind.get_ref().as_str() {
        "rest" => {
            let url = required_url(name, span, raw, origin, problems)?;
            Some(SourceKind::Rest(RestSourceConfig {
                url,
                headers: std::mem::take(&mut raw.headers),
                openapi: raw
                    .openapi
                    .take()
                    .map(|file| origin.resolve_path(file.get_ref())),
            }))
        }
        "graphql" => graphql(name, span, raw, origin, problems),
        "grpc" => {
            let Some(endpoint) = raw.endpoint.take() else {
                missing("endpoint");
                return None;
            };
            let descriptors = descriptors(name, span, raw, origin, problems)?;
            Some(SourceKind::Grpc(GrpcSourceConfig {
                endpoint,
                descriptors,
                idempotent_methods: Vec::new(),
            }))
        }
        other => {
            problems.push(origin.error(
                raw.kind.span(),
                format!(
                    "source `{name}` has unknown kind `{other}`; use \"rest\", \"grpc\" or \"graphql\""
                ),
            ));
            None
        }
    }
}

/// A GraphQL subgraph: its URL, and its SDL file if it names one.
fn graphql(
    name: &str,
    span: &std::ops::Range<usize>,
    raw: &mut RawSource,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<SourceKind> {
    let parsed = required_url(name, span, raw, origin, problems)?;
    let sdl = match raw.sdl.take() {
        Some(file) => SubgraphSdl::File(origin.resolve_path(file.get_ref())),
        None => SubgraphSdl::Service(None),
    };
    let subscriptions_url = match raw.subscriptions_url.take() {
        Some(url) => match url.get_ref().parse::<reqwest::Url>() {
            Ok(parsed) if matches!(parsed.scheme(), "ws" | "wss") => parsed,
            _ => {
                let message = format!("`{}` is not a ws:// or wss:// URL", url.get_ref());
                problems.push(origin.error(url.span(), message));
                return None;
            }
        },
        None => websocket_url(&parsed),
    };
    Some(SourceKind::Graphql(GraphqlSourceConfig {
        url: parsed,
        headers: std::mem::take(&mut raw.headers),
        sdl,
        subscriptions_url,
    }))
}

/// The source's `url`, which it must have.
fn required_url(
    name: &str,
    span: &std::ops::Range<usize>,
    raw: &mut RawSource,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<reqwest::Url> {
    let Some(url) = raw.url.take() else {
        problems.push(origin.error(span.clone(), format!("source `{name}` needs `url`")));
        return None;
    };
    let Ok(parsed) = url.get_ref().parse() else {
        problems.push(origin.error(url.span(), format!("`{}` is not a URL", url.get_ref())));
        return None;
    };
    Some(parsed)
}

/// `url` with `ws` for `http` and `wss` for `https`.
pub(super) fn websocket_url(url: &reqwest::Url) -> reqwest::Url {
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    let mut websocket = url.clone();
    // Only the schemes' names differ; a URL of another scheme is kept.
    if websocket.set_scheme(scheme).is_err() {
        return url.clone();
    }
    websocket
}

/// Where a gRPC source's descriptors come from: `protos` (with `include`)
/// or `reflection = true`, never both and never neither.
fn descriptors(
    name: &str,
    span: &std::ops::Range<usize>,
    raw: &RawSource,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<Descriptors> {
    let reflection = raw.reflection.as_ref();
    match (reflection.map(|on| *on.get_ref()), raw.protos.is_empty()) {
        (Some(true), true) if raw.include.is_empty() => {
            Some(Descriptors::Reflection { fetched: None })
        }
        (Some(true), _) => {
            let at = reflection.map_or_else(|| span.clone(), toml::Spanned::span);
            problems.push(origin.error(
                at,
                format!(
                    "source `{name}` has both `reflection = true` and `protos`/`include`; \
                     give one: the descriptors come from the service or from the files"
                ),
            ));
            None
        }
        (_, false) => Some(Descriptors::Protos {
            include: include_dirs(&raw.include, &raw.protos, origin),
            protos: raw
                .protos
                .iter()
                .map(|proto| origin.resolve_path(proto))
                .collect(),
        }),
        (_, true) => {
            problems.push(origin.error(
                span.clone(),
                format!(
                    "source `{name}` needs `protos` (the .proto files of its services) \
                     or `reflection = true` (to fetch them from the service)"
                ),
            ));
            None
        }
    }
}

/// `retries`, at most [`MAX_RETRIES`].
fn retries(
    raw: Option<toml::Spanned<u32>>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> u32 {
    let Some(retries) = raw else { return 0 };
    if *retries.get_ref() > MAX_RETRIES {
        problems.push(origin.error(
            retries.span(),
            format!("`retries` may be at most {MAX_RETRIES}"),
        ));
    }
    retries.into_inner().min(MAX_RETRIES)
}

/// `idempotent_methods`, each checked to have the form
/// `package.Service/Method`; the span of the list comes along so a REST
/// source that sets it can be told where.
fn idempotent_methods(
    raw: Option<toml::Spanned<Vec<toml::Spanned<String>>>>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<(std::ops::Range<usize>, Vec<String>)> {
    let raw = raw?;
    let span = raw.span();
    let mut methods = Vec::new();
    for method in raw.into_inner() {
        if is_method_name(method.get_ref()) {
            methods.push(method.into_inner());
        } else {
            problems.push(origin.error(
                method.span(),
                format!(
                    "`{}` in `idempotent_methods` is not a method name; \
                     write it as `package.Service/Method`, e.g. `catalog.v1.Catalog/GetProduct`",
                    method.get_ref()
                ),
            ));
        }
    }
    Some((span, methods))
}

/// Whether `name` has the form `package.Service/Method` (the package may be
/// empty: `Service/Method`).
fn is_method_name(name: &str) -> bool {
    let is_identifier = |part: &str| {
        let mut chars = part.chars();
        chars
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    name.split_once('/').is_some_and(|(service, method)| {
        service.split('.').all(is_identifier) && is_identifier(method)
    })
}

/// The breaker's settings: the defaults unless a table changes them, `None`
/// when turned off.
fn breaker(
    raw: Option<RawBreaker>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<BreakerConfig> {
    let table = match raw {
        None | Some(RawBreaker::Switch(true)) => return Some(BreakerConfig::default()),
        Some(RawBreaker::Switch(false)) => return None,
        Some(RawBreaker::Table(table)) => table,
    };
    if table.enabled == Some(false) {
        return None;
    }
    let default = BreakerConfig::default();
    let window_ms = origin.at_least_one("window_ms", table.window_ms, default.window_ms, problems);
    let open_ms = origin.at_least_one("open_ms", table.open_ms, default.open_ms, problems);
    let min_calls = origin.at_least_one("min_calls", table.min_calls, default.min_calls, problems);
    let error_rate = super::setting(table.error_rate, default.error_rate, problems, |rate| {
        (!(*rate.get_ref() > 0.0 && *rate.get_ref() <= 1.0)).then(|| {
            origin.error(
                rate.span(),
                "`error_rate` is a share of calls: more than 0, at most 1",
            )
        })
    });
    Some(BreakerConfig {
        error_rate,
        window_ms,
        min_calls,
        open_ms,
    })
}

/// The include directories; without any, the directory above the first
/// proto's package path (`proto/` for `proto/catalog/v1/catalog.proto`), so
/// `protos` may be named relative to it.
fn include_dirs(include: &[String], protos: &[String], origin: &Origin<'_>) -> Vec<PathBuf> {
    if !include.is_empty() {
        return include.iter().map(|dir| origin.resolve_path(dir)).collect();
    }
    let first = &protos[0];
    let root = first.split_once('/').map_or(".", |(root, _)| root);
    vec![origin.resolve_path(root)]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::Config;

    const BASE: &str = r#"
[schema]
files = ["schema.graphql"]

[sources.users]
kind = "rest"
url = "http://127.0.0.1:4001"

[sources.catalog]
kind = "grpc"
endpoint = "http://127.0.0.1:4002"
protos = ["proto/catalog/v1/catalog.proto"]
"#;

    fn parse(extra: &str) -> Result<Config, Diagnostics> {
        Config::parse(Path::new("/etc/weft/weft.toml"), &format!("{BASE}{extra}"))
    }

    fn errors(extra: &str) -> Vec<String> {
        let problems = parse(extra).expect_err("the config is refused");
        problems.0.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn without_settings_there_is_no_retry_and_a_default_breaker() {
        let config = parse("").unwrap();
        let users = &config.sources["users"];
        assert_eq!(users.retries, 0);
        assert_eq!(users.retry_backoff_ms, DEFAULT_RETRY_BACKOFF_MS);
        assert_eq!(users.breaker, Some(BreakerConfig::default()));
    }

    #[test]
    fn retries_breaker_and_idempotent_methods_are_read() {
        let config = parse(
            r#"retries = 2
retry_backoff_ms = 10
idempotent_methods = ["catalog.v1.Catalog/GetProduct"]

[sources.catalog.breaker]
error_rate = 1
min_calls = 3
"#,
        )
        .unwrap();
        let catalog = &config.sources["catalog"];
        assert_eq!((catalog.retries, catalog.retry_backoff_ms), (2, 10));
        let breaker = catalog.breaker.as_ref().expect("a breaker");
        assert!((breaker.error_rate - 1.0).abs() < f64::EPSILON);
        assert_eq!(breaker.min_calls, 3);
        assert_eq!(breaker.open_ms, BreakerConfig::default().open_ms);
        let SourceKind::Grpc(grpc) = &catalog.kind else {
            panic!("catalog is gRPC")
        };
        assert_eq!(grpc.idempotent_methods, ["catalog.v1.Catalog/GetProduct"]);
    }

    #[test]
    fn the_breaker_can_be_turned_off_either_way() {
        let config = parse("breaker = false\n").unwrap();
        assert_eq!(config.sources["catalog"].breaker, None);
        let config = parse("[sources.catalog.breaker]\nenabled = false\n").unwrap();
        assert_eq!(config.sources["catalog"].breaker, None);
    }

    #[test]
    fn a_malformed_method_name_is_reported_at_its_line() {
        let errors = errors(
            "idempotent_methods = [\n  \"catalog.v1.Catalog/GetProduct\",\n  \"GetProduct\",\n]\n",
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("weft.toml:15:"), "{errors:?}");
        assert!(
            errors[0].contains("`GetProduct` in `idempotent_methods` is not a method name"),
            "{errors:?}"
        );
    }

    #[test]
    fn idempotent_methods_on_a_rest_source_are_refused() {
        let text = BASE.replace(
            "url = \"http://127.0.0.1:4001\"",
            "url = \"http://127.0.0.1:4001\"\nidempotent_methods = [\"a.B/C\"]",
        );
        let problems = Config::parse(Path::new("/etc/weft/weft.toml"), &text).unwrap_err();
        let message = problems.to_string();
        assert!(message.contains("weft.toml:8:"), "{message}");
        assert!(message.contains("is for gRPC sources"), "{message}");
    }

    #[test]
    fn out_of_range_settings_are_reported_with_their_lines() {
        let errors = errors(
            "retries = 11\n\n[sources.catalog.breaker]\nerror_rate = 1.5\nwindow_ms = 0\nmin_calls = 0\nopen_ms = 0\n",
        );
        assert_eq!(errors.len(), 5, "{errors:?}");
        for (line, key) in [
            (13, "`retries` may be at most 10"),
            (16, "`error_rate`"),
            (17, "`window_ms` must be at least 1"),
            (18, "`min_calls` must be at least 1"),
            (19, "`open_ms` must be at least 1"),
        ] {
            assert!(
                errors
                    .iter()
                    .any(|error| error.contains(&format!("weft.toml:{line}:"))
                        && error.contains(key)),
                "{key} at line {line}: {errors:?}"
            );
        }
    }

    #[test]
    fn an_unknown_breaker_setting_is_named() {
        let errors = errors("[sources.catalog.breaker]\nerror_ratio = 0.3\n");
        assert!(
            errors[0].contains("unknown field `error_ratio`"),
            "{errors:?}"
        );
    }

    /// The config with the catalog source's `protos` line replaced.
    fn catalog_with(lines: &str) -> Result<Config, Diagnostics> {
        let text = BASE.replace("protos = [\"proto/catalog/v1/catalog.proto\"]\n", lines);
        Config::parse(Path::new("/etc/weft/weft.toml"), &text)
    }

    #[test]
    fn reflection_replaces_the_protos() {
        let config = catalog_with("reflection = true\n").unwrap();
        let SourceKind::Grpc(grpc) = &config.sources["catalog"].kind else {
            panic!("catalog is gRPC")
        };
        assert!(matches!(
            grpc.descriptors,
            Descriptors::Reflection { fetched: None }
        ));
        assert!(grpc.descriptors.proto_files().is_empty());
    }

    #[test]
    fn a_grpc_source_needs_protos_or_reflection_but_not_both() {
        for (lines, line, said) in [
            ("", 9, "source `catalog` needs `protos`"),
            ("reflection = false\n", 9, "or `reflection = true`"),
            (
                "protos = [\"a.proto\"]\nreflection = true\n",
                13,
                "has both `reflection = true` and `protos`",
            ),
            (
                "reflection = true\ninclude = [\"proto\"]\n",
                12,
                "has both `reflection = true` and `protos`/`include`",
            ),
        ] {
            let problems = catalog_with(lines).expect_err(lines);
            let message = problems.to_string();
            assert_eq!(problems.0.len(), 1, "{message}");
            assert!(message.contains(&format!("weft.toml:{line}:")), "{message}");
            assert!(message.contains(said), "{message}");
        }
    }

    #[test]
    fn openapi_is_read_relative_to_the_config_and_only_for_rest_sources() {
        let text = BASE.replace(
            "url = \"http://127.0.0.1:4001\"",
            "url = \"http://127.0.0.1:4001\"\nopenapi = \"openapi/users.yaml\"",
        );
        let config = Config::parse(Path::new("/etc/weft/weft.toml"), &text).unwrap();
        let SourceKind::Rest(users) = &config.sources["users"].kind else {
            panic!("users is REST")
        };
        assert_eq!(
            users.openapi.as_deref(),
            Some(Path::new("/etc/weft/openapi/users.yaml"))
        );
        let errors = errors("openapi = \"catalog.yaml\"\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("weft.toml:13:"), "{errors:?}");
        assert!(
            errors[0].contains("`openapi` is for REST sources"),
            "{errors:?}"
        );
    }

    #[test]
    fn method_names_need_a_service_and_a_method() {
        assert!(is_method_name("catalog.v1.Catalog/GetProduct"));
        assert!(is_method_name("Catalog/GetProduct"));
        for bad in [
            "GetProduct",
            "catalog.v1.Catalog.GetProduct",
            "/Get",
            "a./B",
            "a.B/",
            "a.B/C/D",
            "a-b.C/D",
        ] {
            assert!(!is_method_name(bad), "{bad}");
        }
    }

    #[test]
    fn forward_headers_pair_client_and_sent_names() {
        let config =
            parse("forward_headers = [\"Authorization\", { from = \"x-a\", to = \"x-b\" }]\n")
                .unwrap();
        let pairs: Vec<(&str, &str)> = config.sources["catalog"]
            .forward_headers
            .iter()
            .map(|(from, to)| (from.as_str(), to.as_str()))
            .collect();
        assert_eq!(pairs, [("authorization", "authorization"), ("x-a", "x-b")]);
        let error = parse("forward_headers = [\"not a header\"]\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a pair of header names"), "{error}");
    }
}
