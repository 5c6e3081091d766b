//! Checks `@grpc` fields against the protobuf messages they read and write,
//! at start-up: request template keys must be fields of the input message,
//! and the GraphQL type of the field (recursively, through every plain field
//! of its object types) must be able to hold the response message.
//!
//! Type correspondence (proto3 JSON in, GraphQL out):
//!
//! | protobuf | GraphQL |
//! |---|---|
//! | `string`, `bytes` (base64) | `String`, `ID` |
//! | 32-bit integers | `Int`, `Float`, `String`, `ID` |
//! | 64-bit integers, `uint32` | `String`, `ID`, or `Int` (values beyond 32 bits are a field error) |
//! | `float`, `double` | `Float` |
//! | `bool` | `Boolean` |
//! | enum | a GraphQL enum whose values are the proto names, with or without the enum's prefix; or `String` |
//! | message | an object type whose fields are message fields (by JSON name or proto name) |
//! | `repeated` | a list |
//! | `map<…>`, `Struct`, `Value`, `ListValue`, `Any` | a custom scalar (JSON) |
//! | `Timestamp`, `Duration`, `FieldMask` | `String` (RFC 3339 / `"1.5s"`) |
//! | wrapper types (`Int32Value`, …) | the wrapped scalar, nullable |
//!
//! Any custom scalar accepts any value.

use std::collections::HashSet;

use async_graphql::Positioned;
use async_graphql::parser::Pos;
use async_graphql::parser::types::{BaseType, InputValueDefinition, Type};
use prost_reflect::{FieldDescriptor, Kind as ProtoKind, MessageDescriptor};

use super::build::Builder;
use super::document::{Kind, TypeDef};
use crate::error::Diagnostic;
use crate::template::{Root, ValueTemplate};

