//! Part of stage 6 (execute): a GraphQL subgraph's `errors`, placed where
//! the client sees them.
//!
//! A subgraph answers `errors` beside (or instead of) `data`; each error's
//! `path` is a path in the document weft sent (`<key>.…` for a root field,
//! `_entities.<i>.<field>.…` for an entity batch). As the executor files a
//! subgraph's results it places each error:
//!
//! - at the JSON value its path ends at, which the subgraph made `null` —
//!   or at the `null` the subgraph propagated it up to, with the rest of
//!   the path kept;
//! - at the field that made the call, under each parent it was made for,
//!   when the path is missing or leads nowhere in the answer (or ends
//!   above the field's value: the field itself failed).
//!
//! The writer reports each error where it meets its place, with the
//! client's response keys and list indexes, so a value shown under several
//! parents (identical keys sent once) reports its error under each. A
//! `null` reported this way needs no error of its own; null propagation
//! then follows the client's schema. The subgraph's `message` and
//! `extensions` are kept; `extensions.code` is `SOURCE_GRAPHQL_ERROR`
//! when it has none. Its `locations` (in a document the client never saw)
//! are replaced by the client's field's.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde_json::Value;

use super::execute::SlotKey;
use super::normalize::{Field, FieldKind, SelectionSet};
use crate::error::{GraphqlError, PathSegment, codes};
use crate::json::{self, Doc, Json};

/// A subgraph's error as the client sees it, and the part of its path
/// below its place (in the subgraph's field names).
#[derive(Debug)]
pub(crate) struct SubgraphError {
    error: GraphqlError,
    below: Vec<PathSegment>,
}

/// An error of a subgraph answer, and its path in the answer's `data`
/// (`None` without one).
#[derive(Debug)]
pub(crate) struct Raised {
    pub(crate) error: GraphqlError,
    pub(crate) path: Option<Vec<PathSegment>>,
}

impl Raised {
    /// The error placed with `below` left of its path.
    pub(crate) fn placed(&self, below: &[PathSegment]) -> Arc<SubgraphError> {
        Arc::new(SubgraphError {
            error: self.error.clone(),
            below: below.to_vec(),
        })
    }
}

/// Every subgraph error placed in one run's results.
#[derive(Debug, Default)]
pub(crate) struct Placed {
    at_values: FxHashMap<(usize, u32), Vec<Arc<SubgraphError>>>,
    at_fields: FxHashMap<SlotKey, Vec<Arc<SubgraphError>>>,
}

impl Placed {
    /// Whether no error is placed.
    pub(crate) fn is_empty(&self) -> bool {
        self.at_values.is_empty() && self.at_fields.is_empty()
    }

    /// Places an error at a value of an answer.
    pub(crate) fn at_value(&mut self, value: Json<'_>, error: Arc<SubgraphError>) {
        self.at_values
            .entry(value.identity())
            .or_default()
            .push(error);
    }

    /// Places an error at the field filed under `key`.
    pub(crate) fn at_field(&mut self, key: SlotKey, error: Arc<SubgraphError>) {
        self.at_fields.entry(key).or_default().push(error);
    }

    /// Adds every error of `other`.
    pub(crate) fn merge(&mut self, other: Self) {
        for (at, errors) in other.at_values {
            self.at_values.entry(at).or_default().extend(errors);
        }
        for (key, errors) in other.at_fields {
            self.at_fields.entry(key).or_default().extend(errors);
        }
    }

    /// The errors placed at `value`.
    #[inline]
    pub(crate) fn of_value(&self, value: Json<'_>) -> &[Arc<SubgraphError>] {
        if self.at_values.is_empty() {
            return &[];
        }
        self.at_value_placed(value.identity())
    }

    /// The errors placed at the field filed under `key`.
    #[inline]
    pub(crate) fn of_field(&self, key: SlotKey) -> &[Arc<SubgraphError>] {
        // Asked for every fetched field written: most answers place none.
        if self.at_fields.is_empty() {
            return &[];
        }
        self.at_field_placed(key)
    }

    // The lookups are out of line, for the reason given at `Results::get`.

    #[cold]
    #[inline(never)]
    fn at_value_placed(&self, identity: (usize, u32)) -> &[Arc<SubgraphError>] {
        self.at_values.get(&identity).map_or(&[], Vec::as_slice)
    }

    #[cold]
    #[inline(never)]
    fn at_field_placed(&self, key: SlotKey) -> &[Arc<SubgraphError>] {
        self.at_fields.get(&key).map_or(&[], Vec::as_slice)
    }
}

