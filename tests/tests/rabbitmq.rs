//! The RabbitMQ event bus (`[events] kind = "rabbitmq"`): two gateway
//! replicas on the same broker, where an `announce` mutation (`@publish`)
//! on replica A reaches subscribers on replica B and on A, and an order
//! event the orders service publishes to the broker reaches a subscriber on
//! replica B, nested fields resolved; a gateway that
//! starts while the broker cannot be reached, or loses it later, subscribes
//! again once it is back; a URL that is not AMQP's, or a kind that does not
//! exist, is refused at start-up, saying where.
//!
//! The broker is the one on 127.0.0.1:5672 (see [`RabbitMqServer`]). The
//! outage tests reach it through a [`TcpTap`] they drop and open again, so
//! the shared broker keeps running. Every test puts its routing keys under
//! a prefix of its own on the exchange `weft.tests`, so concurrent tests
//! and test runs never see each other's events.

use std::sync::Arc;

use serde_json::json;
use subgraphs::data;
use weft::Gateway;
use weft::config::Config;
use weft::events::rabbitmq::RabbitMqBus;
use weft_tests::nats::{free_port, isolated_demo_schema, unique_prefix};
use weft_tests::rabbitmq::amqp_url;
use weft_tests::replicas::{
    PROBES, announce, announced, subscribe_when_up, until_announced, until_subscribed,
};
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, CONFIG_FILE, GatewayConfig, PrefixedBus, RabbitMqServer, Services,
    TcpTap, TestDir, TestGateway, line_of,
};

/// The exchange every test publishes through.
const EXCHANGE: &str = "weft.tests";

/// The `[events]` section of a RabbitMQ bus at `url`.
fn rabbitmq_events(url: &str) -> String {
    format!("[events]\nkind = \"rabbitmq\"\nurl = \"{url}\"\nexchange = \"{EXCHANGE}\"")
}

/// The demo over `services` on the RabbitMQ at `url`, its topics under a
/// prefix of its own, loaded from `dir`.
fn rabbitmq_config(services: &Services, dir: &TestDir, url: &str) -> Config {
    prefixed_config(services, dir, url, &unique_prefix())
}

/// The demo over `services` on the RabbitMQ at `url`, its topics under
/// `prefix`, loaded from `dir`.
fn prefixed_config(services: &Services, dir: &TestDir, url: &str, prefix: &str) -> Config {
    GatewayConfig::demo(services)
        .schema(&isolated_demo_schema(prefix))
        .extra(&rabbitmq_events(url))
        .load(dir)
        .unwrap_or_else(|problems| panic!("the RabbitMQ config does not load:\n{problems}"))
}

