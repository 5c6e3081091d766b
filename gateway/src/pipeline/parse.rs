//! Stage 1: the document text → its syntax tree.
//!
//! The text is scanned once before the parser runs: a document with more
//! tokens than `[limits] max_tokens`, or with brackets nested deeper than
//! `max_recursion`, is refused in one pass over its bytes instead of
//! costing the (recursive) parser its time and stack.

use graphql_tools::parser::query::parse_query;
use graphql_tools::static_graphql::query::Document;

use crate::config::LimitsConfig;
use crate::error::{GraphqlError, codes};

/// Parses `text` into a document that owns its strings.
pub fn parse(text: &str, limits: &LimitsConfig) -> Result<Document, GraphqlError> {
    scan(text, limits)?;
    parse_query::<String>(text)
        .map(graphql_tools::parser::query::Document::into_static)
        .map_err(|error| {
            let position = error.0.position;
            let message = error.to_string().replace('\n', " ").trim().to_owned();
            GraphqlError::new(message, codes::PARSE_FAILED).located(position.line, position.column)
        })
}

/// Where the scanner is: between tokens, or inside one that may hold any
/// byte.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lexeme {
    Between,
    Word,
    Comment,
    String { escaped: bool },
    BlockString { quotes: u8, escaped: bool },
}

/// Counts tokens and bracket nesting; brackets inside strings and comments
/// do not count. Commas are insignificant in GraphQL, so they are no token.
fn scan(text: &str, limits: &LimitsConfig) -> Result<(), GraphqlError> {
    let bytes = text.as_bytes();
    let (mut tokens, mut depth) = (0_usize, 0_usize);
    let mut lexeme = Lexeme::Between;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        lexeme = match lexeme {
            Lexeme::Comment if byte == b'\n' || byte == b'\r' => Lexeme::Between,
            Lexeme::Comment => Lexeme::Comment,
            Lexeme::String { escaped: true } => Lexeme::String { escaped: false },
            Lexeme::String { .. } => match byte {
                b'\\' => Lexeme::String { escaped: true },
                b'"' => Lexeme::Between,
                _ => Lexeme::String { escaped: false },
            },
            Lexeme::BlockString { quotes, escaped } => block_string(byte, quotes, escaped),
            Lexeme::Word if is_word(byte) => Lexeme::Word,
            Lexeme::Word | Lexeme::Between => {
                let (next, starts_token, skip) = between(bytes, at);
                if starts_token {
                    tokens += 1;
                    if tokens > limits.max_tokens {
                        return Err(GraphqlError::new(
                            format!("the document has more than {} tokens", limits.max_tokens),
                            codes::MAX_TOKENS_LIMIT,
                        ));
                    }
                }
                match byte {
                    b'{' | b'[' | b'(' => {
                        depth += 1;
                        if depth > limits.max_recursion {
                            return Err(GraphqlError::new(
                                format!(
                                    "the document nests deeper than {} levels",
                                    limits.max_recursion
                                ),
                                codes::MAX_RECURSION_LIMIT,
                            ));
                        }
                    }
                    b'}' | b']' | b')' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                at += skip;
                next
            }
        };
        at += 1;
    }
    Ok(())
}

/// Names, numbers and the `...` of spreads.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-' | b'+')
}

/// Between tokens at `bytes[at]`: what comes next, whether a token starts
/// here, and how many bytes beyond this one it takes at once.
fn between(bytes: &[u8], at: usize) -> (Lexeme, bool, usize) {
    match bytes[at] {
        b' ' | b'\t' | b'\n' | b'\r' | b',' => (Lexeme::Between, false, 0),
        b'#' => (Lexeme::Comment, false, 0),
        b'"' if bytes[at..].starts_with(b"\"\"\"") => (
            Lexeme::BlockString {
                quotes: 0,
                escaped: false,
            },
            true,
            2,
        ),
        b'"' => (Lexeme::String { escaped: false }, true, 0),
        byte if is_word(byte) => (Lexeme::Word, true, 0),
        _ => (Lexeme::Between, true, 0),
    }
}

/// A block string ends at three quotes in a row that no backslash escapes.
fn block_string(byte: u8, quotes: u8, escaped: bool) -> Lexeme {
    match byte {
        b'"' if escaped => Lexeme::BlockString {
            quotes: 0,
            escaped: false,
        },
        b'"' if quotes == 2 => Lexeme::Between,
        b'"' => Lexeme::BlockString {
            quotes: quotes + 1,
            escaped: false,
        },
        b'\\' => Lexeme::BlockString {
            quotes: 0,
            escaped: true,
        },
        _ => Lexeme::BlockString {
            quotes: 0,
            escaped: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> LimitsConfig {
        LimitsConfig::default()
    }

    #[test]
    fn syntax_errors_carry_a_location() {
        let error = parse("{ user(id: 1) { name }", &limits()).unwrap_err();
        assert_eq!(error.code(), codes::PARSE_FAILED);
        assert_eq!(error.locations.len(), 1);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        let error = parse(&deep, &limits()).unwrap_err();
        assert_eq!(error.code(), codes::MAX_RECURSION_LIMIT);
        let in_string = format!("{{ a(x: \"{}\") }}", "{".repeat(1000));
        assert!(parse(&in_string, &limits()).is_ok());
        let in_block = format!("{{ a(x: \"\"\"\" \\\"\"\" {}\"\"\") }}", "{".repeat(1000));
        assert!(parse(&in_block, &limits()).is_ok());
    }

    #[test]
    fn tokens_are_counted_without_commas_comments_or_string_contents() {
        let limits = LimitsConfig {
            max_tokens: 9,
            ..LimitsConfig::default()
        };
        // { a ( x : "s , t" ) ...F } : 9 tokens
        let text = "# a comment with many words\n{ a(x: \"s, t\"),,, ...F }";
        assert!(scan(text, &limits).is_ok());
        let error = scan(&format!("{text} b"), &limits).unwrap_err();
        assert_eq!(error.code(), codes::MAX_TOKENS_LIMIT);
    }
}
