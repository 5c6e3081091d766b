//! Mistakes in the schema and in `weft.toml` are refused when the gateway is
//! built, each reported at its file and line: an unknown source, a
//! directive of the wrong kind for its source, an unknown gRPC method, a
//! request key the gRPC message lacks, templates naming arguments or parent
//! fields that do not exist, a field type that cannot hold the gRPC
//! response, a TOML typo and an unknown source kind; for `@event(protobuf:)`,
//! an unknown or ambiguous message type, an unknown source, a field type
//! that cannot hold the message, and `protobuf:` on `@publish`. One test
//! runs the real `weft check` binary.

use std::path::{Path, PathBuf};
use std::process::Command;

use weft::Gateway;
use weft::error::{Diagnostic, Diagnostics};
use weft_tests::{CONFIG_FILE, GatewayConfig, SCHEMA_FILE, TestDir, line_of};

/// Nothing listens here; building a gateway never connects.
const NOWHERE: &str = "http://127.0.0.1:9";

/// A small schema over a REST source `users` and the gRPC source `catalog`
/// that builds without problems; each test breaks one thing in it.
const BASE: &str = r#"type Query {
  user(id: ID!): User @rest(source: "users", get: "/users/{$args.id}")
  product(sku: ID!): Product
    @grpc(source: "catalog", method: "catalog.v1.Catalog/GetProduct", response: "product")
}

type User {
  id: ID!
  name: String @map(from: "full_name")
  orders: [Order!]! @rest(source: "users", get: "/orders?userId={$this.id}")
}

type Order {
  id: ID!
}

type Product {
  sku: ID!
  name: String!
  priceCents: Int
}
"#;

fn config(schema: &str) -> GatewayConfig {
    GatewayConfig::new(schema)
        .rest_source("users", NOWHERE, 1000)
        .grpc_source("catalog", NOWHERE, 1000)
}

/// `BASE` with `from` replaced by `to`.
fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "the base schema has no {from:?}");
    BASE.replacen(from, to, 1)
}

/// Loads and builds `config` in a fresh directory; returns the directory and
/// the problems (the build must fail).
fn problems(config: &GatewayConfig) -> (TestDir, Diagnostics) {
    let dir = TestDir::new();
    let built = config
        .load(&dir)
        .and_then(|config| Gateway::from_config(&config));
    match built {
        Ok(_) => panic!("the gateway built although the config is wrong"),
        Err(problems) => (dir, problems),
    }
}

/// The one problem whose message contains `needle`.
fn find<'p>(problems: &'p Diagnostics, needle: &str) -> &'p Diagnostic {
    let found: Vec<&Diagnostic> = problems
        .0
        .iter()
        .filter(|problem| problem.message.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one problem mentioning {needle:?} expected, got:\n{problems}"
    );
    found[0]
}

/// Asserts `problem` stands in `file` at `line`, and that its text reads
/// `file:line:`.
fn assert_at(problem: &Diagnostic, file: &Path, line: usize) {
    assert_eq!(problem.file, file, "{problem}");
    assert_eq!(problem.line, line, "{problem}");
    let prefix = format!("{}:{line}:", file.display());
    assert!(
        problem.to_string().starts_with(&prefix),
        "{problem} does not start with {prefix}"
    );
}

fn schema_file(dir: &TestDir) -> PathBuf {
    dir.path().join(SCHEMA_FILE)
}

fn config_file(dir: &TestDir) -> PathBuf {
    dir.path().join(CONFIG_FILE)
}

#[tokio::test]
async fn the_base_schema_builds() {
    let dir = TestDir::new();
    let config = config(BASE).load(&dir).expect("the base config loads");
    let gateway = Gateway::from_config(&config)
        .unwrap_or_else(|problems| panic!("the base schema does not build:\n{problems}"));
    assert!(gateway.sdl().contains("type Product"));
}

