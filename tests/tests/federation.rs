//! GraphQL federation subgraphs as a source kind: the reviews subgraph
//! (async-graphql, Federation v2) beside the users (REST) and catalog
//! (gRPC) services, in one plan — root fields, `_entities` batches for the
//! fields it adds to REST/gRPC entities, entities it returns loaded through
//! their own batches, composition errors and failures.

use serde_json::{Value, json};
use subgraphs::{RunningService, Service};
use weft_tests::{
    DEMO_TIMEOUT_MS, GatewayConfig, Services, TestDir, TestGateway, error_codes, spawn_service,
};

/// The demo services, the reviews subgraph and a gateway over all of them.
struct Federated {
    services: Services,
    reviews: RunningService,
    _dir: TestDir,
    gateway: TestGateway,
}

/// The demo config plus `[sources.reviews]`, its SDL read from `_service`.
fn config(services: &Services, reviews: &RunningService) -> GatewayConfig {
    GatewayConfig::demo(services).graphql_source(
        "reviews",
        &format!("{}/graphql", reviews.url()),
        DEMO_TIMEOUT_MS,
    )
}

async fn start() -> Federated {
    start_configured(|config| config).await
}

async fn start_configured(configure: impl FnOnce(GatewayConfig) -> GatewayConfig) -> Federated {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    let config = configure(config(&services, &reviews))
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the gateway does not build:\n{problems}"));
    services.reset_calls();
    reviews.calls().reset();
    Federated {
        services,
        reviews,
        _dir: dir,
        gateway,
    }
}

/// The reviews of `sku` as the subgraph's seed makes them.
fn seed_reviews(sku: &str) -> Vec<subgraphs::reviews::Review> {
    subgraphs::reviews::reviews_of(sku)
}

#[tokio::test]
async fn a_product_its_reviews_and_their_authors_come_in_one_request() {
    let federated = start().await;
    let body = federated
        .gateway
        .query(r#"{ product(sku: "SKU-0001") { name reviews { rating body author { name } } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let product = subgraphs::data::product("SKU-0001").unwrap();
    let expected: Vec<Value> = seed_reviews("SKU-0001")
        .iter()
        .map(|review| {
            let author = subgraphs::data::user(review.author.id.as_str()).unwrap();
            json!({ "rating": review.rating, "body": review.body, "author": { "name": author.full_name } })
        })
        .collect();
    assert_eq!(
        body["data"],
        json!({ "product": { "name": product.name, "reviews": expected } })
    );
    assert_eq!(federated.services.catalog.calls().count("GetProduct"), 1);
    assert_eq!(
        federated
            .reviews
            .calls()
            .count(subgraphs::reviews::ROUTE_ENTITIES),
        1
    );
    assert_eq!(federated.reviews.calls().total(), 1);
    assert_eq!(federated.services.users.calls().count("GET /users?ids"), 1);
    assert_eq!(federated.services.users.calls().total(), 1);
}

#[tokio::test]
async fn a_root_field_of_the_subgraph_is_asked_with_its_variables() {
    let federated = start().await;
    let body = federated
        .gateway
        .query_with(
            "query ($n: Int) { topReviews(first: $n) { id rating product { sku name } } }",
            json!({ "n": 3 }),
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let reviews = body["data"]["topReviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 3);
    for review in reviews {
        assert_eq!(review["rating"], 5, "{review}");
        let sku = review["product"]["sku"].as_str().unwrap();
        let product = subgraphs::data::product(sku).unwrap();
        assert_eq!(review["product"]["name"], product.name.as_str());
    }
    assert_eq!(
        federated
            .reviews
            .calls()
            .count(subgraphs::reviews::ROUTE_QUERY),
        1
    );
    assert_eq!(
        federated.services.catalog.calls().count("BatchGetProducts"),
        1
    );
}

#[tokio::test]
async fn fifty_products_reviews_are_one_entities_call() {
    let federated = start().await;
    let body = federated
        .gateway
        .query("{ products(first: 50) { sku reviews { id } } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let products = body["data"]["products"].as_array().unwrap();
    assert_eq!(products.len(), 50);
    for product in products {
        let sku = product["sku"].as_str().unwrap();
        let ids: Vec<Value> = seed_reviews(sku)
            .iter()
            .map(|review| json!({ "id": review.id.as_str() }))
            .collect();
        assert_eq!(product["reviews"], json!(ids), "{sku}");
    }
    assert_eq!(
        federated
            .reviews
            .calls()
            .count(subgraphs::reviews::ROUTE_ENTITIES),
        1
    );
    assert_eq!(federated.reviews.calls().total(), 1);
}

#[tokio::test]
async fn a_subgraph_that_is_down_nulls_only_its_fields() {
    let federated = start().await;
    let Federated {
        reviews, gateway, ..
    } = federated;
    reviews.kill();
    let body = gateway
        .query(r#"{ user(id: "1") { name } product(sku: "SKU-0002") { name reviews { id } } }"#)
        .await;
    let user = subgraphs::data::user("1").unwrap();
    assert_eq!(
        body["data"]["user"]["name"],
        user.full_name.as_str(),
        "{body}"
    );
    // `reviews` is non-null: its error nulls the product, nothing else.
    assert_eq!(body["data"]["product"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), vec!["SOURCE_UNAVAILABLE"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["product", "reviews"]));
}
