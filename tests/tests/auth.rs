//! `[auth]` with `@authenticated` and `@requiresScopes`: tokens signed with
//! the keys of a JWKS file (RS256 and HS256), checked before any backend
//! call; denied fields answer `null` with their error at their path while
//! the rest of the response stays; a token that does not verify refuses
//! the request (401) or the WebSocket connection (4403).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use subgraphs::users;
use subgraphs::{data, orders};
use weft_tests::{Services, TestDir, TestGateway, WsClient, demo_configured, error_codes};

const JWKS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/auth/jwks.json");
const RSA_KEY: &str = include_str!("../fixtures/auth/rsa.pem");
const HS_SECRET: &[u8] = b"weft-test-secret-weft-test-secret";

/// The demo schema with `email` for authenticated callers, `orders` for
/// callers with the `read:orders` scope, and the `StockLevel` type (so the
/// `stock` subscription) for authenticated callers.
fn guarded_schema() -> String {
    let replace = |schema: String, from: &str, to: &str| {
        assert!(schema.contains(from), "the demo schema has {from:?}");
        schema.replace(from, to)
    };
    let schema = weft::demo::SCHEMA.to_owned();
    let schema = replace(
        schema,
        "  email: String!\n",
        "  email: String @authenticated\n",
    );
    let schema = replace(
        schema,
        "  orders: [Order!]! @rest(source: \"orders\", get: \"/orders?userIds={$batch.id}\"",
        "  orders: [Order!] @requiresScopes(scopes: [[\"read:orders\"]]) @rest(source: \"orders\", get: \"/orders?userIds={$batch.id}\"",
    );
    replace(
        schema,
        "type StockLevel {",
        "type StockLevel @authenticated {",
    )
}

async fn guarded_demo() -> (Services, TestDir, TestGateway) {
    demo_configured(|config| {
        config.schema(&guarded_schema()).extra(&format!(
            "[auth]\njwks_file = \"{JWKS}\"\nissuer = \"https://id.example.com/\"\n"
        ))
    })
    .await
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn claims(scope: &str) -> Value {
    json!({"sub": "user-1", "iss": "https://id.example.com/", "exp": now() + 600, "scope": scope})
}

fn rs256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".to_owned());
    let key = EncodingKey::from_rsa_pem(RSA_KEY.as_bytes()).expect("the test RSA key");
    jsonwebtoken::encode(&header, claims, &key).expect("a signed token")
}

fn hs256(claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("hs-1".to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(HS_SECRET))
        .expect("a signed token")
}

const QUERY: &str = r#"{ user(id: "1") { name email orders { id } } }"#;

async fn post(gateway: &TestGateway, token: Option<&str>) -> (u16, Option<String>, Value) {
    let mut request = reqwest::Client::new()
        .post(gateway.graphql_url())
        .json(&json!({ "query": QUERY }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("weft answers");
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (
        status,
        challenge,
        response.json().await.expect("a JSON body"),
    )
}

fn error_at(body: &Value, path: &[&str]) -> String {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    errors
        .iter()
        .find(|error| error["path"] == json!(path))
        .and_then(|error| error["extensions"]["code"].as_str())
        .unwrap_or_else(|| panic!("no error at {path:?}: {body}"))
        .to_owned()
}

fn user_name(id: &str) -> &'static str {
    &data::user(id).expect("a seed user").full_name
}

fn orders_calls(services: &Services) -> u64 {
    services.orders.calls().count(orders::ROUTE_BY_USERS)
}

#[tokio::test]
async fn anonymous_callers_get_unauthenticated_at_each_guarded_field_and_no_backend_call() {
    let (services, _dir, gateway) = guarded_demo().await;
    let (status, _, body) = post(&gateway, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"user": {"name": user_name("1"), "email": null, "orders": null}}),
        "{body}"
    );
    assert_eq!(error_at(&body, &["user", "email"]), "UNAUTHENTICATED");
    assert_eq!(error_at(&body, &["user", "orders"]), "UNAUTHENTICATED");
    assert_eq!(orders_calls(&services), 0);
}

#[tokio::test]
async fn a_token_without_the_scope_reads_authenticated_fields_but_not_scoped_ones() {
    let (services, _dir, gateway) = guarded_demo().await;
    let (status, _, body) = post(&gateway, Some(&rs256(&claims("read:users")))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["user"]["orders"], Value::Null, "{body}");
    assert!(body["data"]["user"]["email"].is_string(), "{body}");
    assert_eq!(error_at(&body, &["user", "orders"]), "FORBIDDEN");
    assert_eq!(error_codes(&body), ["FORBIDDEN"]);
    assert_eq!(orders_calls(&services), 0);
}

