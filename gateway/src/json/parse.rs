//! The JSON parser behind [`Doc`](super::Doc): one pass over the bytes
//! that checks the grammar (RFC 8259) and that the text is UTF-8, and
//! records every value as a node with its span in the text. Strings are
//! not unescaped and numbers are not converted here: most of them are
//! copied to the response as they are.
//!
//! Containers are parsed by recursion, at most [`MAX_NESTING`] deep, so
//! deeply nested input cannot overflow the stack. The per-value steps are
//! inlined into the containers' loops: on answers of short strings,
//! calling them cost more than scanning.

/// What a node is. The containers come last, the object last of all:
/// [`Node`] tells them by comparing its bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Null,
    True,
    False,
    Number,
    /// A string without escapes: its span is its text.
    Str,
    /// A string with escapes: its span must be unescaped to be read.
    EscapedStr,
    Array,
    Object,
}

impl Kind {
    const ALL: [Self; 8] = [
        Self::Null,
        Self::True,
        Self::False,
        Self::Number,
        Self::Str,
        Self::EscapedStr,
        Self::Array,
        Self::Object,
    ];
}

/// The bits of [`Node::info`] below its kind.
const KIND_SHIFT: u32 = 29;
const PAYLOAD: u32 = (1 << KIND_SHIFT) - 1;

/// The largest document parsed: every position and node index fits in
/// a node's 29 bits of payload.
const MAX_LENGTH: usize = PAYLOAD as usize;

/// One value of a document, in eight bytes: the walker and the writer
/// read every node of an answer again after parsing, so their size is
/// memory traffic. Members of an object are a key node followed by the
/// value's nodes; items of an array follow one another, up to the
/// container's next node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Node {
    /// Where the value's text starts (inside the quotes for a string).
    pub(super) start: u32,
    /// The kind in the top three bits; below them, a scalar's length
    /// (inside the quotes for a string) or a container's next node.
    info: u32,
}

impl Node {
    /// A node of `kind` whose text starts at `start`, with a scalar's
    /// length or a container's next node.
    pub(super) fn new(kind: Kind, start: usize, payload: usize) -> Self {
        Self {
            start: offset(start),
            info: ((kind as u32) << KIND_SHIFT) | offset(payload),
        }
    }

    /// What the node is.
    #[inline]
    pub(super) fn kind(self) -> Kind {
        Kind::ALL[(self.info >> KIND_SHIFT) as usize]
    }

    /// The node of a document placed after `text` bytes and `nodes`
    /// nodes of another.
    pub(super) fn moved(self, text: usize, nodes: usize) -> Self {
        let kind = self.kind();
        let payload = self.info & PAYLOAD;
        let payload = if self.info >= (Kind::Array as u32) << KIND_SHIFT {
            payload as usize + nodes
        } else {
            payload as usize
        };
        Self::new(kind, self.start as usize + text, payload)
    }

    /// Whether the node is an object (the last kind: one comparison).
    #[inline]
    pub(super) fn is_object(self) -> bool {
        self.info >= (Kind::Object as u32) << KIND_SHIFT
    }

    /// Whether the node is a string without escapes of `length` bytes
    /// (one comparison: the kind and the length are one word).
    #[inline]
    pub(super) fn is_plain_of_length(self, length: u32) -> bool {
        self.info == ((Kind::Str as u32) << KIND_SHIFT | length)
    }

    /// Where a scalar's text ends (before the closing quote for a string).
    #[inline]
    pub(super) fn end(self) -> u32 {
        self.start + (self.info & PAYLOAD)
    }

    /// The index of the node after the one at `index` and everything
    /// inside it.
    #[inline]
    pub(super) fn next(self, index: u32) -> u32 {
        if self.info >= (Kind::Array as u32) << KIND_SHIFT {
            self.info & PAYLOAD
        } else {
            index + 1
        }
    }
}

/// Where the container whose opening bracket is at `start` ends (after
/// its closing bracket), in a document [`parse`] accepted.
pub(super) fn container_end(text: &[u8], start: usize) -> usize {
    let mut depth = 0_usize;
    let mut pos = start;
    while let Some(&byte) = text.get(pos) {
        pos += 1;
        match byte {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return pos;
                }
            }
            b'"' => {
                while let Some(&byte) = text.get(pos) {
                    pos += if byte == b'\\' { 2 } else { 1 };
                    if byte == b'"' {
                        break;
                    }
                }
            }
            _ => {}
        }
    }
    text.len()
}

