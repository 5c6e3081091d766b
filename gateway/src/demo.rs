//! `weft demo`: the example services and the gateway in one process.
//!
//! The four example services (users, catalog, orders and the reviews
//! federation subgraph) start on free ports, each on its own thread; the
//! demo schema, the reviews SDL, the catalog proto and a `weft.toml`
//! pointing at the services are written to a fresh temporary directory, and the gateway is
//! built from that config exactly as `weft serve` would build it.
//!
//! By default the events (the orders service's `orders.status`, and
//! `announce` mutations) stay in the process. With a broker URL
//! ([`Demo::start_on_broker`]) they go through it: on NATS they are kept in
//! a JetStream stream ([`STREAM`]), so that subscriptions can resume.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use std::sync::{Arc, OnceLock};

use subgraphs::{EventSink, RunningService, Service, SpawnOptions};

use crate::config::{BusKind, Config};
use crate::error::{Diagnostic, Diagnostics};
use crate::events::EventBus;
use crate::events::in_memory::{DEFAULT_BUFFER, InMemoryBus};

/// The JetStream stream a demo on NATS keeps its events in.
pub const STREAM: &str = "WEFT_DEMO";

/// The key prefix of the Redis streams a demo on Redis keeps its events in.
pub const REDIS_PREFIX: &str = "weft-demo:";

/// The topics of the demo schema, as stream subjects.
pub const SUBJECTS: [&str; 3] = ["orders.>", "announcements", "stock.>"];

/// The demo schema, as shipped in `schema/demo.graphql`.
pub const SCHEMA: &str = include_str!("../../schema/demo.graphql");
/// The reviews subgraph's SDL (what its `_service { sdl }` answers).
pub const REVIEWS_SDL: &str = include_str!("../../schema/reviews.graphql");
/// The catalog service's proto, as shipped in `proto/catalog/v1/catalog.proto`.
pub const CATALOG_PROTO: &str = include_str!("../../proto/catalog/v1/catalog.proto");
/// A query that touches all three services.
pub const EXAMPLE_QUERY: &str = r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#;

/// The running example services, the config that points at them, and the
/// in-process event bus the orders service publishes to. Its directory is
/// removed when it is dropped.
#[derive(Debug)]
pub struct Demo {
    /// The bus the gateway should use: the orders service publishes
    /// `orders.status` events to it.
    pub bus: Arc<dyn EventBus>,
    /// users, catalog, orders — in that order.
    pub services: Vec<RunningService>,
    /// The gateway config written for them.
    pub config: Config,
    /// The directory holding the written files.
    pub dir: PathBuf,
}

impl Demo {
    /// Starts the services and writes the demo files; the gateway will listen
    /// on `port` (0 for any free port). Events stay in the process.
    pub fn start(port: u16) -> Result<Self, Diagnostics> {
        let bus: Arc<dyn EventBus> = Arc::new(InMemoryBus::new(DEFAULT_BUFFER));
        Self::spawn(port, bus.clone(), publish_to(bus), "")
    }

    /// As [`Demo::start`], with the events on the broker at `url`: NATS
    /// keeps them in the JetStream stream [`STREAM`] (subscriptions resume
    /// after a cursor), Redis and RabbitMQ carry them live.
    pub async fn start_on_broker(port: u16, url: &str) -> Result<Self, Diagnostics> {
        let opened: Arc<OnceLock<Arc<dyn EventBus>>> = Arc::default();
        let placeholder: Arc<dyn EventBus> = Arc::new(InMemoryBus::new(DEFAULT_BUFFER));
        let mut demo = Self::spawn(
            port,
            placeholder,
            publish_once_open(opened.clone()),
            &events_table(url),
        )?;
        let bus = crate::events::open(&demo.config.events)
            .await
            .map_err(|error| {
                Diagnostic::file(
                    &demo.dir.join("weft.toml"),
                    format!("cannot use the event bus at {url}: {error}"),
                )
            })?;
        let _ = opened.set(bus.clone());
        demo.bus = bus;
        Ok(demo)
    }