/// The errors of a subgraph answer.
pub(crate) fn raised(answer: Json<'_>) -> Vec<Raised> {
    let Some(errors) = answer.get("errors").and_then(Json::items) else {
        return Vec::new();
    };
    errors.map(one_raised).collect()
}

fn one_raised(error: Json<'_>) -> Raised {
    let message = error.get("message").and_then(Json::as_str).map_or_else(
        || "the subgraph sent an error without a message".to_owned(),
        std::borrow::Cow::into_owned,
    );
    let mut graphql = GraphqlError::new(message, codes::SOURCE_GRAPHQL_ERROR);
    if let Some(Value::Object(extensions)) = error.get("extensions").map(json::to_plain) {
        graphql.extensions.extend(extensions);
        if !graphql.extensions.get("code").is_some_and(Value::is_string) {
            graphql
                .extensions
                .insert("code".to_owned(), codes::SOURCE_GRAPHQL_ERROR.into());
        }
    }
    Raised {
        error: graphql,
        path: error.get("path").and_then(path_of),
    }
}

/// A `path` of keys and indexes; `None` for anything else.
fn path_of(path: Json<'_>) -> Option<Vec<PathSegment>> {
    path.items()?
        .map(|segment| match segment.as_str() {
            Some(key) => Some(PathSegment::Key(key.into_owned())),
            None => segment
                .as_i64()
                .and_then(|index| usize::try_from(index).ok())
                .map(PathSegment::Index),
        })
        .collect()
}

/// Follows `path` from `value` to the `null` it ends at, or the `null` met
/// on the way (with the rest of the path), or the object that lacks the
/// path's last key (with that key: some subgraphs leave a failed field
/// out); `None` when it leads nowhere.
pub(crate) fn follow<'a, 'p>(
    value: Json<'a>,
    path: &'p [PathSegment],
) -> Option<(Json<'a>, &'p [PathSegment])> {
    let mut at = value;
    for (n, segment) in path.iter().enumerate() {
        if at.is_null() {
            return Some((at, &path[n..]));
        }
        at = match segment {
            PathSegment::Key(key) => match at.get(key) {
                Some(found) => found,
                None if n + 1 == path.len() && at.is_object() => return Some((at, &path[n..])),
                None => return None,
            },
            PathSegment::Index(index) => at.items()?.nth(*index)?,
        };
    }
    at.is_null().then_some((at, &[]))
}

/// The errors placed at `object` for its `name` field, which it lacks.
pub(crate) fn of_missing<'p>(
    placed: &'p Placed,
    object: Json<'_>,
    name: &str,
) -> impl Iterator<Item = (&'p SubgraphError, &'p [PathSegment])> {
    placed
        .of_value(object)
        .iter()
        .filter_map(move |error| match error.below.as_slice() {
            [PathSegment::Key(key), below @ ..] if key == name => Some((&**error, below)),
            _ => None,
        })
}

/// Places the errors of a root fetch's answer: the field's value is at
/// `response` (`data.<key>`), and the field is filed under `slot`.
pub(crate) fn place_root(answer: &Doc, response: &[String], slot: SlotKey, placed: &mut Placed) {
    let root = answer.root();
    let value = response
        .iter()
        .try_fold(root, |at, key| at.get(key))
        .filter(|value| !value.is_null());
    let prefix = response.get(1..).unwrap_or_default();
    for raised in raised(root) {
        let below = raised.path.as_deref().and_then(|path| strip(path, prefix));
        match (below, value) {
            (Some(below), Some(value)) => match follow(value, below) {
                Some((null, rest)) => placed.at_value(null, raised.placed(rest)),
                None => placed.at_field(slot, raised.placed(&[])),
            },
            (Some(below), None) => placed.at_field(slot, raised.placed(below)),
            (None, _) => placed.at_field(slot, raised.placed(&[])),
        }
    }
}

/// `path` without `prefix` (keys), when it starts with it.
fn strip<'p>(path: &'p [PathSegment], prefix: &[String]) -> Option<&'p [PathSegment]> {
    let head = path.get(..prefix.len())?;
    let same = head
        .iter()
        .zip(prefix)
        .all(|(segment, key)| matches!(segment, PathSegment::Key(k) if k == key));
    same.then(|| &path[prefix.len()..])
}

