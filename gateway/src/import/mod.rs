//! `weft import`: SDL with weft's directives, drafted from what a service
//! already publishes about itself, for a person to read, adjust and add to
//! `[schema] files`. One module per kind of description: [`openapi`]
//! (OpenAPI documents) and [`grpc`] (`.proto` files, or gRPC server
//! reflection); this module holds what they share: GraphQL names made from
//! the service's names, and the SDL text of names, strings and descriptions.

pub mod grpc;
pub mod openapi;

use std::fmt::Write as _;

/// Whether `name` is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`) that may
/// name a field, type or enum value (`true`, `false` and `null` may not).
pub(crate) fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(name, "true" | "false" | "null")
}

/// The words of a name written in any case: `full_name`, `user-id` and
/// `userId` all split at their separators; case changes are kept as they are.
fn words(name: &str) -> Vec<&str> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect()
}

fn upper_first(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

pub(crate) fn lower_first(word: &str) -> String {
    if word.chars().all(|c| !c.is_ascii_lowercase()) {
        return word.to_ascii_lowercase();
    }
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_ascii_lowercase().to_string() + chars.as_str()
    })
}

/// `full_name` → `fullName`, `GetUser` → `getUser`; a leading digit gets an
/// `_` in front. Empty when `name` has no letter or digit.
pub(crate) fn camel(name: &str) -> String {
    let words = words(name);
    let Some((first, rest)) = words.split_first() else {
        return String::new();
    };
    let text = lower_first(first)
        + &rest
            .iter()
            .map(|word| upper_first(word))
            .collect::<String>();
    guard_digit(text)
}

/// `order_item` → `OrderItem`, `user` → `User`.
pub(crate) fn pascal(name: &str) -> String {
    guard_digit(words(name).iter().map(|word| upper_first(word)).collect())
}

fn guard_digit(text: String) -> String {
    if text.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{text}")
    } else {
        text
    }
}

/// A plural for a field name: `order` → `orders`, `category` →
/// `categories`, `address` → `addresses`.
pub(crate) fn plural(word: &str) -> String {
    if let Some(stem) = word.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        return format!("{stem}ies");
    }
    if word.ends_with('s') || word.ends_with('x') || word.ends_with("sh") || word.ends_with("ch") {
        return format!("{word}es");
    }
    format!("{word}s")
}

/// The singular of a plural made by [`plural`]: `ids` → `id`, `items` →
/// `item`, `categories` → `category`; `None` when `word` does not end in `s`.
pub(crate) fn singular(word: &str) -> Option<String> {
    if let Some(stem) = word.strip_suffix("ies") {
        return Some(format!("{stem}y"));
    }
    let stem = word.strip_suffix('s')?;
    (!stem.is_empty()).then(|| stem.to_owned())
}

/// A GraphQL string literal: `"…"` with `"` and `\` escaped.
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A description as SDL, indented by `indent`, ending in a newline: one
/// line as `"…"`, more as a block string.
pub(crate) fn description(text: &str, indent: &str) -> String {
    let text = text.trim();
    if !text.contains('\n') {
        return format!("{indent}{}\n", string(text));
    }
    let mut out = format!("{indent}\"\"\"\n");
    for line in text.lines() {
        let line = line.trim_end().replace("\"\"\"", "\\\"\"\"");
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    let _ = writeln!(out, "{indent}\"\"\"");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_from_any_case() {
        assert_eq!(camel("full_name"), "fullName");
        assert_eq!(camel("GetUser"), "getUser");
        assert_eq!(camel("user-id"), "userId");
        assert_eq!(camel("URL"), "url");
        assert_eq!(camel("2fa"), "_2fa");
        assert_eq!(camel("--"), "");
        assert_eq!(pascal("order_item"), "OrderItem");
        assert_eq!(pascal("user"), "User");
        assert!(is_name("_a1") && !is_name("1a") && !is_name("a-b") && !is_name("null"));
    }

    #[test]
    fn plurals_and_singulars_go_both_ways() {
        for (one, many) in [
            ("order", "orders"),
            ("category", "categories"),
            ("address", "addresses"),
            ("day", "days"),
        ] {
            assert_eq!(plural(one), many);
        }
        assert_eq!(singular("ids").as_deref(), Some("id"));
        assert_eq!(singular("categories").as_deref(), Some("category"));
        assert_eq!(singular("userIds").as_deref(), Some("userId"));
        assert_eq!(singular("id"), None);
    }

    #[test]
    fn strings_and_descriptions_are_escaped() {
        assert_eq!(string("a \"b\" \\ c"), r#""a \"b\" \\ c""#);
        assert_eq!(description("One line.", "  "), "  \"One line.\"\n");
        assert_eq!(
            description("Two\n\nlines \"\"\" here", ""),
            "\"\"\"\nTwo\n\nlines \\\"\"\" here\n\"\"\"\n"
        );
    }
}
