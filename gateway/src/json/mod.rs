//! Backend JSON. Every answer is parsed once into a [`Doc`]: its text and a
//! flat list of nodes, one per value, each with its span in the text. The
//! executor reads it through [`Json`] handles (a document and a node, copied
//! freely), and the writer copies strings and numbers to the response as
//! the backend wrote them, without decoding and encoding them again.
//! Requests and events stay `serde_json` values; the two meet only where a
//! template reads the parent object or a bus event becomes a subscription's
//! root value.

mod append;
mod build;
mod parse;

use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;

pub use append::{Snippet, append_prefix, append_within};
pub use build::{DocBuilder, Mark, MemberKey};
use parse::{Kind, Node};

/// The smallest body [`Doc::parse_body`] keeps without a copy.
const KEPT_BODY_MIN: usize = 64 << 10;

/// A parsed JSON document, shared (in an `Arc`) by every field that reads
/// from it. Its text is kept as it came (a backend's body is not copied),
/// and is valid UTF-8: [`parse`](parse::parse) checks that as it reads
/// the strings.
pub struct Doc {
    text: Bytes,
    nodes: Vec<Node>,
}

impl Doc {
    /// Parses one JSON value; the error says what is wrong and where.
    pub fn parse(text: impl Into<Bytes>) -> Result<Self, String> {
        let text = text.into();
        let nodes = parse::parse(&text)?;
        Ok(Self { text, nodes })
    }

    /// Parses a body read from a connection. A large body is kept as it
    /// came, without a copy; a small one is copied out of the buffer it
    /// was read into, which it would otherwise keep whole (often hundreds
    /// of kilobytes) for as long as the document lives.
    pub fn parse_body(body: Bytes) -> Result<Self, String> {
        let text = if body.len() < KEPT_BODY_MIN {
            Bytes::copy_from_slice(&body)
        } else {
            body
        };
        Self::parse(text)
    }

    /// The document `null`.
    pub fn null() -> Self {
        Self::known(b"null")
    }

    /// The document `{}`.
    pub fn empty_object() -> Self {
        Self::known(b"{}")
    }

    /// The document `true`.
    pub fn truth() -> Self {
        Self::known(b"true")
    }

    fn known(text: &'static [u8]) -> Self {
        Self::parse(text).unwrap_or_else(|_| Self {
            text: Bytes::new(),
            nodes: Vec::new(),
        })
    }

    /// A `serde_json` value as a document.
    pub fn from_plain(value: &serde_json::Value) -> Self {
        serde_json::to_vec(value)
            .ok()
            .and_then(|text| Self::parse(text).ok())
            .unwrap_or_else(Self::null)
    }

    /// How many values the document holds: every [`Json::index`] in it
    /// is below this.
    pub fn values(&self) -> usize {
        self.nodes.len()
    }

    /// The document's value.
    #[inline]
    pub fn root(&self) -> Json<'_> {
        Json { doc: self, at: 0 }
    }

    /// The value at `index` (from [`Json::index`]).
    #[inline]
    pub fn at(&self, index: u32) -> Json<'_> {
        Json {
            doc: self,
            at: index,
        }
    }
}

#[cfg(test)]
impl Doc {
    /// Whether two documents have the same text and the same nodes: a
    /// document written value by value must be the one its text parses to.
    pub(crate) fn same_as(&self, other: &Doc) -> bool {
        self.text == other.text && self.nodes == other.nodes
    }
}

impl fmt::Debug for Doc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.root().fmt(f)
    }
}

/// One value inside a [`Doc`].
#[derive(Clone, Copy)]
pub struct Json<'a> {
    doc: &'a Doc,
    at: u32,
}

impl<'a> Json<'a> {
    #[inline]
    fn node(self) -> Option<Node> {
        self.doc.nodes.get(self.at as usize).copied()
    }

    #[inline]
    fn kind(self) -> Kind {
        self.node().map_or(Kind::Null, Node::kind)
    }

    /// Where the value is in its document.
    #[inline]
    pub fn index(self) -> u32 {
        self.at
    }

    /// The value's identity while its document lives: the document's
    /// address and the value's place in it.
    #[inline]
    pub fn identity(self) -> (usize, u32) {
        (std::ptr::from_ref(self.doc).addr(), self.at)
    }

    /// Whether the value is `null`.
    #[inline]
    pub fn is_null(self) -> bool {
        self.kind() == Kind::Null
    }

