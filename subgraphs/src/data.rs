//! Deterministic seed data shared by the example services: 50 users, 200
//! products and 1,000 orders.
//!
//! Everything is generated lazily, once per process, from fixed seeds with a
//! tiny xorshift generator, so every process and every test sees exactly the
//! same records. The record types serialize to the JSON shape of the service
//! that owns them: [`User`] in `snake_case` (users service), [`Order`] in
//! `camelCase` (orders service). Products are served over gRPC and are turned
//! into protobuf messages by the catalog module.

use std::collections::HashSet;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Number of seeded users (ids `"1"` to `"50"`).
pub const USER_COUNT: usize = 50;
/// Number of seeded products (SKUs `"SKU-0001"` to `"SKU-0200"`).
pub const PRODUCT_COUNT: usize = 200;
/// Number of seeded orders (ids `"1"` to `"1000"`).
pub const ORDER_COUNT: usize = 1000;

/// 2023-01-01T00:00:00Z, the earliest seeded timestamp.
const EPOCH_2023: i64 = 1_672_531_200;
/// 2024-01-01T00:00:00Z, the earliest seeded order timestamp.
const EPOCH_2024: i64 = 1_704_067_200;
const SECONDS_PER_DAY: u32 = 86_400;

const FIRST_NAMES: [&str; 16] = [
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Margaret",
    "Ken",
    "Dennis",
    "Frances",
    "John",
    "Radia",
    "Tim",
    "Katherine",
    "Linus",
    "Hedy",
];
const LAST_NAMES: [&str; 16] = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Dijkstra",
    "Liskov",
    "Knuth",
    "Hamilton",
    "Thompson",
    "Ritchie",
    "Allen",
    "Backus",
    "Perlman",
    "Berners-Lee",
    "Johnson",
    "Torvalds",
    "Lamarr",
];
const ADJECTIVES: [&str; 16] = [
    "Amber", "Bold", "Classic", "Compact", "Cozy", "Deluxe", "Golden", "Handy", "Lunar",
    "Midnight", "Nimble", "Rustic", "Silver", "Sturdy", "Swift", "Vintage",
];
const TAGS: [&str; 10] = [
    "new",
    "sale",
    "eco",
    "gift",
    "bestseller",
    "limited",
    "imported",
    "handmade",
    "classic",
    "compact",
];

/// A small xorshift64* generator: deterministic and fast, meant for seed
/// data and simulated stock levels only.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator whose whole output is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        // The xorshift state must never be zero.
        Self(seed | 1)
    }

    /// The next raw 64-bit value.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`; `n` must be positive.
    pub fn below(&mut self, n: u32) -> u32 {
        let value = self.next_u64() % u64::from(n);
        u32::try_from(value).expect("a value below a u32 fits a u32")
    }

    /// A value in `low..=high`; `low` must not exceed `high`.
    pub fn between(&mut self, low: u32, high: u32) -> u32 {
        low + self.below(high - low + 1)
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let len = u32::try_from(items.len()).expect("slice length fits a u32");
        &items[self.below(len) as usize]
    }
}

/// A user as served by the users service (`snake_case` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Decimal id, `"1"` to `"50"`.
    pub id: String,
    /// First and last name, e.g. `"Ada Lovelace"`.
    pub full_name: String,
    /// Unique address derived from the name and id, e.g. `"ada.lovelace1@example.com"`.
    pub email: String,
    /// RFC 3339 timestamp in UTC.
    pub created_at: String,
}

/// Product category; mirrors the non-unspecified values of the proto enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    /// `CATEGORY_BOOKS`.
    Books,
    /// `CATEGORY_ELECTRONICS`.
    Electronics,
    /// `CATEGORY_GARDEN`.
    Garden,
    /// `CATEGORY_KITCHEN`.
    Kitchen,
    /// `CATEGORY_TOYS`.
    Toys,
}

