//! `[log]`: how weft writes its log (to standard error).
//!
//! ```toml
//! [log]
//! format = "text"     # or "json": one JSON object per line
//! requests = true     # one line per GraphQL request over HTTP
//! ```
//!
//! `WEFT_LOG_FORMAT` overrides `format`; `WEFT_LOG` sets the filter
//! (default `weft=info`). Text has colours only on a terminal.

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The validated `[log]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// How lines are written.
    pub format: LogFormat,
    /// Whether every GraphQL request over HTTP gets a line: method,
    /// operation name, status, duration, backend calls, errors.
    pub requests: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            requests: true,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable text.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The format named `name` (`text` or `json`).
    pub fn named(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    format: Option<toml::Spanned<String>>,
    requests: Option<bool>,
}

pub(super) fn validate(raw: RawLog, origin: &Origin<'_>, problems: &mut Diagnostics) -> LogConfig {
    let default = LogConfig::default();
    let format = raw.format.map_or(default.format, |format| {
        LogFormat::named(format.get_ref()).unwrap_or_else(|| {
            problems.push(origin.error(
                format.span(),
                format!(
                    "`format = \"{}\"`: the log format is \"text\" or \"json\"",
                    format.get_ref()
                ),
            ));
            default.format
        })
    });
    LogConfig {
        format,
        requests: raw.requests.unwrap_or(default.requests),
    }
}