    /// Whether the value is an object.
    #[inline]
    pub fn is_object(self) -> bool {
        self.kind() == Kind::Object
    }

    /// Whether the value is a list.
    #[inline]
    pub fn is_array(self) -> bool {
        self.kind() == Kind::Array
    }

    /// Whether the value is a string.
    #[inline]
    pub fn is_string(self) -> bool {
        matches!(self.kind(), Kind::Str | Kind::EscapedStr)
    }

    /// Whether the value is a number.
    #[inline]
    pub fn is_number(self) -> bool {
        self.kind() == Kind::Number
    }

    /// The value as a boolean.
    #[inline]
    pub fn as_bool(self) -> Option<bool> {
        match self.kind() {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }

    /// The value as a string, unescaped.
    #[inline]
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        match self.kind() {
            Kind::Str => Some(Cow::Borrowed(self.span())),
            Kind::EscapedStr => serde_json::from_str(self.raw()).ok().map(Cow::Owned),
            _ => None,
        }
    }

    /// A string's JSON text between its quotes (escapes kept).
    #[inline]
    fn span(self) -> &'a str {
        checked_text(self.span_bytes())
    }

    /// [`Json::span`] as bytes, read without a check of its characters.
    #[inline]
    fn span_bytes(self) -> &'a [u8] {
        self.node().map_or(b"", |node| {
            let range = node.start as usize..node.end() as usize;
            self.doc.text.get(range).unwrap_or_default()
        })
    }

    /// The value as an integer, when it is one that fits.
    pub fn as_i64(self) -> Option<i64> {
        (self.kind() == Kind::Number)
            .then(|| self.raw().parse().ok())
            .flatten()
    }

    /// The value as a float, when it is a number.
    pub fn as_f64(self) -> Option<f64> {
        (self.kind() == Kind::Number)
            .then(|| self.raw().parse().ok())
            .flatten()
    }

    /// The value as a document of its own.
    pub fn to_doc(self) -> Doc {
        Doc::parse(Bytes::copy_from_slice(self.raw_bytes())).unwrap_or_else(|_| Doc::null())
    }

    /// The value's JSON text as the backend wrote it.
    #[inline]
    pub fn raw(self) -> &'a str {
        checked_text(self.raw_bytes())
    }

    /// [`Json::raw`] as bytes: what the writer copies, without the check
    /// of its characters that reading it as a `str` takes.
    #[inline]
    pub fn raw_bytes(self) -> &'a [u8] {
        self.node().map_or(b"null", |node| {
            self.doc.text.get(self.raw_range(node)).unwrap_or_default()
        })
    }

    /// The text of a string (quotes and escapes kept) or of a number as
    /// the backend wrote it, and whether it is a number; `None` for any
    /// other value. The writer's most common read, decoded once. The
    /// text is given with the rest of the document after it, and its
    /// length: appended with [`append_prefix`].
    #[inline]
    pub fn scalar_text(self) -> Option<(&'a [u8], usize, bool)> {
        let node = self.node()?;
        let number = match node.kind() {
            Kind::Str | Kind::EscapedStr => false,
            Kind::Number => true,
            _ => return None,
        };
        let range = self.raw_range(node);
        let text = self.doc.text.get(range.start..)?;
        Some((text, range.len(), number))
    }

    #[inline]
    fn raw_range(self, node: Node) -> std::ops::Range<usize> {
        let start = node.start as usize;
        match node.kind() {
            Kind::Str | Kind::EscapedStr => start - 1..node.end() as usize + 1,
            Kind::Array | Kind::Object => start..parse::container_end(&self.doc.text, start),
            _ => start..node.end() as usize,
        }
    }

    /// The member `key` of an object.
    #[inline]
    pub fn get(self, key: &str) -> Option<Json<'a>> {
        self.entries()?
            .find(|(name, _)| name.is(key))
            .map(|(_, value)| value)
    }

    /// The member `key` of an object, looked for first as the member at
    /// place `hint` (which it then updates to where `key` was).
    #[inline]
    fn get_near(self, key: &Key, hint: &AtomicU32) -> Option<Json<'a>> {
        let nodes = self.doc.nodes.as_slice();
        let object = nodes
            .get(self.at as usize)
            .filter(|node| node.is_object())?;
        let end = object.next(self.at);
        // Members are a key node and the value's nodes: stepping over a
        // member reads only its value's node.
        let mut at = self.at + 1;
        for _ in 0..hint.load(Ordering::Relaxed) {
            match nodes.get(at as usize + 1) {
                Some(value) if at < end => at = value.next(at + 1),
                _ => break,
            }
        }
        if at < end && self.doc.at(at).is_short_key(key) {
            return Some(self.doc.at(at + 1));
        }
        self.find_member(key, hint)
    }

    /// [`Json::get_near`] when the member is not at its place, or not one
    /// it compares there: looked for among all, out of line so that the
    /// usual case stays small.
    #[inline(never)]
    fn find_member(self, key: &Key, hint: &AtomicU32) -> Option<Json<'a>> {
        let key = key.text.as_str();
        let (place, (_, value)) = self
            .entries()?
            .enumerate()
            .find(|(_, (name, _))| name.is(key))?;
        hint.store(u32::try_from(place).unwrap_or(0), Ordering::Relaxed);
        Some(value)
    }

    /// The items of a list.
    #[inline]
    pub fn items(self) -> Option<Items<'a>> {
        let node = self.node().filter(|node| node.kind() == Kind::Array)?;
        Some(Items {
            doc: self.doc,
            at: self.at + 1,
            end: node.next(self.at),
        })
    }

    /// The members of an object.
    #[inline]
    pub fn entries(self) -> Option<Entries<'a>> {
        let node = self.node().filter(|node| node.kind() == Kind::Object)?;
        Some(Entries {
            doc: self.doc,
            at: self.at + 1,
            end: node.next(self.at),
        })
    }

    /// Whether this is the plain string `key` of at most 16 bytes, compared
    /// as one number without a call: `false` for anything else (a longer
    /// or escaped key, or one too near the end of the text to be read so),
    /// which [`Json::find_member`] then looks for among all members.
    #[inline]
    fn is_short_key(self, key: &Key) -> bool {
        let (Some(node), Some((word, mask))) = (self.node(), key.word) else {
            return false;
        };
        let window = self
            .doc
            .text
            .get(node.start as usize..)
            .and_then(<[u8]>::first_chunk::<16>);
        node.is_plain_of_length(key.length)
            && window.is_some_and(|window| u128::from_le_bytes(*window) & mask == word)
    }

    /// Whether this is the string `text`.
    #[inline]
    fn is(self, text: &str) -> bool {
        let Some(node) = self.node() else {
            return false;
        };
        match node.kind() {
            // Keys differ mostly in length or first byte: those are
            // compared before the bytes.
            Kind::Str => {
                let (start, end) = (node.start as usize, node.end() as usize);
                end - start == text.len() && self.doc.text.get(start..end) == Some(text.as_bytes())
            }
            _ => self.as_str().is_some_and(|own| own == text),
        }
    }
}

