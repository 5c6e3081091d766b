//! Completes a response the way GraphQL requires when fields fail: a failed
//! field is `null`, and when it is non-null the `null` moves up to its
//! nearest nullable ancestor (the whole `data` when there is none).
//!
//! The dynamic executor drops a failed field from its parent instead, so
//! resolvers record their errors with a path (see
//! [`resolve::reported`](super::resolve::reported)) and this pass, run on
//! responses that carry errors, walks each error's path through the
//! operation and the schema to place the `null`s.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::Registry;
use async_graphql::{Name, PathSegment, Positioned, Response, Value};

/// The message the executor adds when a non-null field resolved to nothing;
/// redundant next to the resolver's own error at the same path.
const NON_NULL_WITHOUT_VALUE: &str = "internal: non-null types require a return value";

/// Places the `null`s the errors in `response` call for. `query` and
/// `operation` are the request's; a query that does not parse is left alone.
pub fn propagate(
    response: &mut Response,
    registry: &Registry,
    query: &str,
    operation: Option<&str>,
) {
    if response.errors.iter().all(|error| error.path.is_empty()) {
        return;
    }
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return;
    };
    drop_redundant_errors(response);
    let Some((root, selection)) = root_of(&document, registry, operation) else {
        return;
    };
    let paths: Vec<Vec<PathSegment>> = response
        .errors
        .iter()
        .map(|error| error.path.clone())
        .collect();
    for path in paths.iter().filter(|path| !path.is_empty()) {
        let walk = Walk {
            document: &document,
            registry,
        };
        let nullable = walk.nullability(root, selection, path);
        match nullable.iter().rposition(|nullable| *nullable) {
            Some(depth) => set_null(&mut response.data, &path[..=depth]),
            None => response.data = Value::Null,
        }
    }
}

fn drop_redundant_errors(response: &mut Response) {
    let reported: Vec<Vec<PathSegment>> = response
        .errors
        .iter()
        .filter(|error| error.message != NON_NULL_WITHOUT_VALUE)
        .map(|error| error.path.clone())
        .collect();
    response
        .errors
        .retain(|error| error.message != NON_NULL_WITHOUT_VALUE || !reported.contains(&error.path));
}

fn root_of<'d>(
    document: &'d ExecutableDocument,
    registry: &'d Registry,
    name: Option<&str>,
) -> Option<(&'d str, &'d Positioned<SelectionSet>)> {
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => operation,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name)?,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    let root = match operation.node.ty {
        OperationType::Query => registry.query_type.as_str(),
        OperationType::Mutation => registry.mutation_type.as_deref()?,
        OperationType::Subscription => registry.subscription_type.as_deref()?,
    };
    Some((root, &operation.node.selection_set))
}

struct Walk<'d> {
    document: &'d ExecutableDocument,
    registry: &'d Registry,
}

impl<'d> Walk<'d> {
    /// For each prefix of `path` (by its last segment), whether the value
    /// there may be `null`. Stops early where the path leaves the schema.
    fn nullability(
        &self,
        root: &'d str,
        selection: &'d Positioned<SelectionSet>,
        path: &[PathSegment],
    ) -> Vec<bool> {
        let mut nullable = Vec::with_capacity(path.len());
        let mut type_name = root;
        let mut selection = selection;
        let mut ty = String::new();
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let Some(field) = self.find(selection, key) else {
                        break;
                    };
                    let Some(meta) = self
                        .registry
                        .types
                        .get(type_name)
                        .and_then(|t| t.field_by_name(&field.node.name.node))
                    else {
                        break;
                    };
                    ty.clone_from(&meta.ty);
                    selection = &field.node.selection_set;
                }
                PathSegment::Index(_) => {
                    let Some(item) = ty
                        .trim_end_matches('!')
                        .strip_prefix('[')
                        .and_then(|t| t.strip_suffix(']'))
                    else {
                        break;
                    };
                    ty = item.to_owned();
                }
            }
            nullable.push(!ty.ends_with('!'));
            type_name = ty.trim_matches(|c| c == '[' || c == ']' || c == '!');
        }
        nullable
    }

    /// The field selected under response key `key`, through fragments.
    fn find(
        &self,
        selection: &'d Positioned<SelectionSet>,
        key: &str,
    ) -> Option<&'d Positioned<async_graphql::parser::types::Field>> {
        selection
            .node
            .items
            .iter()
            .find_map(|item| match &item.node {
                Selection::Field(field) => (field.node.response_key().node == key).then_some(field),
                Selection::FragmentSpread(spread) => {
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    self.find(&fragment.node.selection_set, key)
                }
                Selection::InlineFragment(inline) => self.find(&inline.node.selection_set, key),
            })
    }
}

/// Sets the value at `path` to `null`, unless something above it already is.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = data;
    for segment in parents {
        current = match (current, segment) {
            (Value::Object(map), PathSegment::Field(key)) => match map.get_mut(key.as_str()) {
                Some(value) => value,
                None => return,
            },
            (Value::List(items), PathSegment::Index(index)) => match items.get_mut(*index) {
                Some(value) => value,
                None => return,
            },
            _ => return,
        };
    }
    match (current, last) {
        (Value::Object(map), PathSegment::Field(key)) => {
            map.insert(Name::new(key), Value::Null);
        }
        (Value::List(items), PathSegment::Index(index)) => {
            if let Some(item) = items.get_mut(*index) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}
