//! Stage 6: runs a plan's fetches level by level.
//!
//! Each round walks the data the previous round brought (the root object
//! at first) along the selection, and collects every fetched field it
//! meets whose parent is there: an own call, a load by key, a publish.
//! The round then sends all of them at once — identical calls once, every
//! key of one batch (and arguments) in one call per `max_batch_size`
//! chunk — and files each result under its parent object and field, or,
//! for a batch keyed by one value of the parent, once per key
//! ([`super::keyed`]). The next round walks only the new results. Backend
//! JSON is parsed once and shared: results point into the answers, nothing
//! is copied per field.
//!
//! Mutation root fields run one after another, each with everything below
//! it, as GraphQL requires.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use serde_json::Value;
use tracing::Instrument as _;

use super::authorize::Denied;
use super::coerce_variables::Variables;
use super::keyed::{
    Asked, Filed, KeyIndex, KeyItems, Keyed, KeyedLoad, KeyedResults, Places, Resolved, not_found,
    resolve,
};
use super::normalize::{Field, FieldKind, OperationKind, SelectionSet};
use super::placed::{self, Placed, SubgraphError};
use super::plan::Plan;
use crate::error::{GraphqlError, SourceError};
use crate::events::EventBus;
use crate::json::{self, Doc, Json, find};
use crate::schema::model::{Binding, FieldDef, PublishPlan};
use crate::sources::Prepared;
use crate::sources::batching::{Answer, BatchPlan, CallId, Calls, Key, key_text};
use crate::template::{Caller, Root, ValueTemplate, Vars};

/// Where a fetched field's result is filed: its parent object (its
/// document's address, stable while the request runs, and its place
/// there) and the field's id.
pub type SlotKey = (usize, u32, u32);

/// The key of `field` under `parent`.
pub fn slot_key(parent: Json<'_>, field: &Field) -> SlotKey {
    let (doc, at) = parent.identity();
    (doc, at, field.id)
}

/// A value inside a shared backend answer.
#[derive(Debug, Clone)]
pub struct Found {
    answer: Arc<Doc>,
    at: u32,
}

impl Found {
    /// The whole of `answer`.
    pub fn whole(answer: Arc<Doc>) -> Self {
        Self { answer, at: 0 }
    }

    /// The JSON found; `None` when it is `null`.
    pub fn value(&self) -> Option<Json<'_>> {
        Some(self.answer.at(self.at)).filter(|json| !json.is_null())
    }

    /// The JSON found, `null` included (a subgraph error may be placed
    /// there).
    pub fn node(&self) -> Json<'_> {
        self.answer.at(self.at)
    }
}

/// The result of one fetched field under one parent.
pub type Slot = Resolved<Found, Arc<GraphqlError>>;

/// What a run produced: every fetched field's result, and the errors
/// subgraphs answered beside them.
#[derive(Debug, Default)]
pub struct Results {
    slots: FxHashMap<SlotKey, Slot>,
    keyed: KeyedResults,
    placed: Placed,
}

impl Results {
    /// Room for `capacity` results.
    pub fn with_capacity(capacity: usize) -> Self {
        let mut slots = FxHashMap::default();
        slots.reserve(capacity);
        Self {
            slots,
            keyed: KeyedResults::default(),
            placed: Placed::default(),
        }
    }

    /// How many results are filed.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// How many more results fit without growing: about how many the
    /// rest of a run files, when sized from an earlier run of its plan.
    pub fn room(&self) -> usize {
        self.slots.capacity() - self.slots.len()
    }

    /// Whether no result is filed.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The result filed under `key`. Out of line: inlined in the writer's
    /// loop over an object's fields, its hashing of the parent was hoisted
    /// out of the loop, and so done for every object written, though most
    /// of their fields are not filed so.
    #[inline(never)]
    pub fn get(&self, key: SlotKey) -> Option<&Slot> {
        self.slots.get(&key)
    }

    /// The result of `field` (of `definition`) under `parent`, however it
    /// was filed; `None` while it is not fetched.
    pub(crate) fn filed(
        &self,
        field: &Field,
        definition: &FieldDef,
        parent: Json<'_>,
    ) -> Option<Filed<'_>> {
        match Keyed::of_field(field) {
            Some(keyed) => self.filed_by_key(field, definition, &keyed, keyed.key_of(parent)),
            None => self.get(slot_key(parent, field)).map(Filed::of_slot),
        }
    }

    /// The result of `field` (of `definition`, loaded as `keyed` says)
    /// under a parent whose key is `key`; `None` while it is not fetched.
    pub(crate) fn filed_by_key(
        &self,
        field: &Field,
        definition: &FieldDef,
        keyed: &Keyed<'_>,
        key: Option<Json<'_>>,
    ) -> Option<Filed<'_>> {
        match key {
            Some(key) => self.keyed.filed(field.id, definition, keyed, key),
            None => Some(Filed::Null),
        }
    }

    /// The results of fields loaded by their parent's key.
    pub(crate) fn keyed(&self) -> &KeyedResults {
        &self.keyed
    }

    /// Files a result known beforehand (a subscription event).
    pub fn insert(&mut self, key: SlotKey, slot: Slot) {
        self.slots.insert(key, slot);
    }

    /// The subgraph errors placed so far.
    pub(crate) fn placed(&self) -> &Placed {
        &self.placed
    }

    /// Adds subgraph errors placed in a round (or an event).
    pub(crate) fn place(&mut self, placed: Placed) {
        self.placed.merge(placed);
    }
}

