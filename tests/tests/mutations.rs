//! Mutations against the demo schema over the real orders service: placing
//! an order and reading it back, changing its status, mutations never being
//! shared or merged, and a backend refusal on a non-null mutation field.

use serde_json::{Value, json};
use subgraphs::{data, orders};
use weft_tests::{calls, demo, error_codes, expected_calls};

const PLACE_ORDER: &str = r"mutation Place($userId: ID!, $items: [OrderItemInput!]!) {
  placeOrder(userId: $userId, items: $items) {
    id userId status totalCents
    user { name }
    items { sku quantity unitPriceCents product { name priceCents } }
  }
}";

const ORDER_FIELDS: &str = "id userId status totalCents user { name } items { sku quantity unitPriceCents product { name priceCents } }";

fn price(sku: &str) -> i64 {
    data::product(sku)
        .unwrap_or_else(|| panic!("seed product {sku}"))
        .price_cents
}

/// The order the orders service creates for user 3 with two of SKU-0001 and
/// one of SKU-0002, as the gateway shows it.
fn expected_order(id: &str, status: &str) -> Value {
    let item = |sku: &str, quantity: i64| {
        let product = data::product(sku).expect("a seed product");
        json!({
            "sku": sku,
            "quantity": quantity,
            "unitPriceCents": product.price_cents,
            "product": { "name": product.name, "priceCents": product.price_cents },
        })
    };
    json!({
        "id": id,
        "userId": "3",
        "status": status,
        "totalCents": 2 * price("SKU-0001") + price("SKU-0002"),
        "user": { "name": data::user("3").expect("seed user 3").full_name },
        "items": [item("SKU-0001", 2), item("SKU-0002", 1)],
    })
}

fn place_variables() -> Value {
    json!({
        "userId": "3",
        "items": [{ "sku": "SKU-0001", "quantity": 2 }, { "sku": "SKU-0002", "quantity": 1 }],
    })
}

#[tokio::test]
async fn a_placed_order_is_pending_priced_and_can_be_read_back() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway.query_with(PLACE_ORDER, place_variables()).await;
    assert_eq!(body.get("errors"), None, "{body}");
    let first_new_id = (data::ORDER_COUNT + 1).to_string();
    let placed = &body["data"]["placeOrder"];
    assert_eq!(*placed, expected_order(&first_new_id, "PENDING"));

    let body = gateway
        .query(&format!(
            r#"{{ order(id: "{first_new_id}") {{ {ORDER_FIELDS} }} }}"#
        ))
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["order"], *placed);
    assert_eq!(
        calls(&services),
        expected_calls(&[
            ("orders", orders::ROUTE_CREATE, 1),
            ("orders", orders::ROUTE_GET, 1),
            ("users", subgraphs::users::ROUTE_BATCH, 2),
            ("catalog", subgraphs::catalog::ROUTE_BATCH_GET_PRODUCTS, 2),
        ])
    );
}

#[tokio::test]
async fn set_order_status_changes_the_stored_order() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway.query_with(PLACE_ORDER, place_variables()).await;
    let id = body["data"]["placeOrder"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("an order id: {body}"))
        .to_owned();
    services.reset_calls();

    let body = gateway
        .query_with(
            "mutation Set($id: ID!, $status: OrderStatus!) { setOrderStatus(id: $id, status: $status) { id status totalCents } }",
            json!({ "id": id, "status": "SHIPPED" }),
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let expected = expected_order(&id, "SHIPPED");
    assert_eq!(
        body["data"]["setOrderStatus"],
        json!({ "id": id, "status": "SHIPPED", "totalCents": expected["totalCents"] })
    );

    let body = gateway
        .query(&format!(r#"{{ order(id: "{id}") {{ {ORDER_FIELDS} }} }}"#))
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["order"], expected);
    assert_eq!(
        calls(&services),
        expected_calls(&[
            ("orders", orders::ROUTE_SET_STATUS, 1),
            ("orders", orders::ROUTE_GET, 1),
            ("users", subgraphs::users::ROUTE_BATCH, 1),
            ("catalog", subgraphs::catalog::ROUTE_BATCH_GET_PRODUCTS, 1),
        ])
    );
}

/// Two identical mutation fields are two calls, run in order: a mutation
/// is never answered from another one's call.
#[tokio::test]
async fn identical_mutations_are_each_sent() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query(
            r#"mutation {
                a: placeOrder(userId: "3", items: [{ sku: "SKU-0001", quantity: 1 }]) { id }
                b: placeOrder(userId: "3", items: [{ sku: "SKU-0001", quantity: 1 }]) { id }
            }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let first = data::ORDER_COUNT + 1;
    assert_eq!(
        body["data"],
        json!({
            "a": { "id": first.to_string() },
            "b": { "id": (first + 1).to_string() },
        })
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[("orders", orders::ROUTE_CREATE, 2)])
    );
}

/// The orders service answers 400 for an unknown SKU; `placeOrder` is
/// non-null, so `data` itself becomes null.
#[tokio::test]
async fn an_unknown_sku_is_a_source_http_error_on_place_order() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query_with(
            PLACE_ORDER,
            json!({ "userId": "3", "items": [{ "sku": "SKU-9999", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], "SOURCE_HTTP_ERROR");
    assert_eq!(error["extensions"]["status"], 400);
    let message = error["message"].as_str().expect("a message");
    assert!(
        message.contains("orders"),
        "the message names the source: {message}"
    );
    assert!(
        !message.contains("127.0.0.1") && !message.contains("unknown sku"),
        "the message shows neither the backend's address nor its body: {message}"
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[("orders", orders::ROUTE_CREATE, 1)])
    );

    // Nothing was stored.
    let body = gateway
        .query(&format!(
            r#"{{ order(id: "{}") {{ id }} }}"#,
            data::ORDER_COUNT + 1
        ))
        .await;
    assert_eq!(body, json!({ "data": { "order": null } }));
}

/// Setting the status of an order that does not exist is a 404 from the
/// orders service; on a non-null mutation field that is an error, not null.
#[tokio::test]
async fn setting_the_status_of_a_missing_order_is_an_error() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway
        .query(r#"mutation { setOrderStatus(id: "5000", status: PAID) { id } }"#)
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), ["SOURCE_HTTP_ERROR"]);
    assert_eq!(body["errors"][0]["extensions"]["status"], 404);
}

/// The error of a failed mutation field names the field in `path`.
#[tokio::test]
async fn a_failed_mutation_field_is_named_in_the_error_path() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway
        .query_with(
            PLACE_ORDER,
            json!({ "userId": "3", "items": [{ "sku": "SKU-9999", "quantity": 1 }] }),
        )
        .await;
    assert_eq!(body["data"], Value::Null, "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["placeOrder"]), "{body}");
    let body = gateway
        .query(r#"mutation { setOrderStatus(id: "5000", status: PAID) { id } }"#)
        .await;
    assert_eq!(
        body["errors"][0]["path"],
        json!(["setOrderStatus"]),
        "{body}"
    );
}
