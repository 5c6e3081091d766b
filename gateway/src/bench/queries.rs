//! `weft bench queries` (and plain `weft bench`): what the gateway costs
//! next to the services behind it.
//!
//! The three example services and `weft serve` run as separate processes
//! (the binaries beside this one: `cargo build --release -p weft -p
//! subgraphs --bins`), the gateway pinned to CPU 0 when `taskset` exists.
//! For each demo query, clients drive the gateway at a fixed concurrency;
//! the table shows requests/s, p50/p99, the gateway's CPU per request, the
//! three services' CPU per request (from `/proc/<pid>/stat`), their ratio,
//! and the gateway's peak RSS during the run.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::demo::{config_text, write_files};
use crate::process::{self, Pid, TICKS_PER_SECOND};

/// The queries measured, with a short label each.
pub const QUERIES: [(&str, &str); 3] = [
    (
        "single user",
        r#"{ user(id: "1") { name orders { id status items { quantity product { name priceCents } } } } }"#,
    ),
    (
        "50 users nested",
        "{ users { id orders { id items { quantity product { name } } user { name } } } }",
    ),
    (
        "single product",
        r#"{ product(sku: "SKU-0042") { sku name priceCents category tags dimensions { widthMm heightMm depthMm } createdAt } }"#,
    ),
];

/// How hard and how long to drive each query.
#[derive(Debug, Clone)]
pub struct Options {
    /// The gateway binary to measure (this one by default), e.g. an
    /// earlier build to compare with.
    pub gateway: Option<PathBuf>,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// How long each query is driven, after a one-second warm-up.
    pub duration: Duration,
    /// Whether to pin the gateway to CPU 0.
    pub pin: bool,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    /// The query's label.
    pub query: &'static str,
    /// The response size in bytes.
    pub bytes: usize,
    /// Completed requests per second.
    pub throughput: f64,
    /// Median latency.
    pub p50: Duration,
    /// 95th percentile latency.
    pub p95: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Gateway CPU milliseconds per request.
    pub gateway_ms: f64,
    /// The services' CPU milliseconds per request, together.
    pub services_ms: f64,
    /// The gateway's peak resident memory during the run, in MiB.
    pub peak_rss_mib: f64,
}

/// A child process, killed when dropped.
pub(super) struct Process(pub(super) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A directory removed when dropped.
pub(super) struct TempDir(pub(super) PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the benchmark; returns its rows and whether the gateway was pinned.
pub async fn run(options: &Options) -> Result<(Vec<Row>, bool), String> {
    let (services, urls) = start_services()?;
    let dir = write_config(&urls)?;
    let pinned = options.pin && Command::new("taskset").arg("-V").output().is_ok();
    let exe = match &options.gateway {
        Some(path) => path.clone(),
        None => std::env::current_exe().map_err(|error| error.to_string())?,
    };
    let (gateway, addr) = start_gateway(&exe, &dir.0, pinned)?;
    let url = format!("http://{addr}/graphql");
    let client = reqwest::Client::new();
    let mut rows = Vec::new();
    for (query, text) in QUERIES {
        rows.push(measure(&client, &url, query, text, &gateway, &services, options).await?);
    }
    Ok((rows, pinned))
}

/// The directory of this binary, where the services' binaries are too.
pub(super) fn binaries() -> Result<PathBuf, String> {
    std::env::current_exe()
        .map_err(|error| error.to_string())?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| "cannot find the directory of this binary".to_owned())
}

/// The example services, in the order of [`config_text`]'s URLs.
pub(super) const SERVICES: [&str; 3] = ["users", "catalog", "orders"];

/// The example services started, and their base URLs, in the order of
/// [`SERVICES`].
pub(super) fn start_services() -> Result<(Vec<Process>, Vec<String>), String> {
    let bin = binaries()?;
    let mut services = Vec::new();
    let mut urls = Vec::new();
    for name in SERVICES {
        let addr = free_port()?;
        services.push(start_service(&bin, name, addr)?);
        urls.push(format!("http://{addr}"));
    }
    Ok((services, urls))
}

pub(super) fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|error| format!("no free port: {error}"))
}

/// Starts the example service `name` on `addr`; returns once it listens.
pub(super) fn start_service(bin: &Path, name: &str, addr: SocketAddr) -> Result<Process, String> {
    let path = bin.join(name);
    if !path.exists() {
        return Err(format!(
            "`{}` is missing: build the services first with `cargo build --release -p weft -p subgraphs --bins`",
            path.display()
        ));
    }
    let child = Command::new(&path)
        .args(["--port", &addr.port().to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start {}: {error}", path.display()))?;
    let process = Process(child);
    wait_listening(addr, name)?;
    Ok(process)
}

pub(super) fn start_gateway(
    exe: &Path,
    dir: &Path,
    pinned: bool,
) -> Result<(Process, SocketAddr), String> {
    let config = dir.join("weft.toml");
    let mut command = if pinned {
        let mut command = Command::new("taskset");
        command.args(["-c", "0"]).arg(exe);
        command
    } else {
        Command::new(exe)
    };
    let child = command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|error| format!("cannot start the gateway: {error}"))?;
    let process = Process(child);
    let text = std::fs::read_to_string(&config).map_err(|error| error.to_string())?;
    let addr = text
        .lines()
        .find_map(|line| line.strip_prefix("listen = "))
        .and_then(|value| value.trim_matches('"').parse().ok())
        .ok_or("the written config has no listen address")?;
    wait_listening(addr, "the gateway")?;
    Ok((process, addr))
}

fn wait_listening(addr: SocketAddr, name: &str) -> Result<(), String> {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if TcpStream::connect(addr).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("{name} did not start listening on {addr}"))
}

