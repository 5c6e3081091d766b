//! A supergraph file (`[supergraph] file`, as rover prints it for
//! Federation v2.3+) as the input of federation: the Guild benchmark's four
//! subgraphs answer its query through the supergraph exactly as through
//! per-source SDL, with the same calls per subgraph (`@requires` fields
//! sent in one `_entities` batch); a supergraph of the reviews subgraph
//! sits beside the demo's REST and gRPC sources; mistakes in the file or
//! its `[supergraph]` table are reported at their file and line;
//! `weft compose` prints the public schema without the `join__` machinery;
//! and `weft serve` reloads when the file changes.

use std::fmt::Write as _;
use std::process::Command;

use serde_json::{Value, json};
use subgraphs::benchmark::{self, QUERY, Subgraph};
use subgraphs::reviews::{ROUTE_ENTITIES, ROUTE_QUERY};
use subgraphs::{RunningService, Service};
use weft::config::Config;
use weft_tests::process::weft_binary;
use weft_tests::{
    DEMO_TIMEOUT_MS, GatewayConfig, Services, TestDir, TestGateway, line_of, spawn_service,
};

/// The benchmark's supergraph, its URLs those of a deployment elsewhere.
const BENCHMARK: &str = include_str!("../fixtures/supergraph/benchmark.graphql");
/// The supergraph of the reviews subgraph alone.
const REVIEWS: &str = include_str!("../fixtures/supergraph/reviews.graphql");

/// `[supergraph]` naming `supergraph.graphql`, each subgraph's URL
/// overridden to a running one.
fn supergraph_toml(urls: &[(&str, String)]) -> String {
    let mut toml = "[supergraph]\nfile = \"supergraph.graphql\"\n".to_owned();
    for (name, url) in urls {
        let _ = write!(
            toml,
            "\n[supergraph.subgraphs.{name}]\nurl = \"{url}\"\ntimeout_ms = {DEMO_TIMEOUT_MS}\n"
        );
    }
    toml
}

/// Writes `supergraph.graphql` and `weft.toml` into `dir` and loads it.
fn load(dir: &TestDir, supergraph: &str, toml: &str) -> Result<Config, String> {
    dir.write("supergraph.graphql", supergraph);
    let path = dir.write("weft.toml", toml);
    Config::load(&path).map_err(|problems| problems.to_string())
}

/// The four benchmark subgraphs and a gateway over them.
struct Bench {
    subgraphs: Vec<(Subgraph, RunningService)>,
    _dir: TestDir,
    gateway: TestGateway,
}

impl Bench {
    /// The subgraphs and a gateway composing them from the supergraph
    /// file, or (`per_source`) from `[sources.<name>]` and `_service`.
    async fn start(per_source: bool) -> Self {
        Self::start_with((!per_source).then_some(BENCHMARK)).await
    }

    /// The subgraphs and a gateway composing them from `supergraph`, or
    /// without one from `[sources.<name>]` and `_service`.
    async fn start_with(supergraph: Option<&str>) -> Self {
        let subgraphs: Vec<(Subgraph, RunningService)> = Subgraph::ALL
            .into_iter()
            .map(|subgraph| (subgraph, spawn_service(Service::Bench(subgraph))))
            .collect();
        let urls: Vec<(&str, String)> = subgraphs
            .iter()
            .map(|(subgraph, running)| (subgraph.name(), format!("{}/graphql", running.url())))
            .collect();
        let dir = TestDir::new();
        let config = if let Some(supergraph) = supergraph {
            load(&dir, supergraph, &supergraph_toml(&urls))
        } else {
            let mut config = GatewayConfig::new(weft::bench::federation::SCHEMA);
            for (name, url) in &urls {
                config = config.graphql_source(name, url, DEMO_TIMEOUT_MS);
            }
            config.load(&dir).map_err(|problems| problems.to_string())
        };
        let config =
            config.unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
        let gateway = TestGateway::started(&config).await;
        for (_, running) in &subgraphs {
            running.calls().reset();
        }
        Self {
            subgraphs,
            _dir: dir,
            gateway,
        }
    }

