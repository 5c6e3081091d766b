//! The request pipeline seen from outside: plans are cached per document,
//! `weft plan` shows the fetch steps of the demo's queries (snapshots),
//! responses keep selection order, variables are coerced by GraphQL's
//! rules before any backend call, `@skip`/`@include` and fragments are
//! applied, and a request that fails validation has no `data`.

use std::fmt::Write as _;

use serde_json::{Value, json};
use subgraphs::data;
use weft_tests::{GatewayConfig, Services, TestDir, calls, demo, error_codes, expected_calls};

/// The value of an unlabelled counter in Prometheus text.
fn counter(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// `(hits, misses)` of the plan cache, from `/metrics`.
async fn plan_cache(gateway: &weft_tests::TestGateway) -> (u64, u64) {
    let metrics = gateway.metrics().await;
    (
        counter(&metrics, "weft_plan_cache_hits_total"),
        counter(&metrics, "weft_plan_cache_misses_total"),
    )
}

#[tokio::test]
async fn a_repeated_document_is_planned_once() {
    let (_services, _dir, gateway) = demo().await;
    let query = r#"{ user(id: "2") { name } }"#;
    let (hits, misses) = plan_cache(&gateway).await;
    for _ in 0..3 {
        let body = gateway.query(query).await;
        let name = &data::user("2").unwrap().full_name;
        assert_eq!(body["data"]["user"]["name"], name.as_str());
    }
    assert_eq!(plan_cache(&gateway).await, (hits + 2, misses + 1));
    // Another operation name of the same text is another plan.
    let named = "query A { __typename } query B { __typename }";
    for name in ["A", "B", "A"] {
        let body = gateway
            .request(&json!({ "query": named, "operationName": name }))
            .await;
        assert_eq!(body["data"]["__typename"], "Query");
    }
    assert_eq!(plan_cache(&gateway).await, (hits + 3, misses + 3));
}

#[tokio::test]
async fn the_demo_queries_plan_as_their_snapshots_say() {
    let services = Services::start();
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services).load(&dir).unwrap();
    let gateway = weft::Gateway::from_config(&config).unwrap();
    let queries = [
        (
            "single_user",
            r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#,
        ),
        (
            "users_nested",
            "{ users { id orders { id items { quantity product { name } } user { name } } } }",
        ),
        (
            "single_product",
            r#"{ product(sku: "SKU-0042") { sku name priceCents category } }"#,
        ),
        (
            "place_order",
            r#"mutation { placeOrder(userId: "1", items: [{sku: "SKU-0001", quantity: 1}]) { id user { name } } announce(message: "hi") { message } }"#,
        ),
        ("order_changes", weft_tests::ORDER_CHANGES),
    ];
    for (name, query) in queries {
        let plan = gateway.served().pipeline.plan(query, None).unwrap();
        insta::assert_snapshot!(name, plan.to_string());
    }
    assert_eq!(
        calls(&services),
        expected_calls(&[]),
        "planning calls nothing"
    );
}

