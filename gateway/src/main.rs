//! The `weft` command line: `demo`, `serve`, `compose`, `check`, `plan`,
//! `import`, `bench`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use weft::Gateway;
use weft::config::{BusKind, Config, JetStreamConfig, LogFormat, SourceKind, TracesConfig};
use weft::demo::{Demo, EXAMPLE_QUERY};
use weft::error::Diagnostics;
use weft::traces::Exporting;

/// mimalloc keeps freed memory for the next request: with the system
/// allocator, each large answer buffer was mapped and faulted in anew.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// weft: one GraphQL API over REST services, gRPC services and broker
/// events, declared in a schema file with directives.
#[derive(Parser)]
#[command(name = "weft", version, after_help = ENVIRONMENT)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// What `weft --help` says after the commands.
const ENVIRONMENT: &str = "\
Environment (applied over weft.toml, `weft demo` included):
  WEFT_LISTEN                     server.listen, e.g. 0.0.0.0:8080
  WEFT_INTROSPECTION              server.introspection (true or false)
  WEFT_LOG_FORMAT                 log.format (text or json)
  WEFT_LOG                        the log filter (default weft=info)
  WEFT_SOURCE_<NAME>_URL          a source's url (REST) or endpoint (gRPC)
  WEFT_SOURCE_<NAME>_TIMEOUT_MS   a source's timeout_ms
  WEFT_EVENTS_URL                 [events] url, with kind = \"redis\" for redis:// and
                                  rediss:// URLs, kind = \"rabbitmq\" for amqp:// URLs,
                                  else kind = \"nats\"
<NAME> is the source name in upper case, with - written as _.

Example:
  weft demo                       then open http://127.0.0.1:4000/graphql";

#[derive(Subcommand)]
enum Command {
    /// Start the example services (users, catalog, orders) on free ports and
    /// the gateway in front of them, in one process.
    #[command(
        after_help = "Examples:\n  weft demo --port 4000\n  weft demo --events nats://127.0.0.1:4222"
    )]
    Demo {
        /// The port the gateway listens on.
        #[arg(long, default_value_t = 4000)]
        port: u16,
        /// A broker to carry the events (instead of the process): NATS
        /// keeps them in a JetStream stream, so subscriptions resume;
        /// redis:// and amqp:// URLs carry them live.
        #[arg(long, value_name = "URL")]
        events: Option<String>,
    },
    /// Run the gateway against services that run elsewhere; it reloads
    /// when its files change or on SIGHUP.
    #[command(after_help = "Example:\n  WEFT_LISTEN=0.0.0.0:8080 weft serve --config weft.toml")]
    Serve {
        /// The config file.
        #[arg(long, short, default_value = "weft.toml")]
        config: PathBuf,
    },
    /// Print the public schema that clients see, as SDL (directives removed).
    #[command(after_help = "Example:\n  weft compose --config weft.toml > schema.snapshot.graphql")]
    Compose {
        /// The config file.
        #[arg(long, short, default_value = "weft.toml")]
        config: PathBuf,
    },
    /// Measure the demo; print the figures as Markdown tables (without a
    /// suite: `queries`).
    #[command(after_help = "Example:\n  weft bench queries --seconds 5")]
    Bench {
        #[command(subcommand)]
        suite: Option<Suite>,
    },
    /// Validate the schema and config; print every problem, exit 1 if any.
    #[command(after_help = "Example:\n  weft check --config weft.toml --probe")]
    Check {
        /// The config file.
        #[arg(long, short, default_value = "weft.toml")]
        config: PathBuf,
        /// Also ask the running services, once per `groupBy` field, whether
        /// their items have the key it names.
        #[arg(long)]
        probe: bool,
    },
    /// Print the plan of an operation: its fetch steps by level, with the
    /// source and request of each, without calling anything.
    #[command(
        after_help = "Example:\n  weft plan --config weft.toml '{ users { name orders { id } } }'"
    )]
    Plan {
        /// The config file.
        #[arg(long, short, default_value = "weft.toml")]
        config: PathBuf,
        /// The operation to plan, when the document has several.
        #[arg(long)]
        operation: Option<String>,
        /// The GraphQL document.
        query: String,
    },
    /// Draft SDL with weft's directives for a service, from what the
    /// service publishes about itself (an OpenAPI document, .proto files or
    /// gRPC server reflection).
    #[command(after_help = "Examples:\n  \
        weft import openapi schema/openapi/users.yaml > schema/users.graphql\n  \
        weft import grpc --reflect http://127.0.0.1:4002 > catalog.graphql")]
    Import {
        #[command(subcommand)]
        kind: ImportKind,
    },
}