/// The bytes a string may hold as they are: not a quote, a backslash or a
/// control character.
const PLAIN: [bool; 256] = {
    let mut plain = [true; 256];
    let mut byte = 0;
    while byte < 0x20 {
        plain[byte] = false;
        byte += 1;
    }
    plain[b'"' as usize] = false;
    plain[b'\\' as usize] = false;
    plain
};

/// How deeply containers may nest.
const MAX_NESTING: usize = 1024;

/// Whether a document of `length` bytes fits in nodes.
pub(super) fn fits(length: usize) -> Result<(), String> {
    if length > MAX_LENGTH {
        return Err("the document is larger than 512 MiB".to_owned());
    }
    Ok(())
}

/// Parses `text` (UTF-8: one JSON value, with optional whitespace around
/// it).
pub(super) fn parse(text: &[u8]) -> Result<Vec<Node>, String> {
    fits(text.len())?;
    let mut nodes = Vec::with_capacity(text.len() / 8 + 1);
    let pos = value(text, skip_whitespace(text, 0), &mut nodes, 0)?;
    let pos = skip_whitespace(text, pos);
    if pos < text.len() {
        return Err(unexpected(text, pos, "the end of the document"));
    }
    Ok(nodes)
}

/// The value at `pos`, inside `depth` containers; yields where it ends.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn value(text: &[u8], pos: usize, nodes: &mut Vec<Node>, depth: usize) -> Result<usize, String> {
    match text.get(pos) {
        Some(b'"') => string(text, pos, nodes),
        Some(b'-' | b'0'..=b'9') => number(text, pos, nodes),
        Some(b'{') => object(text, pos, nodes, depth),
        Some(b'[') => array(text, pos, nodes, depth),
        Some(b't') => literal(text, pos, b"true", Kind::True, nodes),
        Some(b'f') => literal(text, pos, b"false", Kind::False, nodes),
        Some(b'n') => literal(text, pos, b"null", Kind::Null, nodes),
        _ => Err(unexpected(text, pos, "a value")),
    }
}

// Containers are parsed by recursion, each to its closing bracket: where
// the parser is (in an object or a list) is where the code is, not a
// state looked at for every value, and the container's node is a local.
// The depth is bounded by `MAX_NESTING`, and so is the stack. The steps
// are inlined only where the build is optimized: unoptimized, each
// inlined body keeps stack slots of its own, and a thousand nested lists
// took more than a thread's two megabytes.

/// The object whose `{` is at `start`, inside `depth` containers.
fn object(text: &[u8], start: usize, nodes: &mut Vec<Node>, depth: usize) -> Result<usize, String> {
    container(text, start, nodes, depth, Kind::Object)
}

/// The list whose `[` is at `start`, inside `depth` containers.
fn array(text: &[u8], start: usize, nodes: &mut Vec<Node>, depth: usize) -> Result<usize, String> {
    container(text, start, nodes, depth, Kind::Array)
}

/// The container of `kind` (an object or a list) whose bracket is at
/// `start`: its members (a key and a value) or its items, up to its
/// closing bracket. Inlined where the kind is known, so that each of
/// [`object`] and [`array`] looks at it once, not once per value.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn container(
    text: &[u8],
    start: usize,
    nodes: &mut Vec<Node>,
    depth: usize,
    kind: Kind,
) -> Result<usize, String> {
    let (closing, wanted) = match kind {
        Kind::Object => (b'}', "`,` or `}`"),
        _ => (b']', "`,` or `]`"),
    };
    let at = open(nodes, kind, start, depth)?;
    let mut pos = skip_whitespace(text, start + 1);
    if text.get(pos) != Some(&closing) {
        loop {
            if kind == Kind::Object {
                pos = key(text, pos, nodes)?;
            }
            pos = value(text, pos, nodes, depth + 1)?;
            match separator(text, pos, closing) {
                Some((b',', comma)) => pos = skip_whitespace(text, comma + 1),
                Some((_, bracket)) => {
                    pos = bracket;
                    break;
                }
                None => return Err(unexpected(text, skip_whitespace(text, pos), wanted)),
            }
        }
    }
    close(nodes, at);
    Ok(pos + 1)
}

