//! `[traces]`: OpenTelemetry traces, exported over OTLP.
//!
//! ```toml
//! [traces]
//! otlp_endpoint = "http://127.0.0.1:4317"   # an OTLP/gRPC collector; no traces without it
//! service_name = "weft"                      # the `service.name` of the spans
//! ```
//!
//! Spans: one per request (`graphql.request`, a child of the client's W3C
//! `traceparent` when it sends one), one per backend call of the plan
//! (`fetch`), and one per try of it (`source.call`), whose context goes to
//! the backend as `traceparent` (a REST header, gRPC metadata).

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[traces]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracesConfig {
    /// The OTLP/gRPC endpoint spans are exported to.
    pub otlp_endpoint: String,
    /// The `service.name` resource attribute.
    pub service_name: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTraces {
    otlp_endpoint: Option<toml::Spanned<String>>,
    service_name: Option<String>,
}

pub(super) fn validate(
    raw: toml::Spanned<RawTraces>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<TracesConfig> {
    let span = raw.span();
    let raw = raw.into_inner();
    let Some(endpoint) = raw.otlp_endpoint else {
        problems.push(origin.error(span, "`[traces]` needs `otlp_endpoint`"));
        return None;
    };
    if !endpoint.get_ref().starts_with("http://") && !endpoint.get_ref().starts_with("https://") {
        let message = format!(
            "`otlp_endpoint`: `{}` is not an http:// or https:// URL",
            endpoint.get_ref()
        );
        problems.push(origin.error(endpoint.span(), message));
        return None;
    }
    Some(TracesConfig {
        otlp_endpoint: endpoint.into_inner(),
        service_name: raw.service_name.unwrap_or_else(|| "weft".to_owned()),
    })
}
