//! Resumable subscriptions on the JetStream bus (`[events] jetstream`):
//! every result carries its event's cursor (SSE `id:`, `extensions.weft.
//! cursor`), and a client that names its last cursor (SSE `Last-Event-ID`,
//! `extensions.weft.resumeFrom`) gets exactly the events it missed, in
//! order and once — after the gateway process restarted, or on another
//! replica; a cursor the stream no longer covers, one that is malformed,
//! and one sent to a bus that keeps no events are refused with their codes;
//! a `jetstream` table a config cannot have is refused where it stands.
//!
//! The server is the one on 127.0.0.1:4222, or a `nats-server -js` started
//! for the test (see [`NatsServer`]). Every test has a stream and subject
//! prefix of its own ([`TestStream`]), deleted when it ends.

use serde_json::{Value, json};
use weft::events::EventBus;
use weft::events::jetstream::JetStreamBus;
use weft_tests::nats::isolated_demo_schema;
use weft_tests::process::WeftProcess;
use weft_tests::replicas::{PROBE_WAIT, PROBES, announce, announced, until_subscribed};
use weft_tests::resume::{cursor_text, next_sse, refused, resuming, serve};
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, CONFIG_FILE, GatewayConfig, LEGACY_WS, NatsServer, Services,
    TRANSPORT_WS, TestDir, TestGateway, TestStream, WsClient, line_of, sse,
};

/// Status changes of order 7 only (the `@event` filter passes over the
/// others); no field calls a backend.
const ORDER_7: &str = r#"subscription { orderStatusChanged(orderId: "7") { orderId status } }"#;

/// The demo over `services` on the JetStream bus of `stream`, its topics
/// under the stream's prefix.
fn config(services: &Services, stream: &TestStream) -> GatewayConfig {
    GatewayConfig::demo(services)
        .schema(&isolated_demo_schema(&stream.prefix))
        .extra(&stream.events_toml())
}

async fn replica(services: &Services, stream: &TestStream, dir: &TestDir) -> TestGateway {
    let config = config(services, stream)
        .load(dir)
        .unwrap_or_else(|problems| panic!("the JetStream config does not load:\n{problems}"));
    TestGateway::connect(&config)
        .await
        .unwrap_or_else(|problems| panic!("a gateway on JetStream does not start:\n{problems}"))
}

/// Publishes a status change of `order` to the stream, as the orders
/// service would.
async fn publish_change(bus: &JetStreamBus, stream: &TestStream, order: &str, status: &str) {
    bus.publish(
        &stream.topic("orders.status"),
        json!({"orderId": order, "userId": "1", "status": status}),
    )
    .await
    .unwrap_or_else(|error| panic!("cannot publish to the stream: {error}"));
}

/// Publishes an announcement to the stream.
async fn publish_announcement(bus: &JetStreamBus, stream: &TestStream, message: &str) {
    bus.publish(&stream.topic("announcements"), json!({"message": message}))
        .await
        .unwrap_or_else(|error| panic!("cannot publish to the stream: {error}"));
}

/// A result of [`ORDER_7`] for the event at `cursor`.
fn change_of_7(status: &str, cursor: u64) -> Value {
    json!({
        "data": {"orderStatusChanged": {"orderId": "7", "status": status}},
        "extensions": {"weft": {"cursor": cursor.to_string()}},
    })
}

/// A result of the announcements subscription for the event at `cursor`.
fn announcement(message: &str, cursor: u64) -> Value {
    json!({
        "data": {"announcements": {"message": message}},
        "extensions": {"weft": {"cursor": cursor.to_string()}},
    })
}