impl fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw())
    }
}

/// The items of a list, in order.
#[derive(Clone)]
pub struct Items<'a> {
    doc: &'a Doc,
    /// The next item's node.
    at: u32,
    /// The node after the list.
    end: u32,
}

impl<'a> Iterator for Items<'a> {
    type Item = Json<'a>;

    #[inline]
    fn next(&mut self) -> Option<Json<'a>> {
        if self.at >= self.end {
            return None;
        }
        let item = self.doc.at(self.at);
        self.at = item.node()?.next(self.at);
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let nodes = self.end.saturating_sub(self.at) as usize;
        (usize::from(nodes > 0), Some(nodes))
    }
}

/// The members of an object: each key (a string value) and its value.
pub struct Entries<'a> {
    doc: &'a Doc,
    /// The next member's key node.
    at: u32,
    /// The node after the object.
    end: u32,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (Json<'a>, Json<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.end {
            return None;
        }
        let key = self.doc.at(self.at);
        let value = self.doc.at(self.at + 1);
        self.at = value.node()?.next(self.at + 1);
        Some((key, value))
    }
}

/// Follows a path of object keys; `None` when a key is missing or the value
/// found is `null`.
pub fn find<'a>(value: Json<'a>, path: &[String]) -> Option<Json<'a>> {
    path.iter()
        .try_fold(value, |current, key| current.get(key))
        .filter(|found| !found.is_null())
}

/// A path of object keys that remembers where each key was found last:
/// backend objects of one kind list their members in one order, so a
/// lookup mostly compares one key per step.
#[derive(Default)]
pub struct KeyPath {
    keys: Vec<String>,
    steps: Box<[Step]>,
}

/// A key of a [`KeyPath`] and where it was found last.
struct Step {
    key: Key,
    hint: AtomicU32,
}

