//! REST/JSON backends over HTTP, with `reqwest`.
//!
//! A [`RestSource`] holds the base URL, static headers, timeout and a pooled
//! client. A [`RestCall`] is one `@rest` directive: method, URL template,
//! header templates and an optional JSON body template. A 2xx answer's body
//! is the result (`null` when empty); anything else is a [`SourceError`].
//! `GET` calls are the idempotent ones: only they are retried (see
//! [`super::resilience`]).

use std::sync::Arc;

use futures::FutureExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::{Connector, Forward, Limits, Prepared, described, measured};
use crate::config::{RestSourceConfig, SourceConfig};
use crate::error::SourceError;
use crate::json::Doc;
use crate::metrics::Metrics;
use crate::template::{StringTemplate, UrlTemplate, ValueTemplate, Vars};

/// A source's base URL, parsed once.
#[derive(Debug)]
struct Base {
    /// Its text without a trailing `/`, to which a target is appended.
    text: String,
    /// The parsed URL, when a target's path can be set on it: it has no
    /// query or fragment.
    url: Option<Url>,
    /// Its path without a trailing `/`.
    path: String,
}

impl Base {
    fn new(url: &Url) -> Self {
        Self {
            text: url.as_str().trim_end_matches('/').to_owned(),
            url: (url.query().is_none() && url.fragment().is_none()).then(|| url.clone()),
            path: url.path().trim_end_matches('/').to_owned(),
        }
    }
}

/// The URL of `target` (a path, and a query after `?`) under `base`: the
/// same URL as parsing the two texts together, without parsing the scheme
/// and host again for every call.
fn target_url(base: &Base, target: &str) -> Option<Url> {
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target, None),
    };
    match &base.url {
        Some(url) if path.starts_with('/') && !target.contains('#') => {
            let mut url = url.clone();
            url.set_path(&format!("{}{path}", base.path));
            url.set_query(query);
            Some(url)
        }
        _ => format!("{}{target}", base.text).parse().ok(),
    }
}

/// A source's configured `headers`, checked: fails when one is not a
/// valid HTTP header.
pub(crate) fn static_headers(
    configured: &std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for (key, value) in configured {
        let key: HeaderName = key
            .parse()
            .map_err(|_| format!("`{key}` is not a valid header name"))?;
        let value: HeaderValue = value
            .parse()
            .map_err(|_| format!("the value of header `{key}` is not a valid header value"))?;
        headers.insert(key, value);
    }
    Ok(headers)
}

/// A configured REST backend.
#[derive(Debug)]
pub struct RestSource {
    name: String,
    base: Base,
    client: reqwest::Client,
    headers: HeaderMap,
    forward: Forward,
    limits: Limits,
    metrics: Arc<Metrics>,
}

impl RestSource {
    /// Builds the source; fails when a configured header is not a valid HTTP
    /// header.
    pub fn new(
        name: &str,
        config: &RestSourceConfig,
        source: &SourceConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let mut limits = Limits::new(source);
        limits.report_to(&metrics, name);
        let headers = static_headers(&config.headers)?;
        Ok(Self {
            name: name.to_owned(),
            base: Base::new(&config.url),
            client: reqwest::Client::new(),
            headers,
            forward: Forward::new(source),
            limits,
            metrics,
        })
    }

    /// The source's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Sends one request to `target` (a path and query, already encoded) and
    /// returns the JSON answer; a `retryable` call is sent again after a
    /// transient failure, as often as the source's `retries` allow.
    pub async fn send(
        &self,
        method: Method,
        target: &str,
        headers: HeaderMap,
        body: Option<&Value>,
        retryable: bool,
    ) -> Result<Doc, SourceError> {
        measured(&self.metrics, &self.name, &self.limits, retryable, || {
            self.exchange(method.clone(), target, headers.clone(), body)
        })
        .await
    }

