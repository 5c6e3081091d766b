//! Interfaces and unions over a REST backend: each value's object type is
//! told from its JSON (`__typename`, or the field and mapping of
//! `@discriminator`), fragments apply by type condition (and `@skip` and
//! `@include` on them), a variant's own fetched fields are batched across
//! the list, a value of no known type is a `SOURCE_BAD_RESPONSE` at its
//! path, introspection lists possible types, an OpenAPI document may
//! describe the answers as objects, and schema mistakes are reported at
//! their line.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use serde_json::{Value, json};
use weft::Gateway;
use weft_tests::{GatewayConfig, SCHEMA_FILE, StubBackend, TestDir, TestGateway, line_of};

const SCHEMA: &str = r#"type Query {
  search(text: String!): [SearchResult!]! @rest(source: "stub", get: "/search?q={$args.text}")
  nodes: [Node!]! @rest(source: "stub", get: "/nodes")
  node: Node @rest(source: "stub", get: "/node")
}

interface Node {
  id: ID!
}

union SearchResult @discriminator(field: "kind", mapping: { paperback: "Book" }) = User | Book

type User implements Node {
  id: ID!
  name: String!
  orders: [Order!]! @rest(source: "stub", get: "/orders?userIds={$batch.id}", groupBy: "userId")
}

type Book implements Node {
  id: ID! @map(from: "sku")
  title: String!
}

type Order {
  id: ID!
}
"#;

/// The stub backend, counting calls to `/orders`.
async fn stub(order_calls: Arc<AtomicUsize>) -> StubBackend {
    let orders = move |Query(query): Query<Vec<(String, String)>>| {
        let order_calls = order_calls.clone();
        async move {
            order_calls.fetch_add(1, Ordering::SeqCst);
            let ids: Vec<String> = query
                .into_iter()
                .filter(|(name, _)| name == "userIds")
                .flat_map(|(_, ids)| ids.split(',').map(str::to_owned).collect::<Vec<_>>())
                .collect();
            let orders: Vec<Value> = ids
                .iter()
                .map(|id| json!({ "id": format!("o-{id}"), "userId": id }))
                .collect();
            axum::Json(Value::Array(orders))
        }
    };
    StubBackend::start(
        Router::new()
            .route(
                "/search",
                get(|| async {
                    axum::Json(json!([
                        { "kind": "user", "id": "1", "name": "Ada" },
                        { "kind": "paperback", "sku": "B-1", "title": "Dune" },
                        { "kind": "USER", "id": "2", "name": "Grace" },
                        { "kind": "BOOK", "sku": "B-2", "title": "Emma" }
                    ]))
                }),
            )
            .route(
                "/nodes",
                get(|| async {
                    axum::Json(json!([
                        { "__typename": "Book", "sku": "B-1", "title": "Dune" },
                        { "__typename": "User", "id": "1", "name": "Ada" }
                    ]))
                }),
            )
            .route(
                "/node",
                get(|| async { axum::Json(json!({ "__typename": "Robot", "id": "r-1" })) }),
            )
            .route("/orders", get(orders)),
    )
    .await
}

async fn gateway(stub: &StubBackend) -> (TestDir, TestGateway) {
    let dir = TestDir::new();
    let config = GatewayConfig::new(SCHEMA)
        .rest_source("stub", &stub.url, 2000)
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    (dir, TestGateway::started(&config).await)
}

#[tokio::test]
async fn a_union_answers_each_item_by_its_type() {
    let order_calls = Arc::new(AtomicUsize::new(0));
    let stub = stub(order_calls.clone()).await;
    let (_dir, gateway) = gateway(&stub).await;
    let body = gateway
        .query(
            r#"{ search(text: "a") {
                __typename
                ... on User { name orders { id } }
                ...BookParts
                ... on Node { id }
            } }
            fragment BookParts on Book { title }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"]["search"],
        json!([
            { "__typename": "User", "name": "Ada", "orders": [{ "id": "o-1" }], "id": "1" },
            { "__typename": "Book", "title": "Dune", "id": "B-1" },
            { "__typename": "User", "name": "Grace", "orders": [{ "id": "o-2" }], "id": "2" },
            { "__typename": "Book", "title": "Emma", "id": "B-2" }
        ])
    );
    // Both users' orders come in one call.
    assert_eq!(order_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_interface_selects_its_fields_and_each_types_own() {
    let stub = stub(Arc::new(AtomicUsize::new(0))).await;
    let (_dir, gateway) = gateway(&stub).await;
    let body = gateway
        .query("{ nodes { id __typename ... on Book { title } ... on User { name } } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"]["nodes"],
        json!([
            { "id": "B-1", "__typename": "Book", "title": "Dune" },
            { "id": "1", "__typename": "User", "name": "Ada" }
        ])
    );
}

#[tokio::test]
async fn skip_and_include_apply_to_fragments_on_each_type() {
    let stub = stub(Arc::new(AtomicUsize::new(0))).await;
    let (_dir, gateway) = gateway(&stub).await;
    let query = r"query ($books: Boolean!) {
        nodes { id ... on Book @include(if: $books) { title } ...UserName @skip(if: $books) }
    }
    fragment UserName on User { name }";
    let body = gateway.query_with(query, json!({ "books": true })).await;
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "id": "B-1", "title": "Dune" }, { "id": "1" }]),
        "{body}"
    );
    let body = gateway.query_with(query, json!({ "books": false })).await;
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "id": "B-1" }, { "id": "1", "name": "Ada" }]),
        "{body}"
    );
}

