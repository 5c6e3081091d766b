//! Failing backends: a service killed mid-run, a backend slower than its
//! timeout, one that answers with something that is not JSON, with HTTP 500,
//! with a value of the wrong type, and gRPC errors. A failure must only fail
//! the fields the backend serves, with the documented `extensions.code`.
//!

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use subgraphs::data;
use weft_tests::{GatewayConfig, StubBackend, TestDir, TestGateway, demo, error_codes};

const USER_QUERY: &str = r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#;

/// A gateway over one REST source `stub` (timeout `timeout_ms`) with this
/// schema.
async fn over_stub(stub: &StubBackend, schema: &str, timeout_ms: u64) -> (TestDir, TestGateway) {
    let dir = TestDir::new();
    let config = GatewayConfig::new(schema)
        .rest_source("stub", &stub.url, timeout_ms)
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the stub config does not load:\n{problems}"));
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the stub schema does not build:\n{problems}"));
    (dir, gateway)
}

/// The paths `["user","orders",i,"items",j,"product"]` of every item of
/// user 1's orders.
fn product_paths_of_user_1() -> BTreeSet<String> {
    data::orders()
        .iter()
        .filter(|order| order.user_id == "1")
        .enumerate()
        .flat_map(|(i, order)| {
            (0..order.items.len())
                .map(move |j| json!(["user", "orders", i, "items", j, "product"]).to_string())
        })
        .collect()
}

/// The error paths of a response, as JSON text.
fn error_paths(body: &Value) -> BTreeSet<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|error| error["path"].to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The value at a response path inside `data`; `None` when a key is absent.
fn at_path<'v>(data: &'v Value, path: &Value) -> Option<&'v Value> {
    path.as_array()
        .expect("a path")
        .iter()
        .try_fold(data, |value, segment| match segment {
            Value::String(key) => value.get(key.as_str()),
            Value::Number(index) => value.get(usize::try_from(index.as_u64()?).ok()?),
            _ => None,
        })
}

/// Asserts the one error of `body` has `code` and names `source`, and that
/// its message shows no backend address.
fn assert_single_error(body: &Value, code: &str, source: &str) {
    assert_eq!(error_codes(body), [code], "{body}");
    let message = body["errors"][0]["message"].as_str().expect("a message");
    assert!(
        message.contains(&format!("`{source}`")),
        "the message names the source: {message}"
    );
    assert!(
        !message.contains("127.0.0.1") && !message.contains("http://"),
        "the message shows no address: {message}"
    );
}

#[tokio::test]
async fn a_killed_catalog_fails_only_the_product_fields() {
    let (services, _dir, gateway) = demo().await;
    let before = gateway.query(USER_QUERY).await;
    assert_eq!(before.get("errors"), None, "{before}");

    services.catalog.kill();
    let after = gateway.query(USER_QUERY).await;

    let items = product_paths_of_user_1().len();
    let codes = error_codes(&after);
    assert_eq!(codes.len(), items, "one error per product field: {after}");
    assert!(
        codes.iter().all(|code| code == "SOURCE_UNAVAILABLE"),
        "{codes:?}"
    );
    for error in after["errors"].as_array().expect("errors") {
        let message = error["message"].as_str().expect("a message");
        assert_eq!(message, "source `catalog` is unavailable");
    }
    // Everything the users and orders services serve is still there.
    let user = &after["data"]["user"];
    assert_eq!(user["name"], before["data"]["user"]["name"]);
    let orders = user["orders"].as_array().expect("orders");
    let orders_before = before["data"]["user"]["orders"].as_array().expect("orders");
    assert_eq!(orders.len(), orders_before.len());
    for (order, order_before) in orders.iter().zip(orders_before) {
        assert_eq!(order["id"], order_before["id"]);
        assert_eq!(order["status"], order_before["status"]);
        let items = order["items"].as_array().expect("items");
        let items_before = order_before["items"].as_array().expect("items");
        assert_eq!(items.len(), items_before.len());
        for (item, item_before) in items.iter().zip(items_before) {
            assert_eq!(item["quantity"], item_before["quantity"]);
            assert!(
                item.get("product").is_none_or(Value::is_null),
                "no product without the catalog: {item}"
            );
        }
    }
}