#[tokio::test]
async fn an_unknown_source_is_reported_at_its_directive() {
    let schema = base_with(
        r#"@rest(source: "users", get: "/users/"#,
        r#"@rest(source: "nope", get: "/users/"#,
    );
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "unknown source `nope`");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "\"nope\""));
    assert!(
        problem.message.contains("catalog, users"),
        "the message lists the sources: {problem}"
    );
    let line = schema.lines().nth(problem.line - 1).expect("the line");
    let column = line.find("\"nope\"").expect("the value") + 1;
    assert_eq!(problem.column, column, "{problem}");
}

#[tokio::test]
async fn a_rest_directive_on_a_grpc_source_is_reported() {
    let schema = base_with(
        r#"@rest(source: "users", get: "/users/"#,
        r#"@rest(source: "catalog", get: "/users/"#,
    );
    let (dir, problems) = problems(&config(&schema));
    let problem = find(
        &problems,
        "source `catalog` is not a rest source; use @grpc",
    );
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, r#"@rest(source: "catalog""#),
    );
}

#[tokio::test]
async fn an_unknown_grpc_method_is_reported_with_the_known_ones() {
    let schema = base_with("Catalog/GetProduct", "Catalog/GetProducts");
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "has no method `catalog.v1.Catalog/GetProducts`");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "GetProducts"));
    assert!(
        problem
            .message
            .contains("catalog.v1.Catalog/BatchGetProducts"),
        "the message lists the methods: {problem}"
    );
}

#[tokio::test]
async fn a_request_key_the_grpc_message_lacks_is_reported() {
    let schema = base_with(
        r#"response: "product")"#,
        r#"request: "{ skew: $args.sku }", response: "product")"#,
    );
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "key `skew` is not a field of request message");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "skew"));
}

#[tokio::test]
async fn a_template_naming_a_missing_argument_is_reported() {
    let schema = base_with("/users/{$args.id}", "/users/{$args.nope}");
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "`$args.nope`: the field has no argument `nope`");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "$args.nope"));
}

#[tokio::test]
async fn a_template_naming_a_missing_parent_field_is_reported() {
    let schema = base_with("userId={$this.id}", "userId={$this.nope}");
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "`$this.nope`: type `User` has no field `nope`");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "$this.nope"));
}

#[tokio::test]
async fn a_field_type_that_cannot_hold_the_grpc_response_is_reported_at_the_field() {
    let schema = base_with("  name: String!\n  priceCents", "  name: Int\n  priceCents");
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "`Product.name`");
    assert!(
        problem.message.contains("cannot hold protobuf `string`"),
        "{problem}"
    );
    assert_at(problem, &schema_file(&dir), line_of(&schema, "name: Int"));
}

#[tokio::test]
async fn every_problem_is_reported_at_once() {
    let schema = base_with("/users/{$args.id}", "/users/{$args.nope}").replacen(
        "Catalog/GetProduct",
        "Catalog/GetProducts",
        1,
    );
    let (dir, problems) = problems(&config(&schema));
    assert_eq!(problems.0.len(), 2, "{problems}");
    assert_at(
        find(&problems, "$args.nope"),
        &schema_file(&dir),
        line_of(&schema, "$args.nope"),
    );
    assert_at(
        find(&problems, "GetProducts"),
        &schema_file(&dir),
        line_of(&schema, "GetProducts"),
    );
}

#[tokio::test]
async fn a_typo_in_weft_toml_is_reported_at_its_line() {
    let config = config(BASE).source_option("users", "timout_ms = 2000");
    let text = config.toml();
    let (dir, problems) = problems(&config);
    let problem = find(&problems, "unknown field `timout_ms`");
    assert_at(problem, &config_file(&dir), line_of(&text, "timout_ms"));
}

#[tokio::test]
async fn an_unknown_source_kind_is_reported_at_its_line() {
    let config =
        config(BASE).extra("[sources.legacy]\nkind = \"soap\"\nurl = \"http://127.0.0.1:9\"");
    let text = config.toml();
    let (dir, problems) = problems(&config);
    let problem = find(&problems, "source `legacy` has unknown kind `soap`");
    assert_at(problem, &config_file(&dir), line_of(&text, "\"soap\""));
}