/// A key of a [`KeyPath`], ready to compare.
struct Key {
    text: String,
    /// The text's length, as a node states it.
    length: u32,
    /// For a key of at most 16 bytes: its bytes as a little-endian
    /// number, and the mask that keeps that many bytes of one.
    word: Option<(u128, u128)>,
}

impl Key {
    fn new(text: &str) -> Self {
        let word = (text.len() <= 16).then(|| {
            let mut bytes = [0_u8; 16];
            bytes[..text.len()].copy_from_slice(text.as_bytes());
            let unused_bits = u32::try_from(128 - 8 * text.len()).unwrap_or(128);
            let mask = u128::MAX.checked_shr(unused_bits).unwrap_or(0);
            (u128::from_le_bytes(bytes), mask)
        });
        Self {
            text: text.to_owned(),
            length: u32::try_from(text.len()).unwrap_or(u32::MAX),
            word,
        }
    }
}

impl KeyPath {
    /// Follows the path from `value`, as [`find`] does.
    #[inline]
    pub fn find<'a>(&self, value: Json<'a>) -> Option<Json<'a>> {
        // Most paths are one key: found without a loop over steps.
        let found = match &*self.steps {
            [step] => value.get_near(&step.key, &step.hint),
            steps => Self::follow(steps, value),
        };
        found.filter(|found| !found.is_null())
    }

    #[inline(never)]
    fn follow<'a>(steps: &[Step], value: Json<'a>) -> Option<Json<'a>> {
        steps.iter().try_fold(value, |current, step| {
            current.get_near(&step.key, &step.hint)
        })
    }
}

impl From<Vec<String>> for KeyPath {
    fn from(keys: Vec<String>) -> Self {
        let steps = keys
            .iter()
            .map(|key| Step {
                key: Key::new(key),
                hint: AtomicU32::new(0),
            })
            .collect();
        Self { keys, steps }
    }
}

impl Clone for KeyPath {
    fn clone(&self) -> Self {
        Self::from(self.keys.clone())
    }
}

impl PartialEq for KeyPath {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
    }
}

impl Eq for KeyPath {}

impl std::ops::Deref for KeyPath {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.keys
    }
}

impl fmt::Debug for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.keys.fmt(f)
    }
}