/// What follows a member or an item from `pos`: a comma or the
/// `closing` bracket, and where it is; `None` for anything else.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn separator(text: &[u8], pos: usize, closing: u8) -> Option<(u8, usize)> {
    // Most often right after the value: whitespace is skipped only when
    // it is not.
    match text.get(pos) {
        Some(&byte) if byte == b',' || byte == closing => Some((byte, pos)),
        _ => {
            let pos = skip_whitespace(text, pos);
            match text.get(pos) {
                Some(&byte) if byte == b',' || byte == closing => Some((byte, pos)),
                _ => None,
            }
        }
    }
}

/// Opens a container of `kind` at `start` inside `depth` others: its
/// node, whose next node is set when it closes.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn open(nodes: &mut Vec<Node>, kind: Kind, start: usize, depth: usize) -> Result<usize, String> {
    if depth >= MAX_NESTING {
        return Err(format!("containers nest deeper than {MAX_NESTING}"));
    }
    nodes.push(Node::new(kind, start, 0));
    Ok(nodes.len() - 1)
}

/// Closes the container whose node is at `at`: its next node is the one
/// after everything pushed since.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn close(nodes: &mut [Node], at: usize) {
    let next = nodes.len();
    if let Some(node) = nodes.get_mut(at) {
        *node = Node::new(node.kind(), node.start as usize, next);
    }
}

#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn skip_whitespace(text: &[u8], mut pos: usize) -> usize {
    // Every byte of a value or a separator is above the space: one
    // comparison settles the usual case of compact JSON.
    while let Some(&byte) = text.get(pos)
        && byte <= b' '
        && matches!(byte, b' ' | b'\n' | b'\r' | b'\t')
    {
        pos += 1;
    }
    pos
}

/// Pushes a node for the scalar spanning `start..end`.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn push(nodes: &mut Vec<Node>, kind: Kind, start: usize, end: usize) {
    nodes.push(Node::new(kind, start, end - start));
}

/// A member's key at `pos` and its colon; yields the position of its value.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn key(text: &[u8], pos: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    if text.get(pos) != Some(&b'"') {
        return Err(unexpected(text, pos, "a string key"));
    }
    let mut pos = string(text, pos, nodes)?;
    if text.get(pos) != Some(&b':') {
        pos = skip_whitespace(text, pos);
        if text.get(pos) != Some(&b':') {
            return Err(unexpected(text, pos, "`:`"));
        }
    }
    Ok(skip_whitespace(text, pos + 1))
}

/// The string whose opening quote is at `quote`.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn string(text: &[u8], quote: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    let start = quote + 1;
    let end = plain_end::<true>(text, start);
    if text.get(end) == Some(&b'"') {
        push(nodes, Kind::Str, start, end);
        return Ok(end + 1);
    }
    string_rest(text, start, end, nodes)
}

/// The rest of a string from `pos`, where its plain ASCII bytes stop
/// short of the closing quote: an escape, other characters (checked to be
/// UTF-8), a control character or the end.
#[inline(never)]
fn string_rest(
    text: &[u8],
    start: usize,
    mut pos: usize,
    nodes: &mut Vec<Node>,
) -> Result<usize, String> {
    let mut escaped = false;
    loop {
        match text.get(pos) {
            Some(b'"') => break,
            Some(b'\\') => {
                escaped = true;
                pos += escape_length(&text[pos..])
                    .ok_or_else(|| format!("an invalid escape in a string at byte {pos}"))?;
            }
            Some(byte) if !byte.is_ascii() => pos = characters_end(text, pos)?,
            Some(_) => return Err(format!("a control character in a string at byte {pos}")),
            None => return Err(unexpected(text, pos, "the end of a string")),
        }
        pos = plain_end::<true>(text, pos);
    }
    let kind = if escaped { Kind::EscapedStr } else { Kind::Str };
    push(nodes, kind, start, pos);
    Ok(pos + 1)
}

/// Where the run of bytes above ASCII from `pos` ends, once checked to
/// be UTF-8: such a run holds whole characters, as every byte of a
/// character beyond ASCII is above it. Checking runs inside strings
/// checks the whole document: anywhere else, such a byte breaks the
/// grammar.
fn characters_end(text: &[u8], pos: usize) -> Result<usize, String> {
    let run = text.get(pos..).unwrap_or_default();
    let length = run.iter().position(u8::is_ascii).unwrap_or(run.len());
    match std::str::from_utf8(&run[..length]) {
        Ok(_) => Ok(pos + length),
        Err(error) => Err(format!(
            "invalid UTF-8 in a string at byte {}",
            pos + error.valid_up_to()
        )),
    }
}