#[derive(Subcommand)]
enum ImportKind {
    /// An OpenAPI 3.0/3.1 document (YAML or JSON) → SDL with `@rest`
    /// directives: GET operations as Query fields, the others as Mutation
    /// fields, and batch forms where the document has them. What cannot be
    /// mapped is a warning on standard error, at its JSON pointer.
    #[command(
        after_help = "Example:\n  weft import openapi schema/openapi/orders.yaml --source orders --extend Query > schema/orders.graphql"
    )]
    Openapi {
        /// The OpenAPI document.
        file: PathBuf,
        /// The REST source the directives name (default: the file's name
        /// without its extension).
        #[arg(long)]
        source: Option<String>,
        /// A root type another schema file defines (`Query`, `Mutation`):
        /// its fields are written as `extend type`. May be repeated.
        #[arg(long, value_parser = ["Query", "Mutation"])]
        extend: Vec<String>,
    },
    /// Draft SDL with @grpc directives for every unary and server-streaming
    /// method of gRPC services, from their .proto files or by server
    /// reflection; the [sources.NAME] table for weft.toml comes first, as a
    /// comment.
    #[command(after_help = "Examples:\n  \
        weft import grpc --proto proto/catalog/v1/catalog.proto --include proto > catalog.graphql\n  \
        weft import grpc --reflect http://127.0.0.1:4002 --config-snippet >> weft.toml")]
    Grpc(GrpcImport),
}

/// Where `weft import grpc` reads the services from, and how it names them.
#[derive(clap::Args)]
struct GrpcImport {
    /// A .proto file that defines the services (repeatable).
    #[arg(
        long = "proto",
        value_name = "FILE",
        required_unless_present = "reflect",
        conflicts_with = "reflect"
    )]
    protos: Vec<PathBuf>,
    /// A directory imports are resolved against (repeatable; default: the
    /// first directory of the first proto, as in weft.toml).
    #[arg(long, value_name = "DIR", conflicts_with = "reflect")]
    include: Vec<PathBuf>,
    /// Ask the running service at this address for its descriptors, over
    /// gRPC server reflection.
    #[arg(long, value_name = "URL")]
    reflect: Option<String>,
    /// The source name in the directives and the config (default: the
    /// first package segment, e.g. `catalog` for `catalog.v1`).
    #[arg(long)]
    source: Option<String>,
    /// The service's address in the config (default: the --reflect URL, or
    /// `http://127.0.0.1:50051`).
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// Print only the [sources.NAME] table for weft.toml.
    #[arg(long)]
    config_snippet: bool,
    /// How long reflection may take, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    timeout_ms: u64,
}

/// How a suite of separate processes drives the gateway.
#[derive(clap::Args, Debug, Clone)]
struct Load {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds to drive each query.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Pin the gateway to CPU 0 (with `taskset`, when present).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pin: bool,
}

impl Load {
    /// The bench options of this load, measuring `gateway` (this binary
    /// when none).
    fn options(&self, gateway: Option<PathBuf>) -> weft::bench::queries::Options {
        weft::bench::queries::Options {
            gateway,
            concurrency: self.concurrency.max(1),
            duration: std::time::Duration::from_secs_f64(self.seconds.max(0.1)),
            pin: self.pin,
        }
    }
}

