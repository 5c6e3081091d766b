//! Binds an `@rest` or `@grpc` directive to its source: looks the source and
//! method up, parses the request templates, and checks every variable they
//! use against what the directive is attached to.
//!
//! | variable | available on |
//! |---|---|
//! | `$args.<argument>[.<input field>…]` | fields |
//! | `$this.<field>` | fields of non-root types; `<field>` must be a plain (not fetched) field |
//! | `$batch.<key field>` | an entity type's directive |
//! | `$batch.<parent field>` | a field with `groupBy` |

use std::cell::RefCell;

use async_graphql::parser::Pos;
use async_graphql::parser::types::{FieldDefinition, Type};
use prost_reflect::MessageDescriptor;
use reqwest::header::HeaderName;

use super::build::{Builder, base_name};
use super::directives::{Arg, EventSpec, FetchSpec, GrpcSpec, RestSpec};
use super::document::{Kind, Located, TypeDef};
use super::model::{EventMessage, EventPlan, PublishPlan, StreamPlan};
use super::proto_check;
use crate::error::Diagnostic;
use crate::sources::Connector;
use crate::sources::grpc::{GrpcCall, Projections};
use crate::sources::rest::RestCall;
use crate::sources::transcode::Transcoder;
use crate::template::{Root, StringTemplate, UrlTemplate, ValueTemplate};

/// What `$batch` may name in a template.
#[derive(Debug, Clone)]
pub enum BatchVars {
    /// `$batch` is not available.
    None,
    /// Fields of the parent type (a field batched with `groupBy`).
    Parent,
    /// The entity's key fields.
    Keys(Vec<String>),
}

/// What a directive is attached to.
pub struct Target<'d> {
    /// The type the field belongs to, or the entity type.
    pub ty: &'d TypeDef,
    /// The field; `None` for a directive on a type.
    pub field: Option<&'d Located<FieldDefinition>>,
    /// The file the directive is in.
    pub file: usize,
    /// `Type.field` or `type Type`, for messages.
    pub label: String,
    /// What `$batch` may name.
    pub batch: BatchVars,
}

/// A directive bound to its source.
pub struct Connected {
    /// Renders and sends the call.
    pub connector: Box<dyn Connector>,
    /// The JSON path of the value within the response.
    pub response: Vec<String>,
    /// The names used under `$batch`, in order of first use.
    pub batch_names: Vec<String>,
    /// The source's `max_batch_size`.
    pub max_batch_size: usize,
}

type Problems = Vec<Diagnostic>;

impl Target<'_> {
    pub(super) fn problem(&self, builder: &Builder<'_>, pos: Pos, message: &str) -> Problems {
        vec![
            builder
                .doc
                .error(self.file, pos, format!("{}: {message}", self.label)),
        ]
    }
}

/// Binds `spec` to its source. `expected` is the GraphQL type the response
/// (at `response:`) must be able to hold; it is checked for gRPC sources.
pub fn connect(
    builder: &Builder<'_>,
    target: &Target<'_>,
    pos: Pos,
    spec: &FetchSpec,
    expected: &Type,
) -> Result<Connected, Problems> {
    let used = RefCell::new(Vec::new());
    let resolve = variables(builder, target, &used);
    let (connector, response, max_batch_size) = match spec {
        FetchSpec::Rest(rest) => rest_call(builder, target, rest, &resolve)?,
        FetchSpec::Grpc(grpc) => grpc_call(builder, target, pos, grpc, &resolve, expected)?,
    };
    Ok(Connected {
        connector,
        response,
        batch_names: used.take(),
        max_batch_size,
    })
}

/// Parses an `@entity(key:)` template for a field.
pub fn entity_key(
    builder: &Builder<'_>,
    target: &Target<'_>,
    key: &Arg<String>,
) -> Result<ValueTemplate, Problems> {
    let used = RefCell::new(Vec::new());
    let resolve = variables(builder, target, &used);
    ValueTemplate::parse(&key.value, &resolve)
        .map_err(|message| target.problem(builder, key.pos, &message))
}