    async fn exchange(
        &self,
        method: Method,
        target: &str,
        mut headers: HeaderMap,
        body: Option<&Value>,
    ) -> Result<Doc, SourceError> {
        crate::traces::inject(&mut headers);
        let url = target_url(&self.base, target)
            .ok_or_else(|| self.bad_request(format!("`{target}` does not form a valid URL")))?;
        let mut request = self
            .client
            .request(method, url)
            .headers(self.headers.clone())
            .headers(headers)
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.limits.timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| self.transport_error(&error))?;
        let status = response.status();
        if !status.is_success() {
            return Err(SourceError::HttpStatus {
                source_name: self.name.clone(),
                status: status.as_u16(),
            });
        }
        let bytes = super::body_bytes(response)
            .await
            .map_err(|error| self.transport_error(&error))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Doc::null());
        }
        Doc::parse_body(bytes).map_err(|reason| SourceError::BadResponse {
            source_name: self.name.clone(),
            reason: format!("the body is not JSON: {reason}"),
        })
    }

    fn transport_error(&self, error: &reqwest::Error) -> SourceError {
        if error.is_timeout() {
            SourceError::Timeout {
                source_name: self.name.clone(),
                timeout_ms: self.limits.timeout_ms(),
            }
        } else {
            SourceError::Unavailable {
                source_name: self.name.clone(),
                detail: format!("{error:?}"),
            }
        }
    }

    fn bad_request(&self, reason: String) -> SourceError {
        SourceError::BadRequest {
            source_name: self.name.clone(),
            reason,
        }
    }
}

/// One `@rest` directive bound to its source.
#[derive(Debug)]
pub struct RestCall {
    /// The source to call.
    pub source: Arc<RestSource>,
    /// The HTTP method.
    pub method: Method,
    /// The path and query.
    pub target: UrlTemplate,
    /// The path and query template as written in the directive.
    pub route: String,
    /// Per-call headers (`headers: ["x-tenant: {$args.tenant}"]`).
    pub headers: Vec<(HeaderName, StringTemplate)>,
    /// The JSON body, if any.
    pub body: Option<ValueTemplate>,
    /// Whether the call may be sent again after a transient failure: a
    /// `GET` outside mutations (decided when the schema is built).
    pub retryable: bool,
}

impl RestCall {
    fn render_headers(&self, vars: &Vars<'_>) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::new();
        for (name, template) in &self.headers {
            let value = template.render_raw(vars)?;
            let value = HeaderValue::from_str(&value)
                .map_err(|_| format!("the value of header `{name}` is not a valid header value"))?;
            headers.insert(name.clone(), value);
        }
        Ok(headers)
    }
}

impl Connector for RestCall {
    fn source_name(&self) -> &str {
        &self.source.name
    }

    fn describe(&self) -> String {
        format!("{}: {} {}", self.source.name, self.method, self.route)
    }

    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError> {
        let bad_request = |reason| self.source.bad_request(reason);
        let target = self.target.render(vars).map_err(bad_request)?;
        let mut headers = self.render_headers(vars).map_err(bad_request)?;
        for (name, value) in &self.source.forward.pick(vars.caller.headers) {
            if !headers.contains_key(name) {
                headers.append(name.clone(), value.clone());
            }
        }
        let body = self.body.as_ref().map(|body| body.render(vars));
        let mut description = format!("{} {target}", self.method);
        let body_at = description.len();
        if let Some(body) = &body {
            description = described(&description, body);
        }
        let source = self.source.clone();
        let method = self.method.clone();
        let retryable = self.retryable;
        Ok(Prepared {
            source: source.name.clone(),
            description,
            body_at,
            max_in_flight: source.limits.max_request_concurrency,
            reads: None,
            call: async move {
                source
                    .send(method, &target, headers, body.as_ref(), retryable)
                    .await
            }
            .boxed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_urls_are_the_urls_of_base_and_target_parsed_together() {
        let bases = [
            "http://127.0.0.1:4001",
            "http://127.0.0.1:4001/",
            "https://api.example.com/v1/",
            "http://host/a?token=1",
        ];
        let targets = [
            "/users/1",
            "/users?ids=1,2,3",
            "/search?q=a b&x=%2F",
            "/a/../b/./c",
            "/caf\u{e9}/\u{1f600}?n=\u{e9}",
            "/users/1?",
            "/frag#x",
            "?only=query",
            "/",
        ];
        for base in bases {
            let base_url: Url = base.parse().unwrap();
            let prepared = Base::new(&base_url);
            for target in targets {
                let expected: Option<Url> = format!("{}{target}", prepared.text).parse().ok();
                assert_eq!(target_url(&prepared, target), expected, "{base} + {target}");
            }
        }
    }
}
