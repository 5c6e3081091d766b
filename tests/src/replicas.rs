//! Helpers for tests of gateway replicas that share an event bus: a
//! subscription on one replica has no acknowledgement the others could
//! see, so tests repeat a probe event until it arrives.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{TestGateway, WsClient};

/// How long one try of [`until_subscribed`] waits for its event.
pub const PROBE_WAIT: Duration = Duration::from_millis(100);
/// How many tries [`until_subscribed`] makes.
pub const PROBES: usize = 100;

/// Runs `trigger` (which makes an event) until operation `id` of `client`
/// gets a result, and returns its payload: this is how a test knows a
/// subscription on another replica is established.
///
/// # Panics
///
/// When the first message is not a result of `id`, or none arrives after
/// [`PROBES`] tries.
pub async fn until_subscribed<F, Fut>(client: &mut WsClient, id: &str, mut trigger: F) -> Value
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..PROBES {
        trigger().await;
        if let Ok(message) = tokio::time::timeout(PROBE_WAIT, client.recv()).await {
            assert_eq!(
                (message["type"].as_str(), message["id"].as_str()),
                (Some("next"), Some(id)),
                "{message}"
            );
            return message["payload"].clone();
        }
    }
    panic!("operation {id} got no event after {PROBES} tries {PROBE_WAIT:?} apart");
}

/// Makes the demo's `announce` mutation on `gateway`.
///
/// # Panics
///
/// When the mutation does not answer with the announcement.
pub async fn announce(gateway: &TestGateway, message: &str) {
    let body = gateway
        .query_with(
            "mutation ($message: String!) { announce(message: $message) { message } }",
            json!({ "message": message }),
        )
        .await;
    assert_eq!(body, json!({"data": {"announce": {"message": message}}}));
}

/// The message of an `announcements` subscription result.
///
/// # Panics
///
/// When `payload` is not one.
pub fn announced(payload: &Value) -> &str {
    payload["data"]["announcements"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not an announcement: {payload}"))
}
