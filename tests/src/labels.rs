//! The labels subgraph: a small Apollo Federation v2 subgraph
//! (async-graphql) for the directives the reviews subgraph does not use.
//! It resolves `Product` by `sku` (giving `name` as `"Label of <sku>"`,
//! and `shippingEstimate` from the `priceCents` and `dimensions { widthMm }`
//! the representation carries: [`shipping_estimate`])
//! and `User` by the compound key `id email` (giving
//! `badge` as `"<id>|<email>"`), answers `featuredLabels` (each with a
//! `product`, whose `name` it can provide), and counts its `_entities`
//! calls and keeps the representations each carried.
//!
//! Its SDL is whatever a test writes to the `sdl` file: the same server
//! answers a `Product.name` that is `@shareable`, `@override`n or in
//! conflict, and a `User` with several keys.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, ID, InputObject, Object, Schema, SimpleObject,
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
    #[graphql(skip)]
    price_cents: Option<i64>,
    #[graphql(skip)]
    width_mm: Option<i64>,
}

#[ComplexObject]
impl Product {
    async fn name(&self) -> String {
        format!("Label of {}", self.sku.as_str())
    }

    /// Needs `priceCents` and `dimensions { widthMm }` in the
    /// representation; null without them.
    async fn shipping_estimate(&self) -> Option<i64> {
        shipping_estimate(self.price_cents?, self.width_mm?)
    }
}

/// What `shippingEstimate` answers: 0 from 10,000 cents up, else the width
/// in millimetres plus a hundredth of the price.
pub fn shipping_estimate(price_cents: i64, width_mm: i64) -> Option<i64> {
    Some(if price_cents >= 10_000 {
        0
    } else {
        width_mm + price_cents / 100
    })
}

/// The part of a product's dimensions a representation carries.
#[derive(InputObject)]
struct DimensionsInput {
    width_mm: Option<i64>,
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
                    price_cents: None,
                    width_mm: None,
                },
            })
            .collect()
    }

    #[graphql(entity)]
    async fn product_by_sku(
        &self,
        #[graphql(key)] sku: ID,
        price_cents: Option<i64>,
        dimensions: Option<DimensionsInput>,
    ) -> Product {
        Product {
            sku,
            price_cents,
            width_mm: dimensions.and_then(|dimensions| dimensions.width_mm),
        }
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
    representations: Representations,
    _server: StubBackend,
}

/// The `representations` of every `_entities` call, in arrival order.
type Representations = Arc<Mutex<Vec<serde_json::Value>>>;

impl Labels {
    /// Serves the subgraph on a free port of the test's runtime.
    pub async fn start() -> Self {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .finish();
        let entities = Arc::new(AtomicU64::new(0));
        let representations = Representations::default();
        let router = axum::Router::new()
            .route("/graphql", post(answer))
            .with_state((schema, entities.clone(), representations.clone()));
        let server = StubBackend::start(router).await;
        Self {
            url: format!("{}/graphql", server.url),
            entities,
            representations,
            _server: server,
        }
    }

    /// The `representations` variable of each `_entities` call so far.
    ///
    /// # Panics
    ///
    /// When a handler panicked while holding the list.
    pub fn representations(&self) -> Vec<serde_json::Value> {
        self.representations
            .lock()
            .expect("the representations lock")
            .clone()
    }

    /// How many `_entities` calls it has answered.
    pub fn entities_calls(&self) -> u64 {
        self.entities.load(Ordering::SeqCst)
    }
}

async fn answer(
    State((schema, entities, representations)): State<(
        LabelsSchema,
        Arc<AtomicU64>,
        Representations,
    )>,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    if request.query.contains("_entities") {
        entities.fetch_add(1, Ordering::SeqCst);
        let sent = request
            .variables
            .get("representations")
            .and_then(|value| value.clone().into_json().ok())
            .unwrap_or_default();
        if let Ok(mut all) = representations.lock() {
            all.push(sent);
        }
    }
    Json(schema.execute(request).await)
}
