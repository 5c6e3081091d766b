//! `@event(initial:, version:)` end to end: a subscriber first gets the
//! current state, then the changes, over WebSocket and SSE. The state comes
//! from the orders service (`GET /orders/{id}/latest-change`), or from a
//! stub `states` service beside the demo services; the events come from the
//! orders service and from the bus. To prove there is no gap and
//! no duplicate without relying on timing, the stub publishes events while
//! it answers the gateway's state request: the subscription is on the bus
//! by then, and the state is not yet sent. Also: a failing state fetch, and
//! the mistakes in `initial:` refused at start-up with their file and line.

use std::sync::{Arc, OnceLock};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use subgraphs::{ORDER_STATUS_TOPIC, data};
use weft::Gateway;
use weft::events::EventBus;
use weft_tests::{
    BusDemo, GatewayConfig, SCHEMA_FILE, StubBackend, TRANSPORT_WS, TestDir, line_of,
};

/// The state queries and the subscriptions that start with them: one over
/// the orders service, one over the stub.
const STATE_SCHEMA: &str = r#"
extend type Query {
  "The latest status change of an order, with its version."
  orderState(orderId: ID!): OrderStatusChange
    @rest(source: "orders", get: "/orders/{$args.orderId}/latest-change")
  "The same, from the stub."
  stubState(orderId: ID!): OrderStatusChange @rest(source: "states", get: "/states/{$args.orderId}")
}

extend type Subscription {
  orderTimeline(orderId: ID): OrderStatusChange!
    @event(topic: "orders.status", filter: "{ orderId: $args.orderId }",
           initial: "orderState", version: "version")
  stubTimeline(orderId: ID): OrderStatusChange!
    @event(topic: "orders.status", filter: "{ orderId: $args.orderId }",
           initial: "stubState", version: "version")
}
"#;

const TIMELINE: &str = "subscription ($orderId: ID) {
  orderTimeline(orderId: $orderId) { orderId status previousStatus order { status } }
}";

const STUB_TIMELINE: &str = "subscription ($orderId: ID) {
  stubTimeline(orderId: $orderId) { orderId status previousStatus order { status } }
}";

/// An order whose state the stub answers after publishing a newer event.
const RACED: &str = "15";
/// An order whose state the stub answers after publishing events the state
/// already reflects.
const REFLECTED: &str = "16";
/// An order the stub does not know.
const UNKNOWN: &str = "9999";
/// The version of every state the stub answers.
const STATE_VERSION: u64 = 3;

fn seed_status(id: &str) -> &'static str {
    data::orders()
        .iter()
        .find(|order| order.id == id)
        .map_or_else(|| panic!("seed order {id}"), |order| order.status.as_str())
}

fn change(id: &str, status: &str, previous: &str, version: u64) -> Value {
    json!({"orderId": id, "userId": "1", "status": status, "previousStatus": previous, "version": version})
}

/// What the stub answers for `id`: the seed status, at [`STATE_VERSION`].
fn state_of(id: &str) -> Value {
    change(id, seed_status(id), "PENDING", STATE_VERSION)
}

/// The `states` service: answers an order's state, after publishing the
/// events of [`RACED`] and [`REFLECTED`] to the gateway's bus.
async fn states(
    State(bus): State<Arc<OnceLock<Arc<dyn EventBus>>>>,
    Path(id): Path<String>,
) -> Response {
    if id == UNKNOWN {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such order"})),
        )
            .into_response();
    }
    let during_fetch = match id.as_str() {
        RACED => vec![change(&id, "SHIPPED", seed_status(&id), STATE_VERSION + 1)],
        REFLECTED => vec![
            change(&id, "CANCELLED", "PENDING", STATE_VERSION - 1),
            change(&id, "CANCELLED", "PENDING", STATE_VERSION),
        ],
        _ => Vec::new(),
    };
    let bus = bus.get().expect("the bus is set before any subscription");
    for event in during_fetch {
        bus.publish(ORDER_STATUS_TOPIC, event)
            .await
            .expect("the in-memory bus takes every event");
    }
    Json(state_of(&id)).into_response()
}

