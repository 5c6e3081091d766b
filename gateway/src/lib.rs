//! weft: one GraphQL API over REST services, gRPC services and broker events,
//! declared with schema directives instead of resolver code.
//!
//! The data's way through the gateway, one module per stage:
//! [`config`] reads `weft.toml`; [`schema`] turns SDL plus directives into
//! weft's schema model, checking every directive against its source at
//! start-up; [`server`] answers HTTP and hands each request to the
//! [`pipeline`] (parse, validate, normalize, plan, coerce, execute, write);
//! the executor calls the backends through [`sources`] and [`template`]s;
//! [`subscriptions`] run the same pipeline per event of the [`events`] bus;
//! [`error`] separates what clients may see from internal detail;
//! [`metrics`] counts it all. Beside the way, [`import`] drafts a schema
//! from what a service describes (`weft import grpc`).

pub mod auth;
pub mod bench;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod import;
pub mod json;
pub mod metrics;
pub mod openapi;
pub mod pipeline;
pub mod probe;
pub mod process;
pub mod schema;
pub mod server;
pub mod sources;
pub mod subscriptions;
pub mod template;
pub mod traces;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What a reload replaces: everything built from the schema files, the
/// sources and `[auth]`. A request (or a subscription) keeps the version it
/// started with to its end.
pub struct Served {
    /// The request pipeline over the schema model.
    pub pipeline: pipeline::Pipeline,
    /// `[auth]`: verifies callers' tokens.
    auth: Option<Arc<auth::Verifier>>,
}

impl Served {
    /// Builds the schema, sources, pipeline and verifier `config` describes.
    /// Must run inside a Tokio runtime.
    fn build(
        config: &config::Config,
        metrics: &Arc<metrics::Metrics>,
    ) -> Result<Self, error::Diagnostics> {
        let (model, introspection) = schema::compile(config, metrics)?;
        let settings = pipeline::Settings {
            limits: config.limits,
            introspection: config.server.introspection,
            request_timeout: config.server.request_timeout,
        };
        let persisted = pipeline::persisted::Persisted::new(&config.persisted_queries)
            .map_err(|message| error::Diagnostic::file(&config.path, message))?;
        let pipeline =
            pipeline::Pipeline::new(model, introspection, metrics.clone(), settings, persisted)
                .map_err(|message| error::Diagnostic::file(&config.path, message))?;
        let auth = match &config.auth {
            Some(auth) => {
                let verifier = auth::Verifier::new(auth)
                    .map_err(|message| error::Diagnostic::file(&config.path, message))?;
                let verifier = Arc::new(verifier);
                verifier.keep_fresh();
                Some(verifier)
            }
            None => None,
        };
        Ok(Self { pipeline, auth })
    }

    /// The caller of a request with these headers: anonymous without a
    /// token (or without `[auth]`); an error when the token does not verify.
    pub fn identify(&self, headers: &http::HeaderMap) -> Result<auth::Identity, String> {
        match &self.auth {
            Some(auth) => auth.identify(headers),
            None => Ok(auth::Identity::Anonymous),
        }
    }

    /// The caller a WebSocket `connection_init` payload names, when it
    /// carries a token.
    pub fn identify_payload(
        &self,
        payload: &serde_json::Value,
    ) -> Option<Result<auth::Identity, String>> {
        self.auth.as_ref()?.identify_payload(payload)
    }
}

/// A built gateway: the version being served and what the HTTP layer needs.
pub struct Gateway {
    /// The version new requests get; replaced by [`Gateway::reload`].
    served: std::sync::RwLock<Arc<Served>>,
    /// The metrics every source and request records into.
    pub metrics: Arc<metrics::Metrics>,
    /// The event bus subscriptions listen on and mutations publish to.
    pub bus: Arc<dyn events::EventBus>,
    /// Limits of subscription transports.
    pub subscriptions: config::SubscriptionsConfig,
    /// `[server]`: GraphiQL, timeouts, shutdown.
    pub server: config::ServerConfig,
    /// `[log]`: whether requests are logged.
    pub log: config::LogConfig,
    ready: AtomicBool,
    shutdown: tokio::sync::watch::Sender<bool>,
    websocket_slots: Arc<tokio::sync::Semaphore>,
    /// Responses to bus events, shared between subscribers.
    shared_responses: subscriptions::shared::SharedResponses,
}

impl Gateway {
    /// Builds the gateway from a loaded config with the given event bus:
    /// reads the schema files, opens the sources and checks every directive.
    /// A `reflection = true` source must have been fetched first
    /// ([`sources::reflection::fetch_all`]); one that was not is refused.
    /// Must run inside a Tokio runtime.
    pub fn new(
        config: &config::Config,
        bus: Arc<dyn events::EventBus>,
    ) -> Result<Self, error::Diagnostics> {
        let metrics = Arc::new(metrics::Metrics::default());
        let served = Served::build(config, &metrics)?;
        Ok(Self {
            served: std::sync::RwLock::new(Arc::new(served)),
            metrics,
            bus,
            subscriptions: config.subscriptions,
            server: config.server.clone(),
            log: config.log,
            ready: AtomicBool::new(true),
            shutdown: tokio::sync::watch::Sender::new(false),
            websocket_slots: Arc::new(tokio::sync::Semaphore::new(
                config.subscriptions.max_connections,
            )),
            shared_responses: subscriptions::shared::SharedResponses::default(),
        })
    }

