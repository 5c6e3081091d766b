//! The federation gateway benchmark's four subgraphs (accounts, products,
//! inventory, reviews) composed by weft alone: its standard query answers
//! what a subgraph-by-subgraph resolution of the same data gives, with
//! `shippingEstimate` computed by inventory from the `price` and `weight`
//! products answered, and a fixed number of calls per subgraph.

use serde_json::{Map, Value, json};
use subgraphs::benchmark::{
    self, AUTHOR, Account, CatalogProduct, QUERY, ReviewRecord, Subgraph, USER_REVIEWS,
};
use subgraphs::reviews::{ROUTE_ENTITIES, ROUTE_QUERY};
use subgraphs::{RunningService, Service};
use weft_tests::{DEMO_TIMEOUT_MS, GatewayConfig, TestDir, TestGateway, spawn_service};

/// The four subgraphs and a gateway over them.
struct Bench {
    subgraphs: Vec<(Subgraph, RunningService)>,
    _dir: TestDir,
    gateway: TestGateway,
}

async fn start() -> Bench {
    let subgraphs: Vec<(Subgraph, RunningService)> = Subgraph::ALL
        .into_iter()
        .map(|subgraph| (subgraph, spawn_service(Service::Bench(subgraph))))
        .collect();
    let mut config = GatewayConfig::new(weft::bench::federation::SCHEMA);
    for (subgraph, running) in &subgraphs {
        let url = format!("{}/graphql", running.url());
        config = config.graphql_source(subgraph.name(), &url, DEMO_TIMEOUT_MS);
    }
    let dir = TestDir::new();
    let config = config
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    for (_, running) in &subgraphs {
        running.calls().reset();
    }
    Bench {
        subgraphs,
        _dir: dir,
        gateway,
    }
}

/// The `...User` fragment of an account.
fn user(account: &Account) -> Map<String, Value> {
    let mut user = Map::new();
    user.insert("id".into(), json!(account.id.as_str()));
    user.insert("username".into(), json!(account.username));
    user.insert("name".into(), json!(account.name));
    user
}

/// The `...Review` fragment of a review.
fn review(record: &ReviewRecord) -> Map<String, Value> {
    let mut review = Map::new();
    review.insert("id".into(), json!(record.id));
    review.insert("body".into(), json!(record.body));
    review
}

/// The `...Product` fragment: products' fields and inventory's.
fn product(upc: &str) -> Map<String, Value> {
    let found = benchmark::catalog()
        .into_iter()
        .find(|product: &CatalogProduct| product.upc == upc)
        .expect("a known upc");
    let mut product = Map::new();
    product.insert("inStock".into(), json!(benchmark::in_stock(upc)));
    product.insert("name".into(), json!(found.name));
    product.insert("price".into(), json!(found.price));
    product.insert(
        "shippingEstimate".into(),
        json!(benchmark::shipping_estimate(found.price, found.weight)),
    );
    product.insert("upc".into(), json!(found.upc));
    product.insert("weight".into(), json!(found.weight));
    product
}

/// What the reviews subgraph answers for `User.reviews`.
fn reviews_of_user() -> Vec<ReviewRecord> {
    benchmark::review_records()
        .into_iter()
        .filter(|record| USER_REVIEWS.contains(&record.id.as_str()))
        .collect()
}

/// What the reviews subgraph answers for `Product.reviews`.
fn reviews_of_product(upc: &str) -> Vec<ReviewRecord> {
    benchmark::review_records()
        .into_iter()
        .filter(|record| record.upc == upc)
        .collect()
}

/// The author of every review, from accounts.
fn author() -> Account {
    benchmark::accounts()
        .into_iter()
        .find(|account| account.id.as_str() == AUTHOR.0)
        .expect("the author is an account")
}

fn with(mut object: Map<String, Value>, key: &str, value: Value) -> Value {
    object.insert(key.to_owned(), value);
    Value::Object(object)
}

/// `reviews { ...Review product { ...Product } }` of a user.
fn user_reviews_with_products() -> Value {
    reviews_of_user()
        .iter()
        .map(|record| {
            with(
                review(record),
                "product",
                Value::Object(product(&record.upc)),
            )
        })
        .collect()
}

/// `author { ...User reviews { ...Review product { ...Product } } }`.
fn author_with_reviews() -> Value {
    with(user(&author()), "reviews", user_reviews_with_products())
}

/// `reviews { ...Review author { … } }` of a product.
fn product_reviews_with_authors(upc: &str) -> Value {
    reviews_of_product(upc)
        .iter()
        .map(|record| with(review(record), "author", author_with_reviews()))
        .collect()
}

/// The benchmark query's answer, resolved subgraph by subgraph.
fn expected() -> Value {
    let users: Value = benchmark::accounts()
        .iter()
        .map(|account| {
            let reviews: Value = reviews_of_user()
                .iter()
                .map(|record| {
                    let product = with(
                        product(&record.upc),
                        "reviews",
                        product_reviews_with_authors(&record.upc),
                    );
                    with(review(record), "product", product)
                })
                .collect();
            with(user(account), "reviews", reviews)
        })
        .collect();
    let top: Value = benchmark::catalog()
        .iter()
        .take(5)
        .map(|found| {
            with(
                product(&found.upc),
                "reviews",
                product_reviews_with_authors(&found.upc),
            )
        })
        .collect();
    json!({ "users": users, "topProducts": top })
}

#[tokio::test]
async fn the_benchmark_query_answers_what_the_subgraphs_hold() {
    let bench = start().await;
    let body = bench.gateway.query(QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"], expected());
    let estimate = &body["data"]["topProducts"][1]["shippingEstimate"];
    assert_eq!(estimate, &json!(0), "the couch costs more than 1000");
    let calls = |subgraph: Subgraph, route: &str| {
        let (_, running) = bench
            .subgraphs
            .iter()
            .find(|(one, _)| *one == subgraph)
            .expect("every subgraph runs");
        running.calls().count(route)
    };
    // One call per root field; one `_entities` call per subgraph, entity
    // type and level (every field asked there in one selection), except
    // where a later level sends a document and representations sent
    // before (the answer is reused): accounts is asked for the author
    // once, products for the reviewed product once (both levels ask it the
    // same document: each field once),
    // inventory once (`inStock` and `shippingEstimate` together) for the
    // top products and once for product 1, reviews for the users', the
    // top products', product 1's and the author's reviews.
    assert_eq!(calls(Subgraph::Accounts, ROUTE_QUERY), 1);
    assert_eq!(calls(Subgraph::Accounts, ROUTE_ENTITIES), 1);
    assert_eq!(calls(Subgraph::Products, ROUTE_QUERY), 1);
    assert_eq!(calls(Subgraph::Products, ROUTE_ENTITIES), 1);
    assert_eq!(calls(Subgraph::Inventory, ROUTE_ENTITIES), 2);
    assert_eq!(calls(Subgraph::Reviews, ROUTE_ENTITIES), 4);
    let total: u64 = bench
        .subgraphs
        .iter()
        .map(|(_, running)| running.calls().total())
        .sum();
    assert_eq!(total, 10);
}
