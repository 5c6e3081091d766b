//! GraphQL federation subgraphs as a source kind: the reviews subgraph
//! (async-graphql, Federation v2) beside the users (REST) and catalog
//! (gRPC) services, in one plan — root fields, `_entities` batches for the
//! fields it adds to REST/gRPC entities, entities it returns loaded through
//! their own batches, composition errors and failures.

use serde_json::{Value, json};
use subgraphs::{RunningService, Service};
use weft_tests::bulletins::Bulletins;
use weft_tests::labels::Labels;
use weft_tests::{
    DEMO_TIMEOUT_MS, GatewayConfig, Services, TestDir, TestGateway, WsClient, error_codes,
    spawn_service,
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
    start_in(|config, _| config).await
}

/// [`start`] with the config changed by `configure`, which may write
/// files into the config's directory.
async fn start_in(configure: impl FnOnce(GatewayConfig, &TestDir) -> GatewayConfig) -> Federated {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    let config = configure(config(&services, &reviews), &dir)
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    services.reset_calls();
    reviews.calls().reset();
    Federated {
        services,
        reviews,
        _dir: dir,
        gateway,
    }
}

impl Federated {
    /// Asserts that the reviews subgraph had one call, to `_entities`.
    fn assert_one_entities_call_to_reviews(&self) {
        let calls = self.reviews.calls();
        assert_eq!(calls.count(subgraphs::reviews::ROUTE_ENTITIES), 1);
        assert_eq!(calls.total(), 1);
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
    federated.assert_one_entities_call_to_reviews();
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
    federated.assert_one_entities_call_to_reviews();
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

#[tokio::test]
async fn weft_plan_shows_the_documents_sent_to_the_subgraph() {
    let federated = start().await;
    let plan = federated
        .gateway
        .gateway
        .served()
        .pipeline
        .plan(
            r#"query ($n: Int) { topReviews(first: $n) { rating author { name } } product(sku: "SKU-0001") { reviews { body } } }"#,
            None,
        )
        .unwrap()
        .to_string();
    assert!(
        plan.contains(
            "topReviews  <-  reviews: query($n: Int) { topReviews: topReviews(first: $n) { rating author { id } } }"
        ),
        "{plan}"
    );
    assert!(
        plan.contains(
            "product.reviews  <-  reviews: query($representations: [_Any!]!) { _entities(representations: $representations) { ... on Product { reviews { body } } } } (batched by parent, by sku)"
        ),
        "{plan}"
    );
    assert!(
        plan.contains("topReviews.author  <-  users: GET /users?ids={$batch.id}"),
        "{plan}"
    );
    assert_eq!(
        federated.reviews.calls().total(),
        0,
        "planning calls nothing"
    );
}

/// The demo and the reviews subgraph, plus the labels subgraph with `sdl`
/// as its SDL file.
async fn with_labels(labels: &Labels, sdl: &str) -> Federated {
    let url = labels.url.clone();
    let sdl = sdl.to_owned();
    start_in(move |config, dir| {
        dir.write("labels.graphql", &sdl);
        config
            .graphql_source("labels", &url, DEMO_TIMEOUT_MS)
            .source_option("labels", "sdl = \"labels.graphql\"")
    })
    .await
}

/// The composition problems of the demo plus a `labels` subgraph with
/// `sdl`, as text.
async fn composition_errors(sdl: &str) -> String {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    dir.write("labels.graphql", sdl);
    let config = config(&services, &reviews)
        .graphql_source("labels", "http://127.0.0.1:9/graphql", DEMO_TIMEOUT_MS)
        .source_option("labels", "sdl = \"labels.graphql\"")
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    match TestGateway::start(&config).await {
        Ok(_) => panic!("the composition succeeded"),
        Err(problems) => problems.to_string(),
    }
}

#[tokio::test]
async fn a_field_overridden_from_the_catalog_comes_from_the_subgraph() {
    let labels = Labels::start().await;
    let federated = with_labels(
        &labels,
        r#"type Product @key(fields: "sku") { sku: ID! name: String! @override(from: "catalog") }
type Query { labelsVersion: Int! }"#,
    )
    .await;
    let body = federated
        .gateway
        .query(r#"{ product(sku: "SKU-0003") { sku name } }"#)
        .await;
    assert_eq!(
        body,
        json!({ "data": { "product": { "sku": "SKU-0003", "name": "Label of SKU-0003" } } })
    );
    assert_eq!(labels.entities_calls(), 1);
    assert_eq!(federated.services.catalog.calls().count("GetProduct"), 1);
}

#[tokio::test]
async fn a_shareable_field_is_answered_by_its_first_owner() {
    let labels = Labels::start().await;
    let federated = with_labels(
        &labels,
        r#"type Product @key(fields: "sku") { sku: ID! name: String! @shareable }
type Query { labelsVersion: Int! }"#,
    )
    .await;
    let body = federated
        .gateway
        .query(r#"{ product(sku: "SKU-0003") { name } }"#)
        .await;
    let product = subgraphs::data::product("SKU-0003").unwrap();
    assert_eq!(
        body["data"]["product"]["name"],
        product.name.as_str(),
        "{body}"
    );
    assert_eq!(labels.entities_calls(), 0);
}

#[tokio::test]
async fn a_compound_key_among_several_sends_every_part() {
    let labels = Labels::start().await;
    let federated = with_labels(
        &labels,
        r#"type User @key(fields: "id", resolvable: false) @key(fields: "id email") {
  id: ID!
  email: String!
  badge: String!
}
type Query { labelsVersion: Int! }"#,
    )
    .await;
    let body = federated.gateway.query("{ users { id badge } }").await;
    assert_eq!(body.get("errors"), None, "{body}");
    let users = body["data"]["users"].as_array().unwrap();
    assert_eq!(users.len(), subgraphs::data::users().len());
    for (user, seed) in users.iter().zip(subgraphs::data::users()) {
        assert_eq!(
            user["badge"],
            format!("{}|{}", seed.id, seed.email),
            "{user}"
        );
    }
    assert_eq!(labels.entities_calls(), 1, "one call for every user");
}

#[tokio::test]
async fn an_inaccessible_field_is_hidden_and_refused() {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    let sdl = weft::demo::REVIEWS_SDL.replace("\tbody: String!", "\tbody: String! @inaccessible");
    assert_ne!(sdl, weft::demo::REVIEWS_SDL);
    dir.write("reviews.graphql", &sdl);
    let config = config(&services, &reviews)
        .source_option("reviews", "sdl = \"reviews.graphql\"")
        .load(&dir)
        .unwrap();
    let gateway = TestGateway::start(&config).await.unwrap();
    let body = gateway
        .query(r#"{ __type(name: "Review") { fields { name } } }"#)
        .await;
    let names: Vec<&str> = body["data"]["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "rating", "author", "product"]);
    let body = gateway.query("{ topReviews { body } }").await;
    assert_eq!(
        error_codes(&body),
        vec!["GRAPHQL_VALIDATION_FAILED"],
        "{body}"
    );
    assert_eq!(reviews.calls().total(), 0);
}

#[tokio::test]
async fn an_inaccessible_type_is_left_out_with_the_fields_that_use_it() {
    let sdl = "type Secret @inaccessible {\n  code: String!\n}\n\
               union Found = Secret | Shelf\n\
               type Shelf {\n  label: String!\n}\n\
               type Query {\n  secret: Secret @inaccessible\n  found: [Found!]!\n}\n";
    let labels = Labels::start().await;
    let federated = with_labels(&labels, sdl).await;
    let body = federated
        .gateway
        .query(r#"{ secret: __type(name: "Secret") { name } found: __type(name: "Found") { possibleTypes { name } } }"#)
        .await;
    assert_eq!(body["data"]["secret"], Value::Null, "{body}");
    assert_eq!(
        body["data"]["found"]["possibleTypes"],
        json!([{ "name": "Shelf" }]),
        "{body}"
    );
    let sdl = sdl.replace("  secret: Secret @inaccessible\n", "  secret: Secret\n");
    let errors = composition_errors(&sdl).await;
    assert!(
        errors.contains("labels.graphql:9:3: `Query.secret` uses `Secret`, which is @inaccessible: mark the field @inaccessible too"),
        "{errors}"
    );
}

#[tokio::test]
async fn a_field_two_sources_define_must_be_shareable() {
    let sdl = "type Product @key(fields: \"sku\") {\n  sku: ID!\n  name: String!\n}\n";
    let errors = composition_errors(sdl).await;
    assert!(
        errors.contains("labels.graphql:3:3: subgraph `labels`: `Product.name` is also defined at"),
        "{errors}"
    );
    assert!(errors.contains("mark it @shareable"), "{errors}");
}

#[tokio::test]
async fn composition_names_the_subgraph_file_and_line_of_each_mistake() {
    let sdl = "type Product @key(fields: \"sku\") {\n  sku: ID!\n  weight: Int! @external\n}\n\
               type User @key(fields: \"code\") {\n  code: ID!\n  level: Int!\n}\n\
               interface Order {\n  id: ID!\n}\n\
               type Shelf @interfaceObject @key(fields: \"id\") {\n  id: ID!\n}\n";
    let errors = composition_errors(sdl).await;
    for expected in [
        "labels.graphql:3:3: subgraph `labels`: `Product.weight` is @external, but no other source defines it",
        "labels.graphql:6:3: subgraph `labels`: `User.code` is a @key field, but the type's owner does not define it",
        "labels.graphql:9:1: subgraph `labels`: `Order` is an interface here, but not where it is first defined",
        "labels.graphql:12:1: subgraph `labels`: `Shelf` is an @interfaceObject: another subgraph must define the interface `Shelf` with a resolvable @key",
    ] {
        assert!(errors.contains(expected), "{expected}\nnot in\n{errors}");
    }
}

#[tokio::test]
async fn a_subgraph_answering_errors_without_data_fails_its_fields_with_its_message() {
    let labels = Labels::start().await;
    // The server has no `Product.ghost`: it refuses the whole document.
    let federated = with_labels(
        &labels,
        r#"type Product @key(fields: "sku") { sku: ID! ghost: String }
type Query { labelsVersion: Int! }"#,
    )
    .await;
    let body = federated
        .gateway
        .query(r#"{ product(sku: "SKU-0004") { name ghost } }"#)
        .await;
    let product = subgraphs::data::product("SKU-0004").unwrap();
    assert_eq!(
        body["data"]["product"]["name"],
        product.name.as_str(),
        "{body}"
    );
    assert_eq!(body["data"]["product"]["ghost"], Value::Null, "{body}");
    assert_eq!(error_codes(&body), vec!["SOURCE_GRAPHQL_ERROR"], "{body}");
    assert_eq!(body["errors"][0]["path"], json!(["product", "ghost"]));
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("ghost"), "{message}");
}

#[test]
fn a_graphql_source_without_url_is_reported_at_its_table() {
    let dir = TestDir::new();
    let config = GatewayConfig::new(weft::demo::SCHEMA).graphql_source(
        "reviews",
        "http://127.0.0.1:9/graphql",
        DEMO_TIMEOUT_MS,
    );
    let toml = config
        .toml()
        .replace("url = \"http://127.0.0.1:9/graphql\"\n", "");
    let path = dir.write(weft_tests::CONFIG_FILE, &toml);
    dir.write(weft_tests::SCHEMA_FILE, weft::demo::SCHEMA);
    let problems = weft::config::Config::load(&path).unwrap_err().to_string();
    let line = weft_tests::line_of(&toml, "[sources.reviews]");
    assert!(
        problems.contains(&format!(":{line}:"))
            && problems.contains("source `reviews` needs `url`"),
        "{problems}"
    );
}

#[tokio::test]
async fn an_unreadable_sdl_file_is_reported_at_the_source() {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    let config = config(&services, &reviews).source_option("reviews", "sdl = \"missing.graphql\"");
    let toml = config.toml();
    let loaded = config.load(&dir).unwrap();
    let problems = TestGateway::start(&loaded).await.unwrap_err().to_string();
    let line = weft_tests::line_of(&toml, "[sources.reviews]");
    assert!(
        problems.contains(&format!("weft.toml:{line}:"))
            && problems.contains("source `reviews`: cannot read `sdl` file"),
        "{problems}"
    );
}

#[tokio::test]
async fn a_subgraph_that_does_not_answer_service_is_reported_at_start_up() {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let dir = TestDir::new();
    let url = reviews.url();
    reviews.kill();
    let config = GatewayConfig::demo(&services)
        .graphql_source("reviews", &format!("{url}/graphql"), DEMO_TIMEOUT_MS)
        .load(&dir)
        .unwrap();
    let problems = TestGateway::start(&config).await.unwrap_err().to_string();
    assert!(
        problems.contains("source `reviews`: cannot ask") && problems.contains("_service { sdl }"),
        "{problems}"
    );
}

#[tokio::test]
async fn a_subgraph_root_field_returning_another_sources_entity_is_refused() {
    let sdl = "type Query {\n  labelsVersion: Int!\n  featured: Product\n}\n";
    let errors = composition_errors(sdl).await;
    assert!(
        errors.contains(
            "labels.graphql:3:3: subgraph `labels`: `Query.featured`: a subgraph's root field, or a field it adds to an entity, cannot return `Product`"
        ),
        "{errors}"
    );
}

const PROVIDING: &str = r#"type Label { text: String! product: Product! @provides(fields: "name") }
type Product @key(fields: "sku") { sku: ID! name: String! @external }
type Query { featuredLabels: [Label!]! }"#;

#[tokio::test]
async fn provided_fields_are_read_from_the_subgraphs_answer() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, PROVIDING).await;
    let body = federated
        .gateway
        .query("{ featuredLabels { text product { sku name } } }")
        .await;
    assert_eq!(
        body,
        json!({ "data": { "featuredLabels": [
            { "text": "Featured SKU-0001", "product": { "sku": "SKU-0001", "name": "Label of SKU-0001" } },
            { "text": "Featured SKU-0002", "product": { "sku": "SKU-0002", "name": "Label of SKU-0002" } },
        ] } })
    );
    assert_eq!(federated.services.catalog.calls().total(), 0);
}

#[tokio::test]
async fn a_field_beyond_the_provided_ones_loads_the_entity_from_its_owner() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, PROVIDING).await;
    let body = federated
        .gateway
        .query("{ featuredLabels { product { name priceCents } } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    for (label, sku) in body["data"]["featuredLabels"]
        .as_array()
        .unwrap()
        .iter()
        .zip(["SKU-0001", "SKU-0002"])
    {
        let product = subgraphs::data::product(sku).unwrap();
        assert_eq!(label["product"]["name"], product.name.as_str());
        assert_eq!(label["product"]["priceCents"], product.price_cents);
    }
    assert_eq!(
        federated.services.catalog.calls().count("BatchGetProducts"),
        1
    );
}

#[tokio::test]
async fn subgraph_calls_are_listed_with_the_others_under_debug() {
    let federated = start_in(|config, _| config.extra("[server]\ndebug = true\n")).await;
    let body: Value = reqwest::Client::new()
        .post(federated.gateway.graphql_url())
        .header("x-weft-debug", "calls")
        .json(&json!({ "query": r#"{ product(sku: "SKU-0005") { reviews { id } } }"# }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let calls = body["extensions"]["weft"]["calls"].as_array().unwrap();
    let sources: Vec<&str> = calls
        .iter()
        .map(|call| call["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["catalog", "reviews"], "{body}");
    let request = calls[1]["request"].as_str().unwrap();
    assert!(
        request.starts_with("query($representations: [_Any!]!) { _entities("),
        "{request}"
    );
    assert_eq!(calls[1]["outcome"], "ok");
}

#[tokio::test]
async fn the_demo_serves_the_reviews_subgraph_with_the_other_services() {
    let demo = weft::demo::Demo::start(0).unwrap();
    let gateway = TestGateway::start(&demo.config).await.unwrap();
    let body = gateway
        .query(r#"{ product(sku: "SKU-0001") { name reviews { rating body author { name } } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let reviews = body["data"]["product"]["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), seed_reviews("SKU-0001").len());
    for (review, seed) in reviews.iter().zip(seed_reviews("SKU-0001")) {
        let author = subgraphs::data::user(seed.author.id.as_str()).unwrap();
        assert_eq!(review["author"]["name"], author.full_name.as_str());
    }
}

#[tokio::test]
async fn identical_representations_are_sent_once() {
    let federated = start_in(|config, _| config.extra("[server]\ndebug = true\n")).await;
    let query = "{ orders(limit: 100) { items { product { sku reviews { id } } } } }";
    let body: Value = reqwest::Client::new()
        .post(federated.gateway.graphql_url())
        .header("x-weft-debug", "calls, bodies")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all: Vec<&str> = body["data"]["orders"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|order| order["items"].as_array().unwrap())
        .map(|item| item["product"]["sku"].as_str().unwrap())
        .collect();
    let skus: std::collections::BTreeSet<&str> = all.iter().copied().collect();
    assert!(skus.len() < all.len(), "some order items share a product");
    let entities: Vec<&str> = body["extensions"]["weft"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|call| call["request"].as_str())
        .filter(|request| request.contains("_entities"))
        .collect();
    // One call per chunk of `max_batch_size` (100) distinct keys.
    assert_eq!(entities.len(), skus.len().div_ceil(100), "{body}");
    let sent: usize = entities
        .iter()
        .map(|request| request.matches("\"__typename\":\"Product\"").count())
        .sum();
    assert_eq!(sent, skus.len());
}

#[tokio::test]
async fn the_same_entity_field_at_two_places_of_a_level_is_one_entities_call() {
    let federated = start().await;
    let body = federated
        .gateway
        .query(r#"{ a: product(sku: "SKU-0001") { reviews { id } } b: product(sku: "SKU-0002") { more: reviews { id } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let ids = |sku: &str| -> Value {
        seed_reviews(sku)
            .iter()
            .map(|review| json!({ "id": review.id.as_str() }))
            .collect()
    };
    assert_eq!(
        body["data"],
        json!({ "a": { "reviews": ids("SKU-0001") }, "b": { "more": ids("SKU-0002") } })
    );
    federated.assert_one_entities_call_to_reviews();
}

#[tokio::test]
async fn one_entity_field_with_two_selections_at_one_level_is_one_entities_call() {
    let federated = start().await;
    let body = federated
        .gateway
        .query(r#"{ a: product(sku: "SKU-0001") { reviews { id } } b: product(sku: "SKU-0002") { reviews { id rating } } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let reviews = |sku: &str, rating: bool| -> Value {
        seed_reviews(sku)
            .iter()
            .map(|review| {
                if rating {
                    json!({ "id": review.id.as_str(), "rating": review.rating })
                } else {
                    json!({ "id": review.id.as_str() })
                }
            })
            .collect()
    };
    assert_eq!(
        body["data"],
        json!({
            "a": { "reviews": reviews("SKU-0001", false) },
            "b": { "reviews": reviews("SKU-0002", true) },
        })
    );
    federated.assert_one_entities_call_to_reviews();
}

/// The labels subgraph's fields that fail (see `weft_tests::labels`).
const FAILING: &str = r#"type Product @key(fields: "sku") { sku: ID! tag: String secret: String stamp: String! }
type Label { text: String! product: Product! note: String }
type Query { labelsNotice: String featuredLabels: [Label!]! }"#;

/// The errors of a response body, by their `path`.
fn error_at<'b>(body: &'b Value, path: &Value) -> &'b Value {
    body["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|error| &error["path"] == path))
        .unwrap_or_else(|| panic!("no error at {path} in {body}"))
}

#[tokio::test]
async fn different_fields_of_one_entity_at_one_level_are_one_entities_call() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    // Four places, three selections of `Product` fields from labels, all
    // at one level; SKU-0001 stands at two of them.
    let body = federated
        .gateway
        .query(
            r#"{ a: product(sku: "SKU-0001") { tag secret }
                b: product(sku: "SKU-0002") { sku label: tag secret }
                c: product(sku: "SKU-0003") { tag stamp }
                d: product(sku: "SKU-0001") { stamp } }"#,
        )
        .await;
    assert_eq!(
        body["data"],
        json!({
            "a": { "tag": "tag of SKU-0001", "secret": "secret of SKU-0001" },
            "b": { "sku": "SKU-0002", "label": "tag of SKU-0002", "secret": null },
            "c": null,
            "d": { "stamp": "stamp of SKU-0001" },
        }),
        "{body}"
    );
    // Each field's error stays at its own field: the forbidden secret nulls
    // only `b.secret`, the failing non-null stamp only `c`.
    let mut codes = error_codes(&body);
    codes.sort_unstable();
    assert_eq!(codes, vec!["FORBIDDEN", "SOURCE_GRAPHQL_ERROR"], "{body}");
    let error = error_at(&body, &json!(["b", "secret"]));
    assert_eq!(error["message"], "the secret of SKU-0002 is kept");
    let error = error_at(&body, &json!(["c", "stamp"]));
    assert_eq!(error["message"], "no stamp for SKU-0003");
    assert_eq!(labels.entities_calls(), 1, "one call for every field");
    let sent = labels.representations();
    let skus: Vec<&Value> = sent
        .iter()
        .flat_map(|call| call.as_array().unwrap())
        .map(|representation| &representation["sku"])
        .collect();
    assert_eq!(
        skus,
        [&json!("SKU-0001"), &json!("SKU-0002"), &json!("SKU-0003")]
    );
}

#[tokio::test]
async fn one_entity_field_with_two_arguments_at_one_level_is_one_call_under_two_keys() {
    let labels = Labels::start().await;
    let sdl = r#"type Product @key(fields: "sku") { sku: ID! tag(upper: Boolean): String }
type Query { labelsVersion: Int! }"#;
    let federated = with_labels(&labels, sdl).await;
    let body = federated
        .gateway
        .query(
            r#"query($loud: Boolean) { a: product(sku: "SKU-0001") { tag }
                b: product(sku: "SKU-0002") { loud: tag(upper: $loud) quiet: tag } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["a"]["tag"], "tag of SKU-0001", "{body}");
    assert_eq!(body["data"]["b"]["quiet"], "tag of SKU-0002", "{body}");
    assert_eq!(body["data"]["b"]["loud"], "tag of SKU-0002", "{body}");
    let body = federated
        .gateway
        .query_with(
            r#"query($loud: Boolean) { a: product(sku: "SKU-0001") { tag }
                b: product(sku: "SKU-0002") { loud: tag(upper: $loud) quiet: tag } }"#,
            json!({ "loud": true }),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({
            "a": { "tag": "tag of SKU-0001" },
            "b": { "loud": "TAG OF SKU-0002", "quiet": "tag of SKU-0002" },
        }),
        "{body}"
    );
    assert_eq!(labels.entities_calls(), 2, "one call per request");
}

/// [`REQUIRES_SDL`] with a `tag` that needs no required fields.
const REQUIRES_AND_TAG_SDL: &str = r#"type Product @key(fields: "sku") {
  sku: ID!
  tag: String
  priceCents: Int! @external
  dimensions: Dimensions @external
  shippingEstimate: Int @requires(fields: "priceCents dimensions { widthMm }")
}
type Dimensions { widthMm: Int! @external }
type Query { labelsVersion: Int! }"#;

#[tokio::test]
async fn a_field_with_required_fields_shares_the_call_of_a_field_beside_it() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, REQUIRES_AND_TAG_SDL).await;
    let body = federated
        .gateway
        .query(
            r#"{ a: product(sku: "SKU-0003") { tag shippingEstimate }
                b: product(sku: "SKU-0001") { tag } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let product = subgraphs::data::product("SKU-0003").unwrap();
    assert_eq!(
        body["data"],
        json!({
            "a": { "tag": "tag of SKU-0003", "shippingEstimate": expected_estimate(product) },
            "b": { "tag": "tag of SKU-0001" },
        })
    );
    assert_eq!(labels.entities_calls(), 1);
    let sent = labels.representations();
    assert_eq!(sent.len(), 1);
    // The representation of SKU-0003 carries the required fields, though
    // `tag` (met first) needs none.
    assert_eq!(sent[0][0], required_representation(product));
    assert_eq!(sent[0][1]["sku"], "SKU-0001");
    assert_eq!(sent[0].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_subgraph_error_deep_in_a_root_field_is_placed_at_the_clients_path() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    let body = federated
        .gateway
        .query("{ picks: featuredLabels { text remark: note } }")
        .await;
    assert_eq!(
        body["data"],
        json!({ "picks": [
            { "text": "Featured SKU-0001", "remark": "note on Featured SKU-0001" },
            { "text": "Featured SKU-0002", "remark": null },
        ] }),
        "{body}"
    );
    assert_eq!(error_codes(&body), vec!["NOTE_LOST"], "{body}");
    let error = error_at(&body, &json!(["picks", 1, "remark"]));
    assert_eq!(error["message"], "the second note is lost");
    assert_eq!(error["locations"], json!([{ "line": 1, "column": 32 }]));
}

#[tokio::test]
async fn an_entities_error_at_one_representation_nulls_only_its_parents_field() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    let body = federated
        .gateway
        .query("{ products(first: 3) { sku secret } }")
        .await;
    assert_eq!(
        body["data"],
        json!({ "products": [
            { "sku": "SKU-0001", "secret": "secret of SKU-0001" },
            { "sku": "SKU-0002", "secret": null },
            { "sku": "SKU-0003", "secret": "secret of SKU-0003" },
        ] }),
        "{body}"
    );
    assert_eq!(error_codes(&body), vec!["FORBIDDEN"], "{body}");
    let error = error_at(&body, &json!(["products", 1, "secret"]));
    assert_eq!(error["message"], "the secret of SKU-0002 is kept");
    assert_eq!(error["extensions"]["reason"], "classified", "{body}");
    assert_eq!(labels.entities_calls(), 1);
}

#[tokio::test]
async fn an_error_of_a_representation_sent_once_shows_under_every_parent_that_sent_it() {
    let orders = &subgraphs::data::orders()[..100];
    let skus: Vec<&str> = orders
        .iter()
        .flat_map(|order| &order.items)
        .map(|item| item.sku.as_str())
        .collect();
    let shared = skus
        .iter()
        .copied()
        .find(|sku| skus.iter().filter(|other| *other == sku).count() > 1)
        .expect("some order items share a product");
    let labels = Labels::start().await;
    labels.forbid(shared);
    let federated = start_in(|config, dir| {
        dir.write("labels.graphql", FAILING);
        config
            .graphql_source("labels", &labels.url, DEMO_TIMEOUT_MS)
            .source_option("labels", "sdl = \"labels.graphql\"")
            .extra("[server]\ndebug = true\n")
    })
    .await;
    let query = "{ orders(limit: 100) { items { product { sku hidden: secret } } } }";
    let body: Value = reqwest::Client::new()
        .post(federated.gateway.graphql_url())
        .header("x-weft-debug", "calls, bodies")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut expected_paths = Vec::new();
    for (o, order) in orders.iter().enumerate() {
        for (i, item) in order.items.iter().enumerate() {
            let product = &body["data"]["orders"][o]["items"][i]["product"];
            assert_eq!(product["sku"], item.sku.as_str(), "{body}");
            if item.sku == shared || item.sku == "SKU-0002" {
                assert_eq!(product["hidden"], Value::Null, "{body}");
                expected_paths.push(json!(["orders", o, "items", i, "product", "hidden"]));
            } else {
                assert_eq!(product["hidden"], format!("secret of {}", item.sku));
            }
        }
    }
    let paths: Vec<&Value> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|error| &error["path"])
        .collect();
    assert_eq!(paths.len(), expected_paths.len(), "{body}");
    for path in &expected_paths {
        assert!(paths.contains(&path), "no error at {path}");
    }
    let entities: Vec<&str> = body["extensions"]["weft"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|call| call["request"].as_str())
        .filter(|request| request.contains("_entities"))
        .collect();
    // One call per chunk of `max_batch_size` (100) distinct keys.
    let distinct: std::collections::BTreeSet<&str> = skus.iter().copied().collect();
    assert_eq!(entities.len(), distinct.len().div_ceil(100), "{body}");
    let sent: usize = entities
        .iter()
        .map(|request| request.matches("\"__typename\":\"Product\"").count())
        .sum();
    assert_eq!(sent, distinct.len());
}

#[tokio::test]
async fn a_non_null_field_failing_in_a_subgraph_nulls_its_nearest_nullable_parent() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    let body = federated
        .gateway
        .query(r#"{ user(id: "1") { name } product(sku: "SKU-0003") { name stamp } other: product(sku: "SKU-0001") { stamp } }"#)
        .await;
    let user = subgraphs::data::user("1").unwrap();
    assert_eq!(
        body["data"],
        json!({ "user": { "name": user.full_name }, "product": null, "other": { "stamp": "stamp of SKU-0001" } }),
        "{body}"
    );
    assert_eq!(error_codes(&body), vec!["SOURCE_GRAPHQL_ERROR"], "{body}");
    let error = error_at(&body, &json!(["product", "stamp"]));
    assert_eq!(error["message"], "no stamp for SKU-0003");
}

#[tokio::test]
async fn a_subgraph_error_without_a_path_goes_to_the_field_that_made_the_call() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    let body = federated.gateway.query("{ notice: labelsNotice }").await;
    assert_eq!(
        body["data"],
        json!({ "notice": "labels are printed on Mondays" }),
        "{body}"
    );
    assert_eq!(error_codes(&body), vec!["SOURCE_GRAPHQL_ERROR"], "{body}");
    let error = error_at(&body, &json!(["notice"]));
    assert_eq!(error["message"], "the notice is out of date");
}

#[tokio::test]
async fn entities_are_matched_by_position_without_asking_their_keys_back() {
    let labels = Labels::start().await;
    let federated = start_in(|config, dir| {
        dir.write("labels.graphql", FAILING);
        config
            .graphql_source("labels", &labels.url, DEMO_TIMEOUT_MS)
            .source_option("labels", "sdl = \"labels.graphql\"")
            .extra("[server]\ndebug = true\n")
    })
    .await;
    let body: Value = reqwest::Client::new()
        .post(federated.gateway.graphql_url())
        .header("x-weft-debug", "calls, bodies")
        .json(&json!({ "query": "{ products(first: 4) { name tag } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body.get("errors"), None, "{body}");
    let expected: Vec<Value> = subgraphs::data::products()[..4]
        .iter()
        .map(|product| json!({ "name": product.name, "tag": format!("tag of {}", product.sku) }))
        .collect();
    assert_eq!(body["data"]["products"], json!(expected));
    let request = body["extensions"]["weft"]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|call| call["request"].as_str())
        .find(|request| request.contains("_entities"))
        .unwrap_or_else(|| panic!("no _entities call in {body}"));
    assert!(
        request.contains("... on Product { tag }"),
        "the key is not asked back: {request}"
    );
}

#[tokio::test]
async fn an_entities_list_of_the_wrong_length_fails_every_field_it_answers() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, FAILING).await;
    labels.drop_last_entity();
    let body = federated
        .gateway
        .query("{ products(first: 3) { sku tag } }")
        .await;
    assert_eq!(
        body["data"],
        json!({ "products": [
            { "sku": "SKU-0001", "tag": null },
            { "sku": "SKU-0002", "tag": null },
            { "sku": "SKU-0003", "tag": null },
        ] }),
        "{body}"
    );
    assert_eq!(
        error_codes(&body),
        vec!["SOURCE_GRAPHQL_ERROR"; 3],
        "{body}"
    );
    for index in 0..3 {
        let error = error_at(&body, &json!(["products", index, "tag"]));
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("answered 2 entities for 3 representations"),
            "{message}"
        );
    }
}

