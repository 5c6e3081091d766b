//! The testkit of weft's end-to-end tests: the example services on free
//! ports, config files written to a fresh directory, and a gateway serving on
//! a real socket, all torn down when dropped.
//!
//! A typical test:
//!
//! ```no_run
//! # async fn example() {
//! use weft_tests::{GatewayConfig, Services, TestDir, TestGateway};
//!
//! let services = Services::start();
//! let dir = TestDir::new();
//! let config = GatewayConfig::demo(&services).load(&dir).unwrap();
//! let gateway = TestGateway::start(&config).await.unwrap();
//! let body = gateway.query(r#"{ user(id: "1") { name } }"#).await;
//! let seed = subgraphs::data::user("1").unwrap();
//! assert_eq!(body["data"]["user"]["name"], seed.full_name.as_str());
//! # }
//! ```
//!
//! | piece | what it is |
//! |---|---|
//! | [`Services`] | users (REST), catalog (gRPC) and orders (REST), each on port 0 |
//! | [`TestDir`] | a fresh temporary directory, removed on drop |
//! | [`GatewayConfig`] | schema, proto and `weft.toml` text, written into a [`TestDir`] |
//! | [`TestGateway`] | a built [`Gateway`] served over HTTP on port 0, stopped on drop |
//! | [`StubBackend`] | an axum router on port 0, for backends that misbehave on purpose |
//! | [`labels`] | a small federation subgraph that adds fields to `Product` and `User` |
//! | [`calls`] / [`expected_calls`] | the requests each service received, per route |
//! | [`BusDemo`] | the demo whose orders service publishes into the gateway's in-memory bus |
//! | [`WsClient`] | a GraphQL-over-WebSocket client (`graphql-transport-ws` or `graphql-ws`) |
//! | [`SseStream`] | an event stream answer, read one event at a time |
//! | [`NatsServer`] / [`PrefixedBus`] | a NATS server to test against, and topics of a test's own |
//! | [`RedisServer`] | a Redis server to test against |
//! | [`RabbitMqServer`] | a RabbitMQ broker to test against |
//! | [`TestStream`] | a JetStream stream of a test's own, deleted on drop |
//! | [`TestRedisStreams`] | Redis stream keys of a test's own, deleted on drop |
//! | [`resume`] | resuming subscriptions: a `weft serve` process, cursors, refusals |
//! | [`replicas`] | probing a subscription on another replica until it is established, or the bus is back |
//! | [`TcpTap`] | a proxy that counts what a backend sends (is it still streaming?), and cuts it off when dropped |
//! | [`wait_for`] / [`wait_until`] | polling for a state, bounded by [`WAIT_TIMEOUT`] |

pub mod broker;
pub mod bulletins;
pub mod jetstream;
pub mod labels;
pub mod nats;
pub mod npm;
pub mod process;
pub mod rabbitmq;
pub mod redis;
pub mod replicas;
pub mod resume;
pub mod sse;
pub mod tap;
pub mod ws;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde_json::{Value, json};
use subgraphs::{RunningService, Service, SpawnOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use weft::Gateway;
use weft::config::Config;
use weft::error::Diagnostics;
use weft::events::EventBus;
use weft::events::in_memory::{DEFAULT_BUFFER, InMemoryBus};

pub use jetstream::TestStream;
pub use nats::{NatsServer, PrefixedBus};
pub use rabbitmq::RabbitMqServer;
pub use redis::{RedisServer, TestRedisStreams};
pub use sse::{SseEvent, SseStream};
pub use tap::TcpTap;
pub use ws::{LEGACY_WS, TRANSPORT_WS, WsClient};

/// The timeout every demo source gets in [`GatewayConfig::demo`].
pub const DEMO_TIMEOUT_MS: u64 = 1000;

/// A subscription to order status changes (optionally of one order), with
/// fields from all three services.
pub const ORDER_CHANGES: &str = "subscription ($orderId: ID) {
  orderStatusChanged(orderId: $orderId) {
    orderId userId status previousStatus
    order { id status items { quantity product { name } } }
    user { name }
  }
}";

/// A subscription to `announce` mutations.
pub const ANNOUNCEMENTS_SUBSCRIPTION: &str = "subscription { announcements { message } }";

/// How long the test client waits for any answer before failing the test,
/// so a hanging gateway fails instead of blocking the run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