    /// The version new requests get.
    pub fn served(&self) -> Arc<Served> {
        match self.served.read() {
            Ok(served) => served.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Builds the schema, sources and `[auth]` of `config` and, when they
    /// are valid, serves them to new requests; requests and subscriptions
    /// already running keep the version they started with. On a problem the
    /// version being served stays. `[server]`, `[events]`, `[subscriptions]`
    /// and `[log]` keep the values they started with.
    pub fn reload(&self, config: &config::Config) -> Result<(), error::Diagnostics> {
        let served = Arc::new(Served::build(config, &self.metrics)?);
        match self.served.write() {
            Ok(mut current) => *current = served,
            Err(poisoned) => *poisoned.into_inner() = served,
        }
        Ok(())
    }

    /// Builds the gateway with an in-process event bus (whatever `[events]`
    /// says); see [`Gateway::connect`] for the configured bus.
    pub fn from_config(config: &config::Config) -> Result<Self, error::Diagnostics> {
        Self::new(
            config,
            Arc::new(events::in_memory::InMemoryBus::new(config.events.buffer)),
        )
    }

    /// Builds the gateway with the event bus `[events]` configures,
    /// connecting to NATS if it says so, after fetching the descriptors of
    /// its `reflection = true` sources ([`sources::reflection::fetch_all`]).
    pub async fn connect(config: &config::Config) -> Result<Self, error::Diagnostics> {
        let mut config = config.clone();
        sources::reflection::fetch_all(&mut config).await?;
        let config = &config;
        let bus = events::open(&config.events)
            .await
            .map_err(|error| error::Diagnostic::file(&config.path, error.to_string()))?;
        let gateway = Self::new(config, bus)?;
        if let Some(auth) = &gateway.served().auth {
            auth.refresh().await.map_err(|message| {
                error::Diagnostic::file(&config.path, format!("`[auth] jwks_url`: {message}"))
            })?;
        }
        Ok(gateway)
    }

    /// Executes one query or mutation; `recording` says whether the
    /// response lists the backend calls made (`extensions.weft.calls`).
    pub async fn execute(
        &self,
        request: &pipeline::GraphqlRequest,
        recording: sources::batching::Recording,
    ) -> pipeline::Response {
        match self.served().pipeline.prepare(request) {
            Ok(prepared) => self.run(&prepared, recording).await,
            Err(errors) => pipeline::Response::refused(errors),
        }
    }

    /// Runs a prepared query or mutation (a subscription is refused: it
    /// needs a streaming transport).
    pub async fn run(
        &self,
        prepared: &pipeline::Prepared,
        recording: sources::batching::Recording,
    ) -> pipeline::Response {
        if prepared.plan.operation.kind == pipeline::normalize::OperationKind::Subscription {
            return pipeline::Response::refused(vec![error::GraphqlError::new(
                "subscriptions run over WebSocket or Server-Sent Events (Accept: text/event-stream)",
                error::codes::BAD_REQUEST,
            )]);
        }
        self.served()
            .pipeline
            .run(prepared, &self.bus, recording)
            .await
    }

    /// The public schema clients see, as SDL (weft's directives removed).
    pub fn sdl(&self) -> String {
        self.served().pipeline.sdl()
    }

    /// A place for one more WebSocket connection, held while it is open;
    /// `None` when `[subscriptions] max_connections` are open.
    pub(crate) fn websocket_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.websocket_slots.clone().try_acquire_owned().ok()
    }

    /// Completes once every WebSocket connection has ended (after
    /// [`Gateway::begin_shutdown`] closed them); no new one opens after.
    pub(crate) async fn websockets_closed(&self) {
        let all = u32::try_from(self.subscriptions.max_connections).unwrap_or(u32::MAX);
        let _ = self.websocket_slots.acquire_many(all).await;
    }

    /// Whether the gateway is serving (not shutting down).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Marks the gateway as (not) serving; `/health` reports it.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Begins shutting down: `/health` reports unready, and every open
    /// subscription ends (WebSocket connections are closed with `1001`,
    /// event streams get their `complete`), so that the server can stop.
    pub fn begin_shutdown(&self) {
        self.set_ready(false);
        self.shutdown.send_replace(true);
    }

    /// Completes once shutdown has begun.
    pub fn shutting_down(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut shutdown = self.shutdown.subscribe();
        async move {
            let _ = shutdown.wait_for(|down| *down).await;
        }
    }
}
