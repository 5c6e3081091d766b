//! The gateway's configuration: `weft.toml`, overlaid by environment
//! variables.
//!
//! The file is read once at start-up. Every mistake (a typo in a key, a
//! missing URL, an unknown source kind) is reported with the file and line,
//! and relative paths are resolved against the file's directory so a config
//! works from any working directory. One file per section:
//! [`server`] (`[server]`), [`limits`] (`[limits]`), [`schema`]
//! (`[schema]`), [`sources`] (`[sources.<name>]`), [`events`] (`[events]`),
//! [`subscriptions`] (`[subscriptions]`), [`log`] (`[log]`), [`persisted`]
//! (`[persisted_queries]`), [`cors`] (`[server.cors]`), [`auth`] (`[auth]`),
//! [`traces`] (`[traces]`), [`supergraph`] (`[supergraph]`, which adds a
//! GraphQL source per subgraph of its file). `[schema]` may be left out
//! when `[supergraph]` is given.
//!
//! Environment overrides, applied after the file is read:
//!
//! | variable | overrides |
//! |---|---|
//! | `WEFT_LISTEN` | `server.listen` |
//! | `WEFT_INTROSPECTION` | `server.introspection` (`true` or `false`) |
//! | `WEFT_LOG_FORMAT` | `log.format` (`text` or `json`) |
//! | `WEFT_SOURCE_<NAME>_URL` | `url` (REST) or `endpoint` (gRPC) of source `<name>` |
//! | `WEFT_SOURCE_<NAME>_TIMEOUT_MS` | `timeout_ms` of source `<name>` |
//! | `WEFT_EVENTS_URL` | `[events] url`, and `kind = "redis"` for a `redis://` or `rediss://` URL, `kind = "rabbitmq"` for an `amqp://` URL, else `kind = "nats"`; a Redis or RabbitMQ URL is refused with `[events] jetstream`, a NATS or RabbitMQ URL with `[events] streams` |
//!
//! `<NAME>` is the source name in upper case with `-` written as `_`.

