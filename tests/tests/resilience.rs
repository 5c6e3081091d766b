//! Retries and circuit breakers, end to end: a stub backend that fails on
//! purpose and counts every call it receives, a gateway over it, and what
//! the client and `/metrics` see. Only idempotent calls are retried (REST
//! `GET`s, listed gRPC methods), only after transient failures; an open
//! breaker answers `SOURCE_UNAVAILABLE` without calling the backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use weft_tests::{
    GatewayConfig, Services, StubBackend, TestDir, TestGateway, WAIT_TIMEOUT, error_codes, line_of,
};

const SCHEMA: &str = r#"
type Query {
  thing: Thing @rest(source: "stub", get: "/thing")
}

type Mutation {
  makeThing(label: String!): Thing
    @rest(source: "stub", post: "/things", body: "{ label: $args.label }")
  "A mutation whose backend call happens to be a GET."
  touchThing: Thing @rest(source: "stub", get: "/thing")
}

type Thing {
  id: ID!
  label: String
}
"#;

/// A backend that fails its next `failures` calls with `status`, and every
/// call while `down`; it counts the calls it receives.
struct Flaky {
    status: StatusCode,
    failures: AtomicUsize,
    down: AtomicBool,
    calls: AtomicUsize,
}

impl Flaky {
    fn new(status: StatusCode, failures: usize) -> Arc<Self> {
        Arc::new(Self {
            status,
            failures: AtomicUsize::new(failures),
            down: AtomicBool::new(false),
            calls: AtomicUsize::new(0),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn fails_now(&self) -> bool {
        let scripted = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
        scripted || self.down.load(Ordering::SeqCst)
    }
}

async fn answer(State(flaky): State<Arc<Flaky>>) -> Response {
    flaky.calls.fetch_add(1, Ordering::SeqCst);
    if flaky.fails_now() {
        return (flaky.status, "failing on purpose").into_response();
    }
    axum::Json(json!({ "id": "1", "label": "one" })).into_response()
}

/// Serves `flaky` on `GET /thing` and `POST /things`.
async fn serve(flaky: &Arc<Flaky>) -> StubBackend {
    let router = Router::new()
        .route("/thing", get(answer))
        .route("/things", post(answer))
        .with_state(flaky.clone());
    StubBackend::start(router).await
}

/// A gateway over the stub as source `stub`, with these extra lines in its
/// table (and `extra` TOML after it).
async fn gateway(stub: &StubBackend, options: &[&str], extra: &str) -> (TestDir, TestGateway) {
    let mut config = GatewayConfig::new(SCHEMA).rest_source("stub", &stub.url, 1000);
    for option in options {
        config = config.source_option("stub", option);
    }
    if !extra.is_empty() {
        config = config.extra(extra);
    }
    let dir = TestDir::new();
    let config = config
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the schema does not build:\n{problems}"));
    (dir, gateway)
}

const THING: &str = "{ thing { id label } }";
const MAKE_THING: &str = r#"mutation { makeThing(label: "two") { id } }"#;

#[tokio::test]
async fn a_get_that_fails_twice_with_503_is_answered_after_two_retries() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 2);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["retries = 2", "retry_backoff_ms = 1"], "").await;

    let body = gateway.query(THING).await;

    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["thing"], json!({ "id": "1", "label": "one" }));
    assert_eq!(
        flaky.calls(),
        3,
        "two failed attempts and one that answered"
    );
    let metrics = gateway.metrics().await;
    for line in [
        r#"weft_source_retries_total{source="stub"} 2"#,
        r#"weft_source_requests_total{source="stub",outcome="error_status"} 2"#,
        r#"weft_source_requests_total{source="stub",outcome="ok"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

#[tokio::test]
async fn when_the_retries_run_out_the_last_failure_is_the_answer() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 10);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["retries = 1", "retry_backoff_ms = 1"], "").await;

    let body = gateway.query(THING).await;

    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["status"], 503);
    assert_eq!(body["errors"][0]["path"], json!(["thing"]));
    assert_eq!(flaky.calls(), 2, "the call and one retry");
}

#[tokio::test]
async fn without_retries_a_get_is_sent_once() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 1);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &[], "").await;

    let body = gateway.query(THING).await;

    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    assert_eq!(flaky.calls(), 1);
}

#[tokio::test]
async fn a_4xx_is_not_retried() {
    let flaky = Flaky::new(StatusCode::BAD_REQUEST, 1);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["retries = 3", "retry_backoff_ms = 1"], "").await;

    let body = gateway.query(THING).await;

    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["status"], 400);
    assert_eq!(flaky.calls(), 1, "a 400 is final");
    let metrics = gateway.metrics().await;
    assert!(!metrics.contains("weft_source_retries_total{"), "{metrics}");
}

/// The same source retries its `GET`s (shown at the end), but a mutation's
/// `POST` is sent once whatever it answers.
#[tokio::test]
async fn a_mutations_post_is_never_retried() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 1);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["retries = 3", "retry_backoff_ms = 1"], "").await;

    let body = gateway.query(MAKE_THING).await;

    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    assert_eq!(body["errors"][0]["extensions"]["status"], 503);
    assert_eq!(body["errors"][0]["path"], json!(["makeThing"]));
    assert_eq!(flaky.calls(), 1, "the POST was sent once");
    let metrics = gateway.metrics().await;
    assert!(!metrics.contains("weft_source_retries_total{"), "{metrics}");

    flaky.failures.store(1, Ordering::SeqCst);
    let body = gateway.query(THING).await;
    assert_eq!(body.get("errors"), None, "the GET is retried: {body}");
    assert_eq!(flaky.calls(), 3);
}