/// The three example services, each listening on a free port of 127.0.0.1.
/// Dropping it stops them.
#[derive(Debug)]
pub struct Services {
    /// The users service (REST).
    pub users: RunningService,
    /// The catalog service (gRPC).
    pub catalog: RunningService,
    /// The orders service (REST), with its own fresh order store.
    pub orders: RunningService,
}

impl Services {
    /// Starts all three services on port 0.
    pub fn start() -> Self {
        Self::start_with(&SpawnOptions::default())
    }

    /// Starts all three services on port 0 with `options` (each option
    /// applies to its own service: `stock_interval` to the catalog,
    /// `order_events` to orders).
    pub fn start_with(options: &SpawnOptions) -> Self {
        Self {
            users: spawn(Service::Users, options),
            catalog: spawn(Service::Catalog, options),
            orders: spawn(Service::Orders, options),
        }
    }

    /// Starts all three services; the orders service publishes its
    /// `orders.status` events to `bus` (through
    /// [`weft::demo::publish_to`]).
    pub fn publishing_to(bus: Arc<dyn EventBus>) -> Self {
        Self::start_with(&SpawnOptions {
            order_events: Some(weft::demo::publish_to(bus)),
            ..SpawnOptions::default()
        })
    }

    /// Forgets every request counted so far, on every service.
    pub fn reset_calls(&self) {
        for service in [&self.users, &self.catalog, &self.orders] {
            service.calls().reset();
        }
    }
}

/// Starts one example service (e.g. the reviews subgraph) on port 0.
///
/// # Panics
///
/// When the service does not start.
pub fn spawn_service(service: Service) -> RunningService {
    spawn(service, &SpawnOptions::default())
}

fn spawn(service: Service, options: &SpawnOptions) -> RunningService {
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    subgraphs::spawn(service, any_port, options.clone())
        .unwrap_or_else(|error| panic!("cannot start the {service} service: {error}"))
}

/// Requests received per service name, then per route label (see
/// [`subgraphs::calls`]); every service that is asked about is present, even
/// with no requests.
pub type CallCounts = BTreeMap<&'static str, BTreeMap<String, u64>>;

/// The requests each running service has received so far, by route label:
/// `{"catalog": {...}, "orders": {...}, "users": {...}}`.
pub fn calls(services: &Services) -> CallCounts {
    [
        ("users", &services.users),
        ("catalog", &services.catalog),
        ("orders", &services.orders),
    ]
    .into_iter()
    .map(|(name, service)| (name, service.calls().snapshot()))
    .collect()
}

/// The [`CallCounts`] made of `(service, route, count)` rows; the three demo
/// services are always present, so a service that must receive nothing is
/// asserted too.
pub fn expected_calls(rows: &[(&'static str, &str, u64)]) -> CallCounts {
    let mut counts: CallCounts = ["users", "catalog", "orders"]
        .into_iter()
        .map(|name| (name, BTreeMap::new()))
        .collect();
    for &(service, route, count) in rows {
        *counts
            .entry(service)
            .or_default()
            .entry(route.to_owned())
            .or_default() += count;
    }
    counts
}

/// A fresh, empty directory under the system's temporary directory; it is
/// removed with everything in it when dropped.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
}

impl TestDir {
    /// Creates a directory no other test (or process) uses.
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "weft-tests-{}-{}-{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `contents` to `relative` inside the directory, creating parent
    /// directories; returns the file's path.
    pub fn write(&self, relative: &str, contents: &str) -> PathBuf {
        let path = self.path.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
        }
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        path
    }
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The files of a gateway configuration: a schema, the catalog proto and a
/// `weft.toml`, built up in code and written into a [`TestDir`].
///
/// The files are laid out as `weft.toml`, `schema.graphql` and
/// `proto/catalog/v1/catalog.proto`; the config names the other two
/// relative to itself.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    schema: String,
    sources: Vec<(String, Vec<String>)>,
    extra: String,
}

/// The name of the schema file [`GatewayConfig::write`] writes.
pub const SCHEMA_FILE: &str = "schema.graphql";
/// The name of the config file [`GatewayConfig::write`] writes.
pub const CONFIG_FILE: &str = "weft.toml";