#[derive(Subcommand)]
enum Suite {
    /// Gateway CPU per request next to the services' CPU per request, with
    /// the services and the gateway as separate processes (build them with
    /// `cargo build --release -p weft -p subgraphs --bins`).
    Queries {
        #[command(flatten)]
        load: Load,
        /// The gateway binary to measure instead of this one (an earlier
        /// build, to compare with).
        #[arg(long)]
        gateway: Option<PathBuf>,
    },
    /// The Guild's federation benchmark query over its four subgraphs
    /// (accounts, products, inventory, reviews), next to the demo's
    /// REST/gRPC 50-users query: requests/s, p50/p95/p99, CPU per request
    /// and peak RSS (processes as for `queries`).
    Federation {
        #[command(flatten)]
        load: Load,
    },
    /// Answers while the catalog service is killed and restarted: full,
    /// partial and failed answers per phase, and the time to the first full
    /// answer after the restart (processes as for `queries`).
    Outage {
        /// Requests in flight at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Seconds of the whole run; the outage is its middle third.
        #[arg(long, default_value_t = 60.0)]
        seconds: f64,
    },
    /// The gateway's resident memory per WebSocket subscriber (processes as
    /// for `queries`).
    Subscribers {
        /// Subscribers to open.
        #[arg(long, default_value_t = 1000)]
        count: usize,
    },
    /// Batching on and off: backend calls per query, requests/s at a fixed
    /// concurrency, p50/p99 latency.
    Batching {
        /// Requests in flight at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds to drive each query in each mode.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// Subscription fan-out: events delivered per second and p50/p99
    /// publish-to-client latency for many WebSocket subscribers, on the
    /// in-memory bus, on NATS and (with `--redis`) on Redis Streams.
    Fanout {
        /// Subscriber counts, one row each.
        #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
        subscribers: Vec<usize>,
        /// Events published per row.
        #[arg(long, default_value_t = 200)]
        events: usize,
        /// Events published per second.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// The NATS server to measure the NATS bus against; empty to skip.
        #[arg(long, default_value = "nats://127.0.0.1:4222")]
        nats: String,
        /// A Redis server to measure the Redis Streams bus against too
        /// (e.g. `redis://127.0.0.1:6379`).
        #[arg(long)]
        redis: Option<String>,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let command = Cli::parse().command;
    if !matches!(command, Command::Demo { .. } | Command::Serve { .. }) {
        let _ = init_logging(LogFormat::Text, None);
    }
    let result = match command {
        Command::Demo { port, events } => demo(port, events.as_deref()).await,
        Command::Serve { config } => serve(&config).await,
        Command::Bench { suite } => bench(suite).await,
        Command::Compose { config } => build(&config)
            .await
            .map(|gateway| print!("{}", gateway.sdl())),
        Command::Check { config, probe } => check(&config, probe).await,
        Command::Plan {
            config,
            operation,
            query,
        } => plan(&config, &query, operation.as_deref()).await,
        Command::Import { kind } => import(kind).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn check(path: &Path, probe: bool) -> Result<(), String> {
    let gateway = build(path).await?;
    if probe {
        let problems = weft::probe::run(&gateway).await;
        if !problems.is_empty() {
            return Err(report(&problems));
        }
    }
    println!("{}: ok", path.display());
    Ok(())
}

/// The gateway `path` configures (its reflection sources fetched), on the
/// in-process bus.
async fn build(path: &Path) -> Result<Gateway, String> {
    let mut config = Config::load(path).map_err(|problems| report(&problems))?;
    weft::sources::reflection::fetch_all(&mut config)
        .await
        .map_err(|problems| report(&problems))?;
    Gateway::from_config(&config).map_err(|problems| report(&problems))
}

async fn plan(path: &Path, query: &str, operation: Option<&str>) -> Result<(), String> {
    let gateway = build(path).await?;
    let plan = gateway
        .served()
        .pipeline
        .plan(query, operation)
        .map_err(|errors| {
            errors
                .iter()
                .map(|error| format!("error: {} ({})", error.message, error.code()))
                .collect::<Vec<_>>()
                .join("\n")
        })?;
    print!("{plan}");
    Ok(())
}

async fn import(kind: ImportKind) -> Result<(), String> {
    match kind {
        ImportKind::Openapi {
            file,
            source,
            extend,
        } => {
            let name = file.display().to_string();
            let doc = weft::openapi::Document::load(&file, &name)
                .map_err(|problem| report(&problem.into()))?;
            let options = weft::import::openapi::Options {
                source: source.unwrap_or_else(|| source_name(&file)),
                extend,
            };
            let imported = weft::import::openapi::import(&doc, &options);
            for warning in &imported.warnings {
                eprintln!("warning: {name}: {}: {}", warning.pointer, warning.message);
            }
            print!("{}", imported.sdl);
            Ok(())
        }
        ImportKind::Grpc(options) => import_grpc(options).await.map(|text| print!("{text}")),
    }
}

/// A source name from a file name: `schema/openapi/users.yaml` → `users`.
fn source_name(file: &Path) -> String {
    file.file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .filter(|stem| !stem.is_empty())
        .unwrap_or_else(|| "api".to_owned())
}

/// The draft (or only the config snippet) `weft import grpc` prints.
async fn import_grpc(options: GrpcImport) -> Result<String, String> {
    use weft::import::grpc::{self, Target};

    let (pool, origin) = import_descriptors(&options).await?;
    let source = match options.source {
        Some(source) => source,
        None => grpc::default_source_name(&grpc::services(&pool))
            .ok_or("the descriptors define no service to import")?,
    };
    let endpoint = options
        .endpoint
        .or(options.reflect)
        .unwrap_or_else(|| "http://127.0.0.1:50051".to_owned());
    let target = Target {
        source,
        endpoint,
        origin,
    };
    if options.config_snippet {
        return Ok(grpc::config_snippet(&target));
    }
    grpc::document(&pool, &target)
}

/// The descriptors `weft import grpc` drafts from: fetched by reflection,
/// or compiled from the proto files (comments kept).
async fn import_descriptors(
    options: &GrpcImport,
) -> Result<(prost_reflect::DescriptorPool, weft::import::grpc::Origin), String> {
    use weft::import::grpc::Origin;

    if let Some(url) = &options.reflect {
        let timeout = std::time::Duration::from_millis(options.timeout_ms.max(1));
        let pool = weft::sources::reflection::fetch(url, timeout).await?;
        return Ok((pool, Origin::Reflection));
    }
    let include = import_include(&options.protos, &options.include);
    let pool = weft::sources::grpc::load_protos(&options.protos, &include, true)?;
    let shown = |paths: &[PathBuf]| paths.iter().map(|p| p.display().to_string()).collect();
    let origin = Origin::Protos {
        protos: shown(&options.protos),
        include: shown(&options.include),
    };
    Ok((pool, origin))
}

/// The include directories of `weft import grpc --proto`: as given, or the
/// first directory of the first proto (its own directory when that is all
/// it has), as weft.toml's default.
fn import_include(protos: &[PathBuf], include: &[PathBuf]) -> Vec<PathBuf> {
    if !include.is_empty() {
        return include.to_vec();
    }
    let first = protos.first().map_or(Path::new("."), PathBuf::as_path);
    match first.components().next() {
        Some(std::path::Component::Normal(root)) if first.components().count() > 1 => {
            vec![PathBuf::from(root)]
        }
        _ => vec![
            first
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        ],
    }
}

fn report(problems: &Diagnostics) -> String {
    let count = problems.0.len();
    format!(
        "{problems}\n{count} problem{} found",
        if count == 1 { "" } else { "s" }
    )
}

async fn bench(suite: Option<Suite>) -> Result<(), String> {
    let suite = suite.unwrap_or(Suite::Queries {
        load: Load {
            concurrency: 16,
            seconds: 5.0,
            pin: true,
        },
        gateway: None,
    });
    match suite {
        Suite::Queries { load, gateway } => {
            let options = load.options(gateway);
            let (rows, pinned) = weft::bench::queries::run(&options).await?;
            print!("{}", weft::bench::queries::table(&rows, &options, pinned));
        }
        Suite::Federation { load } => {
            let options = load.options(None);
            let (rows, pinned) = weft::bench::federation::run(&options).await?;
            print!(
                "{}",
                weft::bench::federation::table(&rows, &options, pinned)
            );
        }
        Suite::Outage {
            concurrency,
            seconds,
        } => {
            let options = weft::bench::outage::Options {
                concurrency: concurrency.max(1),
                duration: std::time::Duration::from_secs_f64(seconds.max(3.0)),
            };
            let report = weft::bench::outage::run(options).await?;
            print!("{}", weft::bench::outage::table(&report, options));
        }
        Suite::Subscribers { count } => {
            let report = weft::bench::subscribers::run(count.max(1)).await?;
            print!("{}", weft::bench::subscribers::table(&report));
        }
        Suite::Batching {
            concurrency,
            seconds,
        } => {
            let options = weft::bench::batching::Options {
                concurrency: concurrency.max(1),
                duration: std::time::Duration::from_secs_f64(seconds.max(0.1)),
            };
            let rows = weft::bench::batching::run(options).await?;
            print!("{}", weft::bench::batching::table(&rows, options));
        }
        Suite::Fanout {
            subscribers,
            events,
            rate,
            nats,
            redis,
        } => {
            let options = weft::bench::fanout::Options {
                subscribers,
                events: events.max(1),
                rate,
                nats_url: Some(nats).filter(|url| !url.is_empty()),
                redis_url: redis.filter(|url| !url.is_empty()),
            };
            let rows = weft::bench::fanout::run(&options).await?;
            print!("{}", weft::bench::fanout::table(&rows, &options));
            if let Some(url) = &options.nats_url {
                let subscribers = options.subscribers.iter().copied().max().unwrap_or(1);
                let outcome =
                    weft::bench::resume::run(url, subscribers, options.events, options.rate)
                        .await?;
                print!("{}", weft::bench::resume::table(&outcome));
            }
        }
    }
    Ok(())
}

/// Starts the log on standard error: `WEFT_LOG` filters it (default
/// `weft=info`); text has colours only on a terminal.
/// With `traces`, spans are exported too; what is returned flushes them.
fn init_logging(
    format: LogFormat,
    traces: Option<&TracesConfig>,
) -> Result<Option<Exporting>, String> {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
        .unwrap_or_else(|_| "weft=info".into());
    let lines = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let lines = match format {
        LogFormat::Json => lines
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .boxed(),
        LogFormat::Text => lines
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .boxed(),
    };
    let (spans, exporting) = match traces {
        Some(traces) => {
            let (spans, exporting) = weft::traces::layer(traces)?;
            (Some(spans), Some(exporting))
        }
        None => (None, None),
    };
    // Log lines carry events only: recording every request's and call's
    // span fields for them cost about a tenth of a small query's CPU. The
    // spans go to the trace exporter, when there is one.
    let lines = lines.with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
        metadata.is_event()
    }));
    tracing_subscriber::registry()
        .with(filter)
        .with(lines)
        .with(spans)
        .init();
    Ok(exporting)
}

async fn serve(path: &Path) -> Result<(), String> {
    let config = Config::load(path).map_err(|problems| report(&problems))?;
    let exporting = init_logging(config.log.format, config.traces.as_ref())?;
    let listener = listen(config.server.listen).await?;
    let gateway = Gateway::connect(&config)
        .await
        .map_err(|problems| report(&problems))?;
    if config.events.kind == BusKind::InMemory {
        warn_of_unpublished_topics(&gateway);
    }
    if let Some(jetstream) = &config.events.jetstream {
        warn_of_topics_outside_the_stream(&gateway, jetstream);
    }
    let gateway = Arc::new(gateway);
    tokio::spawn(weft::server::reload::watch(gateway.clone(), config.clone()));
    let result = run(gateway, listener, &config, None).await;
    if let Some(exporting) = exporting {
        tokio::task::spawn_blocking(|| exporting.shutdown())
            .await
            .map_err(|error| error.to_string())?;
    }
    result
}

async fn demo(port: u16, events: Option<&str>) -> Result<(), String> {
    let requested = match std::env::var("WEFT_LISTEN") {
        Ok(text) => text.parse().map_err(|_| {
            format!("WEFT_LISTEN: `{text}` is not an address such as 127.0.0.1:4000")
        })?,
        Err(_) => std::net::SocketAddr::from(([127, 0, 0, 1], port)),
    };
    let listener = listen(requested).await?;
    let port = listener
        .local_addr()
        .map_err(|error| error.to_string())?
        .port();
    let started = match events {
        Some(url) => Demo::start_on_broker(port, url).await,
        None => Demo::start(port),
    };
    let mut demo = started.map_err(|problems| report(&problems))?;
    demo.config
        .apply_env(|name| std::env::var(name).ok())
        .map_err(|problems| report(&problems))?;
    init_logging(demo.config.log.format, None)?;
    for service in &demo.services {
        eprintln!(
            "example service {:<8} {}",
            service.service().name(),
            service.url()
        );
    }
    eprintln!("demo files in {}", demo.dir.display());
    if let Some(url) = events {
        eprintln!("events on {url}");
    }
    let gateway =
        Gateway::new(&demo.config, demo.bus.clone()).map_err(|problems| report(&problems))?;
    let result = run(
        Arc::new(gateway),
        listener,
        &demo.config,
        Some(EXAMPLE_QUERY),
    )
    .await;
    drop(demo);
    result
}

/// Takes the address to listen on before anything else starts, so that a
/// port in use is the first and only thing reported.
async fn listen(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| format!("cannot listen on {addr}: {error}"))
}

