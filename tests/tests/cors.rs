//! CORS: preflights from allowed origins are answered `204` with the
//! `access-control-allow-*` headers, other origins get none, and without
//! `[server.cors]` nothing changes. A real headless Chromium on another
//! origin runs a query through weft when CORS allows it, and is refused
//! when it does not.

use std::process::Command;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use serde_json::json;
use weft_tests::{GatewayConfig, Services, StubBackend, TestDir, TestGateway, demo_with};

const APP: &str = "http://app.example.test";

fn cors_for(origins: &str) -> String {
    format!("[server.cors]\nallow_origins = {origins}\nmax_age_secs = 120\n")
}

async fn preflight(gateway: &TestGateway, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .request(reqwest::Method::OPTIONS, gateway.graphql_url())
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, x-weft-debug",
        )
        .send()
        .await
        .expect("weft answers")
}

async fn post_from(gateway: &TestGateway, origin: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("origin", origin)
        .json(&json!({ "query": "{ __typename }" }))
        .send()
        .await
        .expect("weft answers")
}

fn header<'r>(response: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    response
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

#[tokio::test]
async fn an_allowed_origin_gets_its_preflight_and_its_answer() {
    let (_services, _dir, gateway) = demo_with(&cors_for(
        r#"["http://app.example.test", "https://*.example.org"]"#,
    ))
    .await;
    let response = preflight(&gateway, APP).await;
    assert_eq!(response.status(), 204);
    assert_eq!(header(&response, "access-control-allow-origin"), Some(APP));
    assert_eq!(
        header(&response, "access-control-allow-methods"),
        Some("GET, POST")
    );
    assert_eq!(
        header(&response, "access-control-allow-headers"),
        Some("content-type, x-weft-debug")
    );
    assert_eq!(header(&response, "access-control-max-age"), Some("120"));

    let response = post_from(&gateway, "https://shop.example.org").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some("https://shop.example.org")
    );
    assert_eq!(header(&response, "vary"), Some("origin"));
}

#[tokio::test]
async fn other_origins_and_gateways_without_cors_get_no_cors_headers() {
    let (_services, _dir, gateway) = demo_with(&cors_for(r#"["http://app.example.test"]"#)).await;
    let response = post_from(&gateway, "http://evil.example.test").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
    let response = preflight(&gateway, "http://evil.example.test").await;
    assert_eq!(header(&response, "access-control-allow-origin"), None);

    let (_services, _dir, plain) = demo_with("").await;
    let response = preflight(&plain, APP).await;
    assert_eq!(response.status(), 405);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_wildcard_answers_star_and_credentials_need_listed_origins() {
    let (_services, _dir, gateway) = demo_with(&cors_for(r#"["*"]"#)).await;
    let response = post_from(&gateway, APP).await;
    assert_eq!(header(&response, "access-control-allow-origin"), Some("*"));

    let dir = TestDir::new();
    let services = Services::start();
    let problems = GatewayConfig::demo(&services)
        .extra("[server.cors]\nallow_origins = [\"*\"]\nallow_credentials = true\n")
        .load(&dir)
        .expect_err("a wildcard with credentials is refused")
        .to_string();
    assert!(
        problems.contains("cannot go with `allow_credentials = true`"),
        "{problems}"
    );
}

/// What a page served from another origin shows after fetching a query
/// from `gateway` in headless Chromium.
async fn page_in_chromium(gateway: &TestGateway) -> String {
    let script = format!(
        r#"<html><body><pre id="out">pending</pre><script>
fetch("{}", {{ method: "POST", headers: {{ "content-type": "application/json" }},
  body: JSON.stringify({{ query: "{{ product(sku: \"SKU-0001\") {{ name }} }}" }}) }})
  .then(r => r.json())
  .then(body => {{ document.getElementById("out").textContent = "answer:" + body.data.product.name; }})
  .catch(e => {{ document.getElementById("out").textContent = "failed:" + e; }});
</script></body></html>"#,
        gateway.graphql_url()
    );
    let page =
        StubBackend::start(Router::new().route("/", get(move || async { Html(script) }))).await;
    let profile = TestDir::new();
    let url = format!("{}/", page.url);
    let output = tokio::task::spawn_blocking(move || {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .output()
    })
    .await
    .expect("the browser task ends")
    .expect("these tests need Chromium (Debian: `apt-get install chromium`)");
    let dom = String::from_utf8_lossy(&output.stdout).into_owned();
    dom.split("<pre id=\"out\">")
        .nth(1)
        .and_then(|rest| rest.split("</pre>").next())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn a_browser_on_another_origin_runs_a_query_when_cors_allows_it() {
    let (_services, _dir, gateway) = demo_with(&cors_for(r#"["http://127.0.0.1:*"]"#)).await;
    let shown = page_in_chromium(&gateway).await;
    assert!(shown.starts_with("answer:"), "{shown}");

    let (_services, _dir, closed) = demo_with("").await;
    let shown = page_in_chromium(&closed).await;
    assert!(shown.starts_with("failed:"), "{shown}");
}
