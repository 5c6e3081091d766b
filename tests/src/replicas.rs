//! Helpers for tests of gateway replicas that share an event bus: a
//! subscription on one replica has no acknowledgement the others could
//! see, so tests repeat a probe event until it arrives. The same probing
//! tells when a gateway has its broker back after an outage.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use crate::{ANNOUNCEMENTS_SUBSCRIPTION, TestGateway, WsClient};

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

/// Reads `client`'s results of `id` until announcement `message`, passing
/// over the probes before it.
///
/// # Panics
///
/// When another result comes first, or none is the announcement.
pub async fn until_announced(client: &mut WsClient, id: &str, message: &str) {
    for _ in 0..=PROBES {
        let payload = client.next(id).await;
        if announced(&payload) == message {
            return;
        }
        assert_eq!(announced(&payload), "probe", "{payload}");
    }
    panic!("operation {id} never got the announcement {message:?}");
}

/// Subscribes `client` to announcements as operation `<id><attempt>` until
/// a probe announced on `gateway` arrives, and returns the operation's id;
/// while the bus's broker is away the subscription is refused with
/// `EVENT_BUS_UNAVAILABLE`, and tried again.
///
/// # Panics
///
/// When a refusal has another code, or no try succeeds.
pub async fn subscribe_when_up(client: &mut WsClient, gateway: &TestGateway, id: &str) -> String {
    for attempt in 0..PROBES {
        let operation = format!("{id}{attempt}");
        client
            .subscribe(&operation, ANNOUNCEMENTS_SUBSCRIPTION)
            .await;
        let refused = tokio::time::timeout(Duration::from_millis(300), client.recv()).await;
        if let Ok(message) = refused {
            assert_eq!(message["type"], "error", "{message}");
            assert_eq!(
                message["payload"][0]["extensions"]["code"], "EVENT_BUS_UNAVAILABLE",
                "{message}"
            );
            tokio::time::sleep(PROBE_WAIT).await;
        } else {
            let payload = until_subscribed(client, &operation, || announce(gateway, "probe")).await;
            assert_eq!(announced(&payload), "probe");
            return operation;
        }
    }
    panic!("no subscription succeeded after {PROBES} tries: the event bus never came back");
}
