//! The HTTP surface: routes, and serving them with graceful shutdown.
//!
//! | route | what |
//! |---|---|
//! | `POST /graphql` | GraphQL over HTTP (JSON body) |
//! | `GET /graphql?query=…` | queries only; from a browser (`Accept: text/html`) without a query, GraphiQL |
//! | `GET /graphql` (WebSocket upgrade) | subscriptions (and queries, mutations) over `graphql-transport-ws` or legacy `graphql-ws` |
//! | `POST`/`GET /graphql` with `Accept: text/event-stream` | one operation streamed as Server-Sent Events |
//! | `GET /health` | `200` while serving, `503` once shutdown has begun |
//! | `GET /metrics` | Prometheus metrics |
//!
//! A GraphQL request goes through the stages in [`graphql`], one file each:
//! [`negotiate`] (response media type), [`request`] (HTTP → GraphQL
//! request), execution, [`respond`] (status code and body).

mod graphiql;
mod graphql;
mod negotiate;
mod observe;
mod request;
mod respond;
mod sse;
mod websocket;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::Gateway;

/// The gateway's routes; tests drive this without a socket.
pub fn app(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/health", get(observe::health))
        .route("/metrics", get(observe::metrics))
        .with_state(gateway)
}

/// Serves the gateway on `listener` until `shutdown` completes, then stops
/// taking connections, reports unready on `/health`, ends every open
/// subscription, and lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    gateway: Arc<Gateway>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let draining = gateway.clone();
    axum::serve(listener, app(gateway))
        .with_graceful_shutdown(async move {
            shutdown.await;
            draining.begin_shutdown();
        })
        .await
}

/// Completes on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
