//! Stage 0: the document of a request sent by hash. A request whose
//! `extensions.persistedQuery.sha256Hash` names a document gets it from the
//! safelist or from the documents clients registered (Automatic Persisted
//! Queries: the first request sends hash and text, later ones the hash
//! alone). With `safelist_only`, nothing but the safelist's operations
//! runs, whether sent by hash or as text.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use indexmap::IndexMap;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::GraphqlRequest;
use crate::config::PersistedConfig;
use crate::error::{GraphqlError, codes};

/// The persisted documents: the safelist and the registered ones.
#[derive(Debug, Default)]
pub struct Persisted {
    config: PersistedConfig,
    safelist: HashMap<String, Arc<str>>,
    registered: Mutex<IndexMap<String, Arc<str>>>,
}

impl Persisted {
    /// The documents `config` allows, its safelist read from disk.
    pub fn new(config: &PersistedConfig) -> Result<Self, String> {
        let safelist = match &config.safelist {
            Some(path) => read_safelist(path)?,
            None => HashMap::new(),
        };
        Ok(Self {
            config: config.clone(),
            safelist,
            registered: Mutex::default(),
        })
    }

    /// The document `request` runs: its text (checked against its hash,
    /// and registered), or the one its hash names.
    pub fn document<'r>(&self, request: &'r GraphqlRequest) -> Result<Cow<'r, str>, GraphqlError> {
        let hash = requested_hash(request)?;
        if request.query.is_empty() {
            let Some(hash) = hash else {
                return Err(GraphqlError::new(
                    "the request has no `query`",
                    codes::BAD_REQUEST,
                ));
            };
            return self.by_hash(&hash).map(|text| Cow::Owned(text.to_string()));
        }
        let text = request.query.as_str();
        if hash.is_some() || self.config.safelist_only {
            let actual = sha256_hex(text);
            if hash.as_ref().is_some_and(|hash| *hash != actual) {
                return Err(GraphqlError::new(
                    "the query does not match its `sha256Hash`",
                    codes::PERSISTED_QUERY_HASH_MISMATCH,
                ));
            }
            if self.config.safelist_only && !self.safelist.contains_key(&actual) {
                return Err(not_in_safelist());
            }
            if hash.is_some() && self.config.apq {
                self.register(actual, text);
            }
        }
        Ok(Cow::Borrowed(text))
    }

    fn by_hash(&self, hash: &str) -> Result<Arc<str>, GraphqlError> {
        if let Some(text) = self.safelist.get(hash) {
            return Ok(text.clone());
        }
        if self.config.safelist_only {
            return Err(not_in_safelist());
        }
        if !self.config.apq {
            return Err(GraphqlError::new(
                "PersistedQueryNotSupported",
                codes::PERSISTED_QUERY_NOT_SUPPORTED,
            ));
        }
        let registered = self
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        registered.get(hash).cloned().ok_or_else(|| {
            GraphqlError::new("PersistedQueryNotFound", codes::PERSISTED_QUERY_NOT_FOUND)
        })
    }

    fn register(&self, hash: String, text: &str) {
        let mut registered = self
            .registered
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if registered.contains_key(&hash) {
            return;
        }
        if registered.len() >= self.config.cache_size {
            registered.shift_remove_index(0);
        }
        registered.insert(hash, Arc::from(text));
    }
}

fn not_in_safelist() -> GraphqlError {
    GraphqlError::new(
        "only the operations of the safelist may run here",
        codes::OPERATION_NOT_IN_SAFELIST,
    )
}

/// `extensions.persistedQuery.sha256Hash`, lower-cased, if the request has
/// a `persistedQuery` extension.
fn requested_hash(request: &GraphqlRequest) -> Result<Option<String>, GraphqlError> {
    let Some(persisted) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let version = persisted.get("version").and_then(Value::as_i64);
    let hash = persisted.get("sha256Hash").and_then(Value::as_str);
    match (version, hash) {
        (Some(1), Some(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(Some(hash.to_ascii_lowercase()))
        }
        _ => Err(GraphqlError::new(
            "`extensions.persistedQuery` needs `version: 1` and a sha256Hash of 64 hex digits",
            codes::BAD_REQUEST,
        )),
    }
}

/// The sha256 of `text`, as lower-case hex.
pub fn sha256_hex(text: &str) -> String {
    use std::fmt::Write as _;
    Sha256::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(64), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

/// A safelist file: `{ "<sha256>": "<document>" }`, or an Apollo
/// persisted query manifest.
fn read_safelist(path: &std::path::Path) -> Result<HashMap<String, Arc<str>>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read the safelist {shown}: {error}"))?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|error| format!("the safelist {shown} is not JSON: {error}"))?;
    let entries: Vec<(&str, &str)> = match json.get("operations").and_then(Value::as_array) {
        Some(operations) => operations
            .iter()
            .filter_map(|operation| {
                Some((
                    operation.get("id")?.as_str()?,
                    operation.get("body")?.as_str()?,
                ))
            })
            .collect(),
        None => json
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(hash, text)| Some((hash.as_str(), text.as_str()?)))
                    .collect()
            })
            .unwrap_or_default(),
    };
    let mut safelist = HashMap::new();
    for (hash, body) in entries {
        if sha256_hex(body) != hash.to_ascii_lowercase() {
            return Err(format!(
                "the safelist {shown}: `{hash}` is not the sha256 of its document"
            ));
        }
        safelist.insert(hash.to_ascii_lowercase(), Arc::from(body));
    }
    if safelist.is_empty() {
        return Err(format!("the safelist {shown} lists no operation"));
    }
    Ok(safelist)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(query: &str, hash: Option<&str>) -> GraphqlRequest {
        let mut request = GraphqlRequest {
            query: query.to_owned(),
            ..GraphqlRequest::default()
        };
        if let Some(hash) = hash {
            request.extensions.insert(
                "persistedQuery".to_owned(),
                json!({ "version": 1, "sha256Hash": hash }),
            );
        }
        request
    }

    #[test]
    fn a_hash_is_unknown_until_sent_with_its_document() {
        let persisted = Persisted::new(&PersistedConfig::default()).unwrap();
        let text = "{ __typename }";
        let hash = sha256_hex(text);
        let error = persisted.document(&request("", Some(&hash))).unwrap_err();
        assert_eq!(error.code(), codes::PERSISTED_QUERY_NOT_FOUND);
        assert_eq!(error.message, "PersistedQueryNotFound");
        assert_eq!(
            persisted.document(&request(text, Some(&hash))).unwrap(),
            text
        );
        assert_eq!(persisted.document(&request("", Some(&hash))).unwrap(), text);
        let wrong = persisted
            .document(&request("{ other }", Some(&hash)))
            .unwrap_err();
        assert_eq!(wrong.code(), codes::PERSISTED_QUERY_HASH_MISMATCH);
    }

    #[test]
    fn the_cache_keeps_at_most_its_size() {
        let config = PersistedConfig {
            cache_size: 2,
            ..PersistedConfig::default()
        };
        let persisted = Persisted::new(&config).unwrap();
        let texts = ["{ a }", "{ b }", "{ c }"];
        for text in texts {
            persisted
                .document(&request(text, Some(&sha256_hex(text))))
                .unwrap();
        }
        let first = request("", Some(&sha256_hex(texts[0])));
        let error = persisted.document(&first).unwrap_err();
        assert_eq!(error.code(), codes::PERSISTED_QUERY_NOT_FOUND);
        assert!(
            persisted
                .document(&request("", Some(&sha256_hex(texts[2]))))
                .is_ok()
        );
    }
}
