//! Property tests of everything that reads client or config text: the
//! request pipeline up to the plan (parse, limits, validation, normalize,
//! plan, variable coercion) over the demo schema, and the URL, text and
//! value templates of directives. Whatever the input, they answer with a
//! result or a coded error and never panic.
//!
//! Each run tries `PROPTEST_CASES` inputs per property (256 by default); a
//! longer run: `PROPTEST_CASES=100000 cargo nextest run -p weft-tests --test fuzz`.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use weft::Gateway;
use weft::pipeline::GraphqlRequest;
use weft::template::{Root, StringTemplate, UrlTemplate, ValueTemplate, Vars};
use weft_tests::{GatewayConfig, TestDir};

/// Nothing listens here; planning never calls a backend.
const NOWHERE: &str = "http://127.0.0.1:9";

/// Pieces of GraphQL that, strung together at random, make documents that
/// are often almost valid: the cases a parser and normalizer get wrong.
const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ":",
    "...",
    "on",
    "User",
    "Query",
    "Order",
    "fragment",
    "F",
    "G",
    "query",
    "mutation",
    "subscription",
    "users",
    "user(id: \"1\")",
    "user(id: $id)",
    "orders",
    "items",
    "product",
    "name",
    "id",
    "sku",
    "quantity",
    "__typename",
    "__schema { types { name } }",
    "__type(name: \"User\") { name }",
    "a:",
    "b:",
    "@include(if: true)",
    "@skip(if: $flag)",
    "@include(if: false)",
    "$id",
    "$flag",
    "($id: ID!, $flag: Boolean!)",
    "($n: Int)",
    "orders(limit: $n)",
    "\"text\"",
    "\"\"\"block\"\"\"",
    "1",
    "-1",
    "99999999999",
    "1.5e3",
    "null",
    "true",
    "#comment\n",
    ",",
    "\n",
    "placeOrder(userId: \"1\", items: [{sku: \"SKU-0001\", quantity: 1}]) { id }",
];

/// The gateway under test, built once; its runtime and files live as long.
struct Built {
    gateway: Gateway,
    _runtime: tokio::runtime::Runtime,
    _dir: TestDir,
}

fn gateway() -> &'static Gateway {
    static BUILT: OnceLock<Built> = OnceLock::new();
    &BUILT.get_or_init(build).gateway
}

fn build() -> Built {
    let dir = TestDir::new();
    let config = GatewayConfig::new(weft::demo::SCHEMA)
        .rest_source("users", NOWHERE, 1000)
        .grpc_source("catalog", NOWHERE, 1000)
        .rest_source("orders", NOWHERE, 1000)
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the demo config does not load:\n{problems}"));
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let gateway = runtime
        .block_on(async { Gateway::from_config(&config) })
        .unwrap_or_else(|problems| panic!("the demo does not build:\n{problems}"));
    Built {
        gateway,
        _runtime: runtime,
        _dir: dir,
    }
}

fn document() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(proptest::sample::select(PIECES), 0..60)
            .prop_map(|pieces| pieces.join(" ")),
        ".{0,200}",
    ]
}

fn variables() -> impl Strategy<Value = Map<String, Value>> {
    let value = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        Just(json!(["1", 2, null])),
        Just(json!({ "sku": "SKU-0001", "quantity": 1 })),
    ];
    proptest::collection::btree_map(
        proptest::sample::select(&["id", "flag", "n", "other"][..]),
        value,
        0..4,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    })
}

proptest! {
    #[test]
    fn any_document_is_planned_or_refused_with_a_code(
        query in document(),
        operation in proptest::option::of(proptest::sample::select(&["F", "Q", ""][..])),
        variables in variables(),
    ) {
        let request = GraphqlRequest {
            query,
            operation_name: operation.map(str::to_owned),
            variables,
            ..GraphqlRequest::default()
        };
        if let Err(errors) = gateway().served().pipeline.prepare(&request) {
            prop_assert!(!errors.is_empty());
            for error in errors {
                prop_assert!(!error.code().is_empty(), "{}", error.message);
            }
        }
    }

    #[test]
    fn any_template_text_parses_or_is_refused(
        text in "[/a-z{}$.?&=_ A-Z0-9%:,\\[\\]\"]{0,60}",
        args in variables(),
    ) {
        let resolve = |_: Root, path: &[String]| Ok(path.to_vec());
        let args = Value::Object(args);
        let vars = Vars::field(&args, None);
        if let Ok(template) = UrlTemplate::parse(&text, &resolve) {
            let _ = template.render(&vars);
        }
        if let Ok(template) = StringTemplate::parse(&text, &resolve) {
            let _ = template.render_raw(&vars);
        }
        if let Ok(template) = ValueTemplate::parse(&text, &resolve) {
            let _ = template.render(&vars);
        }
    }
}
