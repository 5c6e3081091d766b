//! The four subgraphs of The Guild's federation gateway benchmark
//! (graphql-hive/graphql-gateways-benchmark), with its data: `accounts`
//! owns `User` (6 users), `products` owns `Product` (9 products,
//! `topProducts(first: Int = 5)`), `inventory` adds `inStock` and
//! `shippingEstimate @requires(fields: "price weight")` to `Product`, and
//! `bench-reviews` owns `Review` (11 reviews) and adds `reviews` to `User`
//! and `Product`. Each is an Apollo Federation v2 subgraph (async-graphql)
//! served at `POST /graphql`, counting its calls by [`crate::federated::route_of`].
//!
//! As in the original, every review's `author` is user 1 (with
//! `@provides(fields: "username")`) and every user's reviews are reviews 1
//! and 2. Unlike the original, `shippingEstimate` is computed from the
//! `price` and `weight` the representation carries (0 above a price of
//! 1000, else half the weight), so the answer shows they arrived.

use async_graphql::{
    ComplexObject, EmptyMutation, EmptySubscription, ID, Object, ObjectType, Schema, SimpleObject,
};
use axum::Router;

use crate::calls::CallLog;
use crate::federated::serve;

/// The benchmark's standard query: nested users, reviews, products and
/// authors, and the top products, with fragments.
pub const QUERY: &str = "fragment User on User { id username name }
fragment Review on Review { id body }
fragment Product on Product { inStock name price shippingEstimate upc weight }
query TestQuery {
  users { ...User reviews { ...Review product { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } } } }
  topProducts { ...Product reviews { ...Review author { ...User reviews { ...Review product { ...Product } } } } }
}";

/// The review texts; review `n` has text [`BODY_OF`]`[n - 1]`.
const BODIES: [&str; 5] = [
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum.",
    "Sed ut perspiciatis unde omnis iste natus error sit voluptatem accusantium doloremque laudantium, totam rem aperiam, eaque ipsa quae ab illo inventore veritatis et quasi architecto beatae vitae dicta sunt explicabo. Nemo enim ipsam voluptatem quia voluptas sit aspernatur aut odit aut fugi",
    "sed quia consequuntur magni dolores eos qui ratione voluptatem sequi nesciunt. Neque porro quisquam est, qui dolorem ipsum quia dolor sit amet, consectetur, adipisci velit, sed quia non numquam eius modi tempora incidunt ut labore et dolore magnam aliquam quaerat voluptatem.",
    "Ut enim ad minima veniam, quis nostrum exercitationem ullam corporis suscipit laboriosam, nisi ut aliquid ex ea commodi consequatur? Quis autem",
    "At vero eos et accusamus et iusto odio dignissimos ducimus qui blanditiis praesentium voluptatum deleniti atque corrupti quos dolores et quas molestias excepturi sint occaecati cupiditate non provident, similique sunt in culpa qui officia deserunt mollitia animi, id est laborum et dolorum fuga. Et harum quidem rerum facilis est et expedita distinctio. Nam libero tempore, cum soluta nobis est eligendi optio cumque nihil impedit quo minus id quod maxime placeat facere possimus, omnis voluptas assumenda est, omnis dolor repellendus. Temporibus autem quibusdam et aut officiis debitis aut rerum necessitatibus saepe eveniet ut et voluptates repudiandae sint et molestiae non recusandae. Itaque earum rerum hic tenetur a sapiente delectus, ut aut reiciendis voluptatibus maiores alias consequatur aut perferendis doloribus asperiores repellat.",
];

/// Which text each review has.
const BODY_OF: [usize; 11] = [0, 1, 2, 3, 0, 1, 2, 3, 3, 3, 4];

/// Which product (upc) each review is of.
const PRODUCT_OF: [&str; 11] = ["1", "1", "1", "1", "2", "2", "2", "2", "3", "4", "4"];

/// A user as `accounts` holds it.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "User")]
pub struct Account {
    /// The key.
    pub id: ID,
    /// Full name.
    pub name: Option<String>,
    /// Handle.
    pub username: Option<String>,
    /// A fixed timestamp.
    pub birthday: Option<i32>,
}

/// The six users.
pub fn accounts() -> Vec<Account> {
    [
        ("Uri Goldshtein", "urigo"),
        ("Dotan Simha", "dotansimha"),
        ("Kamil Kisiela", "kamilkisiela"),
        ("Arda Tanrikulu", "ardatan"),
        ("Gil Gardosh", "gilgardosh"),
        ("Laurin Quast", "laurin"),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (name, username))| Account {
        id: ID((n + 1).to_string()),
        name: Some(name.to_owned()),
        username: Some(username.to_owned()),
        birthday: Some(1_234_567_890),
    })
    .collect()
}