/// What one `_entities` answer gave a chunk of representations.
#[derive(Debug, Default)]
pub(crate) struct Entities {
    /// Per representation: the value of the asked field (maybe `null`),
    /// or `None` when the entity or the field is missing.
    pub(crate) values: Vec<Option<u32>>,
    /// Per representation: errors at its field.
    pub(crate) errors: Vec<Vec<Arc<SubgraphError>>>,
    /// Errors at values inside the answer.
    pub(crate) placed: Placed,
}

/// Matches an `_entities` answer to `sent` representations by position
/// and places its errors; `field` is the response key of the field asked
/// of each entity, or none when the entity itself is the value. `fields`
/// are the response keys of every field the call asked (several fields
/// may share it): an error at another one's key is not `field`'s. An
/// answer whose list is not one entity per representation is refused,
/// unless the subgraph said why it has none (errors, no list).
pub(crate) fn entities(
    answer: &Doc,
    field: Option<&str>,
    fields: &[String],
    sent: usize,
) -> Result<Entities, usize> {
    let root = answer.root();
    let raised = raised(root);
    let list = root
        .get("data")
        .and_then(|data| data.get("_entities"))
        .filter(|list| !list.is_null());
    let items: Vec<Json<'_>> = match list {
        Some(list) => list.items().map(Iterator::collect).unwrap_or_default(),
        None if !raised.is_empty() => Vec::new(),
        None => return Err(0),
    };
    if list.is_some() && items.len() != sent {
        return Err(items.len());
    }
    let value_of = |at: usize| {
        let item = items.get(at).copied();
        field.map_or(item, |field| item.and_then(|item| item.get(field)))
    };
    let mut entities = Entities {
        values: (0..sent).map(|at| value_of(at).map(Json::index)).collect(),
        errors: vec![Vec::new(); sent],
        placed: Placed::default(),
    };
    for raised in &raised {
        let place = raised.path.as_deref().and_then(|path| match path {
            [PathSegment::Key(list), PathSegment::Index(at), rest @ ..]
                if list == "_entities" && *at < sent =>
            {
                Some((*at, rest))
            }
            _ => None,
        });
        let Some((at, rest)) = place else {
            for errors in &mut entities.errors {
                errors.push(raised.placed(&[]));
            }
            continue;
        };
        let below = match (rest, field) {
            ([PathSegment::Key(name), below @ ..], Some(field)) if name == field => below,
            ([PathSegment::Key(name), ..], Some(_)) if fields.contains(name) => continue,
            (below, None) => below,
            _ => &[],
        };
        match value_of(at) {
            Some(value) if !value.is_null() => match follow(value, below) {
                Some((null, rest)) => entities.placed.at_value(null, raised.placed(rest)),
                None => entities.errors[at].push(raised.placed(&[])),
            },
            Some(null) if below.is_empty() => entities.placed.at_value(null, raised.placed(&[])),
            _ => entities.errors[at].push(raised.placed(below)),
        }
    }
    if list.is_none() {
        let missing = Arc::new(SubgraphError {
            error: GraphqlError::new(
                "the subgraph answered errors and no `_entities`",
                codes::SOURCE_GRAPHQL_ERROR,
            ),
            below: Vec::new(),
        });
        for errors in entities
            .errors
            .iter_mut()
            .filter(|errors| errors.is_empty())
        {
            errors.push(missing.clone());
        }
    }
    Ok(entities)
}

/// The error as reported under `field`, whose place in the response is
/// `path`: the rest of the subgraph's path with the client's response
/// keys, located at the deepest field it names.
pub(crate) fn reported(
    error: &SubgraphError,
    field: &Field,
    path: Vec<PathSegment>,
) -> GraphqlError {
    reported_below(error, &error.below, field, path)
}

/// [`reported`] with `below` as the rest of its path.
pub(crate) fn reported_below(
    error: &SubgraphError,
    below: &[PathSegment],
    field: &Field,
    mut path: Vec<PathSegment>,
) -> GraphqlError {
    let mut location = field.location;
    let mut selection = field.selection.as_ref();
    for segment in below {
        match segment {
            PathSegment::Index(index) => path.push(PathSegment::Index(*index)),
            PathSegment::Key(name) => {
                let child = selection.and_then(|set| by_name(set, name));
                path.push(PathSegment::Key(
                    child.map_or_else(|| name.clone(), |child| child.key.clone()),
                ));
                if let Some(child) = child {
                    location = child.location;
                }
                selection = child.and_then(|child| child.selection.as_ref());
            }
        }
    }
    let mut reported = error.error.clone().at(path);
    reported.locations = vec![location];
    reported
}

