//! `@event(protobuf:)` end to end: a service publishes
//! `catalog.v1.StockLevel` messages as protobuf bytes on `stock.changed`,
//! and the demo's `stockChanged` subscription gets them as JSON, filtered
//! by its argument, the product resolved through the catalog. Bytes that
//! are not such a message, and JSON, are passed over; the next message
//! still arrives. Over a real NATS server (`[events] kind = "nats"`, the
//! service publishing with its own NATS client), over a JetStream stream
//! (stored messages read back from a cursor) and over the in-memory bus.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use prost::Message as _;
use serde_json::{Value, json};
use subgraphs::catalog::proto::StockLevel;
use subgraphs::data;
use weft::events::EventBus as _;
use weft::events::Payload;
use weft_tests::nats::{isolated_demo_schema, unique_prefix};
use weft_tests::replicas::until_subscribed;
use weft_tests::{
    BusDemo, GatewayConfig, NatsServer, Services, TestDir, TestGateway, TestStream, WsClient,
};

const SKU: &str = "SKU-0001";
const SUBSCRIPTION: &str = r#"subscription {
  stockChanged(sku: "SKU-0001") { sku available updatedAt product { name } }
}"#;
/// The `updatedAt` of every message: 500 000 hours after the epoch.
const UPDATED_AT: &str = "2027-01-15T08:00:00Z";

/// The protobuf bytes of a stock level of `sku`, as the catalog encodes it.
fn stock_level(sku: &str, available: i32) -> Vec<u8> {
    StockLevel {
        sku: sku.to_owned(),
        available,
        updated_at: Some((UNIX_EPOCH + Duration::from_hours(500_000)).into()),
    }
    .encode_to_vec()
}

/// Payloads the subscription passes over: not a message, truncated, JSON,
/// and a message of another product (filtered out).
fn unreadable() -> Vec<Vec<u8>> {
    vec![
        b"not a message".to_vec(),
        vec![0x0a, 0x05, b'S'],
        json!({"sku": SKU, "available": 5}).to_string().into_bytes(),
        stock_level("SKU-0002", 9),
    ]
}

/// The subscription result for a level of `available` of [`SKU`].
fn expected(available: i32) -> Value {
    let product = data::product(SKU).unwrap_or_else(|| panic!("seed product {SKU}"));
    json!({"data": {"stockChanged": {
        "sku": SKU, "available": available, "updatedAt": UPDATED_AT,
        "product": {"name": product.name}
    }}})
}

/// The next result of operation `id` that is not a probe (`available: 0`).
async fn next_after_probes(client: &mut WsClient, id: &str) -> Value {
    loop {
        let payload = client.next(id).await;
        if payload["data"]["stockChanged"]["available"] != json!(0) {
            return payload;
        }
    }
}

#[tokio::test]
async fn protobuf_messages_published_on_nats_reach_subscribers_as_json() {
    let nats = NatsServer::start();
    let prefix = unique_prefix();
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .schema(&isolated_demo_schema(&prefix))
        .extra(&format!(
            "[events]\nkind = \"nats\"\nurl = \"{}\"",
            nats.url
        ))
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the NATS config does not load:\n{problems}"));
    let gateway = TestGateway::connect(&config)
        .await
        .unwrap_or_else(|problems| panic!("the gateway does not start:\n{problems}"));
    let publisher = async_nats::connect(nats.url.as_str())
        .await
        .unwrap_or_else(|error| panic!("cannot connect to NATS at {}: {error}", nats.url));
    let subject = format!("{prefix}.stock.changed");
    let publish = |bytes: Vec<u8>| {
        let (publisher, subject) = (publisher.clone(), subject.clone());
        async move {
            publisher
                .publish(subject, bytes.into())
                .await
                .expect("NATS takes the message");
            publisher.flush().await.expect("NATS has the message");
        }
    };

    let mut client = gateway.ws_ready().await;
    client.subscribe("stock", SUBSCRIPTION).await;
    let probe = until_subscribed(&mut client, "stock", || publish(stock_level(SKU, 0))).await;
    assert_eq!(probe, expected(0));
    publish(stock_level(SKU, 3)).await;
    assert_eq!(next_after_probes(&mut client, "stock").await, expected(3));

    for bytes in unreadable() {
        publish(bytes).await;
    }
    publish(stock_level(SKU, 7)).await;
    assert_eq!(next_after_probes(&mut client, "stock").await, expected(7));
}

#[tokio::test]
async fn stored_protobuf_messages_are_read_back_from_a_cursor() {
    let nats = NatsServer::start();
    let stream = TestStream::new(&nats.url).storing(&["stock.changed"]);
    let topic = stream.topic("stock.changed");
    // A JSON event, published through weft's own bus (creating the stream).
    stream
        .bus()
        .await
        .publish(&topic, json!({"sku": SKU, "available": 5}))
        .await
        .expect("the stream takes a JSON event");
    let publisher = async_nats::jetstream::new(
        async_nats::connect(nats.url.as_str())
            .await
            .unwrap_or_else(|error| panic!("cannot connect to NATS at {}: {error}", nats.url)),
    );
    for bytes in [b"not a message".to_vec(), stock_level(SKU, 3)] {
        let acknowledged = publisher.publish(topic.clone(), bytes.into()).await;
        acknowledged
            .expect("the stream takes the message")
            .await
            .expect("the stream stores the message");
    }
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .schema(&isolated_demo_schema(&stream.prefix))
        .extra(&stream.events_toml())
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the JetStream config does not load:\n{problems}"));
    let gateway = TestGateway::connect(&config)
        .await
        .unwrap_or_else(|problems| panic!("the gateway does not start:\n{problems}"));

    let mut client = gateway.ws_ready().await;
    let request = json!({"query": SUBSCRIPTION, "extensions": {"weft": {"resumeFrom": "0"}}});
    client.start("stock", request).await;
    let mut result = expected(3);
    result["extensions"] = json!({"weft": {"cursor": "3"}});
    assert_eq!(client.next("stock").await, result);
}

#[tokio::test]
async fn protobuf_messages_on_the_in_memory_bus_reach_subscribers_as_json() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("stock", SUBSCRIPTION).await;
    demo.wait_subscribers("stock.changed", 1).await;
    let deliver = |bytes: Vec<u8>| {
        let payload = Arc::new(Payload::from_bytes(bytes));
        demo.bus.hub().deliver("stock.changed", payload);
    };

    deliver(stock_level(SKU, 3));
    assert_eq!(client.next("stock").await, expected(3));
    for bytes in unreadable() {
        deliver(bytes);
    }
    deliver(stock_level(SKU, 7));
    assert_eq!(client.next("stock").await, expected(7));
}