/// A product as `products` holds it.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Product")]
pub struct CatalogProduct {
    /// The key.
    pub upc: String,
    /// Its name.
    pub name: Option<String>,
    /// Its price.
    pub price: Option<i64>,
    /// Its weight.
    pub weight: Option<i64>,
}

/// The nine products.
pub fn catalog() -> Vec<CatalogProduct> {
    [
        ("Table", 899, 100),
        ("Couch", 1299, 1000),
        ("Glass", 15, 20),
        ("Chair", 499, 100),
        ("TV", 1299, 1000),
        ("Lamp", 6999, 300),
        ("Grill", 3999, 2000),
        ("Fridge", 100_000, 6000),
        ("Sofa", 9999, 800),
    ]
    .into_iter()
    .enumerate()
    .map(|(n, (name, price, weight))| CatalogProduct {
        upc: (n + 1).to_string(),
        name: Some(name.to_owned()),
        price: Some(price),
        weight: Some(weight),
    })
    .collect()
}

/// Whether product `upc` is in stock, as `inventory` holds it.
pub fn in_stock(upc: &str) -> Option<bool> {
    let stocked = [true, false, false, false, true, true, true, false, true];
    let index = upc.parse::<usize>().ok()?.checked_sub(1)?;
    stocked.get(index).copied()
}

/// What `inventory` answers for `shippingEstimate` from the required
/// `price` and `weight`.
pub fn shipping_estimate(price: Option<i64>, weight: Option<i64>) -> Option<i64> {
    match (price?, weight) {
        (price, _) if price > 1000 => Some(0),
        (_, Some(weight)) => Some(weight / 2),
        _ => None,
    }
}

/// A review: id, text, and the product's upc.
#[derive(Debug, Clone)]
pub struct ReviewRecord {
    /// `1` to `11`.
    pub id: String,
    /// Its text.
    pub body: String,
    /// The reviewed product's upc.
    pub upc: String,
}

/// The eleven reviews.
pub fn review_records() -> Vec<ReviewRecord> {
    (0..BODY_OF.len())
        .map(|n| ReviewRecord {
            id: (n + 1).to_string(),
            body: BODIES[BODY_OF[n]].to_owned(),
            upc: PRODUCT_OF[n].to_owned(),
        })
        .collect()
}

/// The ids of the reviews every user has: reviews 1 and 2.
pub const USER_REVIEWS: [&str; 2] = ["1", "2"];

/// The author of every review.
pub const AUTHOR: (&str, &str) = ("1", "urigo");

mod accounts_graph {
    use super::{Account, ID, Object, accounts};

    pub struct Query;

    #[Object]
    impl Query {
        async fn me(&self) -> Option<Account> {
            accounts().into_iter().next()
        }

        async fn user(&self, id: ID) -> Option<Account> {
            accounts().into_iter().find(|user| user.id == id)
        }

        async fn users(&self) -> Option<Vec<Option<Account>>> {
            Some(accounts().into_iter().map(Some).collect())
        }

        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> Option<Account> {
            accounts().into_iter().find(|user| user.id == id)
        }
    }
}

mod products_graph {
    use super::{CatalogProduct, Object, catalog};

    pub struct Query;

    #[Object]
    impl Query {
        async fn top_products(
            &self,
            #[graphql(default = 5)] first: Option<i32>,
        ) -> Option<Vec<Option<CatalogProduct>>> {
            let first = usize::try_from(first.unwrap_or(5)).unwrap_or(0);
            Some(catalog().into_iter().take(first).map(Some).collect())
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Option<CatalogProduct> {
            catalog().into_iter().find(|product| product.upc == upc)
        }
    }
}

mod inventory_graph {
    use super::{ComplexObject, Object, SimpleObject, in_stock, shipping_estimate};

    // A product as `inventory` extends it; a plain comment, as an extension takes no description.
    #[derive(SimpleObject)]
    #[graphql(extends, complex, name = "Product")]
    pub struct StockedProduct {
        #[graphql(external)]
        upc: String,
        #[graphql(external)]
        weight: Option<i64>,
        #[graphql(external)]
        price: Option<i64>,
        in_stock: Option<bool>,
    }

    #[ComplexObject]
    impl StockedProduct {
        #[graphql(requires = "price weight")]
        async fn shipping_estimate(&self) -> Option<i64> {
            shipping_estimate(self.price, self.weight)
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_product_by_upc(
            &self,
            #[graphql(key)] upc: String,
            price: Option<i64>,
            weight: Option<i64>,
        ) -> StockedProduct {
            StockedProduct {
                in_stock: in_stock(&upc),
                upc,
                weight,
                price,
            }
        }
    }
}

mod reviews_graph {
    use super::{
        AUTHOR, ComplexObject, ID, Object, ReviewRecord, SimpleObject, USER_REVIEWS, review_records,
    };

