//! Subscriptions end to end, over a gateway serving on a real socket whose
//! in-memory event bus the orders service publishes into: the graphql-ws npm
//! client; the legacy `graphql-ws` and the `graphql-transport-ws`
//! subprotocols message by message (acks, keep-alives, pings, every close
//! code, validation errors and their codes, the per-connection limit,
//! `complete`); Server-Sent Events over POST and GET; a gRPC server stream,
//! its cancellation upstream and a stream that cannot start; a backend
//! failing while an event's nested fields resolve; event filters;
//! `@publish`; a slow subscriber dropped with `SUBSCRIBER_TOO_SLOW` while a
//! fast one gets every event; and a thousand abruptly dropped clients
//! leaving no connection, subscription, topic or task behind.
//!
//! The `connection_init` payload is not covered: no resolver or directive
//! reads it yet, so it has no effect a test could observe.

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};
use subgraphs::catalog::{ROUTE_WATCH_STOCK, StockWalk};
use subgraphs::{ORDER_STATUS_TOPIC, data};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use weft::error::codes::SUBSCRIBER_TOO_SLOW as TOO_SLOW;
use weft::events::EventBus as _;
use weft_tests::npm::ensure_npm_dependencies;
use weft_tests::ws::{Ending, RECV_TIMEOUT};
use weft_tests::{
    ANNOUNCEMENTS_SUBSCRIPTION, BusDemo, LEGACY_WS, ORDER_CHANGES, TRANSPORT_WS, TcpTap,
    WAIT_TIMEOUT, WsClient, calls, error_codes, expected_calls, wait_for,
};

const ANNOUNCEMENTS: &str = "announcements";

const STOCK: &str = r#"subscription { stock(sku: "SKU-0001") { sku available product { name } } }"#;

fn seed_order(id: &str) -> &'static data::Order {
    data::orders()
        .iter()
        .find(|order| order.id == id)
        .unwrap_or_else(|| panic!("seed order {id}"))
}

fn seed_status(id: &str) -> &'static str {
    seed_order(id).status.as_str()
}

fn user_name(id: &str) -> &'static str {
    &data::user(id)
        .unwrap_or_else(|| panic!("seed user {id}"))
        .full_name
}

fn product_name(sku: &str) -> &'static str {
    &data::product(sku)
        .unwrap_or_else(|| panic!("seed product {sku}"))
        .name
}

/// The seed order's items as `items { quantity product { name } }`.
fn order_items(id: &str) -> Value {
    seed_order(id)
        .items
        .iter()
        .map(
            |item| json!({"quantity": item.quantity, "product": {"name": product_name(&item.sku)}}),
        )
        .collect()
}

/// `orderStatusChanged` as [`ORDER_CHANGES`] selects it, for a seed order
/// whose status went from `previous` to `status`.
fn expected_change(id: &str, status: &str, previous: &str) -> Value {
    let order = seed_order(id);
    json!({
        "orderId": id,
        "userId": order.user_id,
        "status": status,
        "previousStatus": previous,
        "order": {"id": id, "status": status, "items": order_items(id)},
        "user": {"name": user_name(&order.user_id)},
    })
}