#[tokio::test]
async fn responses_keep_the_selection_order() {
    let (_services, _dir, gateway) = demo().await;
    let response = gateway
        .post_raw(
            Some("application/json"),
            None,
            json!({ "query": r#"{ user(id: "1") { name id b: email a: id } __typename }"# })
                .to_string(),
        )
        .await;
    let text = response.text();
    let user = data::user("1").unwrap();
    let expected = json!({
        "data": {
            "user": { "name": user.full_name, "id": "1", "b": user.email, "a": "1" },
            "__typename": "Query",
        }
    });
    let mut written = String::from("{\"data\":{\"user\":{");
    for (key, value) in [
        ("name", json!(user.full_name)),
        ("id", json!("1")),
        ("b", json!(user.email)),
        ("a", json!("1")),
    ] {
        let _ = write!(written, "\"{key}\":{value},");
    }
    written.pop();
    written.push_str("},\"__typename\":\"Query\"}}");
    assert_eq!(text, written);
    assert_eq!(response.json(), expected);
}

#[tokio::test]
async fn websocket_payloads_keep_the_selection_order() {
    let (_services, _dir, gateway) = demo().await;
    let mut client = gateway.ws_ready().await;
    client
        .subscribe("order", r#"{ user(id: "1") { name id } __typename }"#)
        .await;
    let text = client.recv_text().await;
    let user = data::user("1").unwrap();
    let payload = format!(
        "{{\"data\":{{\"user\":{{\"name\":{},\"id\":\"1\"}},\"__typename\":\"Query\"}}}}",
        json!(user.full_name)
    );
    assert!(
        text.ends_with(&format!(",\"payload\":{payload}}}")),
        "{text}"
    );
    client.expect("complete", "order").await;
}

#[tokio::test]
async fn variables_are_coerced_before_any_backend_call() {
    let (services, _dir, gateway) = demo().await;
    let query = "query ($n: Int) { orders(limit: $n) { id } }";
    for bad in [
        json!(99_999_999_999_i64),
        json!(1.5),
        json!("7"),
        json!([1, 2]),
    ] {
        let body = gateway.query_with(query, json!({ "n": bad })).await;
        assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{bad}: {body}");
        assert!(body.get("data").is_none(), "{bad}: {body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("$n"),
            "{body}"
        );
    }
    let body = gateway
        .query_with("query ($id: ID!) { user(id: $id) { id } }", json!({}))
        .await;
    assert_eq!(error_codes(&body), ["BAD_USER_INPUT"], "{body}");
    assert_eq!(calls(&services), expected_calls(&[]));
    let body = gateway.query_with(query, json!({ "n": 2 })).await;
    assert_eq!(
        body["data"]["orders"],
        json!([{ "id": "1" }, { "id": "2" }])
    );
    let body = gateway
        .query_with(
            "query ($id: ID!) { user(id: $id) { id } }",
            json!({ "id": 3 }),
        )
        .await;
    assert_eq!(
        body["data"]["user"]["id"], "3",
        "an integer ID is coerced: {body}"
    );
}

#[tokio::test]
async fn an_out_of_range_int_literal_fails_validation_without_data() {
    let (services, _dir, gateway) = demo().await;
    let body = gateway.query("{ orders(limit: 99999999999) { id } }").await;
    assert_eq!(error_codes(&body), ["GRAPHQL_VALIDATION_FAILED"], "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn fragments_skip_and_include_shape_the_response() {
    let (_services, _dir, gateway) = demo().await;
    let query = r#"
        query ($withEmail: Boolean!, $noName: Boolean!) {
            user(id: "1") {
                ...Names
                email @include(if: $withEmail)
                ... on User @skip(if: $noName) { again: name }
                id @skip(if: true)
            }
        }
        fragment Names on User { name createdAt }
    "#;
    let user = data::user("1").unwrap();
    let body = gateway
        .query_with(query, json!({ "withEmail": true, "noName": false }))
        .await;
    assert_eq!(
        body["data"]["user"],
        json!({
            "name": user.full_name,
            "createdAt": user.created_at,
            "email": user.email,
            "again": user.full_name,
        }),
        "{body}"
    );
    let body = gateway
        .query_with(query, json!({ "withEmail": false, "noName": true }))
        .await;
    assert_eq!(
        body["data"]["user"],
        json!({ "name": user.full_name, "createdAt": user.created_at }),
        "{body}"
    );
}

#[tokio::test]
async fn typename_is_answered_everywhere_and_introspection_still_works() {
    let (_services, _dir, gateway) = demo().await;
    let body = gateway
        .query(r#"{ __typename user(id: "1") { __typename orders { __typename } } __type(name: "User") { name fields { name } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["__typename"], "Query");
    assert_eq!(body["data"]["user"]["__typename"], "User");
    assert_eq!(body["data"]["user"]["orders"][0]["__typename"], "Order");
    assert_eq!(body["data"]["__type"]["name"], "User");
    let fields: Vec<&str> = body["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|field| field["name"].as_str())
        .collect();
    assert!(fields.contains(&"orders"), "{fields:?}");
    let schema = gateway
        .query(
            "{ __schema { queryType { name } mutationType { name } subscriptionType { name } } }",
        )
        .await;
    assert_eq!(
        schema["data"]["__schema"],
        json!({
            "queryType": { "name": "Query" },
            "mutationType": { "name": "Mutation" },
            "subscriptionType": { "name": "Subscription" },
        })
    );
}

#[tokio::test]
async fn exponential_fragments_are_refused_quickly() {
    let (services, _dir, gateway) = demo().await;
    let mut query = String::from("{ users { ...F0 } }\n");
    for i in 0..30 {
        let next = i + 1;
        let _ = writeln!(query, "fragment F{i} on User {{ ...F{next} ...F{next} }}");
    }
    query.push_str("fragment F30 on User { id }\n");
    let body: Value = gateway.query(&query).await;
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(error_codes(&body), ["MAX_FIELDS_LIMIT"], "{body}");
    assert_eq!(calls(&services), expected_calls(&[]));
}