type Resolver<'r> = dyn Fn(Root, &[String]) -> Result<Vec<String>, String> + 'r;
type Bound = (Box<dyn Connector>, Vec<String>, usize);

/// Whether the directive is on a mutation field: its calls are never sent
/// twice, whatever their method.
fn in_mutation(builder: &Builder<'_>, target: &Target<'_>) -> bool {
    target.field.is_some() && target.ty.name == builder.doc.roots.mutation
}

fn response_path(response: Option<&Arg<String>>) -> Vec<String> {
    response.map_or_else(Vec::new, |path| {
        path.value.split('.').map(str::to_owned).collect()
    })
}

fn rest_call(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &RestSpec,
    resolve: &Resolver<'_>,
) -> Result<Bound, Problems> {
    let at = |arg: &Arg<String>, message: String| target.problem(builder, arg.pos, &message);
    let Some(source) = builder.sources.rest.get(&spec.source.value) else {
        return Err(at(
            &spec.source,
            unknown_source(builder, &spec.source.value, "rest"),
        ));
    };
    let url = UrlTemplate::parse(&spec.target.value, resolve)
        .map_err(|message| at(&spec.target, message))?;
    let body = spec
        .body
        .as_ref()
        .map(|body| ValueTemplate::parse(&body.value, resolve).map_err(|message| at(body, message)))
        .transpose()?;
    let headers = spec
        .headers
        .iter()
        .map(|header| {
            let (name, value) = header.value.split_once(':').ok_or_else(|| {
                at(
                    header,
                    format!("header `{}` must read `Name: value`", header.value),
                )
            })?;
            let name: HeaderName = name.trim().parse().map_err(|_| {
                at(
                    header,
                    format!("`{}` is not a valid header name", name.trim()),
                )
            })?;
            let value = StringTemplate::parse(value.trim(), resolve)
                .map_err(|message| at(header, message))?;
            Ok((name, value))
        })
        .collect::<Result<_, Problems>>()?;
    let call = RestCall {
        source: source.clone(),
        method: spec.method.clone(),
        target: url,
        route: spec.target.value.clone(),
        headers,
        body,
        retryable: spec.method == reqwest::Method::GET && !in_mutation(builder, target),
    };
    Ok((
        Box::new(call),
        response_path(spec.response.as_ref()),
        source.limits().max_batch_size,
    ))
}

/// A bound gRPC method: source, method, request and response path.
struct GrpcParts {
    source: std::sync::Arc<crate::sources::grpc::GrpcSource>,
    method: prost_reflect::MethodDescriptor,
    request: ValueTemplate,
    response: Vec<String>,
}

/// Looks a gRPC method up and checks its request and response; `streaming`
/// says whether a server-streaming (rather than a unary) method is wanted.
fn grpc_parts(
    builder: &Builder<'_>,
    target: &Target<'_>,
    pos: Pos,
    spec: &GrpcSpec,
    resolve: &Resolver<'_>,
    (expected, streaming): (&Type, bool),
) -> Result<GrpcParts, Problems> {
    let at = |pos: Pos, message: String| target.problem(builder, pos, &message);
    let Some(source) = builder.sources.grpc.get(&spec.source.value) else {
        return Err(at(
            spec.source.pos,
            unknown_source(builder, &spec.source.value, "grpc"),
        ));
    };
    let Some(method) = source.method(&spec.method.value) else {
        let known = source.method_names().join(", ");
        let message = format!(
            "source `{}` has no method `{}`; it has: {known}",
            spec.source.value, spec.method.value
        );
        return Err(at(spec.method.pos, message));
    };
    if method.is_client_streaming() || method.is_server_streaming() != streaming {
        let wanted = if streaming {
            "a server-streaming method on a subscription field"
        } else {
            "a unary method"
        };
        return Err(at(
            spec.method.pos,
            format!("`{}`: @grpc here needs {wanted}", spec.method.value),
        ));
    }
    let request_text = spec
        .request
        .as_ref()
        .map_or("$args", |request| request.value.as_str());
    let request_pos = spec.request.as_ref().map_or(pos, |request| request.pos);
    let request =
        ValueTemplate::parse(request_text, resolve).map_err(|message| at(request_pos, message))?;
    let arguments = target
        .field
        .map_or(&[][..], |field| &field.node.node.arguments[..]);
    proto_check::check_request(&request, &method.input(), arguments)
        .map_err(|message| at(request_pos, message))?;
    let response = response_path(spec.response.as_ref());
    let response_pos = spec.response.as_ref().map_or(pos, |response| response.pos);
    let location = (target.file, response_pos, target.label.as_str());
    let problems =
        proto_check::check_response(builder, expected, location, &method.output(), &response);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(GrpcParts {
        source: source.clone(),
        method,
        request,
        response,
    })
}