/// The first field of `set` that asks `name` of the subgraph.
fn by_name<'s>(set: &'s SelectionSet, name: &str) -> Option<&'s Field> {
    set.all_fields().find(|field| match &field.kind {
        FieldKind::Schema(definition) => definition.name == name,
        FieldKind::Typename(_) => name == "__typename",
        FieldKind::Introspection => false,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(value: &Value) -> Doc {
        Doc::from_plain(value)
    }

    #[test]
    fn errors_keep_their_message_extensions_and_path() {
        let answer = doc(&json!({ "errors": [
            { "message": "kept", "path": ["_entities", 1, "secret"], "extensions": { "code": "FORBIDDEN", "reason": "x" } },
            { "message": "plain" },
        ] }));
        let raised = raised(answer.root());
        assert_eq!(raised.len(), 2);
        assert_eq!(raised[0].error.code(), "FORBIDDEN");
        assert_eq!(raised[0].error.extensions["reason"], "x");
        assert_eq!(
            raised[0].path,
            Some(vec![
                PathSegment::Key("_entities".to_owned()),
                PathSegment::Index(1),
                PathSegment::Key("secret".to_owned()),
            ])
        );
        assert_eq!(raised[1].error.code(), codes::SOURCE_GRAPHQL_ERROR);
        assert_eq!(raised[1].path, None);
    }

    #[test]
    fn a_path_is_followed_to_its_null_or_the_null_above_it() {
        let answer = doc(&json!({ "list": [{ "a": 1 }, { "a": null }], "gone": null }));
        let root = answer.root();
        let path = |segments: Value| {
            let segments = doc(&segments);
            path_of(segments.root()).unwrap()
        };
        let to_a = path(json!(["list", 1, "a"]));
        let (null, rest) = follow(root, &to_a).unwrap();
        assert!(null.is_null() && rest.is_empty());
        let below = path(json!(["gone", 0, "b"]));
        let (_, rest) = follow(root, &below).unwrap();
        assert_eq!(rest, &below[1..]);
        assert!(follow(root, &path(json!(["list", 0, "a"]))).is_none());
        let left_out = path(json!(["list", 0, "b"]));
        let (object, rest) = follow(root, &left_out).unwrap();
        assert!(object.is_object());
        assert_eq!(rest, &left_out[2..]);
        assert!(follow(root, &path(json!(["list", 0, "b", "c"]))).is_none());
        assert!(follow(root, &path(json!(["list", 5]))).is_none());
    }

    #[test]
    fn entities_are_matched_by_position_and_their_errors_placed() {
        let answer = doc(&json!({
            "data": { "_entities": [{ "secret": "s1" }, { "secret": null }, null] },
            "errors": [
                { "message": "one", "path": ["_entities", 1, "secret"] },
                { "message": "two", "path": ["_entities", 2] },
                { "message": "all" },
            ],
        }));
        let entities = entities(&answer, Some("secret"), &[], 3).unwrap();
        assert_eq!(entities.values.len(), 3);
        assert!(entities.values[0].is_some() && entities.values[1].is_some());
        assert_eq!(entities.values[2], None);
        let messages = |errors: &[Arc<SubgraphError>]| -> Vec<String> {
            errors.iter().map(|e| e.error.message.clone()).collect()
        };
        assert_eq!(messages(&entities.errors[0]), ["all"]);
        assert_eq!(messages(&entities.errors[1]), ["all"]);
        assert_eq!(messages(&entities.errors[2]), ["two", "all"]);
        let null = answer.at(entities.values[1].unwrap());
        assert_eq!(messages(entities.placed.of_value(null)), ["one"]);
        assert_eq!(
            super::entities(&answer, Some("secret"), &[], 4).unwrap_err(),
            3
        );
    }

    #[test]
    fn an_error_at_another_fields_key_of_a_shared_call_is_not_this_fields() {
        let answer = doc(&json!({
            "data": { "_entities": [{ "a": null, "b": "x" }] },
            "errors": [{ "message": "a failed", "path": ["_entities", 0, "a"] }],
        }));
        let fields = ["a".to_owned(), "b".to_owned()];
        let b = entities(&answer, Some("b"), &fields, 1).unwrap();
        assert!(b.errors[0].is_empty() && b.placed.is_empty());
        let a = entities(&answer, Some("a"), &fields, 1).unwrap();
        let null = answer.at(a.values[0].unwrap());
        assert_eq!(a.placed.of_value(null).len(), 1);
        // Alone in its call, a field takes an error at a key it did not ask.
        let alone = entities(&answer, Some("b"), &[], 1).unwrap();
        assert_eq!(alone.errors[0].len(), 1);
    }
}