pub(super) fn write_config(urls: &[String]) -> Result<TempDir, String> {
    let dir = TempDir(std::env::temp_dir().join(format!("weft-bench-{}", std::process::id())));
    let listen = free_port()?.to_string();
    let config = config_text(&listen, [&urls[0], &urls[1], &urls[2]]);
    write_files(&dir.0, &config)
        .map_err(|error| format!("cannot write the bench files: {error}"))?;
    Ok(dir)
}

/// User plus system CPU time of a process, in ticks.
fn cpu_ticks(process: &Process) -> Result<u64, String> {
    process::cpu_ticks(Pid::Of(process.0.id())).ok_or_else(|| "cannot read CPU time".to_owned())
}

/// Sends the query once; yields the response size, failing on errors.
async fn post(client: &reqwest::Client, url: &str, query: &str) -> Result<usize, String> {
    let body = client
        .post(url)
        .json(&serde_json::json!({ "query": query }))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|error| error.to_string())?
        .bytes()
        .await
        .map_err(|error| error.to_string())?;
    if body.windows(9).any(|window| window == b"\"errors\":") {
        return Err(format!(
            "the query failed: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    Ok(body.len())
}

/// Drives `query` at `url` after a warm-up second and measures it; the
/// CPU of `gateway` and of `services` is read before and after.
pub(super) async fn measure(
    client: &reqwest::Client,
    url: &str,
    label: &'static str,
    query: &str,
    gateway: &Process,
    services: &[Process],
    options: &Options,
) -> Result<Row, String> {
    let bytes = post(client, url, query).await?;
    drive(
        client,
        url,
        query,
        options.concurrency,
        Duration::from_secs(1),
    )
    .await?;
    let services_before: u64 = services.iter().map(cpu_ticks).sum::<Result<_, _>>()?;
    let gateway_before = cpu_ticks(gateway)?;
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = tokio::spawn(sample_rss(gateway.0.id(), peak.clone()));
    let started = Instant::now();
    let mut latencies = drive(client, url, query, options.concurrency, options.duration).await?;
    let elapsed = started.elapsed().as_secs_f64();
    sampler.abort();
    let gateway_ticks = cpu_ticks(gateway)? - gateway_before;
    let services_after: u64 = services.iter().map(cpu_ticks).sum::<Result<_, _>>()?;
    latencies.sort_unstable();
    #[allow(clippy::cast_precision_loss)]
    let (count, per_request) = {
        let count = latencies.len().max(1) as f64;
        (count, 1000.0 / TICKS_PER_SECOND / count)
    };
    #[allow(clippy::cast_precision_loss)]
    Ok(Row {
        query: label,
        bytes,
        throughput: count / elapsed,
        p50: super::percentile(&latencies, 50),
        p95: super::percentile(&latencies, 95),
        p99: super::percentile(&latencies, 99),
        gateway_ms: gateway_ticks as f64 * per_request,
        services_ms: (services_after - services_before) as f64 * per_request,
        peak_rss_mib: peak.load(Ordering::Relaxed) as f64 / 1024.0,
    })
}

async fn sample_rss(pid: u32, peak: Arc<AtomicU64>) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    loop {
        interval.tick().await;
        if let Some(rss) = process::rss_kib(Pid::Of(pid)) {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
    }
}

/// Drives `query` with `concurrency` clients for `duration`; returns every
/// request's latency.
async fn drive(
    client: &reqwest::Client,
    url: &str,
    query: &str,
    concurrency: usize,
    duration: Duration,
) -> Result<Vec<Duration>, String> {
    let started = Instant::now();
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut latencies = Vec::new();
        while started.elapsed() < duration {
            let sent = Instant::now();
            post(client, url, query).await?;
            latencies.push(sent.elapsed());
        }
        Ok::<_, String>(latencies)
    });
    Ok(futures::future::try_join_all(workers)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// The rows as a Markdown table.
pub fn table(rows: &[Row], options: &Options, pinned: bool) -> String {
    let mut out = format!(
        "services and gateway as separate processes, gateway {}; concurrency {}, {} s per query\n\n| query | response | requests/s | p50 | p99 | gateway CPU / request | services' CPU / request | ratio | gateway peak RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        placement(pinned),
        options.concurrency,
        options.duration.as_secs_f64()
    );
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.1} kB | {:.1} | {:.1} ms | {:.1} ms | {:.3} ms | {:.3} ms | {} | {:.0} MiB |",
            row.query,
            kilobytes(row.bytes),
            row.throughput,
            super::ms(row.p50),
            super::ms(row.p99),
            row.gateway_ms,
            row.services_ms,
            ratio(row.gateway_ms, row.services_ms),
            row.peak_rss_mib,
        );
    }
    out
}

/// Where the gateway ran, for a table's heading.
pub(super) fn placement(pinned: bool) -> &'static str {
    if pinned {
        "pinned to CPU 0"
    } else {
        "not pinned"
    }
}

/// The gateway's CPU per request over its backends', as a table cell:
/// two decimals, so that a ratio just over a bound does not read as on it.
pub(super) fn ratio(gateway_ms: f64, backends_ms: f64) -> String {
    if backends_ms > 0.0 {
        format!("{:.2}×", gateway_ms / backends_ms)
    } else {
        "n/a".to_owned()
    }
}

/// A response size in kB.
pub(super) fn kilobytes(bytes: usize) -> f64 {
    f64::from(u32::try_from(bytes).unwrap_or(u32::MAX)) / 1000.0
}
