//! A subgraph's root field returning entities another subgraph owns: the
//! answering subgraph gives the keys, the owner the other fields in one
//! `_entities` call, and fields the answering subgraph `@provides` need no
//! call to the owner.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use serde_json::json;
use subgraphs::calls::CallLog;
use subgraphs::federated::{ROUTE_ENTITIES, ROUTE_QUERY, serve};
use weft_tests::{GatewayConfig, StubBackend, TestDir, TestGateway};

const PRODUCTS_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  product(upc: String!): Product
}

type Product @key(fields: "upc") {
  upc: String!
  name: String!
  price: Int!
}
"#;

const INVENTORY_SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key", "@external", "@provides"])

type Query {
  lowStock: [Product!]!
  lowStockNamed: [Product!]! @provides(fields: "name")
}

type Product @key(fields: "upc") {
  upc: String!
  name: String! @external
  stock: Int!
}
"#;

#[derive(SimpleObject, Clone)]
struct Product {
    upc: String,
    name: String,
    price: i32,
}

fn catalog() -> Vec<Product> {
    (1..=3)
        .map(|n| Product {
            upc: format!("u-{n}"),
            name: format!("Product {n}"),
            price: n * 100,
        })
        .collect()
}

struct ProductsQuery;

#[Object]
impl ProductsQuery {
    async fn product(&self, upc: String) -> Option<Product> {
        catalog().into_iter().find(|product| product.upc == upc)
    }

    #[graphql(entity)]
    async fn find_product_by_upc(&self, upc: String) -> Option<Product> {
        catalog().into_iter().find(|product| product.upc == upc)
    }
}

/// `Product` as the inventory subgraph sees it.
#[derive(SimpleObject)]
#[graphql(name = "Product")]
struct Stocked {
    upc: String,
    name: String,
    stock: i32,
}

struct InventoryQuery;

#[Object]
impl InventoryQuery {
    async fn low_stock(&self) -> Vec<Stocked> {
        ["u-3", "u-1"]
            .into_iter()
            .map(|upc| Stocked {
                upc: upc.to_owned(),
                name: String::new(),
                stock: 2,
            })
            .collect()
    }

    async fn low_stock_named(&self) -> Vec<Stocked> {
        vec![Stocked {
            upc: "u-2".to_owned(),
            name: "Product 2 (from inventory)".to_owned(),
            stock: 1,
        }]
    }
}

struct Subgraphs {
    products_calls: CallLog,
    inventory_calls: CallLog,
    _servers: [StubBackend; 2],
    _dir: TestDir,
    gateway: TestGateway,
}

async fn start() -> Subgraphs {
    let products_calls = CallLog::new();
    let products = Schema::build(ProductsQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let products = StubBackend::start(serve(products, products_calls.clone())).await;
    let inventory_calls = CallLog::new();
    let inventory = Schema::build(InventoryQuery, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish();
    let inventory = StubBackend::start(serve(inventory, inventory_calls.clone())).await;
    let dir = TestDir::new();
    dir.write("products.graphql", PRODUCTS_SDL);
    dir.write("inventory.graphql", INVENTORY_SDL);
    let config = GatewayConfig::new("type Query\n")
        .subgraph(
            "inventory",
            &format!("{}/graphql", inventory.url),
            "inventory.graphql",
        )
        .subgraph(
            "products",
            &format!("{}/graphql", products.url),
            "products.graphql",
        )
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    Subgraphs {
        products_calls,
        inventory_calls,
        _servers: [products, inventory],
        _dir: dir,
        gateway,
    }
}

#[tokio::test]
async fn the_owner_answers_the_fields_of_entities_another_subgraphs_root_field_returns() {
    let subgraphs = start().await;
    let body = subgraphs
        .gateway
        .query("{ lowStock { upc name price stock } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"]["lowStock"],
        json!([
            { "upc": "u-3", "name": "Product 3", "price": 300, "stock": 2 },
            { "upc": "u-1", "name": "Product 1", "price": 100, "stock": 2 }
        ])
    );
    assert_eq!(subgraphs.inventory_calls.count(ROUTE_QUERY), 1);
    assert_eq!(subgraphs.inventory_calls.total(), 1);
    assert_eq!(subgraphs.products_calls.count(ROUTE_ENTITIES), 1);
    assert_eq!(subgraphs.products_calls.total(), 1);
}

#[tokio::test]
async fn provided_fields_of_another_subgraphs_entity_need_no_call_to_its_owner() {
    let subgraphs = start().await;
    let body = subgraphs
        .gateway
        .query("{ lowStockNamed { upc name stock } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"]["lowStockNamed"],
        json!([{ "upc": "u-2", "name": "Product 2 (from inventory)", "stock": 1 }])
    );
    assert_eq!(subgraphs.products_calls.total(), 0);
    let body = subgraphs
        .gateway
        .query("{ lowStockNamed { name price } }")
        .await;
    assert_eq!(
        body["data"]["lowStockNamed"],
        json!([{ "name": "Product 2 (from inventory)", "price": 200 }]),
        "{body}"
    );
    assert_eq!(subgraphs.products_calls.count(ROUTE_ENTITIES), 1);
}
