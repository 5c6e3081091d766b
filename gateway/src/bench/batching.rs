//! `weft bench batching`: what batching buys, measured on the demo.
//!
//! Starts the example services and two gateways over real sockets — one as
//! configured (batching on), one with `max_batch_size = 1` on every source
//! (batching off: one call per key) — and for a fixed set of queries
//! reports the backend calls one query makes, the throughput at a fixed
//! concurrency, and the p50/p99 latency, as a table.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use subgraphs::RunningService;

use crate::Gateway;
use crate::demo::Demo;

/// The queries measured, with a short label each.
pub const QUERIES: [(&str, &str); 3] = [
    (
        "single user",
        r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#,
    ),
    (
        "50 users, orders, items, products",
        "{ users { name orders { id items { quantity product { name } } user { name } } } }",
    ),
    (
        "1,000 orders",
        "{ orders(limit: 1000) { id totalCents user { name } items { quantity product { name priceCents } } } }",
    ),
];

/// How long and how hard to drive each query.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How long each query is driven per mode.
    pub duration: Duration,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The query's label.
    pub query: &'static str,
    /// `on` or `off`.
    pub batching: &'static str,
    /// Backend calls made by one execution of the query.
    pub calls: u64,
    /// Completed requests per second.
    pub throughput: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
}

/// Runs the benchmark and returns its rows.
pub async fn run(options: Options) -> Result<Vec<Row>, String> {
    let demo = Demo::start(0).map_err(|problems| problems.to_string())?;
    let mut unbatched = demo.config.clone();
    for source in unbatched.sources.values_mut() {
        source.max_batch_size = 1;
    }
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    for (batching, config) in [("on", &demo.config), ("off", &unbatched)] {
        let gateway = Gateway::from_config(config).map_err(|problems| problems.to_string())?;
        let url = format!("http://{}/graphql", super::serve(Arc::new(gateway)).await?);
        for (query, text) in QUERIES {
            let calls = count_calls(&client, &url, text, &demo.services).await?;
            let (throughput, p50, p99) = drive(&client, &url, text, options).await?;
            rows.push(Row {
                query,
                batching,
                calls,
                throughput,
                p50,
                p99,
            });
        }
    }
    Ok(rows)
}

async fn post(client: &reqwest::Client, url: &str, query: &str) -> Result<(), String> {
    let response = client
        .post(url)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .map_err(|error| error.to_string())?;
    let body: serde_json::Value = response.json().await.map_err(|error| error.to_string())?;
    match body.get("errors") {
        Some(errors) => Err(format!("the query failed: {errors}")),
        None => Ok(()),
    }
}

async fn count_calls(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    services: &[RunningService],
) -> Result<u64, String> {
    for service in services {
        service.calls().reset();
    }
    post(client, url, query).await?;
    Ok(services.iter().map(|service| service.calls().total()).sum())
}

/// Drives `query` with `concurrency` clients for the duration; returns
/// requests per second and the p50 and p99 latencies.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    options: Options,
) -> Result<(f64, Duration, Duration), String> {
    let started = Instant::now();
    let workers = (0..options.concurrency).map(|_| async {
        let mut latencies = Vec::new();
        while started.elapsed() < options.duration {
            let sent = Instant::now();
            post(client, url, query).await?;
            latencies.push(sent.elapsed());
        }
        Ok::<_, String>(latencies)
    });
    let mut latencies: Vec<Duration> = futures::future::try_join_all(workers)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let throughput = latencies.len() as f64 / elapsed;
    Ok((
        throughput,
        super::percentile(&latencies, 50),
        super::percentile(&latencies, 99),
    ))
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row], options: Options) -> String {
    let mut out = format!(
        "concurrency {}, {} s per query and mode\n\n| query | batching | backend calls / query | requests/s | p50 | p99 |\n|---|---|---:|---:|---:|---:|\n",
        options.concurrency,
        options.duration.as_secs_f64()
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {:.1} ms | {:.1} ms |",
            row.query,
            row.batching,
            row.calls,
            row.throughput,
            super::ms(row.p50),
            super::ms(row.p99)
        );
    }
    out
}
