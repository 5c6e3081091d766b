//! Templates that turn a field's arguments and parent object into a backend
//! request: URL paths and query strings, header values, JSON bodies and gRPC
//! request messages.
//!
//! Templates are parsed and checked once, at start-up, from directive
//! arguments; rendering at request time only reads JSON. Two forms exist:
//!
//! - [`StringTemplate`] / [`UrlTemplate`]: text with `{$args.id}` or
//!   `{$this.userId}` placeholders (`/users/{$args.id}?expand={$args.expand}`).
//! - [`ValueTemplate`]: a JSON-like value with bare variables
//!   (`{ sku: $args.sku, page: { size: 20 } }` or just `$args.input`).
//!
//! A variable is `$args` (the field's arguments), `$this` (the parent
//! object) or `$batch` (the keys of a batched call, one list per key field)
//! followed by a dotted path. Whoever parses a template passes a
//! [`Resolve`] callback that checks each variable against the schema and may
//! rewrite its path (a `$this` field renamed with `@map` reads another key).

mod string;
mod value;

pub use string::{StringTemplate, UrlTemplate};
pub use value::ValueTemplate;

use std::borrow::Cow;

use serde_json::Value;

use crate::json::{Json, KeyPath, to_plain};

/// Where a variable reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Root {
    /// `$args`: the field's arguments, as a JSON object.
    Args,
    /// `$this`: the parent object's backend JSON.
    This,
    /// `$batch`: the keys of a batched call, a list per key field.
    Batch,
    /// `$request.headers.<name>`: a header of the client's request (of the
    /// WebSocket upgrade, on a WebSocket).
    Request,
    /// `$connection.<key>`: the WebSocket `connection_init` payload.
    Connection,
    /// `$jwt.<claim>`: a claim of the caller's verified token.
    Jwt,
}

impl Root {
    /// The variable's name as written in templates.
    pub fn name(self) -> &'static str {
        match self {
            Self::Args => "$args",
            Self::This => "$this",
            Self::Batch => "$batch",
            Self::Request => "$request",
            Self::Connection => "$connection",
            Self::Jwt => "$jwt",
        }
    }
}

/// A variable reference such as `$args.input.name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// Where the value is read from.
    pub root: Root,
    /// The JSON keys to follow from the root.
    pub path: KeyPath,
}

/// Checks a variable against the schema while a template is parsed; returns
/// the JSON path to read at request time, or an error message.
pub type Resolve<'a> = dyn Fn(Root, &[String]) -> Result<Vec<String>, String> + 'a;

/// The values a template reads from while one field resolves.
#[derive(Debug, Clone, Copy)]
pub struct Vars<'a> {
    /// The field's arguments (an object; `null` when it has none).
    pub args: &'a Value,
    /// The parent object's backend JSON, absent on root fields.
    pub this: Option<Json<'a>>,
    /// The keys of a batched call: `{ "<key field>": [values…] }`.
    pub batch: Option<&'a Value>,
    /// What the request as a whole holds.
    pub caller: Caller<'a>,
}

/// What a template may read of the request as a whole; empty where there
/// is no request (a bus event's topic, say).
#[derive(Debug, Clone, Copy, Default)]
pub struct Caller<'a> {
    /// The client's request headers (of the WebSocket upgrade, on a
    /// WebSocket); sources forward those their `forward_headers` list.
    pub headers: Option<&'a http::HeaderMap>,
    /// The WebSocket `connection_init` payload.
    pub connection: Option<&'a Value>,
    /// The claims of the caller's verified token.
    pub claims: Option<&'a Value>,
    /// The operation's coerced variables, which subgraph documents pass on.
    pub variables: Option<&'a serde_json::Map<String, Value>>,
}

impl<'a> Vars<'a> {
    /// The variables of a field: its arguments and, below the root, its
    /// parent object.
    pub fn field(args: &'a Value, this: Option<Json<'a>>) -> Self {
        Self {
            args,
            this,
            batch: None,
            caller: Caller::default(),
        }
    }

    /// The same variables, with what the request as a whole holds.
    #[must_use]
    pub fn with_caller(mut self, caller: Caller<'a>) -> Self {
        self.caller = caller;
        self
    }

    /// The value a variable names; `None` when a key on its path is missing
    /// or the value is `null`. Values read from the parent are copied out of
    /// the backend JSON.
    pub fn get(&self, var: &Var) -> Option<Cow<'a, Value>> {
        let root = match var.root {
            Root::Args => self.args,
            Root::This => {
                return var
                    .path
                    .find(self.this?)
                    .map(|json| Cow::Owned(to_plain(json)));
            }
            Root::Batch => self.batch?,
            Root::Request => {
                let header = self.caller.headers?.get(var.path.last()?.as_str())?;
                let text = header.to_str().ok()?;
                return Some(Cow::Owned(Value::String(text.to_owned())));
            }
            Root::Connection => self.caller.connection?,
            Root::Jwt => self.caller.claims?,
        };
        lookup(root, &var.path).map(Cow::Borrowed)
    }
}

