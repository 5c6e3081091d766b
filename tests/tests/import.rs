//! `weft import grpc` and `reflection = true`, with the real `weft` binary
//! and the real catalog service: the schema drafted by server reflection
//! passes `weft check` and is served over a source that has no `.proto`
//! file; the draft from the `.proto` file is the same; a service without
//! reflection, or no service at all, stops weft with a clear message.

use std::process::Output;
use std::time::Duration;

use serde_json::json;
use subgraphs::{CallLog, Service, SpawnOptions};
use weft_tests::process::{WeftProcess, weft_binary};
use weft_tests::{TestDir, line_of};

/// The longest a `weft` run that must end on its own may take before the
/// test kills it and fails: a bound on a hang, not a measurement.
const RUN_BOUND: Duration = Duration::from_mins(1);

/// Runs `weft <args>` to its end.
async fn weft(args: &[&str]) -> Output {
    let child = tokio::process::Command::new(weft_binary())
        .args(args)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(RUN_BOUND, child)
        .await
        .unwrap_or_else(|_| panic!("`weft {}` did not end", args.join(" ")))
        .expect("weft runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `weft import grpc <args>`'s draft, which must succeed.
async fn import(args: &[&str]) -> String {
    let mut all = vec!["import", "grpc"];
    all.extend_from_slice(args);
    let output = weft(&all).await;
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

/// The SDL of a draft: what follows its header comment.
fn body(draft: &str) -> &str {
    let (header, body) = draft.split_once("\n\n").expect("a header, then the SDL");
    assert!(header.lines().all(|line| line.starts_with('#')), "{header}");
    body
}

/// Writes `schema` and a `weft.toml` serving it over `source` (a
/// `[sources.<name>]` table) into `dir`; returns the config's path.
fn write_config(dir: &TestDir, schema: &str, source: &str) -> String {
    dir.write("schema.graphql", schema);
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n[schema]\nfiles = [\"schema.graphql\"]\n\n{source}"
    );
    let path = dir.write("weft.toml", &toml);
    path.to_str().expect("UTF-8").to_owned()
}

fn catalog() -> subgraphs::RunningService {
    let any_port = "127.0.0.1:0".parse().expect("an address");
    subgraphs::spawn(Service::Catalog, any_port, SpawnOptions::default())
        .expect("the catalog service starts")
}

#[tokio::test]
async fn a_schema_drafted_by_reflection_is_checked_and_served_without_proto_files() {
    let catalog = catalog();
    let url = catalog.url();
    let draft = import(&["--reflect", &url]).await;
    let snippet = import(&["--reflect", &url, "--config-snippet"]).await;
    assert!(snippet.contains("reflection = true"), "{snippet}");
    assert!(!snippet.contains("protos"), "{snippet}");

    let dir = TestDir::new();
    let path = write_config(&dir, &draft, &snippet);
    let check = weft(&["check", "--config", &path]).await;
    assert!(check.status.success(), "{}\n{draft}", stderr(&check));

    catalog.calls().reset();
    let gateway = WeftProcess::start(&["serve", "--config", &path], &[]);
    let query = r#"{ product(sku: "SKU-0042") { sku name priceCents category tags dimensions { widthMm } createdAt }
                   listProducts(pageSize: 2) { products { sku } nextPageToken } }"#;
    let answer = gateway.query(query).await;
    let seed = subgraphs::data::product("SKU-0042").expect("a seeded product");
    let product = &answer["data"]["product"];
    assert_eq!(product["sku"], "SKU-0042", "{answer}");
    assert_eq!(product["name"], seed.name.as_str(), "{answer}");
    assert_eq!(
        product["priceCents"],
        seed.price_cents.to_string(),
        "{answer}"
    );
    assert_eq!(product["tags"], json!(seed.tags), "{answer}");
    assert_eq!(
        product["dimensions"]["widthMm"], seed.dimensions.width_mm,
        "{answer}"
    );
    assert!(
        product["category"]
            .as_str()
            .is_some_and(|category| category.starts_with("CATEGORY_")),
        "{answer}"
    );
    let page = &answer["data"]["listProducts"];
    assert_eq!(
        page["products"],
        json!([{ "sku": "SKU-0001" }, { "sku": "SKU-0002" }])
    );
    assert_eq!(page["nextPageToken"], "2", "{answer}");
    assert_eq!(catalog.calls().count("GetProduct"), 1);
    assert_eq!(catalog.calls().count("ListProducts"), 1);
}

#[tokio::test]
async fn the_draft_from_the_proto_file_is_the_draft_by_reflection() {
    let catalog = catalog();
    let by_reflection = import(&["--reflect", &catalog.url()]).await;
    let dir = TestDir::new();
    let proto = dir.write("proto/catalog/v1/catalog.proto", weft::demo::CATALOG_PROTO);
    let include = dir.path().join("proto");
    let from_file = import(&[
        "--proto",
        proto.to_str().expect("UTF-8"),
        "--include",
        include.to_str().expect("UTF-8"),
        "--endpoint",
        &catalog.url(),
    ])
    .await;
    assert_eq!(body(&from_file), body(&by_reflection));
    assert!(from_file.contains("# protos = ["), "{from_file}");
    assert!(
        by_reflection.contains("# reflection = true"),
        "{by_reflection}"
    );
    for field in [
        "product(sku: ID!): Product",
        "type Product @key(fields: \"sku\")",
        "request: \"{ skus: $batch.sku }\"",
        "watchStock(sku: ID!): StockLevel!",
        "product: Product @entity(key: \"$this.sku\")",
        "\"One product by SKU; NOT_FOUND when there is none.\"",
    ] {
        assert!(body(&from_file).contains(field), "{field}:\n{from_file}");
    }
}

/// A catalog service with only the reflection versions asked for, served
/// on the test's runtime; stopped when the test ends.
async fn catalog_with(v1alpha: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let mut router = tonic::transport::Server::builder().add_service(subgraphs::catalog::server(
        CallLog::new(),
        subgraphs::catalog::DEFAULT_STOCK_INTERVAL,
    ));
    if v1alpha {
        let reflection = subgraphs::catalog::reflection_v1alpha().expect("the reflection service");
        router = router.add_service(reflection);
    }
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(router.serve_with_incoming(incoming));
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_with_only_the_older_reflection_version_is_read_too() {
    let older = catalog_with(true).await;
    let current = catalog();
    let by_v1alpha = import(&["--reflect", &older]).await;
    let by_v1 = import(&["--reflect", &current.url()]).await;
    assert_eq!(body(&by_v1alpha), body(&by_v1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reflection_source_on_a_service_without_reflection_stops_start_up() {
    let url = catalog_with(false).await;
    let dir = TestDir::new();
    let source =
        format!("[sources.catalog]\nkind = \"grpc\"\nendpoint = \"{url}\"\nreflection = true\n");
    let schema = "type Query {\n  product(sku: ID!): JSON\n    @grpc(source: \"catalog\", method: \"catalog.v1.Catalog/GetProduct\")\n}\nscalar JSON\n";
    let path = write_config(&dir, schema, &source);
    let toml = std::fs::read_to_string(&path).expect("the config");
    let line = line_of(&toml, "[sources.catalog]");

    let serve = weft(&["serve", "--config", &path]).await;
    assert_eq!(serve.status.code(), Some(1), "{}", stderr(&serve));
    assert!(
        !stdout(&serve).contains("weft is serving"),
        "{}",
        stdout(&serve)
    );
    let said = stderr(&serve);
    assert!(
        said.contains(&format!(
            "error: {path}:{line}: source `catalog`: {url} does not serve gRPC server reflection"
        )),
        "{said}"
    );
    assert!(said.contains("give the source `protos` instead"), "{said}");

    let import = weft(&["import", "grpc", "--reflect", &url]).await;
    assert_eq!(import.status.code(), Some(1));
    assert!(stdout(&import).is_empty());
    assert!(
        stderr(&import).contains("does not serve gRPC server reflection"),
        "{}",
        stderr(&import)
    );
}

#[tokio::test]
async fn an_unreachable_service_is_named_and_exits_1() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", closed.local_addr().expect("an address"));
    drop(closed);
    let import = weft(&["import", "grpc", "--reflect", &url]).await;
    assert_eq!(import.status.code(), Some(1));
    let said = stderr(&import);
    assert!(
        said.starts_with(&format!("cannot connect to {url}: ")),
        "{said}"
    );

    let dir = TestDir::new();
    let source =
        format!("[sources.catalog]\nkind = \"grpc\"\nendpoint = \"{url}\"\nreflection = true\n");
    let path = write_config(&dir, "type Query { a: Int }\n", &source);
    let check = weft(&["check", "--config", &path]).await;
    assert_eq!(check.status.code(), Some(1));
    assert!(
        stderr(&check).contains(&format!("source `catalog`: cannot connect to {url}")),
        "{}",
        stderr(&check)
    );
}
