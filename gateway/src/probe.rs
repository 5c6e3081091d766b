//! `weft check --probe`: asks the running services what no schema file can
//! tell, once per field that groups a batch answer by a key (`groupBy`).
//!
//! For such a field, a root query field that lists its parent type without
//! required arguments gives a few sample parents (through the gateway, like
//! any query); the field's batch call is sent with their keys, and when no
//! item of the answer has the `groupBy` key, that is a problem at the
//! `groupBy` argument, naming the keys the items do have (a typo such as
//! `userID` for `userId` would otherwise answer `[]` for every parent). A
//! field whose parents cannot be sampled, or whose answer has no items, is
//! left unjudged.

use std::collections::BTreeSet;

use serde_json::Value;
use smallvec::smallvec;

use crate::Gateway;
use crate::error::Diagnostics;
use crate::json::{Json, find};
use crate::pipeline::GraphqlRequest;
use crate::schema::model::{Binding, FieldDef, GroupedPlan, Model};
use crate::sources::batching::{Key, Recording};
use crate::template::Caller;

/// How many sample parents a probe asks for at most.
const SAMPLES: usize = 3;

/// Probes every `groupBy` field; the problems found.
pub async fn run(gateway: &Gateway) -> Diagnostics {
    let served = gateway.served();
    let model = served.pipeline.model();
    let mut problems = Diagnostics::default();
    for (parent, field, plan) in grouped_fields(model) {
        let Some(keys) = sample_keys(gateway, model, parent, &plan.parent_key).await else {
            continue;
        };
        if let Some(problem) = probe_field(parent, field, plan, &keys).await {
            problems.push(problem);
        }
    }
    problems
}

/// Every field bound to a grouped batch, with its type's name, in a stable
/// order.
fn grouped_fields(model: &Model) -> Vec<(&str, &FieldDef, &GroupedPlan)> {
    let mut found: Vec<(&str, &FieldDef, &GroupedPlan)> = model
        .object_fields()
        .filter_map(|(name, field)| match &field.binding {
            Binding::Grouped(plan) => Some((name, field, plan.as_ref())),
            _ => None,
        })
        .collect();
    found.sort_by_key(|(name, field, _)| (*name, field.name.as_str()));
    found
}

/// A few values of `key_field` of objects of type `parent`, read through a
/// root query field that lists them without required arguments.
async fn sample_keys(
    gateway: &Gateway,
    model: &Model,
    parent: &str,
    key_field: &str,
) -> Option<Vec<Value>> {
    let root = model.object(&model.roots.query)?;
    let mut listing: Vec<&FieldDef> = root
        .fields
        .values()
        .map(AsRef::as_ref)
        .filter(|field: &&FieldDef| field.ty.base() == parent)
        .filter(|field| {
            field
                .args
                .iter()
                .all(|arg| arg.ty.is_nullable() || arg.default.is_some())
        })
        .collect();
    listing.sort_by_key(|field| field.name.as_str());
    let field = listing.first()?;
    let request = GraphqlRequest {
        query: format!("{{ {} {{ {key_field} }} }}", field.name),
        ..GraphqlRequest::default()
    };
    let response = gateway.execute(&request, Recording::Off).await;
    let data: Value = serde_json::from_slice(response.data.as_deref()?).ok()?;
    let keys: Vec<Value> = match &data[field.name.as_str()] {
        Value::Array(items) => items.iter().map(|item| item[key_field].clone()).collect(),
        one => vec![one[key_field].clone()],
    };
    let keys: Vec<Value> = keys
        .into_iter()
        .filter(|key| !key.is_null())
        .take(SAMPLES)
        .collect();
    (!keys.is_empty()).then_some(keys)
}

/// Sends the field's batch call for `keys`; a problem when items came back
/// and none has the `groupBy` key.
async fn probe_field(
    parent: &str,
    field: &FieldDef,
    plan: &GroupedPlan,
    keys: &[Value],
) -> Option<crate::error::Diagnostic> {
    let mut keys: Vec<Key> = keys.iter().map(|key| smallvec![key.clone()]).collect();
    let prepared = plan
        .batch
        .prepare_many(&Value::Null, &mut keys, Caller::default(), None)
        .into_iter()
        .next()?
        .ok()?;
    let answer = prepared.call.await.ok()?;
    let items: Vec<Json<'_>> = plan.batch.items(answer.root()).ok()??.collect();
    let path = plan.batch.match_paths.first()?;
    if items.is_empty() || items.iter().any(|item| find(*item, path).is_some()) {
        return None;
    }
    let seen: BTreeSet<String> = items
        .iter()
        .filter_map(|item| item.entries())
        .flatten()
        .filter_map(|(key, _)| key.as_str().map(std::borrow::Cow::into_owned))
        .collect();
    let (group_by, place) = &plan.group_by;
    let seen: Vec<String> = seen.into_iter().collect();
    Some(place.problem(format!(
        "`{parent}.{}`: `groupBy: \"{group_by}\"`: no item of the answer has `{group_by}`; items have: {}",
        field.name,
        seen.join(", ")
    )))
}
