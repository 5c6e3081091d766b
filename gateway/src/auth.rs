//! Who is calling: JSON Web Tokens checked against the keys of a JWKS
//! (`[auth]`), and the rules of `@authenticated` and `@requiresScopes`.
//!
//! A request without a token is anonymous. A request whose token does not
//! verify (signature, expiry, issuer, audience) is refused as a whole:
//! `401` with `UNAUTHENTICATED`, or close code 4403 on a WebSocket. Fields
//! the caller may not read answer `null` with `UNAUTHENTICATED` or
//! `FORBIDDEN` at their path, before any backend call, and the rest of the
//! response stays (see the pipeline's `Denied`).
//!
//! Over HTTP and SSE the token comes from the configured header (`Bearer
//! <token>`); over WebSocket from the `connection_init` payload entry of the
//! same name (with or without `Bearer `), else from the upgrade request.

use std::str::FromStr;
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use crate::config::auth::{AuthConfig, Jwks};
use crate::error::{GraphqlError, codes};
use crate::schema::model::Access;

/// The caller of one request (or one WebSocket connection).
#[derive(Debug, Clone, Default)]
pub enum Identity {
    /// No token was sent.
    #[default]
    Anonymous,
    /// A token that verified, with its claims (an object).
    Verified(Arc<Value>),
}

impl Identity {
    /// The verified token's claims, if any.
    pub fn claims(&self) -> Option<&Value> {
        match self {
            Self::Anonymous => None,
            Self::Verified(claims) => Some(claims),
        }
    }

    /// The scopes the token grants: its `scope` claim (space-separated), or
    /// its `scp` claim (a list or a space-separated string).
    fn scopes(&self) -> Vec<&str> {
        let Self::Verified(claims) = self else {
            return Vec::new();
        };
        let claim = claims.get("scope").or_else(|| claims.get("scp"));
        match claim {
            Some(Value::String(scopes)) => scopes.split_whitespace().collect(),
            Some(Value::Array(scopes)) => scopes.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }
}

/// Why `identity` may not read a field with `access`, if it may not.
pub fn refusal(access: &Access, identity: &Identity) -> Option<GraphqlError> {
    if access.is_open() {
        return None;
    }
    if matches!(identity, Identity::Anonymous) {
        return Some(GraphqlError::new(
            "this field needs an authenticated caller",
            codes::UNAUTHENTICATED,
        ));
    }
    let granted = identity.scopes();
    let unmet = access.scopes.iter().find(|sets| {
        !sets
            .iter()
            .any(|set| set.iter().all(|scope| granted.contains(&scope.as_str())))
    })?;
    let wanted: Vec<String> = unmet.iter().map(|set| set.join(" and ")).collect();
    Some(GraphqlError::new(
        format!("this field needs the scopes {}", wanted.join(", or ")),
        codes::FORBIDDEN,
    ))
}

/// One signing key.
struct Key {
    id: Option<String>,
    algorithm: Algorithm,
    decoding: DecodingKey,
}

/// Verifies tokens against the configured keys.
pub struct Verifier {
    config: AuthConfig,
    keys: RwLock<Arc<Vec<Key>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `[auth]`; a JWKS file is read now, a URL is fetched
    /// by [`Verifier::refresh`].
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        let keys = match &config.jwks {
            Jwks::File(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|error| format!("`[auth] jwks_file` {}: {error}", path.display()))?;
                keys_of(&text).map_err(|error| format!("{}: {error}", path.display()))?
            }
            Jwks::Url { .. } => Vec::new(),
        };
        Ok(Self {
            config: config.clone(),
            keys: RwLock::new(Arc::new(keys)),
        })
    }

    /// Fetches the keys again from `jwks_url` (nothing to do for a file);
    /// on failure the keys held so far stay.
    pub async fn refresh(&self) -> Result<(), String> {
        let Jwks::Url { url, .. } = &self.config.jwks else {
            return Ok(());
        };
        let fetched = async {
            let response = reqwest::get(url).await.map_err(|error| error.to_string())?;
            let response = response
                .error_for_status()
                .map_err(|error| error.to_string())?;
            response.text().await.map_err(|error| error.to_string())
        };
        let keys = keys_of(&fetched.await?)?;
        if let Ok(mut held) = self.keys.write() {
            *held = Arc::new(keys);
        }
        Ok(())
    }

    /// Keeps the keys of `jwks_url` fresh in the background, for as long as
    /// the verifier lives.
    pub fn keep_fresh(self: &Arc<Self>) {
        let Jwks::Url { url, refresh } = &self.config.jwks else {
            return;
        };
        let (url, every) = (url.clone(), *refresh);
        let verifier = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(verifier) = verifier.upgrade() else {
                    return;
                };
                if let Err(error) = verifier.refresh().await {
                    tracing::warn!(%url, %error, "the JWKS could not be fetched; the keys held so far stay");
                }
            }
        });
    }

    /// The caller of a request with these headers.
    pub fn identify(&self, headers: &http::HeaderMap) -> Result<Identity, String> {
        let Some(value) = headers.get(&self.config.header) else {
            return Ok(Identity::Anonymous);
        };
        let token =
            value.to_str().ok().and_then(bearer).ok_or_else(|| {
                format!("the `{}` header holds no Bearer token", self.config.header)
            })?;
        self.verify(token)
    }

    /// The caller named by a WebSocket `connection_init` payload; `None`
    /// when the payload carries no token.
    pub fn identify_payload(&self, payload: &Value) -> Option<Result<Identity, String>> {
        let name = self.config.header.as_str();
        let (_, value) = payload
            .as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))?;
        let token = value.as_str().map(|text| bearer(text).unwrap_or(text));
        Some(match token {
            Some(token) => self.verify(token),
            None => Err(format!(
                "`{name}` in the connection_init payload is not a string"
            )),
        })
    }

    /// Checks a token; its claims, or why it does not verify.
    pub fn verify(&self, token: &str) -> Result<Identity, String> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|error| format!("the token: {error}"))?;
        let keys = self
            .keys
            .read()
            .map(|keys| keys.clone())
            .unwrap_or_default();
        let candidates = keys.iter().filter(|key| {
            key.algorithm == header.alg
                && (header.kid.is_none() || key.id.is_none() || key.id == header.kid)
        });
        let mut last = format!("no key of the JWKS verifies {:?} tokens", header.alg);
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(
                token,
                &key.decoding,
                &self.validation(key),
            ) {
                Ok(data) => return Ok(Identity::Verified(Arc::new(Value::Object(data.claims)))),
                Err(error) => last = format!("the token: {error}"),
            }
        }
        Err(last)
    }

    fn validation(&self, key: &Key) -> Validation {
        let mut validation = Validation::new(key.algorithm);
        if let Some(issuer) = &self.config.issuer {
            validation.set_issuer(&[issuer]);
        }
        match &self.config.audience {
            Some(audience) => validation.set_audience(&[audience]),
            None => validation.validate_aud = false,
        }
        validation
    }
}

