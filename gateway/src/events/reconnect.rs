//! What the broker buses share about their connections: how long they wait
//! for a broker, how often they release idle topics, and the loop that
//! relays a connection's messages and reconnects when it is lost.

use std::time::Duration;

use super::BusError;

/// How long start-up waits for a broker's first connection before going on
/// without it; also the bound of every later connection attempt.
pub(crate) const FIRST_CONNECT: Duration = Duration::from_secs(2);

/// How often topics without local subscribers are released at the broker.
pub(crate) const IDLE_CHECK: Duration = Duration::from_secs(1);

/// The first wait before reconnecting.
pub(crate) const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between two reconnection attempts.
pub const MAX_RETRY: Duration = Duration::from_secs(5);

/// Relays the messages of `connection` (if start-up made one) with `relay`,
/// which returns when the connection is lost; then reconnects with
/// `reconnect` after [`FIRST_RETRY`], twice as long after each failure, at
/// most [`MAX_RETRY`]; and so on for as long as the bus lives.
pub(crate) async fn relay_forever<C, Relay, Relayed, Reconnect, Reconnected>(
    broker: &str,
    mut connection: Option<C>,
    mut relay: Relay,
    mut reconnect: Reconnect,
) where
    Relay: FnMut(C) -> Relayed,
    Relayed: Future<Output = ()>,
    Reconnect: FnMut() -> Reconnected,
    Reconnected: Future<Output = Result<C, BusError>>,
{
    let mut retry = FIRST_RETRY;
    loop {
        if let Some(connection) = connection.take() {
            retry = FIRST_RETRY;
            relay(connection).await;
            tracing::warn!("lost the connection to {broker}; reconnecting");
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
        match reconnect().await {
            Ok(new) => {
                tracing::info!("reconnected to {broker}");
                connection = Some(new);
            }
            Err(error) => tracing::debug!("cannot reconnect to {broker}: {error}"),
        }
    }
}