/// What one run needs besides the plan.
pub struct Context<'a> {
    /// The coerced variables.
    pub variables: &'a Variables,
    /// What templates may read of the request as a whole.
    pub caller: Caller<'a>,
    /// How many backend calls the operation may make.
    pub max_calls: usize,
    /// Where mutations publish.
    pub bus: &'a Arc<dyn EventBus>,
    /// The fields the caller may not read: never fetched.
    pub denied: &'a Denied,
}

/// Files a subgraph's GraphQL response as the result under `key`: the
/// value at `response` (`data.<key>`), with the response's errors placed.
pub(crate) fn file_answer(
    results: &mut Results,
    key: SlotKey,
    answer: Arc<Doc>,
    response: &[String],
) {
    let mut placed = Placed::default();
    placed::place_root(&answer, response, key, &mut placed);
    results.place(placed);
    let found = find(answer.root(), response).map(Json::index);
    let slot = found.map_or(Slot::Null, |at| Slot::One(Found { answer, at }));
    results.insert(key, slot);
}

/// Runs every fetch of `plan` under `root` (the root object, which must
/// stay where it is until the results are written).
pub async fn execute(
    plan: &Plan,
    root: Json<'_>,
    context: &Context<'_>,
    results: &mut Results,
    calls: &mut Calls,
) {
    let selection = &plan.operation.selection;
    let run = Run { context };
    if plan.operation.kind == OperationKind::Mutation {
        for field in &selection.fields {
            let frontier = vec![Walk::Root(selection, root, Some(field.id))];
            run.levels(frontier, results, calls).await;
        }
    } else {
        let frontier = vec![Walk::Root(selection, root, None)];
        run.levels(frontier, results, calls).await;
    }
}

/// What a round walks: the root (optionally one root field only), or a
/// fetched field's fresh result under its selection.
#[derive(Clone, Copy)]
enum Walk<'p, 'r> {
    Root(&'p SelectionSet, Json<'r>, Option<u32>),
    Fetched(&'p SelectionSet, SlotKey),
    /// The items a keyed load (its index) found for a field that asked
    /// (its place in the load's `asked`).
    Keyed(&'p SelectionSet, usize, usize),
}

/// A fetched field met in a walk: its own call (`C` is first the prepared
/// call, then its place in the round), or a step that needs no call of its
/// own.
enum Step<'p, C> {
    /// Boxed: calls are few, and loads (many) should not pay for their size.
    Call(Box<CallStep<'p, C>>),
    Ready(Ready<'p>),
}

/// A fetched field met in a walk, waiting for its round.
type Pending<'p> = Step<'p, Prepared>;

/// A pending field once its round's calls are known: the index of its call
/// in the round, or an answer known already.
type Waiting<'p> = Step<'p, Result<usize, Answer>>;

/// A field's own call.
struct CallStep<'p, C> {
    key: SlotKey,
    field: &'p Field,
    definition: &'p FieldDef,
    call: C,
    dedupe: bool,
    args: Value,
}

/// The keys of one field in its batch group: one, or several (a list of
/// entities).
enum KeyIndexes {
    One(usize),
    Many(Vec<usize>),
}

impl KeyIndexes {
    fn as_slice(&self) -> &[usize] {
        match self {
            Self::One(index) => std::slice::from_ref(index),
            Self::Many(indexes) => indexes,
        }
    }
}

/// A field that needs no call of its own.
enum Ready<'p> {
    /// Its result is known already.
    Done(SlotKey, Slot),
    /// Items of a batch: its group in the round, and its keys there.
    Load {
        key: SlotKey,
        field: &'p Field,
        definition: &'p FieldDef,
        group: usize,
        keys: KeyIndexes,
        /// Its pick in the group ([`LoadGroup::picks`]).
        pick: usize,
        /// An entity (or list of entities) rather than grouped items.
        entity: Option<&'p str>,
    },
    /// A publish without a backend.
    Publish {
        key: SlotKey,
        field: &'p Field,
        plan: &'p PublishPlan,
        args: Value,
    },
}

struct Run<'c, 'a> {
    context: &'c Context<'a>,
}

impl<'p> Run<'_, '_> {
    async fn levels(
        &self,
        mut frontier: Vec<Walk<'p, '_>>,
        results: &mut Results,
        calls: &mut Calls,
    ) {
        let start = frontier.clone();
        while !frontier.is_empty() {
            let mut walker = Walker {
                variables: self.context.variables,
                denied: self.context.denied,
                caller: self.context.caller,
                results,
                seen: FxHashSet::with_capacity_and_hasher(results.room(), FxBuildHasher),
                // Sized like `seen`: growing a list of large steps one
                // doubling at a time copied more than it filed.
                pending: Vec::with_capacity(results.room().max(frontier.len())),
                loads: Vec::new(),
                keyed: Vec::new(),
                waiting: false,
            };
            for walk in &frontier {
                match walk {
                    Walk::Root(selection, root, only) => walker.object(selection, *root, *only),
                    Walk::Fetched(selection, key) => {
                        if let Some(slot) = results.get(*key) {
                            walker.slot(selection, slot);
                        }
                    }
                    Walk::Keyed(selection, load, asked) => {
                        let load = results.keyed.load(*load);
                        for item in load.walked(&load.asked[*asked]) {
                            walker.value(selection, item);
                        }
                    }
                }
            }
            let (pending, loads, waiting) = (walker.pending, walker.loads, walker.waiting);
            if pending.is_empty() && loads.is_empty() {
                return;
            }
            let (done, keyed, placed) = self.round(pending, loads, calls).await;
            results.place(placed);
            // Fields left waiting for this round's results are met on a
            // walk from the start, which reaches everything fetched so far.
            frontier = if waiting { start.clone() } else { Vec::new() };
            for (key, field, slot) in done {
                if let (false, Some(field), Slot::One(_) | Slot::Many(_)) = (waiting, field, &slot)
                    && let Some(selection) = &field.selection
                    && selection.fetches
                {
                    frontier.push(Walk::Fetched(selection, key));
                }
                results.insert(key, slot);
            }
            for (load, fields) in keyed {
                let index = results.keyed.add(load);
                for (asked, field) in fields.into_iter().enumerate() {
                    if let (false, Some(selection)) = (waiting, &field.selection)
                        && selection.fetches
                    {
                        frontier.push(Walk::Keyed(selection, index, asked));
                    }
                }
            }
        }
    }

