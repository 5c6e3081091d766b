//! `[auth]`: how callers prove who they are (JSON Web Tokens).
//!
//! ```toml
//! [auth]
//! jwks_file = "jwks.json"          # the signing keys (RS256, ES256, HS256 as `oct` keys)
//! # jwks_url = "https://id.example.com/.well-known/jwks.json"   # or fetched, and refreshed
//! jwks_refresh_ms = 300000         # how often `jwks_url` is fetched again
//! issuer = "https://id.example.com/"   # optional: the `iss` tokens must carry
//! audience = "weft"                # optional: an `aud` tokens must carry
//! header = "authorization"         # where the token is sent, after `Bearer `
//! ```
//!
//! Without an `[auth]` section no token is read, every caller is
//! anonymous, and `@authenticated` fields answer `UNAUTHENTICATED`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// Where the signing keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Jwks {
    /// A JWKS file, read at start-up.
    File(PathBuf),
    /// A JWKS URL, fetched at start-up and every `refresh`.
    Url {
        /// The URL.
        url: String,
        /// How often it is fetched again.
        refresh: Duration,
    },
}

/// The validated `[auth]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The signing keys.
    pub jwks: Jwks,
    /// The issuer (`iss`) tokens must name, if set.
    pub issuer: Option<String>,
    /// An audience (`aud`) tokens must name, if set.
    pub audience: Option<String>,
    /// The request header (and `connection_init` payload key) that carries
    /// the token.
    pub header: http::HeaderName,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuth {
    jwks_file: Option<String>,
    jwks_url: Option<toml::Spanned<String>>,
    jwks_refresh_ms: Option<toml::Spanned<u64>>,
    issuer: Option<String>,
    audience: Option<String>,
    header: Option<toml::Spanned<String>>,
}

pub(super) fn validate(
    raw: toml::Spanned<RawAuth>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> Option<AuthConfig> {
    let span = raw.span();
    let raw = raw.into_inner();
    let refresh = origin.at_least_one("jwks_refresh_ms", raw.jwks_refresh_ms, 300_000, problems);
    let jwks = match (raw.jwks_file, raw.jwks_url) {
        (Some(file), None) => Jwks::File(origin.resolve_path(&file)),
        (None, Some(url)) => Jwks::Url {
            url: url.into_inner(),
            refresh: Duration::from_millis(refresh),
        },
        (Some(_), Some(url)) => {
            problems.push(origin.error(
                url.span(),
                "`[auth]` takes one of `jwks_file` and `jwks_url`",
            ));
            return None;
        }
        (None, None) => {
            problems.push(origin.error(span, "`[auth]` needs `jwks_file` or `jwks_url`"));
            return None;
        }
    };
    let header = match raw.header {
        None => http::header::AUTHORIZATION,
        Some(name) => {
            let Ok(header) = http::HeaderName::try_from(name.get_ref().as_str()) else {
                let message = format!("`header`: `{}` is not a header name", name.get_ref());
                problems.push(origin.error(name.span(), message));
                return None;
            };
            header
        }
    };
    Some(AuthConfig {
        jwks,
        issuer: raw.issuer,
        audience: raw.audience,
        header,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn parse(text: &str) -> Result<Option<AuthConfig>, String> {
        #[derive(Deserialize)]
        struct Wrapper {
            auth: toml::Spanned<RawAuth>,
        }
        let raw: Wrapper = toml::from_str(text).map_err(|error| error.to_string())?;
        let origin = Origin {
            path: Path::new("/etc/weft/weft.toml"),
            text,
        };
        let mut problems = Diagnostics::default();
        let auth = validate(raw.auth, &origin, &mut problems);
        problems
            .into_result(auth)
            .map_err(|problems| problems.to_string())
    }

    #[test]
    fn a_jwks_file_is_resolved_against_the_config() {
        let auth = parse("[auth]\njwks_file = \"keys.json\"\naudience = \"weft\"\n")
            .unwrap()
            .unwrap();
        assert_eq!(auth.jwks, Jwks::File(PathBuf::from("/etc/weft/keys.json")));
        assert_eq!(auth.audience.as_deref(), Some("weft"));
        assert_eq!(auth.header, http::header::AUTHORIZATION);
    }

    #[test]
    fn keys_are_required_once() {
        let none = parse("[auth]\nissuer = \"x\"\n").unwrap_err();
        assert!(none.contains("weft.toml:1"), "{none}");
        assert!(none.contains("needs `jwks_file` or `jwks_url`"), "{none}");
        let both = parse("[auth]\njwks_file = \"a\"\njwks_url = \"http://b\"\n").unwrap_err();
        assert!(both.contains("weft.toml:3"), "{both}");
    }
}
