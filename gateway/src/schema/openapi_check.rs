//! Checks `@rest` directives against their source's OpenAPI document
//! (`openapi =` in `[sources.<name>]`), at start-up:
//!
//! - the path exists, with the directive's method (a `{$args.id}` stands
//!   for any path parameter);
//! - every query parameter the directive sends is a parameter of the
//!   operation, and every required one is sent;
//! - `response:` and `groupBy` name properties of the answer (of its items,
//!   for `groupBy`);
//! - the field's type can hold the answer (the first 2xx JSON response),
//!   recursively through every plain field of its object types.
//!
//! | OpenAPI | GraphQL |
//! |---|---|
//! | `integer` | `Int`, `Float`, `ID` |
//! | `number` | `Float` |
//! | `string` | `String`, `ID`, an enum (every value of the schema's `enum` must be one of the enum's) |
//! | `boolean` | `Boolean` |
//! | `object` with properties | an object type whose plain fields are properties (by name or `@map`) |
//! | `array` | a list |
//! | not `required`, or nullable | a nullable field |
//!
//! A custom scalar holds anything; a schema weft cannot read (`oneOf` of
//! several types, an object without properties) holds anything too.
//! Mistakes in the directive are reported at its argument (`get:`,
//! `response:`, `groupBy:`), mistakes in a type's fields at the field, once
//! however many directives reach it.

use std::collections::HashSet;

use async_graphql::parser::Pos;
use async_graphql::parser::types::{BaseType, Type};

use super::build::Builder;
use super::connect::Target;
use super::directives::RestSpec;
use super::document::{Kind as TypeKind, TypeDef};
use crate::error::Diagnostic;
use crate::openapi::{Document, Kind, Operation, Schema};

/// The problems of one `@rest` directive of `target` against `doc`;
/// `expected` is the type the answer (at `response:`) must fit.
pub(crate) fn check(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &RestSpec,
    expected: &Type,
    doc: &Document,
) -> Vec<Diagnostic> {
    let mut check = Check {
        builder,
        target,
        doc,
        visited: HashSet::new(),
        problems: Vec::new(),
    };
    check.directive(spec, expected);
    check.problems
}

struct Check<'a, 'b, 'd> {
    builder: &'a Builder<'b>,
    target: &'a Target<'b>,
    doc: &'d Document,
    visited: HashSet<(String, String)>,
    problems: Vec<Diagnostic>,
}

/// Where a schema stands, for messages: `users.yaml #/components/schemas/User`.
fn site(doc: &Document, schema: &Schema<'_>) -> String {
    format!("{} {}", doc.name, schema.pointer)
}

impl<'d> Check<'_, '_, 'd> {
    fn at(&mut self, pos: Pos, message: &str) {
        let label = &self.target.label;
        let problem = self
            .builder
            .doc
            .error(self.target.file, pos, format!("{label}: {message}"));
        self.problems.push(problem);
    }

    fn directive(&mut self, spec: &RestSpec, expected: &Type) {
        let Some(operation) = self.operation(spec) else {
            return;
        };
        self.query(spec, &operation);
        let Some((_, Some(answer))) = self.doc.response(&operation) else {
            return;
        };
        let label = operation.label();
        let Some(answer) = self.response(spec, answer, &label) else {
            return;
        };
        if let Some(group_by) = &spec.group_by {
            let Kind::Array(items) = &answer.kind else {
                let message = format!(
                    "`groupBy` needs a list answer, but `{label}` answers {} ({})",
                    answer.describe(),
                    site(self.doc, &answer)
                );
                self.at(group_by.pos, &message);
                return;
            };
            let keys: Vec<String> = group_by.value.split('.').map(str::to_owned).collect();
            if let Err(message) = self.walk(items, &keys) {
                let message = format!(
                    "`groupBy: \"{}\"`: the items of the answer of `{label}` have {message}",
                    group_by.value
                );
                self.at(group_by.pos, &message);
                return;
            }
        }
        if let Err(message) = self.fits(expected, &answer) {
            let pos = spec.response.as_ref().map_or(spec.target.pos, |at| at.pos);
            self.at(pos, &format!("the answer of `{label}`: {message}"));
        }
    }