/// Writes `text` as a JSON string, escaped as `serde_json` escapes it:
/// most texts need no escape and are copied between quotes.
pub fn write_string(text: &str, out: &mut Vec<u8>) {
    if parse::is_plain(text.as_bytes()) {
        out.reserve(text.len() + 2);
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else if serde_json::to_writer(&mut *out, text).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// A backend value as a `serde_json` value (for templates and events).
pub fn to_plain(json: Json<'_>) -> serde_json::Value {
    // Most keys are plain strings: copied, not parsed.
    if json.kind() == Kind::Str {
        return serde_json::Value::String(json.span().to_owned());
    }
    serde_json::from_str(json.raw()).unwrap_or(serde_json::Value::Null)
}

/// A value's bytes as text. They hold whole characters of a text the
/// parser found valid, so the check does not fail.
#[inline]
fn checked_text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// A key as text, so that `7` and `"7"` match: backends often disagree on
/// whether an id is a number or a string.
#[allow(clippy::inline_always)]
#[inline(always)]
pub fn key_text(json: Json<'_>) -> Cow<'_, [u8]> {
    match json.kind() {
        Kind::Str => Cow::Borrowed(json.span_bytes()),
        Kind::EscapedStr => unescaped(json),
        _ => Cow::Borrowed(json.raw_bytes()),
    }
}

/// A string with escapes, unescaped: rare in keys, so kept out of
/// [`key_text`], which is inlined where keys are read.
#[cold]
#[inline(never)]
fn unescaped(json: Json<'_>) -> Cow<'_, [u8]> {
    Cow::Owned(json.as_str().unwrap_or_default().into_owned().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Doc {
        Doc::parse(text.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn find_follows_keys_and_treats_null_as_missing() {
        let value = doc(r#"{"a": {"b": 1, "n": null}}"#);
        let path = |keys: &[&str]| keys.iter().map(|&key| key.to_owned()).collect::<Vec<_>>();
        assert_eq!(
            find(value.root(), &path(&["a", "b"])).and_then(Json::as_i64),
            Some(1)
        );
        assert!(find(value.root(), &path(&["a", "n"])).is_none());
        assert!(find(value.root(), &path(&["x"])).is_none());
    }

    #[test]
    fn values_read_as_the_backend_wrote_them() {
        let value =
            doc(r#"{"s": "a\"\u00e9", "n": -1.5e2, "i": 42, "l": [1, [2], {}], "t": true}"#);
        let root = value.root();
        let get = |key| root.get(key).unwrap();
        assert_eq!(get("s").as_str().unwrap(), "a\"é");
        assert_eq!(get("s").raw(), r#""a\"\u00e9""#);
        assert_eq!(get("n").as_f64(), Some(-150.0));
        assert_eq!(get("n").as_i64(), None);
        assert_eq!(get("i").as_i64(), Some(42));
        assert_eq!(get("l").items().unwrap().count(), 3);
        let raws: Vec<&str> = get("l").items().unwrap().map(Json::raw).collect();
        assert_eq!(raws, ["1", "[2]", "{}"]);
        assert_eq!(get("t").as_bool(), Some(true));
        assert!(root.get("missing").is_none());
        assert_eq!(to_plain(root)["l"], serde_json::json!([1, [2], {}]));
    }

    #[test]
    fn key_paths_find_keys_wherever_they_stand() {
        let path = KeyPath::from(vec!["a".to_owned(), "b".to_owned()]);
        let first = doc(r#"{"x": 0, "a": {"b": 1}}"#);
        let second = doc(r#"{"a": {"c": 3, "b": 2}, "x": 0}"#);
        for _ in 0..2 {
            assert_eq!(path.find(first.root()).and_then(Json::as_i64), Some(1));
            assert_eq!(path.find(second.root()).and_then(Json::as_i64), Some(2));
        }
        assert!(path.find(doc(r#"{"a": {"b": null}}"#).root()).is_none());
        assert!(path.find(doc(r#"{"a": 1}"#).root()).is_none());
    }

    #[test]
    fn key_paths_compare_short_long_escaped_and_last_keys() {
        let path = |key: &str| KeyPath::from(vec![key.to_owned()]);
        let value = doc(
            r#"{"quantity":1,"a_long_key_name":2,"q\u0075":3,"":4,"quantitx":5,"exactly16bytes__":6,"seventeen_bytes_k":7}"#,
        );
        for (key, expected) in [
            ("quantity", Some(1)),
            ("a_long_key_name", Some(2)),
            ("qu", Some(3)),
            ("", Some(4)),
            ("quantitx", Some(5)),
            ("exactly16bytes__", Some(6)),
            ("seventeen_bytes_k", Some(7)),
            ("quant", None),
            ("quantityy", None),
            ("exactly16bytes_", None),
            ("seventeen_bytes_", None),
        ] {
            for _ in 0..2 {
                assert_eq!(
                    path(key).find(value.root()).and_then(Json::as_i64),
                    expected,
                    "{key}"
                );
            }
        }
        let short = doc(r#"{"ab":7}"#);
        assert_eq!(
            path("ab").find(short.root()).and_then(Json::as_i64),
            Some(7)
        );
        assert!(path("ac").find(short.root()).is_none());
    }

    #[test]
    fn containers_read_whole_past_brackets_and_quotes_inside_strings() {
        let value = doc(r#"{"a": "}\"]", "b": [{"c": "[\\"}, []] , "d": {}}"#);
        let root = value.root();
        assert_eq!(root.get("b").unwrap().raw(), r#"[{"c": "[\\"}, []]"#);
        assert_eq!(root.get("d").unwrap().raw(), "{}");
        assert_eq!(root.raw(), value.text);
        assert_eq!(root.get("b").unwrap().items().unwrap().count(), 2);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for text in [
            "",
            "plain é",
            "a\"b",
            "back\\slash",
            "line\nbreak",
            "\u{1}\u{1f}",
            "tab\t",
        ] {
            let mut out = Vec::new();
            write_string(text, &mut out);
            assert_eq!(out, serde_json::to_vec(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn escaped_keys_are_found_by_their_text() {
        let value = doc(r#"{"a\u0062": 1}"#);
        assert_eq!(value.root().get("ab").and_then(Json::as_i64), Some(1));
    }

    #[test]
    fn keys_match_across_numbers_and_strings() {
        let (number, text) = (doc("7"), doc("\"7\""));
        assert_eq!(key_text(number.root()), key_text(text.root()));
    }

    #[test]
    fn plain_values_round_trip() {
        let plain = serde_json::json!({"a": [1, "x", null], "b": {"c": false}});
        assert_eq!(to_plain(Doc::from_plain(&plain).root()), plain);
    }
}
