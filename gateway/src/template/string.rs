//! Text templates with `{$args.x}` / `{$this.x}` placeholders, and URL
//! templates built from them whose substituted values are percent-encoded.

use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Resolve, Var, Vars, parse_var};

/// Everything but RFC 3986 unreserved characters is encoded, so a value can
/// never add a `/`, `?`, `#` or `&` of its own.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Var),
}

/// Text with placeholders, e.g. `Bearer {$args.token}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringTemplate {
    parts: Vec<Part>,
}

impl StringTemplate {
    /// The text, when the template has no placeholder.
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [] => Some(""),
            [Part::Text(text)] => Some(text),
            _ => None,
        }
    }

    /// The text with every placeholder written as `stand_in`.
    pub fn with_stand_in(&self, stand_in: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Var(_) => stand_in,
            })
            .collect()
    }

    /// Parses `text`; `{` opens a placeholder holding one variable.
    pub fn parse(text: &str, resolve: &Resolve<'_>) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_owned()));
            }
            let inner = &rest[open + 1..];
            let close = inner
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in template `{text}`"))?;
            let expr = inner[..close].trim();
            if !expr.starts_with('$') {
                return Err(format!(
                    "`{{{expr}}}` in template `{text}` must hold a variable such as `{{$args.id}}`"
                ));
            }
            let (var, len) = parse_var(expr, resolve)?;
            if len != expr.len() {
                return Err(format!(
                    "unexpected `{}` after `{}`",
                    &expr[len..],
                    &expr[..len]
                ));
            }
            parts.push(Part::Var(var));
            rest = &inner[close + 1..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// The one variable this template consists of, if that is all it is.
    fn sole_var(&self) -> Option<&Var> {
        match self.parts.as_slice() {
            [Part::Var(var)] => Some(var),
            _ => None,
        }
    }

    /// Renders the template with every substituted value passed through
    /// `encode`. A placeholder without a value is an error naming it.
    pub fn render(&self, vars: &Vars<'_>, encode: fn(&str) -> String) -> Result<String, String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Var(var) => {
                    let value = vars.get(var).ok_or_else(|| missing(var))?;
                    out.push_str(&plain_text(&value, encode));
                }
            }
        }
        Ok(out)
    }

    /// Renders the template without encoding (header values).
    pub fn render_raw(&self, vars: &Vars<'_>) -> Result<String, String> {
        self.render(vars, str::to_owned)
    }
}

fn missing(var: &Var) -> String {
    let mut name = var.root.name().to_owned();
    for key in var.path.iter() {
        let _ = write!(name, ".{key}");
    }
    format!("`{name}` has no value")
}

/// A JSON value as text: strings as they are, lists comma-separated (so
/// `ids={$args.ids}` becomes `ids=1,2,3`), objects as compact JSON.
fn plain_text(value: &Value, encode: fn(&str) -> String) -> String {
    match value {
        Value::String(text) => encode(text),
        Value::Array(items) => items
            .iter()
            .map(|item| plain_text(item, encode))
            .collect::<Vec<_>>()
            .join(","),
        other => encode(&other.to_string()),
    }
}

/// Percent-encodes a value for a path segment or a query value. Dots stay
/// dots; a path that renders to a `.` or `..` segment is refused by
/// [`UrlTemplate::render`], because URL parsers resolve those even when
/// percent-encoded.
fn encode_component(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// A request target such as `/orders?userId={$this.id}&status={$args.status}`.
///
/// Values substituted into the path are encoded as single path segments.
/// A query parameter whose whole value is one placeholder without a value is
/// left out, so optional arguments become optional parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate {
    path: StringTemplate,
    query: Vec<(String, StringTemplate)>,
}

