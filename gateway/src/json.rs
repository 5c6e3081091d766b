//! Backend JSON. Every answer is parsed once into a [`Json`] value (sonic-rs:
//! SIMD parsing, values allocated together and freed together, small
//! objects searched in place) that the executor reads and the writer copies
//! from, never cloned per field. Requests and events stay `serde_json`
//! values; the two meet only where a template reads the parent object or a
//! bus event becomes a subscription's root value.

pub use sonic_rs::{JsonContainerTrait, JsonValueTrait, Value as Json};

/// Follows a path of object keys; `None` when a key is missing or the value
/// found is `null`.
pub fn find<'v>(value: &'v Json, path: &[String]) -> Option<&'v Json> {
    path.iter()
        .try_fold(value, |current, key| current.get(key.as_str()))
        .filter(|found| !found.is_null())
}

/// A backend value as a `serde_json` value (for templates and events).
pub fn to_plain(json: &Json) -> serde_json::Value {
    serde_json::to_value(json).unwrap_or(serde_json::Value::Null)
}

/// A `serde_json` value as a backend value.
pub fn from_plain(value: &serde_json::Value) -> Json {
    sonic_rs::to_value(value).unwrap_or_default()
}

/// A key as text, so that `7` and `"7"` match: backends often disagree on
/// whether an id is a number or a string.
pub fn key_text(json: &Json) -> String {
    match json.as_str() {
        Some(text) => text.to_owned(),
        None => sonic_rs::to_string(json).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_follows_keys_and_treats_null_as_missing() {
        let value: Json = sonic_rs::from_str(r#"{"a": {"b": 1, "n": null}}"#).unwrap();
        assert_eq!(
            find(&value, &["a".into(), "b".into()]).and_then(JsonValueTrait::as_i64),
            Some(1)
        );
        assert!(find(&value, &["a".into(), "n".into()]).is_none());
        assert!(find(&value, &["x".into()]).is_none());
    }

    #[test]
    fn keys_match_across_numbers_and_strings() {
        let number: Json = sonic_rs::from_str("7").unwrap();
        let text: Json = sonic_rs::from_str("\"7\"").unwrap();
        assert_eq!(key_text(&number), key_text(&text));
    }
}