// --- subscriptions through a subgraph -------------------------------------

/// The demo, the reviews subgraph and the bulletins subgraph (its SDL from
/// a file), with `more` lines in its source table.
/// A WebSocket client of `federated` subscribed (as `s`) to the price
/// changes of `SKU-0001`.
async fn price_changes_of_the_first_product(federated: &Federated) -> WsClient {
    let mut client = federated.gateway.ws_ready().await;
    client
        .start(
            "s",
            json!({ "query": PRICE_CHANGES, "variables": { "sku": "SKU-0001" } }),
        )
        .await;
    client
}

async fn with_bulletins(bulletins: &Bulletins, more: &[&str]) -> Federated {
    with_bulletins_sdl(bulletins, weft_tests::bulletins::SDL, more).await
}

/// [`with_bulletins`] with `sdl` as the subgraph's SDL file.
async fn with_bulletins_sdl(bulletins: &Bulletins, sdl: &str, more: &[&str]) -> Federated {
    let url = bulletins.url.clone();
    let sdl = sdl.to_owned();
    let more: Vec<String> = more.iter().map(|line| (*line).to_owned()).collect();
    start_in(move |config, dir| {
        dir.write("bulletins.graphql", &sdl);
        let config = config
            .graphql_source("bulletins", &url, DEMO_TIMEOUT_MS)
            .source_option("bulletins", "sdl = \"bulletins.graphql\"");
        more.iter().fold(config, |config, line| {
            config.source_option("bulletins", line)
        })
    })
    .await
}