impl UrlTemplate {
    /// Parses a path with an optional query string.
    pub fn parse(text: &str, resolve: &Resolve<'_>) -> Result<Self, String> {
        if !text.starts_with('/') {
            return Err(format!("path `{text}` must start with `/`"));
        }
        let (path, query) = text.split_once('?').unwrap_or((text, ""));
        let path = StringTemplate::parse(path, resolve)?;
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                Ok((name.to_owned(), StringTemplate::parse(value, resolve)?))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { path, query })
    }

    /// Renders the path and query string, encoded and ready to append to a
    /// base URL.
    pub fn render(&self, vars: &Vars<'_>) -> Result<String, String> {
        let mut target = self.path.render(vars, encode_component)?;
        if target
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        {
            return Err("a path value may not be `.` or `..`".to_owned());
        }
        let mut separator = '?';
        for (name, value) in &self.query {
            if value.sole_var().is_some_and(|var| vars.get(var).is_none()) {
                continue;
            }
            target.push(separator);
            target.push_str(name);
            target.push('=');
            target.push_str(&value.render(vars, encode_component)?);
            separator = '&';
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Caller;
    use crate::template::tests::accept_all;

    fn render(template: &str, args: &Value) -> Result<String, String> {
        let vars = Vars {
            args,
            this: None,
            batch: None,
            caller: Caller::default(),
        };
        UrlTemplate::parse(template, &accept_all)?.render(&vars)
    }

    #[test]
    fn path_values_are_encoded_as_one_segment() {
        let args = json!({"id": "a/b?c#d e"});
        assert_eq!(
            render("/users/{$args.id}", &args).unwrap(),
            "/users/a%2Fb%3Fc%23d%20e"
        );
    }

    #[test]
    fn dot_segments_cannot_climb_out_of_the_path() {
        for id in ["..", "."] {
            let error = render("/users/{$args.id}/detail", &json!({ "id": id })).unwrap_err();
            assert_eq!(error, "a path value may not be `.` or `..`");
        }
        let error = render("/users/{$args.a}{$args.b}", &json!({"a": ".", "b": "."})).unwrap_err();
        assert_eq!(error, "a path value may not be `.` or `..`");
        assert_eq!(
            render("/users/{$args.id}", &json!({"id": "..."})).unwrap(),
            "/users/..."
        );
    }

    #[test]
    fn lists_become_comma_separated_and_missing_optional_parameters_are_dropped() {
        let args = json!({"ids": [1, "2&x=y"], "status": null});
        assert_eq!(
            render("/orders?ids={$args.ids}&status={$args.status}&v=1", &args).unwrap(),
            "/orders?ids=1,2%26x%3Dy&v=1"
        );
    }

    #[test]
    fn a_missing_path_value_is_an_error() {
        let error = render("/users/{$args.id}", &json!({})).unwrap_err();
        assert_eq!(error, "`$args.id` has no value");
    }

    #[test]
    fn this_reads_from_the_parent() {
        let template = UrlTemplate::parse("/orders?userId={$this.id}", &accept_all).unwrap();
        let parent = crate::json::Doc::from_plain(&json!({"id": 7}));
        let vars = Vars {
            args: &Value::Null,
            this: Some(parent.root()),
            batch: None,
            caller: Caller::default(),
        };
        assert_eq!(template.render(&vars).unwrap(), "/orders?userId=7");
    }

    #[test]
    fn malformed_templates_are_rejected() {
        assert!(
            UrlTemplate::parse("users", &accept_all)
                .unwrap_err()
                .contains("must start with `/`")
        );
        assert!(
            UrlTemplate::parse("/u/{$args.id", &accept_all)
                .unwrap_err()
                .contains("unclosed")
        );
        assert!(
            UrlTemplate::parse("/u/{id}", &accept_all)
                .unwrap_err()
                .contains("must hold a variable")
        );
    }

    #[test]
    fn header_values_render_unencoded() {
        let template = StringTemplate::parse("Bearer {$args.token}", &accept_all).unwrap();
        let args = json!({"token": "a b/c"});
        let vars = Vars {
            args: &args,
            this: None,
            batch: None,
            caller: Caller::default(),
        };
        assert_eq!(template.render_raw(&vars).unwrap(), "Bearer a b/c");
    }
}