    /// Sends one round's calls together and files every result.
    async fn round(
        &self,
        pending: Vec<Pending<'p>>,
        mut loads: Vec<LoadGroup<'p>>,
        calls: &mut Calls,
    ) -> (
        Vec<(SlotKey, Option<&'p Field>, Slot)>,
        Vec<KeyedRound<'p>>,
        Placed,
    ) {
        let mut sender = Sender::default();
        let mut waiting: Vec<Waiting<'p>> = Vec::with_capacity(pending.len());
        for item in pending {
            waiting.push(match item {
                Step::Call(step) => Step::Call(Box::new(CallStep {
                    call: sender.add(calls, step.call, step.dedupe),
                    key: step.key,
                    field: step.field,
                    definition: step.definition,
                    dedupe: step.dedupe,
                    args: step.args,
                })),
                Step::Ready(ready) => Step::Ready(ready),
            });
        }
        for group in &mut loads {
            group.prepare(&mut sender, calls, self.context.caller);
        }
        let answers = sender.send(calls, self.context.max_calls).await;
        let mut loaded: Vec<Loaded> = loads.iter().map(|group| group.load(&answers)).collect();
        let mut placed = Placed::default();
        for group in &mut loaded {
            placed.merge(std::mem::take(&mut group.placed));
        }
        let mut done = Vec::with_capacity(waiting.len());
        for item in waiting {
            // Loads are filed without awaiting anything, so the (large)
            // futures of calls and publishes are only built for those.
            let filed = match item {
                Step::Ready(Ready::Done(key, slot)) => (key, None, slot),
                Step::Ready(Ready::Load {
                    key,
                    field,
                    definition,
                    group,
                    keys,
                    pick,
                    entity,
                }) => {
                    let (group, loaded) = (&loads[group], &loaded[group]);
                    let at = (keys.as_slice(), pick);
                    let slot = loaded_slot(definition, group, loaded, at, entity);
                    for &at in keys.as_slice() {
                        for error in &loaded.errors[pick][at] {
                            placed.at_field(key, error.clone());
                        }
                    }
                    (key, Some(field), slot)
                }
                Step::Ready(Ready::Publish {
                    key,
                    field,
                    plan,
                    args,
                }) => (key, Some(field), self.published(field, plan, &args).await),
                Step::Call(step) => {
                    let answer = step
                        .call
                        .map_or_else(|answer| answer, |index| answers[index].clone());
                    let at = (step.key, &mut placed);
                    let slot = self.called(step.definition, answer, &step.args, at).await;
                    (step.key, Some(step.field), slot)
                }
            };
            done.push(filed);
        }
        let keyed = loads
            .into_iter()
            .zip(loaded)
            .filter(|(group, _)| !group.asked.is_empty())
            .map(|(group, loaded)| group.into_keyed(loaded))
            .collect();
        (done, keyed, placed)
    }

    /// The slot of a publish without a backend: `true` for a `Boolean`
    /// field, else the payload.
    async fn published(&self, field: &Field, plan: &PublishPlan, args: &Value) -> Slot {
        let payload = publish_payload(plan, args, args);
        match self.publish(plan, args, payload.clone()).await {
            Ok(()) if answers_true(field) => Slot::One(Found::whole(Arc::new(Doc::truth()))),
            Ok(()) => Slot::One(Found::whole(Arc::new(Doc::from_plain(&payload)))),
            Err(error) => Slot::Failed(Arc::new(error)),
        }
    }

    /// The slot of an own call's answer (publishing it first when the field
    /// says so), filed under `key`; a subgraph's errors are placed.
    async fn called(
        &self,
        definition: &'p FieldDef,
        answer: Answer,
        args: &Value,
        (key, placed): (SlotKey, &mut Placed),
    ) -> Slot {
        let Binding::Fetch(plan) = &definition.binding else {
            return Slot::Null;
        };
        match answer {
            Ok(answer) => {
                if plan.connector.speaks_graphql() {
                    placed::place_root(&answer, &plan.response, key, placed);
                }
                let found = find(answer.root(), &plan.response).map(Json::index);
                if let Some(publish) = &plan.publish {
                    let result = found.map_or(Value::Null, |at| json::to_plain(answer.at(at)));
                    let payload = publish_payload(publish, args, &result);
                    if let Err(error) = self.publish(publish, args, payload).await {
                        return Slot::Failed(Arc::new(error));
                    }
                }
                found.map_or(Slot::Null, |at| Slot::One(Found { answer, at }))
            }
            Err(error) if error.is_not_found() && definition.shape.nullable => Slot::Null,
            Err(error) => Slot::Failed(Arc::new(GraphqlError::from(&error))),
        }
    }

    async fn publish(
        &self,
        plan: &PublishPlan,
        args: &Value,
        payload: Value,
    ) -> Result<(), GraphqlError> {
        let topic = plan
            .topic
            .render_raw(&Vars::field(args, None))
            .map_err(|reason| GraphqlError::topic(&reason))?;
        self.context
            .bus
            .publish(&topic, payload)
            .await
            .map_err(|error| GraphqlError::from(&error))
    }
}

/// Whether a publish-only field is a `Boolean`: it then answers `true`
/// rather than its payload.
fn answers_true(field: &Field) -> bool {
    matches!(&field.kind, FieldKind::Schema(definition)
        if matches!(definition.shape.kind, crate::schema::model::ShapeKind::Boolean))
}

/// The payload a publish sends: its template rendered, or `default`.
fn publish_payload(plan: &PublishPlan, args: &Value, default: &Value) -> Value {
    match &plan.payload {
        Some(payload) => payload.render(&Vars::field(args, None)),
        None => default.clone(),
    }
}

/// Walks data along a selection, collecting fetched fields.
struct Walker<'w, 'p> {
    variables: &'w Variables,
    denied: &'w Denied,
    caller: Caller<'w>,
    results: &'w Results,
    seen: FxHashSet<SlotKey>,
    pending: Vec<Pending<'p>>,
    /// The batches of the round, with every key met so far.
    loads: Vec<LoadGroup<'p>>,
    /// Per keyed field met in the round (its id): its group in `loads`
    /// and its place in the group's `asked`.
    keyed: Vec<(u32, usize, usize)>,
    /// Whether a field waits for a field beside it not fetched yet.
    waiting: bool,
}

impl<'p> Walker<'_, 'p> {
    fn slot(&mut self, selection: &'p SelectionSet, slot: &Slot) {
        self.filed(selection, Filed::of_slot(slot));
    }