async fn gateway(config: &Config) -> TestGateway {
    TestGateway::connect(config)
        .await
        .unwrap_or_else(|problems| panic!("a gateway on RabbitMQ does not start:\n{problems}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_on_replica_a_reaches_subscribers_on_replica_b_and_on_a() {
    let rabbitmq = RabbitMqServer::start();
    let services = Services::start();
    let dir = TestDir::new();
    let config = rabbitmq_config(&services, &dir, &rabbitmq.url);
    let a = gateway(&config).await;
    let b = gateway(&config).await;

    let mut on_b = b.ws_ready().await;
    on_b.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let probe = until_subscribed(&mut on_b, "news", || announce(&a, "probe")).await;
    assert_eq!(announced(&probe), "probe");
    let mut on_a = a.ws_ready().await;
    on_a.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let probe = until_subscribed(&mut on_a, "news", || announce(&a, "probe")).await;
    assert_eq!(announced(&probe), "probe");

    announce(&a, "hello from A").await;
    until_announced(&mut on_b, "news", "hello from A").await;
    until_announced(&mut on_a, "news", "hello from A").await;
    // Replica B publishes too, and each subscriber gets exactly the event.
    announce(&b, "hello from B").await;
    let expected = json!({"data": {"announcements": {"message": "hello from B"}}});
    assert_eq!(on_a.next("news").await, expected);
    assert_eq!(on_b.next("news").await, expected);
}

/// Changes order `id`'s status through `gateway`.
async fn set_status(gateway: &TestGateway, id: &str, status: &str) {
    let mutation =
        format!(r#"mutation {{ setOrderStatus(id: "{id}", status: {status}) {{ id }} }}"#);
    assert_eq!(
        gateway.query(&mutation).await,
        json!({"data": {"setOrderStatus": {"id": id}}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_event_the_orders_service_publishes_reaches_a_subscriber_on_replica_b() {
    let rabbitmq = RabbitMqServer::start();
    let prefix = unique_prefix();
    // The orders service publishes its events to RabbitMQ, as a separate
    // process would.
    let service_bus = RabbitMqBus::connect(&rabbitmq.url, EXCHANGE, 1024)
        .await
        .unwrap_or_else(|error| panic!("cannot use RabbitMQ at {}: {error}", rabbitmq.url));
    let services =
        Services::publishing_to(Arc::new(PrefixedBus::new(Arc::new(service_bus), &prefix)));
    let dir = TestDir::new();
    let config = prefixed_config(&services, &dir, &rabbitmq.url, &prefix);
    let a = gateway(&config).await;
    let b = gateway(&config).await;

    let order = &data::orders()[0];
    let query = "subscription ($orderId: ID) { orderStatusChanged(orderId: $orderId) { \
                 orderId status previousStatus user { name } } }";
    let mut client = b.ws_ready().await;
    client
        .start(
            "o",
            json!({"query": query, "variables": {"orderId": order.id}}),
        )
        .await;
    // Setting the status it already has emits an event each time.
    until_subscribed(&mut client, "o", || set_status(&a, &order.id, "PENDING")).await;
    set_status(&a, &order.id, "SHIPPED").await;
    let user = data::user(&order.user_id).expect("the order's user");
    let shipped = json!({"data": {"orderStatusChanged": {
        "orderId": order.id,
        "status": "SHIPPED",
        "previousStatus": "PENDING",
        "user": {"name": user.full_name},
    }}});
    for _ in 0..=PROBES {
        let payload = client.next("o").await;
        if payload == shipped {
            return;
        }
        let status = &payload["data"]["orderStatusChanged"]["status"];
        assert_eq!(status, "PENDING", "only the probes come first: {payload}");
    }
    panic!("the SHIPPED event never came after the probes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_starts_without_rabbitmq_and_subscribes_once_it_is_back() {
    let rabbitmq = RabbitMqServer::start();
    let port = free_port();
    let services = Services::start();
    let dir = TestDir::new();
    let url = amqp_url(([127, 0, 0, 1], port).into());
    let config = rabbitmq_config(&services, &dir, &url);
    let gateway = gateway(&config).await;
    let body = gateway.query(r#"{ user(id: "1") { name } }"#).await;
    assert_eq!(body["data"]["user"]["name"], "Margaret Allen", "{body}");

    let mut client = gateway.ws_ready().await;
    client.subscribe("down", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let error = client.expect("error", "down").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{error}"
    );
    let body = gateway
        .query(r#"mutation { announce(message: "lost") { message } }"#)
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{body}"
    );

    let _tap = TcpTap::start_on(port, rabbitmq.addr).await;
    subscribe_when_up(&mut client, &gateway, "up").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_resumes_after_the_connection_to_rabbitmq_is_lost() {
    let rabbitmq = RabbitMqServer::start();
    let tap = TcpTap::start(rabbitmq.addr).await;
    let port = tap.addr.port();
    let services = Services::start();
    let dir = TestDir::new();
    let config = rabbitmq_config(&services, &dir, &amqp_url(tap.addr));
    let gateway = gateway(&config).await;
    let mut client = gateway.ws_ready().await;
    let before = subscribe_when_up(&mut client, &gateway, "before").await;

    drop(tap);
    let _tap = TcpTap::start_on(port, rabbitmq.addr).await;
    // The subscription made before the outage gets events again.
    let payload = until_subscribed(&mut client, &before, || async {
        // While the gateway reconnects, publishing may be refused.
        let _ = gateway
            .query(r#"mutation { announce(message: "again") { message } }"#)
            .await;
    })
    .await;
    assert_eq!(announced(&payload), "again");
}

/// The start-up problems of the demo with `events` as its `[events]`
/// section, and the line of `needle` in its config file.
fn refused(events: &str, needle: &str) -> (String, usize) {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services).extra(events);
    let problems = config
        .load(&dir)
        .expect_err("the [events] section is refused")
        .to_string();
    (problems, line_of(&config.toml(), needle))
}

#[test]
fn a_url_that_is_not_amqp_is_refused_with_its_file_and_line() {
    let (problems, line) = refused(
        &rabbitmq_events("http://127.0.0.1:5672"),
        "url = \"http://127.0.0.1:5672\"",
    );
    assert!(
        problems.contains(&format!("{CONFIG_FILE}:{line}:")),
        "{problems}"
    );
    assert!(problems.contains("must start with amqp://"), "{problems}");
}

#[test]
fn an_unknown_bus_kind_is_refused_with_its_file_and_line() {
    let (problems, line) = refused(
        "[events]\nkind = \"rabbit\"\nurl = \"amqp://127.0.0.1:5672\"",
        "kind = \"rabbit\"",
    );
    assert!(
        problems.contains(&format!("{CONFIG_FILE}:{line}:")),
        "{problems}"
    );
    assert!(
        problems.contains("unknown event bus kind `rabbit`"),
        "{problems}"
    );
    assert!(problems.contains("\"rabbitmq\""), "{problems}");
}

#[tokio::test]
async fn a_malformed_amqp_url_stops_the_start_up_naming_it() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = rabbitmq_config(&services, &dir, "amqp://127.0.0.1:not-a-port/%2f");
    let Err(problems) = Gateway::connect(&config).await else {
        panic!("the gateway started on a malformed AMQP URL");
    };
    let problems = problems.to_string();
    assert!(problems.contains(CONFIG_FILE), "{problems}");
    assert!(
        problems.contains("cannot use RabbitMQ at amqp://127.0.0.1:not-a-port/%2f"),
        "{problems}"
    );
}
