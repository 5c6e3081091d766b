//! Prometheus metrics, served as text on `/metrics`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `weft_source_requests_total` | counter | `source`, `outcome` (`ok`, `unavailable`, `timeout`, `error_status`, `bad_response`, `bad_request`; `circuit_open` for calls the breaker refused without sending) |
//! | `weft_source_request_duration_seconds` | histogram | `source` |
//! | `weft_source_retries_total` | counter | `source` (calls sent again after a transient failure) |
//! | `weft_source_circuit_state` | gauge | `source` (its breaker: 0 closed, 1 open, 2 half-open) |
//! | `weft_graphql_requests_total` | counter | `outcome` (`ok`, `error`) |
//! | `weft_graphql_request_duration_seconds` | histogram | none |
//! | `weft_websocket_connections` | gauge | none |
//! | `weft_subscriptions_active` | gauge | none (operations running over WebSocket or SSE) |
//! | `weft_plan_cache_hits_total` | counter | none (requests whose plan was cached: not parsed or planned again) |
//! | `weft_plan_cache_misses_total` | counter | none (requests parsed, validated and planned) |
//! | `weft_build_info` | gauge | `version` (always 1) |
//! | `process_cpu_seconds_total` | counter | none |
//! | `process_resident_memory_bytes` | gauge | none |
//! | `process_open_fds` | gauge | none |
//! | `process_start_time_seconds` | gauge | none |
//!
//! Both text formats are spoken: OpenMetrics to a client whose `Accept`
//! asks for `application/openmetrics-text`, the Prometheus text format
//! (0.0.4) to every other (`promtool check metrics` reads it clean).
//!
//! Sources record each backend call themselves (every attempt of a retried
//! call counts), and their breakers set their state; the HTTP layer records
//! each GraphQL request.

use std::time::Duration;

use crate::process::{self, Pid};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    source: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabel {
    version: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.000_5, 2.0, 16))
}

/// The gateway's metrics registry; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    source_requests: Family<CallLabels, Counter>,
    source_latency: Family<SourceLabel, Histogram, fn() -> Histogram>,
    source_retries: Family<SourceLabel, Counter>,
    circuit_state: Family<SourceLabel, Gauge>,
    graphql_requests: Family<OutcomeLabel, Counter>,
    graphql_latency: Histogram,
    websocket_connections: Gauge,
    subscriptions_active: Gauge,
    plan_cache_hits: Counter,
    plan_cache_misses: Counter,
}

/// Counts one running subscription until dropped.
#[derive(Debug)]
pub struct ActiveSubscription(Gauge);

