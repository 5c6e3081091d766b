//! `/health` and `/metrics`: what operators and load balancers look at.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE};

use crate::Gateway;
use crate::metrics::Format;

/// `GET /health`: `200 {"status":"ok"}` while serving; `503` once shutdown
/// has begun, so load balancers stop sending traffic.
pub async fn health(State(gateway): State<Arc<Gateway>>) -> Response {
    if gateway.is_ready() {
        (
            StatusCode::OK,
            [(CONTENT_TYPE, "application/json")],
            r#"{"status":"ok"}"#,
        )
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(CONTENT_TYPE, "application/json")],
            r#"{"status":"shutting down"}"#,
        )
            .into_response()
    }
}

/// `GET /metrics`: OpenMetrics when `Accept` asks for it, else the
/// Prometheus text format.
pub async fn metrics(State(gateway): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|value| value.to_str().ok());
    let format = Format::accepted(accept);
    (
        [(CONTENT_TYPE, format.content_type())],
        gateway.metrics.render(format),
    )
        .into_response()
}
