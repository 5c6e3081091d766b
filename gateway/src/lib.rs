//! weft: one GraphQL API over REST services, gRPC services and broker events,
//! declared with schema directives instead of resolver code.
//!
//! The data's way through the gateway, one module per stage:
//! [`config`] reads `weft.toml`; [`schema`] turns SDL plus directives into an
//! executable schema, checking every directive against its source at
//! start-up; [`server`] answers HTTP; [`sources`] calls the backends through
//! [`template`]s; [`error`] separates what clients may see from internal
//! detail; [`metrics`] counts it all.

pub mod bench;
pub mod config;
pub mod demo;
pub mod error;
pub mod events;
pub mod metrics;
pub mod schema;
pub mod server;
pub mod sources;
pub mod subscriptions;
pub mod template;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A built gateway: the executable schema and what the HTTP layer needs.
pub struct Gateway {
    /// The executable schema.
    pub schema: async_graphql::dynamic::Schema,
    /// The metrics every source and request records into.
    pub metrics: Arc<metrics::Metrics>,
    /// The event bus subscriptions listen on and mutations publish to.
    pub bus: Arc<dyn events::EventBus>,
    /// Limits of subscription transports.
    pub subscriptions: config::SubscriptionsConfig,
    /// Whether browsers get GraphiQL on `GET /graphql`.
    pub graphiql: bool,
    ready: AtomicBool,
}

impl Gateway {
    /// Builds the gateway from a loaded config with the given event bus:
    /// reads the schema files, opens the sources and checks every directive.
    /// Must run inside a Tokio runtime.
    pub fn new(
        config: &config::Config,
        bus: Arc<dyn events::EventBus>,
    ) -> Result<Self, error::Diagnostics> {
        let metrics = Arc::new(metrics::Metrics::default());
        let schema = schema::compile(config, &metrics, bus.clone())?;
        Ok(Self {
            schema,
            metrics,
            bus,
            subscriptions: config.subscriptions,
            graphiql: config.server.graphiql,
            ready: AtomicBool::new(true),
        })
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
    /// connecting to NATS if it says so.
    pub async fn connect(config: &config::Config) -> Result<Self, error::Diagnostics> {
        let bus = events::open(&config.events)
            .await
            .map_err(|error| error::Diagnostic::file(&config.path, error.to_string()))?;
        Self::new(config, bus)
    }

    /// Executes one GraphQL request with its own call layer (deduplication
    /// and batching). With `record_calls`, the response carries the backend
    /// calls made in `extensions.weft.calls`.
    pub async fn execute(
        &self,
        request: async_graphql::Request,
        record_calls: bool,
    ) -> async_graphql::Response {
        let scope = Arc::new(sources::batching::RequestScope::new(record_calls));
        let (query, operation) = (request.query.clone(), request.operation_name.clone());
        let mut response = self.schema.execute(request.data(scope.clone())).await;
        self.complete(&mut response, &query, operation.as_deref());
        if let Some(calls) = scope.records() {
            let weft = serde_json::json!({ "callCount": calls.len(), "calls": calls });
            if let Ok(value) = async_graphql::Value::from_json(weft) {
                response.extensions.insert("weft".to_owned(), value);
            }
        }
        response
    }

    /// Places the `null`s that failed fields call for (see
    /// [`schema::nulls`]) and gives every error a code; a response without
    /// errors is left as it is.
    pub fn complete(
        &self,
        response: &mut async_graphql::Response,
        query: &str,
        operation: Option<&str>,
    ) {
        if !response.errors.is_empty() {
            schema::nulls::propagate(response, self.schema.registry(), query, operation);
            error::fill_missing_codes(response);
        }
    }

    /// The public schema clients see, as SDL (weft's directives removed).
    pub fn sdl(&self) -> String {
        self.schema.sdl()
    }

    /// Whether the gateway is serving (not shutting down).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Marks the gateway as (not) serving; `/health` reports it.
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }
}