#[tokio::test]
async fn a_killed_catalog_nulls_each_product_with_an_error_at_its_path() {
    let (services, _dir, gateway) = demo().await;
    assert_eq!(gateway.query(USER_QUERY).await.get("errors"), None);
    services.catalog.kill();
    let body = gateway.query(USER_QUERY).await;
    assert_eq!(error_paths(&body), product_paths_of_user_1(), "{body}");
    for error in body["errors"].as_array().expect("errors") {
        assert_eq!(error["extensions"]["code"], "SOURCE_UNAVAILABLE");
        assert_eq!(
            at_path(&body["data"], &error["path"]),
            Some(&Value::Null),
            "`product` is present and null at {}",
            error["path"]
        );
    }
}

#[tokio::test]
async fn a_killed_users_service_fails_only_the_user_field() {
    let (services, _dir, gateway) = demo().await;
    let query = r#"{ order(id: "1") { id userId user { name } } }"#;
    let before = gateway.query(query).await;
    assert_eq!(before.get("errors"), None, "{before}");
    let order = &data::orders()[0];
    assert_eq!(
        before["data"]["order"]["user"]["name"],
        data::user(&order.user_id).expect("a seed user").full_name
    );

    services.users.kill();
    let body = gateway.query(query).await;
    assert_single_error(&body, "SOURCE_UNAVAILABLE", "users");
    assert_eq!(body["data"]["order"]["id"], "1");
    assert_eq!(body["data"]["order"]["userId"], order.user_id.as_str());
    assert!(body["data"]["order"].get("user").is_none_or(Value::is_null));
}

#[tokio::test]
async fn a_killed_users_service_nulls_the_user_with_an_error_at_its_path() {
    let (services, _dir, gateway) = demo().await;
    services.users.kill();
    let body = gateway
        .query(r#"{ order(id: "1") { id user { name } } }"#)
        .await;
    assert_eq!(
        body["data"],
        json!({ "order": { "id": "1", "user": null } }),
        "{body}"
    );
    assert_eq!(body["errors"][0]["path"], json!(["order", "user"]));
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "SOURCE_UNAVAILABLE"
    );
}

