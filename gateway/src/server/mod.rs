//! The HTTP surface: routes, and serving them with graceful shutdown.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql` | GraphQL over HTTP (JSON body) |
//! | `GET /graphql?query=…` | queries only; from a browser (`Accept: text/html`) without a query, GraphiQL |
//! | `GET /graphql` (WebSocket upgrade) | subscriptions (and queries, mutations) over `graphql-transport-ws` or legacy `graphql-ws` |
//! | `POST`/`GET /graphql` with `Accept: text/event-stream` | one operation streamed as Server-Sent Events |
//! | `GET /health` | `200` while serving, `503` once shutdown has begun |
//!
//! Shutdown, once the signal comes: `/health` answers `503` for `[server]
//! shutdown_drain_ms` while requests are still served; then the server
//! stops taking connections, every subscription ends (WebSocket
//! `complete`, then close `1001`; SSE `complete`), and requests in flight have
//! `shutdown_timeout_ms` to finish before [`serve`] returns anyway. A
//! second signal exits the process at once.
//! | `GET /metrics` | Prometheus metrics |
//! | `OPTIONS` any route | a CORS preflight, answered by [`cors`] when `[server.cors]` allows the origin |
//!
//! A GraphQL request goes through the stages in [`graphql`], one file each:
//! [`negotiate`] (response media type), [`request`] (HTTP → GraphQL
//! request), execution, [`respond`] (status code and body).

mod cors;
mod graphiql;
mod graphql;
mod negotiate;
mod observe;
pub mod reload;
mod request;
mod respond;
mod sse;
mod websocket;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;

use crate::Gateway;

/// The gateway's routes; tests drive this without a socket.
pub fn app(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/graphiql/{version}/{file}", get(graphiql::asset))
        .route("/health", get(observe::health))
        .route("/metrics", get(observe::metrics))
        .layer(axum::middleware::from_fn_with_state(
            gateway.clone(),
            cors::handle,
        ))
        .with_state(gateway)
}

/// Serves the gateway on `listener` until `shutdown` completes, then
/// drains and stops as the module header describes.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = gateway.clone();
    // Without Nagle's algorithm: a subscription event written while the
    // client has not yet acknowledged the previous one would otherwise
    // wait for that acknowledgement (up to 40 ms of delayed ACK).
    let listener = listener.tap_io(|connection| {
        if let Err(error) = connection.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    let server = axum::serve(listener, app(gateway.clone())).with_graceful_shutdown(async move {
        shutdown.await;
        draining.set_ready(false);
        tokio::time::sleep(draining.server.shutdown_drain).await;
        draining.begin_shutdown();
    });
    let deadline = async {
        gateway.shutting_down().await;
        tokio::time::sleep(gateway.server.shutdown_timeout).await;
    };
    // Upgraded connections are not the HTTP server's any more: wait for
    // their close frames to go out too.
    let served = async {
        let served = server.await;
        gateway.websockets_closed().await;
        served
    };
    tokio::select! {
        served = served => served,
        () = deadline => {
            tracing::warn!("requests still in flight at the shutdown deadline are cut off");
            Ok(())
        }
    }
}

/// Completes on the first Ctrl-C or SIGTERM; a second one exits the
/// process at once. The signals are caught from the call on (before the
/// future is first polled), so a signal sent as soon as the server says
/// where it serves is not missed. Must be called inside a Tokio runtime.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    let first = signal();
    async move {
        first.await;
        tracing::info!("shutting down");
        let second = signal();
        tokio::spawn(async {
            second.await;
            tracing::warn!("second signal: exiting now");
            std::process::exit(130);
        });
    }
}

/// Completes on Ctrl-C or, on Unix, SIGTERM received after the call.
fn signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            tokio::select! {
                () = received(interrupt) => {},
                () = received(terminate) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Completes when `signal` arrives; never, when it could not be caught.
#[cfg(unix)]
async fn received(signal: Option<tokio::signal::unix::Signal>) {
    match signal {
        Some(mut signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
