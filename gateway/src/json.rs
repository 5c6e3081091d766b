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

/// Like [`find`], but looks for the first key where it was found last
/// time (`hint`) before searching the object: objects of one answer almost
/// always share one key order, so most lookups compare one key.
pub fn find_hinted<'v>(value: &'v Json, path: &[String], hint: &mut u8) -> Option<&'v Json> {
    let (first, rest) = path.split_first()?;
    let object = value.as_object()?;
    let at_hint = object
        .iter()
        .nth(usize::from(*hint))
        .filter(|(key, _)| *key == first.as_str());
    let found = if let Some((_, found)) = at_hint {
        found
    } else {
        let (index, (_, found)) = object
            .iter()
            .enumerate()
            .find(|(_, (key, _))| *key == first.as_str())?;
        *hint = u8::try_from(index).unwrap_or(0);
        found
    };
    find(found, rest)
}

/// Where each field of one operation found its key last ([`find_hinted`]),
/// by field id.
pub struct KeyHints(Vec<u8>);

impl KeyHints {
    /// Hints for field ids up to `fields`.
    pub fn new(fields: usize) -> Self {
        Self(vec![0; fields + 1])
    }

    /// [`find`] for the field with id `field`.
    pub fn find<'v>(&mut self, value: &'v Json, path: &[String], field: u32) -> Option<&'v Json> {
        match self.0.get_mut(field as usize) {
            Some(hint) => find_hinted(value, path, hint),
            None => find(value, path),
        }
    }
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
    fn hinted_lookups_find_keys_in_any_order() {
        let first: Json = sonic_rs::from_str(r#"{"a": 1, "b": 2, "c": {"d": 3}}"#).unwrap();
        let second: Json = sonic_rs::from_str(r#"{"c": {"d": 4}, "b": 5}"#).unwrap();
        let mut hints = KeyHints::new(1);
        let int = |found: Option<&Json>| found.and_then(JsonValueTrait::as_i64);
        let path = ["b".to_owned()];
        assert_eq!(int(hints.find(&first, &path, 1)), Some(2));
        assert_eq!(int(hints.find(&second, &path, 1)), Some(5));
        assert_eq!(int(hints.find(&first, &path, 1)), Some(2));
        let nested = ["c".to_owned(), "d".to_owned()];
        assert_eq!(int(hints.find(&second, &nested, 1)), Some(4));
        assert!(hints.find(&second, &["a".to_owned()], 1).is_none());
        assert!(hints.find(&first, &path, 7).is_some());
    }

    #[test]
    fn keys_match_across_numbers_and_strings() {
        let number: Json = sonic_rs::from_str("7").unwrap();
        let text: Json = sonic_rs::from_str("\"7\"").unwrap();
        assert_eq!(key_text(&number), key_text(&text));
    }
}
