//! GraphiQL in a real browser (headless Chromium, driven by playwright-core
//! from `tests/js/graphiql.mjs`) with every request outside weft refused:
//! the page renders from the assets inside the binary, runs a query, and
//! receives a subscription event over WebSocket after a mutation.
//! Screenshots go to `target/graphiql-screenshots`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;
use weft_tests::demo;
use weft_tests::npm::ensure_npm_dependencies;

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    );
    let dir = target.join("graphiql-screenshots");
    std::fs::create_dir_all(&dir).expect("a screenshot directory");
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_and_a_subscription_with_no_network() {
    let js = ensure_npm_dependencies().await;
    let (_services, _dir, gateway) = demo().await;
    let base = gateway
        .graphql_url()
        .trim_end_matches("/graphql")
        .to_owned();
    let run = Command::new("node")
        .arg(js.join("graphiql.mjs"))
        .arg(&base)
        .arg(screenshots())
        .current_dir(&js)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_mins(2), run)
        .await
        .expect("the browser run ends within 2 minutes")
        .expect("node runs (these tests need Node.js and Chromium)");
    let steps: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let result = |name: &str| {
        let step = steps.iter().find(|step| step["step"] == name);
        let step = step.unwrap_or_else(|| {
            panic!(
                "no `{name}` step: {steps:?}\n{}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        step["result"].clone()
    };
    let answer = result("query").as_str().unwrap_or_default().to_owned();
    assert!(answer.contains("Compact Birdhouse"), "{answer}");
    let event = result("subscription")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(event.contains("hello from weft"), "{event}");
    assert_eq!(
        result("refused"),
        Value::Array(Vec::new()),
        "the page asked for nothing outside weft"
    );
}
