//! The labels subgraph: a small Apollo Federation v2 subgraph
//! (async-graphql) for the directives the reviews subgraph does not use.
//! It resolves `Product` by `sku` (giving `name` as `"Label of <sku>"`)
//! and `User` by the compound key `id email` (giving
//! `badge` as `"<id>|<email>"`), answers `featuredLabels` (each with a
//! `product`, whose `name` it can provide), and counts its `_entities`
//! calls.
//!
//! Its SDL is whatever a test writes to the `sdl` file: the same server
//! answers a `Product.name` that is `@shareable`, `@override`n or in
//! conflict, and a `User` with several keys.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject,
};
use axum::Json;
use axum::extract::State;
use axum::routing::post;

use crate::StubBackend;

/// A product, by its catalog key.
#[derive(SimpleObject)]
#[graphql(complex)]
struct Product {
    sku: ID,
}

#[ComplexObject]
impl Product {
    async fn name(&self) -> String {
        format!("Label of {}", self.sku.as_str())
    }
}

/// A user, by a compound key.
#[derive(SimpleObject)]
#[graphql(complex)]
struct User {
    id: ID,
    email: String,
}

#[ComplexObject]
impl User {
    async fn badge(&self) -> String {
        format!("{}|{}", self.id.as_str(), self.email)
    }
}

/// A label of a product; it provides the product's `name`.
#[derive(SimpleObject)]
struct Label {
    text: String,
    product: Product,
}

struct Query;

#[Object]
impl Query {
    /// A root field, so the schema has one.
    async fn labels_version(&self) -> i32 {
        1
    }

    /// The labels of `SKU-0001` and `SKU-0002`.
    async fn featured_labels(&self) -> Vec<Label> {
        ["SKU-0001", "SKU-0002"]
            .into_iter()
            .map(|sku| Label {
                text: format!("Featured {sku}"),
                product: Product {
                    sku: ID(sku.to_owned()),
                },
            })
            .collect()
    }

    #[graphql(entity)]
    async fn product_by_sku(&self, sku: ID) -> Product {
        Product { sku }
    }

    #[graphql(entity)]
    async fn user_by_id_and_email(&self, id: ID, email: String) -> User {
        User { id, email }
    }
}

type LabelsSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The running labels subgraph.
#[derive(Debug)]
pub struct Labels {
    /// Its GraphQL endpoint, `http://127.0.0.1:<port>/graphql`.
    pub url: String,
    entities: Arc<AtomicU64>,
    _server: StubBackend,
}

impl Labels {
    /// Serves the subgraph on a free port of the test's runtime.
    pub async fn start() -> Self {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish();
        let entities = Arc::new(AtomicU64::new(0));
        let router = axum::Router::new()
            .route("/graphql", post(answer))
            .with_state((schema, entities.clone()));
        let server = StubBackend::start(router).await;
        Self {
            url: format!("{}/graphql", server.url),
            entities,
            _server: server,
        }
    }

    /// How many `_entities` calls it has answered.
    pub fn entities_calls(&self) -> u64 {
        self.entities.load(Ordering::SeqCst)
    }
}

async fn answer(
    State((schema, entities)): State<(LabelsSchema, Arc<AtomicU64>)>,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    if request.query.contains("_entities") {
        entities.fetch_add(1, Ordering::SeqCst);
    }
    Json(schema.execute(request).await)
}