fn grpc_call(
    builder: &Builder<'_>,
    target: &Target<'_>,
    pos: Pos,
    spec: &GrpcSpec,
    resolve: &Resolver<'_>,
    expected: &Type,
) -> Result<Bound, Problems> {
    let parts = grpc_parts(builder, target, pos, spec, resolve, (expected, false))?;
    let max_batch_size = parts.source.limits().max_batch_size;
    let retryable = parts.source.is_idempotent(&parts.method) && !in_mutation(builder, target);
    let call = GrpcCall {
        source: parts.source,
        method: parts.method,
        request: parts.request,
        retryable,
        projections: Projections::default(),
    };
    Ok((Box::new(call), parts.response, max_batch_size))
}

/// Binds `@grpc` on a subscription field to a server-streaming method.
pub fn stream_plan(
    builder: &Builder<'_>,
    target: &Target<'_>,
    pos: Pos,
    spec: &GrpcSpec,
    expected: &Type,
) -> Result<StreamPlan, Problems> {
    let used = RefCell::new(Vec::new());
    let resolve = variables(builder, target, &used);
    let parts = grpc_parts(builder, target, pos, spec, &resolve, (expected, true))?;
    Ok(StreamPlan {
        source: parts.source,
        method: parts.method,
        request: parts.request,
        response: parts.response,
    })
}

/// Parses `@event(topic:, filter:, protobuf:, source:)` on a subscription
/// field whose type is `expected`.
pub fn event_plan(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &EventSpec,
    expected: &Type,
) -> Result<EventPlan, Problems> {
    let (topic, filter) = event_templates(builder, target, spec)?;
    let message = match &spec.protobuf {
        Some(name) => Some(event_message(
            builder,
            target,
            name,
            spec.source.as_ref(),
            expected,
        )?),
        None if spec.source.is_some() => {
            let pos = spec
                .source
                .as_ref()
                .map_or(spec.topic.pos, |source| source.pos);
            return Err(target.problem(
                builder,
                pos,
                "@event takes `source` only with `protobuf`, to say where the message type is",
            ));
        }
        None => None,
    };
    let initial = super::initial::plan(builder, target, spec)?;
    Ok(EventPlan {
        topic,
        filter,
        message,
        initial,
    })
}

/// The protobuf message `@event(protobuf:)` names, checked against the
/// field's type `expected`.
fn event_message(
    builder: &Builder<'_>,
    target: &Target<'_>,
    name: &Arg<String>,
    source: Option<&Arg<String>>,
    expected: &Type,
) -> Result<EventMessage, Problems> {
    let descriptor = find_message(builder, name, source)
        .map_err(|(pos, message)| target.problem(builder, pos, &message))?;
    let location = (target.file, name.pos, target.label.as_str());
    let problems = proto_check::check_response(builder, expected, location, &descriptor, &[]);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(EventMessage {
        name: descriptor.full_name().to_owned(),
        transcoder: Transcoder::new(&descriptor),
    })
}

