//! `@event(initial:, version:)` checked at start-up: `initial` names a
//! Query field served by `@rest`/`@grpc` whose value is the current state of
//! what a subscription watches. The state is run through the subscription's
//! own selection, so the Query field must have the subscription field's
//! type; it takes the subscription's arguments by name, so every argument it
//! requires must be one of the subscription's, of the same type. The result
//! is the [`InitialPlan`] the subscriptions module runs.

use async_graphql::Pos;
use async_graphql::parser::types::{FieldDefinition, InputValueDefinition, Type};

use super::build::Builder;
use super::connect::Target;
use super::directives::{Arg, EventSpec};
use super::document::Kind;
use super::model::InitialPlan;
use crate::error::Diagnostic;

/// The initial-state plan of `@event` on `target`, or `None` without
/// `initial:`; a problem for an unknown field, a field without a backend, a
/// type or an argument that does not fit, or `version:` without `initial:`.
pub fn plan(
    builder: &Builder<'_>,
    target: &Target<'_>,
    spec: &EventSpec,
) -> Result<Option<InitialPlan>, Vec<Diagnostic>> {
    let (Some(initial), Some(subscription)) = (&spec.initial, target.field) else {
        return match &spec.version {
            Some(version) => Err(target.problem(
                builder,
                version.pos,
                "`version:` compares events with the state `initial:` fetches; add `initial:`",
            )),
            None => Ok(None),
        };
    };
    let at = |message: String| target.problem(builder, initial.pos, &message);
    let query = query_field(builder, &initial.value).map_err(at)?;
    fits(
        &query.ty.node,
        &subscription.node.node.ty.node,
        &initial.value,
    )
    .map_err(at)?;
    let needs = needed_arguments(
        &query.arguments,
        &subscription.node.node.arguments,
        &initial.value,
    )
    .map_err(at)?;
    let version = spec.version.as_ref().map(key_path).transpose();
    let version = version.map_err(|(pos, message)| target.problem(builder, pos, &message))?;
    Ok(Some(InitialPlan {
        field: initial.value.clone(),
        needs,
        version,
    }))
}

/// The Query field `name`, which must be served by `@rest` or `@grpc`.
fn query_field<'d>(builder: &Builder<'d>, name: &str) -> Result<&'d FieldDefinition, String> {
    let query = &builder.doc.roots.query;
    let fields = match builder.doc.types.get(query).map(|ty| &ty.kind) {
        Some(Kind::Object(fields)) => fields.as_slice(),
        _ => &[],
    };
    let Some(field) = fields
        .iter()
        .find(|field| field.node.node.name.node == name)
    else {
        let known: Vec<&str> = fields
            .iter()
            .map(|f| f.node.node.name.node.as_str())
            .collect();
        return Err(format!(
            "`initial: \"{name}\"` names no field of {query}; its fields are: {}",
            known.join(", ")
        ));
    };
    let fetched = builder
        .directives_of(query, name)
        .is_some_and(|directives| directives.fetch.is_some());
    if !fetched {
        return Err(format!(
            "`initial: \"{name}\"`: {query}.{name} must be served by @rest or @grpc"
        ));
    }
    Ok(&field.node.node)
}

/// Whether the Query field's type can be read as the subscription field's:
/// the same type, nullability aside.
fn fits(query: &Type, subscription: &Type, name: &str) -> Result<(), String> {
    if same_nullable(query, subscription) {
        return Ok(());
    }
    Err(format!(
        "`initial: \"{name}\"` is of type `{query}`, but the subscription field is `{subscription}`; \
         the state is read with the subscription's selection, so the types must be the same"
    ))
}

/// The subscription's arguments the Query field requires but the
/// subscription may leave out; a problem when the Query field requires an
/// argument the subscription lacks, or one of a different type.
fn needed_arguments(
    query: &[async_graphql::Positioned<InputValueDefinition>],
    subscription: &[async_graphql::Positioned<InputValueDefinition>],
    name: &str,
) -> Result<Vec<String>, String> {
    let mut needs = Vec::new();
    for argument in query.iter().map(|argument| &argument.node) {
        let arg_name = argument.name.node.as_str();
        let required = !argument.ty.node.nullable && argument.default_value.is_none();
        let given = subscription
            .iter()
            .find(|given| given.node.name.node == arg_name);
        match given.map(|given| &given.node.ty.node) {
            None if required => {
                return Err(format!(
                    "`initial: \"{name}\"` requires argument `{arg_name}`, which the subscription field does not have"
                ));
            }
            Some(ty) if !same_nullable(ty, &argument.ty.node) => {
                return Err(format!(
                    "argument `{arg_name}` is `{ty}` here but `{}` on `{name}`; they must be the same type",
                    argument.ty.node
                ));
            }
            Some(ty) if required && ty.nullable => needs.push(arg_name.to_owned()),
            _ => {}
        }
    }
    Ok(needs)
}

/// Whether two types are the same, outer and inner non-nulls aside.
fn same_nullable(a: &Type, b: &Type) -> bool {
    a.to_string().replace('!', "") == b.to_string().replace('!', "")
}

/// `version:` as a key path (`meta.version`).
fn key_path(version: &Arg<String>) -> Result<crate::json::KeyPath, (Pos, String)> {
    let parts: Vec<String> = version.value.split('.').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) {
        return Err((
            version.pos,
            format!(
                "`version: \"{}\"` is not a key path such as `version` or `meta.seq`",
                version.value
            ),
        ));
    }
    Ok(parts.into())
}
