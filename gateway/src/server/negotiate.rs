//! Stage 1: which media type the response is written in, from `Accept`.
//!
//! `application/graphql-response+json` when the client accepts it at least
//! as much as `application/json`; `application/json` when the client sends
//! no `Accept`, `*/*`, or prefers it (the legacy default of the GraphQL over
//! HTTP spec). Anything else is `406 Not Acceptable`.

use http::HeaderMap;
use http::header::ACCEPT;

/// The media types a GraphQL response can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/graphql-response+json`: request errors are `400`.
    GraphqlResponse,
    /// `application/json`: every GraphQL answer is `200`.
    Json,
}

impl MediaType {
    /// The `Content-Type` value.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// The response media type, or `None` when the client accepts neither.
pub fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(ACCEPT).and_then(|value| value.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for (range, quality) in accept.split(',').filter_map(parse_range) {
        let candidate = match range.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, candidate));
        }
    }
    best.map(|(_, media_type)| media_type)
}

/// Whether the client is a browser asking for a page (`text/html`).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| {
            accept
                .split(',')
                .filter_map(parse_range)
                .any(|(range, _)| range == "text/html")
        })
}

fn parse_range(item: &str) -> Option<(String, f32)> {
    let mut parts = item.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    let quality = parts
        .filter_map(|param| param.trim().strip_prefix("q="))
        .find_map(|q| q.parse().ok())
        .unwrap_or(1.0);
    Some((range, quality))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn accept(value: &str) -> Option<MediaType> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_str(value).unwrap());
        negotiate(&headers)
    }

    #[test]
    fn the_preferred_acceptable_type_wins() {
        assert_eq!(negotiate(&HeaderMap::new()), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(MediaType::GraphqlResponse)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/plain"), None);
        assert_eq!(accept("application/json;q=0"), None);
    }
}