impl Category {
    /// Every category, in proto enum order.
    pub const ALL: [Category; 5] = [
        Self::Books,
        Self::Electronics,
        Self::Garden,
        Self::Kitchen,
        Self::Toys,
    ];

    /// Nouns used to name products of this category.
    fn nouns(self) -> &'static [&'static str] {
        match self {
            Self::Books => &[
                "Novel",
                "Atlas",
                "Cookbook",
                "Anthology",
                "Field Guide",
                "Almanac",
                "Journal",
                "Primer",
            ],
            Self::Electronics => &[
                "Headphones",
                "Speaker",
                "Charger",
                "Keyboard",
                "Monitor",
                "Router",
                "Webcam",
                "Drone",
            ],
            Self::Garden => &[
                "Trowel",
                "Planter",
                "Hose",
                "Rake",
                "Birdhouse",
                "Lantern",
                "Shears",
                "Seed Kit",
            ],
            Self::Kitchen => &[
                "Skillet",
                "Kettle",
                "Blender",
                "Knife Set",
                "Teapot",
                "Colander",
                "Grinder",
                "Cutting Board",
            ],
            Self::Toys => &[
                "Puzzle",
                "Kite",
                "Robot",
                "Yo-Yo",
                "Train Set",
                "Plush Bear",
                "Marble Run",
                "Spinning Top",
            ],
        }
    }
}

/// Outer size of a product in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dimensions {
    /// Width, 10 to 1,000 mm.
    pub width_mm: i32,
    /// Height, 10 to 1,000 mm.
    pub height_mm: i32,
    /// Depth, 10 to 1,000 mm.
    pub depth_mm: i32,
}

/// A catalog product. Products are ordered by SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductRecord {
    /// `"SKU-0001"` to `"SKU-0200"`.
    pub sku: String,
    /// Adjective and noun, e.g. `"Rustic Kettle"`; unique across products.
    pub name: String,
    /// Price in cents, 199 to 99,999 (always ending in 99).
    pub price_cents: i64,
    /// Category of the product.
    pub category: Category,
    /// One to three distinct short tags.
    pub tags: Vec<String>,
    /// Outer size.
    pub dimensions: Dimensions,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: i64,
    /// Stock level a `WatchStock` stream starts from, 0 to 500.
    pub initial_stock: i32,
}

/// Lifecycle status of an order; serialized in `SCREAMING_SNAKE_CASE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// `"PENDING"`: created, not paid yet.
    Pending,
    /// `"PAID"`.
    Paid,
    /// `"SHIPPED"`.
    Shipped,
    /// `"DELIVERED"`.
    Delivered,
    /// `"CANCELLED"`.
    Cancelled,
}

impl OrderStatus {
    /// Every status.
    pub const ALL: [OrderStatus; 5] = [
        Self::Pending,
        Self::Paid,
        Self::Shipped,
        Self::Delivered,
        Self::Cancelled,
    ];

    /// The wire name, e.g. `"SHIPPED"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Paid => "PAID",
            Self::Shipped => "SHIPPED",
            Self::Delivered => "DELIVERED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The status with exactly this wire name, if any.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }
}

/// One line of an order (`camelCase` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// SKU of a catalog product.
    pub sku: String,
    /// Number of units, at least 1.
    pub quantity: u32,
    /// Catalog price of one unit when the order was placed.
    pub unit_price_cents: i64,
}

/// An order as served by the orders service (`camelCase` JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// Decimal id.
    pub id: String,
    /// Id of the user who placed the order.
    pub user_id: String,
    /// Current status.
    pub status: OrderStatus,
    /// At least one item.
    pub items: Vec<OrderItem>,
    /// Sum of `quantity * unitPriceCents` over the items.
    pub total_cents: i64,
    /// RFC 3339 timestamp in UTC.
    pub created_at: String,
}

/// Sum of `quantity * unit_price_cents` over `items`.
pub fn total_cents(items: &[OrderItem]) -> i64 {
    items
        .iter()
        .map(|item| i64::from(item.quantity) * item.unit_price_cents)
        .sum()
}

