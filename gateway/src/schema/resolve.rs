//! The resolvers weft attaches to each field: *fetch* (call a connector) or
//! *project* (read a key of the parent's JSON).
//!
//! Both hand JSON to [`output::to_field_value`]; neither knows which backend
//! the JSON came from. Errors become GraphQL errors with `extensions.code`;
//! the executor adds `path`.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, ResolverContext, TypeRef};
use async_graphql::{ErrorExtensions, Value as GqlValue};
use serde_json::Value;

use super::output::{Shape, to_field_value};
use crate::error::SourceError;
use crate::sources::Connector;
use crate::template::{Vars, lookup};

/// The code of an error raised when a backend's JSON does not fit the field.
pub const BAD_RESPONSE: &str = "SOURCE_BAD_RESPONSE";

/// How a field that calls a backend resolves.
#[derive(Debug)]
pub struct FetchPlan {
    /// The directive bound to its source.
    pub connector: Box<dyn Connector>,
    /// The JSON path of the field's value within the response.
    pub response: Vec<String>,
    /// The field's declared type.
    pub shape: Shape,
}

/// A field resolved by calling its connector. A "not found" answer gives
/// `null` on a nullable field.
pub fn fetch_field(name: &str, ty: TypeRef, plan: Arc<FetchPlan>) -> Field {
    Field::new(name, ty, move |ctx: ResolverContext<'_>| {
        let plan = plan.clone();
        FieldFuture::new(async move {
            let args = GqlValue::Object(ctx.args.as_index_map().clone()).into_json()?;
            let parent = ctx.parent_value.downcast_ref::<Value>();
            let vars = Vars {
                args: &args,
                this: parent,
            };
            match plan.connector.fetch(vars).await {
                Ok(response) => {
                    let value = select(response, &plan.response);
                    to_field_value(value, &plan.shape).map_err(bad_response)
                }
                Err(error) if error.is_not_found() && plan.shape.nullable => Ok(None),
                Err(error) => Err(source_error(&error)),
            }
        })
    })
}

/// A field read from the parent object's JSON at `path`.
pub fn project_field(name: &str, ty: TypeRef, path: Vec<String>, shape: Shape) -> Field {
    Field::new(name, ty, move |ctx: ResolverContext<'_>| {
        let json = ctx
            .parent_value
            .downcast_ref::<Value>()
            .and_then(|parent| lookup(parent, &path));
        match to_field_value(json, &shape) {
            Ok(value) => FieldFuture::Value(value),
            Err(reason) => {
                FieldFuture::new(async move { Err::<Option<GqlValue>, _>(bad_response(reason)) })
            }
        }
    })
}

/// The part of a response at `path` (the whole response for an empty path).
fn select(response: Value, path: &[String]) -> Option<Value> {
    path.iter().try_fold(response, |mut current, key| {
        current.get_mut(key).map(Value::take)
    })
}

fn bad_response(reason: String) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "the backend's answer does not fit the schema: {reason}"
    ))
    .extend_with(|_, extensions| extensions.set("code", BAD_RESPONSE))
}

/// A backend failure as a client-safe GraphQL error.
pub fn source_error(error: &SourceError) -> async_graphql::Error {
    async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
        extensions.set("code", error.code());
        match error {
            SourceError::HttpStatus { status, .. } => extensions.set("status", *status),
            SourceError::GrpcStatus { status, .. } => extensions.set("grpcStatus", *status),
            _ => {}
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn select_takes_the_value_at_a_path() {
        let response = json!({"data": {"user": {"id": 1}}});
        assert_eq!(
            select(response.clone(), &["data".into(), "user".into()]),
            Some(json!({"id": 1}))
        );
        assert_eq!(select(response.clone(), &[]), Some(response.clone()));
        assert_eq!(select(response, &["nope".into()]), None);
    }
}
