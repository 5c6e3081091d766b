//! The HTTP surface of `/graphql`, `/health` and `/metrics` over a real
//! socket: GET and POST, content negotiation and the status codes of the
//! GraphQL-over-HTTP spec, GraphiQL for browsers, metrics after real backend
//! calls, graceful shutdown, and garbage that must never produce a 5xx or a
//! hang.

use serde_json::{Value, json};
use subgraphs::{data, users};
use weft_tests::{
    GatewayConfig, HttpResponse, Services, StubBackend, TestDir, TestGateway, calls, demo,
    error_codes, expected_calls,
};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

fn user_name(id: &str) -> &'static str {
    &data::user(id).expect("a seed user").full_name
}

fn assert_media_type(response: &HttpResponse, media_type: &str) {
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with(media_type),
        "Content-Type {content_type:?} is not {media_type}"
    );
}

/// Asserts a GraphQL error body with exactly these codes.
fn assert_codes(response: &HttpResponse, codes: &[&str]) {
    assert_eq!(response.error_codes(), codes, "{}", response.text());
}

#[tokio::test]
async fn get_runs_a_query_with_variables() {
    let (services, _dir, gateway) = demo().await;
    let response = gateway
        .get_query(r#"{ user(id: "2") { name } }"#, None, None)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_media_type(&response, JSON);
    assert_eq!(
        response.json(),
        json!({ "data": { "user": { "name": user_name("2") } } })
    );

    let response = gateway
        .get_query(
            "query User($id: ID!) { user(id: $id) { email } }",
            Some(&json!({ "id": "3" })),
            Some(GRAPHQL_RESPONSE),
        )
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_media_type(&response, GRAPHQL_RESPONSE);
    assert_eq!(
        response.json()["data"]["user"]["email"],
        data::user("3").expect("seed user 3").email.as_str()
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[("users", users::ROUTE_GET, 2)])
    );
}

