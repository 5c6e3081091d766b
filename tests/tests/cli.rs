//! The `weft` command as an operator meets it: `weft demo` says where to
//! look and whether each source answers, leaves nothing behind when it
//! stops, and refuses a port in use before starting anything.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use weft_tests::process::{WeftProcess, weft_binary};
use weft_tests::{NatsServer, RedisServer, TestDir, sse};

#[tokio::test]
async fn the_demo_names_its_routes_and_sources_and_removes_its_files_on_exit() {
    let dir = TestDir::new();
    let log = dir.path().join("weft.log");
    let mut weft = WeftProcess::start_logging(&["demo", "--port", "0"], &[], &log);
    let files = std::fs::read_to_string(&log)
        .expect("the log")
        .lines()
        .find_map(|line| line.strip_prefix("demo files in ").map(str::to_owned))
        .expect("the demo says where its files are");
    assert!(std::path::Path::new(&files).join("weft.toml").is_file());
    let banner = weft.read_lines(7);
    for route in ["GraphiQL", "health", "metrics"] {
        assert!(
            banner
                .iter()
                .any(|line| line.trim_start().starts_with(route)),
            "{banner:?}"
        );
    }
    for source in ["users (rest)", "catalog (grpc)", "orders (rest)"] {
        let line = banner
            .iter()
            .find(|line| line.contains(source))
            .unwrap_or_else(|| panic!("no line for {source}: {banner:?}"));
        assert!(line.ends_with(" up"), "{line}");
    }

    weft.signal("TERM");
    assert!(weft.exited_within(Duration::from_secs(15)).await);
    assert!(
        !std::path::Path::new(&files).exists(),
        "{files} is left behind"
    );
}

#[test]
fn a_port_in_use_is_refused_before_anything_starts() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = taken.local_addr().expect("an address").port().to_string();
    let mut child = Command::new(weft_binary())
        .args(["demo", "--port", &port])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let said: Vec<String> = stderr.lines().map_while(Result::ok).collect();
    let status = child.wait().expect("weft exits");
    assert!(!status.success());
    assert!(
        said.iter()
            .any(|line| line.contains(&format!("cannot listen on 127.0.0.1:{port}"))),
        "{said:?}"
    );
    assert!(
        !said.iter().any(|line| line.starts_with("example service")),
        "services started before the port was checked: {said:?}"
    );
}

/// `weft check --probe` asks the running services whether the items of a
/// `groupBy` field have the key it names: a typo is one message at the
/// `groupBy` argument, naming the keys the items have.
#[test]
fn check_probe_finds_a_group_by_key_no_item_has() {
    let services = weft_tests::Services::start();
    let check = |schema: &str| {
        let dir = TestDir::new();
        let path = weft_tests::GatewayConfig::demo(&services)
            .schema(schema)
            .write(&dir);
        let output = Command::new(weft_binary())
            .args([
                "check",
                "--probe",
                "--config",
                path.to_str().expect("UTF-8"),
            ])
            .output()
            .expect("weft check runs");
        (dir, output)
    };
    let (_dir, fine) = check(weft::demo::SCHEMA);
    assert!(
        fine.status.success(),
        "{}",
        String::from_utf8_lossy(&fine.stderr)
    );

    let typo = weft::demo::SCHEMA.replacen("groupBy: \"userId\"", "groupBy: \"userID\"", 1);
    assert_ne!(typo, weft::demo::SCHEMA);
    let (dir, output) = check(&typo);
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = said
        .lines()
        .filter(|line| line.starts_with("error: "))
        .collect();
    let line = weft_tests::line_of(&typo, "groupBy: \"userID\"");
    let column = typo
        .lines()
        .nth(line - 1)
        .and_then(|text| text.find("\"userID\""))
        .expect("the typo")
        + 1;
    let schema = dir.path().join(weft_tests::SCHEMA_FILE);
    assert_eq!(
        errors,
        [format!(
            "error: {}:{line}:{column}: `User.orders`: `groupBy: \"userID\"`: no item of the answer has `userID`; items have: createdAt, id, items, status, totalCents, userId",
            schema.display()
        )],
        "{said}"
    );
}

/// `weft demo --events nats://…` keeps the demo's events in a JetStream
/// stream: an SSE client that comes back with the last event id it saw
/// gets exactly the events it missed, in order.
#[tokio::test]
async fn the_demo_on_nats_keeps_its_events_and_an_sse_client_resumes_after_its_last_id() {
    let nats = NatsServer::start();
    demo_keeps_its_events_and_an_sse_client_resumes(&nats.url).await;
}

/// `weft demo --events redis://…` keeps them in Redis streams, with the
/// same resumption.
#[tokio::test]
async fn the_demo_on_redis_keeps_its_events_and_an_sse_client_resumes_after_its_last_id() {
    let redis = RedisServer::start();
    demo_keeps_its_events_and_an_sse_client_resumes(&redis.url).await;
}

async fn demo_keeps_its_events_and_an_sse_client_resumes(url: &str) {
    let weft = WeftProcess::start(&["demo", "--port", "0", "--events", url], &[]);
    let graphql = format!("{}/graphql", weft.url);
    let set_status = |status: &'static str| {
        let weft = &weft;
        async move {
            let mutation = format!(
                r#"mutation {{ setOrderStatus(id: "33", status: {status}) {{ status }} }}"#
            );
            let body = weft.query(&mutation).await;
            assert_eq!(body["data"]["setOrderStatus"]["status"], status, "{body}");
        }
    };
    let subscription = json!({
        "query": r#"subscription { orderStatusChanged(orderId: "33") { status } }"#
    });

    // The stream delivers to a subscription from the moment its consumer
    // exists: change the status until the first change arrives.
    let mut first = sse::post(&graphql, &subscription, &[]).await;
    let mut seen = loop {
        set_status("PAID").await;
        let next = tokio::time::timeout(Duration::from_millis(500), first.next_event()).await;
        if let Ok(Some(event)) = next {
            break event;
        }
    };
    // A change of an earlier round may still be on its way.
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(300), first.next_event()).await
    {
        seen = event;
    }
    assert_eq!(seen.json()["data"]["orderStatusChanged"]["status"], "PAID");
    let last_id = seen
        .id
        .clone()
        .expect("every event of the stream has an id");
    drop(first);

    set_status("SHIPPED").await;
    set_status("DELIVERED").await;
    let mut resumed = sse::post(&graphql, &subscription, &[("last-event-id", &last_id)]).await;
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let event = resumed.next_event().await.expect("the missed events");
        statuses.push(event.json()["data"]["orderStatusChanged"]["status"].clone());
    }
    assert_eq!(statuses, [json!("SHIPPED"), json!("DELIVERED")]);
}
