//! Resumable subscriptions on the Redis Streams bus (`[events] kind =
//! "redis"` with `streams`): every result carries its event's cursor, the
//! entry id in the topic's stream (SSE `id:`, `extensions.weft.cursor`),
//! and a client that names its last cursor (SSE `Last-Event-ID`,
//! `extensions.weft.resumeFrom`) gets exactly the events it missed, in
//! order and once — after the gateway process restarted, on another
//! replica, and while events keep coming as it switches from stored to
//! live ones; mutations reach subscribers on every replica, and an open
//! subscription gets them again after Redis restarted; a cursor the
//! stream no longer covers and a malformed one are refused with their
//! codes; a `streams` table a config cannot have is refused where it
//! stands; a gateway started before Redis subscribes once Redis is up.
//!
//! The server is the one on 127.0.0.1:6379, or a `redis-server` started
//! for the test (see [`RedisServer`]). Every test has stream keys of its
//! own ([`TestRedisStreams`]), deleted when it ends.

use serde_json::{Value, json};
use weft::events::redis_streams::RedisStreamsBus;
use weft::events::{Cursor, EventBus};
use weft_tests::nats::{free_port, isolated_demo_schema};
use weft_tests::replicas::{PROBE_WAIT, PROBES, announce, announced, until_subscribed};
use weft_tests::resume::{cursor_text, next_sse, refused, resuming, serve};
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, CONFIG_FILE, GatewayConfig, LEGACY_WS, RedisServer, Services,
    TRANSPORT_WS, TestDir, TestGateway, TestRedisStreams, WsClient, line_of, sse,
};

/// Status changes of order 7 only (the `@event` filter passes over the
/// others); no field calls a backend.
const ORDER_7: &str = r#"subscription { orderStatusChanged(orderId: "7") { orderId status } }"#;

/// The demo over `services` on the Redis Streams bus of `streams`, its
/// topics under the streams' prefix.
fn config(services: &Services, streams: &TestRedisStreams) -> GatewayConfig {
    GatewayConfig::demo(services)
        .schema(&isolated_demo_schema(&streams.prefix))
        .extra(&streams.events_toml())
}

async fn replica(services: &Services, streams: &TestRedisStreams, dir: &TestDir) -> TestGateway {
    let config = config(services, streams)
        .load(dir)
        .unwrap_or_else(|problems| panic!("the Redis Streams config does not load:\n{problems}"));
    TestGateway::connect(&config)
        .await
        .unwrap_or_else(|problems| panic!("a gateway on Redis Streams does not start:\n{problems}"))
}

/// Publishes a status change of `order`, as the orders service would.
async fn publish_change(
    bus: &RedisStreamsBus,
    streams: &TestRedisStreams,
    order: &str,
    status: &str,
) {
    bus.publish(
        &streams.topic("orders.status"),
        json!({"orderId": order, "userId": "1", "status": status}),
    )
    .await
    .unwrap_or_else(|error| panic!("cannot publish to the stream: {error}"));
}

/// Publishes an announcement.
async fn publish_announcement(bus: &RedisStreamsBus, streams: &TestRedisStreams, message: &str) {
    bus.publish(&streams.topic("announcements"), json!({"message": message}))
        .await
        .unwrap_or_else(|error| panic!("cannot publish to the stream: {error}"));
}

/// A result of [`ORDER_7`] for the event at `cursor`.
fn change_of_7(status: &str, cursor: &str) -> Value {
    json!({
        "data": {"orderStatusChanged": {"orderId": "7", "status": status}},
        "extensions": {"weft": {"cursor": cursor}},
    })
}