/// A mutation's call is not retried even when it is a `GET`.
#[tokio::test]
async fn a_mutations_get_is_never_retried() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 1);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["retries = 3", "retry_backoff_ms = 1"], "").await;

    let body = gateway.query("mutation { touchThing { id } }").await;

    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["touchThing"]));
    assert_eq!(flaky.calls(), 1, "the mutation's GET was sent once");
}

/// How long the breaker of [`BREAKER`] stays open; long enough for the
/// refused requests to be made before it half-opens.
const OPEN_MS: u64 = 2000;

/// Opens after 4 calls of which at least half failed.
fn breaker() -> String {
    format!(
        "[sources.stub.breaker]\nerror_rate = 0.5\nwindow_ms = 60000\nmin_calls = 4\nopen_ms = {OPEN_MS}\n"
    )
}

/// Queries `thing` until it answers with data; every answer before must be
/// the open breaker's. Bounded by [`WAIT_TIMEOUT`].
async fn until_answered(gateway: &TestGateway) -> Value {
    let poll = async {
        loop {
            let body = gateway.query(THING).await;
            if body.get("errors").is_none() {
                return body;
            }
            assert_eq!(error_codes(&body), ["SOURCE_UNAVAILABLE"], "{body}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(WAIT_TIMEOUT + Duration::from_millis(OPEN_MS), poll)
        .await
        .expect("the breaker closes again once the backend is healthy")
}

#[tokio::test]
async fn the_breaker_opens_refuses_without_calling_and_a_probe_closes_it() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 0);
    flaky.set_down(true);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &[], &breaker()).await;
    let closed = r#"weft_source_circuit_state{source="stub"} 0"#;
    let metrics = gateway.metrics().await;
    assert!(metrics.contains(closed), "{metrics}");

    for _ in 0..4 {
        let body = gateway.query(THING).await;
        assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    }
    assert_eq!(flaky.calls(), 4);

    for _ in 0..2 {
        let body = gateway.query(THING).await;
        assert_eq!(error_codes(&body), ["SOURCE_UNAVAILABLE"], "{body}");
        assert_eq!(body["errors"][0]["path"], json!(["thing"]));
        assert_eq!(body["errors"][0]["message"], "source `stub` is unavailable");
        assert_eq!(body["data"], json!({ "thing": null }));
    }
    assert_eq!(flaky.calls(), 4, "an open breaker calls nothing");
    let metrics = gateway.metrics().await;
    for line in [
        r#"weft_source_circuit_state{source="stub"} 1"#,
        r#"weft_source_requests_total{source="stub",outcome="circuit_open"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }

    flaky.set_down(false);
    let body = until_answered(&gateway).await;
    assert_eq!(body["data"]["thing"]["id"], "1");
    assert_eq!(flaky.calls(), 5, "one probe, which closed the breaker");
    let metrics = gateway.metrics().await;
    assert!(metrics.contains(closed), "{metrics}");
    let body = gateway.query(THING).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(flaky.calls(), 6);
}

#[tokio::test]
async fn with_the_breaker_off_every_call_is_sent() {
    let flaky = Flaky::new(StatusCode::SERVICE_UNAVAILABLE, 0);
    flaky.set_down(true);
    let stub = serve(&flaky).await;
    let (_dir, gateway) = gateway(&stub, &["breaker = false"], "").await;

    for _ in 0..25 {
        let body = gateway.query(THING).await;
        assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"], "{body}");
    }

    assert_eq!(flaky.calls(), 25);
    let metrics = gateway.metrics().await;
    assert!(!metrics.contains("weft_source_circuit_state{"), "{metrics}");
}

/// The catalog's `GetProduct` is listed as idempotent and retried when the
/// catalog is down; `ListProducts` is not listed and is sent once.
#[tokio::test]
async fn only_the_listed_grpc_methods_are_retried() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .source_option("catalog", "retries = 2")
        .source_option("catalog", "retry_backoff_ms = 1")
        .source_option(
            "catalog",
            r#"idempotent_methods = ["catalog.v1.Catalog/GetProduct"]"#,
        )
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the demo does not build:\n{problems}"));
    services.catalog.kill();

    let body = gateway
        .query(r#"{ product(sku: "SKU-0001") { sku } }"#)
        .await;
    assert_eq!(error_codes(&body), ["SOURCE_UNAVAILABLE"], "{body}");
    let metrics = gateway.metrics().await;
    for line in [
        r#"weft_source_requests_total{source="catalog",outcome="unavailable"} 3"#,
        r#"weft_source_retries_total{source="catalog"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }

    let body = gateway.query("{ products(first: 2) { sku } }").await;
    assert_eq!(error_codes(&body), ["SOURCE_UNAVAILABLE"], "{body}");
    let metrics = gateway.metrics().await;
    for line in [
        r#"weft_source_requests_total{source="catalog",outcome="unavailable"} 4"#,
        r#"weft_source_retries_total{source="catalog"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

#[tokio::test]
async fn an_idempotent_method_the_protos_lack_is_refused_at_start_up() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services).source_option(
        "catalog",
        r#"idempotent_methods = ["catalog.v1.Catalog/GetProducts"]"#,
    );
    let loaded = config
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config itself loads:\n{problems}"));
    let problems = TestGateway::start(&loaded)
        .await
        .expect_err("the gateway refuses to start")
        .to_string();
    let line = line_of(&config.toml(), "[sources.catalog]");
    assert!(
        problems.contains(&format!("weft.toml:{line}:")),
        "at the source's table: {problems}"
    );
    assert!(
        problems.contains("`idempotent_methods` names `catalog.v1.Catalog/GetProducts`"),
        "{problems}"
    );
    assert!(
        problems.contains("catalog.v1.Catalog/GetProduct,"),
        "the known methods are listed: {problems}"
    );
}