/// Follows a path of object keys; `None` when a key is missing or the value
/// found is `null`.
pub fn lookup<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |current, key| current.get(key))
        .filter(|found| !found.is_null())
}

/// Parses the variable starting at `$` in `text`; returns it and the number of
/// bytes it spans.
fn parse_var(text: &str, resolve: &Resolve<'_>) -> Result<(Var, usize), String> {
    // Header names have dashes: only `$request` variables take them.
    let dashes = text.starts_with("$request.");
    let end = text[1..]
        .find(|c: char| {
            !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || (dashes && c == '-'))
        })
        .map_or(text.len(), |i| i + 1);
    let mut segments = text[1..end].split('.');
    let root = match segments.next() {
        Some("args") => Root::Args,
        Some("this") => Root::This,
        Some("batch") => Root::Batch,
        Some("request") => Root::Request,
        Some("connection") => Root::Connection,
        Some("jwt") => Root::Jwt,
        _ => {
            return Err(format!(
                "unknown variable `{}`: use `$args.<argument>`, `$this.<field>`, `$batch.<key>`, `$request.headers.<name>`, `$connection.<key>` or `$jwt.<claim>`",
                &text[..end]
            ));
        }
    };
    let path: Vec<String> = segments.map(str::to_owned).collect();
    if path.iter().any(String::is_empty) {
        return Err(format!("malformed variable `{}`", &text[..end]));
    }
    let path = resolve(root, &path)?;
    Ok((
        Var {
            root,
            path: path.into(),
        },
        end,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A resolver that accepts every variable unchanged.
    #[allow(clippy::unnecessary_wraps)]
    pub(crate) fn accept_all(_: Root, path: &[String]) -> Result<Vec<String>, String> {
        Ok(path.to_vec())
    }

    #[test]
    fn lookup_follows_keys_and_treats_null_as_missing() {
        let value = serde_json::json!({"a": {"b": 1, "n": null}});
        assert_eq!(
            lookup(&value, &["a".into(), "b".into()]),
            Some(&serde_json::json!(1))
        );
        assert_eq!(lookup(&value, &["a".into(), "n".into()]), None);
        assert_eq!(lookup(&value, &["x".into()]), None);
    }

    #[test]
    fn variables_must_name_a_known_root() {
        let error = parse_var("$argz.id", &accept_all).unwrap_err();
        assert!(error.contains("unknown variable `$argz.id`"), "{error}");
        let (var, len) = parse_var("$this.user_id}", &accept_all).unwrap();
        assert_eq!(var.root, Root::This);
        assert_eq!(*var.path, ["user_id"]);
        assert_eq!(len, "$this.user_id".len());
    }

    #[test]
    fn request_variables_take_header_names_with_dashes() {
        let (var, len) = parse_var("$request.headers.x-tenant}", &accept_all).unwrap();
        assert_eq!(var.root, Root::Request);
        assert_eq!(*var.path, ["headers", "x-tenant"]);
        assert_eq!(len, "$request.headers.x-tenant".len());
        let (var, len) = parse_var("$args.a-b", &accept_all).unwrap();
        assert_eq!((&*var.path, len), (&["a".to_owned()][..], "$args.a".len()));
    }

    #[test]
    fn request_wide_variables_read_headers_the_connection_and_claims() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-tenant", http::HeaderValue::from_static("t-1"));
        let (connection, claims) = (
            serde_json::json!({"session": "s"}),
            serde_json::json!({"sub": "u"}),
        );
        let caller = Caller {
            headers: Some(&headers),
            connection: Some(&connection),
            claims: Some(&claims),
            variables: None,
        };
        let vars = Vars::field(&Value::Null, None).with_caller(caller);
        let value = |root, path: &[&str]| {
            let path = path.iter().map(|&part| part.to_owned()).collect::<Vec<_>>();
            let path = path.into();
            vars.get(&Var { root, path }).map(Cow::into_owned)
        };
        assert_eq!(
            value(Root::Request, &["x-tenant"]),
            Some(Value::from("t-1"))
        );
        assert_eq!(
            value(Root::Connection, &["session"]),
            Some(Value::from("s"))
        );
        assert_eq!(value(Root::Jwt, &["sub"]), Some(Value::from("u")));
        assert_eq!(value(Root::Jwt, &["missing"]), None);
        let anonymous = Vars::field(&Value::Null, None);
        let var = Var {
            root: Root::Jwt,
            path: vec!["sub".to_owned()].into(),
        };
        assert_eq!(anonymous.get(&var), None);
    }
}
