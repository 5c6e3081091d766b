//! Queries against the demo schema over the real example services: the
//! cross-service query and its backend calls, lists, gRPC products with
//! enums, lists, nested messages and timestamps, paging, "not found" as
//! `null`, and path values that try to climb out of their URL segment.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use subgraphs::data::{self, Category, Order, ProductRecord};
use subgraphs::{catalog, orders, users};
use weft_tests::{
    GatewayConfig, Services, StubBackend, TestDir, TestGateway, calls, demo, error_codes,
    expected_calls,
};

const USER_QUERY: &str = r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#;

fn orders_of(user_id: &str) -> Vec<&'static Order> {
    data::orders()
        .iter()
        .filter(|order| order.user_id == user_id)
        .collect()
}

fn product(sku: &str) -> &'static ProductRecord {
    data::product(sku).unwrap_or_else(|| panic!("seed product {sku}"))
}

fn category_name(category: Category) -> &'static str {
    match category {
        Category::Books => "BOOKS",
        Category::Electronics => "ELECTRONICS",
        Category::Garden => "GARDEN",
        Category::Kitchen => "KITCHEN",
        Category::Toys => "TOYS",
    }
}

/// The calls of a query on one user's orders and their products, such as
/// [`USER_QUERY`]: one per service and level, `product_calls` to the
/// catalog.
fn user_query_calls(product_calls: u64) -> weft_tests::CallCounts {
    expected_calls(&[
        ("users", users::ROUTE_GET, 1),
        ("orders", orders::ROUTE_BY_USERS, 1),
        ("catalog", catalog::ROUTE_BATCH_GET_PRODUCTS, product_calls),
    ])
}

/// `data` of [`USER_QUERY`], from the seed data.
fn expected_user_data() -> Value {
    let user = data::user("1").expect("seed user 1");
    let orders: Vec<Value> = orders_of("1")
        .into_iter()
        .map(|order| {
            let items: Vec<Value> = order
                .items
                .iter()
                .map(|item| {
                    let product = product(&item.sku);
                    json!({
                        "quantity": item.quantity,
                        "product": { "name": product.name, "priceCents": product.price_cents },
                    })
                })
                .collect();
            json!({ "id": order.id, "status": order.status.as_str(), "items": items })
        })
        .collect();
    json!({ "user": { "name": user.full_name, "orders": orders } })
}

fn distinct_skus(orders: &[&Order]) -> usize {
    let mut skus: Vec<&str> = orders
        .iter()
        .flat_map(|order| order.items.iter().map(|item| item.sku.as_str()))
        .collect();
    skus.sort_unstable();
    skus.dedup();
    skus.len()
}

#[tokio::test]
async fn the_cross_service_query_returns_the_seed_data() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway.query(USER_QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"], expected_user_data());
    let orders = orders_of("1");
    assert!(
        orders.len() > 1 && orders.iter().any(|order| order.items.len() > 1),
        "user 1 should have several orders with several items for this test to mean much"
    );
}

/// One call per service level: the user, all of the user's orders, and one
/// batch for every product of every item (the catalog answers batches in
/// reversed order, so the gateway must match products by SKU, which the data
/// comparison above checks).
#[tokio::test]
async fn the_cross_service_query_makes_one_call_per_service_level() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway.query(USER_QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(calls(&services), user_query_calls(1));
}

/// With `max_batch_size = 1` on the catalog, every distinct product is its
/// own call (a product that appears twice is still fetched once).
#[tokio::test]
async fn without_batching_each_distinct_product_is_one_call() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services)
        .source_option("catalog", "max_batch_size = 1")
        .load(&dir)
        .unwrap();
    let gateway = TestGateway::start(&config).await.unwrap();
    let body = gateway.query(USER_QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"], expected_user_data());
    let products = u64::try_from(distinct_skus(&orders_of("1"))).unwrap();
    assert!(products > 1);
    assert_eq!(calls(&services), user_query_calls(products));
}

#[tokio::test]
async fn users_lists_every_user() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway.query("{ users { id name email createdAt } }").await;
    assert_eq!(body.get("errors"), None, "{body}");
    let expected: Vec<Value> = data::users()
        .iter()
        .map(|user| {
            json!({
                "id": user.id,
                "name": user.full_name,
                "email": user.email,
                "createdAt": user.created_at,
            })
        })
        .collect();
    assert_eq!(expected.len(), data::USER_COUNT);
    assert_eq!(body["data"]["users"], Value::Array(expected));
    assert_eq!(
        calls(&services),
        expected_calls(&[("users", users::ROUTE_LIST, 1)])
    );
}