impl GatewayConfig {
    /// A config with this schema and no sources yet.
    pub fn new(schema: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            sources: Vec::new(),
            extra: String::new(),
        }
    }

    /// The demo schema ([`weft::demo::SCHEMA`]) over the running services:
    /// sources `users`, `catalog` and `orders`, each with `timeout_ms =
    /// 1000`.
    pub fn demo(services: &Services) -> Self {
        Self::new(weft::demo::SCHEMA)
            .rest_source("users", &services.users.url(), DEMO_TIMEOUT_MS)
            .grpc_source("catalog", &services.catalog.url(), DEMO_TIMEOUT_MS)
            .rest_source("orders", &services.orders.url(), DEMO_TIMEOUT_MS)
    }

    /// Replaces the schema text.
    #[must_use]
    pub fn schema(mut self, schema: &str) -> Self {
        schema.clone_into(&mut self.schema);
        self
    }

    /// Adds `[sources.<name>]` of kind `rest`.
    #[must_use]
    pub fn rest_source(mut self, name: &str, url: &str, timeout_ms: u64) -> Self {
        self.sources.push((
            name.to_owned(),
            vec![
                "kind = \"rest\"".to_owned(),
                format!("url = \"{url}\""),
                format!("timeout_ms = {timeout_ms}"),
            ],
        ));
        self
    }

    /// Adds `[sources.<name>]` of kind `grpc`, reading the catalog proto.
    #[must_use]
    pub fn grpc_source(mut self, name: &str, endpoint: &str, timeout_ms: u64) -> Self {
        self.sources.push((
            name.to_owned(),
            vec![
                "kind = \"grpc\"".to_owned(),
                format!("endpoint = \"{endpoint}\""),
                "protos = [\"proto/catalog/v1/catalog.proto\"]".to_owned(),
                format!("timeout_ms = {timeout_ms}"),
            ],
        ));
        self
    }

    /// Adds `[sources.<name>]` of kind `graphql` at `url` (its SDL asked
    /// from `_service` unless an `sdl` line is added).
    #[must_use]
    pub fn graphql_source(mut self, name: &str, url: &str, timeout_ms: u64) -> Self {
        self.sources.push((
            name.to_owned(),
            vec![
                "kind = \"graphql\"".to_owned(),
                format!("url = \"{url}\""),
                format!("timeout_ms = {timeout_ms}"),
            ],
        ));
        self
    }

    /// Adds `[sources.<name>]` of kind `graphql` at `url` with its SDL
    /// read from `sdl_file` (relative to the config).
    #[must_use]
    pub fn subgraph(self, name: &str, url: &str, sdl_file: &str) -> Self {
        self.graphql_source(name, url, DEMO_TIMEOUT_MS)
            .source_option(name, &format!("sdl = \"{sdl_file}\""))
    }

    /// Appends a line (`key = value`) to the table of source `name`.
    ///
    /// # Panics
    ///
    /// When no source of that name was added.
    #[must_use]
    pub fn source_option(mut self, name: &str, line: &str) -> Self {
        let (_, lines) = self
            .sources
            .iter_mut()
            .find(|(source, _)| source == name)
            .unwrap_or_else(|| panic!("no source `{name}` in the config"));
        lines.push(line.to_owned());
        self
    }

    /// Appends raw TOML at the end of `weft.toml`.
    #[must_use]
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        if !self.extra.ends_with('\n') {
            self.extra.push('\n');
        }
        self
    }

    /// The text of `weft.toml`.
    pub fn toml(&self) -> String {
        let mut text = format!("[schema]\nfiles = [\"{SCHEMA_FILE}\"]\n");
        for (name, lines) in &self.sources {
            let _ = write!(text, "\n[sources.{name}]\n");
            for line in lines {
                text.push_str(line);
                text.push('\n');
            }
        }
        if !self.extra.is_empty() {
            text.push('\n');
            text.push_str(&self.extra);
        }
        text
    }

    /// The schema text.
    pub fn schema_text(&self) -> &str {
        &self.schema
    }

    /// Writes the three files into `dir`; returns the path of `weft.toml`.
    pub fn write(&self, dir: &TestDir) -> PathBuf {
        dir.write("proto/catalog/v1/catalog.proto", weft::demo::CATALOG_PROTO);
        dir.write(SCHEMA_FILE, &self.schema);
        dir.write(CONFIG_FILE, &self.toml())
    }

    /// Writes the files into `dir` and loads the config with
    /// [`Config::load`].
    pub fn load(&self, dir: &TestDir) -> Result<Config, Diagnostics> {
        Config::load(&self.write(dir))
    }
}

