//! `[sources.<name>]`: the backends the schema's directives call, by name.
//!
//! ```toml
//! [sources.users]
//! kind = "rest"
//! url = "http://users.internal:8080"
//! timeout_ms = 2000                       # optional, default 5000
//! max_batch_size = 100                    # optional: keys per batched call; 1 = no batching
//! max_concurrency = 64                    # optional: calls in flight at once
//! headers = { "x-api-key" = "secret" }    # optional, sent on every call
//!
//! [sources.catalog]
//! kind = "grpc"
//! endpoint = "http://catalog.internal:50051"
//! protos = ["proto/catalog/v1/catalog.proto"]
//! include = ["proto"]                     # optional, default: the first proto's root
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The timeout of a backend call when the source sets none.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// How many keys one batched call carries at most, unless set.
pub const DEFAULT_MAX_BATCH_SIZE: usize = 100;
/// How many calls to one source may be in flight at once, unless set.
pub const DEFAULT_MAX_CONCURRENCY: usize = 64;

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
    /// The 1-based line of the source's table in the config file.
    pub line: usize,
    /// What kind of backend it is, and how to reach it.
    pub kind: SourceKind,
}

/// The kinds of backend weft can call.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// A REST/JSON service.
    Rest(RestSourceConfig),
    /// A gRPC service.
    Grpc(GrpcSourceConfig),
}

/// A REST source.
#[derive(Debug, Clone)]
pub struct RestSourceConfig {
    /// The base URL that directive paths are appended to.
    pub url: reqwest::Url,
    /// Headers sent with every call.
    pub headers: BTreeMap<String, String>,
}

/// A gRPC source.
#[derive(Debug, Clone)]
pub struct GrpcSourceConfig {
    /// The server's URI, e.g. `http://127.0.0.1:50051`.
    pub endpoint: String,
    /// The `.proto` files that define its services, read at start-up;
    /// each must lie under one of the `include` directories.
    pub protos: Vec<PathBuf>,
    /// The directories imports are resolved against.
    pub include: Vec<PathBuf>,
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
    timeout_ms: Option<u64>,
    max_batch_size: Option<usize>,
    max_concurrency: Option<usize>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

pub(super) fn validate(
    name: &str,
    raw: toml::Spanned<RawSource>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<SourceConfig> {
    let span = raw.span();
    let raw = raw.into_inner();
    let mut missing = |key: &str| {
        problems.push(origin.error(span.clone(), format!("source `{name}` needs `{key}`")));
    };
    let kind = match raw.kind.get_ref().as_str() {
        "rest" => {
            let Some(url) = raw.url else {
                missing("url");
                return None;
            };
            let Ok(parsed) = url.get_ref().parse() else {
                problems
                    .push(origin.error(url.span(), format!("`{}` is not a URL", url.get_ref())));
                return None;
            };
            SourceKind::Rest(RestSourceConfig {
                url: parsed,
                headers: raw.headers,
            })
        }
        "grpc" => {
            let Some(endpoint) = raw.endpoint else {
                missing("endpoint");
                return None;
            };
            if raw.protos.is_empty() {
                missing("protos");
                return None;
            }
            SourceKind::Grpc(GrpcSourceConfig {
                endpoint,
                include: include_dirs(&raw.include, &raw.protos, origin),
                protos: raw
                    .protos
                    .iter()
                    .map(|proto| origin.resolve_path(proto))
                    .collect(),
            })
        }
        other => {
            problems.push(origin.error(
                raw.kind.span(),
                format!("source `{name}` has unknown kind `{other}`; use \"rest\" or \"grpc\""),
            ));
            return None;
        }
    };
    Some(SourceConfig {
        timeout_ms: raw.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS),
        max_batch_size: raw.max_batch_size.unwrap_or(DEFAULT_MAX_BATCH_SIZE).max(1),
        max_concurrency: raw
            .max_concurrency
            .unwrap_or(DEFAULT_MAX_CONCURRENCY)
            .max(1),
        line: origin.line_of(span.start),
        kind,
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