const PRICE_CHANGES: &str = "subscription ($sku: ID!, $count: Int) { changes: priceChanges(sku: $sku, count: $count) { seq note product { name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_subscription_streams_its_events_with_other_sources_fields() {
    let bulletins = Bulletins::start().await;
    let federated = with_bulletins(&bulletins, &[]).await;
    let mut client = federated.gateway.ws_ready().await;
    let variables = json!({ "sku": "SKU-0007", "count": 3 });
    client
        .start(
            "s",
            json!({ "query": PRICE_CHANGES, "variables": variables }),
        )
        .await;
    let name = subgraphs::data::product("SKU-0007").unwrap().name.as_str();
    for seq in 1..=3 {
        let payload = client.next("s").await;
        let note = if seq == 2 {
            Value::Null
        } else {
            json!(format!("change {seq}"))
        };
        assert_eq!(
            payload["data"],
            json!({ "changes": { "seq": seq, "note": note, "product": { "name": name } } }),
            "{payload}"
        );
        if seq == 2 {
            assert_eq!(error_codes(&payload), ["NOTE_LOST"], "{payload}");
            assert_eq!(payload["errors"][0]["path"], json!(["changes", "note"]));
        } else {
            assert_eq!(payload.get("errors"), None, "{payload}");
        }
    }
    client.expect("complete", "s").await;
    // Each event's product is one catalog call of its own.
    assert_eq!(
        federated.services.catalog.calls().count("BatchGetProducts"),
        3
    );
    assert_eq!(bulletins.opened(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_subscription_runs_over_sse_too() {
    let bulletins = Bulletins::start().await;
    let federated = with_bulletins(&bulletins, &[]).await;
    let body = json!({ "query": PRICE_CHANGES, "variables": { "sku": "SKU-0003", "count": 2 } });
    let mut events = federated.gateway.sse_post(&body).await;
    let mut seqs = Vec::new();
    while let Some(event) = events.next_event().await {
        if event.event == "complete" {
            break;
        }
        seqs.push(event.json()["data"]["changes"]["seq"].clone());
    }
    assert_eq!(seqs, [json!(1), json!(2)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_completing_completes_the_subgraph_subscription() {
    let bulletins = Bulletins::start().await;
    let federated = with_bulletins(&bulletins, &[]).await;
    let mut client = price_changes_of_the_first_product(&federated).await;
    let first = client.next("s").await;
    assert_eq!(first["data"]["changes"]["seq"], 1, "{first}");
    assert_eq!(bulletins.dropped(), 0);
    client.stop("s").await;
    bulletins.wait_dropped(1).await;
    assert_eq!(bulletins.opened(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribers_asking_the_same_share_one_upstream_subscription() {
    let bulletins = Bulletins::start().await;
    let federated = with_bulletins(&bulletins, &[]).await;
    let mut first = price_changes_of_the_first_product(&federated).await;
    assert_eq!(first.next("s").await["data"]["changes"]["seq"], 1);
    let mut second = price_changes_of_the_first_product(&federated).await;
    let joined_at = second.next("s").await["data"]["changes"]["seq"]
        .as_i64()
        .unwrap_or_default();
    assert!(joined_at > 1, "a subscriber joins at the next change");
    let next = second.next("s").await;
    assert_eq!(next["data"]["changes"]["seq"], joined_at + 1, "{next}");
    assert_eq!(bulletins.opened(), 1);
    // Another product is another upstream subscription.
    let mut other = federated.gateway.ws_ready().await;
    other
        .start(
            "s",
            json!({ "query": PRICE_CHANGES, "variables": { "sku": "SKU-0002" } }),
        )
        .await;
    assert_eq!(other.next("s").await["data"]["changes"]["seq"], 1);
    assert_eq!(bulletins.opened(), 2);
    // The upstream subscription stays while one of its subscribers does.
    first.stop("s").await;
    let after = second.next("s").await;
    assert!(
        after["data"]["changes"]["seq"].as_i64() > Some(joined_at),
        "{after}"
    );
    assert_eq!(bulletins.dropped(), 0);
    second.stop("s").await;
    bulletins.wait_dropped(1).await;
    other.stop("s").await;
    bulletins.wait_dropped(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_down_at_subscribe_time_is_an_error_with_its_code() {
    let bulletins = Bulletins::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let line = format!("subscriptions_url = \"ws://{closed}/graphql\"");
    let federated = with_bulletins(&bulletins, &[&line]).await;
    let mut client = price_changes_of_the_first_product(&federated).await;
    let error = client.expect("error", "s").await;
    let errors = json!({ "errors": error["payload"] });
    assert_eq!(error_codes(&errors), ["SOURCE_UNAVAILABLE"], "{error}");
    assert_eq!(error["payload"][0]["path"], json!(["changes"]), "{error}");
    assert_eq!(bulletins.opened(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subgraph_going_away_mid_stream_ends_the_subscription_with_an_error() {
    let bulletins = Bulletins::start().await;
    let federated = with_bulletins(&bulletins, &[]).await;
    let mut client = price_changes_of_the_first_product(&federated).await;
    let first = client.next("s").await;
    assert_eq!(first["data"]["changes"]["seq"], 1, "{first}");
    bulletins.cut();
    // Events already on their way may arrive first; then the error.
    let last = loop {
        let payload = client.next("s").await;
        if payload["data"]["changes"].is_null() {
            break payload;
        }
    };
    assert_eq!(error_codes(&last), ["SOURCE_UNAVAILABLE"], "{last}");
    assert_eq!(last["errors"][0]["path"], json!(["changes"]), "{last}");
    client.expect("complete", "s").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_the_subgraph_refuses_ends_with_its_error() {
    let bulletins = Bulletins::start().await;
    // The server has no `PriceChange.ghost`: it refuses the document.
    let sdl = weft_tests::bulletins::SDL.replace("note: String", "note: String ghost: String");
    let federated = with_bulletins_sdl(&bulletins, &sdl, &[]).await;
    let mut client = federated.gateway.ws_ready().await;
    let query = r#"subscription { changes: priceChanges(sku: "SKU-0001") { seq ghost } }"#;
    client.subscribe("s", query).await;
    let payload = client.next("s").await;
    assert_eq!(payload["data"], Value::Null, "{payload}");
    assert_eq!(error_codes(&payload), ["SOURCE_GRAPHQL_ERROR"], "{payload}");
    assert_eq!(
        payload["errors"][0]["path"],
        json!(["changes"]),
        "{payload}"
    );
    let message = payload["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("ghost"), "{message}");
    client.expect("complete", "s").await;
    assert_eq!(bulletins.opened(), 0);
}

/// The labels subgraph's `Product.shippingEstimate`, which needs the
/// catalog's price and width.
const REQUIRES_SDL: &str = r#"type Product @key(fields: "sku") {
  sku: ID!
  priceCents: Int! @external
  dimensions: Dimensions @external
  shippingEstimate: Int @requires(fields: "priceCents dimensions { widthMm }")
}
type Dimensions { widthMm: Int! @external }
type Query { labelsVersion: Int! }"#;

/// The representation of `product` the labels subgraph must receive for
/// `shippingEstimate`: its key and the required fields, `dimensions` cut
/// down to `widthMm`.
fn required_representation(product: &subgraphs::data::ProductRecord) -> Value {
    let width = product.dimensions.width_mm;
    json!({
        "__typename": "Product",
        "sku": product.sku,
        "priceCents": product.price_cents,
        "dimensions": { "widthMm": width },
    })
}

/// The estimate the labels subgraph computes for `product`.
fn expected_estimate(product: &subgraphs::data::ProductRecord) -> Value {
    let width = i64::from(product.dimensions.width_mm);
    json!(weft_tests::labels::shipping_estimate(
        product.price_cents,
        width
    ))
}

#[tokio::test]
async fn a_required_field_from_the_grpc_catalog_is_sent_in_the_representation() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, REQUIRES_SDL).await;
    let body = federated
        .gateway
        .query(r#"{ product(sku: "SKU-0003") { name shippingEstimate } }"#)
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let product = subgraphs::data::product("SKU-0003").unwrap();
    // `priceCents` and `dimensions` were fetched but not selected: they
    // stay out of the answer.
    assert_eq!(
        body["data"],
        json!({ "product": { "name": product.name, "shippingEstimate": expected_estimate(product) } })
    );
    assert_eq!(
        labels.representations(),
        [json!([required_representation(product)])]
    );
    assert_eq!(federated.services.catalog.calls().count("GetProduct"), 1);
    assert_eq!(labels.entities_calls(), 1);
}

#[tokio::test]
async fn weft_plan_fetches_the_required_fields_a_level_earlier() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, REQUIRES_SDL).await;
    let plan = federated
        .gateway
        .gateway
        .served()
        .pipeline
        .plan(r#"{ product(sku: "SKU-0003") { shippingEstimate } }"#, None)
        .unwrap()
        .to_string();
    let level_of = |needle: &str| {
        let at = plan
            .find(needle)
            .unwrap_or_else(|| panic!("{needle}: {plan}"));
        plan[..at]
            .rfind("level ")
            .map(|start| plan[start..].split_whitespace().nth(1).unwrap().to_owned())
    };
    assert_eq!(
        level_of("product  <-  catalog"),
        Some("1".to_owned()),
        "{plan}"
    );
    assert_eq!(
        level_of("product.shippingEstimate  <-  labels"),
        Some("2".to_owned()),
        "{plan}"
    );
    assert!(
        plan.contains("... on Product { shippingEstimate } } } (batched by parent, by sku, priceCents, dimensions)"),
        "{plan}"
    );
    assert_eq!(labels.entities_calls(), 0, "planning calls nothing");
}

#[tokio::test]
async fn fifty_entities_with_required_fields_take_one_call() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, REQUIRES_SDL).await;
    let body = federated
        .gateway
        .query("{ products(first: 50) { sku priceCents shippingEstimate } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let products = body["data"]["products"].as_array().unwrap();
    assert_eq!(products.len(), 50);
    let mut expected = Vec::new();
    for answered in products {
        let product = subgraphs::data::product(answered["sku"].as_str().unwrap()).unwrap();
        assert_eq!(answered["priceCents"], product.price_cents, "{answered}");
        assert_eq!(
            answered["shippingEstimate"],
            expected_estimate(product),
            "{answered}"
        );
        expected.push(required_representation(product));
    }
    assert_eq!(labels.entities_calls(), 1);
    assert_eq!(labels.representations(), [Value::Array(expected)]);
    assert_eq!(federated.services.catalog.calls().total(), 1);
}

#[tokio::test]
async fn requires_naming_an_unknown_field_is_a_composition_error() {
    let sdl = r#"type Product @key(fields: "sku") {
  sku: ID!
  priceCents: Int! @external
  shippingEstimate: Int @requires(fields: "priceCents weightGrams")
}
type Query { labelsVersion: Int! }"#;
    let errors = composition_errors(sdl).await;
    assert!(errors.contains("labels.graphql:4:"), "{errors}");
    assert!(
        errors.contains(
            "subgraph `labels`: `Product.shippingEstimate`: @requires field `weightGrams` is not a field of `Product`"
        ),
        "{errors}"
    );
}

#[tokio::test]
async fn external_fields_named_by_requires_compose() {
    let labels = Labels::start().await;
    let federated = with_labels(&labels, REQUIRES_SDL).await;
    let sdl = federated.gateway.gateway.sdl();
    assert!(sdl.contains("shippingEstimate: Int"), "{sdl}");
}

#[tokio::test]
async fn a_required_field_with_a_call_of_its_own_is_fetched_a_level_earlier() {
    let labels = Labels::start().await;
    let url = labels.url.clone();
    let sdl = r#"type Product @key(fields: "sku") {
  sku: ID!
  priceCents: Int! @external
  dimensions: Dimensions @external
  buyerName: String @external
  shippingEstimate: Int @requires(fields: "priceCents dimensions { widthMm } buyerName")
}
type Dimensions { widthMm: Int! @external }
type Query { labelsVersion: Int! }"#;
    let federated = start_in(move |config, dir| {
        dir.write("labels.graphql", sdl);
        let schema = format!(
            "{}\nextend type Product {{\n  buyerName: String @rest(source: \"users\", get: \"/users/1\", response: \"full_name\")\n}}\n",
            weft::demo::SCHEMA
        );
        config
            .schema(&schema)
            .graphql_source("labels", &url, DEMO_TIMEOUT_MS)
            .source_option("labels", "sdl = \"labels.graphql\"")
    })
    .await;
    let query = r#"{ product(sku: "SKU-0003") { name shippingEstimate } }"#;
    let plan = federated
        .gateway
        .gateway
        .served()
        .pipeline
        .plan(query, None)
        .unwrap()
        .to_string();
    let buyer = plan
        .find("product.buyerName  <-  users")
        .unwrap_or(usize::MAX);
    let estimate = plan.find("level 3\n  product.shippingEstimate  <-  labels");
    assert!(
        buyer < plan.len() && estimate.is_some_and(|at| buyer < at),
        "{plan}"
    );
    let body = federated.gateway.query(query).await;
    assert_eq!(body.get("errors"), None, "{body}");
    let product = subgraphs::data::product("SKU-0003").unwrap();
    assert_eq!(
        body["data"],
        json!({ "product": { "name": product.name, "shippingEstimate": expected_estimate(product) } })
    );
    let buyer_name = subgraphs::data::user("1").unwrap().full_name.clone();
    let mut representation = required_representation(product);
    representation["buyerName"] = json!(buyer_name);
    assert_eq!(labels.representations(), [json!([representation])]);
    assert_eq!(federated.services.users.calls().count("GET /users/{id}"), 1);
    assert_eq!(labels.entities_calls(), 1);
}
