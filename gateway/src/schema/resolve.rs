//! The resolvers weft attaches to each field:
//!
//! - *fetch*: render the field's own call and send it;
//! - *batched*: compute a key from the parent (or arguments) and load it
//!   through a [`BatchPlan`], together with the keys of sibling fields;
//! - *project*: read a key of the parent's JSON.
//!
//! All hand JSON to [`output::to_field_value`](super::output::to_field_value)
//! and know nothing of the backend it came from. Calls go through the
//! request's [`RequestScope`]. Errors become GraphQL errors with
//! `extensions.code`; the executor adds `path`.

use std::sync::Arc;

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, ResolverContext, TypeRef};
use async_graphql::{ErrorExtensions, Value as GqlValue};
use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

use super::output::{Shape, ShapeKind, to_field_value};
use crate::error::SourceError;
use crate::sources::Connector;
use crate::sources::batching::{BatchPlan, EventScope, Key, RequestScope};
use crate::subscriptions::fields::PublishPlan;
use crate::template::{ValueTemplate, Vars, lookup};

/// The code of an error raised when a backend's JSON does not fit the field.
pub const BAD_RESPONSE: &str = "SOURCE_BAD_RESPONSE";
/// The code of an error raised when a non-null entity is not found.
pub const NOT_FOUND: &str = "NOT_FOUND";

/// How a field that makes its own call resolves.
#[derive(Debug)]
pub struct FetchPlan {
    /// The directive bound to its source.
    pub connector: Box<dyn Connector>,
    /// The JSON path of the field's value within the response.
    pub response: Vec<String>,
    /// The field's declared type.
    pub shape: Shape,
    /// Whether identical calls within a request may be shared (false for
    /// mutation fields, which must run every time).
    pub dedupe: bool,
    /// What the field publishes once it has its value (mutations only).
    pub publish: Option<Arc<PublishPlan>>,
}

/// How a field loaded through a batch resolves.
#[derive(Debug)]
pub struct BatchedPlan {
    /// The batch the key is loaded through.
    pub batch: Arc<BatchPlan>,
    /// Renders the key (or, for an entity list, the keys) from the parent.
    pub key: ValueTemplate,
    /// Entity lookups take the one item with the key and ignore the field's
    /// arguments; grouped fields take every item with the key.
    pub entity: Option<String>,
    /// The field's declared type.
    pub shape: Shape,
}

/// A field resolved by its own call. A "not found" answer gives `null` on
/// a nullable field.
pub fn fetch_field(name: &str, ty: TypeRef, plan: Arc<FetchPlan>) -> Field {
    fallible_field(name, ty, plan, |ctx, plan| fetch(ctx, plan).boxed())
}

async fn fetch(ctx: &ResolverContext<'_>, plan: &FetchPlan) -> FieldResult {
    let args = arguments(ctx)?;
    let parent = ctx.parent_value.downcast_ref::<Value>();
    let vars = Vars::field(&args, parent);
    let prepared = plan
        .connector
        .prepare(&vars)
        .map_err(|error| source_error(&error))?;
    match scope(ctx).call(prepared, plan.dedupe).await {
        Ok(response) => {
            let value = select(response, &plan.response);
            if let Some(publish) = &plan.publish {
                let payload = publish.payload(&args, value.as_ref().unwrap_or(&Value::Null));
                publish.publish(ctx, &args, payload).await?;
            }
            to_field_value(value, &plan.shape).map_err(bad_response)
        }
        Err(error) if error.is_not_found() && plan.shape.nullable => Ok(None),
        Err(error) => Err(source_error(&error)),
    }
}

/// A field loaded by key through a batch.
pub fn batched_field(name: &str, ty: TypeRef, plan: Arc<BatchedPlan>) -> Field {
    fallible_field(name, ty, plan, |ctx, plan| load_batched(ctx, plan).boxed())
}

async fn load_batched(ctx: &ResolverContext<'_>, plan: &BatchedPlan) -> FieldResult {
    let args = arguments(ctx)?;
    let parent = ctx.parent_value.downcast_ref::<Value>();
    let key = plan.key.render(&Vars::field(&args, parent));
    let scope = scope(ctx);
    let value = match (&plan.entity, key) {
        (_, Value::Null) => None,
        (Some(_), Value::Array(keys)) => {
            let loads = keys
                .into_iter()
                .map(|key| load_one(&scope, &plan.batch, key));
            let items = futures::future::try_join_all(loads)
                .await
                .map_err(|e| source_error(&e))?;
            Some(Value::Array(
                items
                    .into_iter()
                    .map(|item| item.unwrap_or(Value::Null))
                    .collect(),
            ))
        }
        (Some(type_name), key) => {
            let found = load_one(&scope, &plan.batch, key.clone())
                .await
                .map_err(|e| source_error(&e))?;
            if found.is_none() && !plan.shape.nullable {
                return Err(not_found(type_name, &key));
            }
            found
        }
        (None, key) => {
            let items = scope
                .load(&plan.batch, &args, key_of(&plan.batch, key))
                .await
                .map_err(|e| source_error(&e))?;
            match plan.shape.kind {
                ShapeKind::List(_) => Some(Value::Array(items)),
                _ => items.into_iter().next(),
            }
        }
    };
    to_field_value(value, &plan.shape).map_err(bad_response)
}

