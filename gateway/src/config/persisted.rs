//! `[persisted_queries]`: operations sent by hash instead of text.
//!
//! ```toml
//! [persisted_queries]
//! apq = true                       # Automatic Persisted Queries (Apollo's `persistedQuery` extension)
//! cache_size = 1000                # documents kept by hash; the oldest goes first
//! safelist = "operations.json"     # optional: operations known in advance, by sha256
//! safelist_only = false            # true: nothing but the safelist's operations runs
//! ```
//!
//! The safelist is a JSON object of sha256 hex hashes to documents, or an
//! Apollo persisted query manifest (`{"operations": [{"id", "body"}, …]}`).

use std::path::PathBuf;

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[persisted_queries]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistedConfig {
    /// Whether clients may register documents by hash (APQ).
    pub apq: bool,
    /// How many registered documents are kept.
    pub cache_size: usize,
    /// The safelist file, if any.
    pub safelist: Option<PathBuf>,
    /// Whether only the safelist's operations may run.
    pub safelist_only: bool,
}

impl Default for PersistedConfig {
    fn default() -> Self {
        Self {
            apq: true,
            cache_size: 1000,
            safelist: None,
            safelist_only: false,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPersisted {
    apq: Option<bool>,
    cache_size: Option<toml::Spanned<usize>>,
    safelist: Option<String>,
    safelist_only: Option<toml::Spanned<bool>>,
}

pub(super) fn validate(
    raw: RawPersisted,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> PersistedConfig {
    let default = PersistedConfig::default();
    let safelist = raw.safelist.map(|path| origin.resolve_path(&path));
    let safelist_only = match raw.safelist_only {
        Some(only) if *only.get_ref() && safelist.is_none() => {
            problems.push(origin.error(
                only.span(),
                "`safelist_only = true` needs a `safelist` file",
            ));
            false
        }
        Some(only) => only.into_inner(),
        None => default.safelist_only,
    };
    PersistedConfig {
        apq: raw.apq.unwrap_or(default.apq),
        cache_size: origin.at_least_one("cache_size", raw.cache_size, default.cache_size, problems),
        safelist,
        safelist_only,
    }
}
