//! The request log of the real `weft` binary: one line per GraphQL request
//! over HTTP with its method, operation name, status, duration, backend
//! calls and error count; JSON objects with `[log] format = "json"`, text
//! without colour codes when standard error is not a terminal.

use std::time::Duration;

use serde_json::{Value, json};
use weft_tests::process::WeftProcess;
use weft_tests::{GatewayConfig, Services, TestDir};

/// `weft serve` over the example services with `log` as its `[log]`
/// table; its log goes to a file in `dir`.
fn serve(services: &Services, dir: &TestDir, log: &str) -> WeftProcess {
    let config = GatewayConfig::demo(services)
        .extra(&format!(
            "[server]\nlisten = \"127.0.0.1:0\"\n\n[log]\n{log}\n"
        ))
        .write(dir);
    let config = config.to_str().expect("a UTF-8 path");
    WeftProcess::start_logging(
        &["serve", "--config", config],
        &[],
        &dir.path().join("weft.log"),
    )
}

async fn post(weft: &WeftProcess, body: Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", weft.url))
        .json(&body)
        .send()
        .await
        .expect("weft answers");
    assert_eq!(response.status(), 200);
}

/// The log's lines once `count` request lines are in it (the log is
/// written as requests end), or after 5 s.
async fn log_lines(dir: &TestDir, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for _ in 0..100 {
        let text = std::fs::read_to_string(dir.path().join("weft.log")).unwrap_or_default();
        lines = text.lines().map(str::to_owned).collect();
        if lines.iter().filter(|line| line.contains("request")).count() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    lines
}

#[tokio::test]
async fn every_request_gets_one_json_line() {
    let services = Services::start();
    let dir = TestDir::new();
    let weft = serve(&services, &dir, "format = \"json\"");
    let query = r#"query UserWithOrders { user(id: "1") { name orders { id items { product { name } } } } }"#;
    post(&weft, json!({ "query": query })).await;
    post(&weft, json!({ "query": "{ nope }" })).await;

    let lines = log_lines(&dir, 2).await;
    let requests: Vec<Value> = lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == "request")
        .collect();
    assert_eq!(requests.len(), 2, "{lines:#?}");
    let first = &requests[0];
    assert_eq!(first["method"], "POST");
    assert_eq!(first["operation"], "UserWithOrders");
    assert_eq!(first["status"], 200);
    assert_eq!(first["calls"], 3);
    assert_eq!(first["errors"], 0);
    assert!(
        first["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0),
        "{first}"
    );
    assert_eq!(requests[1]["errors"], 1);
    assert_eq!(requests[1]["calls"], 0);
}

#[tokio::test]
async fn text_lines_have_no_colour_codes_off_a_terminal() {
    let services = Services::start();
    let dir = TestDir::new();
    let weft = serve(&services, &dir, "format = \"text\"");
    post(&weft, json!({ "query": r#"{ user(id: "1") { name } }"# })).await;
    let lines = log_lines(&dir, 1).await;
    let request = lines
        .iter()
        .find(|line| line.contains("request"))
        .unwrap_or_else(|| panic!("no request line in {lines:#?}"));
    assert!(!request.contains('\u{1b}'), "{request:?}");
    assert!(
        request.contains("status=200") && request.contains("calls=1"),
        "{request}"
    );
}

#[tokio::test]
async fn requests_can_go_unlogged() {
    let services = Services::start();
    let dir = TestDir::new();
    let weft = serve(&services, &dir, "requests = false");
    post(&weft, json!({ "query": r#"{ user(id: "1") { name } }"# })).await;
    post(&weft, json!({ "query": "{ __typename }" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = std::fs::read_to_string(dir.path().join("weft.log")).unwrap_or_default();
    assert!(!text.contains("status=200"), "{text}");
}
