//! Command line of the service binaries: `--host` and `--port`, start the
//! service, print where it listens, run until Ctrl-C. With `--nats <URL>`,
//! the orders service publishes its order events (JSON, subject
//! `orders.status`) to that NATS server, where gateways with
//! `[events] kind = "nats"` receive them; with `--rabbitmq <URL>`, to the
//! topic exchange `weft.events` of that RabbitMQ broker (routing key
//! `orders.status`), where gateways with `[events] kind = "rabbitmq"` and
//! the default exchange receive them.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use clap::Parser;

use crate::{EventSink, Service, SpawnOptions, spawn};

/// Arguments of a service binary.
#[derive(Debug, Clone, Parser)]
#[command(about = "Runs one weft example service until Ctrl-C.")]
pub struct Args {
    /// Host name or IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on; defaults to the service's own port (users 4001,
    /// catalog 4002, orders 4003).
    #[arg(long)]
    pub port: Option<u16>,
    /// A NATS server (e.g. `nats://127.0.0.1:4222`) to publish order events
    /// to.
    #[arg(long)]
    pub nats: Option<String>,
    /// A RabbitMQ broker (e.g. `amqp://guest:guest@127.0.0.1:5672/%2f`) to
    /// publish order events to, on the topic exchange
    /// [`RABBITMQ_EXCHANGE`].
    #[arg(long, conflicts_with = "nats")]
    pub rabbitmq: Option<String>,
}

/// The exchange `--rabbitmq` publishes to: the gateway's default.
pub const RABBITMQ_EXCHANGE: &str = "weft.events";

impl Args {
    /// The address to listen on for `service`.
    pub fn addr(&self, service: Service) -> std::io::Result<SocketAddr> {
        let port = self.port.unwrap_or(service.default_port());
        (self.host.as_str(), port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other(format!("{} resolves to nothing", self.host)))
    }
}

/// Entry point of a service binary: parses the process arguments, serves
/// until Ctrl-C, and reports failure through the exit code.
pub fn main(service: Service) -> ExitCode {
    let args = Args::parse();
    match run(service, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{service}: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Starts `service` as `args` say, prints its address, and returns after Ctrl-C.
pub fn run(service: Service, args: &Args) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut options = SpawnOptions::default();
    if let Some(url) = &args.nats {
        let client = runtime
            .block_on(async_nats::connect(url.as_str()))
            .map_err(|error| {
                std::io::Error::other(format!("cannot reach NATS at {url}: {error}"))
            })?;
        options.order_events = Some(publish_to_nats(client));
        println!("{service} publishes its events to {url}");
    }
    if let Some(url) = &args.rabbitmq {
        let channel = runtime.block_on(open_rabbitmq(url)).map_err(|error| {
            std::io::Error::other(format!("cannot reach RabbitMQ at {url}: {error}"))
        })?;
        options.order_events = Some(publish_to_rabbitmq(channel));
        println!("{service} publishes its events to {url}, exchange {RABBITMQ_EXCHANGE}");
    }
    let running = spawn(service, args.addr(service)?, options)?;
    println!("{service} listening on {}", running.url());
    runtime.block_on(tokio::signal::ctrl_c())?;
    running.kill();
    Ok(())
}

/// An event sink that publishes each event as JSON on the NATS subject
/// named by its topic.
fn publish_to_nats(client: async_nats::Client) -> EventSink {
    std::sync::Arc::new(move |topic: &str, payload: serde_json::Value| {
        let (client, topic) = (client.clone(), topic.to_owned());
        let Ok(bytes) = serde_json::to_vec(&payload) else {
            return;
        };
        tokio::spawn(async move {
            if let Err(error) = client.publish(topic, bytes.into()).await {
                tracing::warn!("cannot publish an order event: {error}");
            }
        });
    })
}

/// A channel to the broker at `url`, with [`RABBITMQ_EXCHANGE`] declared as
/// the gateway declares it (a durable topic exchange); the channel keeps
/// the connection open.
async fn open_rabbitmq(url: &str) -> lapin::Result<lapin::Channel> {
    let connection =
        lapin::Connection::connect(url, lapin::ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let durable = lapin::options::ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            RABBITMQ_EXCHANGE.into(),
            lapin::ExchangeKind::Topic,
            durable,
            lapin::types::FieldTable::default(),
        )
        .await?;
    Ok(channel)
}

/// An event sink that publishes each event as JSON to
/// [`RABBITMQ_EXCHANGE`], with its topic as routing key.
fn publish_to_rabbitmq(channel: lapin::Channel) -> EventSink {
    std::sync::Arc::new(move |topic: &str, payload: serde_json::Value| {
        let channel = channel.clone();
        let (Ok(routing_key), Ok(bytes)) = (
            lapin::types::ShortString::try_new(topic),
            serde_json::to_vec(&payload),
        ) else {
            tracing::warn!("cannot publish an order event on {topic}");
            return;
        };
        tokio::spawn(async move {
            let properties =
                lapin::BasicProperties::default().with_content_type("application/json".into());
            let published = channel
                .basic_publish(
                    RABBITMQ_EXCHANGE.into(),
                    routing_key,
                    lapin::options::BasicPublishOptions::default(),
                    &bytes,
                    properties,
                )
                .await;
            if let Err(error) = published {
                tracing::warn!("cannot publish an order event: {error}");
            }
        });
    })
}
