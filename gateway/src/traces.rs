//! OpenTelemetry traces (`[traces]`): spans from `tracing` exported over
//! OTLP/gRPC, and W3C trace context (`traceparent`) taken from clients and
//! passed on to backends.
//!
//! Spans: `graphql.request` per request (a child of the client's
//! `traceparent` when it sends one), `fetch` per backend call of the plan,
//! and `source.call` per try of it; a try's context goes to the backend as
//! `traceparent` (a REST header, gRPC metadata). Without `[traces]` no span
//! is exported and no context is sent (list `traceparent` in a source's
//! `forward_headers` to pass the client's on as it is).

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use crate::config::TracesConfig;

/// The exporting half of tracing: flushes what is left when shut down.
#[derive(Debug)]
pub struct Exporting(SdkTracerProvider);

impl Exporting {
    /// Exports the spans not exported yet and stops.
    pub fn shutdown(self) {
        if let Err(error) = self.0.shutdown() {
            tracing::warn!(%error, "the last spans could not be exported");
        }
    }
}

/// A `tracing` layer that exports spans as `[traces]` says, and what
/// flushes it at exit. Must run inside a Tokio runtime, which sends the
/// spans.
pub fn layer<S>(
    config: &TracesConfig,
) -> Result<(impl tracing_subscriber::Layer<S>, Exporting), String>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(&config.otlp_endpoint)
        .build()
        .map_err(|error| format!("`[traces] otlp_endpoint`: {error}"))?;
    let exporter = OnRuntime {
        inner: exporter,
        runtime: tokio::runtime::Handle::current(),
    };
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("weft");
    Ok((
        tracing_opentelemetry::layer().with_tracer(tracer),
        Exporting(provider),
    ))
}

/// Runs an exporter's sends on the gateway's runtime: the SDK exports
/// from a thread of its own, where gRPC has no reactor.
#[derive(Debug)]
struct OnRuntime<E> {
    inner: E,
    runtime: tokio::runtime::Handle,
}

impl<E: SpanExporter> SpanExporter for OnRuntime<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        if tokio::runtime::Handle::try_current().is_ok() {
            return self.inner.export(batch).await;
        }
        self.runtime.block_on(self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: std::time::Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.inner.set_resource(resource);
    }
}

/// Makes `span` a child of the trace context the client sent in
/// `headers` (`traceparent`, `tracestate`), if any.
pub fn continue_from(span: &tracing::Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

/// Adds the current span's trace context to `headers`, for a backend.
pub fn inject(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeadersMut(headers));
}

struct Headers<'h>(&'h http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeadersMut<'h>(&'h mut http::HeaderMap);

impl Injector for HeadersMut<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::try_from(key),
            http::HeaderValue::try_from(value),
        ) {
            self.0.insert(name, value);
        }
    }
}