    /// Starts the services, their events going to `sink`, and writes the
    /// demo files with `events` (an `[events]` table, or nothing).
    fn spawn(
        port: u16,
        bus: Arc<dyn EventBus>,
        sink: EventSink,
        events: &str,
    ) -> Result<Self, Diagnostics> {
        let options = SpawnOptions {
            order_events: Some(sink),
            ..SpawnOptions::default()
        };
        let services = [
            Service::Users,
            Service::Catalog,
            Service::Orders,
            Service::Reviews,
        ]
        .into_iter()
        .map(|service| {
            subgraphs::spawn(
                service,
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                options.clone(),
            )
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| {
            Diagnostic::file(
                &PathBuf::from("demo"),
                format!("cannot start the example services: {error}"),
            )
        })?;
        let dir = std::env::temp_dir().join(format!("weft-demo-{}", std::process::id()));
        let config_path = dir.join("weft.toml");
        let urls = [services[0].url(), services[1].url(), services[2].url()];
        let text = config_text(
            &format!("127.0.0.1:{port}"),
            [urls[0].as_str(), urls[1].as_str(), urls[2].as_str()],
        ) + &reviews_table(&services[3].url())
            + events;
        write_files(&dir, &text).map_err(|error| {
            Diagnostic::file(&dir, format!("cannot write the demo files: {error}"))
        })?;
        let config = Config::parse(&config_path, &text)?;
        Ok(Self {
            bus,
            services,
            config,
            dir,
        })
    }
}

/// The `[events]` table of a demo on the broker at `url`.
pub fn events_table(url: &str) -> String {
    let quoted = toml::Value::String(url.to_owned()).to_string();
    match BusKind::for_url(url.to_owned()) {
        BusKind::Nats(_) => {
            let subjects = toml::Value::from(SUBJECTS.to_vec());
            format!(
                "\n[events]\nkind = \"nats\"\nurl = {quoted}\n\
                 jetstream = {{ stream = \"{STREAM}\", subjects = {subjects}, max_age = \"24h\" }}\n"
            )
        }
        BusKind::Redis(_) => format!(
            "\n[events]\nkind = \"redis\"\nurl = {quoted}\n\
             streams = {{ prefix = \"{REDIS_PREFIX}\", max_len = 100000 }}\n"
        ),
        BusKind::RabbitMq(_) => format!("\n[events]\nkind = \"rabbitmq\"\nurl = {quoted}\n"),
        BusKind::InMemory => String::new(),
    }
}

/// An event sink that publishes to the bus once `opened` holds it (events
/// before that are dropped: nothing subscribes before the bus is open).
fn publish_once_open(opened: Arc<OnceLock<Arc<dyn EventBus>>>) -> EventSink {
    Arc::new(move |topic: &str, payload: serde_json::Value| {
        if let Some(bus) = opened.get() {
            publish_to(bus.clone())(topic, payload);
        }
    })
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An event sink for the example services that publishes to `bus`.
pub fn publish_to(bus: Arc<dyn EventBus>) -> EventSink {
    Arc::new(move |topic: &str, payload: serde_json::Value| {
        let bus = bus.clone();
        let topic = topic.to_owned();
        tokio::spawn(async move {
            if let Err(error) = bus.publish(&topic, payload).await {
                tracing::warn!("cannot publish an order event: {error}");
            }
        });
    })
}

/// The `weft.toml` of the demo: the gateway on `listen`, the users,
/// catalog and orders services at `urls`, in that order.
pub fn config_text(listen: &str, urls: [&str; 3]) -> String {
    format!(
        r#"[server]
listen = "{listen}"
# The demo shows its backend calls to `x-weft-debug: calls`.
debug = true

# The demo answers browser pages of any origin.
[server.cors]
allow_origins = ["*"]

[schema]
files = ["demo.graphql"]

[sources.users]
kind = "rest"
url = "{users}"

[sources.catalog]
kind = "grpc"
endpoint = "{catalog}"
protos = ["proto/catalog/v1/catalog.proto"]

[sources.orders]
kind = "rest"
url = "{orders}"
"#,
        users = urls[0],
        catalog = urls[1],
        orders = urls[2],
    )
}

/// The `[sources.reviews]` table of the reviews subgraph at `url`, its
/// SDL read from the `reviews.graphql` that [`write_files`] writes.
pub fn reviews_table(url: &str) -> String {
    format!(
        r#"
[sources.reviews]
kind = "graphql"
url = "{url}/graphql"
sdl = "reviews.graphql"
"#
    )
}

/// Writes the demo schema, the reviews subgraph's SDL, the catalog proto
/// and `config` (as `weft.toml`) into `dir`.
pub fn write_files(dir: &std::path::Path, config: &str) -> std::io::Result<()> {
    let proto_dir = dir.join("proto/catalog/v1");
    std::fs::create_dir_all(&proto_dir)?;
    std::fs::write(proto_dir.join("catalog.proto"), CATALOG_PROTO)?;
    std::fs::write(dir.join("demo.graphql"), SCHEMA)?;
    std::fs::write(dir.join("reviews.graphql"), REVIEWS_SDL)?;
    std::fs::write(dir.join("weft.toml"), config)
}