/// Every user's orders, and each order's user, in one query: one call per
/// level however many users there are.
#[tokio::test]
async fn nested_lists_are_fetched_one_batch_per_level() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query("{ users { id orders { id userId user { id name } } } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let users = body["data"]["users"].as_array().expect("a list of users");
    assert_eq!(users.len(), data::USER_COUNT);
    for user in users {
        let id = user["id"].as_str().expect("an id");
        let expected_ids: Vec<&str> = orders_of(id)
            .iter()
            .map(|order| order.id.as_str())
            .collect();
        let orders = user["orders"].as_array().expect("a list of orders");
        let ids: Vec<&str> = orders
            .iter()
            .map(|order| order["id"].as_str().expect("an order id"))
            .collect();
        assert_eq!(ids, expected_ids, "orders of user {id}");
        for order in orders {
            assert_eq!(order["userId"], id);
            assert_eq!(order["user"]["id"], id);
            assert_eq!(
                order["user"]["name"],
                data::user(id).expect("a seed user").full_name
            );
        }
    }
    assert_eq!(
        calls(&services),
        expected_calls(&[
            ("users", users::ROUTE_LIST, 1),
            ("users", users::ROUTE_BATCH, 1),
            ("orders", orders::ROUTE_BY_USERS, 1),
        ])
    );
}

#[tokio::test]
async fn a_product_has_its_enum_tags_dimensions_and_timestamp() {
    let (services, _dir, gateway) = demo().await;
    let sku = "SKU-0042";
    let body = gateway
        .query(
            r#"{ product(sku: "SKU-0042") {
                sku name priceCents category tags
                dimensions { widthMm heightMm depthMm }
                createdAt
            } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let seed = product(sku);
    assert_eq!(
        body["data"]["product"],
        json!({
            "sku": sku,
            "name": seed.name,
            "priceCents": seed.price_cents,
            "category": category_name(seed.category),
            "tags": seed.tags,
            "dimensions": {
                "widthMm": seed.dimensions.width_mm,
                "heightMm": seed.dimensions.height_mm,
                "depthMm": seed.dimensions.depth_mm,
            },
            "createdAt": data::rfc3339(seed.created_at),
        })
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[("catalog", catalog::ROUTE_GET_PRODUCT, 1)])
    );
}

#[tokio::test]
async fn product_pages_follow_their_tokens_through_the_catalog() {
    let (services, _dir, gateway) = demo().await;
    let query = "query Page($after: String) { productPage(first: 75, after: $after) { products { sku } nextPageToken } }";
    let mut after = Value::Null;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let body = gateway.query_with(query, json!({ "after": after })).await;
        assert_eq!(body.get("errors"), None, "{body}");
        let page = &body["data"]["productPage"];
        let products = page["products"].as_array().expect("a list of products");
        seen.extend(
            products
                .iter()
                .map(|product| product["sku"].as_str().expect("a sku").to_owned()),
        );
        pages += 1;
        let token = page["nextPageToken"].as_str().expect("a token");
        if token.is_empty() {
            break;
        }
        assert!(pages < 10, "paging does not end");
        after = json!(token);
    }
    let all: Vec<String> = data::products()
        .iter()
        .map(|product| product.sku.clone())
        .collect();
    assert_eq!(pages, 3, "200 products in pages of 75");
    assert_eq!(seen, all);
    assert_eq!(
        calls(&services),
        expected_calls(&[("catalog", catalog::ROUTE_LIST_PRODUCTS, 3)])
    );
}

#[tokio::test]
async fn products_defaults_to_the_first_twenty() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway.query("{ products { sku } }").await;
    assert_eq!(body.get("errors"), None, "{body}");
    let skus: Vec<&str> = body["data"]["products"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|product| product["sku"].as_str().expect("a sku"))
        .collect();
    let expected: Vec<&str> = data::products()[..20]
        .iter()
        .map(|product| product.sku.as_str())
        .collect();
    assert_eq!(skus, expected);
}

#[tokio::test]
async fn orders_lists_the_first_orders_with_their_users_and_products() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query("{ orders(limit: 5) { id totalCents user { name } items { sku product { sku } } } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let expected: Vec<Value> = data::orders()[..5]
        .iter()
        .map(|order| {
            let items: Vec<Value> = order
                .items
                .iter()
                .map(|item| json!({ "sku": item.sku, "product": { "sku": item.sku } }))
                .collect();
            json!({
                "id": order.id,
                "totalCents": order.total_cents,
                "user": { "name": data::user(&order.user_id).expect("a seed user").full_name },
                "items": items,
            })
        })
        .collect();
    assert_eq!(body["data"]["orders"], Value::Array(expected));
    assert_eq!(
        calls(&services),
        expected_calls(&[
            ("orders", orders::ROUTE_LIST, 1),
            ("users", users::ROUTE_BATCH, 1),
            ("catalog", catalog::ROUTE_BATCH_GET_PRODUCTS, 1),
        ])
    );
}

#[tokio::test]
async fn what_does_not_exist_is_null_without_errors() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query(
            r#"{
                user(id: "9999") { name }
                order(id: "5000") { id }
                product(sku: "SKU-9999") { name }
            }"#,
        )
        .await;
    assert_eq!(
        body,
        json!({ "data": { "user": null, "order": null, "product": null } })
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[
            ("users", users::ROUTE_GET, 1),
            ("orders", orders::ROUTE_GET, 1),
            ("catalog", catalog::ROUTE_GET_PRODUCT, 1),
        ])
    );
}

