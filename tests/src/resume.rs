//! What the tests of resumable subscriptions share, whichever bus stores
//! the events: a `weft serve` process to kill and restart, subscription
//! requests naming a cursor, and reading cursors and refusals back.

use std::path::Path;

use serde_json::{Value, json};

use crate::SseStream;
use crate::process::WeftProcess;

/// `weft serve` as a process of its own on a free port, with the config
/// at `path`.
///
/// # Panics
///
/// When `path` is not UTF-8, or the process does not start.
pub fn serve(path: &Path) -> WeftProcess {
    WeftProcess::start(
        &["serve", "--config", path.to_str().expect("a UTF-8 path")],
        &[],
    )
}

/// A subscription request that resumes after `cursor`.
pub fn resuming(query: &str, cursor: impl Into<Value>) -> Value {
    json!({"query": query, "extensions": {"weft": {"resumeFrom": cursor.into()}}})
}

/// The error a subscription of `announcements` is refused with.
pub fn refused(message: &str, code: &str) -> Value {
    json!([{"message": message, "path": ["announcements"], "extensions": {"code": code}}])
}

/// The cursor a result carries (`extensions.weft.cursor`).
///
/// # Panics
///
/// When it carries none.
pub fn cursor_text(payload: &Value) -> &str {
    payload["extensions"]["weft"]["cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("a result without a cursor: {payload}"))
}

/// The `id:` and data of the next event, which must be a `next`.
///
/// # Panics
///
/// When the stream ends first, or the event is not a `next`.
pub async fn next_sse(events: &mut SseStream) -> (Option<String>, Value) {
    let event = events.next_event().await.expect("one more event");
    assert_eq!(event.event, "next", "{event:?}");
    (event.id.clone(), event.json())
}