/// All users, ordered by numeric id.
pub fn users() -> &'static [User] {
    static USERS: LazyLock<Vec<User>> = LazyLock::new(seed_users);
    &USERS
}

/// The user with exactly this id.
pub fn user(id: &str) -> Option<&'static User> {
    users().iter().find(|user| user.id == id)
}

/// All products, ordered by SKU.
pub fn products() -> &'static [ProductRecord] {
    static PRODUCTS: LazyLock<Vec<ProductRecord>> = LazyLock::new(seed_products);
    &PRODUCTS
}

/// The product with exactly this SKU.
pub fn product(sku: &str) -> Option<&'static ProductRecord> {
    let all = products();
    all.binary_search_by(|product| product.sku.as_str().cmp(sku))
        .ok()
        .map(|index| &all[index])
}

/// The seed orders, ordered by numeric id. Every user has at least one.
pub fn orders() -> &'static [Order] {
    static ORDERS: LazyLock<Vec<Order>> = LazyLock::new(seed_orders);
    &ORDERS
}

/// Formats seconds since the Unix epoch as RFC 3339 in UTC, e.g.
/// `"2023-04-05T12:34:56Z"`.
pub fn rfc3339(unix_seconds: i64) -> String {
    prost_types::Timestamp {
        seconds: unix_seconds,
        nanos: 0,
    }
    .to_string()
}

/// Seconds since the Unix epoch, now.
pub fn now_unix() -> i64 {
    let elapsed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
}

/// A random timestamp within `days` days after `start`.
fn timestamp_within(rng: &mut Rng, start: i64, days: u32) -> i64 {
    start + i64::from(rng.below(days * SECONDS_PER_DAY))
}

fn seed_users() -> Vec<User> {
    let mut rng = Rng::new(0x5EED_0001);
    (1..=USER_COUNT)
        .map(|id| {
            let first = *rng.pick(&FIRST_NAMES);
            let last = *rng.pick(&LAST_NAMES);
            User {
                id: id.to_string(),
                full_name: format!("{first} {last}"),
                email: format!("{first}.{last}{id}@example.com").to_lowercase(),
                created_at: rfc3339(timestamp_within(&mut rng, EPOCH_2023, 365)),
            }
        })
        .collect()
}

fn seed_products() -> Vec<ProductRecord> {
    let mut rng = Rng::new(0x5EED_0002);
    let mut names = HashSet::new();
    (1..=PRODUCT_COUNT)
        .map(|number| {
            let category = *rng.pick(&Category::ALL);
            let name = unique_product_name(&mut rng, category, number, &mut names);
            ProductRecord {
                sku: format!("SKU-{number:04}"),
                name,
                price_cents: i64::from(rng.between(1, 999)) * 100 + 99,
                category,
                tags: pick_tags(&mut rng),
                dimensions: Dimensions {
                    width_mm: dimension(&mut rng),
                    height_mm: dimension(&mut rng),
                    depth_mm: dimension(&mut rng),
                },
                created_at: timestamp_within(&mut rng, EPOCH_2023, 365),
                initial_stock: i32::try_from(rng.between(0, 500)).expect("stock fits an i32"),
            }
        })
        .collect()
}

/// An adjective + noun name not yet in `taken`; falls back to a numbered
/// name if the random draws keep colliding.
fn unique_product_name(
    rng: &mut Rng,
    category: Category,
    number: usize,
    taken: &mut HashSet<String>,
) -> String {
    for _ in 0..64 {
        let name = format!("{} {}", rng.pick(&ADJECTIVES), rng.pick(category.nouns()));
        if taken.insert(name.clone()) {
            return name;
        }
    }
    let name = format!("{} {number}", rng.pick(category.nouns()));
    taken.insert(name.clone());
    name
}

