//! `[limits]`: how large an operation may be. Every limit is checked before
//! the operation is planned, so a request over one never reaches a backend
//! and costs the gateway microseconds.
//!
//! ```toml
//! [limits]
//! max_tokens = 15000      # lexical tokens in the document
//! max_recursion = 128     # nesting of `{`, `[` and `(` in the document
//! max_depth = 24          # fields nested in the operation, fragments spread
//! max_aliases = 50        # aliased fields in the operation, fragments spread
//! max_root_fields = 32    # fields of the root selection, fragments spread
//! max_directives = 10     # directives on one field or fragment
//! max_fields = 10000      # fields of the operation once fragments are spread
//! max_errors = 100        # errors in one response; the rest are summed up in one
//! max_calls = 1000        # backend calls one operation may make
//! ```

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[limits]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Lexical tokens a document may have.
    pub max_tokens: usize,
    /// How deeply brackets may nest in a document.
    pub max_recursion: usize,
    /// How deeply fields may nest in an operation.
    pub max_depth: usize,
    /// How many aliased fields an operation may have.
    pub max_aliases: usize,
    /// How many fields the root selection may have.
    pub max_root_fields: usize,
    /// How many directives one field or fragment may carry.
    pub max_directives: usize,
    /// How many fields an operation may select once its fragments are
    /// spread (each spread counted each time).
    pub max_fields: usize,
    /// How many errors one response lists; the last of them says how many
    /// more were left out.
    pub max_errors: usize,
    /// How many backend calls one operation may make: a round of calls
    /// that would go past it is not sent, and its fields fail with
    /// `MAX_CALLS_LIMIT`.
    pub max_calls: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_tokens: 15_000,
            max_recursion: 128,
            max_depth: 24,
            max_aliases: 50,
            max_root_fields: 32,
            max_directives: 10,
            max_fields: 10_000,
            max_errors: 100,
            max_calls: 1000,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names)] // the names are the config keys
pub(super) struct RawLimits {
    max_tokens: Option<toml::Spanned<usize>>,
    max_recursion: Option<toml::Spanned<usize>>,
    max_depth: Option<toml::Spanned<usize>>,
    max_aliases: Option<toml::Spanned<usize>>,
    max_root_fields: Option<toml::Spanned<usize>>,
    max_directives: Option<toml::Spanned<usize>>,
    max_fields: Option<toml::Spanned<usize>>,
    max_errors: Option<toml::Spanned<usize>>,
    max_calls: Option<toml::Spanned<usize>>,
}

pub(super) fn validate(
    raw: RawLimits,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> LimitsConfig {
    let default = LimitsConfig::default();
    let mut positive = |name: &str, value: Option<toml::Spanned<usize>>, default: usize| {
        origin.at_least_one(name, value, default, problems)
    };
    LimitsConfig {
        max_tokens: positive("max_tokens", raw.max_tokens, default.max_tokens),
        max_recursion: positive("max_recursion", raw.max_recursion, default.max_recursion),
        max_depth: positive("max_depth", raw.max_depth, default.max_depth),
        max_aliases: positive("max_aliases", raw.max_aliases, default.max_aliases),
        max_root_fields: positive(
            "max_root_fields",
            raw.max_root_fields,
            default.max_root_fields,
        ),
        max_directives: positive("max_directives", raw.max_directives, default.max_directives),
        max_fields: positive("max_fields", raw.max_fields, default.max_fields),
        max_errors: positive("max_errors", raw.max_errors, default.max_errors),
        max_calls: positive("max_calls", raw.max_calls, default.max_calls),
    }
}