/// The message `name` in `source`'s descriptors, or else in those of the
/// one gRPC source that defines it; the error says where and why not.
fn find_message(
    builder: &Builder<'_>,
    name: &Arg<String>,
    source: Option<&Arg<String>>,
) -> Result<MessageDescriptor, (Pos, String)> {
    let grpc = &builder.sources.grpc;
    let mut searched: Vec<&String> = match source {
        Some(source) if grpc.contains_key(&source.value) => vec![&source.value],
        Some(source) => return Err((source.pos, not_grpc(builder, &source.value))),
        None => grpc.keys().collect(),
    };
    searched.sort_unstable();
    let found: Vec<(&String, MessageDescriptor)> = searched
        .into_iter()
        .filter_map(|source| Some((source, grpc.get(source)?.message(&name.value)?)))
        .collect();
    match found.as_slice() {
        [(_, descriptor)] => Ok(descriptor.clone()),
        [] => {
            let none = source.map_or_else(
                || "no gRPC source defines it".to_owned(),
                |source| format!("gRPC source `{}` does not define it", source.value),
            );
            let message = format!(
                "`protobuf: {}`: {none} (a message type's full name reads `package.Message`)",
                name.value
            );
            Err((name.pos, message))
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(source, _)| source.as_str()).collect();
            let message = format!(
                "`protobuf: {}` is defined by the gRPC sources {}; say which with `source:`",
                name.value,
                names.join(", ")
            );
            Err((name.pos, message))
        }
    }
}

/// Why `source` cannot define an event's message type.
fn not_grpc(builder: &Builder<'_>, source: &str) -> String {
    let mut grpc: Vec<&str> = builder.sources.grpc.keys().map(String::as_str).collect();
    grpc.sort_unstable();
    format!(
        "`source: {source}` is not a gRPC source; `protobuf:` message types come from the \
         descriptors of one (gRPC sources: {})",
        grpc.join(", ")
    )
}

/// Parses `@publish(topic:, payload:)` on a mutation field.
pub fn publish_plan(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &EventSpec,
) -> Result<PublishPlan, Problems> {
    let (topic, payload) = event_templates(builder, target, spec)?;
    Ok(PublishPlan { topic, payload })
}

fn event_templates(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &EventSpec,
) -> Result<(StringTemplate, Option<ValueTemplate>), Problems> {
    let used = RefCell::new(Vec::new());
    let resolve = variables(builder, target, &used);
    let at = |pos: Pos, message: String| target.problem(builder, pos, &message);
    let topic = StringTemplate::parse(&spec.topic.value, &resolve)
        .map_err(|message| at(spec.topic.pos, message))?;
    let value = spec
        .value
        .as_ref()
        .map(|value| {
            ValueTemplate::parse(&value.value, &resolve).map_err(|message| at(value.pos, message))
        })
        .transpose()?;
    Ok((topic, value))
}

fn unknown_source(builder: &Builder<'_>, name: &str, kind: &str) -> String {
    let other = if kind == "rest" {
        builder.sources.grpc.contains_key(name)
    } else {
        builder.sources.rest.contains_key(name)
    };
    if other {
        let directive = if kind == "rest" { "@grpc" } else { "@rest" };
        return format!("source `{name}` is not a {kind} source; use {directive} with it");
    }
    format!(
        "unknown source `{name}`; the config defines: {}",
        builder.sources.names().join(", ")
    )
}

/// The variable checker for templates of `target`; names used under
/// `$batch` are collected in `used`.
fn variables<'a>(
    builder: &'a Builder<'_>,
    target: &'a Target<'_>,
    used: &'a RefCell<Vec<String>>,
) -> impl Fn(Root, &[String]) -> Result<Vec<String>, String> + 'a {
    move |root, path| resolve_var(builder, target, used, root, path)
}

