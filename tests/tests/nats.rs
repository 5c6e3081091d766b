//! Two gateway replicas sharing a NATS event bus (`[events] kind = "nats"`):
//! an order status change made through replica A (published by the orders
//! service to NATS) and an `announce` mutation on A (`@publish`) both reach
//! a subscriber on replica B, nested fields resolved; events published
//! before a subscription exists are not delivered to it.
//!
//! The server is the one on 127.0.0.1:4222, or a `nats-server` started for
//! the test (see [`NatsServer`]). Every test puts its topics under a prefix
//! of its own, so concurrent tests and test runs on a shared server never
//! see each other's events.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use subgraphs::{ORDER_STATUS_TOPIC, data};
use weft::events::nats::NatsBus;
use weft::events::{Delivery, EventBus, EventStream};
use weft_tests::nats::{isolated_demo_schema, unique_prefix};
use weft_tests::replicas::{PROBE_WAIT, PROBES, announce, announced, until_subscribed};
use weft_tests::ws::RECV_TIMEOUT;
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, GatewayConfig, NatsServer, ORDER_CHANGES, PrefixedBus, Services,
    TestDir, TestGateway,
};

/// Two replicas over the same services and NATS server, and the test's own
/// connection to that server. Fields drop in order: gateways first, the
/// server (if started here) last.
struct Replicas {
    a: TestGateway,
    b: TestGateway,
    observer: NatsBus,
    prefix: String,
    _services: Services,
    _dir: TestDir,
    _nats: NatsServer,
}

async fn replicas() -> Replicas {
    let nats = NatsServer::start();
    let prefix = unique_prefix();
    let connect = || async {
        NatsBus::connect(&nats.url, 1024)
            .await
            .unwrap_or_else(|error| panic!("cannot connect to NATS at {}: {error}", nats.url))
    };
    // The orders service publishes its events to NATS, as a separate
    // process would.
    let service_bus: Arc<dyn EventBus> =
        Arc::new(PrefixedBus::new(Arc::new(connect().await), &prefix));
    let services = Services::publishing_to(service_bus);
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .schema(&isolated_demo_schema(&prefix))
        .extra(&format!(
            "[events]\nkind = \"nats\"\nurl = \"{}\"",
            nats.url
        ))
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the NATS config does not load:\n{problems}"));
    let replica = || async {
        TestGateway::connect(&config)
            .await
            .unwrap_or_else(|problems| panic!("a replica does not start:\n{problems}"))
    };
    let a = replica().await;
    let b = replica().await;
    Replicas {
        a,
        b,
        observer: connect().await,
        prefix,
        _services: services,
        _dir: dir,
        _nats: nats,
    }
}

impl Replicas {
    /// The test's own subscription to `topic` (under the test's prefix),
    /// established when this returns.
    async fn observe(&self, topic: &str) -> EventStream {
        self.observer
            .subscribe(&format!("{}.{topic}", self.prefix))
            .await
            .expect("the observer subscribes")
    }
}

/// The next event the observer sees.
async fn observed(events: &mut EventStream) -> Value {
    let delivery = tokio::time::timeout(RECV_TIMEOUT, events.next())
        .await
        .unwrap_or_else(|_| panic!("the observer saw nothing within {RECV_TIMEOUT:?}"));
    match delivery {
        Some(Delivery::Event(event)) => event.as_json().cloned().unwrap_or_default(),
        other => panic!("the observer got {other:?}"),
    }
}