    fn value(&mut self, selection: &'p SelectionSet, value: Json<'_>) {
        if !selection.fetches {
            return;
        }
        match value.items() {
            Some(items) => {
                for item in items {
                    self.one(selection, item);
                }
            }
            None => self.one(selection, value),
        }
    }

    /// Goes into one value that is not a list of `selection`'s: most are
    /// objects, gone into without a call. A list inside a list goes back
    /// through [`Self::value`].
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn one(&mut self, selection: &'p SelectionSet, value: Json<'_>) {
        if value.is_array() {
            self.value(selection, value);
        } else if value.is_object()
            && let Ok(selection) = selection.of_value(value)
        {
            // A value of no known type is reported by the writer.
            self.object(selection, value, None);
        }
    }

    fn object(&mut self, selection: &'p SelectionSet, parent: Json<'_>, only: Option<u32>) {
        let fields = selection
            .walked()
            .iter()
            .filter_map(|&at| selection.fields.get(at));
        for field in fields {
            if only.is_some_and(|id| id != field.id) || !field.condition.holds(self.variables) {
                continue;
            }
            let FieldKind::Schema(definition) = &field.kind else {
                continue;
            };
            if self.denied.get(field.id).is_some() {
                continue;
            }
            if let Binding::Project(path) = &definition.binding {
                if let Some(selection) = &field.selection
                    && let Some(value) = path.find(parent)
                {
                    self.value(selection, value);
                }
                continue;
            }
            if let Some(keyed) = Keyed::of_field(field) {
                self.keyed(field, definition, &keyed, parent);
                continue;
            }
            self.fetched(field, definition, parent);
        }
    }

    /// Goes on under a field fetched per parent when its result is
    /// filed; else asks for it. Out of line: the loop over the fields of
    /// every object stays small without it.
    #[inline(never)]
    fn fetched(&mut self, field: &'p Field, definition: &'p FieldDef, parent: Json<'_>) {
        let key = slot_key(parent, field);
        let results = self.results;
        if let Some(slot) = results.get(key) {
            if let Some(selection) = &field.selection {
                self.slot(selection, slot);
            }
        } else if self.waits(definition, parent) {
            self.waiting = true;
        } else if self.seen.insert(key) {
            let request = self.pending(key, field, definition, parent);
            self.pending.push(request);
        }
    }

