//! The OpenAPI documents of the users and orders services
//! (`schema/openapi/`): `weft import openapi` turns them into SDL that
//! `weft check` accepts and that a gateway serves against the real
//! services; with `openapi =` on a source, `weft check` holds every `@rest`
//! of it against the document, one message per mistake at its file, line
//! and column; and a document that is not one is refused clearly.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use weft::Gateway;
use weft::error::Diagnostics;
use weft_tests::process::weft_binary;
use weft_tests::{CONFIG_FILE, GatewayConfig, SCHEMA_FILE, Services, TestDir, TestGateway};

/// Nothing listens here; building a gateway never connects.
const NOWHERE: &str = "http://127.0.0.1:9";

/// The catalog part the OpenAPI documents cannot give: products over gRPC,
/// joined to the imported `OrderItem`.
const CATALOG: &str = r#"type Product @key(fields: "sku")
  @grpc(source: "catalog", method: "catalog.v1.Catalog/BatchGetProducts", request: "{ skus: $batch.sku }", response: "products") {
  sku: ID!
  name: String!
  priceCents: Int!
}

extend type OrderItem {
  product: Product @entity(key: "$this.sku")
}
"#;

/// A shipped OpenAPI document of the repository.
fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../schema/openapi")
        .join(name)
}

fn weft(args: &[&str]) -> Output {
    Command::new(weft_binary())
        .args(args)
        .output()
        .expect("weft runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The `error:` lines of what weft printed on standard error.
fn errors(output: &Output) -> Vec<String> {
    text(&output.stderr)
        .lines()
        .filter(|line| line.starts_with("error: "))
        .map(str::to_owned)
        .collect()
}

/// `weft import openapi <shipped doc> <args…>`, which must succeed
/// without warnings.
fn import(name: &str, args: &[&str]) -> String {
    let doc = shipped(name);
    let mut all = vec!["import", "openapi", doc.to_str().expect("UTF-8")];
    all.extend_from_slice(args);
    let output = weft(&all);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr), "", "no warnings for {name}");
    text(&output.stdout)
}

/// The config of `schema` over `users` and `orders` (and the catalog)
/// with both OpenAPI documents copied beside it and named by `openapi =`.
fn with_documents(config: GatewayConfig, dir: &TestDir, files: &[&str]) -> PathBuf {
    for name in ["users.yaml", "orders.yaml"] {
        let doc = std::fs::read_to_string(shipped(name)).expect("the shipped document");
        dir.write(name, &doc);
    }
    let config = config
        .source_option("users", "openapi = \"users.yaml\"")
        .source_option("orders", "openapi = \"orders.yaml\"");
    let path = config.write(dir);
    let list: Vec<String> = files.iter().map(|file| format!("\"{file}\"")).collect();
    let toml = config.toml().replacen(
        &format!("files = [\"{SCHEMA_FILE}\"]"),
        &format!("files = [{}]", list.join(", ")),
        1,
    );
    dir.write(CONFIG_FILE, &toml);
    path
}

fn nowhere(schema: &str) -> GatewayConfig {
    GatewayConfig::new(schema)
        .rest_source("users", NOWHERE, 1000)
        .grpc_source("catalog", NOWHERE, 1000)
        .rest_source("orders", NOWHERE, 1000)
}