/// The cursor of a result, as a number.
fn cursor_of(payload: &Value) -> u64 {
    cursor_text(payload)
        .parse()
        .unwrap_or_else(|error| panic!("not a JetStream cursor ({error}): {payload}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_with_last_event_id_gets_exactly_the_missed_events_after_the_gateway_process_restarts()
{
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url);
    let services = Services::start();
    let dir = TestDir::new();
    let path = config(&services, &stream)
        .extra("[server]\nlisten = \"127.0.0.1:0\"")
        .write(&dir);
    let orders = stream.bus().await;
    let body = json!({ "query": ORDER_7 });

    let first = serve(&path);
    let url = format!("{}/graphql", first.url);
    // From the start of the fresh stream: nothing is missed while the
    // consumer is being created.
    let mut events = sse::post(&url, &body, &[("last-event-id", "0")]).await;
    publish_change(&orders, &stream, "7", "PAID").await; // 1
    publish_change(&orders, &stream, "8", "PAID").await; // 2, filtered out
    publish_change(&orders, &stream, "7", "SHIPPED").await; // 3
    assert_eq!(
        next_sse(&mut events).await,
        (Some("1".to_owned()), change_of_7("PAID", 1))
    );
    assert_eq!(
        next_sse(&mut events).await,
        (Some("3".to_owned()), change_of_7("SHIPPED", 3))
    );
    drop(events);
    drop(first);

    publish_change(&orders, &stream, "8", "SHIPPED").await; // 4, filtered out
    publish_change(&orders, &stream, "7", "DELIVERED").await; // 5
    publish_change(&orders, &stream, "8", "DELIVERED").await; // 6, filtered out

    let second = serve(&path);
    let url = format!("{}/graphql", second.url);
    let mut events = sse::post(&url, &body, &[("last-event-id", "3")]).await;
    assert_eq!(
        next_sse(&mut events).await,
        (Some("5".to_owned()), change_of_7("DELIVERED", 5))
    );
    publish_change(&orders, &stream, "7", "CANCELLED").await; // 7, live
    assert_eq!(
        next_sse(&mut events).await,
        (Some("7".to_owned()), change_of_7("CANCELLED", 7))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_resuming_from_its_cursor_gets_exactly_the_missed_events_after_a_restart()
 {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url);
    let services = Services::start();
    let dir = TestDir::new();
    let path = config(&services, &stream)
        .extra("[server]\nlisten = \"127.0.0.1:0\"")
        .write(&dir);
    let publisher = stream.bus().await;

    let first = serve(&path);
    let socket = format!("{}/graphql", first.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, TRANSPORT_WS).await;
    client.init(None).await;
    client
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0"))
        .await;
    publish_announcement(&publisher, &stream, "m1").await;
    publish_announcement(&publisher, &stream, "m2").await;
    assert_eq!(client.next("news").await, announcement("m1", 1));
    assert_eq!(client.next("news").await, announcement("m2", 2));
    drop(client);
    drop(first);

    publish_announcement(&publisher, &stream, "m3").await;
    publish_announcement(&publisher, &stream, "m4").await;

    // The restarted gateway, and the legacy subprotocol this time.
    let second = serve(&path);
    let socket = format!("{}/graphql", second.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, LEGACY_WS).await;
    client.init(None).await;
    client
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "2"))
        .await;
    assert_eq!(client.next("news").await, announcement("m3", 3));
    assert_eq!(client.next("news").await, announcement("m4", 4));
    publish_announcement(&publisher, &stream, "m5").await;
    assert_eq!(client.next("news").await, announcement("m5", 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moved_from_replica_a_to_b_with_its_cursor_misses_nothing_and_gets_nothing_twice()
{
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url);
    let services = Services::start();
    let dir = TestDir::new();
    let a = replica(&services, &stream, &dir).await;
    let b = replica(&services, &stream, &dir).await;

    // Without a cursor, a subscription starts at new events.
    let mut client = a.ws_ready().await;
    client.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    until_subscribed(&mut client, "news", || announce(&a, "probe")).await;
    announce(&a, "a1").await;
    announce(&b, "a2").await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let payload = client.next("news").await;
        if announced(&payload) != "probe" {
            seen.push(payload);
        }
    }
    let first = cursor_of(&seen[0]);
    assert_eq!(
        seen,
        [announcement("a1", first), announcement("a2", first + 1)]
    );
    client.close().await;

    // Published while the client is away, through either replica.
    announce(&b, "b1").await;
    announce(&a, "b2").await;

    let mut moved = b.ws_ready().await;
    moved
        .start(
            "news",
            resuming(ANNOUNCEMENTS_SUBSCRIPTION, (first + 1).to_string()),
        )
        .await;
    assert_eq!(moved.next("news").await, announcement("b1", first + 2));
    assert_eq!(moved.next("news").await, announcement("b2", first + 3));
    announce(&a, "b3").await;
    assert_eq!(moved.next("news").await, announcement("b3", first + 4));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_stream_keeps_is_refused_as_expired() {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url).max_msgs(3);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &stream, &dir).await;
    let publisher = stream.bus().await;
    for message in ["m1", "m2", "m3", "m4", "m5", "m6"] {
        publish_announcement(&publisher, &stream, message).await;
    }

    let mut client = gateway.ws_ready().await;
    client
        .start("old", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "2"))
        .await;
    let error = client.expect("error", "old").await;
    assert_eq!(
        error["payload"],
        refused(
            "the events after cursor 2 are no longer stored; the oldest available is 4 \
             (resume from 3 or subscribe without a cursor)",
            "CURSOR_EXPIRED"
        )
    );

    // Right after the last event it no longer has, nothing is missing.
    client
        .start("kept", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "3"))
        .await;
    assert_eq!(client.next("kept").await, announcement("m4", 4));
    assert_eq!(client.next("kept").await, announcement("m5", 5));
    assert_eq!(client.next("kept").await, announcement("m6", 6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_cursor_is_refused_as_invalid() {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &stream, &dir).await;
    announce(&gateway, "m1").await;

    let mut client = gateway.ws_ready().await;
    for (id, cursor) in [("text", "abc"), ("negative", "-1"), ("future", "99")] {
        client
            .start(id, resuming(ANNOUNCEMENTS_SUBSCRIPTION, cursor))
            .await;
        let error = client.expect("error", id).await;
        assert_eq!(
            error["payload"],
            refused(
                &format!("`{cursor}` is not a cursor of this gateway's events"),
                "CURSOR_INVALID"
            )
        );
    }
    client
        .start("number", resuming(ANNOUNCEMENTS_SUBSCRIPTION, 1))
        .await;
    let error = client.expect("error", "number").await;
    assert_eq!(
        error["payload"],
        json!([{
            "message": "`extensions.weft.resumeFrom` must be a cursor string, not `1`",
            "extensions": {"code": "CURSOR_INVALID"},
        }])
    );

    let mut events = sse::post(
        &gateway.graphql_url(),
        &json!({ "query": ANNOUNCEMENTS_SUBSCRIPTION }),
        &[("last-event-id", "1.5")],
    )
    .await;
    assert_eq!(
        next_sse(&mut events).await,
        (
            None,
            json!({"errors": refused(
                "`1.5` is not a cursor of this gateway's events",
                "CURSOR_INVALID"
            )})
        )
    );
    assert_eq!(
        events.next_event().await.map(|event| event.event),
        Some("complete".to_owned())
    );
}

#[tokio::test]
async fn a_cursor_on_the_in_memory_bus_is_refused_as_unsupported() {
    let (_services, _dir, gateway) = weft_tests::demo().await;
    let unsupported = refused(
        "this gateway's event bus keeps no events, so a subscription cannot resume; \
         subscribe without a cursor",
        "RESUME_UNSUPPORTED",
    );

    let mut client = gateway.ws_ready().await;
    client
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "3"))
        .await;
    let error = client.expect("error", "news").await;
    assert_eq!(error["payload"], unsupported);

    let mut events = sse::post(
        &gateway.graphql_url(),
        &json!({ "query": ANNOUNCEMENTS_SUBSCRIPTION }),
        &[("last-event-id", "3")],
    )
    .await;
    assert_eq!(
        next_sse(&mut events).await,
        (None, json!({ "errors": unsupported }))
    );
}

