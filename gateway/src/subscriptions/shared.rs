//! Per-event responses shared between subscribers. The bus hands one event
//! (one `Arc`) to every local subscriber of its topic. Subscribers that
//! would make the same response of it — the same plan, variables and
//! permissions, and, when the selection under the event calls backends,
//! the same caller — get the response the first of them made: an event
//! costs one run per distinct subscription, not one per subscriber, and the
//! response is shared, not copied.
//!
//! A response is remembered per (event, [`ShareKey`]) for as long as the
//! event lives; the entry holds a `Weak` to the event, so its address is
//! not reused while the entry exists, and dead entries are swept as the
//! table grows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use tokio::sync::OnceCell;

use crate::events::Payload;
use crate::pipeline::{Prepared, Response};

/// What makes two subscribers' responses to one event the same.
pub(crate) type ShareKey = Arc<str>;

/// The response to one event for one [`ShareKey`], made once.
pub(crate) type SharedResponse = Arc<OnceCell<Arc<Response>>>;

/// The share key of a subscription: its plan, variables and denied fields,
/// and its caller (headers, `connection_init` payload, token claims) when
/// the selection under the event calls backends, whose answers may depend
/// on who asks. The WebSocket handshake's key, different on every
/// connection and never forwarded, is left out.
pub(crate) fn share_key(prepared: &Prepared) -> ShareKey {
    let mut key = format!("{}|", prepared.plan.id);
    key.push_str(&json_text(&*prepared.variables));
    key.push('|');
    for id in prepared.denied.ids() {
        let _ = write!(key, "{id},");
    }
    let fetches = prepared
        .plan
        .operation
        .selection
        .fields
        .iter()
        .filter_map(|field| field.selection.as_ref())
        .any(|selection| selection.fetches);
    if fetches {
        key.push('|');
        let headers = prepared.headers.iter();
        for (name, value) in headers.filter(|(name, _)| *name != http::header::SEC_WEBSOCKET_KEY) {
            let _ = writeln!(key, "{name}:{value:?}");
        }
        let caller = (prepared.identity.claims(), prepared.connection.as_deref());
        key.push_str(&json_text(&caller));
    }
    key.into()
}

fn json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// The responses made of live events, by event and share key.
#[derive(Debug, Default)]
pub(crate) struct SharedResponses {
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_event: HashMap<(usize, ShareKey), (Weak<Payload>, SharedResponse)>,
    /// How many entries the last sweep kept: the next sweeps once the table
    /// has grown well past that.
    kept: usize,
}

impl SharedResponses {
    /// The response to `event` for subscribers of `key`: made by whoever
    /// gets there first, awaited by the others.
    pub(crate) fn of(&self, event: &Arc<Payload>, key: &ShareKey) -> SharedResponse {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let id = (Arc::as_ptr(event).addr(), key.clone());
        if let Some((_, response)) = entries.by_event.get(&id) {
            return response.clone();
        }
        entries.sweep();
        let response = SharedResponse::default();
        entries
            .by_event
            .insert(id, (Arc::downgrade(event), response.clone()));
        response
    }

    /// How many responses are remembered.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .by_event
            .len()
    }
}

impl Entries {
    /// Forgets the responses to events no subscriber holds any more.
    fn sweep(&mut self) {
        if self.by_event.len() < 2 * self.kept + 64 {
            return;
        }
        self.by_event
            .retain(|_, (event, _)| event.strong_count() > 0);
        self.kept = self.by_event.len();
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn response(data: &str) -> Arc<Response> {
        Arc::new(Response {
            data: Some(data.as_bytes().to_vec()),
            ..Response::default()
        })
    }

    #[tokio::test]
    async fn one_event_and_key_share_one_response() {
        let shared = SharedResponses::default();
        let (event, other) = (
            Arc::new(Payload::json(json!(1))),
            Arc::new(Payload::json(json!(1))),
        );
        let key: ShareKey = "k".into();
        let first = shared.of(&event, &key);
        let made = first.get_or_init(|| async { response("1") }).await;
        let again = shared.of(&event, &key);
        assert!(Arc::ptr_eq(again.get().unwrap(), made));
        assert!(shared.of(&other, &key).get().is_none());
        assert!(shared.of(&event, &"other".into()).get().is_none());
    }

    #[test]
    fn responses_go_with_their_events() {
        let shared = SharedResponses::default();
        let key: ShareKey = "k".into();
        for _ in 0..1_000 {
            let event = Arc::new(Payload::json(json!({"n": 1})));
            shared.of(&event, &key);
        }
        assert!(shared.len() <= 65, "{} responses kept", shared.len());
    }
}