/// What a fallible resolver yields.
pub type FieldResult = async_graphql::Result<Option<FieldValue<'static>>>;

/// Resolves a field with `resolve`, reporting its error (if any) at the
/// field's path; see [`reported`].
pub fn fallible_field<P: Send + Sync + 'static>(
    name: &str,
    ty: TypeRef,
    plan: Arc<P>,
    resolve: for<'c> fn(&'c ResolverContext<'c>, &'c P) -> BoxFuture<'c, FieldResult>,
) -> Field {
    Field::new(name, ty, move |ctx: ResolverContext<'_>| {
        let plan = plan.clone();
        FieldFuture::new(async move {
            let result = resolve(&ctx, &plan).await;
            Ok(reported(&ctx, result))
        })
    })
}

/// The field's value, or, on an error, `null` with the error recorded at the
/// field's path. (Left to itself, the dynamic executor would drop a failed
/// field from `data` and report its error without a path; nulls are then
/// propagated to the nearest nullable ancestor by [`super::nulls`].)
pub fn reported<'a>(
    ctx: &ResolverContext<'_>,
    result: async_graphql::Result<Option<FieldValue<'a>>>,
) -> Option<FieldValue<'a>> {
    result.unwrap_or_else(|error| {
        let error = ctx.set_error_path(error.into_server_error(ctx.item.pos));
        match ctx.data_opt::<Arc<EventScope>>() {
            Some(event) => event.add_error(error),
            None => ctx.add_error(error),
        }
        None
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
            Err(reason) => FieldFuture::Value(reported(&ctx, Err(bad_response(reason)))),
        }
    })
}

async fn load_one(
    scope: &RequestScope,
    batch: &BatchPlan,
    key: Value,
) -> Result<Option<Value>, SourceError> {
    let items = scope.load(batch, &Value::Null, key_of(batch, key)).await?;
    Ok(items.into_iter().next())
}

/// A rendered key as its components: the value itself for a one-field key,
/// the named entries of an object for a compound one.
fn key_of(batch: &BatchPlan, key: Value) -> Key {
    match (batch.key_names.as_slice(), key) {
        ([_], key) => vec![key],
        (names, Value::Object(mut entries)) => names
            .iter()
            .map(|name| entries.remove(name).unwrap_or(Value::Null))
            .collect(),
        (names, other) => names.iter().map(|_| other.clone()).collect(),
    }
}

/// The request's call layer: the request's own, the current event's in a
/// subscription, or a fresh one when the schema runs outside the HTTP
/// server (calls then still work, unbatched across fields).
fn scope(ctx: &ResolverContext<'_>) -> Arc<RequestScope> {
    if let Some(scope) = ctx.data_opt::<Arc<RequestScope>>() {
        return scope.clone();
    }
    ctx.data_opt::<Arc<EventScope>>()
        .map(|events| events.current())
        .unwrap_or_default()
}

/// The field's arguments as a JSON object.
pub fn arguments(ctx: &ResolverContext<'_>) -> async_graphql::Result<Value> {
    Ok(GqlValue::Object(ctx.args.as_index_map().clone()).into_json()?)
}

/// The part of a response at `path` (the whole response for an empty path).
pub fn select(response: Value, path: &[String]) -> Option<Value> {
    path.iter().try_fold(response, |mut current, key| {
        current.get_mut(key).map(Value::take)
    })
}

/// A JSON value that does not fit the field's type, as a GraphQL error.
pub fn bad_response(reason: String) -> async_graphql::Error {
    async_graphql::Error::new(format!(
        "the backend's answer does not fit the schema: {reason}"
    ))
    .extend_with(|_, extensions| extensions.set("code", BAD_RESPONSE))
}

fn not_found(type_name: &str, key: &Value) -> async_graphql::Error {
    async_graphql::Error::new(format!("no `{type_name}` with key {key}"))
        .extend_with(|_, extensions| extensions.set("code", NOT_FOUND))
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