#[test]
fn a_jetstream_table_on_a_redis_bus_or_without_subjects_is_refused_where_it_stands() {
    for (events, message) in [
        (
            "[events]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n\
             jetstream = { subjects = [\"orders.>\"] }",
            "`[events] jetstream` needs `kind = \"nats\"`: only NATS stores events",
        ),
        (
            "[events]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n\
             jetstream = { stream = \"ORDERS\" }",
            "`[events] jetstream` needs `subjects`, the subjects its stream stores, e.g. \
             `subjects = [\"orders.>\"]`",
        ),
    ] {
        let dir = TestDir::new();
        let config = GatewayConfig::new(weft::demo::SCHEMA).extra(events);
        let problems = config
            .load(&dir)
            .expect_err("the config must be refused")
            .to_string();
        let line = line_of(&config.toml(), "jetstream =");
        let place = format!("{CONFIG_FILE}:{line}:13: {message}");
        assert!(
            problems.contains(&place),
            "expected {place:?} in:\n{problems}"
        );
        assert_eq!(problems.lines().count(), 1, "{problems}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_outside_the_stream_is_warned_of_at_start_up_travels_live_and_cannot_resume() {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url).storing(&["announcements"]);
    let services = Services::start();
    let dir = TestDir::new();
    let path = config(&services, &stream)
        .extra("[server]\nlisten = \"127.0.0.1:0\"")
        .write(&dir);
    let log = dir.path().join("weft.log");
    let weft = WeftProcess::start_logging(
        &["serve", "--config", path.to_str().expect("a UTF-8 path")],
        &[],
        &log,
    );
    let logged = std::fs::read_to_string(&log).expect("the log");
    let warnings: Vec<&str> = logged
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("JetStream stream"))
        .collect();
    let outside = stream.topic("orders.status");
    // The demo's other topic outside the stream, `stock.changed`, is warned
    // of too; the stored `announcements` is not.
    assert_eq!(warnings.len(), 2, "{logged}");
    assert!(
        !logged.contains("`Subscription.announcements` uses"),
        "{logged}"
    );
    let warning = warnings
        .iter()
        .find(|line| line.contains("`Subscription.orderStatusChanged`"))
        .unwrap_or_else(|| panic!("no warning of orderStatusChanged:\n{logged}"));
    assert!(
        warning.contains(&format!(
            "`Subscription.orderStatusChanged` uses topic `{outside}`, which is outside the \
             subjects of the JetStream stream `{}`",
            stream.name
        )),
        "{logged}"
    );

    let socket = format!("{}/graphql", weft.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, TRANSPORT_WS).await;
    client.init(None).await;
    client.start("resume", resuming(ORDER_7, "0")).await;
    let error = client.expect("error", "resume").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "RESUME_UNSUPPORTED",
        "{error}"
    );
    assert_eq!(
        error["payload"][0]["path"],
        json!(["orderStatusChanged"]),
        "{error}"
    );

    // Live over core NATS, without cursors.
    let orders = stream.bus().await;
    client.subscribe("live", ORDER_7).await;
    let first = until_subscribed(&mut client, "live", || {
        publish_change(&orders, &stream, "7", "PAID")
    })
    .await;
    assert_eq!(
        first,
        json!({"data": {"orderStatusChanged": {"orderId": "7", "status": "PAID"}}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_whose_consumers_are_lost_before_their_first_event_get_no_older_event() {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &stream, &dir).await;
    let publisher = stream.bus().await;
    publish_announcement(&publisher, &stream, "old1").await;
    publish_announcement(&publisher, &stream, "old2").await;

    let mut client = gateway.ws_ready().await;
    client.subscribe("fresh", ANNOUNCEMENTS_SUBSCRIPTION).await;
    client
        .start("resumed", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "2"))
        .await;
    let mut consumers = 0;
    for _ in 0..PROBES {
        consumers = stream.consumers().await;
        if consumers == 2 {
            break;
        }
        tokio::time::sleep(PROBE_WAIT).await;
    }
    assert_eq!(consumers, 2, "both subscriptions have their consumer");
    // Lost before either has had an event: each comes back where its
    // subscription started, not at the stream's first event.
    assert_eq!(stream.delete_consumers().await, 2);

    publish_announcement(&publisher, &stream, "new").await;
    let mut results = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let message = client.recv().await;
        assert_eq!(message["type"], "next", "{message}");
        results.insert(
            message["id"].as_str().unwrap_or_default().to_owned(),
            message["payload"].clone(),
        );
    }
    assert_eq!(
        results,
        [
            ("fresh".to_owned(), announcement("new", 3)),
            ("resumed".to_owned(), announcement("new", 3)),
        ]
        .into()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_starts_without_nats_and_creates_its_stream_once_nats_is_back() {
    let port = weft_tests::nats::free_port();
    let stream = TestStream::new(&format!("nats://127.0.0.1:{port}"));
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &stream, &dir).await;

    let mut client = gateway.ws_ready().await;
    client
        .start("down", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0"))
        .await;
    let error = client.expect("error", "down").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{error}"
    );

    let _nats = NatsServer::start_on(port);
    for attempt in 0..PROBES {
        let id = format!("up{attempt}");
        client
            .start(&id, resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0"))
            .await;
        let refused = tokio::time::timeout(PROBE_WAIT * 3, client.recv()).await;
        if let Ok(message) = refused {
            assert_eq!(message["type"], "error", "{message}");
            tokio::time::sleep(PROBE_WAIT).await;
            continue;
        }
        // The stream exists now: an announcement is stored and delivered.
        announce(&gateway, "back").await;
        assert_eq!(client.next(&id).await, announcement("back", 1));
        return;
    }
    panic!("no subscription succeeded after NATS came back");
}
