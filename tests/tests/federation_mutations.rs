//! Mutations through a federation subgraph: each root field is sent as a
//! `mutation`, in the order written, identical ones each time.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use async_graphql::{Context, EmptySubscription, ID, Object, Schema, SimpleObject};
use serde_json::json;
use subgraphs::calls::CallLog;
use subgraphs::federated::{ROUTE_QUERY, serve};
use weft_tests::{GatewayConfig, StubBackend, TestDir, TestGateway};

const SDL: &str = r#"extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

type Query {
  counter: Int!
}

type Mutation {
  increment(by: Int!): Tick!
}

type Tick {
  id: ID!
  value: Int!
}
"#;

#[derive(SimpleObject)]
struct Tick {
    id: ID,
    value: i32,
}

struct CounterQuery;

#[Object]
impl CounterQuery {
    async fn counter(&self, context: &Context<'_>) -> i32 {
        context
            .data_unchecked::<Arc<AtomicI32>>()
            .load(Ordering::SeqCst)
    }
}

struct CounterMutation;

#[Object]
impl CounterMutation {
    async fn increment(&self, context: &Context<'_>, by: i32) -> Tick {
        let value = context
            .data_unchecked::<Arc<AtomicI32>>()
            .fetch_add(by, Ordering::SeqCst)
            + by;
        Tick {
            id: ID(format!("t-{value}")),
            value,
        }
    }
}

#[tokio::test]
async fn mutation_fields_run_in_order_as_mutations_every_time() {
    let calls = CallLog::new();
    let schema = Schema::build(CounterQuery, CounterMutation, EmptySubscription)
        .data(Arc::new(AtomicI32::new(0)))
        .enable_federation()
        .finish();
    let server = StubBackend::start(serve(schema, calls.clone())).await;
    let dir = TestDir::new();
    dir.write("counter.graphql", SDL);
    let config = GatewayConfig::new("type Query\n")
        .subgraph(
            "counter",
            &format!("{}/graphql", server.url),
            "counter.graphql",
        )
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    let body = gateway
        .query_with(
            "mutation($by: Int!) { first: increment(by: $by) { value } again: increment(by: $by) { value } last: increment(by: 10) { id value } }",
            json!({ "by": 1 }),
        )
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(
        body["data"],
        json!({
            "first": { "value": 1 },
            "again": { "value": 2 },
            "last": { "id": "t-12", "value": 12 }
        })
    );
    assert_eq!(calls.count(ROUTE_QUERY), 3);
    let body = gateway.query("{ counter }").await;
    assert_eq!(body["data"], json!({ "counter": 12 }));
}