    /// Goes on under a keyed field's result when it is loaded; else adds
    /// the parent's keys to the field's group in this round.
    fn keyed(
        &mut self,
        field: &'p Field,
        definition: &'p FieldDef,
        keyed: &Keyed<'p>,
        parent: Json<'_>,
    ) {
        let Some(key) = keyed.key_of(parent) else {
            return;
        };
        let results = self.results;
        if results.keyed.loaded(field.id)
            && let Some(filed) = results.keyed.filed(field.id, definition, keyed, key)
        {
            if let Some(selection) = &field.selection {
                self.filed(selection, filed);
            }
            return;
        }
        let (group, asked) = self.asked(field, definition, keyed);
        let group = &mut self.loads[group];
        if let Some(items) = key.items() {
            for item in items {
                let index = group.add_json(item);
                group.asked[asked].ask(index);
            }
        } else {
            let index = group.add_json(key);
            group.asked[asked].ask_for(parent, index);
        }
    }

    /// The group of a keyed field in this round, and its place in the
    /// group's `asked`; made when the field is first met.
    fn asked(
        &mut self,
        field: &'p Field,
        definition: &'p FieldDef,
        keyed: &Keyed<'p>,
    ) -> (usize, usize) {
        if let Some(&(_, group, asked)) = self.keyed.iter().find(|(id, ..)| *id == field.id) {
            return (group, asked);
        }
        let args = match keyed.entity {
            Some(_) => Value::Null,
            None => field.args.render(self.variables).into_owned(),
        };
        let group = group_for(&mut self.loads, keyed.batch, args);
        let loads = &mut self.loads[group];
        let parents = field.parents_hint.load(Ordering::Relaxed) as usize;
        loads
            .asked
            .push(Asked::new(field.id, definition, keyed, parents));
        loads.asked_fields.push(field);
        let asked = loads.asked.len() - 1;
        self.keyed.push((field.id, group, asked));
        (group, asked)
    }

    /// Goes on under a result found by key.
    fn filed(&mut self, selection: &'p SelectionSet, filed: Filed<'_>) {
        match filed {
            Filed::One(value) => self.value(selection, value),
            Filed::Many(items) => {
                for value in items.into_iter().flatten() {
                    self.value(selection, value);
                }
            }
            Filed::Null | Filed::Failed(_) => {}
        }
    }

    /// Whether `definition` under `parent` waits for a field beside it
    /// (`@requires`) whose result is not filed yet.
    fn waits(&self, definition: &FieldDef, parent: Json<'_>) -> bool {
        let Binding::Grouped(plan) = &definition.binding else {
            return false;
        };
        let (doc, at) = parent.identity();
        plan.after
            .iter()
            .any(|(_, id)| self.results.get((doc, at, *id)).is_none())
    }

    /// The key of a batch that waits for fields beside it: `template`
    /// rendered, with each of those fields' results under its name.
    fn key_with_results(
        &self,
        template: &ValueTemplate,
        vars: &Vars<'_>,
        parent: Json<'_>,
        after: &[(String, u32)],
    ) -> Value {
        let mut key = template.render(vars);
        if let Value::Object(entries) = &mut key {
            let (doc, at) = parent.identity();
            for (name, id) in after {
                let value = match self.results.get((doc, at, *id)) {
                    Some(Slot::One(found)) => found.value().map_or(Value::Null, json::to_plain),
                    Some(Slot::Many(items)) => items
                        .iter()
                        .map(|item| {
                            item.as_ref()
                                .and_then(Found::value)
                                .map_or(Value::Null, json::to_plain)
                        })
                        .collect(),
                    _ => Value::Null,
                };
                entries.insert(name.clone(), value);
            }
        }
        key
    }

    /// What a fetched field under `parent` asks for.
    fn pending(
        &mut self,
        key: SlotKey,
        field: &'p Field,
        definition: &'p FieldDef,
        parent: Json<'_>,
    ) -> Pending<'p> {
        let args = field.args.render(self.variables);
        let vars = Vars::field(&args, Some(parent)).with_caller(self.caller);
        let (batch, template, entity) = match &definition.binding {
            Binding::Fetch(plan) => {
                return match plan.connector.prepare(&vars) {
                    Ok(prepared) => Step::Call(Box::new(CallStep {
                        key,
                        field,
                        definition,
                        call: prepared,
                        dedupe: plan.dedupe,
                        args: args.into_owned(),
                    })),
                    Err(error) => done(key, Slot::Failed(Arc::new(GraphqlError::from(&error)))),
                };
            }
            Binding::Publish(plan) => {
                return Step::Ready(Ready::Publish {
                    key,
                    field,
                    plan,
                    args: args.into_owned(),
                });
            }
            Binding::Entity(plan) => (&plan.batch, &plan.key, Some(plan.entity.as_str())),
            Binding::Grouped(plan) => (&plan.batch, &plan.key, None),
            Binding::Project(_)
            | Binding::Event(_)
            | Binding::Stream(_)
            | Binding::Subgraph(_)
            | Binding::SubgraphStream(_) => {
                return done(key, Slot::Null);
            }
        };
        // Entities are loaded whatever the field's arguments; a subgraph's
        // entity fields have theirs in the document they share.
        let in_document =
            matches!(&definition.binding, Binding::Grouped(plan) if plan.pick.is_some());
        let group_args = if entity.is_some() || in_document {
            Value::Null
        } else {
            args.as_ref().clone()
        };
        let group = group_for(&mut self.loads, batch, group_args);
        let pick = match &definition.binding {
            Binding::Grouped(plan) => self.loads[group].pick_index(plan.pick.as_deref()),
            _ => self.loads[group].pick_index(None),
        };
        if let Binding::Grouped(plan) = &definition.binding
            && !plan.after.is_empty()
        {
            let rendered = self.key_with_results(template, &vars, parent, &plan.after);
            let group_keys = &mut self.loads[group];
            let index = group_keys.add(group_keys.batch.key_of(rendered));
            return Step::Ready(Ready::Load {
                key,
                field,
                definition,
                group,
                keys: KeyIndexes::One(index),
                pick,
                entity,
            });
        }
        match self.loads[group].add_keys(template, &vars, parent) {
            Some(keys) => Step::Ready(Ready::Load {
                key,
                field,
                definition,
                group,
                keys,
                pick,
                entity,
            }),
            None => done(key, Slot::Null),
        }
    }
}