#[tokio::test]
async fn a_token_with_the_scope_reads_everything_with_one_call_per_source() {
    let (services, _dir, gateway) = guarded_demo().await;
    let token = hs256(&claims("read:users read:orders"));
    let (status, _, body) = post(&gateway, Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.get("errors"), None, "{body}");
    let orders = body["data"]["user"]["orders"].as_array().expect("orders");
    assert!(!orders.is_empty(), "{body}");
    assert_eq!(orders_calls(&services), 1);
}

#[tokio::test]
async fn tokens_that_do_not_verify_are_refused_with_401() {
    let (services, _dir, gateway) = guarded_demo().await;
    let expired = json!({"sub": "1", "iss": "https://id.example.com/", "exp": now() - 3600});
    let wrong_issuer = json!({"sub": "1", "iss": "https://elsewhere/", "exp": now() + 600});
    let forged = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(""),
        &EncodingKey::from_secret(b"not the secret"),
    )
    .expect("a token");
    for token in [
        rs256(&expired),
        rs256(&wrong_issuer),
        forged,
        "garbage".to_owned(),
    ] {
        let (status, challenge, body) = post(&gateway, Some(&token)).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(challenge.as_deref(), Some("Bearer"));
        assert_eq!(error_codes(&body), ["UNAUTHENTICATED"], "{body}");
        assert_eq!(body.get("data"), None, "{body}");
    }
    assert_eq!(services.users.calls().total(), 0);
}

const STOCK: &str = r#"subscription { stock(sku: "SKU-0001") { sku } }"#;

#[tokio::test]
async fn websocket_subscriptions_take_the_token_from_connection_init() {
    let (_services, _dir, gateway) = guarded_demo().await;

    let mut anonymous = gateway.ws("graphql-transport-ws").await;
    anonymous.init(None).await;
    anonymous.subscribe("s", STOCK).await;
    let error = anonymous.expect("error", "s").await;
    assert_eq!(error["payload"][0]["extensions"]["code"], "UNAUTHENTICATED");
    assert_eq!(error["payload"][0]["path"], json!(["stock"]));

    let mut signed_in = gateway.ws("graphql-transport-ws").await;
    let token = rs256(&claims(""));
    signed_in
        .init(Some(json!({"Authorization": format!("Bearer {token}")})))
        .await;
    signed_in.subscribe("s", STOCK).await;
    assert_eq!(
        signed_in.next("s").await,
        json!({"data": {"stock": {"sku": "SKU-0001"}}})
    );

    let mut forged = gateway.ws("graphql-transport-ws").await;
    forged
        .send(&json!({"type": "connection_init", "payload": {"authorization": "garbage"}}))
        .await;
    assert_eq!(forged.close_code().await, (4403, "Forbidden".to_owned()));
}

#[tokio::test]
async fn templates_read_token_claims_request_headers_and_the_connection_payload() {
    let (services, _dir, gateway) = demo_configured(|config| {
        let schema = guarded_schema().replacen(
            "user(id: ID!): User @rest(source: \"users\", get: \"/users/{$args.id}\"",
            "user(id: ID!): User @rest(source: \"users\", get: \"/users/{$args.id}\", headers: [\"x-user: {$jwt.sub}\", \"x-tenant-id: {$request.headers.x-tenant}\", \"x-session: {$connection.session}\"]",
            1,
        );
        config
            .schema(&schema)
            .extra(&format!("[auth]\njwks_file = \"{JWKS}\"\n"))
    })
    .await;
    let mut client = WsClient::connect_with_headers(
        &gateway.ws_url(),
        "graphql-transport-ws",
        &[("x-tenant", "t-7")],
    )
    .await;
    let token = hs256(&claims(""));
    client
        .init(Some(json!({"authorization": token, "session": "s-42"})))
        .await;
    client.subscribe("q", r#"{ user(id: "1") { name } }"#).await;
    let answer = client.next("q").await;
    assert_eq!(answer["data"]["user"]["name"], user_name("1"), "{answer}");
    let seen = services.users.calls().last_headers(users::ROUTE_GET);
    assert_eq!(
        seen.get("x-user").map(String::as_str),
        Some("user-1"),
        "{seen:?}"
    );
    assert_eq!(seen.get("x-tenant-id").map(String::as_str), Some("t-7"));
    assert_eq!(seen.get("x-session").map(String::as_str), Some("s-42"));
}