/// The demo with [`STATE_SCHEMA`] and its `states` stub.
async fn start() -> (BusDemo, StubBackend) {
    let bus = Arc::new(OnceLock::new());
    let stub = StubBackend::start(
        Router::new()
            .route("/states/{id}", get(states))
            .with_state(bus.clone()),
    )
    .await;
    let demo = BusDemo::options()
        .schema_extra(STATE_SCHEMA)
        .rest_source("states", &stub.url)
        .start()
        .await;
    let dyn_bus: Arc<dyn EventBus> = demo.bus.clone();
    let _ = bus.set(dyn_bus);
    (demo, stub)
}

/// `stubTimeline` as [`STUB_TIMELINE`] selects it.
fn timeline(id: &str, status: &str, previous: &str, order_status: &str) -> Value {
    json!({"data": {"stubTimeline": {
        "orderId": id, "status": status, "previousStatus": previous,
        "order": {"status": order_status},
    }}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_the_current_state_first_then_a_change() {
    let (demo, _stub) = start().await;
    let id = "12";
    let mut client = demo.gateway.ws_ready().await;
    client
        .start(
            "t",
            json!({"query": TIMELINE, "variables": {"orderId": id}}),
        )
        .await;
    let seeded = seed_status(id);
    let state = json!({"orderId": id, "status": seeded, "previousStatus": null,
        "order": {"status": seeded}});
    assert_eq!(
        client.next("t").await,
        json!({"data": {"orderTimeline": state}})
    );

    let mutation =
        format!(r#"mutation {{ setOrderStatus(id: "{id}", status: DELIVERED) {{ id }} }}"#);
    demo.gateway.query(&mutation).await;
    let change = json!({"orderId": id, "status": "DELIVERED", "previousStatus": seeded,
        "order": {"status": "DELIVERED"}});
    assert_eq!(
        client.next("t").await,
        json!({"data": {"orderTimeline": change}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_published_while_the_state_is_fetched_comes_right_after_it() {
    let (demo, _stub) = start().await;
    let mut stream = demo
        .gateway
        .sse_post(&json!({"query": STUB_TIMELINE, "variables": {"orderId": RACED}}))
        .await;
    let seeded = seed_status(RACED);
    let first = stream.next_event().await.expect("the state");
    assert_eq!(first.json(), timeline(RACED, seeded, "PENDING", seeded));
    let second = stream.next_event().await.expect("the raced event");
    assert_eq!(second.json(), timeline(RACED, "SHIPPED", seeded, seeded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_the_state_already_reflects_are_not_delivered() {
    let (demo, _stub) = start().await;
    let mut client = demo.gateway.ws_ready().await;
    client
        .start(
            "t",
            json!({"query": STUB_TIMELINE, "variables": {"orderId": REFLECTED}}),
        )
        .await;
    let seeded = seed_status(REFLECTED);
    assert_eq!(
        client.next("t").await,
        timeline(REFLECTED, seeded, "PENDING", seeded)
    );

    let newer = change(REFLECTED, "DELIVERED", seeded, STATE_VERSION + 1);
    demo.bus.publish(ORDER_STATUS_TOPIC, newer).await.unwrap();
    assert_eq!(
        client.next("t").await,
        timeline(REFLECTED, "DELIVERED", seeded, seeded),
        "the events of versions 2 and 3, published during the fetch, come before this one if at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_argument_the_state_needs_only_events_come() {
    let (demo, _stub) = start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.start("t", json!({"query": STUB_TIMELINE})).await;
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;
    let event = change("12", "PAID", "PENDING", 1);
    demo.bus.publish(ORDER_STATUS_TOPIC, event).await.unwrap();
    let seeded = seed_status("12");
    assert_eq!(
        client.next("t").await,
        timeline("12", "PAID", "PENDING", seeded)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_state_fetch_is_an_error_at_the_field_and_ends_the_subscription() {
    let (demo, _stub) = start().await;
    let mut client = demo.gateway.ws(TRANSPORT_WS).await;
    client.init(None).await;
    client
        .start(
            "t",
            json!({"query": STUB_TIMELINE, "variables": {"orderId": UNKNOWN}}),
        )
        .await;
    let result = client.next("t").await;
    assert_eq!(result["data"], Value::Null, "{result}");
    let error = &result["errors"][0];
    assert_eq!(error["path"], json!(["stubTimeline"]), "{result}");
    assert_eq!(error["extensions"]["code"], "SOURCE_HTTP_ERROR", "{result}");
    assert_eq!(error["extensions"]["status"], 404, "{result}");
    client.expect("complete", "t").await;
    demo.wait_idle().await;
}

// --- start-up errors ---------------------------------------------------------

/// A schema with the state query and a subscription whose `@event` ends
/// with `event_args`.
fn schema_with(state_query: &str, subscription: &str, event_args: &str) -> String {
    format!(
        r#"type Query {{
  {state_query} @rest(source: "states", get: "/states/{{$args.orderId}}")
  plain(orderId: ID!): Change @entity(key: "$args.orderId")
}}

type Change @key(fields: "orderId") @rest(source: "states", get: "/changes?ids={{$batch.orderId}}") {{
  orderId: ID!
  status: String
}}

type Other {{
  orderId: ID!
}}

type Subscription {{
  {subscription}
    @event(topic: "orders.status", {event_args})
}}
"#
    )
}

/// The one start-up problem of `schema`; it must stand on the line of
/// `needle` and mention `message`.
fn refused(schema: &str, needle: &str, message: &str) {
    let dir = TestDir::new();
    let config = GatewayConfig::new(schema).rest_source("states", "http://127.0.0.1:9", 1000);
    let built = config
        .load(&dir)
        .and_then(|config| Gateway::from_config(&config));
    let Err(problems) = built else {
        panic!("the gateway built although `initial:` is wrong:\n{schema}");
    };
    let problem = problems
        .0
        .iter()
        .find(|problem| problem.message.contains(message))
        .unwrap_or_else(|| panic!("no problem mentions {message:?}:\n{problems}"));
    assert_eq!(problem.file, dir.path().join(SCHEMA_FILE), "{problem}");
    assert_eq!(problem.line, line_of(schema, needle), "{problem}");
    assert!(problem.column > 0, "{problem}");
}

const QUERY: &str = "state(orderId: ID!): Change";
const SUBSCRIPTION: &str = "changes(orderId: ID): Change!";

#[test]
fn a_good_initial_builds() {
    let schema = schema_with(QUERY, SUBSCRIPTION, r#"initial: "state", version: "v""#);
    let dir = TestDir::new();
    let config = GatewayConfig::new(&schema)
        .rest_source("states", "http://127.0.0.1:9", 1000)
        .load(&dir)
        .expect("the config loads");
    if let Err(problems) = Gateway::from_config(&config) {
        panic!("the schema does not build:\n{problems}");
    }
}

#[test]
fn an_unknown_initial_field_is_refused() {
    let schema = schema_with(QUERY, SUBSCRIPTION, r#"initial: "stat""#);
    refused(
        &schema,
        "initial:",
        "names no field of Query; its fields are:",
    );
}

#[test]
fn an_initial_field_without_a_backend_is_refused() {
    let schema = schema_with(QUERY, SUBSCRIPTION, r#"initial: "plain""#);
    refused(&schema, "initial:", "must be served by @rest or @grpc");
}

#[test]
fn an_initial_field_of_another_type_is_refused() {
    let schema = schema_with(
        "state(orderId: ID!): Other",
        SUBSCRIPTION,
        r#"initial: "state""#,
    );
    refused(&schema, "initial:", "the types must be the same");
    let schema = schema_with(
        "state(orderId: ID!): [Change]",
        SUBSCRIPTION,
        r#"initial: "state""#,
    );
    refused(&schema, "initial:", "the types must be the same");
}

#[test]
fn arguments_that_do_not_match_are_refused() {
    let schema = schema_with(QUERY, "changes(id: ID): Change!", r#"initial: "state""#);
    refused(&schema, "initial:", "requires argument `orderId`");
    let schema = schema_with(
        QUERY,
        "changes(orderId: Int): Change!",
        r#"initial: "state""#,
    );
    refused(
        &schema,
        "initial:",
        "argument `orderId` is `Int` here but `ID!`",
    );
}

#[test]
fn a_version_without_initial_or_not_a_key_path_is_refused() {
    let schema = schema_with(QUERY, SUBSCRIPTION, r#"version: "v""#);
    refused(&schema, "version:", "add `initial:`");
    let schema = schema_with(QUERY, SUBSCRIPTION, r#"initial: "state", version: "a..b""#);
    refused(&schema, "initial:", "is not a key path");
}
