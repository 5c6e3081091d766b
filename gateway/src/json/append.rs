//! Appending short texts to a response without a call to `memcpy`. Most of
//! what the writer appends is a few dozen bytes at most (a member's
//! `"key":`, an id, a number, an entity written before), for which the call
//! costs more than the copy. Such a text is copied as one block of fixed
//! size, read from where the text stands together with what follows it,
//! and the output is then cut back to the text's end.

use std::ops::Range;

/// The size of the block copied.
const BLOCK: usize = 32;

/// Appends the first `length` bytes of `text`, which may run on after
/// them.
#[inline]
pub fn append_prefix(out: &mut Vec<u8>, text: &[u8], length: usize) {
    match text.first_chunk::<BLOCK>() {
        Some(block) if length <= BLOCK => append_block(out, block, length),
        _ => out.extend_from_slice(text.get(..length).unwrap_or(text)),
    }
}

/// Appends `out[range]` to `out` again.
#[inline]
pub fn append_within(out: &mut Vec<u8>, range: Range<usize>) {
    let length = range.len();
    match out
        .get(range.start..)
        .and_then(<[u8]>::first_chunk::<BLOCK>)
    {
        Some(&block) if length <= BLOCK => append_block(out, &block, length),
        _ => out.extend_from_within(range),
    }
}

#[allow(clippy::inline_always)]
#[inline(always)]
fn append_block(out: &mut Vec<u8>, block: &[u8; BLOCK], length: usize) {
    let end = out.len() + length;
    out.extend_from_slice(block);
    out.truncate(end);
}

/// A short text written often (a member's `"key":`), kept padded to a
/// block so that it is appended as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snippet {
    /// A text of at most a block: the block, zeros after the text.
    Short([u8; BLOCK], u8),
    /// A longer text.
    Long(Box<[u8]>),
}

impl Snippet {
    /// The snippet of `text`.
    pub fn new(text: impl Into<Vec<u8>>) -> Self {
        let text = text.into();
        let mut block = [0; BLOCK];
        match (block.get_mut(..text.len()), u8::try_from(text.len())) {
            (Some(start), Ok(length)) => {
                start.copy_from_slice(&text);
                Self::Short(block, length)
            }
            _ => Self::Long(text.into_boxed_slice()),
        }
    }

    /// Appends the text to `out`.
    #[inline]
    pub fn append_to(&self, out: &mut Vec<u8>) {
        match self {
            Self::Short(block, length) => append_block(out, block, usize::from(*length)),
            Self::Long(text) => out.extend_from_slice(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_texts_end_where_they_end_whatever_their_length() {
        for length in 0..80 {
            let text: Vec<u8> = b"abcdefghijklmnopqrstuvwxyz"
                .iter()
                .copied()
                .cycle()
                .take(length)
                .collect();
            let mut out = b"[".to_vec();
            Snippet::new(text.clone()).append_to(&mut out);
            let mut with_more = text.clone();
            with_more.extend_from_slice(&[b'!'; 40]);
            append_prefix(&mut out, &with_more, length);
            let written = 1 + length..1 + 2 * length;
            append_within(&mut out, written.clone());
            let mut expected = b"[".to_vec();
            for _ in 0..3 {
                expected.extend_from_slice(&text);
            }
            assert_eq!(out, expected, "{length}");
        }
    }
}