/// Checks that every key the request template sets is a field of `input`.
/// A bare `$args` sets one key per argument.
pub fn check_request(
    template: &ValueTemplate,
    input: &MessageDescriptor,
    arguments: &[Positioned<InputValueDefinition>],
) -> Result<(), String> {
    match template {
        ValueTemplate::Var(var) if var.root == Root::Args && var.path.is_empty() => {
            for argument in arguments {
                let name = argument.node.name.node.as_str();
                find_field(input, name).ok_or_else(|| no_field(input, name, "argument"))?;
            }
            Ok(())
        }
        ValueTemplate::Object(entries) => {
            for (key, value) in entries {
                let field = find_field(input, key).ok_or_else(|| no_field(input, key, "key"))?;
                if let (ValueTemplate::Object(_), ProtoKind::Message(nested)) =
                    (value, field.kind())
                {
                    check_request(value, &nested, arguments)?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn no_field(message: &MessageDescriptor, name: &str, what: &str) -> String {
    let known: Vec<String> = message
        .fields()
        .map(|field| field.json_name().to_owned())
        .collect();
    format!(
        "{what} `{name}` is not a field of request message `{}` (fields: {})",
        message.full_name(),
        known.join(", ")
    )
}

fn find_field(message: &MessageDescriptor, name: &str) -> Option<FieldDescriptor> {
    message
        .get_field_by_json_name(name)
        .or_else(|| message.get_field_by_name(name))
}

/// A protobuf value as the response mapping sees it.
#[derive(Clone)]
struct ProtoValue {
    kind: ProtoKind,
    list: bool,
    map: bool,
}

impl ProtoValue {
    fn of(field: &FieldDescriptor) -> Self {
        Self {
            kind: field.kind(),
            list: field.is_list(),
            map: field.is_map(),
        }
    }

    fn describe(&self) -> String {
        let base = match &self.kind {
            ProtoKind::Message(message) => message.full_name().to_owned(),
            ProtoKind::Enum(e) => e.full_name().to_owned(),
            other => format!("{other:?}").to_lowercase(),
        };
        match (self.map, self.list) {
            (true, _) => format!("map of {base}"),
            (_, true) => format!("repeated {base}"),
            _ => base,
        }
    }
}

/// What a protobuf kind is, for matching against GraphQL scalars.
enum Class {
    Int32,
    Int64,
    Float,
    Bool,
    Text,
    Enum(prost_reflect::EnumDescriptor),
    Message(MessageDescriptor),
    Json,
}

fn classify(kind: &ProtoKind) -> Class {
    match kind {
        ProtoKind::Int32 | ProtoKind::Sint32 | ProtoKind::Sfixed32 => Class::Int32,
        ProtoKind::Int64
        | ProtoKind::Sint64
        | ProtoKind::Sfixed64
        | ProtoKind::Uint32
        | ProtoKind::Fixed32
        | ProtoKind::Uint64
        | ProtoKind::Fixed64 => Class::Int64,
        ProtoKind::Float | ProtoKind::Double => Class::Float,
        ProtoKind::Bool => Class::Bool,
        ProtoKind::String | ProtoKind::Bytes => Class::Text,
        ProtoKind::Enum(e) => Class::Enum(e.clone()),
        ProtoKind::Message(message) => classify_message(message),
    }
}

fn classify_message(message: &MessageDescriptor) -> Class {
    match message.full_name().strip_prefix("google.protobuf.") {
        Some("Timestamp" | "Duration" | "FieldMask" | "StringValue" | "BytesValue") => Class::Text,
        Some("Int32Value") => Class::Int32,
        Some("UInt32Value" | "Int64Value" | "UInt64Value") => Class::Int64,
        Some("FloatValue" | "DoubleValue") => Class::Float,
        Some("BoolValue") => Class::Bool,
        Some("Struct" | "Value" | "ListValue" | "Any" | "Empty") => Class::Json,
        _ => Class::Message(message.clone()),
    }
}

/// Checks that the GraphQL type `expected` can hold the response message
/// (or the part of it at `path`). Problems with the directive itself are
/// reported at `location` (file, position, label); problems with fields of
/// object types at those fields.
pub fn check_response(
    builder: &Builder<'_>,
    expected: &Type,
    location: (usize, Pos, &str),
    output: &MessageDescriptor,
    path: &[String],
) -> Vec<Diagnostic> {
    let (file, pos, label) = location;
    let error = |message: String| builder.doc.error(file, pos, format!("{label}: {message}"));
    let mut checker = Checker {
        builder,
        visited: HashSet::new(),
        problems: Vec::new(),
    };
    let mut value = ProtoValue {
        kind: ProtoKind::Message(output.clone()),
        list: false,
        map: false,
    };
    for key in path {
        let ProtoKind::Message(message) = &value.kind else {
            return vec![error(format!(
                "`response: {}` goes past a scalar",
                path.join(".")
            ))];
        };
        let Some(field) = find_field(message, key).filter(|_| !value.list) else {
            return vec![error(format!(
                "`response: {}`: `{key}` is not a field of `{}`",
                path.join("."),
                message.full_name()
            ))];
        };
        value = ProtoValue::of(&field);
    }
    if let Err(message) = checker.check(expected, &value) {
        checker.problems.push(error(message));
    }
    checker.problems
}

struct Checker<'b, 'd> {
    builder: &'b Builder<'d>,
    visited: HashSet<(String, String)>,
    problems: Vec<Diagnostic>,
}

impl Checker<'_, '_> {
    /// Checks one GraphQL type against one protobuf value; object types are
    /// checked field by field, each mismatch reported at its own field.
    fn check(&mut self, ty: &Type, value: &ProtoValue) -> Result<(), String> {
        let cannot_hold = || format!("type `{ty}` cannot hold protobuf `{}`", value.describe());
        match (&ty.base, value.list && !value.map) {
            (BaseType::List(item), true) => {
                let item_value = ProtoValue {
                    list: false,
                    ..value.clone()
                };
                self.check(item, &item_value).map_err(|_| cannot_hold())
            }
            (BaseType::Named(name), false) => self
                .check_named(name, value)
                .map_err(|reason| reason.unwrap_or_else(cannot_hold)),
            _ => Err(cannot_hold()),
        }
    }

    /// `Err(None)`: the plain "cannot hold" message; `Err(Some)`: a more
    /// precise one.
    fn check_named(&mut self, name: &str, value: &ProtoValue) -> Result<(), Option<String>> {
        let defined = self.builder.doc.types.get(name);
        if let Some(TypeDef {
            kind: Kind::Scalar, ..
        }) = defined
        {
            return Ok(());
        }
        if value.map {
            return Err(None);
        }
        let class = classify(&value.kind);
        let fits = matches!(
            (name, &class),
            ("Int", Class::Int32 | Class::Int64)
                | ("Float", Class::Int32 | Class::Int64 | Class::Float)
                | (
                    "String",
                    Class::Text | Class::Int32 | Class::Int64 | Class::Float | Class::Enum(_)
                )
                | ("ID", Class::Text | Class::Int32 | Class::Int64)
                | ("Boolean", Class::Bool)
        );
        if fits {
            return Ok(());
        }
        match (defined, class) {
            (
                Some(
                    ty @ TypeDef {
                        kind: Kind::Enum(_),
                        ..
                    },
                ),
                Class::Enum(proto),
            ) => {
                let values = self.builder.enum_values(&ty.name).ok_or(None)?;
                let unmatched: Vec<String> = proto
                    .values()
                    .filter(|value| value.number() != 0 && values.resolve(value.name()).is_none())
                    .map(|value| value.name().to_owned())
                    .collect();
                if unmatched.is_empty() {
                    Ok(())
                } else {
                    Err(Some(format!(
                        "enum `{}` has no value for protobuf {}",
                        ty.name,
                        unmatched.join(", ")
                    )))
                }
            }
            (
                Some(
                    ty @ TypeDef {
                        kind: Kind::Object(_),
                        ..
                    },
                ),
                Class::Message(message),
            ) => {
                self.check_object(ty, &message);
                Ok(())
            }
            _ => Err(None),
        }
    }

    fn check_object(&mut self, ty: &TypeDef, message: &MessageDescriptor) {
        if !self
            .visited
            .insert((ty.name.clone(), message.full_name().to_owned()))
        {
            return;
        }
        let Kind::Object(fields) = &ty.kind else {
            return;
        };
        for field in fields {
            let name = field.node.node.name.node.as_str();
            let Some(path) = self.builder.projection(&ty.name, name) else {
                continue;
            };
            let result =
                walk(message, &path).and_then(|value| self.check(&field.node.node.ty.node, &value));
            if let Err(problem) = result {
                let message = format!("`{}.{name}`: {problem}", ty.name);
                self.problems.push(self.builder.doc.error(
                    field.file,
                    field.node.node.ty.pos,
                    message,
                ));
            }
        }
    }
}

/// The protobuf value at a JSON path within a message.
fn walk(message: &MessageDescriptor, path: &[String]) -> Result<ProtoValue, String> {
    let mut current = message.clone();
    let mut value = None;
    for key in path {
        let field = find_field(&current, key)
            .ok_or_else(|| format!("message `{}` has no field `{key}`", current.full_name()))?;
        let found = ProtoValue::of(&field);
        if let ProtoKind::Message(next) = &found.kind {
            current = next.clone();
        }
        value = Some(found);
    }
    value.ok_or_else(|| "an empty path".to_owned())
}