#[tokio::test]
async fn a_missing_schema_file_is_reported() {
    let dir = TestDir::new();
    let config_path = dir.write(CONFIG_FILE, "[schema]\nfiles = [\"missing.graphql\"]\n");
    let config = weft::config::Config::load(&config_path).expect("the config itself is fine");
    let Err(problems) = Gateway::from_config(&config) else {
        panic!("the gateway built without its schema file");
    };
    let problem = find(&problems, "cannot read schema file");
    assert_eq!(problem.file, dir.path().join("missing.graphql"));
}

/// `weft check` prints every problem as `file:line:column: message` and
/// exits non-zero.
#[test]
fn weft_check_prints_problems_with_file_and_line() {
    let schema = base_with(
        r#"@rest(source: "users", get: "/users/"#,
        r#"@rest(source: "nope", get: "/users/"#,
    );
    let dir = TestDir::new();
    let config_path = config(&schema).write(&dir);
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root");
    let output = Command::new(env!("CARGO"))
        .current_dir(workspace)
        .args(["run", "-q", "-p", "weft", "--", "check", "--config"])
        .arg(&config_path)
        .output()
        .expect("cargo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    let location = format!(
        "{}:{}:",
        schema_file(&dir).display(),
        line_of(&schema, "\"nope\"")
    );
    let line = stderr
        .lines()
        .find(|line| line.contains("unknown source `nope`"))
        .unwrap_or_else(|| panic!("no problem about `nope` in:\n{stderr}"));
    assert!(
        line.starts_with(&format!("error: {location}")),
        "{line:?} does not start with error: {location}"
    );
    assert!(stderr.contains("1 problem found"), "{stderr}");
}

/// A field type that no gRPC method of an entity can fill is met once per
/// method and once per field that loads the entity: it is one mistake, and
/// one message, at its file, line and column.
#[tokio::test]
async fn a_type_mismatch_on_an_entity_is_one_message() {
    let nowhere = GatewayConfig::new(weft::demo::SCHEMA)
        .rest_source("users", NOWHERE, 1000)
        .grpc_source("catalog", NOWHERE, 1000)
        .rest_source("orders", NOWHERE, 1000);
    let schema = weft::demo::SCHEMA.replacen("  priceCents: Int!\n", "  priceCents: Boolean!\n", 1);
    assert_ne!(schema, weft::demo::SCHEMA);
    let (dir, problems) = self::problems(&nowhere.schema(&schema));
    assert_eq!(problems.0.len(), 1, "{problems}");
    let problem = find(
        &problems,
        "`Product.priceCents`: type `Boolean!` cannot hold protobuf `int64`",
    );
    let line = line_of(&schema, "priceCents: Boolean!");
    assert_at(problem, &schema_file(&dir), line);
    let column = schema
        .lines()
        .nth(line - 1)
        .and_then(|text| text.find("Boolean!"));
    assert_eq!(Some(problem.column), column.map(|at| at + 1), "{problem}");
}

/// Mistakes in different sections of `weft.toml` (and in different
/// sources) are all reported in one run, in file order, each at its line
/// and column.
#[tokio::test]
async fn every_mistake_in_weft_toml_is_reported_in_one_run() {
    let config = config(BASE)
        .source_option("users", "timout_ms = 2000")
        .source_option("catalog", "max_batch_size = \"ten\"")
        .extra("[limits]\nmax_depht = 3\n");
    let text = config.toml();
    let (_dir, problems) = problems(&config);
    let lines: Vec<usize> = problems.0.iter().map(|problem| problem.line).collect();
    let mut expected = vec![
        line_of(&text, "timout_ms"),
        line_of(&text, "max_batch_size"),
        line_of(&text, "max_depht"),
    ];
    expected.sort_unstable();
    assert_eq!(lines, expected, "{problems}");
    let column = |needle: &str| {
        let line = text
            .lines()
            .nth(line_of(&text, needle) - 1)
            .unwrap_or_default();
        line.find(needle).map(|at| at + 1)
    };
    let batch = find(&problems, "expected usize");
    assert_eq!(Some(batch.column), column("\"ten\""), "{batch}");
}

