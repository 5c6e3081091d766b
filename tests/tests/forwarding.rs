//! Client headers forwarded to backends (`forward_headers`): the listed
//! ones reach the REST service as headers and the gRPC service as metadata,
//! renamed where the config says so, over HTTP and over WebSocket; the
//! others never leave the gateway. The example services keep the
//! `authorization` and `x-…` headers of their last request.

use serde_json::json;
use subgraphs::{catalog, users};
use weft_tests::{Services, TestDir, TestGateway, WsClient, demo_configured};

async fn forwarding_demo() -> (Services, TestDir, TestGateway) {
    demo_configured(|config| {
        config
            .source_option(
                "users",
                r#"forward_headers = ["authorization", { from = "x-tenant", to = "x-tenant-id" }]"#,
            )
            .source_option("catalog", r#"forward_headers = ["authorization"]"#)
    })
    .await
}

const QUERY: &str = r#"{ user(id: "1") { name } product(sku: "SKU-0001") { name } orders(limit: 2) { user { name } } }"#;

#[tokio::test]
async fn listed_headers_reach_rest_and_grpc_backends_and_others_do_not() {
    let (services, _dir, gateway) = forwarding_demo().await;
    let response = reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("authorization", "Bearer abc")
        .header("x-tenant", "t-1")
        .header("x-secret", "not for backends")
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .expect("weft answers");
    let body: serde_json::Value = response.json().await.expect("a JSON body");
    assert_eq!(body.get("errors"), None, "{body}");

    let seen = services.users.calls().last_headers(users::ROUTE_GET);
    assert_eq!(
        seen.get("authorization").map(String::as_str),
        Some("Bearer abc")
    );
    assert_eq!(seen.get("x-tenant-id").map(String::as_str), Some("t-1"));
    assert!(
        !seen.contains_key("x-tenant") && !seen.contains_key("x-secret"),
        "{seen:?}"
    );
    let batched = services.users.calls().last_headers(users::ROUTE_BATCH);
    assert_eq!(
        batched.get("authorization").map(String::as_str),
        Some("Bearer abc")
    );

    let metadata = services
        .catalog
        .calls()
        .last_headers(catalog::ROUTE_GET_PRODUCT);
    assert_eq!(
        metadata.get("authorization").map(String::as_str),
        Some("Bearer abc")
    );
    assert!(
        !metadata.contains_key("x-tenant-id") && !metadata.contains_key("x-secret"),
        "{metadata:?}"
    );
}

#[tokio::test]
async fn a_source_without_forward_headers_gets_none() {
    let (services, _dir, gateway) = demo_configured(|config| {
        config.source_option("users", r#"forward_headers = ["authorization"]"#)
    })
    .await;
    let body = reqwest::Client::new()
        .post(gateway.graphql_url())
        .header("authorization", "Bearer abc")
        .json(&json!({ "query": QUERY }))
        .send()
        .await
        .expect("weft answers")
        .json::<serde_json::Value>()
        .await
        .expect("a JSON body");
    assert_eq!(body.get("errors"), None, "{body}");
    let seen = services.users.calls().last_headers(users::ROUTE_GET);
    assert_eq!(
        seen.get("authorization").map(String::as_str),
        Some("Bearer abc")
    );
    let metadata = services
        .catalog
        .calls()
        .last_headers(catalog::ROUTE_GET_PRODUCT);
    assert!(metadata.is_empty(), "{metadata:?}");
}

#[tokio::test]
async fn the_websocket_upgrade_requests_headers_are_forwarded_for_its_operations() {
    let (services, _dir, gateway) = forwarding_demo().await;
    let mut client = WsClient::connect_with_headers(
        &gateway.ws_url(),
        "graphql-transport-ws",
        &[("authorization", "Bearer ws"), ("x-tenant", "t-ws")],
    )
    .await;
    client.init(None).await;
    client
        .start("q", json!({ "query": r#"{ user(id: "2") { name } }"# }))
        .await;
    let next = client.next("q").await;
    assert!(next["data"]["user"]["name"].is_string(), "{next}");
    let seen = services.users.calls().last_headers(users::ROUTE_GET);
    assert_eq!(
        seen.get("authorization").map(String::as_str),
        Some("Bearer ws")
    );
    assert_eq!(seen.get("x-tenant-id").map(String::as_str), Some("t-ws"));
}