async fn set_status(gateway: &TestGateway, id: &str, status: &str) {
    let mutation =
        format!(r#"mutation {{ setOrderStatus(id: "{id}", status: {status}) {{ id status }} }}"#);
    assert_eq!(
        gateway.query(&mutation).await,
        json!({"data": {"setOrderStatus": {"id": id, "status": status}}})
    );
}

fn product_name(sku: &str) -> &'static str {
    &data::product(sku)
        .unwrap_or_else(|| panic!("seed product {sku}"))
        .name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_status_change_through_replica_a_reaches_a_subscriber_on_replica_b() {
    let replicas = replicas().await;
    let mut changes = replicas.observe(ORDER_STATUS_TOPIC).await;

    // A fresh order, so the test's events are its own.
    let placed = replicas
        .a
        .query_with(
            r#"mutation ($items: [OrderItemInput!]!) { placeOrder(userId: "3", items: $items) { id status } }"#,
            json!({"items": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}]}),
        )
        .await;
    let id = placed["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no order placed: {placed}"))
        .to_owned();
    // Its creation event is on the server before B subscribes.
    assert_eq!(
        observed(&mut changes).await,
        json!({"orderId": id, "userId": "3", "status": "PENDING", "previousStatus": null, "version": 1})
    );

    let mut client = replicas.b.ws_ready().await;
    client
        .start(
            "o",
            json!({"query": ORDER_CHANGES, "variables": {"orderId": id}}),
        )
        .await;
    // Setting the status it already has emits an event each time.
    let first =
        until_subscribed(&mut client, "o", || set_status(&replicas.a, &id, "PENDING")).await;
    assert_eq!(
        first["data"]["orderStatusChanged"]["previousStatus"], "PENDING",
        "the creation event was published before the subscription: {first}"
    );

    set_status(&replicas.a, &id, "SHIPPED").await;
    let mut shipped = None;
    for _ in 0..=PROBES {
        let payload = client.next("o").await;
        let status = &payload["data"]["orderStatusChanged"]["status"];
        if status == "SHIPPED" {
            shipped = Some(payload);
            break;
        }
        assert_eq!(status, "PENDING", "only the probes come first: {payload}");
    }
    let shipped = shipped.expect("the SHIPPED event after the probes");
    assert_eq!(
        shipped,
        json!({"data": {"orderStatusChanged": {
            "orderId": id,
            "userId": "3",
            "status": "SHIPPED",
            "previousStatus": "PENDING",
            "order": {"id": id, "status": "SHIPPED", "items": [
                {"quantity": 2, "product": {"name": product_name("SKU-0001")}},
                {"quantity": 1, "product": {"name": product_name("SKU-0002")}},
            ]},
            "user": {"name": data::user("3").expect("seed user 3").full_name},
        }}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announcement_made_on_replica_a_reaches_a_subscriber_on_replica_b() {
    let replicas = replicas().await;
    let mut client = replicas.b.ws_ready().await;
    client.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let probe = until_subscribed(&mut client, "news", || announce(&replicas.a, "probe")).await;
    assert_eq!(announced(&probe), "probe");

    announce(&replicas.a, "hello from A").await;
    for _ in 0..=PROBES {
        let payload = client.next("news").await;
        if announced(&payload) == "hello from A" {
            assert_eq!(
                payload,
                json!({"data": {"announcements": {"message": "hello from A"}}})
            );
            return;
        }
        assert_eq!(announced(&payload), "probe");
    }
    panic!("replica B never got the announcement");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_before_a_subscription_exists_are_not_delivered_to_it() {
    let replicas = replicas().await;
    let mut announcements = replicas.observe("announcements").await;
    announce(&replicas.a, "before").await;
    // The server has handled it before B subscribes.
    assert_eq!(
        observed(&mut announcements).await,
        json!({"message": "before"})
    );

    let mut client = replicas.b.ws_ready().await;
    client.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let first = until_subscribed(&mut client, "news", || announce(&replicas.a, "probe")).await;
    assert_eq!(announced(&first), "probe", "{first}");

    announce(&replicas.a, "after").await;
    for _ in 0..=PROBES {
        let payload = client.next("news").await;
        match announced(&payload) {
            "after" => return,
            "probe" => {}
            other => panic!("replica B delivered {other:?}, published before it subscribed"),
        }
    }
    panic!("replica B never got the announcement made after it subscribed");
}

#[tokio::test]
async fn the_gateway_starts_without_nats_and_subscribes_once_it_is_back() {
    let port = weft_tests::nats::free_port();
    let services = Services::start();
    let dir = TestDir::new();
    let prefix = unique_prefix();
    let config = GatewayConfig::demo(&services)
        .schema(&isolated_demo_schema(&prefix))
        .extra(&format!(
            "[events]\nkind = \"nats\"\nurl = \"nats://127.0.0.1:{port}\""
        ))
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the NATS config does not load:\n{problems}"));
    let gateway = TestGateway::connect(&config)
        .await
        .unwrap_or_else(|problems| panic!("the gateway does not start without NATS:\n{problems}"));
    let body = gateway.query(r#"{ user(id: "1") { name } }"#).await;
    assert_eq!(body["data"]["user"]["name"], "Margaret Allen", "{body}");

    let mut client = gateway.ws_ready().await;
    client.subscribe("down", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let error = client.expect("error", "down").await;
    assert_eq!(
        error["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
        "{error}"
    );

    let _nats = NatsServer::start_on(port);
    for attempt in 0..PROBES {
        let id = format!("up{attempt}");
        client.subscribe(&id, ANNOUNCEMENTS_SUBSCRIPTION).await;
        let refused = tokio::time::timeout(Duration::from_millis(300), client.recv()).await;
        if let Ok(message) = refused {
            assert_eq!(message["type"], "error", "{message}");
            tokio::time::sleep(PROBE_WAIT).await;
        } else {
            let payload = until_subscribed(&mut client, &id, || announce(&gateway, "back")).await;
            assert_eq!(announced(&payload), "back");
            return;
        }
    }
    panic!("no subscription succeeded after NATS came back");
}