/// A killed service refuses connections; the gateway keeps serving the
/// others, and reports the outcome in its metrics.
#[tokio::test]
async fn a_killed_orders_service_is_counted_as_unavailable() {
    let (services, _dir, gateway) = demo().await;
    services.orders.kill();
    let body = gateway
        .query(r#"{ order(id: "1") { id } product(sku: "SKU-0001") { sku } }"#)
        .await;
    assert_single_error(&body, "SOURCE_UNAVAILABLE", "orders");
    assert_eq!(body["data"]["product"]["sku"], "SKU-0001");
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(r#"weft_source_requests_total{source="orders",outcome="unavailable"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"weft_source_requests_total{source="catalog",outcome="ok"} 1"#),
        "{metrics}"
    );
}

const STUB_SCHEMA: &str = r#"
type Query {
  thing: Thing @rest(source: "stub", get: "/thing")
  things: [Thing!] @rest(source: "stub", get: "/things")
  strictThing: Thing! @rest(source: "stub", get: "/thing")
  other: Thing @rest(source: "stub", get: "/other")
}

type Thing {
  id: ID!
  count: Int!
  label: String
}
"#;

fn thing() -> Value {
    json!({ "id": "1", "count": 3, "label": "one" })
}

#[tokio::test]
async fn a_backend_slower_than_its_timeout_is_a_source_timeout() {
    let stub = StubBackend::start(
        Router::new()
            .route(
                "/thing",
                get(|| async {
                    // The backend is told to be slow: far past the 200 ms timeout.
                    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                    axum::Json(thing())
                }),
            )
            .route("/other", get(|| async { axum::Json(thing()) })),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 200).await;
    let body = gateway.query("{ thing { id } other { id } }").await;
    assert_single_error(&body, "SOURCE_TIMEOUT", "stub");
    assert_eq!(
        body["errors"][0]["message"],
        "source `stub` did not answer within 200 ms"
    );
    assert!(body["data"].get("thing").is_none_or(Value::is_null));
    assert_eq!(body["data"]["other"]["id"], "1");
    let metrics = gateway.metrics().await;
    assert!(
        metrics.contains(r#"weft_source_requests_total{source="stub",outcome="timeout"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_json_is_a_source_bad_response() {
    let stub = StubBackend::start(
        Router::new()
            .route(
                "/thing",
                get(|| async { ([("content-type", "application/json")], "{\"id\": ") }),
            )
            .route("/other", get(|| async { "<html>not json</html>" })),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 1000).await;
    for query in ["{ thing { id } }", "{ other { id } }"] {
        let body = gateway.query(query).await;
        assert_single_error(&body, "SOURCE_BAD_RESPONSE", "stub");
        assert!(
            !body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("html"),
            "the backend's body is not shown: {body}"
        );
    }
}

#[tokio::test]
async fn a_500_is_a_source_http_error_with_its_status() {
    let stub = StubBackend::start(
        Router::new()
            .route(
                "/thing",
                get(|| async {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "database password is hunter2",
                    )
                }),
            )
            .route("/other", get(|| async { (StatusCode::NOT_FOUND, "gone") })),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 1000).await;
    let body = gateway.query("{ thing { id } other { id } }").await;
    assert_single_error(&body, "SOURCE_HTTP_ERROR", "stub");
    assert_eq!(body["errors"][0]["extensions"]["status"], 500);
    assert!(
        !body.to_string().contains("hunter2"),
        "the backend's body is not shown: {body}"
    );
    // 404 on a nullable field is `null` without an error.
    assert_eq!(body["data"]["other"], Value::Null);
}

/// A 404 on a non-null field cannot be `null`: it is an error like any other
/// status.
#[tokio::test]
async fn a_404_on_a_non_null_field_is_an_error() {
    let stub = StubBackend::start(
        Router::new().route("/thing", get(|| async { (StatusCode::NOT_FOUND, "gone") })),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 1000).await;
    let body = gateway.query("{ strictThing { id } }").await;
    assert_single_error(&body, "SOURCE_HTTP_ERROR", "stub");
    assert_eq!(body["errors"][0]["extensions"]["status"], 404);
}

/// `"count": "many"` where `count: Int!` is declared: a field error at
/// `things.1.count`. `count` and the list items are non-null, so the `null`
/// moves up to the nearest nullable field, the list itself.
#[tokio::test]
async fn a_value_of_the_wrong_type_is_a_source_bad_response() {
    let stub = StubBackend::start(Router::new().route(
        "/things",
        get(|| async {
            axum::Json(json!([
                { "id": "1", "count": 1, "label": "fine" },
                { "id": "2", "count": "many", "label": "broken" },
            ]))
        }),
    ))
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 1000).await;
    let body = gateway.query("{ things { id count label } }").await;
    assert_eq!(error_codes(&body), ["SOURCE_BAD_RESPONSE"], "{body}");
    assert_eq!(
        body["errors"][0]["message"],
        "the backend's answer does not fit the schema: expected an Int (a 32-bit integer), got \"many\""
    );
    assert_eq!(body["errors"][0]["path"], json!(["things", 1, "count"]));
    assert_eq!(body["data"], json!({ "things": null }));
}

/// A wrongly typed value, with the error where the spec puts it: at
/// `thing.count`; `count` is non-null, so its error nulls the nearest
/// nullable parent, `thing`.
#[tokio::test]
async fn a_value_of_the_wrong_type_is_reported_at_its_path() {
    let stub = StubBackend::start(Router::new().route(
        "/thing",
        get(|| async { axum::Json(json!({ "id": "2", "count": "many", "label": "broken" })) }),
    ))
    .await;
    let (_dir, gateway) = over_stub(&stub, STUB_SCHEMA, 1000).await;
    let body = gateway.query("{ thing { id count label } }").await;
    assert_eq!(error_codes(&body), ["SOURCE_BAD_RESPONSE"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["thing", "count"]));
    assert_eq!(body["data"], json!({ "thing": null }));
}

/// gRPC errors: `INVALID_ARGUMENT` is a `SOURCE_GRPC_ERROR` with the status
/// name; `NOT_FOUND` on a nullable field is `null`.
#[tokio::test]
async fn grpc_errors_carry_their_status() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway
        .query(r#"{ product(sku: "") { name } missing: product(sku: "SKU-9999") { name } }"#)
        .await;
    assert_eq!(error_codes(&body), ["SOURCE_GRPC_ERROR"], "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["grpcStatus"],
        "INVALID_ARGUMENT"
    );
    assert_eq!(body["data"]["missing"], Value::Null);

    let body = gateway
        .query(r#"{ productPage(after: "not-a-token") { nextPageToken } }"#)
        .await;
    assert_eq!(error_codes(&body), ["SOURCE_GRPC_ERROR"], "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["grpcStatus"],
        "INVALID_ARGUMENT"
    );
}

const SHARED_ENTITY_SCHEMA: &str = r#"
type Query {
  parts: [Part]! @rest(source: "stub", get: "/parts")
}

type Part {
  id: ID!
  kindId: ID!
  kind: Kind @entity(key: "$this.kindId")
  weight: Int!
}

type Kind @key(fields: "id") @rest(source: "stub", get: "/kinds?ids={$batch.id}") {
  id: ID!
  size: Int!
  label: String
}
"#;

/// Entities named by several parents: the good one is written in full
/// under each, the broken one (`size` is no Int) fails under each parent
/// naming it, with the error at that parent's path and that parent's
/// `kind` nulled; one call loads both. The first part is nulled after its
/// kind was written (its `weight` is no Int): the next part naming that
/// kind writes it again.
#[tokio::test]
async fn an_entity_many_parents_name_is_written_or_failed_under_each() {
    let kind_calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&kind_calls);
    let stub = StubBackend::start(
        Router::new()
            .route(
                "/parts",
                get(|| async {
                    axum::Json(json!([
                        { "id": "p1", "kindId": "good", "weight": "heavy" },
                        { "id": "p2", "kindId": "bad", "weight": 2 },
                        { "id": "p3", "kindId": "good", "weight": 3 },
                        { "id": "p4", "kindId": "bad", "weight": 4 },
                        { "id": "p5", "kindId": "good", "weight": 5 },
                    ]))
                }),
            )
            .route(
                "/kinds",
                get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async {
                        axum::Json(json!([
                            { "id": "bad", "size": "large", "label": "broken" },
                            { "id": "good", "size": 3, "label": "fine" },
                        ]))
                    }
                }),
            ),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, SHARED_ENTITY_SCHEMA, 1000).await;
    let body = gateway
        .query("{ parts { id kind { size label } weight } }")
        .await;
    let good = json!({ "size": 3, "label": "fine" });
    assert_eq!(
        body["data"]["parts"],
        json!([
            null,
            { "id": "p2", "kind": null, "weight": 2 },
            { "id": "p3", "kind": good, "weight": 3 },
            { "id": "p4", "kind": null, "weight": 4 },
            { "id": "p5", "kind": good, "weight": 5 },
        ]),
        "{body}"
    );
    assert_eq!(error_codes(&body), ["SOURCE_BAD_RESPONSE"; 3], "{body}");
    let paths = [
        json!(["parts", 0, "weight"]),
        json!(["parts", 1, "kind", "size"]),
        json!(["parts", 3, "kind", "size"]),
    ];
    assert_eq!(
        error_paths(&body),
        paths.iter().map(Value::to_string).collect(),
        "{body}"
    );
    assert_eq!(
        kind_calls.load(Ordering::SeqCst),
        1,
        "one call for both kinds"
    );
}

