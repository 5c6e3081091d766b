//! Documents written rather than parsed: a [`DocBuilder`] takes JSON text
//! a value at a time and records each value's node as it is written, so
//! that a document made by the gateway itself (a protobuf message
//! transcoded to JSON) is not parsed again.
//!
//! The builder trusts its writer for scalars: each is one well-formed
//! JSON scalar, told apart by its first byte. Text it did not write value
//! by value goes through [`DocBuilder::text_value`], which parses it.

use super::Doc;
use super::parse::{self, Kind, Node};

/// A document being written.
#[derive(Debug, Default)]
pub struct DocBuilder {
    text: Vec<u8>,
    nodes: Vec<Node>,
    /// The open containers' nodes, innermost last.
    open: Vec<usize>,
}

impl DocBuilder {
    /// An empty builder with room for `bytes` of text.
    pub fn with_capacity(bytes: usize) -> Self {
        Self {
            text: Vec::with_capacity(bytes),
            nodes: Vec::with_capacity(bytes / 8 + 1),
            open: Vec::new(),
        }
    }

    /// Opens an object.
    pub fn open_object(&mut self) {
        self.open(Kind::Object, b'{');
    }

    /// Opens a list.
    pub fn open_array(&mut self) {
        self.open(Kind::Array, b'[');
    }

    fn open(&mut self, kind: Kind, bracket: u8) {
        self.open.push(self.nodes.len());
        self.nodes.push(Node::new(kind, self.text.len(), 0));
        self.text.push(bracket);
    }

    /// Closes the innermost open object or list.
    pub fn close(&mut self) {
        let next = self.nodes.len();
        let Some(node) = self.open.pop().and_then(|at| self.nodes.get_mut(at)) else {
            return;
        };
        let kind = node.kind();
        *node = Node::new(kind, node.start as usize, next);
        self.text
            .push(if kind == Kind::Object { b'}' } else { b']' });
    }

    /// Where the builder is, to go back to with [`Self::rewind`].
    pub fn mark(&self) -> Mark {
        Mark {
            text: self.text.len(),
            nodes: self.nodes.len(),
            open: self.open.len(),
        }
    }

    /// Forgets what was written since `mark`, open containers included.
    pub fn rewind(&mut self, mark: Mark) {
        self.text.truncate(mark.text);
        self.nodes.truncate(mark.nodes);
        self.open.truncate(mark.open);
    }

    /// Writes the comma between two members or items.
    pub fn comma(&mut self) {
        self.text.push(b',');
    }

    /// Writes a member's key and the colon.
    pub fn key(&mut self, key: &MemberKey) {
        let start = self.text.len() + 1;
        self.text.extend_from_slice(&key.text);
        let kind = if key.escaped {
            Kind::EscapedStr
        } else {
            Kind::Str
        };
        // Inside the quotes: the text less its quotes and colon.
        self.nodes
            .push(Node::new(kind, start, key.text.len().saturating_sub(3)));
    }

    /// Writes the bytes of a protobuf `string` as a JSON string; the error
    /// says they are not UTF-8. Plain ASCII, the usual case, is copied
    /// between quotes after one scan.
    pub fn wire_string(&mut self, bytes: &[u8]) -> Result<(), std::str::Utf8Error> {
        if !parse::is_plain_ascii(bytes) {
            let text = std::str::from_utf8(bytes)?;
            self.scalar(|out| super::write_string(text, out));
            return Ok(());
        }
        let start = self.text.len() + 1;
        self.text.reserve(bytes.len() + 2);
        self.text.push(b'"');
        self.text.extend_from_slice(bytes);
        self.text.push(b'"');
        self.nodes.push(Node::new(Kind::Str, start, bytes.len()));
        Ok(())
    }

    /// Writes one scalar (a string, a number, `true`, `false` or `null`)
    /// with `write`, which must write exactly one well-formed scalar.
    pub fn scalar(&mut self, write: impl FnOnce(&mut Vec<u8>)) {
        let start = self.text.len();
        write(&mut self.text);
        let end = self.text.len();
        let kind = match self.text.get(start) {
            Some(b'"') => return self.string_node(start, end),
            Some(b't') => Kind::True,
            Some(b'f') => Kind::False,
            Some(b'n') => Kind::Null,
            _ => Kind::Number,
        };
        self.nodes.push(Node::new(kind, start, end - start));
    }

    /// Records the string whose quoted text spans `start..end`.
    fn string_node(&mut self, start: usize, end: usize) {
        let inside = start + 1..end.saturating_sub(1).max(start + 1);
        let escaped = self.text.get(inside.clone()).is_some_and(has_backslash);
        let kind = if escaped { Kind::EscapedStr } else { Kind::Str };
        self.nodes
            .push(Node::new(kind, inside.start, inside.end - inside.start));
    }

    /// Writes one JSON value given as text, parsing it for its nodes.
    pub fn text_value(&mut self, json: &[u8]) -> Result<(), String> {
        let nodes = parse::parse(json)?;
        self.extend(json, &nodes);
        Ok(())
    }

    /// Writes the value of a document.
    pub fn append_doc(&mut self, doc: &Doc) {
        self.extend(&doc.text, &doc.nodes);
    }

    /// Writes the value another builder wrote.
    pub fn append(&mut self, other: Self) {
        self.extend(&other.text, &other.nodes);
    }

    fn extend(&mut self, text: &[u8], nodes: &[Node]) {
        let (text_base, node_base) = (self.text.len(), self.nodes.len());
        self.text.extend_from_slice(text);
        self.nodes
            .extend(nodes.iter().map(|node| node.moved(text_base, node_base)));
    }