    /// A review.
    #[derive(SimpleObject, Clone)]
    #[graphql(complex)]
    pub struct Review {
        id: ID,
        body: Option<String>,
        product: Option<Product>,
    }

    impl From<ReviewRecord> for Review {
        fn from(record: ReviewRecord) -> Self {
            Self {
                id: ID(record.id),
                body: Some(record.body),
                product: Some(Product { upc: record.upc }),
            }
        }
    }

    #[ComplexObject]
    impl Review {
        #[graphql(provides = "username")]
        async fn author(&self) -> Option<User> {
            Some(User {
                id: ID(AUTHOR.0.to_owned()),
                username: Some(AUTHOR.1.to_owned()),
            })
        }
    }

    // A user as this subgraph extends it; a plain comment, as an extension takes no description.
    #[derive(SimpleObject, Clone)]
    #[graphql(extends, complex)]
    pub struct User {
        #[graphql(external)]
        id: ID,
        #[graphql(external)]
        username: Option<String>,
    }

    #[ComplexObject]
    impl User {
        async fn reviews(&self) -> Option<Vec<Option<Review>>> {
            Some(
                review_records()
                    .into_iter()
                    .filter(|review| USER_REVIEWS.contains(&review.id.as_str()))
                    .map(|review| Some(review.into()))
                    .collect(),
            )
        }
    }

    // A product as this subgraph extends it; a plain comment, as an extension takes no description.
    #[derive(SimpleObject, Clone)]
    #[graphql(extends, complex)]
    pub struct Product {
        #[graphql(external)]
        upc: String,
    }

    #[ComplexObject]
    impl Product {
        async fn reviews(&self) -> Option<Vec<Option<Review>>> {
            Some(
                review_records()
                    .into_iter()
                    .filter(|review| review.upc == self.upc)
                    .map(|review| Some(review.into()))
                    .collect(),
            )
        }
    }

    pub struct Query;

    #[Object]
    impl Query {
        #[graphql(entity)]
        async fn find_review_by_id(&self, id: ID) -> Option<Review> {
            review_records()
                .into_iter()
                .find(|review| review.id == id.as_str())
                .map(Review::from)
        }

        #[graphql(entity)]
        async fn find_user_by_id(&self, id: ID) -> User {
            User { id, username: None }
        }

        #[graphql(entity)]
        async fn find_product_by_upc(&self, upc: String) -> Product {
            Product { upc }
        }
    }
}

/// One of the four benchmark subgraphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subgraph {
    /// Owns `User`.
    Accounts,
    /// Owns `Product`.
    Products,
    /// Adds `inStock` and `shippingEstimate` to `Product`.
    Inventory,
    /// Owns `Review`; adds `reviews` to `User` and `Product`.
    Reviews,
}

impl Subgraph {
    /// All four, in the order a gateway composes them (owners first).
    pub const ALL: [Subgraph; 4] = [
        Self::Accounts,
        Self::Products,
        Self::Inventory,
        Self::Reviews,
    ];

    /// Its binary's name.
    pub fn binary(self) -> &'static str {
        match self {
            Self::Reviews => "bench-reviews",
            other => other.name(),
        }
    }

    /// Its name as a gateway source.
    pub fn name(self) -> &'static str {
        match self {
            Self::Accounts => "accounts",
            Self::Products => "products",
            Self::Inventory => "inventory",
            Self::Reviews => "reviews",
        }
    }

    /// Its SDL, as `_service { sdl }` answers it.
    pub fn sdl(self) -> String {
        let options = async_graphql::SDLExportOptions::new().federation();
        match self {
            Self::Accounts => schema(accounts_graph::Query).sdl_with_options(options),
            Self::Products => schema(products_graph::Query).sdl_with_options(options),
            Self::Inventory => schema(inventory_graph::Query).sdl_with_options(options),
            Self::Reviews => schema(reviews_graph::Query).sdl_with_options(options),
        }
    }
}

fn schema<Q: ObjectType + 'static>(query: Q) -> Schema<Q, EmptyMutation, EmptySubscription> {
    Schema::build(query, EmptyMutation, EmptySubscription)
        .enable_federation()
        .finish()
}

/// The subgraph's service; every request is counted in `calls` by
/// [`crate::federated::route_of`].
pub fn router(subgraph: Subgraph, calls: CallLog) -> Router {
    match subgraph {
        Subgraph::Accounts => serve(schema(accounts_graph::Query), calls),
        Subgraph::Products => serve(schema(products_graph::Query), calls),
        Subgraph::Inventory => serve(schema(inventory_graph::Query), calls),
        Subgraph::Reviews => serve(schema(reviews_graph::Query), calls),
    }
}