/// The demo config over the running services, written into `dir` and loaded:
/// [`GatewayConfig::demo`] for tests that need nothing else.
///
/// # Panics
///
/// When the demo config does not load.
pub fn demo_config(services: &Services, dir: &TestDir) -> Config {
    GatewayConfig::demo(services)
        .load(dir)
        .unwrap_or_else(|problems| panic!("the demo config does not load:\n{problems}"))
}

/// The example services on port 0 and a gateway over them with the demo
/// schema, serving on a real socket; the directory holds the written config.
pub async fn demo() -> (Services, TestDir, TestGateway) {
    demo_with("").await
}

/// [`demo`] with `extra` TOML appended to its config.
///
/// # Panics
///
/// When the config does not load or the gateway does not build.
pub async fn demo_with(extra: &str) -> (Services, TestDir, TestGateway) {
    demo_configured(|config| config.extra(extra)).await
}

/// [`demo`] with its config changed by `configure` first.
///
/// # Panics
///
/// When the config does not load or the gateway does not build.
pub async fn demo_configured(
    configure: impl FnOnce(GatewayConfig) -> GatewayConfig,
) -> (Services, TestDir, TestGateway) {
    let services = Services::start();
    let dir = TestDir::new();
    let config = configure(GatewayConfig::demo(&services))
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    (services, dir, gateway)
}

/// The 1-based number of the first line of `text` that contains `needle`.
///
/// # Panics
///
/// When no line contains it.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?}"))
        + 1
}

/// An HTTP answer, read completely.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "the body of a {} answer is not JSON ({error}): {}",
                self.status,
                self.text()
            )
        })
    }

    /// The `extensions.code` of each error in a GraphQL error body.
    pub fn error_codes(&self) -> Vec<String> {
        error_codes(&self.json())
    }
}

