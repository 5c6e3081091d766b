//! Example backend services for weft: users (REST), catalog (gRPC),
//! orders (REST) and reviews (a GraphQL federation subgraph), over
//! deterministic seed data.
//!
//! [`spawn`] starts one service on its own OS thread and tokio runtime, so
//! tests can run several in-process, count their requests through
//! [`CallLog`], and [`RunningService::kill`] one like a crashed process.

pub mod benchmark;
pub mod calls;
pub mod catalog;
pub mod cli;
pub mod data;
pub mod federated;
pub mod orders;
mod rest;
pub mod reviews;
pub mod users;

#[cfg(test)]
mod testing;

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

pub use calls::CallLog;
pub use orders::{EventSink, ORDER_STATUS_TOPIC, OrderEvent};

/// Longest wait for a killed service's runtime to drop its tasks.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// One of the example services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// REST users service, see [`users`].
    Users,
    /// gRPC catalog service, see [`catalog`].
    Catalog,
    /// REST orders service, see [`orders`].
    Orders,
    /// GraphQL reviews subgraph, see [`reviews`].
    Reviews,
    /// One of the federation benchmark's subgraphs, see [`benchmark`].
    Bench(benchmark::Subgraph),
}

impl Service {
    /// Every demo service.
    pub const ALL: [Service; 4] = [Self::Users, Self::Catalog, Self::Orders, Self::Reviews];

    /// Lower-case name: `"users"`, `"catalog"`, `"orders"` or `"reviews"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Catalog => "catalog",
            Self::Orders => "orders",
            Self::Reviews => "reviews",
            Self::Bench(subgraph) => subgraph.binary(),
        }
    }

    /// Port the binaries listen on by default: 4001 to 4004.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Users => 4001,
            Self::Catalog => 4002,
            Self::Orders => 4003,
            Self::Reviews => 4004,
            Self::Bench(benchmark::Subgraph::Accounts) => 4201,
            Self::Bench(benchmark::Subgraph::Products) => 4202,
            Self::Bench(benchmark::Subgraph::Inventory) => 4203,
            Self::Bench(benchmark::Subgraph::Reviews) => 4204,
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// Settings of a spawned service; each applies to one service only.
#[derive(Clone)]
pub struct SpawnOptions {
    /// Catalog: time between two levels of a `WatchStock` stream
    /// (default [`catalog::DEFAULT_STOCK_INTERVAL`], 500 ms).
    pub stock_interval: Duration,
    /// Orders: where order events go (topic [`ORDER_STATUS_TOPIC`]); none by default.
    pub order_events: Option<EventSink>,
}

impl Default for SpawnOptions {
    fn default() -> Self {
        Self {
            stock_interval: catalog::DEFAULT_STOCK_INTERVAL,
            order_events: None,
        }
    }
}

impl fmt::Debug for SpawnOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SpawnOptions")
            .field("stock_interval", &self.stock_interval)
            .field(
                "order_events",
                &self.order_events.as_ref().map(|_| "EventSink"),
            )
            .finish()
    }
}

/// A service running on its own thread and runtime; dropping it kills it.
#[derive(Debug)]
pub struct RunningService {
    service: Service,
    addr: SocketAddr,
    calls: CallLog,
    stopper: Option<Stopper>,
}

/// What it takes to stop a service thread: closing the channel wakes it.
#[derive(Debug)]
struct Stopper {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl RunningService {
    /// Which service this is.
    pub fn service(&self) -> Service {
        self.service
    }

    /// The address the service listens on (the real port when bound to port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Base URL to reach the service, e.g. `"http://127.0.0.1:4001"`; an
    /// unspecified bind address (`0.0.0.0`, `::`) is replaced by loopback.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.addr.port()))
    }

    /// The request counts of this service (shared: later calls show up).
    pub fn calls(&self) -> &CallLog {
        &self.calls
    }

    /// Stops the service abruptly, like a crashed process: its runtime is
    /// shut down, which closes the listener and every open connection and
    /// ends every stream. When this returns, connecting to the port fails.
    /// Blocks the calling thread only while the service thread winds down,
    /// so it is fine to call from async code.
    pub fn kill(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(Stopper { stop, thread }) = self.stopper.take() {
            drop(stop);
            // A panic on the service thread has already been reported there.
            let _ = thread.join();
        }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts `service` listening on `addr` (port 0 picks a free port).
///
/// The listener is bound before this returns, so the address is known and
/// connections are accepted at once. The service runs on a dedicated OS
/// thread with its own two-worker tokio runtime, so this works from inside
/// another runtime and survives that runtime being blocked. Errors are those
/// of binding the address or building the runtime.
pub fn spawn(
    service: Service,
    addr: SocketAddr,
    options: SpawnOptions,
) -> io::Result<RunningService> {
    let listener = std::net::TcpListener::bind(addr)?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let calls = CallLog::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop, stop_rx) = mpsc::channel();
    let thread_calls = calls.clone();
    let thread = thread::Builder::new()
        .name(format!("subgraph-{service}"))
        .spawn(move || {
            let server = Server {
                service,
                listener,
                calls: thread_calls,
                options,
            };
            server.run(&ready_tx, &stop_rx);
        })?;
    let started = ready_rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("service thread ended before starting")));
    let running = RunningService {
        service,
        addr,
        calls,
        stopper: Some(Stopper { stop, thread }),
    };
    started.map(|()| running)
}

