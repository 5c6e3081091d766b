//! Binds an `@rest` or `@grpc` directive to its source: looks the source and
//! method up, parses the request templates, and checks every variable they
//! use against the field's arguments and the parent type.

use async_graphql::parser::Pos;
use reqwest::header::HeaderName;

use super::build::{Builder, Site, base_name};
use super::directives::{Arg, FetchSpec, GrpcSpec, RestSpec};
use super::document::Kind;
use super::proto_check;
use crate::error::Diagnostic;
use crate::sources::Connector;
use crate::sources::grpc::GrpcCall;
use crate::sources::rest::RestCall;
use crate::template::{Root, StringTemplate, UrlTemplate, ValueTemplate};

/// The connector for a fetched field, and the JSON path of its value in the
/// response; `None` after reporting what is wrong.
pub fn connect(
    builder: &mut Builder<'_>,
    site: Site<'_>,
    pos: Pos,
    spec: &FetchSpec,
) -> Option<(Box<dyn Connector>, Vec<String>)> {
    let result = match spec {
        FetchSpec::Rest(rest) => rest_call(builder, site, rest),
        FetchSpec::Grpc(grpc) => grpc_call(builder, site, pos, grpc),
    };
    match result {
        Ok(connected) => Some(connected),
        Err(errors) => {
            for error in errors {
                builder.problems.push(error);
            }
            None
        }
    }
}

type Problems = Vec<Diagnostic>;

/// Reports `message` about the field at `pos` of the field's file.
fn problem(builder: &Builder<'_>, site: Site<'_>, pos: Pos, message: &str) -> Problems {
    vec![
        builder
            .doc
            .error(site.field.file, pos, format!("{}: {message}", site.name())),
    ]
}

fn response_path(response: Option<&Arg<String>>) -> Vec<String> {
    response.map_or_else(Vec::new, |path| {
        path.value.split('.').map(str::to_owned).collect()
    })
}

fn rest_call(
    builder: &Builder<'_>,
    site: Site<'_>,
    spec: &RestSpec,
) -> Result<(Box<dyn Connector>, Vec<String>), Problems> {
    let at = |arg: &Arg<String>, message: String| problem(builder, site, arg.pos, &message);
    let Some(source) = builder.sources.rest.get(&spec.source.value) else {
        return Err(at(
            &spec.source,
            unknown_source(builder, &spec.source.value, "rest"),
        ));
    };
    let resolve = |root: Root, path: &[String]| resolve_var(builder, site, root, path);
    let target = UrlTemplate::parse(&spec.target.value, &resolve)
        .map_err(|message| at(&spec.target, message))?;
    let body = spec
        .body
        .as_ref()
        .map(|body| {
            ValueTemplate::parse(&body.value, &resolve).map_err(|message| at(body, message))
        })
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
            let value = StringTemplate::parse(value.trim(), &resolve)
                .map_err(|message| at(header, message))?;
            Ok((name, value))
        })
        .collect::<Result<_, Problems>>()?;
    let call = RestCall {
        source: source.clone(),
        method: spec.method.clone(),
        target,
        headers,
        body,
    };
    Ok((Box::new(call), response_path(spec.response.as_ref())))
}

fn grpc_call(
    builder: &Builder<'_>,
    site: Site<'_>,
    pos: Pos,
    spec: &GrpcSpec,
) -> Result<(Box<dyn Connector>, Vec<String>), Problems> {
    let at = |arg: &Arg<String>, message: String| problem(builder, site, arg.pos, &message);
    let Some(source) = builder.sources.grpc.get(&spec.source.value) else {
        return Err(at(
            &spec.source,
            unknown_source(builder, &spec.source.value, "grpc"),
        ));
    };
    let Some(method) = source.method(&spec.method.value) else {
        let known = source.method_names().join(", ");
        return Err(at(
            &spec.method,
            format!(
                "source `{}` has no method `{}`; it has: {known}",
                spec.source.value, spec.method.value
            ),
        ));
    };
    if method.is_client_streaming() || method.is_server_streaming() {
        return Err(at(
            &spec.method,
            format!(
                "`{}` is a streaming method; @grpc here needs a unary one",
                spec.method.value
            ),
        ));
    }
    let resolve = |root: Root, path: &[String]| resolve_var(builder, site, root, path);
    let request_text = spec
        .request
        .as_ref()
        .map_or("$args", |request| request.value.as_str());
    let request_pos = spec.request.as_ref().map_or(pos, |request| request.pos);
    let request = ValueTemplate::parse(request_text, &resolve)
        .map_err(|message| problem(builder, site, request_pos, &message))?;
    let fits =
        proto_check::check_request(&request, &method.input(), &site.field.node.node.arguments);
    fits.map_err(|message| problem(builder, site, request_pos, &message))?;
    let response = response_path(spec.response.as_ref());
    let response_pos = spec.response.as_ref().map_or(pos, |response| response.pos);
    let problems =
        proto_check::check_response(builder, site, response_pos, &method.output(), &response);
    if !problems.is_empty() {
        return Err(problems);
    }
    let call = GrpcCall {
        source: source.clone(),
        method,
        request,
    };
    Ok((Box::new(call), response))
}

fn unknown_source(builder: &Builder<'_>, name: &str, kind: &str) -> String {
    let other = if kind == "rest" {
        &builder.sources.grpc.contains_key(name)
    } else {
        &builder.sources.rest.contains_key(name)
    };
    if *other {
        let directive = if kind == "rest" { "@grpc" } else { "@rest" };
        return format!("source `{name}` is not a {kind} source; use {directive} with it");
    }
    format!(
        "unknown source `{name}`; the config defines: {}",
        builder.sources.names().join(", ")
    )
}

/// Checks one template variable: `$args.<argument>[.<input field>…]` must name
/// an argument of the field; `$this.<field>` must name a plain field of the
/// parent type, and is rewritten to that field's JSON path.
fn resolve_var(
    builder: &Builder<'_>,
    site: Site<'_>,
    root: Root,
    path: &[String],
) -> Result<Vec<String>, String> {
    match root {
        Root::Args => {
            check_argument_path(builder, site, path)?;
            Ok(path.to_vec())
        }
        Root::This => {
            if builder.is_root(&site.ty.name) {
                return Err("`$this` has no value on a root field".to_owned());
            }
            let Some(first) = path.first() else {
                return Ok(Vec::new());
            };
            let Kind::Object(fields) = &site.ty.kind else {
                unreachable!("fields belong to objects")
            };
            if !fields
                .iter()
                .any(|field| field.node.node.name.node == first.as_str())
            {
                return Err(format!(
                    "`$this.{first}`: type `{}` has no field `{first}`",
                    site.ty.name
                ));
            }
            let mut json_path = builder
                .projection(&site.ty.name, first)
                .ok_or_else(|| format!("`$this.{first}`: field `{first}` is itself fetched, so its value is not in the parent"))?;
            json_path.extend(path[1..].iter().cloned());
            Ok(json_path)
        }
    }
}

fn check_argument_path(
    builder: &Builder<'_>,
    site: Site<'_>,
    path: &[String],
) -> Result<(), String> {
    let Some(first) = path.first() else {
        return Ok(());
    };
    let arguments = &site.field.node.node.arguments;
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