#[tokio::test]
async fn imported_sdl_passes_the_check_and_answers_the_readme_query_from_the_real_services() {
    let users = import("users.yaml", &[]);
    let orders = import("orders.yaml", &["--extend", "Query"]);
    assert!(users.contains("type User @key(fields: \"id\")"), "{users}");
    assert!(orders.contains("groupBy: \"userId\""), "{orders}");

    let services = Services::start();
    let dir = TestDir::new();
    dir.write("users.graphql", &users);
    dir.write("orders.graphql", &orders);
    dir.write("catalog.graphql", CATALOG);
    let files = ["users.graphql", "orders.graphql", "catalog.graphql"];
    let path = with_documents(GatewayConfig::demo(&services), &dir, &files);
    let check = weft(&["check", "--config", path.to_str().expect("UTF-8")]);
    assert!(check.status.success(), "{}", text(&check.stderr));

    let config = weft::config::Config::load(&path).expect("the config loads");
    let gateway = TestGateway::start(&config)
        .await
        .unwrap_or_else(|problems| panic!("the imported schema does not build:\n{problems}"));
    let answer = gateway
        .query(
            r#"{ user(id: "1") { fullName orders { id status items { quantity product { name priceCents } } } } }"#,
        )
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");

    let (_services, _dir, demo) = weft_tests::demo().await;
    let expected = demo
        .query(r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#)
        .await;
    let user = &answer["data"]["user"];
    assert_eq!(
        user["fullName"], expected["data"]["user"]["name"],
        "{answer}"
    );
    assert_eq!(
        user["orders"], expected["data"]["user"]["orders"],
        "{answer}"
    );
    assert!(
        user["orders"]
            .as_array()
            .is_some_and(|orders| !orders.is_empty()),
        "{answer}"
    );

    let placed = gateway
        .query(r#"mutation { placeOrder(userId: "3", items: [{ sku: "SKU-0002", quantity: 2 }]) { userId status totalCents items { product { sku } } } }"#)
        .await;
    let order = &placed["data"]["placeOrder"];
    assert_eq!(order["userId"], "3", "{placed}");
    assert_eq!(order["status"], "PENDING", "{placed}");
    assert_eq!(order["items"][0]["product"]["sku"], "SKU-0002", "{placed}");
}

/// Builds the demo schema, changed by `change`, with both documents.
fn demo_problems(change: impl FnOnce(&str) -> String) -> (TestDir, String, Diagnostics) {
    let schema = change(weft::demo::SCHEMA);
    let dir = TestDir::new();
    let path = with_documents(nowhere(&schema), &dir, &[SCHEMA_FILE]);
    let built = weft::config::Config::load(&path).and_then(|config| Gateway::from_config(&config));
    let problems = match built {
        Ok(_) => Diagnostics::default(),
        Err(problems) => problems,
    };
    (dir, schema, problems)
}

/// The 1-based line and column of the first `needle` in `text`.
fn place(text: &str, needle: &str) -> (usize, usize) {
    let line = weft_tests::line_of(text, needle);
    let column = text
        .lines()
        .nth(line - 1)
        .and_then(|line| line.find(needle))
        .expect("the needle")
        + 1;
    (line, column)
}

#[tokio::test]
async fn the_demo_schema_fits_the_documents() {
    let (_dir, _schema, problems) = demo_problems(str::to_owned);
    assert!(problems.is_empty(), "{problems}");
}

/// `weft check` with a `groupBy` no item of the document's answer has: one
/// message, at the `groupBy` argument, naming the properties the items do
/// have.
#[test]
fn a_group_by_typo_is_one_message_at_its_argument() {
    let schema = weft::demo::SCHEMA.replacen("groupBy: \"userId\"", "groupBy: \"userID\"", 1);
    assert_ne!(schema, weft::demo::SCHEMA);
    let dir = TestDir::new();
    let path = with_documents(nowhere(&schema), &dir, &[SCHEMA_FILE]);
    let output = weft(&["check", "--config", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let (line, column) = place(&schema, "\"userID\"");
    let file = dir.path().join(SCHEMA_FILE);
    assert_eq!(
        errors(&output),
        [format!(
            "error: {}:{line}:{column}: User.orders: `groupBy: \"userID\"`: the items of the answer of \
             `GET /orders` have no property `userID` ({} #/components/schemas/Order; properties: \
             createdAt, id, items, status, totalCents, userId)",
            file.display(),
            dir.path().join("orders.yaml").display()
        )],
        "{}",
        text(&output.stderr)
    );
}

/// A field type the document's property cannot fill is met through every
/// directive that answers the type (five reach `Order`): one message, at
/// the field's type.
#[tokio::test]
async fn a_type_mismatch_is_one_message_at_the_field_type() {
    let (dir, schema, problems) = demo_problems(|schema| {
        schema.replacen("  totalCents: Int!\n", "  totalCents: String!\n", 1)
    });
    assert_eq!(problems.0.len(), 1, "{problems}");
    let problem = &problems.0[0];
    let line = weft_tests::line_of(&schema, "totalCents: String!");
    let column = schema
        .lines()
        .nth(line - 1)
        .and_then(|text| text.find("String!"))
        .expect("the type")
        + 1;
    let file = dir.path().join(SCHEMA_FILE);
    assert_eq!(
        problem.to_string(),
        format!(
            "{}:{line}:{column}: `Order.totalCents`: type `String!` cannot hold OpenAPI `integer` \
             ({} #/components/schemas/Order/properties/totalCents)",
            file.display(),
            dir.path().join("orders.yaml").display()
        )
    );
}

/// A path, a query parameter and a `response:` the document lacks: one
/// message each, at the argument that names it.
#[tokio::test]
async fn paths_parameters_and_response_keys_are_checked_at_their_arguments() {
    let (dir, schema, problems) = demo_problems(|schema| {
        schema
            .replacen(
                "get: \"/orders/{$args.id}\")",
                "get: \"/order/{$args.id}\")",
                1,
            )
            .replacen(
                "/orders?limit={$args.limit}",
                "/orders?limt={$args.limit}",
                1,
            )
            .replacen(
                "users: [User!]! @rest(source: \"users\", get: \"/users\")",
                "users: [User!]! @rest(source: \"users\", get: \"/users\", response: \"data\")",
                1,
            )
    });
    assert_eq!(problems.0.len(), 3, "{problems}");
    let file = dir.path().join(SCHEMA_FILE);
    for (needle, says) in [
        ("\"/order/{$args.id}\"", "`GET /order/{$args.id}`: "),
        (
            "\"/orders?limt=",
            "query parameter `limt` is not a parameter of `GET /orders`",
        ),
        (
            "\"data\"",
            "`response: \"data\"`: the answer of `GET /users` has no property `data`: it is array",
        ),
    ] {
        let (line, column) = place(&schema, needle);
        let found: Vec<_> = problems
            .0
            .iter()
            .filter(|problem| problem.message.contains(says))
            .collect();
        assert_eq!(found.len(), 1, "{says}: {problems}");
        assert_eq!(
            (&found[0].file, found[0].line, found[0].column),
            (&file, line, column),
            "{}",
            found[0]
        );
    }
}

/// A document that is not YAML is refused by `weft import` and by `weft
/// check`, each with one message naming the file and line, exit code 1.
#[test]
fn a_malformed_document_is_refused_clearly() {
    let dir = TestDir::new();
    let broken = dir.write("users.yaml", "openapi: 3.0.3\npaths:\n  /users: [\n");
    let output = weft(&["import", "openapi", broken.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(text(&output.stdout), "");
    let said = errors(&output);
    assert_eq!(said.len(), 1, "{}", text(&output.stderr));
    let prefix = format!("error: {}:", broken.display());
    assert!(
        said[0].starts_with(&prefix) && said[0].contains("not YAML or JSON"),
        "{said:?}"
    );

    let path = nowhere(weft::demo::SCHEMA)
        .source_option("users", "openapi = \"users.yaml\"")
        .write(&dir);
    let output = weft(&["check", "--config", path.to_str().expect("UTF-8")]);
    assert_eq!(output.status.code(), Some(1));
    let said = errors(&output);
    assert_eq!(said.len(), 1, "{}", text(&output.stderr));
    assert!(said[0].starts_with(&prefix), "{said:?}");
}