/// Two selections of one product batch at one level share its call, and
/// each gets what it selected: the call's answer holds the members both
/// read.
#[tokio::test]
async fn one_batch_answers_every_selection_that_shares_it() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query(
            r#"{
                a: user(id: "1") { orders { items { product { name } } } }
                b: user(id: "1") { orders { items { product {
                    priceCents category tags dimensions { widthMm } createdAt
                } } } }
            }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let items = || orders_of("1").into_iter().flat_map(|order| &order.items);
    let products = |selected: fn(&ProductRecord) -> Value| -> Vec<Value> {
        items().map(|item| selected(product(&item.sku))).collect()
    };
    let answered = |alias: &str| -> Vec<Value> {
        let orders = body["data"][alias]["orders"].as_array().unwrap();
        let items = orders
            .iter()
            .flat_map(|order| order["items"].as_array().unwrap());
        items.map(|item| item["product"].clone()).collect()
    };
    assert_eq!(answered("a"), products(|seed| json!({ "name": seed.name })));
    assert_eq!(
        answered("b"),
        products(|seed| json!({
            "priceCents": seed.price_cents,
            "category": category_name(seed.category),
            "tags": seed.tags,
            "dimensions": { "widthMm": seed.dimensions.width_mm },
            "createdAt": data::rfc3339(seed.created_at),
        }))
    );
    assert_eq!(calls(&services), user_query_calls(1));
}

/// Two fields asking the same backend the same thing share one call.
#[tokio::test]
async fn identical_calls_in_one_request_are_made_once() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway
        .query(
            r#"{ a: user(id: "2") { name } b: user(id: "2") { email } c: user(id: "3") { name } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"]["a"]["name"],
        data::user("2").unwrap().full_name
    );
    assert_eq!(body["data"]["b"]["email"], data::user("2").unwrap().email);
    assert_eq!(
        body["data"]["c"]["name"],
        data::user("3").unwrap().full_name
    );
    assert_eq!(
        calls(&services),
        expected_calls(&[("users", users::ROUTE_GET, 2)])
    );
}

/// Path values are encoded as one segment: `..`, `/`, `?` and `&` in an
/// argument reach `GET /orders/{id}` with the whole text as the id (which
/// the orders service does not know), never another route or service.
#[tokio::test]
async fn path_values_cannot_reach_other_routes() {
    let (services, _dir, gateway) = demo().await;
    let attempts = [
        "../users/1",
        "../orders?userId=1",
        "1?userId=1",
        "1/status",
        "%2e%2e%2fusers%2f1",
        "1#fragment",
    ];
    for (i, id) in attempts.iter().enumerate() {
        let body = gateway
            .query_with(
                "query Order($id: ID!) { order(id: $id) { id userId } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(body, json!({ "data": { "order": null } }), "id {id:?}");
        let count = u64::try_from(i + 1).unwrap();
        assert_eq!(
            calls(&services),
            expected_calls(&[("orders", orders::ROUTE_GET, count)]),
            "after id {id:?}"
        );
    }
    let body = gateway
        .query(r#"{ user(id: "../orders/1") { name } }"#)
        .await;
    assert_eq!(body, json!({ "data": { "user": null } }));
    assert_eq!(services.users.calls().count(users::ROUTE_GET), 1);
    assert_eq!(services.orders.calls().total(), 6);
}

/// A path value that is exactly `.` or `..` must not climb out of its
/// segment: URL parsers resolve such segments even percent-encoded, so the
/// gateway refuses them rather than letting `/things/{$args.id}/detail`
/// reach `GET /detail`.
#[tokio::test]
async fn dot_segments_in_path_values_stay_inside_their_segment() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let stub = StubBackend::start(axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let record = record.clone();
        async move {
            record.lock().unwrap().push(uri.path().to_owned());
            axum::Json(json!({ "id": "x" }))
        }
    }))
    .await;
    let schema = r#"
type Query {
  thing(id: ID!): Thing @rest(source: "stub", get: "/things/{$args.id}/detail")
}
type Thing { id: ID! }
"#;
    let dir = TestDir::new();
    let config = GatewayConfig::new(schema)
        .rest_source("stub", &stub.url, 1000)
        .load(&dir)
        .unwrap();
    let gateway = TestGateway::start(&config).await.unwrap();
    for id in ["a", ".", ".."] {
        let body = gateway
            .query_with(
                "query Thing($id: ID!) { thing(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        // Refusing the value is as good as sending it intact.
        if body.get("errors").is_some() {
            assert_eq!(error_codes(&body), ["SOURCE_BAD_REQUEST"], "{id:?}: {body}");
        } else {
            assert_eq!(body["data"]["thing"]["id"], "x", "{id:?}");
        }
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0], "/things/a/detail");
    for path in &seen {
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        assert!(
            segments.len() == 3 && segments[0] == "things" && segments[2] == "detail",
            "the backend was called on {path}, outside /things/{{id}}/detail (all calls: {seen:?})"
        );
    }
}