async fn set_status(demo: &BusDemo, id: &str, status: &str) {
    let mutation =
        format!(r#"mutation {{ setOrderStatus(id: "{id}", status: {status}) {{ id status }} }}"#);
    let body = demo.gateway.query(&mutation).await;
    assert_eq!(
        body,
        json!({"data": {"setOrderStatus": {"id": id, "status": status}}})
    );
}

async fn announce(demo: &BusDemo, message: &str) {
    let body = demo
        .gateway
        .query_with(
            "mutation ($message: String!) { announce(message: $message) { message } }",
            json!({ "message": message }),
        )
        .await;
    assert_eq!(body, json!({"data": {"announce": {"message": message}}}));
}

fn announcement(message: &str) -> Value {
    json!({"data": {"announcements": {"message": message}}})
}

// --- the graphql-ws npm client -------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graphql_ws_npm_client_queries_and_gets_a_nested_order_event() {
    let js = ensure_npm_dependencies().await;
    let demo = BusDemo::start().await;
    let id = "12";
    let mut node = Command::new("node")
        .arg(js.join("subscribe.mjs"))
        .arg(demo.gateway.graphql_url())
        .arg(id)
        .arg("--go-on-stdin")
        .current_dir(&js)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run `node` (is Node.js installed?): {error}"));
    let mut stdin = node.stdin.take().expect("piped stdin");

    // The script changes the order's status once the gateway holds its
    // subscription.
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    while demo.subscribers(ORDER_STATUS_TOPIC) == 0 {
        if node.try_wait().expect("the script's status").is_some() {
            let output = node.wait_with_output().await.expect("the script's output");
            panic!(
                "the script ended ({}) before it subscribed:\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the script did not subscribe within {WAIT_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stdin
        .write_all(b"go\n")
        .await
        .expect("the script reads stdin");
    stdin.flush().await.expect("the script reads stdin");

    let output = tokio::time::timeout(RECV_TIMEOUT, node.wait_with_output())
        .await
        .expect("the script ends in time")
        .expect("the script runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert!(
        output.status.success(),
        "the script failed ({}):\n{stdout}{stderr}",
        output.status
    );
    let printed: Value = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|error| panic!("the script printed no JSON ({error}):\n{stdout}{stderr}"));

    assert_eq!(
        printed["query"],
        json!({"data": {"order": {"status": seed_status(id)}}}),
        "the query sent over the socket"
    );
    let order = seed_order(id);
    assert_eq!(
        printed["event"],
        json!({"data": {"orderStatusChanged": {
            "orderId": id,
            "status": "CANCELLED",
            "previousStatus": seed_status(id),
            "order": {"id": id, "items": order_items(id)},
            "user": {"name": user_name(&order.user_id)},
        }}})
    );
}

// --- legacy graphql-ws ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_legacy_protocol_acks_streams_data_and_completes_on_stop() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws(LEGACY_WS).await;
    assert_eq!(client.selected_protocol(), Some(LEGACY_WS));

    client.send(&json!({"type": "connection_init"})).await;
    assert_eq!(client.recv_any().await, json!({"type": "connection_ack"}));
    assert_eq!(client.recv_any().await, json!({"type": "ka"}));

    client
        .start(
            "1",
            json!({"query": ORDER_CHANGES, "variables": {"orderId": "9"}}),
        )
        .await;
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;
    set_status(&demo, "9", "SHIPPED").await;
    assert_eq!(
        client.next("1").await,
        json!({"data": {"orderStatusChanged": expected_change("9", "SHIPPED", seed_status("9"))}})
    );

    client.stop("1").await;
    assert_eq!(client.recv().await, json!({"type": "complete", "id": "1"}));
    demo.wait_idle().await;

    client.send(&json!({"type": "connection_terminate"})).await;
    let ending = client.ending().await;
    assert!(
        !matches!(ending, Ending::Closed(code, _) if code >= 4000),
        "connection_terminate is no error: {ending:?}"
    );
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
}

// --- graphql-transport-ws -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_gets_a_pong_and_a_query_runs_over_the_socket() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws(TRANSPORT_WS).await;
    assert_eq!(client.selected_protocol(), Some(TRANSPORT_WS));
    client.init(None).await;

    client.send(&json!({"type": "ping"})).await;
    assert_eq!(client.recv_any().await, json!({"type": "pong"}));

    client.subscribe("q", r#"{ user(id: "1") { name } }"#).await;
    assert_eq!(
        client.next("q").await,
        json!({"data": {"user": {"name": user_name("1")}}})
    );
    client.expect("complete", "q").await;
    demo.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_keeps_both_protocols_alive_every_keepalive_ms() {
    let demo = BusDemo::options()
        .extra("[subscriptions]\nkeepalive_ms = 100")
        .start()
        .await;

    let mut client = demo.gateway.ws_ready().await;
    assert_eq!(client.recv_any().await, json!({"type": "ping"}));
    client.send(&json!({"type": "pong"})).await;
    assert_eq!(client.recv_any().await, json!({"type": "ping"}));

    let mut legacy = demo.gateway.ws(LEGACY_WS).await;
    legacy.send(&json!({"type": "connection_init"})).await;
    assert_eq!(legacy.recv_any().await, json!({"type": "connection_ack"}));
    assert_eq!(legacy.recv_any().await, json!({"type": "ka"}));
    assert_eq!(
        legacy.recv_any().await,
        json!({"type": "ka"}),
        "a periodic ka"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribing_before_connection_init_closes_with_4401() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws(TRANSPORT_WS).await;
    client.subscribe("1", ANNOUNCEMENTS_SUBSCRIPTION).await;
    assert_eq!(client.close_code().await.0, 4401);
    assert_eq!(demo.subscribers(ANNOUNCEMENTS), 0);
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_init_in_time_closes_with_4408() {
    let demo = BusDemo::options()
        .extra("[subscriptions]\nconnection_init_timeout_ms = 200")
        .start()
        .await;
    let mut client = demo.gateway.ws(TRANSPORT_WS).await;
    assert_eq!(client.close_code().await.0, 4408);
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_operation_id_closes_with_4409() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("1", ANNOUNCEMENTS_SUBSCRIPTION).await;
    demo.wait_subscribers(ANNOUNCEMENTS, 1).await;
    client.subscribe("1", ANNOUNCEMENTS_SUBSCRIPTION).await;
    assert_eq!(client.close_code().await.0, 4409);
    demo.wait_idle().await;
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_connection_init_closes_with_4429() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.send(&json!({"type": "connection_init"})).await;
    assert_eq!(client.close_code().await.0, 4429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_is_not_json_closes_with_4400() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.send_text("{\"type\": \"subscribe\", ").await;
    assert_eq!(client.close_code().await.0, 4400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_subscription_gets_an_error_message_and_no_complete() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client
        .subscribe("bad", "subscription { noSuchField }")
        .await;
    let error = client.expect("error", "bad").await;
    let errors = error["payload"]
        .as_array()
        .unwrap_or_else(|| panic!("an error's payload is a list of errors: {error}"));
    assert_eq!(errors.len(), 1, "{error}");
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("noSuchField")),
        "{error}"
    );

    // The operation is over: the next messages belong to a new one, with no
    // `complete` for "bad" before them.
    client.subscribe("after", "{ __typename }").await;
    assert_eq!(
        client.next("after").await,
        json!({"data": {"__typename": "Query"}})
    );
    client.expect("complete", "after").await;
    demo.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validation_error_has_the_same_code_on_every_transport() {
    let demo = BusDemo::start().await;
    let invalid = "subscription { noSuchField }";

    let over_http = demo.gateway.query(invalid).await;
    assert_eq!(
        error_codes(&over_http),
        ["GRAPHQL_VALIDATION_FAILED"],
        "{over_http}"
    );

    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("bad", invalid).await;
    let error = client.expect("error", "bad").await;
    assert_eq!(
        error_codes(&json!({"errors": error["payload"]})),
        ["GRAPHQL_VALIDATION_FAILED"],
        "over WebSocket: {error}"
    );

    let mut stream = demo.gateway.sse_post(&json!({ "query": invalid })).await;
    let event = stream.next_event().await.expect("an event");
    assert_eq!(
        error_codes(&event.json()),
        ["GRAPHQL_VALIDATION_FAILED"],
        "over SSE: {event:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_subscriptions_than_allowed_get_an_error_and_the_others_keep_working() {
    let demo = BusDemo::options()
        .extra("[subscriptions]\nmax_per_connection = 2")
        .start()
        .await;
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("a", ANNOUNCEMENTS_SUBSCRIPTION).await;
    client.subscribe("b", ANNOUNCEMENTS_SUBSCRIPTION).await;
    demo.wait_subscribers(ANNOUNCEMENTS, 2).await;

    client.subscribe("c", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let error = client.expect("error", "c").await;
    assert_eq!(
        error_codes(&json!({"errors": error["payload"]})),
        ["TOO_MANY_SUBSCRIPTIONS"],
        "{error}"
    );
    assert_eq!(demo.subscribers(ANNOUNCEMENTS), 2);
    assert_eq!(demo.metrics().subscriptions_active(), 2);

    announce(&demo, "still here").await;
    let mut got = vec![client.recv().await, client.recv().await];
    got.sort_by_key(|message| message["id"].as_str().map(str::to_owned));
    assert_eq!(
        got,
        [
            json!({"type": "next", "id": "a", "payload": announcement("still here")}),
            json!({"type": "next", "id": "b", "payload": announcement("still here")}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_from_the_client_ends_the_subscription() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("s", ANNOUNCEMENTS_SUBSCRIPTION).await;
    demo.wait_subscribers(ANNOUNCEMENTS, 1).await;
    assert_eq!(demo.metrics().subscriptions_active(), 1);
    announce(&demo, "first").await;
    assert_eq!(client.next("s").await, announcement("first"));

    client.stop("s").await;
    demo.wait_idle().await;
    announce(&demo, "second").await;

    // Nothing more for "s": the next messages belong to a new operation.
    client.subscribe("q", "{ __typename }").await;
    assert_eq!(
        client.next("q").await,
        json!({"data": {"__typename": "Query"}})
    );
    client.expect("complete", "q").await;
    assert_eq!(demo.metrics().open_websockets(), 1);
}

// --- Server-Sent Events ---------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_over_post_streams_nested_events_until_the_client_leaves() {
    let demo = BusDemo::start().await;
    let mut stream = demo
        .gateway
        .sse_post(&json!({"query": ORDER_CHANGES, "variables": {"orderId": "15"}}))
        .await;
    assert_eq!(stream.status, 200);
    assert!(
        stream
            .header("content-type")
            .is_some_and(|value| value.starts_with("text/event-stream")),
        "{:?}",
        stream.headers
    );
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;

    set_status(&demo, "15", "DELIVERED").await;
    let event = stream.next_event().await.expect("an event");
    assert_eq!(event.event, "next");
    assert_eq!(
        event.json(),
        json!({"data": {"orderStatusChanged": expected_change("15", "DELIVERED", seed_status("15"))}})
    );

    drop(stream);
    demo.wait_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_over_get_takes_the_query_and_variables_from_the_url() {
    let demo = BusDemo::start().await;
    let mut stream = demo
        .gateway
        .sse_get(ORDER_CHANGES, Some(&json!({"orderId": "16"})))
        .await;
    assert_eq!(stream.status, 200);
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;

    set_status(&demo, "16", "PAID").await;
    let event = stream.next_event().await.expect("an event");
    assert_eq!(event.event, "next");
    assert_eq!(
        event.json(),
        json!({"data": {"orderStatusChanged": expected_change("16", "PAID", seed_status("16"))}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mutation_over_sse_is_one_next_then_complete() {
    let demo = BusDemo::start().await;
    let order = seed_order("17");
    let mut stream = demo
        .gateway
        .sse_post(&json!({
            "query": r#"mutation { setOrderStatus(id: "17", status: PAID) { id status user { name } } }"#
        }))
        .await;
    assert_eq!(stream.status, 200);

    let next = stream.next_event().await.expect("a next event");
    assert_eq!(next.event, "next");
    assert_eq!(
        next.json(),
        json!({"data": {"setOrderStatus": {
            "id": "17", "status": "PAID", "user": {"name": user_name(&order.user_id)}
        }}})
    );
    let complete = stream.next_event().await.expect("a complete event");
    assert_eq!(complete.event, "complete");
    assert_eq!(
        stream.next_event().await,
        None,
        "the stream ends after complete"
    );
    demo.wait_idle().await;
}

// --- a gRPC server stream -------------------------------------------------

/// Waits until the backend behind `tap` has sent nothing for a while: a
/// cancelled stream falls silent, one still running sends a level every
/// 20 ms.
async fn wait_until_backend_is_quiet(tap: &TcpTap) {
    const QUIET: Duration = Duration::from_millis(200);
    let deadline = tokio::time::Instant::now() + WAIT_TIMEOUT;
    loop {
        let before = tap.bytes_from_backend();
        tokio::time::sleep(QUIET).await;
        let sent = tap.bytes_from_backend() - before;
        if sent == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the catalog still streams to the gateway ({sent} bytes in the last {QUIET:?}) \
             {WAIT_TIMEOUT:?} after the subscription ended"
        );
    }
}

/// Reads `count` stock events of operation `id`, checking each against the
/// catalog's deterministic walk.
async fn expect_stock_levels(client: &mut WsClient, id: &str, count: usize) {
    let product = data::product("SKU-0001").expect("seed product SKU-0001");
    let mut walk = StockWalk::new(product);
    for index in 0..count {
        let available = if index == 0 {
            walk.level()
        } else {
            walk.step()
        };
        assert_eq!(
            client.next(id).await,
            json!({"data": {"stock": {
                "sku": "SKU-0001", "available": available, "product": {"name": product.name}
            }}}),
            "stock event {index}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_server_stream_yields_events_and_is_cancelled_upstream_when_the_client_leaves() {
    let demo = BusDemo::options()
        .stock_interval(Duration::from_millis(20))
        .tap_catalog()
        .start()
        .await;
    let tap = demo.catalog_tap.as_ref().expect("the catalog is tapped");
    let watch_calls = || demo.services.catalog.calls().count(ROUTE_WATCH_STOCK);

    // Ended by `complete`.
    let mut client = demo.gateway.ws_ready().await;
    let before = tap.bytes_from_backend();
    client.subscribe("stock", STOCK).await;
    expect_stock_levels(&mut client, "stock", 5).await;
    assert!(
        tap.bytes_from_backend() > before,
        "the stream goes through the tap"
    );
    client.stop("stock").await;
    demo.wait_idle().await;
    wait_until_backend_is_quiet(tap).await;
    assert_eq!(watch_calls(), 1);
    client.close().await;
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;

    // Ended by the client going away.
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("stock", STOCK).await;
    expect_stock_levels(&mut client, "stock", 2).await;
    drop(client);
    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
    demo.wait_idle().await;
    wait_until_backend_is_quiet(tap).await;
    assert_eq!(watch_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_that_cannot_start_upstream_is_an_error_message_with_the_source_code() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client
        .subscribe(
            "stock",
            r#"subscription { stock(sku: "SKU-9999") { sku available } }"#,
        )
        .await;
    let error = client.expect("error", "stock").await;
    assert_eq!(
        error_codes(&json!({"errors": error["payload"]})),
        ["SOURCE_GRPC_ERROR"],
        "{error}"
    );
    assert_eq!(
        error["payload"][0]["extensions"]["grpcStatus"], "NOT_FOUND",
        "{error}"
    );
    demo.wait_idle().await;
}

// --- a backend failing while events are resolved ------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_field_that_fails_in_an_event_is_null_with_its_error_and_the_subscription_goes_on()
{
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client
        .subscribe(
            "o",
            r#"subscription { orderStatusChanged(orderId: "20") { orderId status user { name } } }"#,
        )
        .await;
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;
    let BusDemo {
        gateway, services, ..
    } = demo;
    services.users.kill();

    // Over HTTP, the failed field is null with its error.
    let over_http = gateway
        .query(r#"{ order(id: "20") { id user { name } } }"#)
        .await;
    assert_eq!(
        over_http["data"],
        json!({"order": {"id": "20", "user": null}})
    );
    assert_eq!(
        error_codes(&over_http),
        ["SOURCE_UNAVAILABLE"],
        "{over_http}"
    );

    // In an event, the same.
    for status in ["PAID", "SHIPPED"] {
        let mutation =
            format!(r#"mutation {{ setOrderStatus(id: "20", status: {status}) {{ id }} }}"#);
        assert_eq!(
            gateway.query(&mutation).await,
            json!({"data": {"setOrderStatus": {"id": "20"}}})
        );
        let payload = client.next("o").await;
        assert_eq!(
            payload["data"],
            json!({"orderStatusChanged": {"orderId": "20", "status": status, "user": null}}),
            "{payload}"
        );
        assert_eq!(
            error_codes(&payload),
            ["SOURCE_UNAVAILABLE"],
            "the event after the {status} change: {payload}"
        );
        assert_eq!(
            payload["errors"][0]["path"],
            json!(["orderStatusChanged", "user"]),
            "{payload}"
        );
    }
}

// --- filters and @publish -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filtered_subscription_gets_only_its_orders_events() {
    let demo = BusDemo::start().await;
    let mut filtered = demo.gateway.ws_ready().await;
    filtered
        .start(
            "five",
            json!({"query": ORDER_CHANGES, "variables": {"orderId": "5"}}),
        )
        .await;
    let mut everything = demo.gateway.ws_ready().await;
    everything
        .subscribe(
            "all",
            "subscription { orderStatusChanged { orderId status } }",
        )
        .await;
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 2).await;

    set_status(&demo, "6", "SHIPPED").await;
    set_status(&demo, "5", "SHIPPED").await;
    set_status(&demo, "6", "DELIVERED").await;
    // Once the unfiltered subscriber has all three, all three were published.
    let mut seen: Vec<Value> = Vec::new();
    for _ in 0..3 {
        seen.push(everything.next("all").await["data"]["orderStatusChanged"].take());
    }
    seen.sort_by_key(Value::to_string);
    let mut published = vec![
        json!({"orderId": "6", "status": "SHIPPED"}),
        json!({"orderId": "5", "status": "SHIPPED"}),
        json!({"orderId": "6", "status": "DELIVERED"}),
    ];
    published.sort_by_key(Value::to_string);
    assert_eq!(seen, published);

    assert_eq!(
        filtered.next("five").await,
        json!({"data": {"orderStatusChanged": expected_change("5", "SHIPPED", seed_status("5"))}})
    );
    // Published after every event of order 6: anything of order 6 would
    // arrive before it.
    set_status(&demo, "5", "DELIVERED").await;
    assert_eq!(
        filtered.next("five").await,
        json!({"data": {"orderStatusChanged": expected_change("5", "DELIVERED", "SHIPPED")}})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announce_mutation_reaches_announcement_subscribers() {
    let demo = BusDemo::start().await;
    let mut client = demo.gateway.ws_ready().await;
    client.subscribe("news", ANNOUNCEMENTS_SUBSCRIPTION).await;
    demo.wait_subscribers(ANNOUNCEMENTS, 1).await;

    let body = demo
        .gateway
        .query(r#"mutation { announce(message: "hi") { message } }"#)
        .await;
    assert_eq!(body, json!({"data": {"announce": {"message": "hi"}}}));
    assert_eq!(client.next("news").await, announcement("hi"));
}

/// An `orders.status` event of seed order `id`, as the orders service
/// publishes it, straight onto the bus.
async fn publish_status(demo: &BusDemo, id: &str, status: &str) {
    let event = json!({
        "orderId": id,
        "userId": seed_order(id).user_id,
        "status": status,
        "previousStatus": seed_status(id),
    });
    demo.bus
        .publish(ORDER_STATUS_TOPIC, event)
        .await
        .expect("the in-memory bus publishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_of_one_subscription_share_each_event_s_run_and_its_backend_calls() {
    let demo = BusDemo::start().await;
    let request = json!({"query": ORDER_CHANGES, "variables": {"orderId": "22"}});
    // Published without changing the order: it keeps its seed status.
    let mut change = expected_change("22", "SHIPPED", seed_status("22"));
    change["order"]["status"] = json!(seed_status("22"));
    let expected = json!({"data": {"orderStatusChanged": change}});

    let mut first = demo.gateway.ws_ready().await;
    first.start("s", request.clone()).await;
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 1).await;
    demo.services.reset_calls();
    publish_status(&demo, "22", "SHIPPED").await;
    assert_eq!(first.next("s").await, expected);
    let one_subscriber = calls(&demo.services);

    let mut others = Vec::new();
    for _ in 0..3 {
        let mut client = demo.gateway.ws_ready().await;
        client.start("s", request.clone()).await;
        others.push(client);
    }
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 4).await;
    demo.services.reset_calls();
    publish_status(&demo, "22", "SHIPPED").await;
    for client in std::iter::once(&mut first).chain(&mut others) {
        assert_eq!(client.next("s").await, expected);
    }
    assert_eq!(
        calls(&demo.services),
        one_subscriber,
        "four subscribers of one subscription cost the calls of one"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_with_different_headers_get_backend_answers_of_their_own() {
    let demo = BusDemo::start().await;
    let request = json!({"query": ORDER_CHANGES, "variables": {"orderId": "23"}});
    let mut clients = Vec::new();
    for token in ["Bearer alice", "Bearer bob"] {
        let headers = [("authorization", token)];
        let mut client =
            WsClient::connect_with_headers(&demo.gateway.ws_url(), TRANSPORT_WS, &headers).await;
        client.init(None).await;
        client.start("s", request.clone()).await;
        clients.push(client);
    }
    demo.wait_subscribers(ORDER_STATUS_TOPIC, 2).await;
    demo.services.reset_calls();
    publish_status(&demo, "23", "SHIPPED").await;
    for client in &mut clients {
        let payload = client.next("s").await;
        assert_eq!(payload["data"]["orderStatusChanged"]["order"]["id"], "23");
    }
    assert_eq!(
        calls(&demo.services),
        expected_calls(&[
            ("orders", "GET /orders/{id}", 2),
            ("catalog", "BatchGetProducts", 2),
            ("users", "GET /users?ids", 2),
        ]),
        "each caller's event runs with its own headers"
    );
}

// --- backpressure ---------------------------------------------------------

/// The index an announcement of the backpressure test carries: its message
/// starts with it.
fn announcement_index(payload: &Value) -> Option<usize> {
    payload["data"]["announcements"]["message"]
        .as_str()?
        .split_once(' ')?
        .0
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_is_dropped_with_subscriber_too_slow_while_a_fast_one_gets_everything() {
    const EVENTS: usize = 2_000;
    let demo = BusDemo::options().buffer(4).start().await;
    let bus = demo.gateway.gateway.bus.clone();

    let mut slow = demo.gateway.ws_ready().await;
    slow.subscribe("slow", ANNOUNCEMENTS_SUBSCRIPTION).await;
    let mut fast = demo.gateway.ws_ready().await;
    fast.subscribe("fast", ANNOUNCEMENTS_SUBSCRIPTION).await;
    demo.wait_subscribers(ANNOUNCEMENTS, 2).await;

    // 2,000 events of 16 KiB: far more than socket buffers, the
    // connection's outbox and the bus's 4 hold, so the slow client (which
    // reads nothing now) falls behind. The fast one reads each event before
    // the next is published.
    let padding = "x".repeat(16 * 1024);
    for index in 0..EVENTS {
        let message = json!({"message": format!("{index:06} {padding}")});
        tokio::time::timeout(RECV_TIMEOUT, bus.publish(ANNOUNCEMENTS, message))
            .await
            .unwrap_or_else(|_| panic!("publishing event {index} waits for a subscriber"))
            .expect("the in-memory bus publishes");
        let payload = fast.next("fast").await;
        assert_eq!(
            announcement_index(&payload),
            Some(index),
            "the fast subscriber's event {index}"
        );
    }

    // The slow client reads again: what it got before it fell behind, then
    // the error, then complete.
    let mut received = Vec::new();
    let error = loop {
        let payload = slow.next("slow").await;
        if payload.get("errors").is_some() {
            break payload;
        }
        received.push(announcement_index(&payload).expect("an announcement"));
        assert!(
            received.len() < EVENTS,
            "the slow subscriber got all {EVENTS} events: it never fell behind"
        );
    };
    assert_eq!(error_codes(&error), [TOO_SLOW], "{error}");
    slow.expect("complete", "slow").await;
    assert_eq!(
        received,
        (0..received.len()).collect::<Vec<_>>(),
        "the slow subscriber's events before it fell behind, in order"
    );

    // The slow subscriber is gone from the bus; the fast one carries on.
    demo.wait_subscribers(ANNOUNCEMENTS, 1).await;
    wait_for("active subscriptions", 1, || {
        demo.metrics().subscriptions_active()
    })
    .await;
    bus.publish(
        ANNOUNCEMENTS,
        json!({"message": format!("{EVENTS:06} last")}),
    )
    .await
    .expect("the in-memory bus publishes");
    assert_eq!(announcement_index(&fast.next("fast").await), Some(EVENTS));
}

// --- no leaks -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dropped_clients_leave_no_connection_subscription_topic_or_task_behind() {
    const CLIENTS: usize = 1_000;
    let demo = BusDemo::start().await;
    let runtime = tokio::runtime::Handle::current().metrics();
    let baseline = (
        demo.metrics().open_websockets(),
        demo.metrics().subscriptions_active(),
        demo.bus.hub().topics(),
        runtime.num_alive_tasks(),
    );
    assert_eq!((baseline.0, baseline.1, baseline.2), (0, 0, 0));

    let clients: Vec<WsClient> = futures::stream::iter(0..CLIENTS)
        .map(|_| async {
            let mut client = demo.gateway.ws_ready().await;
            client.subscribe("1", ANNOUNCEMENTS_SUBSCRIPTION).await;
            client
        })
        .buffer_unordered(100)
        .collect()
        .await;
    demo.wait_subscribers(ANNOUNCEMENTS, CLIENTS).await;
    let open = i64::try_from(CLIENTS).expect("a small count");
    assert_eq!(demo.metrics().open_websockets(), open);
    assert_eq!(demo.metrics().subscriptions_active(), open);

    // Gone without a close frame or `complete`.
    drop(clients);

    wait_for("open WebSockets", 0, || demo.metrics().open_websockets()).await;
    wait_for("active subscriptions", 0, || {
        demo.metrics().subscriptions_active()
    })
    .await;
    wait_for("topics on the bus", 0, || demo.bus.hub().topics()).await;
    wait_for("alive tasks on the gateway's runtime", baseline.3, || {
        runtime.num_alive_tasks()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_stops_counting_as_active() {
    let demo = BusDemo::start().await;
    let bus = demo.gateway.gateway.bus.clone();
    let mut stalled = demo.gateway.ws_ready().await;
    stalled
        .subscribe("stalled", ANNOUNCEMENTS_SUBSCRIPTION)
        .await;
    demo.wait_subscribers(ANNOUNCEMENTS, 1).await;
    wait_for("active subscriptions", 1, || {
        demo.metrics().subscriptions_active()
    })
    .await;
    // Far more than socket buffers and the connection's outbox hold, but
    // within the bus's buffer: the operation waits on its client, which
    // reads nothing, and stops counting as active after a while.
    let padding = "x".repeat(16 * 1024);
    for index in 0..2_000 {
        bus.publish(
            ANNOUNCEMENTS,
            json!({"message": format!("{index:06} {padding}")}),
        )
        .await
        .expect("the in-memory bus publishes");
        // Paced, so that the operation keeps up with the bus and waits on
        // its client instead of falling behind the bus first.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_for("active subscriptions", 0, || {
        demo.metrics().subscriptions_active()
    })
    .await;
    drop(stalled);
}