#[tokio::test]
async fn get_picks_the_named_operation() {
    let (_services, _dir, gateway) = demo().await;
    let document = r#"query A { user(id: "1") { name } } query B { user(id: "4") { name } }"#;
    let url = format!(
        "/graphql?{}",
        [("query", document), ("operationName", "B")]
            .iter()
            .map(|(key, value)| format!("{key}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    );
    let response = gateway.get(&url, None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.json()["data"]["user"]["name"], user_name("4"));
}

/// Percent-encodes every byte outside the unreserved set.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[tokio::test]
async fn a_mutation_over_get_is_405_and_never_runs() {
    let (services, _dir, gateway) = demo().await;
    let mutation =
        r#"mutation { placeOrder(userId: "1", items: [{ sku: "SKU-0001", quantity: 1 }]) { id } }"#;
    for accept in [None, Some(GRAPHQL_RESPONSE)] {
        let response = gateway.get_query(mutation, None, accept).await;
        assert_eq!(response.status, 405, "{}", response.text());
        assert_eq!(response.header("allow"), Some("POST"));
        assert_codes(&response, &["METHOD_NOT_ALLOWED"]);
    }
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn validation_errors_are_400_only_for_graphql_response_json() {
    let (services, _dir, gateway) = demo().await;
    let body = json!({ "query": r#"{ user(id: "1") { nope } }"# }).to_string();

    let response = gateway
        .post_raw(Some(JSON), Some(GRAPHQL_RESPONSE), body.clone())
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_media_type(&response, GRAPHQL_RESPONSE);
    assert_codes(&response, &["GRAPHQL_VALIDATION_FAILED"]);

    for accept in [Some(JSON), None, Some("*/*")] {
        let response = gateway.post_raw(Some(JSON), accept, body.clone()).await;
        assert_eq!(
            response.status,
            200,
            "Accept {accept:?}: {}",
            response.text()
        );
        assert_media_type(&response, JSON);
        assert_codes(&response, &["GRAPHQL_VALIDATION_FAILED"]);
    }

    let missing_argument = json!({ "query": "{ user { name } }" }).to_string();
    let response = gateway
        .post_raw(Some(JSON), Some(GRAPHQL_RESPONSE), missing_argument)
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_codes(&response, &["GRAPHQL_VALIDATION_FAILED"]);
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn syntax_errors_are_graphql_parse_failed_with_a_location() {
    let (_services, _dir, gateway) = demo().await;
    let body = json!({ "query": "{ user(id: \"1\") { name }" }).to_string();
    let response = gateway
        .post_raw(Some(JSON), Some(GRAPHQL_RESPONSE), body.clone())
        .await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_codes(&response, &["GRAPHQL_PARSE_FAILED"]);
    assert!(
        response.json()["errors"][0]["locations"][0]["line"] == 1,
        "{}",
        response.text()
    );
    let response = gateway.post_raw(Some(JSON), Some(JSON), body).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_codes(&response, &["GRAPHQL_PARSE_FAILED"]);

    let response = gateway.get_query("{ user(", None, None).await;
    assert_eq!(response.status, 200, "{}", response.text());
    assert_codes(&response, &["GRAPHQL_PARSE_FAILED"]);
}

#[tokio::test]
async fn bodies_that_are_not_graphql_requests_are_400() {
    let (_services, _dir, gateway) = demo().await;
    for body in [
        "{\"query\": ",
        "[]",
        "{\"variables\": {}}",
        "{\"query\": \"\"}",
        "{\"query\": 42}",
        "{\"query\": \"{ users { id } }\", \"variables\": [1]}",
        "",
    ] {
        for accept in [None, Some(GRAPHQL_RESPONSE)] {
            let response = gateway.post_raw(Some(JSON), accept, body).await;
            assert_eq!(response.status, 400, "{body:?}: {}", response.text());
            assert_codes(&response, &["BAD_REQUEST"]);
        }
    }
    let response = gateway.get("/graphql?variables=%7B%7D", None).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_codes(&response, &["BAD_REQUEST"]);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let (_services, _dir, gateway) = demo().await;
    let query = "{ users { id } }";
    for content_type in [
        Some("text/plain"),
        Some("application/graphql"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let response = gateway.post_raw(content_type, None, query).await;
        assert_eq!(
            response.status,
            415,
            "Content-Type {content_type:?}: {}",
            response.text()
        );
        assert_codes(&response, &["BAD_REQUEST"]);
    }
    let body = json!({ "query": query }).to_string();
    let response = gateway
        .post_raw(Some("Application/JSON; charset=utf-8"), None, body)
        .await;
    assert_eq!(response.status, 200, "{}", response.text());
}

#[tokio::test]
async fn an_unacceptable_accept_is_406() {
    let (services, _dir, gateway) = demo().await;
    let body = json!({ "query": "{ users { id } }" }).to_string();
    for accept in ["text/plain", "application/xml", "application/json;q=0"] {
        let response = gateway
            .post_raw(Some(JSON), Some(accept), body.clone())
            .await;
        assert_eq!(response.status, 406, "Accept {accept}: {}", response.text());
        assert_codes(&response, &["NOT_ACCEPTABLE"]);
    }
    let response = gateway
        .get_query("{ users { id } }", None, Some("text/plain"))
        .await;
    assert_eq!(response.status, 406, "{}", response.text());
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn browsers_get_graphiql() {
    let (_services, _dir, gateway) = demo().await;
    let browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let response = gateway.get("/graphql", Some(browser)).await;
    assert_eq!(response.status, 200);
    assert_media_type(&response, "text/html");
    let page = response.text();
    assert!(page.to_lowercase().contains("graphiql"), "{page}");
    assert!(page.contains("/graphql"), "{page}");

    // The same URL with a query runs it, even from a browser.
    let response = gateway
        .get_query(r#"{ user(id: "1") { name } }"#, None, Some(browser))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["data"]["user"]["name"], user_name("1"));

    // Not a browser, no query: a GraphQL error, not a page.
    let response = gateway.get("/graphql", None).await;
    assert_eq!(response.status, 400, "{}", response.text());
    assert_codes(&response, &["BAD_REQUEST"]);
}

#[tokio::test]
async fn graphiql_can_be_turned_off() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .extra("[server]\ngraphiql = false")
        .load(&dir)
        .unwrap();
    let gateway = TestGateway::start(&config).await.unwrap();
    let response = gateway.get("/graphql", Some("text/html")).await;
    assert_eq!(response.status, 406, "{}", response.text());
    assert_codes(&response, &["NOT_ACCEPTABLE"]);
}

#[tokio::test]
async fn health_is_ok_while_serving() {
    let (_services, _dir, gateway) = demo().await;
    let response = gateway.get("/health", None).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), json!({ "status": "ok" }));
}

#[tokio::test]
async fn metrics_count_backend_calls_and_graphql_requests() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway
        .query(r#"{ user(id: "1") { name orders { id items { product { name } } } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let invalid = gateway.query("{ nope }").await;
    assert_eq!(error_codes(&invalid), ["GRAPHQL_VALIDATION_FAILED"]);

    let response = gateway.get("/metrics", None).await;
    assert_eq!(response.status, 200);
    assert_media_type(&response, "text/plain");
    let metrics = response.text();
    for line in [
        r#"weft_source_requests_total{source="users",outcome="ok"} 1"#,
        r#"weft_source_requests_total{source="orders",outcome="ok"} 1"#,
        r#"weft_source_requests_total{source="catalog",outcome="ok"} 1"#,
        "# TYPE weft_source_request_duration_seconds histogram",
        r#"weft_source_request_duration_seconds_count{source="users"} 1"#,
        r#"weft_source_request_duration_seconds_count{source="catalog"} 1"#,
        r#"weft_graphql_requests_total{outcome="ok"} 1"#,
        r#"weft_graphql_requests_total{outcome="error"} 1"#,
        "# TYPE weft_graphql_request_duration_seconds histogram",
        "weft_graphql_request_duration_seconds_count 2",
        "# TYPE weft_graphql_requests_total counter",
    ] {
        assert!(
            metrics.lines().any(|candidate| candidate == line),
            "no line {line:?} in:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn metrics_speak_openmetrics_to_who_asks_and_pass_promtool_otherwise() {
    let (_services, _dir, gateway) = demo().await;
    gateway.query(r#"{ user(id: "1") { name } }"#).await;
    let response = gateway
        .get(
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
        )
        .await;
    assert_media_type(&response, "application/openmetrics-text");
    let open_metrics = response.text();
    assert!(open_metrics.ends_with("# EOF\n"), "{open_metrics}");
    assert!(open_metrics.contains("\n# TYPE weft_graphql_requests counter\n"));

    let text = gateway.metrics().await;
    for line in [
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_open_fds gauge",
        "weft_build_info{version=\"0.1.0\"} 1",
    ] {
        assert!(
            text.lines().any(|candidate| candidate.starts_with(line)),
            "{line} in:\n{text}"
        );
    }
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("these tests need promtool (Debian: `apt-get install prometheus`)");
    std::io::Write::write_all(&mut promtool.stdin.take().expect("stdin"), text.as_bytes())
        .expect("promtool reads the metrics");
    let checked = promtool.wait_with_output().expect("promtool runs");
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
}

/// A request in flight when shutdown begins still gets its answer; then the
/// server stops and the port refuses connections.
#[tokio::test]
async fn shutdown_lets_requests_in_flight_finish() {
    let (arrived_tx, mut arrived) = tokio::sync::mpsc::channel::<()>(1);
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let released = release.clone();
    let stub = StubBackend::start(axum::Router::new().route(
        "/slow",
        axum::routing::get(move || {
            let arrived_tx = arrived_tx.clone();
            let released = released.clone();
            async move {
                let _ = arrived_tx.send(()).await;
                released.notified().await;
                axum::Json(json!(7))
            }
        }),
    ))
    .await;
    let dir = TestDir::new();
    let config =
        GatewayConfig::new("type Query { slow: Int @rest(source: \"stub\", get: \"/slow\") }")
            .rest_source("stub", &stub.url, 5000)
            .load(&dir)
            .unwrap();
    let mut gateway = TestGateway::start(&config).await.unwrap();
    let url = gateway.graphql_url();
    let in_flight = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&json!({ "query": "{ slow }" }))
            .send()
            .await?
            .json::<Value>()
            .await
    });
    arrived
        .recv()
        .await
        .expect("the request reaches the backend");

    gateway.begin_shutdown();
    while gateway.gateway.is_ready() {
        tokio::task::yield_now().await;
    }
    release.notify_one();

    let body = in_flight
        .await
        .expect("the request task does not panic")
        .expect("the request in flight is answered");
    assert_eq!(body, json!({ "data": { "slow": 7 } }));
    gateway.wait_stopped().await.expect("a clean shutdown");
    let refused = reqwest::Client::new()
        .get(format!("{}/health", gateway.url))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "still serving after shutdown: {refused:?}"
    );
}

/// Inputs no client should send: each is answered with a 4xx (or a GraphQL
/// error), never a 5xx, and the gateway keeps serving afterwards.
#[tokio::test]
async fn garbage_never_causes_a_server_error_or_a_hang() {
    let (_services, _dir, gateway) = demo().await;
    let deep_query = format!("{}{}", "{ a ".repeat(20_000), "}".repeat(20_000));
    let deep_variables = format!(
        "{{\"query\": \"{{ users {{ id }} }}\", \"variables\": {{\"v\": {}1{}}}}}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let huge_variable = json!({
        "query": "query Q($v: String) { users { id } }",
        "variables": { "v": "x".repeat(8 * 1024 * 1024) },
    })
    .to_string();
    let many_aliases = json!({
        "query": format!("{{ {} }}", (0..5_000).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" ")),
    })
    .to_string();
    let many_errors = json!({
        "query": format!("{{ {} }}", (0..5_000).map(|i| format!("a{i}: nope")).collect::<Vec<_>>().join(" ")),
    })
    .to_string();
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        (
            "deeply nested query",
            json!({ "query": deep_query }).to_string().into_bytes(),
        ),
        ("deeply nested variables", deep_variables.into_bytes()),
        ("8 MiB variable", huge_variable.into_bytes()),
        ("5,000 aliases", many_aliases.into_bytes()),
        ("5,000 invalid fields", many_errors.into_bytes()),
        (
            "invalid UTF-8",
            b"{\"query\": \"{ users { id } \xff\xfe }\"}".to_vec(),
        ),
        ("NUL bytes", b"{\"query\": \"\0\0\0\"}".to_vec()),
        ("random bytes", (0..=255_u8).cycle().take(4096).collect()),
        (
            "a variable of the wrong type",
            json!({
                "query": "query Q($id: ID!) { user(id: $id) { name } }",
                "variables": { "id": { "nested": [1, 2, 3] } },
            })
            .to_string()
            .into_bytes(),
        ),
        (
            "an integer out of range",
            json!({
                "query": "{ products(first: 99999999999) { sku } }",
            })
            .to_string()
            .into_bytes(),
        ),
        (
            "a negative page size",
            json!({
                "query": "{ products(first: -5) { sku } }",
            })
            .to_string()
            .into_bytes(),
        ),
    ];
    for (what, body) in bodies {
        for accept in [None, Some(GRAPHQL_RESPONSE)] {
            let response = gateway.post_raw(Some(JSON), accept, body.clone()).await;
            assert!(
                response.status < 500,
                "{what} (Accept {accept:?}) answered {}: {}",
                response.status,
                response.text()
            );
        }
    }
    for path in [
        "/graphql?query=%FF%FE",
        "/graphql?query=%7B&variables=%5B%5B%5B",
        "/graphql?query=%7B%20users%20%7B%20id%20%7D%20%7D&variables=nope",
        "/graphql?query=%7B%20users%20%7B%20id%20%7D%20%7D&extensions=%5B",
        "/graphql?query",
    ] {
        let response = gateway.get(path, None).await;
        assert!(
            response.status < 500,
            "GET {path} answered {}: {}",
            response.status,
            response.text()
        );
    }
    let response = gateway.get("/health", None).await;
    assert_eq!(response.status, 200);
    let body = gateway.query(r#"{ user(id: "1") { name } }"#).await;
    assert_eq!(body["data"]["user"]["name"], user_name("1"));
}

/// The README: with `application/graphql-response+json`, only a request that
/// fails to parse or validate is `400`. A request that ran, but whose
/// non-null root field failed (so `data` is `null`), is `200`.
#[tokio::test]
async fn an_execution_error_that_nulls_data_is_200() {
    let (services, _dir, gateway) = demo().await;
    let body = json!({
        "query": r#"mutation { placeOrder(userId: "1", items: [{ sku: "SKU-9999", quantity: 1 }]) { id } }"#,
    })
    .to_string();
    let response = gateway
        .post_raw(Some(JSON), Some(GRAPHQL_RESPONSE), body)
        .await;
    assert_eq!(
        services
            .orders
            .calls()
            .count(subgraphs::orders::ROUTE_CREATE),
        1,
        "the mutation ran"
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_codes(&response, &["SOURCE_HTTP_ERROR"]);
}

/// Shutdown ends open subscriptions instead of waiting for their clients:
/// a WebSocket gets close code 1001, an event stream its `complete`, and
/// the server stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_open_subscriptions_and_stops() {
    let (_services, _dir, mut gateway) = demo().await;
    let mut client = gateway.ws_ready().await;
    client
        .subscribe("news", "subscription { announcements { message } }")
        .await;
    let mut stream = gateway
        .sse_post(&json!({ "query": "subscription { announcements { message } }" }))
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    gateway.begin_shutdown();
    client.expect("complete", "news").await;
    let (code, _) = client.close_code().await;
    assert_eq!(code, 1001);
    let event = stream.next_event().await.expect("an event");
    assert_eq!(event.event, "complete", "{event:?}");
    let stopped =
        tokio::time::timeout(std::time::Duration::from_secs(10), gateway.wait_stopped()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "the server did not stop: {stopped:?}"
    );
}
