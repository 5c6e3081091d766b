//! `weft bench federation`: The Guild's federation gateway benchmark
//! (graphql-hive/graphql-gateways-benchmark) run through weft.
//!
//! Its four subgraphs (the `accounts`, `products`, `inventory` and
//! `bench-reviews` binaries of the `subgraphs` crate) and `weft serve` run
//! as separate processes; clients drive the benchmark's standard query
//! ([`subgraphs::benchmark::QUERY`]) at a fixed concurrency. For
//! comparison, the same figures are then taken for the demo's REST/gRPC
//! "50 users nested" query over the demo services, with the machinery of
//! [`super::queries`].

use std::fmt::Write as _;
use std::process::Command;

use subgraphs::benchmark::{QUERY, Subgraph};

use super::queries::{
    self, Options, Process, Row, TempDir, binaries, free_port, measure, start_gateway,
    start_service,
};

/// The schema file of the benchmark's gateway: the subgraphs define every
/// type, so it only names the root type.
pub const SCHEMA: &str = "schema { query: Query }\ntype Query\n";

/// Runs the benchmark; returns the federation row, the REST/gRPC row and
/// whether the gateway was pinned.
pub async fn run(options: &Options) -> Result<(Vec<Row>, bool), String> {
    let pinned = options.pin && Command::new("taskset").arg("-V").output().is_ok();
    let exe = match &options.gateway {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|error| error.to_string())?,
    };
    let client = reqwest::Client::new();
    let federation = {
        let (subgraphs, urls) = start_subgraphs()?;
        let dir = write_config(&urls)?;
        let (gateway, addr) = start_gateway(&exe, &dir.0, pinned)?;
        let url = format!("http://{addr}/graphql");
        let label = "federation benchmark query (4 subgraphs)";
        measure(&client, &url, label, QUERY, &gateway, &subgraphs, options).await?
    };
    let rest = {
        let (services, urls) = queries::start_services()?;
        let dir = queries::write_config(&urls)?;
        let (gateway, addr) = start_gateway(&exe, &dir.0, pinned)?;
        let url = format!("http://{addr}/graphql");
        let (label, text) = queries::QUERIES[1];
        measure(&client, &url, label, text, &gateway, &services, options).await?
    };
    Ok((vec![federation, rest], pinned))
}

/// Each subgraph with its GraphQL URL.
type SubgraphUrls = Vec<(Subgraph, String)>;

/// The four subgraphs started, and their GraphQL URLs, in the order of
/// [`Subgraph::ALL`].
fn start_subgraphs() -> Result<(Vec<Process>, SubgraphUrls), String> {
    let bin = binaries()?;
    let mut processes = Vec::new();
    let mut urls = Vec::new();
    for subgraph in Subgraph::ALL {
        let addr = free_port()?;
        processes.push(start_service(&bin, subgraph.binary(), addr)?);
        urls.push((subgraph, format!("http://{addr}/graphql")));
    }
    Ok((processes, urls))
}

/// `weft.toml` and the schema file for the subgraphs at `urls`, in a
/// directory of their own; their SDLs are asked from `_service`.
fn write_config(urls: &[(Subgraph, String)]) -> Result<TempDir, String> {
    let dir =
        TempDir(std::env::temp_dir().join(format!("weft-bench-federation-{}", std::process::id())));
    let listen = free_port()?;
    let mut config =
        format!("[server]\nlisten = \"{listen}\"\n\n[schema]\nfiles = [\"schema.graphql\"]\n");
    for (subgraph, url) in urls {
        let _ = write!(
            config,
            "\n[sources.{}]\nkind = \"graphql\"\nurl = \"{url}\"\n",
            subgraph.name()
        );
    }
    let written = std::fs::create_dir_all(&dir.0)
        .and_then(|()| std::fs::write(dir.0.join("schema.graphql"), SCHEMA))
        .and_then(|()| std::fs::write(dir.0.join("weft.toml"), config));
    written.map_err(|error| format!("cannot write the bench files: {error}"))?;
    Ok(dir)
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row], options: &Options, pinned: bool) -> String {
    let mut out = format!(
        "subgraphs/services and gateway as separate processes, gateway {}; {} concurrent clients, {} s per query\n\n| query | response | requests/s | p50 | p95 | p99 | gateway CPU / request | subgraphs' or services' CPU / request | ratio | gateway peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        queries::placement(pinned),
        options.concurrency,
        options.duration.as_secs_f64()
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.1} kB | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms | {} | {:.0} MiB |",
            row.query,
            queries::kilobytes(row.bytes),
            row.throughput,
            super::ms(row.p50),
            super::ms(row.p95),
            super::ms(row.p99),
            row.gateway_ms,
            row.services_ms,
            queries::ratio(row.gateway_ms, row.services_ms),
            row.peak_rss_mib,
        );
    }
    out
}
