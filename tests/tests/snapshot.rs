//! The public schema of the demo, as composed from the repository's
//! `weft.toml`, against its snapshot in `schema/demo.snapshot.graphql`.
//!
//! After an intended change of the public schema, rewrite the snapshot with
//! `UPDATE_SNAPSHOTS=1 cargo test -p weft-tests --test snapshot` and review
//! the diff.

use std::path::Path;

use weft::Gateway;
use weft::config::Config;

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../weft.toml");
const SNAPSHOT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../schema/demo.snapshot.graphql"
);

/// The composed SDL of the repository's demo config. The services need not
/// run: building never connects.
fn composed_sdl() -> String {
    let config = Config::load(Path::new(CONFIG))
        .unwrap_or_else(|problems| panic!("the repository's weft.toml does not load:\n{problems}"));
    Gateway::from_config(&config)
        .unwrap_or_else(|problems| panic!("the demo schema does not build:\n{problems}"))
        .sdl()
}

#[tokio::test]
async fn the_demo_schema_matches_its_snapshot() {
    let sdl = composed_sdl();
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|value| value == "1") {
        std::fs::write(SNAPSHOT, &sdl).expect("the snapshot is writable");
        return;
    }
    let snapshot = std::fs::read_to_string(SNAPSHOT).unwrap_or_default();
    if sdl != snapshot {
        let first_difference = sdl
            .lines()
            .zip(snapshot.lines())
            .position(|(composed, stored)| composed != stored)
            .unwrap_or_else(|| sdl.lines().count().min(snapshot.lines().count()));
        panic!(
            "the composed demo schema differs from schema/demo.snapshot.graphql \
             (first at line {}).\nIf the change is intended, rerun with \
             UPDATE_SNAPSHOTS=1 cargo test -p weft-tests --test snapshot \
             and review the diff.\n\ncomposed schema:\n{sdl}",
            first_difference + 1
        );
    }
}

/// The public schema carries none of weft's own directives, but keeps every
/// type, the descriptions and the root fields of the demo.
#[tokio::test]
async fn the_public_schema_hides_weft_directives() {
    let sdl = composed_sdl();
    for directive in [
        "@rest", "@grpc", "@map", "@key", "@entity", "@event", "@publish",
    ] {
        assert!(!sdl.contains(directive), "{directive} in:\n{sdl}");
    }
    for needle in [
        "type Query",
        "type Mutation",
        "type User",
        "type Order",
        "type OrderItem",
        "type Product",
        "type ProductPage",
        "type Dimensions",
        "enum OrderStatus",
        "enum Category",
        "input OrderItemInput",
        "user(id: ID!): User",
        "placeOrder(userId: ID!, items: [OrderItemInput!]!): Order!",
        "The user's full name",
    ] {
        assert!(sdl.contains(needle), "no {needle:?} in:\n{sdl}");
    }
}
