//! The labels subgraph: a small Apollo Federation v2 subgraph
//! (async-graphql) for the directives the reviews subgraph does not use.
//! It resolves `Product` by `sku` (giving `name` as `"Label of <sku>"`,
//! `tag` as `"tag of <sku>"`, in capitals with `upper: true`,
//! and `shippingEstimate` from the `priceCents` and `dimensions { widthMm }`
//! the representation carries: [`shipping_estimate`])
//! and `User` by the compound key `id email` (giving
//! `badge` as `"<id>|<email>"`), answers `featuredLabels` (each with a
//! `product`, whose `name` it can provide), and counts its `_entities`
//! calls and keeps the representations each carried.
//!
//! For the errors of a subgraph, some fields fail as a real subgraph's
//! resolvers do (async-graphql sets each error's `path`):
//! `Product.secret` is `FORBIDDEN` for `SKU-0002` (and the SKUs a test
//! [`Labels::forbid`]s), the non-null
//! `Product.stamp` fails for `SKU-0003`, `Label.note` fails for the
//! second featured label. `labelsNotice` is answered with an error
//! without a path beside its data, and [`Labels::drop_last_entity`] makes
//! every `_entities` answer one entity short.
//!
//! Its SDL is whatever a test writes to the `sdl` file: the same server
//! answers a `Product.name` that is `@shareable`, `@override`n or in
//! conflict, and a `User` with several keys.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_graphql::{
    ComplexObject, Context, EmptyMutation, EmptySubscription, ErrorExtensions as _, ID,
    InputObject, Object, Schema, SimpleObject,
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

// Resolvers of a complex object must be `async`.
#[allow(clippy::unused_async)]
#[ComplexObject]
impl Product {
    async fn name(&self) -> String {
        format!("Label of {}", self.sku.as_str())
    }

    /// `"tag of <sku>"`, in capitals with `upper: true`.
    async fn tag(&self, upper: Option<bool>) -> String {
        let tag = format!("tag of {}", self.sku.as_str());
        if upper == Some(true) {
            tag.to_uppercase()
        } else {
            tag
        }
    }

    async fn secret(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let sku = self.sku.as_str();
        let forbidden = ctx
            .data::<Faults>()
            .is_ok_and(|faults| faults.is_forbidden(sku));
        if sku == "SKU-0002" || forbidden {
            return Err(
                async_graphql::Error::new(format!("the secret of {sku} is kept")).extend_with(
                    |_, extensions| {
                        extensions.set("code", "FORBIDDEN");
                        extensions.set("reason", "classified");
                    },
                ),
            );
        }
        Ok(format!("secret of {}", self.sku.as_str()))
    }

