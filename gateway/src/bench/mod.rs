//! `weft bench`: measurements of the demo, printed as Markdown tables.
//!
//! - [`batching`]: backend calls, throughput and latency of fixed queries
//!   with batching on and off.
//! - [`fanout`]: events delivered per second and publish-to-client latency
//!   for many WebSocket subscribers, on the in-memory bus and on NATS.
//! - [`federation`]: The Guild's federation benchmark query over its four
//!   subgraphs, next to the demo's REST/gRPC 50-users query.
//! - [`queries`]: gateway CPU per request next to the services' CPU per
//!   request, with every service and the gateway as a separate process.
//! - [`outage`]: what clients get while a backend is killed and restarted.
//! - [`subscribers`]: the gateway's memory per WebSocket subscriber.
//!
//! `batching` and `fanout` run in one process over real sockets; `queries`,
//! `federation`, `outage` and `subscribers` start processes. The figures are what this machine does, not promises.

pub mod batching;
pub mod fanout;
pub mod federation;
pub mod outage;
pub mod queries;
pub mod resume;
pub mod subscribers;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::Gateway;

/// Serves `gateway` on a free local port until the process ends; returns
/// its address.
async fn serve(gateway: Arc<Gateway>) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| error.to_string())?;
    let addr = listener.local_addr().map_err(|error| error.to_string())?;
    tokio::spawn(crate::server::serve(
        listener,
        gateway,
        std::future::pending(),
    ));
    Ok(addr)
}

/// A WebSocket client of the gateway at `addr`, its `graphql-transport-ws`
/// connection initialised and one `announcements` subscription (id `1`)
/// sent, resuming after `resume_from` when given.
async fn subscribe_to_announcements(
    addr: SocketAddr,
    resume_from: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    String,
> {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "sec-websocket-protocol",
        http::HeaderValue::from_static("graphql-transport-ws"),
    );
    // A small read buffer, as the gateway's own: tungstenite zeroes its
    // whole read buffer (128 KiB by default) before each read, which would
    // cost these clients more than the gateway spends on the event.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024);
    let (mut socket, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), false)
            .await
            .map_err(|e| e.to_string())?;
    let mut payload = serde_json::json!({"query": "subscription { announcements { message } }"});
    if let Some(cursor) = resume_from {
        payload["extensions"] = serde_json::json!({"weft": {"resumeFrom": cursor}});
    }
    let subscribe = serde_json::json!({"type": "subscribe", "id": "1", "payload": payload});
    for message in [serde_json::json!({"type": "connection_init"}), subscribe] {
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(socket)
}

/// The `p`th percentile of sorted durations (zero when there are none).
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let index = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    sorted.get(index).copied().unwrap_or_default()
}

/// A duration in milliseconds.
fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