const GROUPED_SCHEMA: &str = r#"
type Query {
  shelves: [Shelf]! @rest(source: "stub", get: "/shelves")
}

type Shelf {
  id: ID!
  boxes: [Box] @rest(source: "stub", get: "/boxes?shelfIds={$batch.id}", groupBy: "shelfId")
}

type Box {
  id: ID!
  weight: Int!
  label: Int
  things: [Thing!]! @rest(source: "stub", get: "/things?boxIds={$batch.id}", groupBy: "boxId")
}

type Thing {
  id: ID!
}
"#;

const SHELVES: usize = 8;
const BOXES: usize = 96;
/// Boxes whose weight is no Int.
const BAD_BOXES: [usize; 2] = [13, 70];
/// A box whose label is no Int.
const BAD_LABEL: usize = 41;

fn boxes_json() -> Value {
    (0..BOXES)
        .map(|n| {
            let weight = if BAD_BOXES.contains(&n) {
                json!("heavy")
            } else {
                json!(n)
            };
            let label = if n == BAD_LABEL { json!("x") } else { json!(n) };
            json!({ "id": format!("b{n}"), "shelfId": format!("s{}", n % SHELVES), "weight": weight, "label": label })
        })
        .collect()
}

/// Two things in each box, listed after all boxes' first things.
fn things_json() -> Value {
    (0..2 * BOXES)
        .map(|n| json!({ "id": format!("t{n}"), "boxId": format!("b{}", n % BOXES) }))
        .collect()
}