#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn literal(
    text: &[u8],
    pos: usize,
    word: &[u8],
    kind: Kind,
    nodes: &mut Vec<Node>,
) -> Result<usize, String> {
    if !text[pos..].starts_with(word) {
        return Err(unexpected(text, pos, "a value"));
    }
    push(nodes, kind, pos, pos + word.len());
    Ok(pos + word.len())
}

#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn number(text: &[u8], start: usize, nodes: &mut Vec<Node>) -> Result<usize, String> {
    let mut pos = start + usize::from(text[start] == b'-');
    pos = match text.get(pos) {
        Some(b'0') => pos + 1,
        Some(b'1'..=b'9') => digits_end(text, pos + 1),
        _ => return Err(invalid_number(start)),
    };
    if let Some(b'.' | b'e' | b'E') = text.get(pos) {
        pos = fraction_and_exponent(text, start, pos)?;
    }
    push(nodes, Kind::Number, start, pos);
    Ok(pos)
}

#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn digits_end(text: &[u8], mut pos: usize) -> usize {
    while text.get(pos).is_some_and(u8::is_ascii_digit) {
        pos += 1;
    }
    pos
}

/// A number's fraction and exponent, either optional, from `pos`.
#[inline(never)]
fn fraction_and_exponent(text: &[u8], start: usize, mut pos: usize) -> Result<usize, String> {
    let digits = |from: usize| {
        let end = digits_end(text, from);
        if end > from {
            Ok(end)
        } else {
            Err(invalid_number(start))
        }
    };
    if text.get(pos) == Some(&b'.') {
        pos = digits(pos + 1)?;
    }
    if matches!(text.get(pos), Some(b'e' | b'E')) {
        pos += 1;
        if matches!(text.get(pos), Some(b'+' | b'-')) {
            pos += 1;
        }
        pos = digits(pos)?;
    }
    Ok(pos)
}

#[cold]
fn invalid_number(start: usize) -> String {
    format!("an invalid number at byte {start}")
}

#[cold]
fn unexpected(text: &[u8], pos: usize, wanted: &str) -> String {
    match text.get(pos) {
        Some(&byte) => format!(
            "expected {wanted} at byte {pos}, found `{}`",
            char::from(byte).escape_default()
        ),
        None => format!("expected {wanted}, found the end of the document"),
    }
}

