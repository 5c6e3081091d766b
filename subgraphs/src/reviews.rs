//! The reviews service: an Apollo Federation v2 subgraph (async-graphql)
//! that owns `Review` and adds `reviews` to `Product` (key `sku`, owned by
//! the catalog) and `User` (key `id`, owned by the users service).
//!
//! Every product has one to three reviews, made from its number:
//! product `n` has `n % 3 + 1`, review `k` of it (from 1) has id `R-n-k`,
//! rating `(n + k) % 5 + 1`, body `"Review k of SKU-…"` and author
//! `(n * 7 + k) % 50 + 1`.
//!
//! It is served by [`crate::federated`], whose route labels it names.

use std::sync::LazyLock;

use async_graphql::{
    ComplexObject, Context, EmptyMutation, EmptySubscription, ID, Object, Schema, SimpleObject,
};
use axum::Router;

use crate::calls::CallLog;
use crate::data;
pub use crate::federated::{ROUTE_ENTITIES, ROUTE_QUERY, ROUTE_SERVICE};

/// The reviews subgraph's schema.
pub type ReviewsSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// A review of a product.
#[derive(Debug, Clone, SimpleObject)]
pub struct Review {
    /// `R-<product number>-<k>`.
    pub id: ID,
    /// 1 to 5.
    pub rating: i32,
    /// The text.
    pub body: String,
    /// Who wrote it.
    pub author: User,
    /// What it reviews.
    pub product: Product,
}

/// A product, owned by the catalog; this subgraph adds its reviews.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Product {
    /// The key.
    pub sku: ID,
}

#[ComplexObject]
impl Product {
    /// The product's reviews.
    async fn reviews(&self) -> Vec<Review> {
        reviews_of(&self.sku)
    }
}

/// A user, owned by the users service; this subgraph adds their reviews.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct User {
    /// The key.
    pub id: ID,
}

#[ComplexObject]
impl User {
    /// The reviews the user wrote.
    async fn reviews(&self) -> Vec<Review> {
        all_reviews()
            .iter()
            .filter(|review| review.author.id == self.id)
            .cloned()
            .collect()
    }
}

/// The root fields.
#[derive(Debug, Default)]
pub struct Query;

#[Object]
impl Query {
    /// The best-rated reviews, best first (then by id), at most `first`
    /// (default 5).
    async fn top_reviews(&self, first: Option<i32>) -> Vec<Review> {
        let mut reviews = all_reviews().to_vec();
        reviews.sort_by(|a, b| b.rating.cmp(&a.rating).then(a.id.cmp(&b.id)));
        let first = usize::try_from(first.unwrap_or(5)).unwrap_or(0);
        reviews.truncate(first);
        reviews
    }

    /// A product by key, for `_entities`.
    #[graphql(entity)]
    async fn find_product_by_sku(&self, _ctx: &Context<'_>, sku: ID) -> Product {
        Product { sku }
    }

    /// A user by key, for `_entities`.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> User {
        User { id }
    }
}

/// The schema, with federation turned on.
pub fn schema() -> ReviewsSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}

/// The service; every request is counted in `calls` by its root field.
pub fn router(calls: CallLog) -> Router {
    crate::federated::serve(schema(), calls)
}

/// Every review, by product then number.
pub fn all_reviews() -> &'static [Review] {
    static REVIEWS: LazyLock<Vec<Review>> = LazyLock::new(|| {
        data::products()
            .iter()
            .flat_map(|product| reviews_of(&product.sku))
            .collect()
    });
    &REVIEWS
}

/// The reviews of the product with `sku` (none for an unknown SKU).
pub fn reviews_of(sku: &str) -> Vec<Review> {
    let Some(number) = sku
        .strip_prefix("SKU-")
        .and_then(|n| n.parse::<i32>().ok())
        .filter(|_| data::product(sku).is_some())
    else {
        return Vec::new();
    };
    (1..=number % 3 + 1)
        .map(|k| Review {
            id: ID(format!("R-{number}-{k}")),
            rating: (number + k) % 5 + 1,
            body: format!("Review {k} of {sku}"),
            author: User {
                id: ID(((number * 7 + k) % 50 + 1).to_string()),
            },
            product: Product {
                sku: ID(sku.to_owned()),
            },
        })
        .collect()
}

/// The subgraph's SDL, as `_service { sdl }` answers it.
pub fn sdl() -> String {
    schema().sdl_with_options(async_graphql::SDLExportOptions::new().federation())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema/reviews.graphql");

    /// `schema/reviews.graphql` (the demo's `sdl` file) is this subgraph's
    /// SDL; `UPDATE_SNAPSHOTS=1` rewrites it.
    #[test]
    fn the_checked_in_sdl_is_the_subgraphs() {
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(CHECKED_IN, sdl()).unwrap();
        }
        let checked_in =
            std::fs::read_to_string(CHECKED_IN).expect("schema/reviews.graphql is readable");
        assert_eq!(checked_in, sdl());
    }

    #[test]
    fn every_product_has_one_to_three_reviews_by_known_users() {
        for product in data::products() {
            let reviews = reviews_of(&product.sku);
            assert!((1..=3).contains(&reviews.len()), "{}", product.sku);
            for review in reviews {
                assert!(data::user(review.author.id.as_str()).is_some());
                assert!((1..=5).contains(&review.rating));
            }
        }
        assert!(reviews_of("SKU-9999").is_empty());
    }
}