/// The token of `Bearer <token>`.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// The keys of a JWKS document.
fn keys_of(text: &str) -> Result<Vec<Key>, String> {
    let set: JwkSet = serde_json::from_str(text).map_err(|error| format!("not a JWKS: {error}"))?;
    set.keys.iter().map(key_of).collect()
}

fn key_of(jwk: &Jwk) -> Result<Key, String> {
    let id = jwk.common.key_id.clone();
    let named = |problem: &str| match &id {
        Some(id) => format!("key `{id}`: {problem}"),
        None => format!("a key without `kid`: {problem}"),
    };
    let algorithm = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(algorithm), _) => Algorithm::from_str(&algorithm.to_string())
            .map_err(|_| named(&format!("`alg` {algorithm} cannot verify signatures")))?,
        (None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (None, AlgorithmParameters::EllipticCurve(_)) => Algorithm::ES256,
        (None, AlgorithmParameters::OctetKey(_)) => Algorithm::HS256,
        (None, AlgorithmParameters::OctetKeyPair(_)) => Algorithm::EdDSA,
    };
    let decoding = DecodingKey::from_jwk(jwk).map_err(|error| named(&error.to_string()))?;
    Ok(Key {
        id,
        algorithm,
        decoding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(authenticated: bool, scopes: &[&[&[&str]]]) -> Access {
        Access {
            authenticated,
            scopes: scopes
                .iter()
                .map(|sets| {
                    sets.iter()
                        .map(|set| set.iter().map(|s| (*s).to_owned()).collect())
                        .collect()
                })
                .collect(),
        }
    }

    fn caller(claims: Value) -> Identity {
        Identity::Verified(Arc::new(claims))
    }

    #[test]
    fn open_fields_need_nothing_and_guarded_ones_a_caller() {
        assert!(refusal(&Access::default(), &Identity::Anonymous).is_none());
        let error = refusal(&access(true, &[]), &Identity::Anonymous).unwrap();
        assert_eq!(error.code(), codes::UNAUTHENTICATED);
        assert!(refusal(&access(true, &[]), &caller(serde_json::json!({"sub": "1"}))).is_none());
    }

    #[test]
    fn scopes_need_every_scope_of_one_set() {
        let rule = access(false, &[&[&["read:orders", "read:users"], &["admin"]]]);
        let reader = caller(serde_json::json!({"scope": "read:orders read:users"}));
        let admin = caller(serde_json::json!({"scp": ["admin"]}));
        let partial = caller(serde_json::json!({"scope": "read:orders"}));
        assert!(refusal(&rule, &reader).is_none());
        assert!(refusal(&rule, &admin).is_none());
        let error = refusal(&rule, &partial).unwrap();
        assert_eq!(error.code(), codes::FORBIDDEN);
        assert_eq!(
            error.message,
            "this field needs the scopes read:orders and read:users, or admin"
        );
    }

    #[test]
    fn bearer_tokens_are_read_whatever_the_scheme_case() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }
}