/// The `extensions.code` of each error of a GraphQL response body, in order.
pub fn error_codes(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| {
                    error["extensions"]["code"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A gateway built from a config and served on a free port of 127.0.0.1;
/// dropping it shuts the server down.
pub struct TestGateway {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The gateway being served (its metrics and schema).
    pub gateway: Arc<Gateway>,
    client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for TestGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestGateway")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl TestGateway {
    /// Builds the gateway from `config` (every start-up check runs, and the
    /// descriptors of `reflection = true` sources are fetched), binds
    /// 127.0.0.1:0 and serves it with [`weft::server::serve`]. Must be called
    /// inside a Tokio runtime.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start(config: &Config) -> Result<Self, Diagnostics> {
        let mut config = config.clone();
        weft::sources::reflection::fetch_all(&mut config).await?;
        Ok(Self::serve(Gateway::from_config(&config)?).await)
    }

    /// [`TestGateway::start`] for a config that must build.
    ///
    /// # Panics
    ///
    /// When the gateway does not build.
    pub async fn started(config: &Config) -> Self {
        Self::start(config)
            .await
            .unwrap_or_else(|problems| panic!("the gateway does not build:\n{problems}"))
    }

    /// Builds the gateway from `config` with the given event bus
    /// ([`Gateway::new`]) and serves it as [`Self::start`] does.
    pub async fn start_with_bus(
        config: &Config,
        bus: Arc<dyn EventBus>,
    ) -> Result<Self, Diagnostics> {
        Ok(Self::serve(Gateway::new(config, bus)?).await)
    }

    /// Builds the gateway with the event bus `[events]` configures
    /// ([`Gateway::connect`], e.g. NATS) and serves it as [`Self::start`]
    /// does.
    pub async fn connect(config: &Config) -> Result<Self, Diagnostics> {
        Ok(Self::serve(Gateway::connect(config).await?).await)
    }

    /// Serves an already built gateway on 127.0.0.1:0, on the current
    /// runtime.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn serve(gateway: Gateway) -> Self {
        let gateway = Arc::new(gateway);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let addr = listener.local_addr().expect("a bound address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(weft::server::serve(listener, gateway.clone(), async {
            let _ = stopped.await;
        }));
        let client = reqwest::Client::builder()
            .timeout(CLIENT_TIMEOUT)
            .build()
            .expect("a reqwest client");
        Self {
            url: format!("http://{addr}"),
            gateway,
            client,
            shutdown: Some(shutdown),
            server: Some(server),
        }
    }

    /// The URL of `/graphql`.
    pub fn graphql_url(&self) -> String {
        format!("{}/graphql", self.url)
    }

    /// The WebSocket URL of `/graphql` (`ws://…/graphql`).
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.url.replacen("http", "ws", 1))
    }

    /// Opens a WebSocket to `/graphql` offering `protocol`.
    pub async fn ws(&self, protocol: &str) -> WsClient {
        WsClient::connect(&self.ws_url(), protocol).await
    }

    /// Opens a `graphql-transport-ws` WebSocket and has its
    /// `connection_init` acknowledged.
    pub async fn ws_ready(&self) -> WsClient {
        let mut client = self.ws(TRANSPORT_WS).await;
        client.init(None).await;
        client
    }

    /// POSTs a GraphQL request body as JSON with `Accept:
    /// text/event-stream` and returns the open event stream.
    pub async fn sse_post(&self, body: &Value) -> SseStream {
        sse::post(&self.graphql_url(), body, &[]).await
    }

    /// GETs `/graphql?query=…` (and `variables`, if given) with `Accept:
    /// text/event-stream` and returns the open event stream.
    pub async fn sse_get(&self, query: &str, variables: Option<&Value>) -> SseStream {
        let mut params = vec![("query", query.to_owned())];
        if let Some(variables) = variables {
            params.push(("variables", variables.to_string()));
        }
        let url =
            reqwest::Url::parse_with_params(&self.graphql_url(), &params).expect("a valid URL");
        let request = streaming_client()
            .get(url)
            .header(ACCEPT, "text/event-stream");
        open_stream(request).await
    }

    /// POSTs `{"query": query}` as JSON and returns the response body.
    pub async fn query(&self, query: &str) -> Value {
        self.request(&json!({ "query": query })).await
    }

    /// POSTs a query with variables and returns the response body.
    pub async fn query_with(&self, query: &str, variables: Value) -> Value {
        self.request(&json!({ "query": query, "variables": variables }))
            .await
    }

    /// POSTs a GraphQL request body as JSON and returns the response body;
    /// the HTTP status must be 200.
    ///
    /// # Panics
    ///
    /// When the status is not 200 or the body is not JSON.
    pub async fn request(&self, body: &Value) -> Value {
        let response = self
            .post_raw(Some("application/json"), None, body.to_string())
            .await;
        assert_eq!(
            response.status,
            200,
            "POST /graphql answered {}: {}",
            response.status,
            response.text()
        );
        response.json()
    }

    /// POSTs `body` to `/graphql` with the given `Content-Type` and
    /// `Accept` headers (each left out when `None`).
    pub async fn post_raw(
        &self,
        content_type: Option<&str>,
        accept: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> HttpResponse {
        let mut request = self.client.post(self.graphql_url()).body(body);
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        read(request).await
    }

    /// GETs `path_and_query` (e.g. `/health`, `/graphql?query=...`, already
    /// encoded) with an optional `Accept` header.
    pub async fn get(&self, path_and_query: &str, accept: Option<&str>) -> HttpResponse {
        let mut request = self.client.get(format!("{}{path_and_query}", self.url));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        read(request).await
    }

    /// GETs `/graphql` with `query` (and `variables`, if given) percent-encoded
    /// into the query string.
    pub async fn get_query(
        &self,
        query: &str,
        variables: Option<&Value>,
        accept: Option<&str>,
    ) -> HttpResponse {
        let mut params = vec![("query", query.to_owned())];
        if let Some(variables) = variables {
            params.push(("variables", variables.to_string()));
        }
        let url =
            reqwest::Url::parse_with_params(&self.graphql_url(), &params).expect("a valid URL");
        let mut request = self.client.get(url);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        read(request).await
    }

    /// Starts the graceful shutdown [`weft::server::serve`] was given:
    /// the server stops taking connections, reports unready, and lets
    /// requests in flight finish.
    pub fn begin_shutdown(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// Waits until the server has stopped (after [`Self::begin_shutdown`]);
    /// returns what [`weft::server::serve`] returned.
    ///
    /// # Panics
    ///
    /// When the server task panicked, or was already awaited.
    pub async fn wait_stopped(&mut self) -> std::io::Result<()> {
        let server = self.server.take().expect("the server task is awaited once");
        server.await.expect("the server task does not panic")
    }

    /// The text of `GET /metrics`.
    pub async fn metrics(&self) -> String {
        let response = self.get("/metrics", None).await;
        assert_eq!(response.status, 200, "GET /metrics: {}", response.text());
        response.text()
    }
}

/// A client without a whole-request timeout (a stream may stay open as long
/// as the test reads it); each read is bounded by the reader instead.
pub(crate) fn streaming_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(CLIENT_TIMEOUT)
        .build()
        .expect("a reqwest client")
}