/// Everything the service thread needs.
struct Server {
    service: Service,
    listener: std::net::TcpListener,
    calls: CallLog,
    options: SpawnOptions,
}

impl Server {
    /// Body of the service thread: starts serving, reports readiness, then
    /// waits for the stop channel to close and shuts the runtime down.
    fn run(self, ready: &mpsc::Sender<io::Result<()>>, stop: &mpsc::Receiver<()>) {
        let runtime = match self.start() {
            Ok(runtime) => runtime,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let _ = ready.send(Ok(()));
        // Returns once the RunningService drops its sender.
        let _ = stop.recv();
        runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
    }

    fn start(self) -> io::Result<tokio::runtime::Runtime> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(format!("subgraph-{}-worker", self.service))
            .enable_all()
            .build()?;
        let listener = {
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(self.listener)?
        };
        runtime.spawn(serve(self.service, listener, self.calls, self.options));
        Ok(runtime)
    }
}

/// Serves `service` on `listener` until the runtime shuts down.
async fn serve(
    service: Service,
    listener: tokio::net::TcpListener,
    calls: CallLog,
    options: SpawnOptions,
) {
    let result = match service {
        Service::Users => axum::serve(listener, users::router(calls)).await,
        Service::Orders => axum::serve(listener, orders::router(calls, options.order_events)).await,
        Service::Catalog => serve_catalog(listener, calls, options.stock_interval).await,
        Service::Reviews => axum::serve(listener, reviews::router(calls)).await,
        Service::Bench(subgraph) => axum::serve(listener, benchmark::router(subgraph, calls)).await,
    };
    if let Err(error) = result {
        tracing::error!(%service, %error, "service stopped");
    }
}

/// The connections `listener` accepts, with Nagle's algorithm off, as
/// production gRPC servers run: with it on, an answer's trailers wait for
/// the client to acknowledge its data, which a client delays by 40 ms.
fn incoming_without_delay(
    listener: tokio::net::TcpListener,
) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// Serves the catalog and its reflection services on `listener`.
async fn serve_catalog(
    listener: tokio::net::TcpListener,
    calls: CallLog,
    stock_interval: Duration,
) -> io::Result<()> {
    let v1 = catalog::reflection_v1().map_err(io::Error::other)?;
    let v1alpha = catalog::reflection_v1alpha().map_err(io::Error::other)?;
    tonic::transport::Server::builder()
        .add_service(catalog::server(calls, stock_interval))
        .add_service(v1)
        .add_service(v1alpha)
        .serve_with_incoming(incoming_without_delay(listener))
        .await
        .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::http;

    fn any_port() -> SocketAddr {
        "127.0.0.1:0".parse().unwrap()
    }

    #[tokio::test]
    async fn spawned_services_answer_and_count() {
        let users = spawn(Service::Users, any_port(), SpawnOptions::default()).unwrap();
        let orders = spawn(Service::Orders, any_port(), SpawnOptions::default()).unwrap();
        assert_ne!(users.addr().port(), 0);
        assert_eq!(
            users.url(),
            format!("http://127.0.0.1:{}", users.addr().port())
        );
        let (status, _) = http(users.addr(), "GET", "/users/1", None).await;
        assert_eq!(status, 200);
        let (status, _) = http(orders.addr(), "GET", "/orders?userId=1", None).await;
        assert_eq!(status, 200);
        assert_eq!(users.calls().count("GET /users/{id}"), 1);
        assert_eq!(orders.calls().count("GET /orders?userId"), 1);
        assert_eq!(orders.calls().total(), 1);
    }

    #[tokio::test]
    async fn kill_refuses_connections() {
        for service in Service::ALL {
            let running = spawn(service, any_port(), SpawnOptions::default()).unwrap();
            let addr = running.addr();
            let open = tokio::net::TcpStream::connect(addr).await.unwrap();
            running.kill();
            let error = tokio::net::TcpStream::connect(addr).await.unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{service}");
            assert_closed(open).await;
        }
    }

    /// The open connection must be closed by the killed service (an HTTP/2
    /// server may have sent its preface before).
    async fn assert_closed(mut stream: tokio::net::TcpStream) {
        use tokio::io::AsyncReadExt;
        let drain = async {
            let mut buffer = [0_u8; 256];
            while let Ok(1..) = stream.read(&mut buffer).await {}
        };
        let closed = tokio::time::timeout(Duration::from_secs(5), drain).await;
        assert!(closed.is_ok(), "the connection stays open");
    }

    #[tokio::test]
    async fn dropping_kills_and_the_port_can_be_reused() {
        let running = spawn(Service::Users, any_port(), SpawnOptions::default()).unwrap();
        let addr = running.addr();
        drop(running);
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        let again = spawn(Service::Users, addr, SpawnOptions::default()).unwrap();
        let (status, _) = http(again.addr(), "GET", "/users", None).await;
        assert_eq!(status, 200);
    }

    #[test]
    fn bind_errors_are_reported() {
        let first = spawn(Service::Users, any_port(), SpawnOptions::default()).unwrap();
        assert!(spawn(Service::Users, first.addr(), SpawnOptions::default()).is_err());
    }
}