async fn run(
    gateway: Arc<Gateway>,
    listener: tokio::net::TcpListener,
    config: &Config,
    example: Option<&str>,
) -> Result<(), String> {
    let stop = weft::server::shutdown_signal();
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    println!("weft is serving GraphQL at http://{addr}/graphql");
    print_banner(addr, config).await;
    if let Some(query) = example {
        let body = serde_json::json!({ "query": query }).to_string();
        println!(
            "try:\n  curl -s http://{addr}/graphql -H 'content-type: application/json' -d '{body}'"
        );
    }
    weft::server::serve(listener, gateway, stop)
        .await
        .map_err(|error| format!("server error: {error}"))
}

/// Where to look next, and whether each source answers (a TCP connection
/// within half a second; a source that does not is reported, not refused).
async fn print_banner(addr: std::net::SocketAddr, config: &Config) {
    println!("  GraphiQL  http://{addr}/graphql (in a browser)");
    println!("  health    http://{addr}/health");
    println!("  metrics   http://{addr}/metrics");
    for (name, source) in &config.sources {
        let (kind, target) = match &source.kind {
            SourceKind::Rest(rest) => ("rest", rest.url.to_string()),
            SourceKind::Grpc(grpc) => ("grpc", grpc.endpoint.clone()),
            SourceKind::Graphql(graphql) => ("graphql", graphql.url.to_string()),
        };
        let state = if answers(&target).await {
            "up"
        } else {
            "NOT REACHABLE"
        };
        println!("  source    {name} ({kind}) {target} {state}");
    }
}

