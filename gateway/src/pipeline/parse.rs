//! Stage 1: the document text → its syntax tree.
//!
//! Nesting is measured before the parser runs, so a document of thousands
//! of nested brackets is refused in one pass over its bytes instead of
//! exhausting the (recursive) parser's stack.

use graphql_tools::parser::query::parse_query;
use graphql_tools::static_graphql::query::Document;

use crate::error::{GraphqlError, codes};

/// How deeply `{`, `[` and `(` may nest in a document.
pub const MAX_NESTING: usize = 128;

/// Parses `text` into a document that owns its strings.
pub fn parse(text: &str) -> Result<Document, GraphqlError> {
    check_nesting(text)?;
    parse_query::<String>(text)
        .map(graphql_tools::parser::query::Document::into_static)
        .map_err(|error| {
            let position = error.0.position;
            let message = error.to_string().replace('\n', " ").trim().to_owned();
            GraphqlError::new(message, codes::PARSE_FAILED).located(position.line, position.column)
        })
}

/// Refuses a document whose brackets nest deeper than [`MAX_NESTING`];
/// brackets inside strings and comments do not count.
fn check_nesting(text: &str) -> Result<(), GraphqlError> {
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut in_comment = false;
    let mut escaped = false;
    for byte in text.bytes() {
        if in_comment {
            in_comment = byte != b'\n' && byte != b'\r';
            continue;
        }
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'#' => in_comment = true,
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(GraphqlError::new(
                        format!("the document nests deeper than {MAX_NESTING} levels"),
                        codes::PARSE_FAILED,
                    ));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_carry_a_location() {
        let error = parse("{ user(id: 1) { name }").unwrap_err();
        assert_eq!(error.code(), codes::PARSE_FAILED);
        assert_eq!(error.locations.len(), 1);
    }

    #[test]
    fn deep_nesting_is_refused_before_parsing() {
        let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        let error = parse(&deep).unwrap_err();
        assert!(error.message.contains("nests deeper"), "{}", error.message);
        let in_string = format!("{{ a(x: \"{}\") }}", "{".repeat(1000));
        assert!(parse(&in_string).is_ok());
    }
}
