//! The initial state of an `@event` subscription (`initial:`, `version:`):
//! a subscriber first gets the current state, then the changes, with no gap
//! and no duplicate between the two.
//!
//! The order makes the no-gap part: the subscription is on the bus before
//! the state is fetched, so an event published while the fetch is in flight
//! waits in the subscriber's bounded bus buffer and is delivered after the
//! state. The `version:` key path makes the no-duplicate part: an event
//! whose version is not greater than the state's is already reflected in
//! the state and is passed over. Without `version:` (or when the state or
//! an event carries none) every event is delivered: one racing with the
//! fetch may be seen twice.
//!
//! The state is this subscriber's own: it is run through the subscription's
//! selection as a per-subscriber occurrence, never through the shared
//! per-event responses. A failing fetch is the subscription's last result
//! (an error at the root field's path, with the backend's code).

use std::cmp::Ordering;
use std::sync::Arc;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use super::{Event, Occurrence};
use crate::Gateway;
use crate::error::{GraphqlError, PathSegment, codes};
use crate::json::{Doc, Json, find, to_plain};
use crate::pipeline::Prepared;
use crate::schema::model::{Binding, InitialPlan};
use crate::template::Vars;

/// `events` (already subscribed to) preceded by the current state the
/// Query field of `plan` answers for `args`, and without the events the
/// state already reflects. `key` is the root field's response key, the
/// path of a failed fetch's error. Without one of the arguments the Query
/// field requires there is no single state: `events` come alone.
pub(super) async fn state_then_events(
    gateway: &Gateway,
    prepared: &Prepared,
    plan: &InitialPlan,
    (args, key): (&Value, &str),
    events: BoxStream<'static, Event>,
) -> BoxStream<'static, Event> {
    let missing = |name: &String| args.get(name).is_none_or(Value::is_null);
    if plan.needs.iter().any(missing) {
        return events;
    }
    let state = match fetch(gateway, prepared, plan, args).await {
        Ok(state) => state,
        Err(error) => {
            let error = error.at(vec![PathSegment::Key(key.to_owned())]);
            return futures::stream::iter([Err(error)]).boxed();
        }
    };
    let seen = plan
        .version
        .as_ref()
        .and_then(|path| path.find(state.root()))
        .map(to_plain);
    let events = match (plan.version.clone(), seen) {
        (Some(path), Some(seen)) => events
            .filter(move |event| futures::future::ready(!reflected(event, &path, &seen)))
            .boxed(),
        _ => events,
    };
    futures::stream::iter([Ok(Occurrence::State(Arc::new(state)))])
        .chain(events)
        .boxed()
}

/// The Query field's value for the subscription's arguments (and the
/// Query field's defaults for those it lacks).
async fn fetch(
    gateway: &Gateway,
    prepared: &Prepared,
    plan: &InitialPlan,
    args: &Value,
) -> Result<Doc, GraphqlError> {
    let served = gateway.served();
    let model = served.pipeline.model();
    let field = model.field(&model.roots.query, &plan.field);
    let (Some(field), Some(Binding::Fetch(fetch))) = (field, field.map(|field| &field.binding))
    else {
        return Err(GraphqlError::new(
            format!(
                "the initial state's field `{}` is not served any more",
                plan.field
            ),
            codes::INTERNAL_ERROR,
        ));
    };
    let mut args = args.clone();
    if let Value::Object(given) = &mut args {
        for argument in &field.args {
            if let (Some(default), false) = (&argument.default, given.contains_key(&argument.name))
            {
                given.insert(argument.name.clone(), default.clone());
            }
        }
    }
    let vars = Vars::field(&args, None).with_caller(prepared.caller());
    let call = fetch
        .connector
        .prepare(&vars)
        .map_err(|error| GraphqlError::from(&error))?;
    let answer = call
        .call
        .await
        .map_err(|error| GraphqlError::from(&error))?;
    Ok(find(answer.root(), &fetch.response).map_or_else(Doc::null, Json::to_doc))
}

/// Whether `event` is a bus event whose version at `path` is not greater
/// than `seen`, the state's.
fn reflected(event: &Event, path: &[String], seen: &Value) -> bool {
    let Ok(Occurrence::Published(event, _)) = event else {
        return false;
    };
    let version = path
        .iter()
        .try_fold(event.value(), |value, key| value.get(key));
    version.is_some_and(|version| {
        compare(version, seen).is_some_and(|order| order != Ordering::Greater)
    })
}

/// Orders two versions: numbers by value, texts (such as RFC 3339 times)
/// as text; `None` for anything else, which is never passed over.
fn compare(version: &Value, seen: &Value) -> Option<Ordering> {
    match (version, seen) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Whether `event`, published on the bus, is reflected in `seen`.
    fn is_reflected(event: Value, path: &[String], seen: &Value) -> bool {
        let event = Arc::new(crate::events::Payload::json(event));
        let published =
            crate::subscriptions::payload::read(event, None, "t").expect("a JSON event");
        reflected(&Ok(Occurrence::Published(published, None)), path, seen)
    }

    #[test]
    fn events_not_newer_than_the_state_are_reflected_in_it() {
        let path = ["version".to_owned()];
        let seen = json!(3);
        assert!(is_reflected(json!({"version": 2}), &path, &seen));
        assert!(is_reflected(json!({"version": 3}), &path, &seen));
        assert!(!is_reflected(json!({"version": 4}), &path, &seen));
        assert!(!is_reflected(json!({"status": "PAID"}), &path, &seen));
        assert!(!is_reflected(json!({"version": "3"}), &path, &seen));
    }

    #[test]
    fn text_versions_compare_as_text() {
        let path = ["meta".to_owned(), "at".to_owned()];
        let seen = json!("2026-12-04T08:00:00Z");
        let event = |at: &str| json!({"meta": {"at": at}});
        assert!(is_reflected(event("2026-12-04T07:59:59Z"), &path, &seen));
        assert!(!is_reflected(event("2026-12-04T08:00:01Z"), &path, &seen));
    }
}