/// `BASE` with a subscription to `catalog.v1.StockLevel` events, its
/// directive's arguments after the topic replaced by `arguments`.
fn with_protobuf_event(arguments: &str) -> String {
    format!(
        r#"{BASE}
type Subscription {{
  stockChanged: Level @event(topic: "stock", {arguments})
}}

type Level {{
  sku: ID!
  available: Int
}}
"#
    )
}

#[tokio::test]
async fn a_protobuf_event_builds_with_or_without_its_source() {
    for arguments in [
        r#"protobuf: "catalog.v1.StockLevel""#,
        r#"protobuf: "catalog.v1.StockLevel", source: "catalog""#,
    ] {
        let dir = TestDir::new();
        let config = config(&with_protobuf_event(arguments))
            .load(&dir)
            .expect("the config loads");
        Gateway::from_config(&config).unwrap_or_else(|problems| {
            panic!("{arguments}: the schema does not build:\n{problems}")
        });
    }
}

#[tokio::test]
async fn an_unknown_protobuf_message_type_is_reported_at_its_name() {
    let schema = with_protobuf_event(r#"protobuf: "catalog.v1.Stock""#);
    let (dir, problems) = problems(&config(&schema));
    let problem = find(
        &problems,
        "`protobuf: catalog.v1.Stock`: no gRPC source defines it",
    );
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, "catalog.v1.Stock\""),
    );
}

#[tokio::test]
async fn a_protobuf_source_that_is_not_grpc_is_reported() {
    let schema = with_protobuf_event(r#"protobuf: "catalog.v1.StockLevel", source: "users""#);
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "`source: users` is not a gRPC source");
    assert!(
        problem.message.contains("(gRPC sources: catalog)"),
        "{problem}"
    );
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, "stockChanged"),
    );
}

#[tokio::test]
async fn a_protobuf_message_type_two_sources_define_needs_a_source() {
    let schema = with_protobuf_event(r#"protobuf: "catalog.v1.StockLevel""#);
    let config = config(&schema).grpc_source("catalog2", NOWHERE, 1000);
    let (dir, problems) = problems(&config);
    let problem = find(&problems, "defined by the gRPC sources catalog, catalog2");
    assert!(problem.message.contains("`source:`"), "{problem}");
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, "catalog.v1.StockLevel"),
    );
}

#[tokio::test]
async fn a_field_type_that_cannot_hold_the_protobuf_message_is_reported_at_the_field() {
    let schema = with_protobuf_event(r#"protobuf: "catalog.v1.StockLevel""#)
        .replace("available: Int", "available: Boolean");
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "`Level.available`");
    assert!(
        problem.message.contains("cannot hold protobuf `int32`"),
        "{problem}"
    );
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, "available: Boolean"),
    );
}

#[tokio::test]
async fn protobuf_is_an_argument_of_event_only() {
    let schema = base_with(
        "type User {",
        r#"type Mutation {
  restock(sku: ID!): Boolean @publish(topic: "stock", protobuf: "catalog.v1.StockLevel")
}

type User {"#,
    );
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "@publish has no argument `protobuf`");
    assert_at(problem, &schema_file(&dir), line_of(&schema, "protobuf:"));
}

#[tokio::test]
async fn an_event_source_without_protobuf_is_reported() {
    let schema = with_protobuf_event(r#"source: "catalog""#);
    let (dir, problems) = problems(&config(&schema));
    let problem = find(&problems, "@event takes `source` only with `protobuf`");
    assert_at(
        problem,
        &schema_file(&dir),
        line_of(&schema, "stockChanged"),
    );
}