impl Drop for ActiveSubscription {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let source_requests = Family::<CallLabels, Counter>::default();
        let source_latency =
            Family::<SourceLabel, Histogram, fn() -> Histogram>::new_with_constructor(
                latency_histogram as fn() -> Histogram,
            );
        let graphql_requests = Family::<OutcomeLabel, Counter>::default();
        let graphql_latency = latency_histogram();
        let source_retries = Family::<SourceLabel, Counter>::default();
        let circuit_state = Family::<SourceLabel, Gauge>::default();
        registry.register(
            "weft_source_requests",
            "Calls made to each backend source",
            source_requests.clone(),
        );
        registry.register(
            "weft_source_request_duration_seconds",
            "Latency of backend calls",
            source_latency.clone(),
        );
        registry.register(
            "weft_source_retries",
            "Backend calls sent again after a transient failure",
            source_retries.clone(),
        );
        registry.register(
            "weft_source_circuit_state",
            "State of each source's circuit breaker: 0 closed, 1 open, 2 half-open",
            circuit_state.clone(),
        );
        registry.register(
            "weft_graphql_requests",
            "GraphQL requests served",
            graphql_requests.clone(),
        );
        registry.register(
            "weft_graphql_request_duration_seconds",
            "Latency of GraphQL requests",
            graphql_latency.clone(),
        );
        let websocket_connections = Gauge::default();
        let subscriptions_active = Gauge::default();
        registry.register(
            "weft_websocket_connections",
            "Open GraphQL WebSocket connections",
            websocket_connections.clone(),
        );
        registry.register(
            "weft_subscriptions_active",
            "Operations running over WebSocket or SSE",
            subscriptions_active.clone(),
        );
        let plan_cache_hits = Counter::default();
        let plan_cache_misses = Counter::default();
        registry.register(
            "weft_plan_cache_hits",
            "Requests whose plan was cached (not parsed or planned again)",
            plan_cache_hits.clone(),
        );
        registry.register(
            "weft_plan_cache_misses",
            "Requests parsed, validated and planned",
            plan_cache_misses.clone(),
        );
        let build_info = Family::<VersionLabel, Gauge>::default();
        build_info
            .get_or_create(&VersionLabel {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register(
            "weft_build_info",
            "The weft version serving, as a label",
            build_info,
        );
        Self {
            registry,
            source_requests,
            source_latency,
            source_retries,
            circuit_state,
            graphql_requests,
            graphql_latency,
            websocket_connections,
            subscriptions_active,
            plan_cache_hits,
            plan_cache_misses,
        }
    }
}

impl Metrics {
    /// Records one backend call of `source` that ended with `outcome`.
    pub fn record_source_call(&self, source: &str, outcome: &'static str, elapsed: Duration) {
        self.source_requests
            .get_or_create(&CallLabels {
                source: source.to_owned(),
                outcome,
            })
            .inc();
        self.source_latency
            .get_or_create(&SourceLabel {
                source: source.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Records one call of `source` that its open breaker refused: counted
    /// with outcome `circuit_open`, with no latency since nothing was sent.
    pub fn record_refused_call(&self, source: &str) {
        self.source_requests
            .get_or_create(&CallLabels {
                source: source.to_owned(),
                outcome: "circuit_open",
            })
            .inc();
    }

    /// Counts one retry of a call to `source`.
    pub fn record_retry(&self, source: &str) {
        self.source_retries
            .get_or_create(&SourceLabel {
                source: source.to_owned(),
            })
            .inc();
    }

    /// The gauge of `source`'s breaker state, for the breaker to set on each
    /// change (0 closed, 1 open, 2 half-open).
    pub fn circuit_state(&self, source: &str) -> Gauge {
        self.circuit_state
            .get_or_create(&SourceLabel {
                source: source.to_owned(),
            })
            .clone()
    }

    /// Records one GraphQL request; `ok` is false when it returned errors.
    pub fn record_graphql_request(&self, ok: bool, elapsed: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.graphql_requests
            .get_or_create(&OutcomeLabel { outcome })
            .inc();
        self.graphql_latency.observe(elapsed.as_secs_f64());
    }

    /// Counts a request whose plan was (`hit`) or was not in the cache.
    pub fn plan_cache(&self, hit: bool) {
        if hit {
            self.plan_cache_hits.inc();
        } else {
            self.plan_cache_misses.inc();
        }
    }

    /// Adds `delta` to the open WebSocket connections.
    pub fn websocket_connections(&self, delta: i64) {
        self.websocket_connections.inc_by(delta);
    }

    /// Counts a subscription as running until the returned guard is dropped.
    pub fn subscription_started(&self) -> ActiveSubscription {
        self.subscriptions_active.inc();
        ActiveSubscription(self.subscriptions_active.clone())
    }

    /// Operations running over WebSocket or SSE now.
    pub fn subscriptions_active(&self) -> i64 {
        self.subscriptions_active.get()
    }

    /// Open WebSocket connections now.
    pub fn open_websockets(&self) -> i64 {
        self.websocket_connections.get()
    }

    /// The metrics, the process's included, as text in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        if let Some(body) = text.strip_suffix("# EOF\n") {
            text.truncate(body.len());
        }
        write_process_metrics(&mut text);
        match format {
            Format::OpenMetrics => {
                text.push_str("# EOF\n");
                text
            }
            Format::Prometheus => prometheus_text(&text),
        }
    }
}

/// The text formats of `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0.
    OpenMetrics,
    /// The Prometheus text exposition format 0.0.4.
    Prometheus,
}

impl Format {
    /// The format a client's `Accept` header asks for.
    pub fn accepted(accept: Option<&str>) -> Self {
        if accept.is_some_and(|accept| accept.contains("application/openmetrics-text")) {
            Self::OpenMetrics
        } else {
            Self::Prometheus
        }
    }

    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Self::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Appends the process's own figures, in OpenMetrics form (a counter's
/// family name without `_total`).
fn write_process_metrics(text: &mut String) {
    use std::fmt::Write as _;
    let own = Pid::Own;
    #[allow(clippy::cast_precision_loss)]
    let figures = [
        (
            "process_cpu_seconds",
            "counter",
            "Total user and system CPU time spent in seconds",
            process::cpu_ticks(own).map(|ticks| ticks as f64 / process::TICKS_PER_SECOND),
        ),
        (
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory size in bytes",
            process::rss_kib(own).map(|kib| (kib * 1024) as f64),
        ),
        (
            "process_open_fds",
            "gauge",
            "Number of open file descriptors",
            process::open_fds(own).map(|fds| fds as f64),
        ),
        (
            "process_start_time_seconds",
            "gauge",
            "Start time of the process since the Unix epoch in seconds",
            process::start_time_seconds(own),
        ),
    ];
    for (name, kind, help, value) in figures {
        let Some(value) = value else { continue };
        let sample = if kind == "counter" {
            format!("{name}_total")
        } else {
            name.to_owned()
        };
        let _ = write!(
            text,
            "# HELP {name} {help}.\n# TYPE {name} {kind}\n{sample} {value}\n"
        );
    }
}

/// OpenMetrics text (without `# EOF`) as Prometheus text: a counter's
/// `HELP` and `TYPE` name its samples' `_total` name, `UNIT` lines go.
fn prometheus_text(open_metrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut text = String::with_capacity(open_metrics.len() + 256);
    for line in open_metrics.lines() {
        if line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        text.push_str(renamed.as_deref().unwrap_or(line));
        text.push('\n');
    }
    text
}
