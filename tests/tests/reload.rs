//! Hot reload of `weft serve` (a separate process) under load: a broken
//! schema is logged with its file and line while the previous version goes
//! on serving; a valid one takes effect; SIGHUP reloads too; and no request
//! fails along the way.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use weft_tests::process::WeftProcess;
use weft_tests::{GatewayConfig, SCHEMA_FILE, Services, TestDir, line_of};

const QUERY: &str = r#"{ user(id: "1") { name } }"#;

/// Requests sent and failed (not 200, or with errors) by the load.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    failed: AtomicU64,
}

/// Sends `QUERY` from `clients` loops until `stop` is set.
fn load(url: &str, clients: usize, stop: &Arc<AtomicBool>, tally: &Arc<Tally>) {
    for _ in 0..clients {
        let (url, stop, tally) = (url.to_owned(), stop.clone(), tally.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                let body = post(&http, &url, QUERY).await;
                tally.sent.fetch_add(1, Ordering::Relaxed);
                if body
                    .as_ref()
                    .is_none_or(|body| body.get("errors").is_some())
                {
                    tally.failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

async fn post(http: &reqwest::Client, url: &str, query: &str) -> Option<Value> {
    let response = http
        .post(format!("{url}/graphql"))
        .json(&json!({ "query": query }))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.json().await.ok()
}

/// Waits up to 10 s for `ready` to hold.
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if ready().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

fn log_count(log: &Path, needle: &str) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches(needle)
        .count()
}

#[tokio::test]
async fn a_broken_schema_keeps_the_old_version_serving_and_a_valid_one_takes_effect() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services).extra("[server]\nlisten = \"127.0.0.1:0\"\n");
    let path = config.write(&dir);
    let log = dir.path().join("weft.log");
    let weft = WeftProcess::start_logging(
        &["serve", "--config", path.to_str().expect("a UTF-8 path")],
        &[],
        &log,
    );
    let (stop, tally) = (Arc::new(AtomicBool::new(false)), Arc::new(Tally::default()));
    load(&weft.url, 4, &stop, &tally);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let schema = weft::demo::SCHEMA;
    let broken = schema.replacen("  email: String!\n", "  email: Strin!\n", 1);
    assert_ne!(broken, schema);
    dir.write(SCHEMA_FILE, &broken);
    let place = format!("{SCHEMA_FILE}:{}", line_of(&broken, "Strin!"));
    eventually("the broken schema logged", async || {
        log_count(&log, "the new version is not served") == 1
    })
    .await;
    let logged = std::fs::read_to_string(&log).expect("the log");
    assert!(logged.contains(&place), "the log names {place}:\n{logged}");

    let http = reqwest::Client::new();
    let renamed = schema.replacen(
        "  email: String!\n",
        "  email: String!\n  displayName: String! @map(from: \"full_name\")\n",
        1,
    );
    dir.write(SCHEMA_FILE, &renamed);
    let new_field = r#"{ user(id: "1") { displayName } }"#;
    eventually("the valid schema served", async || {
        post(&http, &weft.url, new_field)
            .await
            .is_some_and(|body| body["data"]["user"]["displayName"].is_string())
    })
    .await;

    let reloads = log_count(&log, "reloaded");
    weft.signal("HUP");
    eventually("SIGHUP reloading", async || {
        log_count(&log, "reloaded") > reloads
    })
    .await;

    let remaining = Duration::from_secs(10).saturating_sub(started.elapsed());
    tokio::time::sleep(remaining).await;
    stop.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (sent, failed) = (
        tally.sent.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    assert!(sent > 100, "the load sent {sent} requests");
    assert_eq!(
        failed, 0,
        "{failed} of {sent} requests failed during reloads"
    );
}
