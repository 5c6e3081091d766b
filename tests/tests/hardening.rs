//! The front door under abuse: documents over the operation limits are
//! refused with their own code before any backend call while `/health`
//! keeps answering, introspection can be turned off, a request over its
//! time budget is a `504`, WebSocket connections over the cap are closed,
//! and the `weft` binary exits on SIGTERM after a `complete` and a close
//! frame for every WebSocket subscriber.

use std::fmt::Write as _;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use weft_tests::process::WeftProcess;
use weft_tests::ws::WsClient;
use weft_tests::{
    GatewayConfig, StubBackend, TestDir, TestGateway, calls, demo_with, error_codes, expected_calls,
};

/// Sends `query` while `/health` is asked at the same time; returns the
/// GraphQL answer after checking that `/health` answered `200`.
async fn query_beside_health(gateway: &TestGateway, query: &str) -> Value {
    let (body, health) = tokio::join!(gateway.query(query), gateway.get("/health", None));
    assert_eq!(health.status, 200, "{}", health.text());
    body
}

/// Asserts that `body` was refused before execution with `code` alone.
fn assert_refused(body: &Value, code: &str) {
    assert_eq!(error_codes(body), vec![code.to_owned()], "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

#[tokio::test]
async fn documents_over_the_limits_are_refused_before_any_backend_call() {
    let (services, _dir, gateway) = demo_with("").await;
    services.reset_calls();

    let mut exponential = String::from("query { ...F0 }");
    for n in 0..30 {
        let next = n + 1;
        let _ = write!(
            exponential,
            " fragment F{n} on Query {{ ...F{next} ...F{next} }}"
        );
    }
    exponential.push_str(r#" fragment F30 on Query { user(id: "1") { name } }"#);
    let cases = [
        (exponential, "MAX_ROOT_FIELDS_LIMIT"),
        (
            format!(
                "{{ {} }}",
                (0..10_000)
                    .map(|n| format!("a{n}: users {{ id }}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "MAX_TOKENS_LIMIT",
        ),
        (
            format!(
                "{{ users {{ {} }} }}",
                (0..51)
                    .map(|n| format!("a{n}: id"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "MAX_ALIASES_LIMIT",
        ),
        (
            format!(
                "{{ {} }}",
                (0..33)
                    .map(|n| format!("t{n}: __typename"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "MAX_ROOT_FIELDS_LIMIT",
        ),
        (
            format!(
                r#"{{ user(id: "1") {{ {}name{} }} }}"#,
                "orders { user { ".repeat(12),
                " } }".repeat(12)
            ),
            "MAX_DEPTH_LIMIT",
        ),
        (
            format!("{{ users {{ id {} }} }}", "@include(if: true) ".repeat(11)),
            "MAX_DIRECTIVES_LIMIT",
        ),
        (
            format!("{{ users {}{} }}", "{ orders ".repeat(200), "}".repeat(201)),
            "MAX_RECURSION_LIMIT",
        ),
    ];
    for (query, code) in &cases {
        let body = query_beside_health(&gateway, query).await;
        assert_refused(&body, code);
    }
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn limits_are_set_in_the_config() {
    let (services, _dir, gateway) = demo_with("[limits]\nmax_aliases = 100\nmax_depth = 3\n").await;
    let aliased = format!(
        "{{ users {{ {} }} }}",
        (0..60)
            .map(|n| format!("a{n}: id"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let body = gateway.query(&aliased).await;
    assert_eq!(body["data"]["users"][0]["a59"], "1", "{body}");
    services.reset_calls();
    let body = gateway
        .query("{ users { orders { items { sku } } } }")
        .await;
    assert_refused(&body, "MAX_DEPTH_LIMIT");
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn an_int_beyond_32_bits_is_refused_before_any_backend_call() {
    let (services, _dir, gateway) = demo_with("").await;
    services.reset_calls();
    let body = gateway
        .query_with(
            "query ($n: Int) { orders(limit: $n) { id } }",
            json!({ "n": 99_999_999_999_i64 }),
        )
        .await;
    assert_refused(&body, "BAD_USER_INPUT");
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let (_services, _dir, gateway) = demo_with("[server]\nintrospection = false\n").await;
    let body = gateway.query("{ __schema { queryType { name } } }").await;
    assert_refused(&body, "INTROSPECTION_DISABLED");
    let body = gateway.query(r#"{ __type(name: "User") { name } }"#).await;
    assert_refused(&body, "INTROSPECTION_DISABLED");
    let body = gateway
        .query(r#"{ __typename product(sku: "SKU-0001") { __typename name } }"#)
        .await;
    assert_eq!(body["data"]["__typename"], "Query", "{body}");
    assert_eq!(body["data"]["product"]["__typename"], "Product", "{body}");

    let (_services, _dir, open) = demo_with("").await;
    let body = open.query("{ __schema { queryType { name } } }").await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );
}

#[tokio::test]
async fn a_request_over_its_time_budget_is_a_504_with_a_graphql_error() {
    let stub = StubBackend::start(Router::new().route(
        "/thing",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            axum::Json(json!({ "id": "1" }))
        }),
    ))
    .await;
    let dir = TestDir::new();
    let config = GatewayConfig::new(
        "type Query { thing: Thing @rest(source: \"stub\", get: \"/thing\") }\ntype Thing { id: ID! }",
    )
    .rest_source("stub", &stub.url, 10_000)
    .extra("[server]\nrequest_timeout_ms = 200\n")
    .load(&dir)
    .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    let body = json!({ "query": "{ thing { id } }" }).to_string();
    let response = gateway
        .post_raw(Some("application/json"), Some("application/json"), body)
        .await;
    assert_eq!(response.status, 504, "{}", response.text());
    assert_refused(&response.json(), "REQUEST_TIMEOUT");
    assert_eq!(
        response.json()["errors"][0]["message"],
        "the request took longer than 200 ms"
    );
    assert_eq!(gateway.get("/health", None).await.status, 200);
}

#[tokio::test]
async fn sigterm_closes_every_subscriber_and_exits_within_the_deadline() {
    let mut weft = WeftProcess::start(&["demo", "--port", "0"], &[("WEFT_INTROSPECTION", "false")]);
    let ws_url = format!("{}/graphql", weft.url.replace("http://", "ws://"));
    let mut clients = Vec::new();
    for _ in 0..100 {
        let mut client = WsClient::connect(&ws_url, "graphql-transport-ws").await;
        client.init(None).await;
        client
            .subscribe("news", "subscription { announcements { message } }")
            .await;
        clients.push(client);
    }
    let http = reqwest::Client::new();
    let introspection = weft.query("{ __schema { queryType { name } } }").await;
    assert_refused(&introspection, "INTROSPECTION_DISABLED");

    weft.signal("TERM");
    assert_eq!(health_once_draining(&http, &weft.url).await, 503);
    for client in &mut clients {
        client.expect("complete", "news").await;
        let (code, _) = client.close_code().await;
        assert_eq!(code, 1001);
    }
    assert!(
        weft.exited_within(Duration::from_secs(15)).await,
        "weft did not exit after SIGTERM"
    );
}

/// Asks `/health` until it stops answering `200` (the signal has been
/// handled), for at most 5 s; returns the last status.
async fn health_once_draining(http: &reqwest::Client, url: &str) -> u16 {
    let mut status = 200;
    for _ in 0..250 {
        let response = http
            .get(format!("{url}/health"))
            .send()
            .await
            .expect("weft answers /health while it drains");
        status = response.status().as_u16();
        if status != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    status
}

#[tokio::test]
async fn a_second_signal_exits_at_once() {
    let dir = TestDir::new();
    let config = GatewayConfig::new(
        "type Query { thing: Thing @rest(source: \"stub\", get: \"/thing\") }\ntype Thing { id: ID! }",
    )
    .rest_source("stub", "http://127.0.0.1:9", 1000)
    .extra("[server]\nlisten = \"127.0.0.1:0\"\nshutdown_drain_ms = 60000\n")
    .write(&dir);
    let config = config.to_str().expect("a UTF-8 path");
    let mut weft = WeftProcess::start(&["serve", "--config", config], &[]);
    let http = reqwest::Client::new();
    weft.signal("INT");
    assert_eq!(health_once_draining(&http, &weft.url).await, 503);
    assert!(
        !weft.exited_within(Duration::from_millis(300)).await,
        "weft stopped before its drain window ended"
    );
    weft.signal("INT");
    assert!(
        weft.exited_within(Duration::from_secs(5)).await,
        "weft did not exit on the second signal"
    );
}

#[tokio::test]
async fn websocket_connections_over_the_cap_are_closed_with_1013() {
    let (_services, _dir, gateway) = demo_with("[subscriptions]\nmax_connections = 2\n").await;
    let first = gateway.ws_ready().await;
    let _second = gateway.ws_ready().await;
    let mut third = gateway.ws("graphql-transport-ws").await;
    let (code, reason) = third.close_code().await;
    assert_eq!(code, 1013, "{reason}");
    assert!(
        reason.contains("too many WebSocket connections"),
        "{reason}"
    );
    first.close().await;
    for _ in 0..100 {
        if gateway
            .metrics()
            .await
            .contains("weft_websocket_connections 1\n")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut again = gateway.ws_ready().await;
    again
        .subscribe("news", "subscription { announcements { message } }")
        .await;
}

async fn with_debug_header(gateway: &TestGateway, value: &str, query: &str) -> Value {
    reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("x-weft-debug", value)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("weft answers")
        .json()
        .await
        .expect("a JSON body")
}

#[tokio::test]
async fn backend_calls_are_shown_only_when_debug_is_on_and_bodies_only_when_asked() {
    let mutation =
        r#"mutation { placeOrder(userId: "1", items: [{ sku: "SKU-0001", quantity: 1 }]) { id } }"#;
    let (_services, _dir, closed) = demo_with("").await;
    let body = with_debug_header(&closed, "calls, bodies", mutation).await;
    assert!(body.get("extensions").is_none(), "{body}");

    let (_services, _dir, open) = demo_with("[server]\ndebug = true\n").await;
    let body = with_debug_header(&open, "calls", mutation).await;
    let call = &body["extensions"]["weft"]["calls"][0];
    assert_eq!(call["source"], "orders", "{body}");
    assert_eq!(call["request"], "POST /orders", "{body}");
    let body = with_debug_header(&open, "calls, bodies", mutation).await;
    let request = body["extensions"]["weft"]["calls"][0]["request"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        request.starts_with("POST /orders {") && request.contains("SKU-0001"),
        "{body}"
    );
}

#[tokio::test]
async fn streams_from_other_origins_are_refused_before_the_upgrade() {
    let (_services, _dir, gateway) = demo_with("").await;
    let host = gateway.url.trim_start_matches("http://").to_owned();
    let upgrade = |origin: &str| {
        reqwest::Client::new()
            .get(gateway.graphql_url())
            .header("origin", origin.to_owned())
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "graphql-transport-ws")
            .send()
    };
    let evil = upgrade("http://evil.example").await.expect("weft answers");
    assert_eq!(evil.status(), 403);
    let same = upgrade(&format!("http://{host}"))
        .await
        .expect("weft answers");
    assert_eq!(same.status(), 101);

    let sse = reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("origin", "http://evil.example")
        .header("accept", "text/event-stream")
        .json(&json!({ "query": "subscription { announcements { message } }" }))
        .send()
        .await
        .expect("weft answers");
    assert_eq!(sse.status(), 403);

    let (_services, _dir, listed) =
        demo_with("[server.cors]\nallow_origins = [\"http://app.example\"]\n").await;
    let mut client = WsClient::connect_with_headers(
        &listed.ws_url(),
        "graphql-transport-ws",
        &[("origin", "http://app.example")],
    )
    .await;
    client.init(None).await;
}

#[tokio::test]
async fn a_clients_close_frame_is_echoed() {
    let (_services, _dir, gateway) = demo_with("").await;
    let mut client = gateway.ws_ready().await;
    client.send_close().await;
    let (code, _) = client.close_code().await;
    assert_eq!(code, 1000);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip writes");
    encoder.finish().expect("gzip finishes")
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("deflate writes");
    encoder.finish().expect("deflate finishes")
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    brotli::BrotliCompress(
        &mut &bytes[..],
        &mut out,
        &brotli::enc::BrotliEncoderParams::default(),
    )
    .expect("brotli compresses");
    out
}

async fn post_encoded(gateway: &TestGateway, encoding: &str, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("content-type", "application/json")
        .header("content-encoding", encoding)
        .body(body)
        .send()
        .await
        .expect("weft answers")
}

#[tokio::test]
async fn compressed_bodies_are_inflated_and_bombs_refused() {
    let (services, _dir, gateway) = demo_with("").await;
    let request = json!({ "query": r#"{ user(id: "1") { name } }"# }).to_string();
    for (encoding, body) in [
        ("gzip", gzip(request.as_bytes())),
        ("deflate", deflate(request.as_bytes())),
        ("br", brotli(request.as_bytes())),
    ] {
        let response = post_encoded(&gateway, encoding, body).await;
        assert_eq!(response.status(), 200, "{encoding}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(
            body["data"]["user"]["name"], "Margaret Allen",
            "{encoding}: {body}"
        );
    }

    services.reset_calls();
    let padding = " ".repeat(20 * 1024 * 1024);
    let bomb = gzip(format!("{{\"query\": \"{{ users {{ id }} }}\"{padding}}}").as_bytes());
    assert!(bomb.len() < 100 * 1024, "the bomb is small as sent");
    assert_eq!(post_encoded(&gateway, "gzip", bomb).await.status(), 413);
    assert_eq!(
        post_encoded(&gateway, "gzip", b"not gzip".to_vec())
            .await
            .status(),
        400
    );
    assert_eq!(
        post_encoded(&gateway, "zstd", request.into_bytes())
            .await
            .status(),
        415
    );
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn a_response_lists_at_most_max_errors() {
    let (services, _dir, gateway) = demo_with("[limits]\nmax_errors = 10\n").await;
    services.users.kill();
    let body = gateway
        .query("{ orders(limit: 50) { id user { name } } }")
        .await;
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 10, "{body}");
    assert!(
        errors[..9]
            .iter()
            .all(|error| error["extensions"]["code"] == "SOURCE_UNAVAILABLE")
    );
    assert_eq!(errors[9]["extensions"]["code"], "ERRORS_TRUNCATED");
    assert_eq!(
        errors[9]["message"],
        "41 more errors are left out of this response"
    );
    assert_eq!(body["data"]["orders"].as_array().map(Vec::len), Some(50));
}

#[tokio::test]
async fn calls_past_max_calls_are_not_made() {
    let (services, _dir, gateway) = demo_with("[limits]\nmax_calls = 3\n").await;
    let three =
        r#"{ a: user(id: "1") { name } b: user(id: "2") { name } c: user(id: "3") { name } }"#;
    let body = gateway.query(three).await;
    assert_eq!(body.get("errors"), None, "{body}");
    services.reset_calls();

    let four = r#"{ a: user(id: "1") { name } b: user(id: "2") { name } c: user(id: "3") { name } d: user(id: "4") { name } }"#;
    let body = gateway.query(four).await;
    assert_eq!(error_codes(&body), vec!["MAX_CALLS_LIMIT"; 4], "{body}");
    assert_eq!(
        body["data"],
        json!({ "a": null, "b": null, "c": null, "d": null })
    );
    assert_eq!(calls(&services), expected_calls(&[]));
}

/// A backend that takes 300 ms per call and remembers the most calls it
/// had in flight at once.
async fn concurrency_stub() -> (StubBackend, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (in_flight, peak) = (now.clone(), most.clone());
    let stub = StubBackend::start(Router::new().route(
        "/thing/{id}",
        get(
            move |axum::extract::Path(id): axum::extract::Path<String>| {
                let (in_flight, peak) = (in_flight.clone(), peak.clone());
                async move {
                    let current = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                    axum::Json(json!({ "id": id }))
                }
            },
        ),
    ))
    .await;
    (stub, most)
}

#[tokio::test]
async fn one_request_keeps_within_its_share_of_a_sources_concurrency() {
    for (option, expected) in [("max_request_concurrency = 3", 3), ("", 10)] {
        let (stub, peak) = concurrency_stub().await;
        let dir = TestDir::new();
        let mut config = GatewayConfig::new(
            "type Query { thing(id: ID!): Thing @rest(source: \"stub\", get: \"/thing/{$args.id}\") }\ntype Thing { id: ID! }",
        )
        .rest_source("stub", &stub.url, 5000);
        if !option.is_empty() {
            config = config.source_option("stub", option);
        }
        let config = config
            .load(&dir)
            .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
        let gateway = TestGateway::started(&config).await;
        let query = format!(
            "{{ {} }}",
            (0..10)
                .map(|n| format!("t{n}: thing(id: \"{n}\") {{ id }}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        let body = gateway.query(&query).await;
        assert_eq!(body.get("errors"), None, "{body}");
        assert_eq!(
            peak.load(std::sync::atomic::Ordering::SeqCst),
            expected,
            "with `{option}`"
        );
    }
}
