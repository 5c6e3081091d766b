//! Persisted operations: the Automatic Persisted Queries round trip over
//! POST and GET (hash alone → `PersistedQueryNotFound`, hash and text →
//! the answer, hash alone again → the answer), a hash that does not match
//! its text, and a safelist that lets nothing else run.

use serde_json::{Value, json};
use weft::pipeline::persisted::sha256_hex;
use weft_tests::{
    GatewayConfig, Services, TestDir, TestGateway, calls, error_codes, expected_calls,
};

const QUERY: &str = r#"query One { user(id: "1") { name } }"#;

fn by_hash(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn demo_with(extra: &str, dir: &TestDir) -> (Services, TestGateway) {
    let services = Services::start();
    let config = GatewayConfig::demo(&services)
        .extra(extra)
        .load(dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the demo does not build:\n{problems}"));
    (services, gateway)
}

#[tokio::test]
async fn a_hash_is_registered_with_its_text_then_runs_alone() {
    let dir = TestDir::new();
    let (services, gateway) = demo_with("", &dir).await;
    let hash = sha256_hex(QUERY);

    let missing = gateway
        .request(&json!({ "extensions": by_hash(&hash) }))
        .await;
    assert_eq!(
        error_codes(&missing),
        ["PERSISTED_QUERY_NOT_FOUND"],
        "{missing}"
    );
    assert_eq!(missing["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(calls(&services), expected_calls(&[]));

    let registered = gateway
        .request(&json!({ "query": QUERY, "extensions": by_hash(&hash) }))
        .await;
    assert_eq!(
        registered["data"]["user"]["name"], "Margaret Allen",
        "{registered}"
    );

    let again = gateway
        .request(&json!({ "extensions": by_hash(&hash) }))
        .await;
    assert_eq!(again, registered);

    let extensions = by_hash(&hash).to_string();
    let url =
        reqwest::Url::parse_with_params(&gateway.graphql_url(), &[("extensions", extensions)])
            .expect("a URL");
    let over_get: Value = reqwest::get(url)
        .await
        .expect("weft answers")
        .json()
        .await
        .expect("a JSON body");
    assert_eq!(over_get, registered);
}

#[tokio::test]
async fn a_text_that_does_not_match_its_hash_is_refused() {
    let dir = TestDir::new();
    let (services, gateway) = demo_with("", &dir).await;
    let body = gateway
        .request(&json!({ "query": "{ users { id } }", "extensions": by_hash(&sha256_hex(QUERY)) }))
        .await;
    assert_eq!(
        error_codes(&body),
        ["PERSISTED_QUERY_HASH_MISMATCH"],
        "{body}"
    );
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn with_a_safelist_only_its_operations_run() {
    let dir = TestDir::new();
    let listed = json!({ sha256_hex(QUERY): QUERY });
    dir.write("operations.json", &listed.to_string());
    let (services, gateway) = demo_with(
        "[persisted_queries]\nsafelist = \"operations.json\"\nsafelist_only = true\n",
        &dir,
    )
    .await;

    let by_id = gateway
        .request(&json!({ "extensions": by_hash(&sha256_hex(QUERY)) }))
        .await;
    assert_eq!(by_id["data"]["user"]["name"], "Margaret Allen", "{by_id}");
    let as_text = gateway.query(QUERY).await;
    assert_eq!(as_text, by_id);

    services.reset_calls();
    let other = gateway.query("{ users { id } }").await;
    assert_eq!(
        error_codes(&other),
        ["OPERATION_NOT_IN_SAFELIST"],
        "{other}"
    );
    assert_eq!(calls(&services), expected_calls(&[]));
}

#[tokio::test]
async fn a_safelist_with_a_wrong_hash_is_refused_at_start_up() {
    let dir = TestDir::new();
    dir.write(
        "operations.json",
        &json!({ sha256_hex("{ other }"): QUERY }).to_string(),
    );
    let services = Services::start();
    let config = GatewayConfig::demo(&services)
        .extra("[persisted_queries]\nsafelist = \"operations.json\"\n")
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let error = weft::Gateway::from_config(&config)
        .err()
        .expect("the gateway refuses the safelist")
        .to_string();
    assert!(
        error.contains("is not the sha256 of its document"),
        "{error}"
    );
}