/// A step whose result is known already.
fn done<'p>(key: SlotKey, slot: Slot) -> Pending<'p> {
    Step::Ready(Ready::Done(key, slot))
}

/// The calls of one round, each distinct call once.
#[derive(Default)]
struct Sender {
    calls: Vec<(Prepared, bool)>,
    index: FxHashMap<CallId, usize>,
}

impl Sender {
    /// Adds a call; yields its index, or the answer of an identical call
    /// made in an earlier round.
    fn add(&mut self, calls: &Calls, prepared: Prepared, dedupe: bool) -> Result<usize, Answer> {
        if !dedupe {
            self.calls.push((prepared, false));
            return Ok(self.calls.len() - 1);
        }
        if let Some(answer) = calls.answered(&prepared) {
            return Err(answer);
        }
        let id = prepared.id();
        if let Some(&index) = self.index.get(&id) {
            return Ok(index);
        }
        self.calls.push((prepared, true));
        self.index.insert(id, self.calls.len() - 1);
        Ok(self.calls.len() - 1)
    }

    /// Sends every call at once; the answers in the order added. When they
    /// would take the operation past `max_calls`, none is sent.
    async fn send(self, calls: &mut Calls, max_calls: usize) -> Vec<Answer> {
        if calls.made() + self.calls.len() > max_calls {
            return self
                .calls
                .into_iter()
                .map(|(prepared, _)| {
                    Err(SourceError::TooManyCalls {
                        source_name: prepared.source,
                        limit: max_calls,
                    })
                })
                .collect();
        }
        let (prepared, shared): (Vec<Prepared>, Vec<bool>) = self.calls.into_iter().unzip();
        // Each source's calls of this round take turns within its
        // `max_request_concurrency`.
        let mut turns: FxHashMap<String, Arc<tokio::sync::Semaphore>> = FxHashMap::default();
        let sending = prepared.into_iter().map(|prepared| {
            let turn = turns
                .entry(prepared.source.clone())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(prepared.max_in_flight)))
                .clone();
            let span = tracing::info_span!(
                "fetch",
                source = %prepared.source,
                call = %prepared.description
            );
            async move {
                let _turn = turn.acquire().await;
                Calls::send(prepared).await
            }
            .instrument(span)
        });
        let sent = futures::future::join_all(sending.collect::<Vec<_>>()).await;
        sent.into_iter()
            .zip(shared)
            .map(|(finished, shared)| calls.finished(finished, shared))
            .collect()
    }
}

/// Every key of one batch (and arguments) in a round.
struct LoadGroup<'p> {
    batch: &'p Arc<BatchPlan>,
    args: Value,
    keys: Vec<Key>,
    texts: KeyIndex,
    /// What the group's fields pick of each answered item: the field's
    /// response key in a subgraph's entity (several fields may share one
    /// `_entities` call), or `None` for the item itself.
    picks: Vec<Option<&'p str>>,
    /// Per chunk: its call's index, or an answer known already.
    chunks: Vec<Result<usize, Answer>>,
    /// The keyed fields whose parents named keys of this group.
    asked: Vec<Asked>,
    /// Those fields, in the same order.
    asked_fields: Vec<&'p Field>,
}

/// A round's keyed load, and the fields that asked it (in its `asked`
/// order).
type KeyedRound<'p> = (KeyedLoad, Vec<&'p Field>);

/// The index of the group of `batch` with `args`, made if needed.
fn group_for<'p>(groups: &mut Vec<LoadGroup<'p>>, batch: &'p Arc<BatchPlan>, args: Value) -> usize {
    let found = groups
        .iter()
        .position(|group| group.batch.id == batch.id && group.args == args);
    found.unwrap_or_else(|| {
        groups.push(LoadGroup {
            batch,
            args,
            keys: Vec::new(),
            texts: KeyIndex::default(),
            picks: Vec::new(),
            chunks: Vec::new(),
            asked: Vec::new(),
            asked_fields: Vec::new(),
        });
        groups.len() - 1
    })
}