    /// The calls each subgraph had, by route.
    fn calls(&self) -> Vec<(&'static str, u64, u64)> {
        self.subgraphs
            .iter()
            .map(|(subgraph, running)| {
                let calls = running.calls();
                (
                    subgraph.name(),
                    calls.count(ROUTE_QUERY),
                    calls.count(ROUTE_ENTITIES),
                )
            })
            .collect()
    }

    fn total_calls(&self) -> u64 {
        self.subgraphs
            .iter()
            .map(|(_, running)| running.calls().total())
            .sum()
    }
}

#[tokio::test]
async fn the_benchmark_query_answers_as_with_per_source_sdl_with_the_same_calls() {
    let per_source = Bench::start(true).await;
    let supergraph = Bench::start(false).await;
    let expected = per_source.gateway.query(QUERY).await;
    assert_eq!(expected.get("errors"), None, "{expected}");
    let body = supergraph.gateway.query(QUERY).await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"], expected["data"]);
    assert_eq!(supergraph.calls(), per_source.calls());
    assert_eq!(
        supergraph.calls(),
        [
            ("accounts", 1, 1),
            ("products", 1, 1),
            ("inventory", 0, 2),
            ("reviews", 0, 4),
        ]
    );
    assert_eq!(supergraph.total_calls(), 10);
}

#[tokio::test]
async fn required_fields_are_sent_in_one_entities_batch() {
    let bench = Bench::start(false).await;
    let body = bench
        .gateway
        .query("{ topProducts(first: 9) { upc shippingEstimate } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    let expected: Vec<Value> = benchmark::catalog()
        .iter()
        .map(|product| {
            json!({
                "upc": product.upc,
                "shippingEstimate": benchmark::shipping_estimate(product.price, product.weight),
            })
        })
        .collect();
    assert_eq!(body["data"], json!({ "topProducts": expected }));
    assert_eq!(
        bench.calls(),
        [
            ("accounts", 0, 0),
            ("products", 1, 0),
            ("inventory", 0, 1),
            ("reviews", 0, 0),
        ]
    );
    let plan = bench
        .gateway
        .gateway
        .served()
        .pipeline
        .plan("{ topProducts { shippingEstimate } }", None)
        .unwrap()
        .to_string();
    assert!(plan.contains("inventory"), "{plan}");
    assert!(plan.contains("price weight"), "{plan}");
}

/// The demo services, the reviews subgraph, and a gateway over them with
/// the reviews subgraph from the supergraph file, or (`per_source`) from
/// `[sources.reviews]`.
async fn demo_with_reviews(per_source: bool) -> (Services, RunningService, TestDir, TestGateway) {
    let services = Services::start();
    let reviews = spawn_service(Service::Reviews);
    let url = format!("{}/graphql", reviews.url());
    let dir = TestDir::new();
    let config = GatewayConfig::demo(&services);
    let config = if per_source {
        config.graphql_source("reviews", &url, DEMO_TIMEOUT_MS)
    } else {
        dir.write("supergraph.graphql", REVIEWS);
        config.extra(&supergraph_toml(&[("reviews", url)]))
    };
    let config = config
        .load(&dir)
        .unwrap_or_else(|problems| panic!("the config does not load:\n{problems}"));
    let gateway = TestGateway::started(&config).await;
    services.reset_calls();
    reviews.calls().reset();
    (services, reviews, dir, gateway)
}

#[tokio::test]
async fn a_supergraph_beside_rest_and_grpc_sources_answers_as_per_source_sdl() {
    let query = r#"{ product(sku: "SKU-0001") { name reviews { rating body author { name } } }
        topReviews(first: 2) { rating product { name } } }"#;
    let mut answers = Vec::new();
    for per_source in [true, false] {
        let (services, reviews, _dir, gateway) = demo_with_reviews(per_source).await;
        let body = gateway.query(query).await;
        assert_eq!(body.get("errors"), None, "{body}");
        let calls = (
            services.catalog.calls().count("GetProduct"),
            services.users.calls().total(),
            reviews.calls().count(ROUTE_ENTITIES),
            reviews.calls().count(ROUTE_QUERY),
        );
        answers.push((body["data"].clone(), calls));
    }
    assert_eq!(answers[1], answers[0]);
    let product = subgraphs::data::product("SKU-0001").unwrap();
    assert_eq!(answers[1].0["product"]["name"], json!(product.name));
    assert_eq!(
        answers[1].1.2, 1,
        "one `_entities` call: {:?}",
        answers[1].1
    );
}

