//! `/health` and `/metrics`: what operators and load balancers look at.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::CONTENT_TYPE;

use crate::Gateway;

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

/// `GET /metrics`: Prometheus text (OpenMetrics).
pub async fn metrics(State(gateway): State<Arc<Gateway>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        gateway.metrics.render(),
    )
        .into_response()
}