/// The items each key of a group found (by pick, then key index: the
/// chunk and the item's place in its answer), or why its chunk failed; and
/// the errors a subgraph answered beside them.
struct Loaded {
    chunks: Vec<Option<Arc<Doc>>>,
    found: Vec<Vec<Places>>,
    failed: Vec<Option<Arc<GraphqlError>>>,
    /// By pick, then key index: subgraph errors at the field loaded for it.
    errors: Vec<Vec<Vec<Arc<SubgraphError>>>>,
    /// Subgraph errors at values inside the answers.
    placed: Placed,
}

impl<'p> LoadGroup<'p> {
    /// The index of `pick` among the group's picks, added if needed.
    fn pick_index(&mut self, pick: Option<&'p str>) -> usize {
        if let Some(at) = self.picks.iter().position(|known| *known == pick) {
            return at;
        }
        self.picks.push(pick);
        self.picks.len() - 1
    }

    /// Adds the keys `template` renders under `parent` (once each); yields
    /// their indexes, or `None` when there is no key. A plain `$this.field`
    /// key is read straight from the parent's JSON.
    fn add_keys(
        &mut self,
        template: &ValueTemplate,
        vars: &Vars<'_>,
        parent: Json<'_>,
    ) -> Option<KeyIndexes> {
        if let (ValueTemplate::Var(var), [_]) = (template, self.batch.key_names.as_slice())
            && var.root == Root::This
        {
            let found = var.path.find(parent)?;
            return Some(match found.items() {
                Some(items) => KeyIndexes::Many(items.map(|item| self.add_json(item)).collect()),
                None => KeyIndexes::One(self.add_json(found)),
            });
        }
        match template.render(vars) {
            Value::Null => None,
            Value::Array(keys) => Some(KeyIndexes::Many(
                keys.into_iter()
                    .map(|one| self.add(self.batch.key_of(one)))
                    .collect(),
            )),
            one => Some(KeyIndexes::One(self.add(self.batch.key_of(one)))),
        }
    }

    /// Inlined where keys are added, one per parent: a call's saving and
    /// restoring of registers cost as much as the lookup.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn add_json(&mut self, json: Json<'_>) -> usize {
        let text = json::key_text(json);
        match self.texts.get(&text) {
            Some(index) => index,
            None => self.push(&text, smallvec::smallvec![json::to_plain(json)]),
        }
    }

    /// Adds a key; keys are told apart (and answers matched back) by the
    /// components the batch matches on, so values carried beside them
    /// (`@requires` fields) do not split one entity in two. A value beside
    /// them that the key added first lacks (`null`: the field it was
    /// added for needs no such value) is filled in from this one.
    fn add(&mut self, key: Key) -> usize {
        let matched = self.batch.match_paths.len().max(1).min(key.len());
        let text = key_text(&key[..matched]);
        match self.texts.get(text.as_bytes()) {
            Some(index) => {
                if let Some(known) = self.keys.get_mut(index) {
                    for (known, value) in known.iter_mut().zip(key).skip(matched) {
                        if known.is_null() {
                            *known = value;
                        }
                    }
                }
                index
            }
            None => self.push(text.as_bytes(), key),
        }
    }

    fn push(&mut self, text: &[u8], key: Key) -> usize {
        let index = self.keys.len();
        self.texts.insert(text, index);
        self.keys.push(key);
        index
    }

    fn prepare(&mut self, sender: &mut Sender, calls: &Calls, caller: Caller<'_>) {
        let reads = self.reads();
        self.chunks = self
            .batch
            .prepare_many(&self.args, &mut self.keys, caller, reads.as_ref())
            .into_iter()
            .map(|prepared| match prepared {
                Ok(prepared) => sender.add(calls, prepared, true),
                Err(error) => Err(Err(error)),
            })
            .collect();
    }

    /// The members of each answered item that anything reads: what the
    /// asking fields read (see [`Field::reads`]), one field's as planned.
    /// `None` when some field may read anything.
    fn reads(&self) -> Option<Arc<[String]>> {
        let (first, others) = self.asked_fields.split_first()?;
        let first = first.reads.as_ref()?;
        if others
            .iter()
            .all(|field| field.reads.as_ref() == Some(first))
        {
            return Some(first.clone());
        }
        let mut members = first.to_vec();
        for field in others {
            members.extend(field.reads.as_deref()?.iter().cloned());
        }
        members.sort_unstable();
        members.dedup();
        Some(members.into())
    }

    /// The group's answers by key, once loaded, and the keyed fields
    /// that asked.
    fn into_keyed(self, mut loaded: Loaded) -> KeyedRound<'p> {
        let load = KeyedLoad {
            texts: self.texts,
            keys: self.keys,
            chunks: loaded.chunks,
            found: loaded.found.swap_remove(0),
            failed: loaded.failed,
            asked: self.asked,
        };
        for (asked, field) in load.asked.iter().zip(&self.asked_fields) {
            let parents = u32::try_from(asked.parents()).unwrap_or(u32::MAX);
            field.parents_hint.store(parents, Ordering::Relaxed);
        }
        (load, self.asked_fields)
    }

    /// Matches the answered items to the group's keys.
    fn load(&self, answers: &[Answer]) -> Loaded {
        let size = self.batch.max_batch_size.max(1);
        let picks = self.picks.len().max(1);
        let mut loaded = Loaded {
            chunks: Vec::with_capacity(self.chunks.len()),
            found: vec![vec![Places::new(); self.keys.len()]; picks],
            failed: vec![None; self.keys.len()],
            errors: vec![vec![Vec::new(); self.keys.len()]; picks],
            placed: Placed::default(),
        };
        for (chunk, call) in self.chunks.iter().enumerate() {
            let answer = match call {
                Ok(index) => answers[*index].clone(),
                Err(answer) => answer.clone(),
            };
            loaded.chunks.push(answer.as_ref().ok().cloned());
            let keys = chunk * size..((chunk + 1) * size).min(self.keys.len());
            if self.batch.graphql {
                self.load_entities(&answer, chunk, keys, &mut loaded);
                continue;
            }
            let items = answer
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|answer| self.batch.items(answer.root()));
            match items {
                Ok(items) => {
                    let room = items.clone().map_or(0, Iterator::count) / keys.len().max(1);
                    self.batch.each_key(items, |text, item| {
                        if let Some(key) = self.texts.get(text) {
                            push_place(&mut loaded.found[0][key], (chunk, item.index()), room);
                        }
                    });
                }
                Err(error) => loaded.fail(keys, &error),
            }
        }
        loaded
    }

    /// Matches a subgraph's `_entities` answer to the chunk's `keys` by
    /// position, for each field picked from it, and places its errors.
    fn load_entities(
        &self,
        answer: &Answer,
        chunk: usize,
        keys: std::ops::Range<usize>,
        loaded: &mut Loaded,
    ) {
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => return loaded.fail(keys, error),
        };
        let sent = keys.len();
        let others = &self.batch.fields;
        for (pick, &field) in self.picks.iter().enumerate() {
            match placed::entities(answer, field, others, sent) {
                Ok(entities) => {
                    for (key, (value, errors)) in keys
                        .clone()
                        .zip(entities.values.into_iter().zip(entities.errors))
                    {
                        if let Some(at) = value {
                            loaded.found[pick][key].push((chunk, at));
                        }
                        loaded.errors[pick][key] = errors;
                    }
                    loaded.placed.merge(entities.placed);
                }
                Err(answered) => {
                    let error = SourceError::EntitiesMismatch {
                        source_name: self.batch.connector.source_name().to_owned(),
                        sent,
                        answered,
                    };
                    return loaded.fail(keys, &error);
                }
            }
        }
    }
}