#[tokio::test]
async fn a_value_of_no_known_type_is_a_bad_response_at_its_path() {
    let stub = stub(Arc::new(AtomicUsize::new(0))).await;
    let (_dir, gateway) = gateway(&stub).await;
    let body = gateway.query("{ node { id } nodes { id } }").await;
    assert_eq!(body["data"]["node"], Value::Null, "{body}");
    assert_eq!(
        body["data"]["nodes"],
        json!([{ "id": "B-1" }, { "id": "1" }])
    );
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{body}");
    assert_eq!(errors[0]["path"], json!(["node"]));
    assert_eq!(errors[0]["extensions"]["code"], "SOURCE_BAD_RESPONSE");
    let message = errors[0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"Robot\""), "{message}");
}

#[tokio::test]
async fn introspection_and_validation_know_the_abstract_types() {
    let stub = stub(Arc::new(AtomicUsize::new(0))).await;
    let (_dir, gateway) = gateway(&stub).await;
    let body = gateway
        .query(
            r#"{ union: __type(name: "SearchResult") { kind possibleTypes { name } }
                 node: __type(name: "Node") { kind possibleTypes { name } }
                 user: __type(name: "User") { interfaces { name } } }"#,
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let mut node_types: Vec<String> = body["data"]["node"]["possibleTypes"]
        .as_array()
        .expect("possible types")
        .iter()
        .map(|ty| ty["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    node_types.sort();
    assert_eq!(node_types, ["Book", "User"]);
    assert_eq!(body["data"]["union"]["kind"], "UNION");
    assert_eq!(body["data"]["node"]["kind"], "INTERFACE");
    assert_eq!(
        body["data"]["user"]["interfaces"],
        json!([{ "name": "Node" }])
    );
    // A field of one object type is not a field of the interface.
    let body = gateway.query("{ nodes { name } }").await;
    assert_eq!(body.get("data"), None, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test]
async fn the_plan_names_the_type_of_each_fetch_under_a_union() {
    let stub = stub(Arc::new(AtomicUsize::new(0))).await;
    let (_dir, gateway) = gateway(&stub).await;
    let plan = gateway
        .gateway
        .served()
        .pipeline
        .plan(
            r#"{ search(text: "a") { ... on User { orders { id } } } }"#,
            None,
        )
        .expect("a plan");
    let text = plan.to_string();
    assert!(text.contains("search<User>.orders  <-  "), "{text}");
}

fn schema_problems(schema: &str) -> (TestDir, String) {
    let dir = TestDir::new();
    let built = GatewayConfig::new(schema)
        .rest_source("stub", "http://127.0.0.1:9", 1000)
        .load(&dir)
        .and_then(|config| Gateway::from_config(&config));
    match built {
        Ok(_) => panic!("the schema built although it is wrong"),
        Err(problems) => (dir, problems.to_string()),
    }
}

/// The stub as an OpenAPI document describes it: its abstract answers
/// as objects.
const OPENAPI: &str = r#"openapi: 3.0.3
info: { title: stub, version: "1" }
paths:
  /search:
    get:
      parameters: [{ name: q, in: query, schema: { type: string } }]
      responses:
        "200":
          description: hits
          content:
            application/json:
              schema: { type: array, items: { type: object } }
  /nodes:
    get:
      responses:
        "200":
          description: nodes
          content:
            application/json:
              schema: { type: array, items: { type: object } }
  /node:
    get:
      responses:
        "200":
          description: a node
          content:
            application/json:
              schema: { type: object }
  /orders:
    get:
      parameters: [{ name: userIds, in: query, schema: { type: string } }]
      responses:
        "200":
          description: orders
          content:
            application/json:
              schema:
                type: array
                items:
                  type: object
                  required: [id, userId]
                  properties: { id: { type: string }, userId: { type: string } }
"#;

#[test]
fn an_openapi_document_may_describe_an_abstract_answer_as_objects() {
    let dir = TestDir::new();
    dir.write("stub.yaml", OPENAPI);
    let built = GatewayConfig::new(SCHEMA)
        .rest_source("stub", "http://127.0.0.1:9", 1000)
        .source_option("stub", "openapi = \"stub.yaml\"")
        .load(&dir)
        .and_then(|config| Gateway::from_config(&config));
    if let Err(problems) = built {
        panic!("the abstract answers are held against object schemas:\n{problems}");
    }
}

#[test]
fn mistakes_in_abstract_types_are_reported_at_their_line() {
    let cases = [
        (
            SCHEMA.replace(
                "  id: ID!\n}\n\nunion",
                "  id: ID! @rest(source: \"stub\", get: \"/id\")\n}\n\nunion",
            ),
            "id: ID! @rest",
            "`Node.id` is a field of an interface",
        ),
        (
            SCHEMA.replace("paperback: \"Book\"", "paperback: \"Order\""),
            "union SearchResult",
            "`Order` is not one of its types (User, Book)",
        ),
        (
            SCHEMA.replace("= User | Book", "= User | Book | Node"),
            "union SearchResult",
            "member `Node` is not an object type",
        ),
        (
            SCHEMA.replace("@discriminator(", "@key(fields: \"id\") @discriminator("),
            "union SearchResult",
            "unknown directive `@key` on an interface or union",
        ),
    ];
    for (schema, line_text, message) in cases {
        let (dir, problems) = schema_problems(&schema);
        let file = dir.path().join(SCHEMA_FILE);
        let at = format!("{}:{}:", file.display(), line_of(&schema, line_text));
        let line = problems
            .lines()
            .find(|line| line.contains(message))
            .unwrap_or_else(|| panic!("no problem says {message:?}:\n{problems}"));
        assert!(line.contains(&at), "{line} is not at {at}");
    }
}
