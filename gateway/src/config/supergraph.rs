//! `[supergraph]`: a supergraph SDL file, as rover, wgc, Hive or
//! mesh-compose write it, whose subgraphs become GraphQL sources.
//!
//! ```toml
//! [supergraph]
//! file = "supergraph.graphql"             # relative to this file
//!
//! [supergraph.subgraphs.reviews]          # optional, by the subgraph's name
//!                                         # (`@join__graph(name:)`) or its
//!                                         # `join__Graph` value in lower case
//! url = "http://reviews.internal:4000/graphql"   # instead of the supergraph's url
//! subscriptions_url = "ws://reviews.internal:4000/ws"   # default: `url` with ws/wss
//! timeout_ms = 2000                       # default 5000
//! ```
//!
//! The file is read and split when the config is read
//! ([`crate::schema::supergraph::split`]): each subgraph becomes a source
//! named after it, of kind `graphql`, whose SDL is its part of the
//! supergraph, so `WEFT_SOURCE_<NAME>_URL` and `WEFT_SOURCE_<NAME>_TIMEOUT_MS`
//! apply to it too. Problems in the file are reported at its lines; a
//! subgraph without a URL, an override naming no subgraph, or a subgraph
//! named like a `[sources.<name>]` at the config's.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::Origin;
use super::sources::{
    self, BreakerConfig, GraphqlSourceConfig, SourceConfig, SourceKind, SubgraphSdl,
};
use crate::error::{Diagnostic, Diagnostics};
use crate::schema::federation::Subgraph;
use crate::schema::supergraph::{self, Graph};

/// The validated `[supergraph]` section, its file split.
#[derive(Debug, Clone)]
pub struct SupergraphConfig {
    /// The supergraph file, resolved against the config file's directory.
    pub path: PathBuf,
    /// The 1-based line of `[supergraph]` in the config file.
    pub line: usize,
    /// Its subgraphs' SDL, in the order they are composed.
    pub subgraphs: Vec<Subgraph>,
    /// The root types its `schema { … }` block names, if it has one.
    pub roots: Option<crate::schema::document::Roots>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupergraph {
    file: toml::Spanned<String>,
    #[serde(default)]
    subgraphs: BTreeMap<String, toml::Spanned<RawSubgraph>>,
}

/// `[supergraph.subgraphs.<name>]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubgraph {
    url: Option<toml::Spanned<String>>,
    subscriptions_url: Option<toml::Spanned<String>>,
    timeout_ms: Option<u64>,
}

/// Reads and splits the supergraph file, and adds a GraphQL source for
/// each of its subgraphs to `sources` (which holds the `[sources.<name>]`
/// already read). `None`, with every problem reported, when the file
/// cannot be read or split.
pub(super) fn validate(
    raw: toml::Spanned<RawSupergraph>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
    sources: &mut BTreeMap<String, SourceConfig>,
) -> Option<SupergraphConfig> {
    let span = raw.span();
    let line = origin.line_of(span.start);
    let raw = raw.into_inner();
    let path = origin.resolve_path(raw.file.get_ref());
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => {
            let message = format!("cannot read supergraph file {}: {error}", path.display());
            problems.push(origin.error(raw.file.span(), message));
            return None;
        }
    };
    let split = match supergraph::split(&path, &text) {
        Ok(split) => split,
        Err(found) => {
            problems.extend(found.0);
            return None;
        }
    };
    for (name, overrides) in &raw.subgraphs {
        if !split.graphs.iter().any(|graph| graph.named(name)) {
            let known: Vec<String> = split
                .graphs
                .iter()
                .map(|graph| format!("`{}`", graph.name))
                .collect();
            let message = format!(
                "`[supergraph.subgraphs.{name}]`: the supergraph has no subgraph `{name}`; it has {}",
                known.join(", ")
            );
            problems.push(origin.error(overrides.span(), message));
        }
    }
    for graph in &split.graphs {
        let overrides = raw
            .subgraphs
            .iter()
            .find(|(key, _)| graph.named(key))
            .map(|(_, table)| table);
        let at = overrides.map_or(line, |table| origin.line_of(table.span().start));
        if sources.contains_key(&graph.name) {
            let message = format!(
                "the supergraph's subgraph `{}` has the name of a `[sources.{}]`; rename one",
                graph.name, graph.name
            );
            problems.push(origin.error(span.clone(), message));
            continue;
        }
        let overrides = overrides.map(toml::Spanned::get_ref);
        if let Some(source) = source(graph, &path, overrides, at, origin, problems) {
            sources.insert(graph.name.clone(), source);
        }
    }
    Some(SupergraphConfig {
        path,
        line,
        subgraphs: split.subgraphs,
        roots: split.roots,
    })
}