/// Checks one template variable against what the directive is attached to,
/// and returns the JSON path to read at request time.
fn resolve_var(
    builder: &Builder<'_>,
    target: &Target<'_>,
    used: &RefCell<Vec<String>>,
    root: Root,
    path: &[String],
) -> Result<Vec<String>, String> {
    match root {
        Root::Args => {
            let field = target.field.ok_or("`$args` is only available on fields")?;
            check_argument_path(builder, field, path)?;
            Ok(path.to_vec())
        }
        Root::This => {
            if target.field.is_none() || builder.is_root(&target.ty.name) {
                return Err("`$this` is only available on fields of non-root types".to_owned());
            }
            let Some(first) = path.first() else {
                return Ok(Vec::new());
            };
            let mut json_path = plain_field(builder, target.ty, first, "$this")?;
            json_path.extend(path[1..].iter().cloned());
            Ok(json_path)
        }
        Root::Request => match path {
            [headers, name] if headers == "headers" => Ok(vec![name.to_ascii_lowercase()]),
            _ => Err("`$request` takes a header: `$request.headers.<name>`".to_owned()),
        },
        Root::Connection | Root::Jwt if path.is_empty() => Err(format!(
            "`{}` takes a key: `{}.<key>`",
            root.name(),
            root.name()
        )),
        Root::Connection | Root::Jwt => Ok(path.to_vec()),
        Root::Batch => {
            let [name] = path else {
                return Err("`$batch` takes one name: `$batch.<field>`".to_owned());
            };
            match &target.batch {
                BatchVars::None => {
                    return Err(
                        "`$batch` is only available on an entity type's directive or with `groupBy`".to_owned(),
                    );
                }
                BatchVars::Parent => {
                    plain_field(builder, target.ty, name, "$batch")?;
                }
                BatchVars::Keys(keys) if !keys.contains(name) => {
                    return Err(format!(
                        "`$batch.{name}`: `{name}` is not a key field ({})",
                        keys.join(", ")
                    ));
                }
                BatchVars::Keys(_) => {}
            }
            let mut used = used.borrow_mut();
            if !used.contains(name) {
                used.push(name.clone());
            }
            Ok(path.to_vec())
        }
    }
}

/// The JSON path of a plain field of `ty`, or why `variable.name` cannot
/// read it.
fn plain_field(
    builder: &Builder<'_>,
    ty: &TypeDef,
    name: &str,
    variable: &str,
) -> Result<Vec<String>, String> {
    let Kind::Object(fields) = &ty.kind else {
        return Err(format!("`{}` has no fields", ty.name));
    };
    if !fields.iter().any(|field| field.node.node.name.node == name) {
        return Err(format!(
            "`{variable}.{name}`: type `{}` has no field `{name}`",
            ty.name
        ));
    }
    builder.projection(&ty.name, name).ok_or_else(|| {
        format!("`{variable}.{name}`: field `{name}` is itself fetched, so its value is not in the parent")
    })
}

fn check_argument_path(
    builder: &Builder<'_>,
    field: &Located<FieldDefinition>,
    path: &[String],
) -> Result<(), String> {
    let Some(first) = path.first() else {
        return Ok(());
    };
    let arguments = &field.node.node.arguments;
    let Some(argument) = arguments
        .iter()
        .find(|argument| argument.node.name.node == first.as_str())
    else {
        let known: Vec<&str> = arguments
            .iter()
            .map(|argument| argument.node.name.node.as_str())
            .collect();
        let known = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        return Err(format!(
            "`$args.{first}`: the field has no argument `{first}` (arguments: {known})"
        ));
    };
    let mut type_name = base_name(&argument.node.ty.node);
    for key in &path[1..] {
        let Some(Kind::Input(fields)) = builder.doc.types.get(type_name).map(|ty| &ty.kind) else {
            return Err(format!(
                "`$args.{}`: `{type_name}` has no fields",
                path.join(".")
            ));
        };
        let Some(field) = fields
            .iter()
            .find(|field| field.node.node.name.node == key.as_str())
        else {
            return Err(format!(
                "`$args.{}`: input `{type_name}` has no field `{key}`",
                path.join(".")
            ));
        };
        type_name = base_name(&field.node.node.ty.node);
    }
    Ok(())
}
