//! `[schema]`: the GraphQL SDL files that declare the API and its directives.

use std::path::PathBuf;

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[schema]` section.
#[derive(Debug, Clone)]
pub struct SchemaConfig {
    /// The SDL files, in the order given; types may be extended across them.
    pub files: Vec<SchemaFile>,
}

/// One schema file named by the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaFile {
    /// The file, resolved against the config file's directory.
    pub path: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchema {
    files: Vec<String>,
}

pub(super) fn validate(
    raw: toml::Spanned<RawSchema>,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> SchemaConfig {
    let span = raw.span();
    let raw = raw.into_inner();
    if raw.files.is_empty() {
        problems.push(origin.error(span, "`[schema] files` names no file"));
    }
    SchemaConfig {
        files: raw
            .files
            .iter()
            .map(|file| SchemaFile {
                path: origin.resolve_path(file),
            })
            .collect(),
    }
}