pub mod auth;
pub mod cors;
pub mod events;
pub mod limits;
pub mod log;
pub mod persisted;
pub mod schema;
pub mod server;
pub mod sources;
pub mod subscriptions;
pub mod supergraph;
pub mod traces;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Diagnostic, Diagnostics};
pub use auth::AuthConfig;
pub use cors::CorsConfig;
pub use events::{BusKind, EventsConfig, JetStreamConfig, RedisStreamsConfig};
pub use limits::LimitsConfig;
pub use log::{LogConfig, LogFormat};
pub use persisted::PersistedConfig;
pub use schema::SchemaConfig;
pub use server::ServerConfig;
pub use sources::{
    Descriptors, GraphqlSourceConfig, GrpcSourceConfig, RestSourceConfig, SourceConfig, SourceKind,
    SubgraphSdl,
};
pub use subscriptions::SubscriptionsConfig;
pub use supergraph::SupergraphConfig;
pub use traces::TracesConfig;

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from; diagnostics name it.
    pub path: PathBuf,
    /// `[server]`.
    pub server: ServerConfig,
    /// `[limits]`.
    pub limits: LimitsConfig,
    /// `[schema]`.
    pub schema: SchemaConfig,
    /// `[sources.<name>]`, by name.
    pub sources: BTreeMap<String, SourceConfig>,
    /// `[events]`.
    pub events: EventsConfig,
    /// `[subscriptions]`.
    pub subscriptions: SubscriptionsConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[persisted_queries]`.
    pub persisted_queries: PersistedConfig,
    /// `[auth]`, if present.
    pub auth: Option<AuthConfig>,
    /// `[traces]`, if present.
    pub traces: Option<TracesConfig>,
    /// `[supergraph]`, if present (its subgraphs are in [`Self::sources`]).
    pub supergraph: Option<SupergraphConfig>,
}

struct RawConfig {
    server: server::RawServer,
    limits: limits::RawLimits,
    schema: Option<toml::Spanned<schema::RawSchema>>,
    sources: BTreeMap<String, toml::Spanned<sources::RawSource>>,
    events: events::RawEvents,
    subscriptions: subscriptions::RawSubscriptions,
    log: log::RawLog,
    persisted_queries: persisted::RawPersisted,
    auth: Option<toml::Spanned<auth::RawAuth>>,
    traces: Option<toml::Spanned<traces::RawTraces>>,
    supergraph: Option<toml::Spanned<supergraph::RawSupergraph>>,
}

/// The sections a config file may have.
const SECTIONS: [&str; 11] = [
    "server",
    "limits",
    "schema",
    "sources",
    "events",
    "subscriptions",
    "log",
    "persisted_queries",
    "auth",
    "traces",
    "supergraph",
];

/// A config file's top-level tables, each read on its own (and each source
/// of `[sources]`), so that a mistake in one does not hide those in others.
struct Sections<'t> {
    path: &'t Path,
    text: &'t str,
    table: toml::de::DeTable<'t>,
    problems: Diagnostics,
}

impl<'t> Sections<'t> {
    fn parse(path: &'t Path, text: &'t str) -> Result<Self, Diagnostics> {
        let table = toml::de::DeTable::parse(text)
            .map_err(|error| syntax_errors(path, text, &error))?
            .into_inner();
        let mut sections = Self {
            path,
            text,
            table,
            problems: Diagnostics::default(),
        };
        sections.refuse_unknown();
        Ok(sections)
    }

    fn refuse_unknown(&mut self) {
        let origin = Origin {
            path: self.path,
            text: self.text,
        };
        for key in self.table.keys() {
            if !SECTIONS.contains(&key.get_ref().as_ref()) {
                self.problems.push(origin.error(
                    key.span(),
                    format!(
                        "unknown section `{}`, expected one of {}",
                        key.get_ref(),
                        SECTIONS.map(|name| format!("`{name}`")).join(", ")
                    ),
                ));
            }
        }
    }

    fn value(&self, name: &str) -> Option<&toml::Spanned<toml::de::DeValue<'t>>> {
        self.table
            .iter()
            .find(|(key, _)| key.get_ref().as_ref() == name)
            .map(|(_, value)| value)
    }

    /// The section `name`, if present and well-formed (a problem when not
    /// well-formed).
    fn read<T: serde::de::DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let value = self.value(name)?.clone();
        self.deserialize(value)
    }

    fn deserialize<T: serde::de::DeserializeOwned>(
        &mut self,
        value: toml::Spanned<toml::de::DeValue<'t>>,
    ) -> Option<T> {
        match T::deserialize(toml::de::ValueDeserializer::from(value)) {
            Ok(read) => Some(read),
            Err(error) => {
                self.problems.push(toml_error(self.path, self.text, &error));
                None
            }
        }
    }

    /// `[sources]`, each source read on its own.
    fn sources(&mut self) -> BTreeMap<String, toml::Spanned<sources::RawSource>> {
        let Some(value) = self.value("sources").cloned() else {
            return BTreeMap::new();
        };
        let toml::de::DeValue::Table(table) = value.get_ref() else {
            return self.read("sources").unwrap_or_default();
        };
        let entries: Vec<_> = table
            .iter()
            .map(|(name, source)| (name.get_ref().to_string(), source.clone()))
            .collect();
        entries
            .into_iter()
            .filter_map(|(name, source)| Some((name, self.deserialize(source)?)))
            .collect()
    }

    /// Every section read, or every problem met reading them.
    fn into_raw(mut self) -> Result<RawConfig, Diagnostics> {
        let schema = self.read("schema");
        let supergraph = self.read("supergraph");
        let missing = self.value("schema").is_none() && self.value("supergraph").is_none();
        if missing {
            self.problems.push(Diagnostic::at(
                self.path,
                1,
                1,
                "missing section `[schema]` (or `[supergraph]`)",
            ));
        }
        let raw = RawConfig {
            server: self.read("server").unwrap_or_default(),
            limits: self.read("limits").unwrap_or_default(),
            sources: self.sources(),
            events: self.read("events").unwrap_or_default(),
            subscriptions: self.read("subscriptions").unwrap_or_default(),
            log: self.read("log").unwrap_or_default(),
            persisted_queries: self.read("persisted_queries").unwrap_or_default(),
            auth: self.read("auth"),
            traces: self.read("traces"),
            schema,
            supergraph,
        };
        if missing {
            return Err(self.problems.in_file_order());
        }
        self.problems.in_file_order().into_result(raw)
    }
}

/// Where in a config file a piece of it stands, for diagnostics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Origin<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.position_of(offset).0
    }

    /// The 1-based line and column (in characters) of a byte offset.
    fn position_of(&self, offset: usize) -> (usize, usize) {
        let before = self
            .text
            .get(..offset.min(self.text.len()))
            .unwrap_or(self.text);
        let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
        let line = before.matches('\n').count() + 1;
        (line, before[line_start..].chars().count() + 1)
    }

    /// A diagnostic at the start of `span`.
    pub(crate) fn error(
        &self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let (line, column) = self.position_of(span.start);
        Diagnostic::at(self.path, line, column, message)
    }

    /// A whole-number setting that may not be 0: its value, or `default`
    /// when it is absent or 0 (reported at its line, named `key`).
    pub(crate) fn at_least_one<T: Copy + PartialEq + Default>(
        &self,
        key: &str,
        value: Option<toml::Spanned<T>>,
        default: T,
        problems: &mut Diagnostics,
    ) -> T {
        setting(value, default, problems, |value| {
            (*value.get_ref() == T::default())
                .then(|| self.error(value.span(), format!("`{key}` must be at least 1")))
        })
    }

    /// A path from the config, relative to the config file's directory.
    pub(crate) fn resolve_path(&self, path: &str) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// A setting's value, or its default when absent or when `invalid` finds
/// a problem with it (which is reported).
pub(crate) fn setting<T: Copy>(
    value: Option<toml::Spanned<T>>,
    default: T,
    problems: &mut Diagnostics,
    invalid: impl FnOnce(&toml::Spanned<T>) -> Option<Diagnostic>,
) -> T {
    let Some(value) = value else { return default };
    match invalid(&value) {
        Some(problem) => {
            problems.push(problem);
            default
        }
        None => value.into_inner(),
    }
}

impl Config {
    /// Reads, validates and overlays the config at `path`, with environment
    /// overrides taken from the process environment.
    pub fn load(path: &Path) -> Result<Self, Diagnostics> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| Diagnostic::file(path, format!("cannot read config file: {error}")))?;
        let mut config = Self::parse(path, &text)?;
        config.apply_env(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Parses and validates config text; `path` names it in diagnostics and
    /// anchors relative paths.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Diagnostics> {
        let raw = Sections::parse(path, text)?.into_raw()?;
        let origin = Origin { path, text };
        let mut problems = Diagnostics::default();
        let server = server::validate(raw.server, &origin, &mut problems);
        let limits = limits::validate(raw.limits, &origin, &mut problems);
        let schema = match raw.schema {
            Some(schema) => schema::validate(schema, &origin, &mut problems),
            None => SchemaConfig { files: Vec::new() },
        };
        let events = events::validate(raw.events, &origin, &mut problems);
        let subscriptions = subscriptions::validate(raw.subscriptions);
        let log = log::validate(raw.log, &origin, &mut problems);
        let persisted_queries = persisted::validate(raw.persisted_queries, &origin, &mut problems);
        let auth = raw
            .auth
            .and_then(|raw| auth::validate(raw, &origin, &mut problems));
        let traces = raw
            .traces
            .and_then(|raw| traces::validate(raw, &origin, &mut problems));
        let mut sources = raw
            .sources
            .into_iter()
            .filter_map(|(name, source)| {
                let source = sources::validate(&name, source, &origin, &mut problems)?;
                Some((name, source))
            })
            .collect();
        let supergraph = raw
            .supergraph
            .and_then(|raw| supergraph::validate(raw, &origin, &mut problems, &mut sources));
        problems.into_result(Self {
            path: path.to_path_buf(),
            server,
            limits,
            schema,
            sources,
            events,
            subscriptions,
            log,
            persisted_queries,
            auth,
            traces,
            supergraph,
        })
    }

    /// Applies the documented `WEFT_*` overrides, reading variables through
    /// `var` (the process environment in production, a map in tests).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), Diagnostics> {
        let mut problems = Diagnostics::default();
        if let Some(listen) = var("WEFT_LISTEN") {
            match listen.parse() {
                Ok(addr) => self.server.listen = addr,
                Err(_) => problems.push(env_error(
                    "WEFT_LISTEN",
                    "is not a socket address like 127.0.0.1:4000",
                )),
            }
        }
        if let Some(introspection) = var("WEFT_INTROSPECTION") {
            match introspection.parse() {
                Ok(on) => self.server.introspection = on,
                Err(_) => problems.push(env_error("WEFT_INTROSPECTION", "is not true or false")),
            }
        }
        if let Some(format) = var("WEFT_LOG_FORMAT") {
            match LogFormat::named(&format) {
                Some(format) => self.log.format = format,
                None => problems.push(env_error("WEFT_LOG_FORMAT", "is not text or json")),
            }
        }
        if let Some(url) = var("WEFT_EVENTS_URL") {
            self.events.kind = BusKind::for_url(url);
            if self.events.jetstream.is_some() && !matches!(self.events.kind, BusKind::Nats(_)) {
                problems.push(env_error(
                    "WEFT_EVENTS_URL",
                    "names a Redis or RabbitMQ bus, but `[events] jetstream` needs NATS",
                ));
            }
            if self.events.streams.is_some() && !matches!(self.events.kind, BusKind::Redis(_)) {
                problems.push(env_error(
                    "WEFT_EVENTS_URL",
                    "names a NATS or RabbitMQ bus, but `[events] streams` needs Redis",
                ));
            }
        }
        for (name, source) in &mut self.sources {
            let prefix = format!("WEFT_SOURCE_{}", name.to_uppercase().replace('-', "_"));
            if let Some(url) = var(&format!("{prefix}_URL")) {
                source.set_url(url);
            }
            let timeout_var = format!("{prefix}_TIMEOUT_MS");
            if let Some(timeout) = var(&timeout_var) {
                match timeout.parse() {
                    Ok(ms) => source.timeout_ms = ms,
                    Err(_) => problems.push(env_error(
                        &timeout_var,
                        "is not a whole number of milliseconds",
                    )),
                }
            }
        }
        problems.into_result(())
    }
}

fn env_error(name: &str, problem: &str) -> Diagnostic {
    Diagnostic::file(Path::new("environment"), format!("{name} {problem}"))
}

/// The syntax errors of `text`, of which `first` is the first: the first
/// of each table (a table header starts a new part), so that one mistake
/// gives one message and a mistake in one table hides none in another.
fn syntax_errors(path: &Path, text: &str, first: &toml::de::Error) -> Diagnostics {
    let mut problems = Diagnostics::default();
    for (start, part) in table_parts(text) {
        if let Err(error) = toml::de::DeTable::parse(part) {
            problems.push(toml_error_at(path, text, start, &error));
        }
    }
    if problems.0.is_empty() {
        problems.push(toml_error(path, text, first));
    }
    problems
}

/// `text` cut before each line that is a table header (`[name]`,
/// `[[name]]`), with where each part starts.
fn table_parts(text: &str) -> Vec<(usize, &str)> {
    let header = |line: &str| {
        let line = line.split('#').next().unwrap_or_default().trim();
        line.starts_with('[')
            && line.ends_with(']')
            && line.trim_matches(['[', ']']).chars().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '"' | '\'' | ' ')
            })
    };
    let mut starts = vec![0];
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > 0 && header(line) {
            starts.push(offset);
        }
        offset += line.len();
    }
    starts.push(text.len());
    starts
        .windows(2)
        .map(|pair| (pair[0], text.get(pair[0]..pair[1]).unwrap_or_default()))
        .collect()
}

fn toml_error(path: &Path, text: &str, error: &toml::de::Error) -> Diagnostic {
    toml_error_at(path, text, 0, error)
}

/// The error of a part of `text` that starts at `start`.
fn toml_error_at(path: &Path, text: &str, start: usize, error: &toml::de::Error) -> Diagnostic {
    let origin = Origin { path, text };
    let (line, column) = error
        .span()
        .map_or((0, 0), |span| origin.position_of(start + span.start));
    Diagnostic::at(path, line, column, error.message().trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:4100"

[schema]
files = ["schema/demo.graphql"]

[sources.users]
kind = "rest"
url = "http://127.0.0.1:4001"
timeout_ms = 1500
headers = { "x-api-key" = "secret" }

[sources.catalog]
kind = "grpc"
endpoint = "http://127.0.0.1:4002"
protos = ["proto/catalog/v1/catalog.proto"]
"#;

    fn parse(text: &str) -> Result<Config, Diagnostics> {
        Config::parse(Path::new("/etc/weft/weft.toml"), text)
    }

    #[test]
    fn a_full_config_parses_with_paths_relative_to_the_file() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.server.listen.port(), 4100);
        assert_eq!(
            config.schema.files[0].path,
            Path::new("/etc/weft/schema/demo.graphql")
        );
        let SourceKind::Rest(users) = &config.sources["users"].kind else {
            panic!("users is REST")
        };
        assert_eq!(users.url.as_str(), "http://127.0.0.1:4001/");
        assert_eq!(config.sources["users"].timeout_ms, 1500);
        let SourceKind::Grpc(catalog) = &config.sources["catalog"].kind else {
            panic!("catalog is gRPC")
        };
        let sources::Descriptors::Protos { include, .. } = &catalog.descriptors else {
            panic!("catalog reads protos")
        };
        assert_eq!(include, &vec![PathBuf::from("/etc/weft/proto")]);
        assert_eq!(
            config.sources["catalog"].timeout_ms,
            sources::DEFAULT_TIMEOUT_MS
        );
    }

    #[test]
    fn every_syntax_error_is_reported_once_with_its_column() {
        let text = "[server]\nlisten = \"127.0.0.1:4100\n\n[schema]\nfiles = [\"a.graphql\"\n\n[sources.users]\nkind = \"rest\"\nurl = http://x\n";
        let problems = parse(text).unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(lines.len(), 3, "{problems}");
        for (line, place) in lines.iter().zip(["2:25", "5:21", "9:7"]) {
            assert!(line.contains(&format!("weft.toml:{place}: ")), "{problems}");
        }
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let text = EXAMPLE.replace("timeout_ms = 1500", "timeout = 1500");
        let error = parse(&text).unwrap_err().to_string();
        assert!(
            error.starts_with("error: /etc/weft/weft.toml:11:"),
            "{error}"
        );
        assert!(error.contains("unknown field `timeout`"), "{error}");
    }

    #[test]
    fn every_invalid_source_is_reported_with_its_line() {
        let text = EXAMPLE
            .replace("kind = \"rest\"", "kind = \"soap\"")
            .replace("endpoint = \"http://127.0.0.1:4002\"\n", "");
        let errors = parse(&text).unwrap_err();
        let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
        assert_eq!(errors.0.len(), 2, "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("weft.toml:14") && l.contains("`catalog` needs `endpoint`")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("weft.toml:9") && l.contains("unknown kind `soap`")),
            "{lines:?}"
        );
    }

    #[test]
    fn environment_overrides_listen_url_and_timeout() {
        let mut config = parse(EXAMPLE).unwrap();
        let env: BTreeMap<&str, &str> = [
            ("WEFT_LISTEN", "0.0.0.0:9000"),
            ("WEFT_SOURCE_CATALOG_URL", "http://catalog:50051"),
            ("WEFT_SOURCE_USERS_TIMEOUT_MS", "250"),
        ]
        .into();
        config
            .apply_env(|name| env.get(name).map(ToString::to_string))
            .unwrap();
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.sources["users"].timeout_ms, 250);
        let SourceKind::Grpc(catalog) = &config.sources["catalog"].kind else {
            panic!("catalog is gRPC")
        };
        assert_eq!(catalog.endpoint, "http://catalog:50051");
    }

    #[test]
    fn limits_and_server_settings_have_defaults_and_overrides() {
        let config = parse(EXAMPLE).unwrap();
        assert_eq!(config.limits, LimitsConfig::default());
        assert!(config.server.introspection);
        let text = EXAMPLE.replace(
            "listen = \"127.0.0.1:4100\"",
            "listen = \"127.0.0.1:4100\"\nintrospection = false\nrequest_timeout_ms = 500\n\n[limits]\nmax_aliases = 7",
        );
        let mut config = parse(&text).unwrap();
        assert_eq!(config.limits.max_aliases, 7);
        assert_eq!(config.limits.max_depth, LimitsConfig::default().max_depth);
        assert!(!config.server.introspection);
        assert_eq!(config.server.request_timeout.as_millis(), 500);
        config
            .apply_env(|name| (name == "WEFT_INTROSPECTION").then(|| "true".to_owned()))
            .unwrap();
        assert!(config.server.introspection);
    }

    #[test]
    fn a_zero_limit_is_reported_with_its_line() {
        let text = format!("{EXAMPLE}\n[limits]\nmax_depth = 0\n");
        let error = parse(&text).unwrap_err().to_string();
        let line = text
            .lines()
            .position(|l| l.starts_with("max_depth"))
            .unwrap()
            + 1;
        assert!(error.contains(&format!("weft.toml:{line}:")), "{error}");
        assert!(error.contains("`max_depth` must be at least 1"), "{error}");
    }

    #[test]
    fn the_events_url_from_the_environment_picks_the_bus_by_its_scheme() {
        for (url, kind) in [
            (
                "redis://cache:6379",
                BusKind::Redis("redis://cache:6379".to_owned()),
            ),
            (
                "rediss://cache:6380",
                BusKind::Redis("rediss://cache:6380".to_owned()),
            ),
            (
                "nats://broker:4222",
                BusKind::Nats("nats://broker:4222".to_owned()),
            ),
            (
                "amqp://broker:5672/%2f",
                BusKind::RabbitMq("amqp://broker:5672/%2f".to_owned()),
            ),
        ] {
            let mut config = parse(EXAMPLE).unwrap();
            config
                .apply_env(|name| (name == "WEFT_EVENTS_URL").then(|| url.to_owned()))
                .unwrap();
            assert_eq!(config.events.kind, kind);
        }
    }

    #[test]
    fn a_redis_bus_is_configured_with_a_redis_url() {
        let text =
            format!("{EXAMPLE}\n[events]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n");
        let config = parse(&text).unwrap();
        assert_eq!(
            config.events.kind,
            BusKind::Redis("redis://127.0.0.1:6379".to_owned())
        );
    }

    #[test]
    fn a_redis_bus_without_a_redis_url_is_reported_with_its_line() {
        for (events, needle, message) in [
            (
                "kind = \"redis\"\nurl = \"nats://127.0.0.1:4222\"",
                "url =",
                "must start with redis:// or rediss://, not `nats://127.0.0.1:4222`",
            ),
            (
                "kind = \"redis\"",
                "kind =",
                "`[events] kind = \"redis\"` needs `url`",
            ),
        ] {
            let text = format!("{EXAMPLE}\n[events]\n{events}\n");
            let error = parse(&text).unwrap_err().to_string();
            let line = text
                .lines()
                .collect::<Vec<_>>()
                .iter()
                .rposition(|l| l.starts_with(needle))
                .unwrap()
                + 1;
            assert!(error.contains(&format!("weft.toml:{line}:")), "{error}");
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn a_rabbitmq_bus_is_configured_with_an_amqp_url_and_an_optional_exchange() {
        let events = "[events]\nkind = \"rabbitmq\"\nurl = \"amqp://127.0.0.1:5672/%2f\"";
        let config = parse(&format!("{EXAMPLE}\n{events}\n")).unwrap();
        assert_eq!(
            config.events.kind,
            BusKind::RabbitMq("amqp://127.0.0.1:5672/%2f".to_owned())
        );
        assert_eq!(config.events.exchange, events::DEFAULT_EXCHANGE);
        let config = parse(&format!(
            "{EXAMPLE}\n{events}\nexchange = \"shop.events\"\n"
        ))
        .unwrap();
        assert_eq!(config.events.exchange, "shop.events");
    }

    #[test]
    fn a_bad_rabbitmq_bus_is_reported_with_its_line() {
        for (events, needle, message) in [
            (
                "kind = \"rabbitmq\"\nurl = \"redis://127.0.0.1:6379\"",
                "url =",
                "must start with amqp://, not `redis://127.0.0.1:6379`",
            ),
            (
                "kind = \"rabbitmq\"\nurl = \"amqps://127.0.0.1:5671/%2f\"",
                "url =",
                "amqps:// (AMQP over TLS) is not supported",
            ),
            (
                "kind = \"rabbitmq\"",
                "kind =",
                "`[events] kind = \"rabbitmq\"` needs `url`",
            ),
            (
                "kind = \"rabbitmq\"\nurl = \"amqp://127.0.0.1\"\nexchange = \"a b\"",
                "exchange =",
                "must be 1 to 255 letters, digits",
            ),
            (
                "kind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\nexchange = \"weft\"",
                "exchange =",
                "`[events] exchange` is for kind = \"rabbitmq\" only",
            ),
        ] {
            let text = format!("{EXAMPLE}\n[events]\n{events}\n");
            let error = parse(&text).unwrap_err().to_string();
            let lines: Vec<&str> = text.lines().collect();
            let line = lines.iter().rposition(|l| l.starts_with(needle)).unwrap() + 1;
            assert!(error.contains(&format!("weft.toml:{line}:")), "{error}");
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn a_jetstream_stream_is_configured_on_a_nats_bus() {
        let text = format!(
            "{EXAMPLE}\n[events]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n\
             jetstream = {{ subjects = [\"orders.>\", \"announcements\"], max_age = \"24h\", \
             max_msgs = 1000 }}\n"
        );
        let config = parse(&text).unwrap();
        assert_eq!(
            config.events.jetstream,
            Some(JetStreamConfig {
                stream: "WEFT_EVENTS".to_owned(),
                subjects: vec!["orders.>".to_owned(), "announcements".to_owned()],
                max_age: Some(std::time::Duration::from_hours(24)),
                max_msgs: Some(1000),
            })
        );
    }

    #[test]
    fn redis_streams_are_configured_on_a_redis_bus_with_defaults_for_what_is_left_out() {
        let redis = "[events]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"";
        for (streams, expected) in [
            (
                "streams = { prefix = \"app:\", max_len = 500 }",
                RedisStreamsConfig {
                    prefix: "app:".to_owned(),
                    max_len: 500,
                },
            ),
            (
                "streams = {}",
                RedisStreamsConfig {
                    prefix: "weft:".to_owned(),
                    max_len: 1_000_000,
                },
            ),
        ] {
            let config = parse(&format!("{EXAMPLE}\n{redis}\n{streams}\n")).unwrap();
            assert_eq!(config.events.streams, Some(expected));
        }
        let pubsub = parse(&format!("{EXAMPLE}\n{redis}\n")).unwrap();
        assert_eq!(pubsub.events.streams, None);
    }

    #[test]
    fn an_events_url_of_another_bus_than_redis_is_refused_with_streams() {
        let text = format!(
            "{EXAMPLE}\n[events]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n\
             streams = {{}}\n"
        );
        let mut config = parse(&text).unwrap();
        let error = config
            .apply_env(|name| (name == "WEFT_EVENTS_URL").then(|| "nats://broker:4222".to_owned()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("WEFT_EVENTS_URL") && error.contains("`[events] streams` needs Redis"),
            "{error}"
        );
    }

    #[test]
    fn a_jetstream_mistake_is_reported_where_it_stands() {
        let nats = "kind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"";
        for (events, message) in [
            (
                "kind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\njetstream = { subjects = [\"a\"] }"
                    .to_owned(),
                "`[events] jetstream` needs `kind = \"nats\"`",
            ),
            (
                format!("{nats}\njetstream = {{ stream = \"S\" }}"),
                "`[events] jetstream` needs `subjects`",
            ),
            (
                format!("{nats}\njetstream = {{ subjects = [] }}"),
                "must name at least one subject",
            ),
            (
                format!("{nats}\njetstream = {{ subjects = [\"a.>.b\"] }}"),
                "`a.>.b` is not a NATS subject",
            ),
            (
                format!("{nats}\njetstream = {{ subjects = [\"a\"], max_age = \"a day\" }}"),
                "`a day` is not a duration",
            ),
            (
                format!("{nats}\njetstream = {{ stream = \"a.b\", subjects = [\"a\"] }}"),
                "`a.b` is not a stream name",
            ),
        ] {
            let text = format!("{EXAMPLE}\n[events]\n{events}\n");
            let error = parse(&text).unwrap_err().to_string();
            let line = text.lines().position(|l| l.starts_with("jetstream")).unwrap() + 1;
            assert!(error.contains(&format!("weft.toml:{line}:")), "{error}");
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn a_bad_environment_value_is_named() {
        let mut config = parse(EXAMPLE).unwrap();
        let error = config
            .apply_env(|name| (name == "WEFT_SOURCE_USERS_TIMEOUT_MS").then(|| "soon".to_owned()))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("WEFT_SOURCE_USERS_TIMEOUT_MS is not a whole number"),
            "{error}"
        );
    }
}