async fn answers(target: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(target) else {
        return false;
    };
    let (Some(host), Some(port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let connect = tokio::net::TcpStream::connect((host, port));
    matches!(
        tokio::time::timeout(std::time::Duration::from_millis(500), connect).await,
        Ok(Ok(_))
    )
}

/// Events of a topic outside `[events] jetstream.subjects` are not stored:
/// their subscriptions cannot resume.
fn warn_of_topics_outside_the_stream(gateway: &Gateway, jetstream: &JetStreamConfig) {
    for (field, topic) in gateway.served().pipeline.model().bus_topics() {
        let pattern = topic.with_stand_in("*");
        if !weft::events::jetstream::stores(&jetstream.subjects, &pattern) {
            tracing::warn!(
                "`{field}` uses topic `{pattern}`, which is outside the subjects of the \
                 JetStream stream `{}` ({}): its events are not stored, travel over core NATS, \
                 and its subscriptions cannot resume",
                jetstream.stream,
                jetstream.subjects.join(", ")
            );
        }
    }
}

/// On the in-process bus only this process publishes: a subscription whose
/// topic no mutation of the schema publishes would wait forever.
fn warn_of_unpublished_topics(gateway: &Gateway) {
    for (field, topic) in gateway.served().pipeline.model().unpublished_topics() {
        tracing::warn!(
            "`{field}` listens on topic `{topic}`, which no @publish of the schema publishes, \
             and with the in-process event bus nothing else can: its subscribers will get no \
             event. Services that publish need a shared bus: [events] kind = \"nats\", \"redis\" or \"rabbitmq\""
        );
    }
}