    async fn stamp(&self) -> async_graphql::Result<String> {
        if self.sku.as_str() == "SKU-0003" {
            return Err(async_graphql::Error::new("no stamp for SKU-0003"));
        }
        Ok(format!("stamp of {}", self.sku.as_str()))
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
#[graphql(complex)]
struct Label {
    text: String,
    product: Product,
}

#[allow(clippy::unused_async)]
#[ComplexObject]
impl Label {
    async fn note(&self) -> async_graphql::Result<String> {
        if self.product.sku.as_str() == "SKU-0002" {
            return Err(async_graphql::Error::new("the second note is lost")
                .extend_with(|_, extensions| extensions.set("code", "NOTE_LOST")));
        }
        Ok(format!("note on {}", self.text))
    }
}

struct Query;

#[Object]
impl Query {
    /// A root field, so the schema has one.
    async fn labels_version(&self) -> i32 {
        1
    }

    /// Answered with an error without a path beside it.
    async fn labels_notice(&self) -> String {
        "labels are printed on Mondays".to_owned()
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
    faults: Faults,
    representations: Representations,
    _server: StubBackend,
}

/// How the subgraph's answers are spoiled.
#[derive(Debug, Clone, Default)]
struct Faults {
    drop_last_entity: Arc<AtomicBool>,
    forbidden: Arc<Mutex<HashSet<String>>>,
}

impl Faults {
    fn is_forbidden(&self, sku: &str) -> bool {
        self.forbidden
            .lock()
            .is_ok_and(|forbidden| forbidden.contains(sku))
    }
}

/// The `representations` of every `_entities` call, in arrival order.
type Representations = Arc<Mutex<Vec<serde_json::Value>>>;

/// What the handler shares.
type Shared = (LabelsSchema, Arc<AtomicU64>, Faults, Representations);

impl Labels {
    /// Serves the subgraph on a free port of the test's runtime.
    pub async fn start() -> Self {
        let faults = Faults::default();
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription)
            .enable_federation()
            .data(faults.clone())
            .finish();
        let entities = Arc::new(AtomicU64::new(0));
        let representations = Representations::default();
        let router = axum::Router::new()
            .route("/graphql", post(answer))
            .with_state((
                schema,
                entities.clone(),
                faults.clone(),
                representations.clone(),
            ));
        let server = StubBackend::start(router).await;
        Self {
            url: format!("{}/graphql", server.url),
            entities,
            faults,
            representations,
            _server: server,
        }
    }

    /// From now on, `Product.secret` of `sku` fails too.
    pub fn forbid(&self, sku: &str) {
        if let Ok(mut forbidden) = self.faults.forbidden.lock() {
            forbidden.insert(sku.to_owned());
        }
    }

    /// From now on, every `_entities` list answered lacks its last entity.
    pub fn drop_last_entity(&self) {
        self.faults.drop_last_entity.store(true, Ordering::SeqCst);
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
    State((schema, entities, faults, representations)): State<Shared>,
    Json(request): Json<async_graphql::Request>,
) -> Json<serde_json::Value> {
    let asks_entities = request.query.contains("_entities");
    if asks_entities {
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
    let notice = request.query.contains("labelsNotice");
    let mut response = if asks_entities {
        entities_one_by_one(&schema, request).await
    } else {
        serde_json::to_value(schema.execute(request).await).unwrap_or_default()
    };
    if notice
        && let Some(errors) = response.as_object_mut().map(|response| {
            response
                .entry("errors")
                .or_insert_with(|| serde_json::json!([]))
        })
        && let Some(errors) = errors.as_array_mut()
    {
        errors.push(serde_json::json!({ "message": "the notice is out of date" }));
    }
    if asks_entities
        && faults.drop_last_entity.load(Ordering::SeqCst)
        && let Some(list) = response
            .pointer_mut("/data/_entities")
            .and_then(serde_json::Value::as_array_mut)
    {
        list.pop();
    }
    Json(response)
}

/// Answers `_entities` one representation at a time, so that each error's
/// path names its representation's index (`_entities.<i>.…`) as the
/// federation spec says; async-graphql leaves the index out.
async fn entities_one_by_one(
    schema: &LabelsSchema,
    request: async_graphql::Request,
) -> serde_json::Value {
    let variables = serde_json::to_value(&request.variables).unwrap_or_default();
    let representations = variables["representations"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (mut entities, mut errors) = (Vec::new(), Vec::new());
    for (index, representation) in representations.into_iter().enumerate() {
        let mut one = variables.clone();
        one["representations"] = serde_json::json!([representation]);
        let single = async_graphql::Request::new(request.query.clone())
            .variables(async_graphql::Variables::from_json(one));
        let answer = serde_json::to_value(schema.execute(single).await).unwrap_or_default();
        entities.push(answer["data"]["_entities"][0].clone());
        for mut error in answer["errors"].as_array().cloned().unwrap_or_default() {
            if let Some(path) = error["path"].as_array_mut()
                && path.first().is_some_and(|first| first == "_entities")
            {
                path.insert(1, serde_json::json!(index));
            }
            errors.push(error);
        }
    }
    let mut response = serde_json::json!({ "data": { "_entities": entities } });
    if !errors.is_empty() {
        response["errors"] = serde_json::Value::Array(errors);
    }
    response
}