/// Many grouped items, listed in an order unlike their parents': each
/// parent gets its own items in the answer's order; a broken item is
/// nulled, and a broken nullable field, with its error at its path under
/// its own parent; the items grouped under each item are its own, the
/// broken ones' included.
#[tokio::test]
async fn grouped_items_are_written_under_their_parents_with_errors_at_their_paths() {
    let stub = StubBackend::start(
        Router::new()
            .route(
                "/shelves",
                get(|| async {
                    let shelves: Vec<Value> = (0..SHELVES)
                        .rev()
                        .map(|n| json!({ "id": format!("s{n}") }))
                        .collect();
                    axum::Json(Value::from(shelves))
                }),
            )
            .route("/boxes", get(|| async { axum::Json(boxes_json()) }))
            .route("/things", get(|| async { axum::Json(things_json()) })),
    )
    .await;
    let (_dir, gateway) = over_stub(&stub, GROUPED_SCHEMA, 1000).await;
    let body = gateway
        .query("{ shelves { id boxes { id weight label things { id } } } }")
        .await;
    let mut expected_paths = BTreeSet::new();
    let expected: Vec<Value> = (0..SHELVES)
        .rev()
        .enumerate()
        .map(|(place, shelf)| {
            let boxes: Vec<Value> = (0..BOXES)
                .filter(|n| n % SHELVES == shelf)
                .enumerate()
                .map(|(index, n)| {
                    let path = |field: &str| json!(["shelves", place, "boxes", index, field]);
                    let things = json!([{ "id": format!("t{n}") }, { "id": format!("t{}", n + BOXES) }]);
                    if BAD_BOXES.contains(&n) {
                        expected_paths.insert(path("weight").to_string());
                        Value::Null
                    } else if n == BAD_LABEL {
                        expected_paths.insert(path("label").to_string());
                        json!({ "id": format!("b{n}"), "weight": n, "label": null, "things": things })
                    } else {
                        json!({ "id": format!("b{n}"), "weight": n, "label": n, "things": things })
                    }
                })
                .collect();
            json!({ "id": format!("s{shelf}"), "boxes": boxes })
        })
        .collect();
    assert_eq!(body["data"]["shelves"], Value::from(expected), "{body}");
    assert_eq!(error_codes(&body), ["SOURCE_BAD_RESPONSE"; 3], "{body}");
    assert_eq!(error_paths(&body), expected_paths, "{body}");
}