pub(crate) async fn open_stream(request: reqwest::RequestBuilder) -> SseStream {
    let response = tokio::time::timeout(CLIENT_TIMEOUT, request.send())
        .await
        .unwrap_or_else(|_| panic!("the gateway did not answer within {CLIENT_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("the gateway did not answer: {error:?}"));
    SseStream::new(response)
}

async fn read(request: reqwest::RequestBuilder) -> HttpResponse {
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("the gateway did not answer: {error:?}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .unwrap_or_else(|error| panic!("the gateway's answer broke off: {error:?}"))
        .to_vec();
    HttpResponse {
        status,
        headers,
        body,
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        self.begin_shutdown();
        // Graceful shutdown waits for open connections; dropping the gateway
        // must not.
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// A backend made up by a test: an axum router served on a free port of the
/// test's runtime, for answers the example services never give (slow, not
/// JSON, 500, wrongly typed). Stopped on drop.
#[derive(Debug)]
pub struct StubBackend {
    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    task: JoinHandle<()>,
}

impl StubBackend {
    /// Serves `router` on 127.0.0.1:0.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub async fn start(router: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let addr = listener.local_addr().expect("a bound address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url: format!("http://{addr}"),
            task,
        }
    }
}

impl Drop for StubBackend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The demo with events: the three services, the orders service publishing
/// its `orders.status` events into the gateway's in-memory bus, and the
/// gateway serving on a real socket. Build it with [`BusDemo::start`] or
/// [`BusDemo::options`].
#[derive(Debug)]
pub struct BusDemo {
    /// The gateway, serving on the test's runtime.
    pub gateway: TestGateway,
    /// The gateway's bus, as its concrete type (for [`InMemoryBus::hub`]).
    pub bus: Arc<InMemoryBus>,
    /// The proxy the catalog is reached through, with
    /// [`BusDemoOptions::tap_catalog`].
    pub catalog_tap: Option<TcpTap>,
    /// The running services.
    pub services: Services,
    /// The directory the config files are written to.
    pub dir: TestDir,
}

/// How to build a [`BusDemo`].
#[derive(Debug, Clone, Default)]
pub struct BusDemoOptions {
    buffer: Option<usize>,
    stock_interval: Option<Duration>,
    extra: String,
    tap_catalog: bool,
    schema_extra: String,
    rest_sources: Vec<(String, String)>,
}

impl BusDemoOptions {
    /// `[events] buffer = n`: the bus lets each subscriber fall `n` events
    /// behind (the config says so too).
    #[must_use]
    pub fn buffer(mut self, n: usize) -> Self {
        self.buffer = Some(n);
        self
    }

    /// The time between two levels of the catalog's `WatchStock` streams.
    #[must_use]
    pub fn stock_interval(mut self, interval: Duration) -> Self {
        self.stock_interval = Some(interval);
        self
    }

    /// Raw TOML appended to `weft.toml`, e.g. a `[subscriptions]` table.
    #[must_use]
    pub fn extra(mut self, toml: &str) -> Self {
        self.extra.push_str(toml);
        self.extra.push('\n');
        self
    }

    /// SDL appended to the demo schema, e.g. `extend type Query { … }`.
    #[must_use]
    pub fn schema_extra(mut self, sdl: &str) -> Self {
        self.schema_extra.push_str(sdl);
        self.schema_extra.push('\n');
        self
    }

    /// Adds `[sources.<name>]` of kind `rest` at `url`, beside the demo's.
    #[must_use]
    pub fn rest_source(mut self, name: &str, url: &str) -> Self {
        self.rest_sources.push((name.to_owned(), url.to_owned()));
        self
    }

    /// Reaches the catalog through a [`TcpTap`], to see what it sends.
    #[must_use]
    pub fn tap_catalog(mut self) -> Self {
        self.tap_catalog = true;
        self
    }

    /// Starts the services, writes and loads the config, and serves the
    /// gateway with the bus.
    ///
    /// # Panics
    ///
    /// When the config does not load or the gateway does not build.
    pub async fn start(self) -> BusDemo {
        let buffer = self.buffer.unwrap_or(DEFAULT_BUFFER);
        let bus = Arc::new(InMemoryBus::new(buffer));
        let dyn_bus: Arc<dyn EventBus> = bus.clone();
        let services = Services::start_with(&SpawnOptions {
            order_events: Some(weft::demo::publish_to(dyn_bus.clone())),
            stock_interval: self
                .stock_interval
                .unwrap_or(subgraphs::catalog::DEFAULT_STOCK_INTERVAL),
        });
        let catalog_tap = if self.tap_catalog {
            Some(TcpTap::start(services.catalog.addr()).await)
        } else {
            None
        };
        let catalog_url = catalog_tap
            .as_ref()
            .map_or_else(|| services.catalog.url(), TcpTap::url);
        let schema = format!("{}\n{}", weft::demo::SCHEMA, self.schema_extra);
        let mut config = GatewayConfig::new(&schema)
            .rest_source("users", &services.users.url(), DEMO_TIMEOUT_MS)
            .grpc_source("catalog", &catalog_url, DEMO_TIMEOUT_MS)
            .rest_source("orders", &services.orders.url(), DEMO_TIMEOUT_MS);
        for (name, url) in &self.rest_sources {
            config = config.rest_source(name, url, DEMO_TIMEOUT_MS);
        }
        if let Some(buffer) = self.buffer {
            config = config.extra(&format!("[events]\nbuffer = {buffer}"));
        }
        if !self.extra.is_empty() {
            config = config.extra(&self.extra);
        }
        let dir = TestDir::new();
        let config = config
            .load(&dir)
            .unwrap_or_else(|problems| panic!("the demo config does not load:\n{problems}"));
        assert_eq!(
            config.events.buffer, buffer,
            "the bus and `[events] buffer` must agree"
        );
        let gateway = TestGateway::start_with_bus(&config, dyn_bus)
            .await
            .unwrap_or_else(|problems| panic!("the demo does not build:\n{problems}"));
        BusDemo {
            gateway,
            bus,
            catalog_tap,
            services,
            dir,
        }
    }
}

impl BusDemo {
    /// The demo with default options.
    pub async fn start() -> Self {
        Self::options().start().await
    }

    /// Options to start the demo with.
    pub fn options() -> BusDemoOptions {
        BusDemoOptions::default()
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &weft::metrics::Metrics {
        &self.gateway.gateway.metrics
    }

    /// How many subscribers `topic` has on the gateway's bus.
    pub fn subscribers(&self, topic: &str) -> usize {
        self.bus.hub().subscribers(topic)
    }

    /// Waits until `topic` has exactly `count` subscribers on the bus: a
    /// subscription is established once it is counted there.
    pub async fn wait_subscribers(&self, topic: &str, count: usize) {
        wait_for(&format!("subscribers of `{topic}`"), count, || {
            self.subscribers(topic)
        })
        .await;
    }

    /// Waits until no subscription runs and the bus has no topic left.
    pub async fn wait_idle(&self) {
        wait_for("active subscriptions", 0, || {
            self.metrics().subscriptions_active()
        })
        .await;
        wait_for("topics on the bus", 0, || self.bus.hub().topics()).await;
    }
}

/// The longest [`wait_for`] and [`wait_until`] poll before failing the test.
pub const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How often [`wait_for`] and [`wait_until`] look.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// Polls `current` until it equals `expected`.
///
/// # Panics
///
/// When it still differs after [`WAIT_TIMEOUT`], naming `what` and the last
/// value seen.
pub async fn wait_for<T: PartialEq + std::fmt::Debug>(
    what: &str,
    expected: T,
    mut current: impl FnMut() -> T,
) {
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    loop {
        let now = current();
        if now == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: still {now:?} after {WAIT_TIMEOUT:?}, expected {expected:?}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Polls `condition` until it holds.
///
/// # Panics
///
/// When it does not hold after [`WAIT_TIMEOUT`].
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    wait_for(what, true, &mut condition).await;
}
