//! Small helpers shared by the REST services: `{"error": ...}` responses,
//! JSON body rejections mapped to 400, and comma-separated id lists.

use std::collections::HashSet;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A response with `status` and the body `{"error": message}`.
pub(crate) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Turns a rejected JSON body (malformed, wrong shape, wrong content type)
/// into a 400 `{"error": ...}` response.
pub(crate) fn bad_body(rejection: &JsonRejection) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        format!("invalid request body: {}", rejection.body_text()),
    )
}

/// The 404 answer for paths no route matches.
pub(crate) async fn no_route() -> Response {
    error(StatusCode::NOT_FOUND, "no such route")
}

/// The non-empty, trimmed items of a comma-separated list, duplicates
/// dropped, first occurrence kept, in list order.
pub(crate) fn split_ids(list: &str) -> Vec<&str> {
    let mut seen = HashSet::new();
    list.split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty() && seen.insert(*id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::split_ids;

    #[test]
    fn splits_ids() {
        assert_eq!(split_ids("1, 2,,3,2"), ["1", "2", "3"]);
        assert!(split_ids("").is_empty());
    }
}
