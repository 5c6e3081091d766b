//! `[server.cors]`: which browser origins may call weft, and how.
//!
//! Without the table no CORS header is sent (browsers then refuse
//! cross-origin calls); `weft demo` allows every origin.
//!
//! ```toml
//! [server.cors]
//! allow_origins = ["https://app.example.com", "https://*.example.com"]  # "*": any origin
//! allow_methods = ["GET", "POST"]           # default GET, POST
//! allow_headers = ["content-type"]          # default: whatever the preflight asks for
//! expose_headers = []                       # response headers scripts may read
//! allow_credentials = false                 # cookies and Authorization from browsers
//! max_age_secs = 600                        # how long a browser keeps a preflight's answer
//! ```

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[server.cors]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// The origins allowed.
    pub allow_origins: Vec<OriginRule>,
    /// The methods a preflight allows.
    pub allow_methods: Vec<String>,
    /// The request headers a preflight allows; empty: those it asks for.
    pub allow_headers: Vec<String>,
    /// The response headers scripts may read.
    pub expose_headers: Vec<String>,
    /// Whether credentials (cookies, `Authorization`) may be sent.
    pub allow_credentials: bool,
    /// How long a browser may keep a preflight's answer, in seconds.
    pub max_age_secs: u64,
}

/// One entry of `allow_origins`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OriginRule {
    /// `*`: any origin.
    Any,
    /// One origin, e.g. `https://app.example.com`.
    Exact(String),
    /// An origin with one `*`, e.g. `https://*.example.com`: what comes
    /// before and after it.
    Pattern(String, String),
}

impl CorsConfig {
    /// Every origin allowed, the defaults otherwise (what `weft demo` uses).
    pub fn any_origin() -> Self {
        Self {
            allow_origins: vec![OriginRule::Any],
            allow_methods: default_methods(),
            allow_headers: Vec::new(),
            expose_headers: Vec::new(),
            allow_credentials: false,
            max_age_secs: DEFAULT_MAX_AGE_SECS,
        }
    }

    /// Whether `origin` (an `Origin` header's value) may call.
    pub fn allows(&self, origin: &str) -> bool {
        self.allow_origins.iter().any(|rule| match rule {
            OriginRule::Any => true,
            OriginRule::Exact(exact) => exact.eq_ignore_ascii_case(origin),
            OriginRule::Pattern(before, after) => {
                origin.len() > before.len() + after.len()
                    && origin.starts_with(before.as_str())
                    && origin.ends_with(after.as_str())
            }
        })
    }

    /// Whether any origin is allowed without credentials, so that `*` can
    /// answer instead of the caller's origin.
    pub fn is_wildcard(&self) -> bool {
        !self.allow_credentials && self.allow_origins.contains(&OriginRule::Any)
    }
}

const DEFAULT_MAX_AGE_SECS: u64 = 600;

fn default_methods() -> Vec<String> {
    vec!["GET".to_owned(), "POST".to_owned()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCors {
    allow_origins: toml::Spanned<Vec<String>>,
    allow_methods: Option<Vec<String>>,
    allow_headers: Option<Vec<String>>,
    expose_headers: Option<Vec<String>>,
    allow_credentials: Option<bool>,
    max_age_secs: Option<u64>,
}

pub(super) fn validate(
    raw: RawCors,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> CorsConfig {
    let span = raw.allow_origins.span();
    let allow_credentials = raw.allow_credentials.unwrap_or(false);
    let mut allow_origins = Vec::new();
    for entry in raw.allow_origins.into_inner() {
        match rule(&entry) {
            Ok(rule) => allow_origins.push(rule),
            Err(problem) => problems.push(origin.error(span.clone(), problem)),
        }
    }
    if allow_credentials && allow_origins.contains(&OriginRule::Any) {
        problems.push(origin.error(
            span,
            "`allow_origins = [\"*\"]` cannot go with `allow_credentials = true`: list the origins",
        ));
    }
    CorsConfig {
        allow_origins,
        allow_methods: raw.allow_methods.map_or_else(default_methods, |methods| {
            methods.iter().map(|m| m.to_ascii_uppercase()).collect()
        }),
        allow_headers: raw
            .allow_headers
            .map(|headers| headers.iter().map(|h| h.to_ascii_lowercase()).collect())
            .unwrap_or_default(),
        expose_headers: raw.expose_headers.unwrap_or_default(),
        allow_credentials,
        max_age_secs: raw.max_age_secs.unwrap_or(DEFAULT_MAX_AGE_SECS),
    }
}

fn rule(entry: &str) -> Result<OriginRule, String> {
    if entry == "*" {
        return Ok(OriginRule::Any);
    }
    let well_formed = |text: &str| {
        text.starts_with("http://") || text.starts_with("https://") || text.starts_with('*')
    };
    if !well_formed(entry) || entry.ends_with('/') || entry.matches('*').count() > 1 {
        return Err(format!(
            "`{entry}` in `allow_origins` is not an origin like `https://app.example.com` \
             (one `*` may stand for a part of it, as in `https://*.example.com`)"
        ));
    }
    Ok(match entry.split_once('*') {
        Some((before, after)) => OriginRule::Pattern(before.to_owned(), after.to_owned()),
        None => OriginRule::Exact(entry.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_match_exactly_or_around_one_star() {
        let config = CorsConfig {
            allow_origins: vec![
                rule("https://app.example.com").unwrap(),
                rule("https://*.example.org").unwrap(),
            ],
            ..CorsConfig::any_origin()
        };
        assert!(config.allows("https://app.example.com"));
        assert!(config.allows("https://a.b.example.org"));
        assert!(!config.allows("https://example.org"));
        assert!(!config.allows("https://app.example.com.evil.net"));
        assert!(!config.allows("http://app.example.com"));
        assert!(!config.is_wildcard());
        assert!(CorsConfig::any_origin().is_wildcard());
    }

    #[test]
    fn malformed_origins_are_refused() {
        for entry in [
            "app.example.com",
            "https://app.example.com/",
            "https://*.*.com",
        ] {
            assert!(rule(entry).is_err(), "{entry}");
        }
    }
}
