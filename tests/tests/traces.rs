//! `[traces]`: `weft serve` (a separate process) exports its spans over
//! OTLP/gRPC to a collector served here; the span tree continues the
//! client's W3C `traceparent`, and each backend call carries its own span's
//! context to the backend.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use serde_json::json;
use subgraphs::users;
use weft_tests::process::WeftProcess;
use weft_tests::{GatewayConfig, Services, TestDir};

/// An OTLP trace collector that keeps every span it receives.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|resource| resource.scope_spans)
            .flat_map(|scope| scope.spans);
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(spans);
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

impl Collector {
    async fn start(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let service = TraceServiceServer::new(self.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        url
    }

    fn spans(&self) -> Vec<Span> {
        self.spans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN: &str = "b7ad6b7169203331";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut text, byte| {
        let _ = write!(text, "{byte:02x}");
        text
    })
}

fn named<'s>(spans: &'s [Span], name: &str) -> Vec<&'s Span> {
    spans.iter().filter(|span| span.name == name).collect()
}

#[tokio::test]
async fn spans_continue_the_clients_trace_and_reach_the_backends() {
    let collector = Collector::default();
    let endpoint = collector.start().await;
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .extra(&format!(
            "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_drain_ms = 0\n\n[traces]\notlp_endpoint = \"{endpoint}\"\n"
        ))
        .write(&dir);
    let mut weft = WeftProcess::start(&["serve", "--config", config.to_str().expect("UTF-8")], &[]);

    let response = reqwest::Client::new()
        .post(format!("{}/graphql", weft.url))
        .header("traceparent", format!("00-{TRACE_ID}-{CLIENT_SPAN}-01"))
        .json(&json!({"query": r#"{ user(id: "1") { name orders { id } } }"#}))
        .send()
        .await
        .expect("weft answers");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body.get("errors"), None, "{body}");
    let seen = services.users.calls().last_headers(users::ROUTE_GET);
    let sent = seen.get("traceparent").cloned().unwrap_or_default();
    assert!(sent.starts_with(&format!("00-{TRACE_ID}-")), "{seen:?}");

    weft.signal("TERM");
    assert!(
        weft.exited_within(Duration::from_secs(15)).await,
        "weft exits"
    );
    let spans = collector.spans();
    assert!(
        spans.iter().all(|span| hex(&span.trace_id) == TRACE_ID),
        "every span is in the client's trace"
    );
    let [request] = named(&spans, "graphql.request")[..] else {
        panic!("one request span: {spans:#?}")
    };
    assert_eq!(hex(&request.parent_span_id), CLIENT_SPAN);
    let fetches = named(&spans, "fetch");
    assert_eq!(fetches.len(), 2, "a fetch per level: {fetches:#?}");
    assert!(
        fetches
            .iter()
            .all(|fetch| fetch.parent_span_id == request.span_id)
    );
    let calls = named(&spans, "source.call");
    assert_eq!(calls.len(), 2, "{calls:#?}");
    for call in &calls {
        assert!(
            fetches
                .iter()
                .any(|fetch| fetch.span_id == call.parent_span_id),
            "each backend call is inside its fetch"
        );
    }
    let sent_span = sent.split('-').nth(2).unwrap_or_default();
    assert!(
        calls.iter().any(|call| hex(&call.span_id) == sent_span),
        "the users service got its call's span: {sent}"
    );
}