    /// The document written; the text must be one complete value.
    pub fn finish(self) -> Result<Doc, String> {
        if !self.open.is_empty() || self.nodes.is_empty() {
            return Err("the document is incomplete".to_owned());
        }
        parse::fits(self.text.len())?;
        if let Err(error) = std::str::from_utf8(&self.text) {
            return Err(format!("invalid UTF-8: {error}"));
        }
        Ok(Doc {
            text: self.text.into(),
            nodes: self.nodes,
        })
    }

    /// The text written.
    pub fn into_text(self) -> Vec<u8> {
        self.text
    }
}

/// A place in a [`DocBuilder`], from [`DocBuilder::mark`].
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    text: usize,
    nodes: usize,
    open: usize,
}

/// A member's key as written, `"name":`, with whether it holds an escape:
/// worked out once for keys written many times.
#[derive(Debug, Clone)]
pub struct MemberKey {
    text: Vec<u8>,
    escaped: bool,
}

impl MemberKey {
    /// The key `name`.
    pub fn new(name: &str) -> Self {
        let mut quoted = Vec::with_capacity(name.len() + 3);
        super::write_string(name, &mut quoted);
        Self::quoted(quoted)
    }

    /// The key whose JSON string (quotes included) is `quoted`.
    pub fn quoted(mut quoted: Vec<u8>) -> Self {
        let escaped = has_backslash(&quoted);
        quoted.push(b':');
        Self {
            text: quoted,
            escaped,
        }
    }
}

/// Whether `bytes` hold a backslash, looked for eight bytes at a time:
/// the strings written are mostly short, where `memchr` costs more.
/// Inside a string written as JSON only an escape is not plain, so this
/// one test stands for the parser's three (`parse::is_plain`), which cost
/// the single-user query 4% more instructions.
fn has_backslash(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let found = words.by_ref().any(|word| {
        let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
        let backslashes = word ^ (ONES * u64::from(b'\\'));
        backslashes.wrapping_sub(ONES) & !backslashes & HIGH != 0
    });
    // Fewer than eight bytes are left: a loop costs less than the call to
    // `memchr` that `contains` makes.
    #[allow(clippy::manual_contains)]
    let in_rest = words.remainder().iter().any(|&byte| byte == b'\\');
    found || in_rest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of a document, as its raw text and its kind, in node
    /// order.
    fn values(doc: &Doc) -> Vec<(String, Kind)> {
        (0..u32::try_from(doc.nodes.len()).unwrap())
            .map(|at| {
                let json = doc.at(at);
                (json.raw().to_owned(), json.node().unwrap().kind())
            })
            .collect()
    }

    #[test]
    fn a_written_document_has_the_nodes_its_text_parses_to() {
        let mut builder = DocBuilder::default();
        builder.open_object();
        builder.key(&MemberKey::new("name"));
        builder.scalar(|out| out.extend_from_slice(br#""a\"b""#));
        builder.comma();
        builder.key(&MemberKey::new("tags"));
        builder.open_array();
        builder.scalar(|out| out.extend_from_slice(b"-1.5"));
        builder.comma();
        builder.scalar(|out| out.extend_from_slice(b"true"));
        builder.comma();
        builder.text_value(br#"{"x": [null, "y"]}"#).unwrap();
        builder.comma();
        builder.open_object();
        builder.close();
        builder.close();
        builder.comma();
        builder.key(&MemberKey::new("n"));
        builder.scalar(|out| out.extend_from_slice(b"null"));
        builder.comma();
        builder.key(&MemberKey::new("q\"uote\n"));
        builder.wire_string("plain ascii".as_bytes()).unwrap();
        builder.comma();
        builder.key(&MemberKey::quoted(br#""wire""#.to_vec()));
        builder.open_array();
        for text in ["é", "tab\t", "\"", ""] {
            builder.wire_string(text.as_bytes()).unwrap();
            builder.comma();
        }
        assert!(builder.wire_string(&[b'a', 0xff]).is_err());
        builder.scalar(|out| out.extend_from_slice(b"0"));
        builder.close();
        builder.close();
        let written = builder.finish().unwrap();
        let parsed = Doc::parse(written.text.clone()).unwrap();
        assert!(written.same_as(&parsed));
        assert_eq!(values(&written), values(&parsed));
        assert_eq!(
            written.root().get("name").unwrap().as_str().unwrap(),
            "a\"b"
        );
        let tags = written.root().get("tags").unwrap();
        assert_eq!(tags.items().unwrap().count(), 4);
        assert!(written.root().get("n").unwrap().is_null());
        let quoted = written.root().get("q\"uote\n").unwrap();
        assert_eq!(quoted.as_str().unwrap(), "plain ascii");
        let wire: Vec<_> = written
            .root()
            .get("wire")
            .unwrap()
            .items()
            .unwrap()
            .collect();
        let texts: Vec<_> = wire.iter().filter_map(|item| item.as_str()).collect();
        assert_eq!(texts, ["é", "tab\t", "\"", ""]);
    }

    #[test]
    fn backslashes_are_found_wherever_they_stand() {
        for length in 0..20 {
            assert!(!has_backslash(&vec![b'a'; length]));
            for at in 0..length {
                let mut bytes = vec![0xe9; length];
                bytes[at] = b'\\';
                assert!(has_backslash(&bytes), "{length} {at}");
            }
        }
    }

    #[test]
    fn an_unfinished_document_is_an_error() {
        let mut builder = DocBuilder::default();
        builder.open_array();
        assert!(builder.finish().is_err());
        assert!(DocBuilder::default().finish().is_err());
    }
}