/// Adds an item's place to a key's. A key that finds more than one item
/// (a grouped load: a user's orders) is given room for `room` more at
/// once, the chunk's items per key, rather than growing by doublings.
fn push_place(places: &mut Places, place: (usize, u32), room: usize) {
    if places.len() == places.capacity() {
        places.reserve(room.max(1));
    }
    places.push(place);
}

impl Loaded {
    /// Fails every key of `keys` with `error`.
    fn fail(&mut self, keys: std::ops::Range<usize>, error: &SourceError) {
        let error = Arc::new(GraphqlError::from(error));
        for failed in &mut self.failed[keys] {
            *failed = Some(error.clone());
        }
    }
}

/// The slot of a loaded field from its group's items: what it picks
/// (`pick`) of the items its `keys` found.
fn loaded_slot<'p>(
    definition: &'p FieldDef,
    group: &LoadGroup<'p>,
    loaded: &Loaded,
    (keys, pick): (&[usize], usize),
    entity: Option<&'p str>,
) -> Slot {
    let items = PerParent {
        group,
        loaded,
        pick,
    };
    // A subgraph's answer for the parent is the field's value itself.
    if let (None, Some(&key), true) = (entity, keys.first(), group.batch.graphql) {
        return match items.first(key) {
            Ok(found) => found.map_or(Slot::Null, Slot::One),
            Err(error) => Slot::Failed(error),
        };
    }
    resolve(definition, entity, keys, &items)
}

/// What the keys of a group found, for a field filed per parent.
struct PerParent<'g, 'p> {
    group: &'g LoadGroup<'p>,
    loaded: &'g Loaded,
    /// The field's pick in the group.
    pick: usize,
}

impl PerParent<'_, '_> {
    fn found(&self, &(chunk, at): &(usize, u32)) -> Option<Found> {
        Some(Found {
            answer: self.loaded.chunks[chunk].clone()?,
            at,
        })
    }

    fn failed(&self, key: usize) -> Result<(), Arc<GraphqlError>> {
        self.loaded.failed[key].clone().map_or(Ok(()), Err)
    }
}

impl KeyItems for PerParent<'_, '_> {
    type Key = usize;
    type Item = Found;
    type Error = Arc<GraphqlError>;

    fn first(&self, key: usize) -> Result<Option<Found>, Self::Error> {
        self.failed(key)?;
        let found = self.loaded.found[self.pick][key].first();
        Ok(found.and_then(|place| self.found(place)))
    }

    fn all(&self, key: usize) -> Result<Vec<Option<Found>>, Self::Error> {
        self.failed(key)?;
        let found = &self.loaded.found[self.pick][key];
        Ok(found.iter().map(|place| self.found(place)).collect())
    }

    fn not_found(&self, entity: &str, key: usize) -> Self::Error {
        Arc::new(not_found(entity, &self.group.keys[key]))
    }
}