fn pick_tags(rng: &mut Rng) -> Vec<String> {
    let wanted = rng.between(1, 3) as usize;
    let mut tags: Vec<String> = Vec::with_capacity(wanted);
    while tags.len() < wanted {
        let tag = *rng.pick(&TAGS);
        if !tags.iter().any(|taken| taken == tag) {
            tags.push(tag.to_owned());
        }
    }
    tags
}

fn dimension(rng: &mut Rng) -> i32 {
    i32::try_from(rng.between(10, 1000)).expect("dimension fits an i32")
}

fn seed_orders() -> Vec<Order> {
    let mut rng = Rng::new(0x5EED_0003);
    let users = u32::try_from(USER_COUNT).expect("user count fits a u32");
    (0..ORDER_COUNT)
        .map(|index| {
            // Every 20th order goes to the next user in turn, so all 50
            // users have at least one order; the rest are random.
            let user_id = if index % 20 == 0 {
                index / 20 + 1
            } else {
                rng.between(1, users) as usize
            };
            let items = seed_items(&mut rng);
            let step = i64::try_from(index).expect("index fits an i64") * 31_536;
            Order {
                id: (index + 1).to_string(),
                user_id: user_id.to_string(),
                status: *rng.pick(&OrderStatus::ALL),
                total_cents: total_cents(&items),
                items,
                created_at: rfc3339(EPOCH_2024 + step + i64::from(rng.below(31_536))),
            }
        })
        .collect()
}

/// One to five items with distinct SKUs and quantities of 1 to 4.
fn seed_items(rng: &mut Rng) -> Vec<OrderItem> {
    let wanted = rng.between(1, 5) as usize;
    let mut items: Vec<OrderItem> = Vec::with_capacity(wanted);
    while items.len() < wanted {
        let product = rng.pick(products());
        if items.iter().all(|item| item.sku != product.sku) {
            items.push(OrderItem {
                sku: product.sku.clone(),
                quantity: rng.between(1, 4),
                unit_price_cents: product.price_cents,
            });
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_sizes() {
        assert_eq!(users().len(), USER_COUNT);
        assert_eq!(products().len(), PRODUCT_COUNT);
        assert_eq!(orders().len(), ORDER_COUNT);
        assert_eq!(users()[0].id, "1");
        assert_eq!(users()[49].id, "50");
        assert_eq!(products()[0].sku, "SKU-0001");
        assert_eq!(products()[199].sku, "SKU-0200");
        assert_eq!(orders()[999].id, "1000");
    }

    #[test]
    fn seeds_are_deterministic() {
        assert_eq!(seed_users(), users());
        assert_eq!(seed_products(), products());
        assert_eq!(seed_orders(), orders());
    }

    #[test]
    fn emails_and_product_names_are_unique() {
        let emails: HashSet<_> = users().iter().map(|user| &user.email).collect();
        assert_eq!(emails.len(), USER_COUNT);
        let names: HashSet<_> = products().iter().map(|product| &product.name).collect();
        assert_eq!(names.len(), PRODUCT_COUNT);
    }

    #[test]
    fn products_are_within_bounds() {
        for product in products() {
            assert!((199..=99_999).contains(&product.price_cents));
            assert!((1..=3).contains(&product.tags.len()));
            assert!((0..=500).contains(&product.initial_stock));
        }
        assert_eq!(
            product("SKU-0042").map(|p| p.sku.as_str()),
            Some("SKU-0042")
        );
        assert!(product("SKU-9999").is_none());
    }

    #[test]
    fn orders_are_consistent() {
        for order in orders() {
            assert!((1..=5).contains(&order.items.len()));
            assert!(user(&order.user_id).is_some());
            for item in &order.items {
                assert!((1..=4).contains(&item.quantity));
                let price = product(&item.sku).map(|p| p.price_cents);
                assert_eq!(price, Some(item.unit_price_cents));
            }
            assert_eq!(order.total_cents, total_cents(&order.items));
        }
        let with_orders: HashSet<_> = orders().iter().map(|order| &order.user_id).collect();
        assert_eq!(with_orders.len(), USER_COUNT);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(EPOCH_2024), "2024-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
    }
}