/// The source of one subgraph: its URL from the override or the
/// supergraph (reported where it is missing or wrong).
fn source(
    graph: &Graph,
    path: &std::path::Path,
    overrides: Option<&RawSubgraph>,
    line: usize,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<SourceConfig> {
    let name = &graph.name;
    let url = match overrides.and_then(|o| o.url.as_ref()) {
        Some(url) => url
            .get_ref()
            .parse::<reqwest::Url>()
            .map_err(|_| origin.error(url.span(), format!("`{}` is not a URL", url.get_ref()))),
        None => match &graph.url {
            Some(url) => url.parse::<reqwest::Url>().map_err(|_| {
                let message =
                    format!("supergraph: subgraph `{name}`: its url `{url}` is not a URL");
                Diagnostic::at(path, graph.line, 0, message)
            }),
            None => Err(Diagnostic::at(
                path,
                graph.line,
                0,
                format!(
                    "supergraph: subgraph `{name}` has no url; give `@join__graph` a url, \
                     or set `url` in `[supergraph.subgraphs.{name}]`"
                ),
            )),
        },
    };
    let url = url.map_err(|problem| problems.push(problem)).ok()?;
    let subscriptions_url = match overrides.and_then(|o| o.subscriptions_url.as_ref()) {
        Some(ws) => match ws.get_ref().parse::<reqwest::Url>() {
            Ok(parsed) if matches!(parsed.scheme(), "ws" | "wss") => parsed,
            _ => {
                let message = format!("`{}` is not a ws:// or wss:// URL", ws.get_ref());
                problems.push(origin.error(ws.span(), message));
                return None;
            }
        },
        None => sources::websocket_url(&url),
    };
    Some(SourceConfig {
        timeout_ms: overrides
            .and_then(|o| o.timeout_ms)
            .unwrap_or(sources::DEFAULT_TIMEOUT_MS),
        max_batch_size: sources::DEFAULT_MAX_BATCH_SIZE,
        max_concurrency: sources::DEFAULT_MAX_CONCURRENCY,
        max_request_concurrency: sources::DEFAULT_MAX_REQUEST_CONCURRENCY,
        retries: 0,
        retry_backoff_ms: sources::DEFAULT_RETRY_BACKOFF_MS,
        breaker: Some(BreakerConfig::default()),
        forward_headers: Vec::new(),
        line,
        kind: SourceKind::Graphql(GraphqlSourceConfig {
            url,
            headers: BTreeMap::new(),
            sdl: SubgraphSdl::Supergraph,
            subscriptions_url,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Config;
    use super::*;

    const SUPERGRAPH: &str = r#"schema @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION) { query: Query }
enum join__Graph {
  PRODUCTS @join__graph(name: "products", url: "http://products:4003/graphql")
  REVIEWS @join__graph(name: "reviews", url: "http://reviews:4004/graphql")
  LEGACY_SEARCH @join__graph(name: "legacy-search", url: "http://search:4005/graphql")
}
type Query @join__type(graph: PRODUCTS) @join__type(graph: REVIEWS) @join__type(graph: LEGACY_SEARCH) {
  top: Int @join__field(graph: PRODUCTS)
  best: Int @join__field(graph: REVIEWS)
  find: Int @join__field(graph: LEGACY_SEARCH)
}
"#;

    /// A directory of its own holding `supergraph.graphql`; the config's
    /// path in it.
    fn config_in(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("weft-supergraph-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("supergraph.graphql"), SUPERGRAPH).unwrap();
        dir.join("weft.toml")
    }

    fn graphql(config: &Config, name: &str) -> (GraphqlSourceConfig, u64, usize) {
        let source = &config.sources[name];
        let SourceKind::Graphql(graphql) = &source.kind else {
            panic!("{name} is a GraphQL source");
        };
        (graphql.clone(), source.timeout_ms, source.line)
    }

    #[test]
    fn each_subgraph_is_a_source_with_its_overrides() {
        let path = config_in("overrides");
        let text = "[supergraph]\nfile = \"supergraph.graphql\"\n\n\
                    [supergraph.subgraphs.reviews]\nurl = \"http://127.0.0.1:9/graphql\"\n\
                    subscriptions_url = \"ws://127.0.0.1:9/ws\"\ntimeout_ms = 250\n\n\
                    [supergraph.subgraphs.legacy_search]\ntimeout_ms = 100\n";
        let mut config = Config::parse(&path, text).unwrap();
        assert!(config.schema.files.is_empty());
        let supergraph = config.supergraph.as_ref().unwrap();
        assert_eq!(supergraph.path, path.with_file_name("supergraph.graphql"));
        assert_eq!(supergraph.subgraphs.len(), 3);
        let (search, timeout, line) = graphql(&config, "legacy-search");
        assert_eq!(search.url.as_str(), "http://search:4005/graphql");
        assert_eq!((timeout, line), (100, 9), "keyed by its join__Graph value");
        let (products, timeout, line) = graphql(&config, "products");
        assert_eq!(products.url.as_str(), "http://products:4003/graphql");
        assert_eq!(
            products.subscriptions_url.as_str(),
            "ws://products:4003/graphql"
        );
        assert!(matches!(products.sdl, SubgraphSdl::Supergraph));
        assert_eq!((timeout, line), (sources::DEFAULT_TIMEOUT_MS, 1));
        let (reviews, timeout, line) = graphql(&config, "reviews");
        assert_eq!(reviews.url.as_str(), "http://127.0.0.1:9/graphql");
        assert_eq!(reviews.subscriptions_url.as_str(), "ws://127.0.0.1:9/ws");
        assert_eq!((timeout, line), (250, 4));
        config
            .apply_env(|name| {
                (name == "WEFT_SOURCE_PRODUCTS_URL").then(|| "http://10.0.0.1:1/graphql".to_owned())
            })
            .unwrap();
        assert_eq!(
            graphql(&config, "products").0.url.as_str(),
            "http://10.0.0.1:1/graphql"
        );
        let _ = std::fs::remove_dir_all(path.with_file_name(""));
    }

    #[test]
    fn a_bad_override_is_reported_at_its_line() {
        let path = config_in("bad");
        let text = "[supergraph]\nfile = \"supergraph.graphql\"\n\n\
                    [supergraph.subgraphs.reviews]\nurl = \"not a url\"\n\
                    subscriptions_url = \"http://127.0.0.1:9/ws\"\n";
        let error = Config::parse(&path, text).unwrap_err().to_string();
        assert!(
            error.contains("weft.toml:5:7: `not a url` is not a URL"),
            "{error}"
        );
        let text = "[supergraph]\nfile = \"supergraph.graphql\"\n\n\
                    [supergraph.subgraphs.reviews]\n\
                    subscriptions_url = \"http://127.0.0.1:9/ws\"\n";
        let error = Config::parse(&path, text).unwrap_err().to_string();
        assert!(
            error.contains("weft.toml:5:21: `http://127.0.0.1:9/ws` is not a ws:// or wss:// URL"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(path.with_file_name(""));
    }
}