    /// The document's operation for the directive's method and path.
    fn operation(&mut self, spec: &RestSpec) -> Option<Operation<'d>> {
        let method = spec.method.as_str().to_ascii_lowercase();
        let path = spec.target.value.split('?').next().unwrap_or_default();
        let paths = self.doc.path_names();
        let Some(found) = find_path(&paths, path) else {
            let message = format!(
                "`{} {path}`: {} has no such path (its paths: {})",
                spec.method,
                self.doc.name,
                paths.join(", ")
            );
            self.at(spec.target.pos, &message);
            return None;
        };
        let operation = self.doc.operation(found, &method);
        if operation.is_none() {
            let methods: Vec<String> = self
                .doc
                .operations()
                .iter()
                .filter(|operation| operation.path == found)
                .map(|operation| operation.method.to_uppercase())
                .collect();
            let message = format!(
                "{} has no {} operation on `{found}` (it has: {})",
                self.doc.name,
                spec.method,
                methods.join(", ")
            );
            self.at(spec.target.pos, &message);
        }
        operation
    }

    /// The query parameters the directive sends against the operation's.
    fn query(&mut self, spec: &RestSpec, operation: &Operation<'d>) {
        let sent: Vec<&str> = spec
            .target
            .value
            .split_once('?')
            .map(|(_, query)| {
                query
                    .split('&')
                    .filter(|pair| !pair.is_empty())
                    .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
                    .collect()
            })
            .unwrap_or_default();
        let known = operation.parameters_in("query");
        let names: Vec<&str> = known.iter().map(|parameter| parameter.name).collect();
        for name in &sent {
            if !names.contains(name) {
                let message = format!(
                    "query parameter `{name}` is not a parameter of `{}` in {} (its query parameters: {})",
                    operation.label(),
                    self.doc.name,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                );
                self.at(spec.target.pos, &message);
            }
        }
        for parameter in known {
            if parameter.required && !sent.contains(&parameter.name) {
                let message = format!(
                    "`{}` in {} requires query parameter `{}`",
                    operation.label(),
                    self.doc.name,
                    parameter.name
                );
                self.at(spec.target.pos, &message);
            }
        }
    }

    /// The part of the answer at `response:`.
    fn response(&mut self, spec: &RestSpec, answer: Schema<'d>, label: &str) -> Option<Schema<'d>> {
        let Some(response) = &spec.response else {
            return Some(answer);
        };
        let keys: Vec<String> = response.value.split('.').map(str::to_owned).collect();
        match self.walk(&answer, &keys) {
            Ok(Some((schema, _))) => Some(schema),
            Ok(None) => None,
            Err(message) => {
                let message = format!(
                    "`response: \"{}\"`: the answer of `{label}` has {message}",
                    response.value
                );
                self.at(response.pos, &message);
                None
            }
        }
    }

    /// The property at `keys` of an object schema, and whether it is always
    /// there; `Ok(None)` when a schema on the way does not list its
    /// properties; `Err` saying which key is missing (`no property …`).
    fn walk(
        &self,
        schema: &Schema<'d>,
        keys: &[String],
    ) -> Result<Option<(Schema<'d>, bool)>, String> {
        let mut current = (schema.clone(), true);
        for key in keys {
            let properties = current.0.properties(self.doc);
            if !matches!(current.0.kind, Kind::Object) {
                if matches!(current.0.kind, Kind::Any) {
                    return Ok(None);
                }
                return Err(format!(
                    "no property `{key}`: it is {} ({})",
                    current.0.describe(),
                    site(self.doc, &current.0)
                ));
            }
            if properties.is_empty() {
                return Ok(None);
            }
            let Some(property) = properties.iter().find(|property| property.name == key) else {
                let mut names: Vec<&str> =
                    properties.iter().map(|property| property.name).collect();
                names.sort_unstable();
                return Err(format!(
                    "no property `{key}` ({}; properties: {})",
                    site(self.doc, &current.0),
                    names.join(", ")
                ));
            };
            current = (property.schema.clone(), current.1 && property.required);
        }
        Ok(Some(current))
    }

    /// Whether the GraphQL type `ty` can hold values of `schema`; the
    /// fields of object types are checked on their own, each mistake at
    /// its field.
    fn fits(&mut self, ty: &Type, schema: &Schema<'d>) -> Result<(), String> {
        let cannot_hold = || {
            format!(
                "type `{ty}` cannot hold OpenAPI `{}` ({})",
                schema.describe(),
                site(self.doc, schema)
            )
        };
        match (&ty.base, &schema.kind) {
            (_, Kind::Any) => Ok(()),
            (BaseType::List(item), Kind::Array(items)) => {
                self.fits(item, items).map_err(|_| cannot_hold())?;
                if !item.nullable && items.nullable {
                    return Err(format!(
                        "type `{ty}` holds no null item, but the items may be null ({})",
                        site(self.doc, items)
                    ));
                }
                Ok(())
            }
            (BaseType::Named(name), kind) if !matches!(kind, Kind::Array(_)) => self
                .fits_named(name, schema)
                .map_err(|reason| reason.unwrap_or_else(cannot_hold)),
            _ => Err(cannot_hold()),
        }
    }

    /// `Err(None)`: the plain "cannot hold"; `Err(Some)`: a more precise
    /// reason.
    fn fits_named(&mut self, name: &str, schema: &Schema<'d>) -> Result<(), Option<String>> {
        let defined = self.builder.doc.types.get(name);
        let fits = match &schema.kind {
            Kind::Integer => matches!(name, "Int" | "Float" | "ID"),
            Kind::Number => name == "Float",
            Kind::String => matches!(name, "String" | "ID"),
            Kind::Boolean => name == "Boolean",
            _ => false,
        };
        match defined.map(|ty| (ty, &ty.kind)) {
            _ if fits => Ok(()),
            Some((_, TypeKind::Scalar)) => Ok(()),
            Some((ty, TypeKind::Enum(_))) if matches!(schema.kind, Kind::String) => {
                self.fits_enum(&ty.name, schema)
            }
            Some((ty, TypeKind::Object(_))) if matches!(schema.kind, Kind::Object) => {
                self.fits_object(ty, schema);
                Ok(())
            }
            // Each value is one of several object types: not held against
            // one schema.
            Some((_, TypeKind::Interface(_) | TypeKind::Union(_)))
                if matches!(schema.kind, Kind::Object) =>
            {
                Ok(())
            }
            _ => Err(None),
        }
    }

    fn fits_enum(&self, name: &str, schema: &Schema<'d>) -> Result<(), Option<String>> {
        let (Some(values), Some(graphql)) = (schema.enum_values(), self.builder.enum_values(name))
        else {
            return Ok(());
        };
        let missing: Vec<&str> = values
            .into_iter()
            .filter(|value| graphql.resolve(value).is_none())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        Err(Some(format!(
            "enum `{name}` has no value for {} ({})",
            missing.join(", "),
            site(self.doc, schema)
        )))
    }

    fn fits_object(&mut self, ty: &TypeDef, schema: &Schema<'d>) {
        if !self
            .visited
            .insert((ty.name.clone(), schema.pointer.clone()))
        {
            return;
        }
        let TypeKind::Object(fields) = &ty.kind else {
            return;
        };
        for field in fields {
            let name = field.node.node.name.node.as_str();
            let Some(path) = self.builder.projection(&ty.name, name) else {
                continue;
            };
            let declared = &field.node.node.ty;
            let problem = match self.walk(schema, &path) {
                Ok(None) => continue,
                Err(message) => Some((field.node.pos, format!("the object has {message}"))),
                Ok(Some((property, always))) => match self.fits(&declared.node, &property) {
                    Err(message) => Some((declared.pos, message)),
                    Ok(()) if !declared.node.nullable && (!always || property.nullable) => {
                        let why = if property.nullable {
                            "it may be null"
                        } else {
                            "it is not `required`"
                        };
                        Some((
                            declared.pos,
                            format!(
                                "type `{}` is non-null, but {why} ({})",
                                declared.node,
                                site(self.doc, &property)
                            ),
                        ))
                    }
                    Ok(()) => None,
                },
            };
            if let Some((pos, message)) = problem {
                let message = format!("`{}.{name}`: {message}", ty.name);
                self.problems
                    .push(self.builder.doc.error(field.file, pos, message));
            }
        }
    }
}