/// The error of loading the benchmark supergraph changed by `change`, with
/// `toml` as the config.
fn load_error(change: impl Fn(&str) -> String, toml: &str) -> (String, String) {
    let dir = TestDir::new();
    let supergraph = change(BENCHMARK);
    let error = load(&dir, &supergraph, toml).unwrap_err();
    (error, supergraph)
}

#[tokio::test]
async fn root_types_named_by_the_schema_block_are_the_roots() {
    let renamed = BENCHMARK
        .replacen("query: Query", "query: RootQuery", 1)
        .replacen("type Query", "type RootQuery", 1);
    assert_ne!(renamed, BENCHMARK);
    let bench = Bench::start_with(Some(&renamed)).await;
    let body = bench
        .gateway
        .query("{ __schema { queryType { name } } __typename topProducts(first: 1) { name } }")
        .await;
    assert_eq!(body.get("errors"), None, "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "RootQuery");
    assert_eq!(body["data"]["__typename"], "RootQuery");
    assert_eq!(body["data"]["topProducts"], json!([{ "name": "Table" }]));
}

#[test]
fn mistakes_in_the_supergraph_are_reported_at_its_line() {
    let toml = supergraph_toml(&[]);
    for (change, needle, message) in [
        (
            (
                "me: User @join__field(graph: ACCOUNTS)",
                "me: User @join__field(graph: ACCOUNT)",
            ),
            "me: User",
            "`@join__field(graph: ACCOUNT)`: `ACCOUNT` is not a value of `join__Graph` (ACCOUNTS, INVENTORY, PRODUCTS, REVIEWS)",
        ),
        (
            ("url: \"http://reviews:4004/graphql\"", "url: \"\""),
            "REVIEWS @join__graph",
            "supergraph: subgraph `reviews` has no url",
        ),
        (
            ("birthday: Int", "birthday: [Int"),
            "birthday: [Int",
            "supergraph: syntax error",
        ),
        (
            (
                "\"\"\"A review.\"\"\"\ntype Review",
                "union Found @join__unionMember(graph: NOWHERE, member: \"User\") = User\n\"\"\"A review.\"\"\"\ntype Review",
            ),
            "union Found",
            "`@join__unionMember(graph: NOWHERE)`: `NOWHERE` is not a value of `join__Graph`",
        ),
    ] {
        let (error, supergraph) = load_error(|text| text.replacen(change.0, change.1, 1), &toml);
        let line = line_of(&supergraph, needle);
        let at = format!("supergraph.graphql:{line}:");
        assert!(error.contains(&at), "{message}: {at} in {error}");
        assert!(error.contains(message), "{error}");
        let reported = error.lines().filter(|line| line.starts_with("error: "));
        assert_eq!(reported.count(), 1, "{error}");
    }
}

#[test]
fn mistakes_in_the_supergraph_table_are_reported_at_the_config_line() {
    let (error, _) = load_error(
        ToOwned::to_owned,
        "[supergraph]\nfile = \"supergraph.graphql\"\n\n[supergraph.subgraphs.review]\nurl = \"http://127.0.0.1:1/graphql\"\n",
    );
    assert!(error.contains("weft.toml:4:"), "{error}");
    assert!(
        error.contains("the supergraph has no subgraph `review`; it has `accounts`, `inventory`, `products`, `reviews`"),
        "{error}"
    );
    let (error, _) = load_error(
        ToOwned::to_owned,
        "[supergraph]\nfile = \"missing.graphql\"\n",
    );
    assert!(error.contains("weft.toml:2:"), "{error}");
    assert!(error.contains("cannot read supergraph file"), "{error}");
    let (error, _) = load_error(
        ToOwned::to_owned,
        "[supergraph]\nfile = \"supergraph.graphql\"\n\n[sources.reviews]\nkind = \"graphql\"\nurl = \"http://127.0.0.1:1/graphql\"\n",
    );
    assert!(error.contains("weft.toml:1:"), "{error}");
    assert!(
        error.contains("`reviews` has the name of a `[sources.reviews]`"),
        "{error}"
    );
    let (error, _) = load_error(ToOwned::to_owned, "[server]\n");
    assert!(
        error.contains("missing section `[schema]` (or `[supergraph]`)"),
        "{error}"
    );
}

#[tokio::test]
async fn a_composition_mistake_names_the_supergraph_line() {
    let dir = TestDir::new();
    let supergraph = BENCHMARK.replacen(
        "price: Int @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)",
        "price: Int @join__field(graph: INVENTORY, external: true)",
        1,
    );
    let config = load(&dir, &supergraph, &supergraph_toml(&[])).unwrap();
    let error = match weft::Gateway::from_config(&config) {
        Ok(_) => panic!("a price no subgraph defines composes"),
        Err(problems) => problems.to_string(),
    };
    let line = line_of(&supergraph, "\"\"\"Its price.\"\"\"");
    assert!(
        error.contains(&format!("supergraph.graphql:{line}:")),
        "{error}"
    );
    assert!(
        error.contains(
            "subgraph `inventory`: `Product.price` is @external, but no other source defines it"
        ),
        "{error}"
    );
}

#[test]
fn weft_compose_prints_the_public_schema_of_a_supergraph() {
    let dir = TestDir::new();
    dir.write("supergraph.graphql", BENCHMARK);
    let path = dir.write("weft.toml", &supergraph_toml(&[]));
    let output = Command::new(weft_binary())
        .args(["compose", "--config", path.to_str().expect("UTF-8")])
        .output()
        .expect("weft compose runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let sdl = String::from_utf8_lossy(&output.stdout);
    for machinery in [
        "join__",
        "link__",
        "@link",
        "@key",
        "@external",
        "@requires",
    ] {
        assert!(!sdl.contains(machinery), "{machinery} in\n{sdl}");
    }
    insta::assert_snapshot!("benchmark_public_schema", sdl);
}

/// Polls `ready` every 100 ms for up to 10 s.
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        if ready().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen within 10 s");
}

#[tokio::test]
async fn weft_serve_reloads_when_the_supergraph_file_changes() {
    let accounts = spawn_service(Service::Bench(Subgraph::Accounts));
    let dir = TestDir::new();
    let without_birthday = BENCHMARK.replacen(
        "  \"\"\"A fixed timestamp.\"\"\"\n  birthday: Int @join__field(graph: ACCOUNTS)\n",
        "",
        1,
    );
    assert_ne!(without_birthday, BENCHMARK);
    dir.write("supergraph.graphql", &without_birthday);
    let url = format!("{}/graphql", accounts.url());
    let toml = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\n\n{}",
        supergraph_toml(&[("accounts", url)])
    );
    let path = dir.write("weft.toml", &toml);
    let log = dir.path().join("weft.log");
    let weft = weft_tests::process::WeftProcess::start_logging(
        &["serve", "--config", path.to_str().expect("UTF-8")],
        &[],
        &log,
    );
    let http = reqwest::Client::new();
    let graphql = format!("{}/graphql", weft.url);
    let ask = async |query: &str| -> Value {
        let response = http
            .post(&graphql)
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("weft answers");
        response.json().await.expect("a JSON answer")
    };
    let body = ask("{ me { name } }").await;
    assert_eq!(
        body["data"]["me"]["name"],
        json!("Uri Goldshtein"),
        "{body}"
    );
    let body = ask("{ me { birthday } }").await;
    assert!(body.get("errors").is_some(), "{body}");

    let broken = BENCHMARK.replacen("birthday: Int", "birthday: [Int", 1);
    dir.write("supergraph.graphql", &broken);
    let place = format!("supergraph.graphql:{}:", line_of(&broken, "birthday: [Int"));
    eventually("the broken supergraph logged", async || {
        std::fs::read_to_string(&log).is_ok_and(|logged| logged.contains(&place))
    })
    .await;

    dir.write("supergraph.graphql", BENCHMARK);
    eventually("the new supergraph served", async || {
        ask("{ me { birthday } }").await["data"]["me"]["birthday"] == json!(1_234_567_890)
    })
    .await;
}