/// Where the bytes a string holds as they are end, from `pos`: looked at
/// sixteen at a time where SSE2 is there (most keys and values fit in
/// one such block), then eight at a time. With `ASCII`, a byte above ASCII
/// ends them too.
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn plain_end<const ASCII: bool>(text: &[u8], mut pos: usize) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    while let Some(block) = text.get(pos..).and_then(<[u8]>::first_chunk::<16>) {
        let special = special_lanes::<ASCII>(block);
        if special != 0 {
            return pos + special.trailing_zeros() as usize;
        }
        pos += 16;
    }
    while let Some(word) = text.get(pos..).and_then(<[u8]>::first_chunk::<8>) {
        let special = special_bytes::<ASCII>(u64::from_le_bytes(*word));
        if special != 0 {
            return pos + (special.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    let rest = text.get(pos..).unwrap_or_default();
    pos + rest
        .iter()
        .position(|&byte| !PLAIN[usize::from(byte)] || (ASCII && !byte.is_ascii()))
        .unwrap_or(rest.len())
}

/// Whether `text` can stand between quotes as it is: no quote, backslash
/// or control character.
pub(super) fn is_plain(text: &[u8]) -> bool {
    plain_end::<false>(text, 0) == text.len()
}

/// Whether `bytes` are ASCII that can stand between quotes as they are:
/// such bytes are valid UTF-8 too, so one scan settles both.
pub(super) fn is_plain_ascii(bytes: &[u8]) -> bool {
    plain_end::<true>(bytes, 0) == bytes.len()
}

/// One bit per byte of `block` that is a quote, a backslash, a control
/// character or with `ASCII` a byte above ASCII, lowest for the first.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[allow(clippy::inline_always)]
#[cfg_attr(not(debug_assertions), inline(always))]
fn special_lanes<const ASCII: bool>(block: &[u8; 16]) -> u32 {
    use safe_arch::{
        bitor_m128i, cmp_eq_mask_i8_m128i, load_unaligned_m128i, min_u8_m128i, move_mask_i8_m128i,
        set_splat_i8_m128i,
    };
    const QUOTE: i8 = 0x22;
    const BACKSLASH: i8 = 0x5c;
    const LAST_CONTROL: i8 = 0x1f;
    let bytes = load_unaligned_m128i(block);
    let quote = cmp_eq_mask_i8_m128i(bytes, set_splat_i8_m128i(QUOTE));
    let backslash = cmp_eq_mask_i8_m128i(bytes, set_splat_i8_m128i(BACKSLASH));
    // A control character is its own minimum with 0x1f.
    let lowest = min_u8_m128i(bytes, set_splat_i8_m128i(LAST_CONTROL));
    let control = cmp_eq_mask_i8_m128i(lowest, bytes);
    let special = bitor_m128i(bitor_m128i(quote, backslash), control);
    // A byte above ASCII has its high bit set, the one the mask takes.
    let special = if ASCII {
        bitor_m128i(special, bytes)
    } else {
        special
    };
    move_mask_i8_m128i(special).cast_unsigned()
}

/// The high bit of each byte of `word` that a string may not hold as it is
/// (a quote, a backslash, a control character, and with `ASCII` a byte
/// above ASCII), exact up to the lowest one.
fn special_bytes<const ASCII: bool>(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word;
    let above_ascii = if ASCII { word } else { 0 };
    (quote | backslash | control | above_ascii) & HIGH
}

/// The length of the escape sequence `text` starts with, if valid.
fn escape_length(text: &[u8]) -> Option<usize> {
    match text.get(1)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(2),
        b'u' => text
            .get(2..6)?
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then_some(6),
        _ => None,
    }
}

/// A position as stored in a node: [`parse`] refuses documents larger
/// than [`MAX_LENGTH`], so every position and length fits. A plain cast:
/// this runs for every value of every answer.
#[allow(clippy::cast_possible_truncation)]
fn offset(position: usize) -> u32 {
    position as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_runs_stop_at_the_first_special_byte_wherever_it_is() {
        for length in 0..40 {
            for special in [b'"', b'\\', b'\n', 0x1f, 0] {
                let mut bytes = vec![b'a'; length];
                bytes.extend_from_slice(&[0xc3, 0xa9, b' ', b'~']);
                let plain = bytes.len();
                bytes.push(special);
                bytes.extend_from_slice(b"\"\\x");
                assert_eq!(
                    plain_end::<false>(&bytes, 0),
                    plain,
                    "{length} then {special:#x}"
                );
                let mut shifted = vec![b'"'; 3];
                shifted.extend_from_slice(&bytes);
                assert_eq!(plain_end::<false>(&shifted, 3), plain + 3);
            }
            assert_eq!(plain_end::<false>(&vec![b'z'; length], 0), length);
        }
    }

    #[test]
    fn accepts_valid_documents() {
        for text in [
            "null",
            " true ",
            "-0.5e+3",
            r#"{"a":[1,{"b":"x\n\u00e9"}],"c":{}}"#,
            "[[], [[]], {}]",
            "\"é\"",
        ] {
            assert!(parse(text.as_bytes()).is_ok(), "{text}");
        }
    }

    #[test]
    fn refuses_invalid_documents_with_their_position() {
        for (text, reason) in [
            ("", "expected a value, found the end of the document"),
            ("[1,]", "expected a value at byte 3, found `]`"),
            ("{\"a\" 1}", "expected `:` at byte 5, found `1`"),
            (
                "{\"a\":1",
                "expected `,` or `}`, found the end of the document",
            ),
            (
                "01",
                "expected the end of the document at byte 1, found `1`",
            ),
            ("1.", "an invalid number at byte 0"),
            ("\"a\\x\"", "an invalid escape in a string at byte 2"),
            ("\"a\u{1}\"", "a control character in a string at byte 2"),
            ("nul", "expected a value at byte 0, found `n`"),
            (
                "[1] 2",
                "expected the end of the document at byte 4, found `2`",
            ),
        ] {
            assert_eq!(parse(text.as_bytes()).unwrap_err(), reason, "{text}");
        }
    }

    #[test]
    fn strings_end_at_their_first_special_byte_wherever_it_stands() {
        for n in 0..24 {
            let prefix = "é".repeat(n / 2) + &"a".repeat(n % 2);
            let at = prefix.len() + 1;
            let plain = parse(format!("\"{prefix}\"").as_bytes()).unwrap();
            assert_eq!((plain[0].kind(), plain[0].end() as usize), (Kind::Str, at));
            let escaped = parse(format!("\"{prefix}\\n\"").as_bytes()).unwrap();
            assert_eq!(escaped[0].kind(), Kind::EscapedStr);
            assert_eq!(
                parse(format!("\"{prefix}\u{1f}\"").as_bytes()).unwrap_err(),
                format!("a control character in a string at byte {at}")
            );
        }
    }

    #[test]
    fn text_that_is_not_utf8_is_refused_where_it_breaks() {
        for (bytes, reason) in [
            (&b"\"ab\xff\""[..], "invalid UTF-8 in a string at byte 3"),
            (b"[\"\xc3\xa9\xc3\"]", "invalid UTF-8 in a string at byte 4"),
            (b"{\"\xe2\x82\":1}", "invalid UTF-8 in a string at byte 2"),
            (
                b"\"\\n\xed\xa0\x80\"",
                "invalid UTF-8 in a string at byte 3",
            ),
            (
                b"[1,\xc3\xa9]",
                "expected a value at byte 3, found `\\u{c3}`",
            ),
        ] {
            assert_eq!(parse(bytes).unwrap_err(), reason, "{bytes:?}");
        }
        let mixed = "\"a\u{e9}\u{20ac}\u{1f600}b\\n\u{e9}\"";
        assert_eq!(parse(mixed.as_bytes()).unwrap()[0].kind(), Kind::EscapedStr);
    }

    #[test]
    fn plain_ascii_is_told_from_special_and_non_ascii_bytes_wherever_they_stand() {
        for length in 0..24 {
            let plain = "a".repeat(length);
            assert!(is_plain_ascii(plain.as_bytes()), "{plain:?}");
            for at in 0..length {
                for odd in [b'"', b'\\', 0x1f, 0x80, 0xc3] {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = odd;
                    assert!(!is_plain_ascii(&bytes), "{odd:#x} at {at} of {length}");
                }
            }
        }
    }

    #[test]
    fn whitespace_between_tokens_reads_as_compact_json_does() {
        let compact = r#"{"a":[1,-2.5e3,"x\n"],"b":{"c":true,"d":null},"e":0}"#;
        let spaced = " {\n \"a\" : [ 1 ,\t-2.5e3 , \"x\\n\" ] ,\r\n \"b\":{ \"c\" :true , \"d\":null } , \"e\" : 0 } ";
        let texts = |text: &str| -> Vec<(Kind, String)> {
            let nodes = parse(text.as_bytes()).unwrap();
            let scalar = |node: &Node| text[node.start as usize..node.end() as usize].to_owned();
            nodes
                .iter()
                .map(|node| match node.kind() {
                    Kind::Array | Kind::Object => (node.kind(), String::new()),
                    kind => (kind, scalar(node)),
                })
                .collect()
        };
        assert_eq!(texts(spaced), texts(compact));
        assert_eq!(texts(compact).len(), 14);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(text.as_bytes()).unwrap_err().contains("nest deeper"));
    }

    #[test]
    fn nodes_record_spans_and_subtree_ends() {
        let nodes = parse(br#"{"a":[1,2],"b":"x"}"#).unwrap();
        let kinds: Vec<Kind> = nodes.iter().map(|node| node.kind()).collect();
        assert_eq!(
            kinds,
            [
                Kind::Object,
                Kind::Str,
                Kind::Array,
                Kind::Number,
                Kind::Number,
                Kind::Str,
                Kind::Str
            ]
        );
        assert_eq!(nodes[0].next(0), 7);
        assert_eq!(container_end(br#"{"a":[1,2],"b":"x"}"#, 0), 19);
        assert_eq!(nodes[2].next(2), 5);
        assert_eq!(nodes[3].next(3), 4);
        assert_eq!((nodes[6].start, nodes[6].end()), (16, 17));
    }
}