/// A result of the announcements subscription for the event at `cursor`.
fn announcement(message: &str, cursor: &str) -> Value {
    json!({
        "data": {"announcements": {"message": message}},
        "extensions": {"weft": {"cursor": cursor}},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_with_last_event_id_gets_exactly_the_missed_events_after_the_gateway_process_restarts()
{
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let path = config(&services, &streams)
        .extra("[server]\nlisten = \"127.0.0.1:0\"")
        .write(&dir);
    let orders = streams.bus().await;
    let body = json!({ "query": ORDER_7 });

    let first = serve(&path);
    let url = format!("{}/graphql", first.url);
    // From before the stream's first entry: nothing is missed while the
    // subscription is being set up.
    let mut events = sse::post(&url, &body, &[("last-event-id", "0-0")]).await;
    publish_change(&orders, &streams, "7", "PAID").await;
    publish_change(&orders, &streams, "8", "PAID").await; // filtered out
    publish_change(&orders, &streams, "7", "SHIPPED").await;
    let ids = streams.entry_ids("orders.status");
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(
        next_sse(&mut events).await,
        (Some(ids[0].clone()), change_of_7("PAID", &ids[0]))
    );
    assert_eq!(
        next_sse(&mut events).await,
        (Some(ids[2].clone()), change_of_7("SHIPPED", &ids[2]))
    );
    drop(events);
    drop(first);

    publish_change(&orders, &streams, "8", "SHIPPED").await; // filtered out
    publish_change(&orders, &streams, "7", "DELIVERED").await;
    publish_change(&orders, &streams, "8", "DELIVERED").await; // filtered out

    let second = serve(&path);
    let url = format!("{}/graphql", second.url);
    let mut events = sse::post(&url, &body, &[("last-event-id", &ids[2])]).await;
    let ids = streams.entry_ids("orders.status");
    assert_eq!(
        next_sse(&mut events).await,
        (Some(ids[4].clone()), change_of_7("DELIVERED", &ids[4]))
    );
    publish_change(&orders, &streams, "7", "CANCELLED").await; // live
    let ids = streams.entry_ids("orders.status");
    assert_eq!(
        next_sse(&mut events).await,
        (Some(ids[6].clone()), change_of_7("CANCELLED", &ids[6]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_client_resuming_from_its_cursor_gets_exactly_the_missed_events_after_a_restart()
 {
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let path = config(&services, &streams)
        .extra("[server]\nlisten = \"127.0.0.1:0\"")
        .write(&dir);
    let publisher = streams.bus().await;

    let first = serve(&path);
    let socket = format!("{}/graphql", first.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, TRANSPORT_WS).await;
    client.init(None).await;
    client
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0-0"))
        .await;
    publish_announcement(&publisher, &streams, "m1").await;
    publish_announcement(&publisher, &streams, "m2").await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(client.next("news").await, announcement("m1", &ids[0]));
    assert_eq!(client.next("news").await, announcement("m2", &ids[1]));
    drop(client);
    drop(first);

    publish_announcement(&publisher, &streams, "m3").await;
    publish_announcement(&publisher, &streams, "m4").await;

    // The restarted gateway, and the legacy subprotocol this time.
    let second = serve(&path);
    let socket = format!("{}/graphql", second.url.replacen("http", "ws", 1));
    let mut client = WsClient::connect(&socket, LEGACY_WS).await;
    client.init(None).await;
    client
        .start(
            "news",
            resuming(ANNOUNCEMENTS_SUBSCRIPTION, ids[1].as_str()),
        )
        .await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(client.next("news").await, announcement("m3", &ids[2]));
    assert_eq!(client.next("news").await, announcement("m4", &ids[3]));
    publish_announcement(&publisher, &streams, "m5").await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(client.next("news").await, announcement("m5", &ids[4]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_moved_from_replica_a_to_b_with_its_cursor_misses_nothing_and_gets_nothing_twice()
{
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let a = replica(&services, &streams, &dir).await;
    let b = replica(&services, &streams, &dir).await;

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
    let ids = streams.entry_ids("announcements");
    let stored = ids.len();
    assert_eq!(
        seen,
        [
            announcement("a1", &ids[stored - 2]),
            announcement("a2", &ids[stored - 1])
        ]
    );
    let last_seen = cursor_text(&seen[1]).to_owned();
    client.close().await;

    // Published while the client is away, through either replica.
    announce(&b, "b1").await;
    announce(&a, "b2").await;

    let mut moved = b.ws_ready().await;
    moved
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, last_seen))
        .await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(moved.next("news").await, announcement("b1", &ids[stored]));
    assert_eq!(
        moved.next("news").await,
        announcement("b2", &ids[stored + 1])
    );
    announce(&a, "b3").await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(
        moved.next("news").await,
        announcement("b3", &ids[stored + 2])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announce_mutation_reaches_subscribers_on_both_replicas_with_its_stored_cursor() {
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let a = replica(&services, &streams, &dir).await;
    let b = replica(&services, &streams, &dir).await;

    let mut on_a = a.ws_ready().await;
    on_a.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    until_subscribed(&mut on_a, "news", || announce(&b, "probe")).await;
    let mut on_b = b.ws_ready().await;
    on_b.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    until_subscribed(&mut on_b, "news", || announce(&a, "probe")).await;

    announce(&a, "hello from A").await;
    let id = streams
        .entry_ids("announcements")
        .pop()
        .expect("the announcement is stored");
    for client in [&mut on_a, &mut on_b] {
        let mut payload = client.next("news").await;
        while announced(&payload) == "probe" {
            payload = client.next("news").await;
        }
        assert_eq!(payload, announcement("hello from A", &id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_older_than_the_stream_keeps_is_refused_as_expired() {
    let redis = RedisServer::start();
    // `MAXLEN ~` trims whole nodes of the stream (100 entries each by
    // default), so it takes a few hundred events to trim any.
    let streams = TestRedisStreams::new(&redis.url).max_len(10);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &streams, &dir).await;
    let publisher = streams.bus().await;
    publish_announcement(&publisher, &streams, "first").await;
    let trimmed = streams.entry_ids("announcements").remove(0);
    for n in 0..300 {
        publish_announcement(&publisher, &streams, &format!("m{n}")).await;
    }
    let kept = streams.entry_ids("announcements");
    assert!(kept.len() < 300, "the stream was trimmed: {}", kept.len());
    let oldest = &kept[0];
    let before_oldest = Cursor::parse_entry(oldest)
        .expect("an entry id")
        .before()
        .to_string();

    let mut client = gateway.ws_ready().await;
    client
        .start(
            "old",
            resuming(ANNOUNCEMENTS_SUBSCRIPTION, trimmed.as_str()),
        )
        .await;
    let error = client.expect("error", "old").await;
    assert_eq!(
        error["payload"],
        refused(
            &format!(
                "the events after cursor {trimmed} are no longer stored; the oldest available \
                 is {oldest} (resume from {before_oldest} or subscribe without a cursor)"
            ),
            "CURSOR_EXPIRED"
        )
    );

    // Right before the oldest event kept, nothing is missing: every kept
    // event comes, in order.
    client
        .start("kept", resuming(ANNOUNCEMENTS_SUBSCRIPTION, before_oldest))
        .await;
    let first_kept = 300 - kept.len();
    for (n, id) in kept.iter().enumerate() {
        let message = format!("m{}", first_kept + n);
        assert_eq!(client.next("kept").await, announcement(&message, id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_or_foreign_cursor_is_refused_as_invalid() {
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &streams, &dir).await;
    announce(&gateway, "m1").await;

    let mut client = gateway.ws_ready().await;
    for (id, cursor) in [
        ("text", "abc"),
        ("sequence", "42"),
        ("three-parts", "1-2-3"),
        ("negative", "-1-0"),
        ("future", "99999999999999-0"),
    ] {
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

#[test]
fn a_streams_table_on_another_bus_or_with_bad_settings_is_refused_where_it_stands() {
    let redis = "[events]\nkind = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n";
    for (events, column, message) in [
        (
            "[events]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:4222\"\n\
             streams = { prefix = \"weft:\" }"
                .to_owned(),
            11,
            "`[events] streams` needs `kind = \"redis\"`: they are Redis Streams",
        ),
        (
            format!("{redis}streams = {{ max_len = 0 }}"),
            23,
            "`[events] streams.max_len` must be at least 1",
        ),
        (
            format!("{redis}streams = {{ prefix = \"a b\" }}"),
            22,
            "`[events] streams.prefix` `a b` must not contain spaces or control characters",
        ),
    ] {
        let dir = TestDir::new();
        let config = GatewayConfig::new(weft::demo::SCHEMA).extra(&events);
        let problems = config
            .load(&dir)
            .expect_err("the config must be refused")
            .to_string();
        let line = line_of(&config.toml(), "streams =");
        let place = format!("{CONFIG_FILE}:{line}:{column}: {message}");
        assert!(
            problems.contains(&place),
            "expected {place:?} in:\n{problems}"
        );
        assert_eq!(problems.lines().count(), 1, "{problems}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_starts_without_redis_and_subscribes_once_redis_is_up() {
    let port = free_port();
    let streams = TestRedisStreams::new(&format!("redis://127.0.0.1:{port}"));
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &streams, &dir).await;

    let mut client = gateway.ws_ready().await;
    client
        .start("down", resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0-0"))
        .await;
    let error = client.expect("error", "down").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{error}"
    );

    let _redis = RedisServer::start_on(port);
    for attempt in 0..PROBES {
        let id = format!("up{attempt}");
        client
            .start(&id, resuming(ANNOUNCEMENTS_SUBSCRIPTION, "0-0"))
            .await;
        let refused = tokio::time::timeout(PROBE_WAIT * 3, client.recv()).await;
        if let Ok(message) = refused {
            assert_eq!(message["type"], "error", "{message}");
            tokio::time::sleep(PROBE_WAIT).await;
            continue;
        }
        announce(&gateway, "back").await;
        let ids = streams.entry_ids("announcements");
        assert_eq!(client.next(&id).await, announcement("back", &ids[0]));
        return;
    }
    panic!("no subscription succeeded after Redis came up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_resuming_while_events_keep_coming_gets_each_once_in_order_across_the_seam() {
    let redis = RedisServer::start();
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &streams, &dir).await;
    let publisher = streams.bus().await;
    for n in 0..50 {
        publish_announcement(&publisher, &streams, &format!("m{n}")).await;
    }
    let after = streams.entry_ids("announcements")[19].clone();

    // Published while the subscription reads the stored events and goes
    // live.
    let topic = streams.topic("announcements");
    let publishing = tokio::spawn(async move {
        for n in 50..300 {
            publisher
                .publish(&topic, json!({"message": format!("m{n}")}))
                .await
                .unwrap_or_else(|error| panic!("cannot publish to the stream: {error}"));
        }
    });
    let mut client = gateway.ws_ready().await;
    client
        .start("news", resuming(ANNOUNCEMENTS_SUBSCRIPTION, after.as_str()))
        .await;
    let mut received = Vec::new();
    for _ in 20..300 {
        received.push(client.next("news").await);
    }
    publishing.await.expect("the publisher finished");

    let ids = streams.entry_ids("announcements");
    let expected: Vec<Value> = (20..300)
        .map(|n| announcement(&format!("m{n}"), &ids[n]))
        .collect();
    assert_eq!(received, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_subscription_gets_events_again_after_redis_restarts() {
    let port = free_port();
    let redis = RedisServer::start_on(port);
    let streams = TestRedisStreams::new(&redis.url);
    let services = Services::start();
    let dir = TestDir::new();
    let gateway = replica(&services, &streams, &dir).await;
    let mut client = gateway.ws_ready().await;
    client.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    until_subscribed(&mut client, "news", || announce(&gateway, "probe")).await;

    drop(redis);
    let _redis = RedisServer::start_on(port);
    let payload = until_subscribed(&mut client, "news", || async {
        // While the gateway reconnects, publishing may be refused.
        let _ = gateway
            .query(r#"mutation { announce(message: "again") { message } }"#)
            .await;
    })
    .await;
    let ids = streams.entry_ids("announcements");
    assert_eq!(payload, announcement("again", &ids[0]));
}