/// The document path a directive's path stands for: the same number of
/// segments, literal segments equal, a placeholder of the directive only
/// where the document has a parameter; among several, the one with the
/// most literal segments in common.
fn find_path<'p>(paths: &[&'p str], wanted: &str) -> Option<&'p str> {
    let segments = |path: &'p str| -> Vec<&'p str> {
        let trimmed = path.trim_end_matches('/');
        trimmed.split('/').collect()
    };
    let wanted: Vec<&str> = wanted.trim_end_matches('/').split('/').collect();
    paths
        .iter()
        .filter_map(|path| {
            let candidate = segments(path);
            if candidate.len() != wanted.len() {
                return None;
            }
            let mut score = 0;
            for (documented, written) in candidate.iter().zip(&wanted) {
                if documented.contains('{') {
                    continue;
                }
                if written.contains('{') || documented != written {
                    return None;
                }
                score += 1;
            }
            Some((score, *path))
        })
        .max_by_key(|(score, _)| *score)
        .map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::find_path;

    #[test]
    fn paths_match_by_segment_with_placeholders_for_parameters() {
        let paths = ["/users", "/users/{id}", "/users/me", "/orders/{id}/status"];
        assert_eq!(find_path(&paths, "/users"), Some("/users"));
        assert_eq!(find_path(&paths, "/users/{$args.id}"), Some("/users/{id}"));
        assert_eq!(find_path(&paths, "/users/me"), Some("/users/me"));
        assert_eq!(find_path(&paths, "/users/7"), Some("/users/{id}"));
        assert_eq!(
            find_path(&paths, "/orders/{$this.orderId}/status"),
            Some("/orders/{id}/status")
        );
        assert_eq!(find_path(&paths, "/user/{$args.id}"), None);
        assert_eq!(find_path(&paths, "/orders/{$args.id}"), None);
    }
}
