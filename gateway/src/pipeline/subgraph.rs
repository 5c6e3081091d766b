//! Part of stage 5 (plan): the documents sent to GraphQL subgraphs.
//!
//! A field bound to a subgraph ([`Binding::Subgraph`]) gets, once per
//! planned operation, a binding of its own with a document made from its
//! sub-selection, so the executor runs it like any other call:
//!
//! - a root field becomes a [`Binding::Fetch`] of
//!   `query($v: T) { <key>: field(args) { … } }` (`mutation` for a
//!   mutation's, never shared between identical calls), read back at
//!   `data.<key>`;
//! - a field added to an entity becomes a [`Binding::Grouped`] batch of
//!   `_entities(representations: $representations) { ... on T { a b { … } } }`,
//!   one call per subgraph, entity type and key, plan level (fetches above
//!   the field) and fetched `@requires` fields waited for, chunked at
//!   `max_batch_size`, identical keys sent once: every field asked there,
//!   at any place, is in its selection (a second selection or arguments of
//!   one field under an alias), and each field picks its own response key
//!   from each entity answered ([`GroupedPlan::pick`]). The answered list
//!   is matched to the representations by position, so the key fields are
//!   not asked back. Each field's key carries the key and the `@requires`
//!   fields it needs; the executor fills in, per entity, those other
//!   fields' keys carry, and a required field only some fields need is
//!   left out of a representation when it has no value.
//!   With `@requires(fields:)`, each representation carries the required
//!   fields too: read from the parent (the selection that fetches the
//!   parent asks them, selected or not; the writer leaves out what the
//!   client did not select), or, for a field fetched by a call of its own,
//!   from that call's result — the field is added to the selection
//!   (hidden) when not selected, and the batch waits for it
//!   ([`GroupedPlan::after`]);
//! - a field returning an entity another subgraph owns becomes a
//!   [`Binding::Entity`] load through the owner's `_entities`, asking the
//!   selected fields of the owner with the key;
//! - a root field of a subscription becomes a [`Binding::SubgraphStream`]
//!   of `subscription($v: T) { <key>: field(args) { … } }`, each result
//!   read at `data.<key>`.
//!
//! Within a sub-selection, fields the subgraph returns are asked by name
//! (the executor reads them from its answer); a field that loads an entity
//! owned elsewhere asks that entity's key fields and the selected fields
//! the subgraph `@provides` — when nothing else is selected, the entity is
//! read from the answer and not loaded — and fields other sources answer
//! are left out. Arguments are written as the client wrote
//! them; the operation's variables they use are declared and passed on.

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use graphql_tools::static_graphql::query::VariableDefinition;
use serde_json::Value;

use super::normalize::{
    Arguments, Condition, Field, FieldKind, Input, Operation, OperationKind, SelectionSet,
};
use crate::error::{Location, Place};
use crate::json::Snippet;
use crate::schema::model::{
    Binding, EntityPlan, FetchPlan, FieldDef, GroupedPlan, Model, RequiredField, SubgraphEntity,
    SubgraphField, SubgraphReference, SubgraphTypes,
};
use crate::sources::Connector as _;
use crate::sources::batching::BatchPlan;
use crate::sources::graphql::{SubgraphEntities, SubgraphQuery, SubgraphSubscription};
use crate::template::{Root, ValueTemplate, Var};

/// Batch plans made here are told apart from the schema's by starting high.
static NEXT_BATCH_ID: AtomicUsize = AtomicUsize::new(usize::MAX / 2);

/// Gives every subgraph field of `operation` its binding for this
/// operation.
pub(crate) fn bind(operation: &mut Operation, model: &Model) {
    let variables = &operation.variables;
    let kind = operation.kind;
    let mut binder = Binder {
        variables,
        model,
        next_hidden: u32::MAX,
        merging: Merging::default(),
    };
    binder.set(&mut operation.selection, kind, 0);
    let bindings = binder.merging.bindings(variables);
    let mut bindings = bindings.into_iter();
    bind_members(&mut operation.selection, &mut bindings);
}

/// Gives each entity field left for its merged batch its binding, in the
/// order [`Binder::set`] met them.
fn bind_members(set: &mut SelectionSet, bindings: &mut impl Iterator<Item = Binding>) {
    for field in set.sets_mut().iter_mut().flat_map(|set| &mut set.fields) {
        if let FieldKind::Schema(definition) = &field.kind
            && matches!(&definition.binding, Binding::Subgraph(subgraph)
                if subgraph.entity.is_some() && subgraph.reference.is_none())
            && let Some(binding) = bindings.next()
        {
            field.kind = FieldKind::Schema(rebound(definition, binding));
        }
        if let Some(selection) = &mut field.selection {
            bind_members(selection, bindings);
        }
    }
}

/// Fields of a subgraph's entity are asked together, one `_entities` call
/// per subgraph, entity type and key, plan level (fetches above it) and
/// fetched `@requires` fields waited for: representations that can be
/// built at the same time.
type MergeKey = (String, String, Vec<String>, u32, Vec<String>);

/// The entity fields of one operation, grouped into merged batches.
#[derive(Default)]
struct Merging {
    groups: Vec<Merged>,
    index: HashMap<MergeKey, usize>,
    /// Every entity field met, in order: its group, its fragment there,
    /// the `@requires` fields it sends, and what it waits for.
    members: Vec<Member>,
}

/// One merged `_entities` batch.
struct Merged {
    /// The subgraph asked.
    subgraph_source: Arc<crate::sources::graphql::GraphqlSource>,
    /// What its documents may name.
    types: Arc<SubgraphTypes>,
    /// The entity type.
    type_name: String,
    /// The key fields, and where each is read in the parent's JSON.
    key: Vec<(String, Vec<String>)>,
    /// Every field `@requires` names, over all fragments.
    required: Vec<RequiredField>,
    /// The distinct fields asked (`name(args) { … }`), with each one's
    /// field name and the required fields it needs.
    fragments: Vec<(String, String, Vec<String>)>,
    /// The operation's variables the fragments use.
    used: BTreeSet<String>,
}

/// One entity field noted for its merged batch.
struct Member {
    /// Its batch, in [`Merging::groups`].
    group: usize,
    /// What it asks, in the batch's [`Merged::fragments`].
    fragment: usize,
    /// The `@requires` fields its key carries.
    required: Vec<RequiredField>,
    /// The fields beside it it waits for ([`GroupedPlan::after`]).
    after: Vec<(String, u32)>,
}

impl Merging {
    /// Notes `field`, a field of `entity` in `subgraph` at plan `level`.
    fn add(
        &mut self,
        subgraph: &SubgraphField,
        entity: &SubgraphEntity,
        field: &Field,
        siblings: &[(String, u32)],
        level: u32,
    ) {
        let required: Vec<RequiredField> = entity
            .requires
            .iter()
            .flat_map(|(_, parts)| parts.iter().cloned())
            .collect();
        let after: Vec<(String, u32)> = required
            .iter()
            .filter(|part| part.fetched)
            .filter_map(|part| {
                let (_, id) = siblings.iter().find(|(name, _)| *name == part.name)?;
                Some((part.name.clone(), *id))
            })
            .collect();
        let mut waits: Vec<String> = after.iter().map(|(name, _)| name.clone()).collect();
        waits.sort();
        let key_names: Vec<String> = entity.key.iter().map(|(name, _)| name.clone()).collect();
        let merge_key = (
            subgraph.source.name().to_owned(),
            entity.type_name.clone(),
            key_names,
            level,
            waits,
        );
        let group = *self.index.entry(merge_key).or_insert_with(|| {
            self.groups.push(Merged {
                subgraph_source: subgraph.source.clone(),
                types: subgraph.types.clone(),
                type_name: entity.type_name.clone(),
                key: entity.key.clone(),
                required: Vec::new(),
                fragments: Vec::new(),
                used: BTreeSet::new(),
            });
            self.groups.len() - 1
        });
        let merged = &mut self.groups[group];
        let mut writer = Writer::new(&subgraph.types);
        writer.field(&subgraph.name, field);
        merged.used.extend(writer.used);
        let text = writer.text;
        let known = merged.fragments.iter().position(|(t, _, _)| *t == text);
        let fragment = known.unwrap_or_else(|| {
            let names = required.iter().map(|part| part.name.clone()).collect();
            merged.fragments.push((text, subgraph.name.clone(), names));
            merged.fragments.len() - 1
        });
        for part in &required {
            if !merged.required.iter().any(|known| known.name == part.name) {
                merged.required.push(part.clone());
            }
        }
        self.members.push(Member {
            group,
            fragment,
            required,
            after,
        });
    }

    /// The binding of every field noted, in order.
    fn bindings(self, variables: &[VariableDefinition]) -> Vec<Binding> {
        let built: Vec<(Arc<BatchPlan>, Vec<String>)> = self
            .groups
            .iter()
            .map(|merged| merged.batch(variables))
            .collect();
        self.members
            .into_iter()
            .map(|member| {
                let merged = &self.groups[member.group];
                let (batch, picks) = &built[member.group];
                merged.binding(batch, picks[member.fragment].clone(), member)
            })
            .collect()
    }
}

impl Merged {
    /// The batch's plan, and the response key of each fragment.
    fn batch(&self, variables: &[VariableDefinition]) -> (Arc<BatchPlan>, Vec<String>) {
        let picks = self.response_keys();
        let mut writer = Writer::new(&self.types);
        writer.used.clone_from(&self.used);
        writer.open_entities(&self.type_name);
        for ((text, name, _), pick) in self.fragments.iter().zip(&picks) {
            writer.text.push(' ');
            if pick != name {
                let _ = write!(writer.text, "{pick}: ");
            }
            writer.text.push_str(text);
        }
        let (document, used) = writer.finish_entities(variables);
        let key_names = self.key_names();
        let sent_names: Vec<String> = key_names
            .iter()
            .cloned()
            .chain(self.required.iter().map(|part| part.name.clone()))
            .collect();
        let optional = self
            .required
            .iter()
            .filter(|part| {
                !self
                    .fragments
                    .iter()
                    .all(|(_, _, needs)| needs.contains(&part.name))
            })
            .map(|part| part.name.clone())
            .collect();
        let connector = SubgraphEntities {
            source: self.subgraph_source.clone(),
            document,
            type_name: self.type_name.clone(),
            key_names: sent_names,
            variables: used,
            typed: self
                .required
                .iter()
                .map(|part| (part.name.clone(), part.typed.clone()))
                .collect(),
            optional,
        };
        (entities_batch(connector, &key_names, picks.clone()), picks)
    }

    /// The names of the key fields.
    fn key_names(&self) -> Vec<String> {
        self.key.iter().map(|(name, _)| name.clone()).collect()
    }

    /// Each fragment's response key: its field's name, or an alias when an
    /// earlier fragment asks the same field (other arguments or selection).
    fn response_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::with_capacity(self.fragments.len());
        for (n, (_, name, _)) in self.fragments.iter().enumerate() {
            let taken = |candidate: &str| {
                keys.iter().any(|key| key == candidate)
                    || self
                        .fragments
                        .iter()
                        .any(|(_, other, _)| other == candidate)
            };
            if !keys.contains(name) {
                keys.push(name.clone());
                continue;
            }
            let mut at = n;
            let mut alias = format!("{name}_{at}");
            while taken(&alias) {
                at += 1;
                alias = format!("{name}_{at}");
            }
            keys.push(alias);
        }
        keys
    }

    /// The binding of one field of the batch: its key carries the key
    /// fields and the `@requires` fields it needs (the batch fills in, per
    /// entity, what other fields' keys carry).
    fn binding(&self, batch: &Arc<BatchPlan>, pick: String, member: Member) -> Binding {
        let part = |path: &Vec<String>| {
            ValueTemplate::Var(Var {
                root: Root::This,
                path: path.clone().into(),
            })
        };
        let key = match self.key.as_slice() {
            [(_, path)] if batch.key_names.len() == 1 => part(path),
            parts => ValueTemplate::Object(
                parts
                    .iter()
                    .map(|(name, path)| (name.clone(), part(path)))
                    .chain(
                        member
                            .required
                            .iter()
                            .map(|part| (part.name.clone(), part.read.clone())),
                    )
                    .collect(),
            ),
        };
        let key_names = self.key_names();
        Binding::Grouped(Arc::new(GroupedPlan {
            after: member.after,
            batch: batch.clone(),
            key,
            parent_key: key_names.first().cloned().unwrap_or_default(),
            group_by: (
                key_names.join(" "),
                Place {
                    file: self.subgraph_source.name().into(),
                    line: 0,
                    column: 0,
                },
            ),
            pick: Some(pick),
        }))
    }
}

/// What binding an operation's fields needs.
struct Binder<'o> {
    variables: &'o [VariableDefinition],
    model: &'o Model,
    /// The id of the next field added for `@requires` (counting down, so
    /// it never meets the normalized fields' ids).
    next_hidden: u32,
    merging: Merging,
}

impl Binder<'_> {
    /// Binds the fields of `set`, which `level` fetches stand above;
    /// `kind` is the operation's at the root (a root field's document is
    /// of that kind), a query below it. A field
    /// of an entity is noted for its merged batch and bound afterwards.
    fn set(&mut self, set: &mut SelectionSet, kind: OperationKind, level: u32) {
        if set.by_type.is_some() {
            for of_type in set.sets_mut() {
                self.set(of_type, kind, level);
            }
            set.fetches = set.sets().iter().any(|of_type| of_type.fetches);
            return;
        }
        self.add_required(set);
        let siblings: Vec<(String, u32)> = set
            .fields
            .iter()
            .filter_map(|field| match &field.kind {
                FieldKind::Schema(definition) => Some((definition.name.clone(), field.id)),
                _ => None,
            })
            .collect();
        for field in &mut set.fields {
            if let (Some(owner), Some(selection)) = (owner_of(field), &mut field.selection) {
                load_from_owner(selection, &owner);
            }
            bind_field(field, self.variables, kind);
            if let FieldKind::Schema(definition) = &field.kind
                && let Binding::Subgraph(subgraph) = &definition.binding
                && let (Some(entity), None) = (&subgraph.entity, &subgraph.reference)
            {
                self.merging.add(subgraph, entity, field, &siblings, level);
            }
            let fetched = matches!(&field.kind, FieldKind::Schema(definition)
                if !matches!(definition.binding, Binding::Project(_)));
            if let Some(selection) = &mut field.selection {
                self.set(selection, OperationKind::Query, level + u32::from(fetched));
            }
        }
    }

    /// Adds to `set` every field a subgraph field there `@requires` that is
    /// fetched by a call of its own and not selected: fetched, not written.
    fn add_required(&mut self, set: &mut SelectionSet) {
        let mut wanted: Vec<String> = Vec::new();
        for field in &set.fields {
            let FieldKind::Schema(definition) = &field.kind else {
                continue;
            };
            let Binding::Subgraph(subgraph) = &definition.binding else {
                continue;
            };
            let parts = subgraph.entity.iter().flat_map(|entity| &entity.requires);
            for part in parts
                .flat_map(|(_, parts)| parts)
                .filter(|part| part.fetched)
            {
                let selected = set.fields.iter().any(
                    |field| matches!(&field.kind, FieldKind::Schema(d) if d.name == part.name),
                );
                if !selected && !wanted.contains(&part.name) {
                    wanted.push(part.name.clone());
                }
            }
        }
        for name in wanted {
            let Some(definition) = self.model.field(&set.type_name, &name) else {
                continue;
            };
            set.fields.push(Field {
                id: self.next_hidden,
                key: name.clone(),
                key_json: Snippet::new(""),
                kind: FieldKind::Schema(definition.clone()),
                args: Arguments::Fixed(Value::Null),
                condition: Condition::Always,
                selection: None,
                location: Location { line: 0, column: 0 },
                hidden: true,
                reads: None,
                parents_hint: AtomicU32::new(0),
                keyed: OnceLock::new(),
            });
            self.next_hidden -= 1;
            set.fetches = true;
        }
    }
}

/// The owner of the entity `field` returns, when a subgraph that does not
/// own it answers the field.
fn owner_of(field: &Field) -> Option<Arc<SubgraphField>> {
    match &field.kind {
        FieldKind::Schema(definition) => match &definition.binding {
            Binding::Subgraph(subgraph) if subgraph.owner.is_some() => Some(subgraph.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// Binds the fields of `selection`, an entity another subgraph owns, for
/// the subgraph answering its parent field: the fields it adds to the
/// entity are read from its answer; the owner's fields it neither keys
/// nor provides are asked from the owner by key, like a field a subgraph
/// adds to an entity.
fn load_from_owner(selection: &mut SelectionSet, answering: &SubgraphField) {
    let Some(owner) = &answering.owner else {
        return;
    };
    let reference = &owner.entity;
    for child in &mut selection.fields {
        let FieldKind::Schema(definition) = &child.kind else {
            continue;
        };
        let name = &definition.name;
        if let Binding::Subgraph(added) = &definition.binding
            && added.entity.is_some()
            && added.source.name() == answering.source.name()
        {
            let read = Binding::Project(vec![name.clone()].into());
            child.kind = FieldKind::Schema(rebound(definition, read));
            continue;
        }
        let answered = reference.key.contains(name) || reference.provided.contains(name);
        if answered || !matches!(definition.binding, Binding::Project(_)) {
            continue;
        }
        let loaded = Binding::Subgraph(Arc::new(SubgraphField {
            source: owner.source.clone(),
            name: name.clone(),
            entity: Some(SubgraphEntity {
                type_name: reference.type_name.clone(),
                key: reference
                    .key
                    .iter()
                    .map(|part| (part.clone(), vec![part.clone()]))
                    .collect(),
                requires: None,
            }),
            types: owner.types.clone(),
            reference: None,
            owner: None,
        }));
        child.kind = FieldKind::Schema(rebound(definition, loaded));
        selection.fetches = true;
    }
}

/// Binds one field for the operation; a field of an entity is left for
/// its merged batch ([`Merging`]).
fn bind_field(field: &mut Field, variables: &[VariableDefinition], kind: OperationKind) {
    if let FieldKind::Schema(definition) = &field.kind
        && let Binding::Subgraph(subgraph) = &definition.binding
    {
        let binding = match (&subgraph.entity, &subgraph.reference, kind) {
            (_, Some(reference), _) => owner_load(subgraph, reference, field, variables),
            (None, None, OperationKind::Subscription) => {
                root_subscription(subgraph, field, variables)
            }
            (None, None, kind) => root_fetch(subgraph, field, variables, kind),
            (Some(_), None, _) => return,
        };
        field.kind = FieldKind::Schema(rebound(definition, binding));
    }
    if let FieldKind::Schema(definition) = &field.kind
        && let Binding::Entity(plan) = &definition.binding
        && is_provided(plan, field)
    {
        let read = Binding::Project(vec![definition.name.clone()].into());
        field.kind = FieldKind::Schema(rebound(definition, read));
    }
}

/// The fields of an entity-valued `field` selected that its subgraph
/// provides (`provided`), and that the entity type reads by their own name.
fn provided_selected<'f>(
    provided: &'f [String],
    field: &'f Field,
) -> impl Iterator<Item = &'f str> {
    field
        .selection
        .iter()
        .flat_map(SelectionSet::all_fields)
        .filter_map(move |child| match &child.kind {
            FieldKind::Schema(definition)
                if provided.contains(&definition.name)
                    && matches!(&definition.binding, Binding::Project(path)
                        if **path == [definition.name.clone()])
                    && child.selection.is_none() =>
            {
                Some(definition.name.as_str())
            }
            _ => None,
        })
}

/// Whether every field selected under an entity-valued `field` is a key
/// field or provided by the subgraph that returns it: it is then read from
/// that answer rather than loaded again.
fn is_provided(plan: &EntityPlan, field: &Field) -> bool {
    let Some(selection) = &field.selection else {
        return false;
    };
    if plan.provided.is_empty() {
        return false;
    }
    let provided: Vec<&str> = provided_selected(&plan.provided, field).collect();
    selection.all_fields().all(|child| match &child.kind {
        FieldKind::Schema(definition) => {
            provided.contains(&definition.name.as_str())
                || plan.batch.key_names.contains(&definition.name)
        }
        FieldKind::Typename(_) => true,
        FieldKind::Introspection => false,
    })
}

/// `definition` with another binding.
fn rebound(definition: &FieldDef, binding: Binding) -> Arc<FieldDef> {
    Arc::new(FieldDef {
        name: definition.name.clone(),
        ty: definition.ty.clone(),
        shape: definition.shape.clone(),
        args: definition.args.clone(),
        binding,
        access: definition.access.clone(),
    })
}

/// `{ <key>: field(args) { … } }` and the variables it uses.
fn root_document(
    subgraph: &SubgraphField,
    field: &Field,
    variables: &[VariableDefinition],
    kind: OperationKind,
) -> (String, Vec<String>) {
    let mut writer = Writer::new(&subgraph.types);
    writer.text.push_str("{ ");
    writer.text.push_str(&field.key);
    writer.text.push_str(": ");
    writer.field(&subgraph.name, field);
    writer.text.push_str(" }");
    writer.finish(variables, None, kind.keyword())
}

fn root_subscription(
    subgraph: &SubgraphField,
    field: &Field,
    variables: &[VariableDefinition],
) -> Binding {
    let (document, used) = root_document(subgraph, field, variables, OperationKind::Subscription);
    Binding::SubgraphStream(Arc::new(SubgraphSubscription {
        source: subgraph.source.clone(),
        document,
        variables: used,
        response: vec!["data".to_owned(), field.key.clone()],
    }))
}

/// A root field's own call; a mutation's runs every time, never shared.
fn root_fetch(
    subgraph: &SubgraphField,
    field: &Field,
    variables: &[VariableDefinition],
    kind: OperationKind,
) -> Binding {
    let (document, used) = root_document(subgraph, field, variables, kind);
    Binding::Fetch(Arc::new(FetchPlan {
        connector: Box::new(SubgraphQuery {
            source: subgraph.source.clone(),
            document,
            variables: used,
        }),
        response: vec!["data".to_owned(), field.key.clone()],
        dedupe: kind != OperationKind::Mutation,
        publish: None,
    }))
}

/// A field returning an entity `reference` names, loaded through its
/// owner's `_entities` with the key the parent's answer holds; the
/// document asks the selected fields the owner answers.
fn owner_load(
    subgraph: &SubgraphField,
    reference: &SubgraphReference,
    field: &Field,
    variables: &[VariableDefinition],
) -> Binding {
    let mut writer = Writer::new(&subgraph.types);
    writer.open_entities(&reference.type_name);
    let mut leaves = Leaves::default();
    for key in &reference.key {
        writer.leaf(&mut leaves, key);
    }
    if let Some(selection) = &field.selection {
        writer.fields_after(selection, leaves);
    }
    let (document, used) = writer.finish_entities(variables);
    let connector = SubgraphEntities {
        source: subgraph.source.clone(),
        document,
        type_name: reference.type_name.clone(),
        key_names: reference.key.clone(),
        variables: used,
        typed: Vec::new(),
        optional: Vec::new(),
    };
    let batch = entities_batch(connector, &reference.key, Vec::new());
    let part = |name: &String| {
        ValueTemplate::Var(Var {
            root: Root::This,
            path: vec![subgraph.name.clone(), name.clone()].into(),
        })
    };
    let key = match reference.key.as_slice() {
        [one] => part(one),
        many => ValueTemplate::Object(many.iter().map(|name| (name.clone(), part(name))).collect()),
    };
    Binding::Entity(Arc::new(EntityPlan {
        batch,
        key,
        entity: reference.type_name.clone(),
        provided: reference.provided.clone(),
    }))
}

/// The batch of an `_entities` call made by `connector`: answers are
/// matched to the representations by position, and keys told apart by
/// the `key` fields.
fn entities_batch(
    connector: SubgraphEntities,
    key: &[String],
    fields: Vec<String>,
) -> Arc<BatchPlan> {
    Arc::new(BatchPlan {
        id: NEXT_BATCH_ID.fetch_add(1, Ordering::Relaxed),
        graphql: connector.speaks_graphql(),
        match_paths: key.iter().map(|name| vec![name.clone()].into()).collect(),
        key_names: connector.key_names.clone(),
        response: vec!["data".to_owned(), "_entities".to_owned()].into(),
        max_batch_size: connector.source.limits().max_batch_size,
        fields,
        connector: Box::new(connector),
    })
}

/// Writes a subgraph document and notes the variables it uses.
struct Writer<'e> {
    text: String,
    used: BTreeSet<String>,
    types: &'e SubgraphTypes,
}

impl<'e> Writer<'e> {
    fn new(types: &'e SubgraphTypes) -> Self {
        Self {
            text: String::new(),
            used: BTreeSet::new(),
            types,
        }
    }

    /// The document, a `keyword` operation with its variables declared,
    /// and their names.
    fn finish(
        self,
        variables: &[VariableDefinition],
        extra: Option<&str>,
        keyword: &str,
    ) -> (String, Vec<String>) {
        let mut declared: Vec<String> = extra.map(str::to_owned).into_iter().collect();
        for name in &self.used {
            if let Some(definition) = variables.iter().find(|v| &v.name == name) {
                declared.push(format!("${name}: {}", definition.var_type));
            }
        }
        let document = match (declared.is_empty(), keyword) {
            (true, "query") => self.text,
            (true, _) => format!("{keyword} {}", self.text),
            (false, _) => format!("{keyword}({}) {}", declared.join(", "), self.text),
        };
        (document, self.used.into_iter().collect())
    }

    /// `name(args) { … }` of one field.
    fn field(&mut self, name: &str, field: &Field) {
        self.text.push_str(name);
        if let FieldKind::Schema(definition) = &field.kind {
            self.arguments(definition, &field.args);
        }
        if let Some(selection) = &field.selection {
            self.selection(selection);
        }
    }

    fn selection(&mut self, set: &SelectionSet) {
        self.text.push_str(" {");
        let start = self.text.len();
        self.fields(set);
        if self.text.len() == start {
            self.text.push_str(" __typename");
        }
        self.text.push_str(" }");
    }

    /// Opens an `_entities` document's selection on `type_name`.
    fn open_entities(&mut self, type_name: &str) {
        let _ = write!(
            self.text,
            "{{ _entities(representations: $representations) {{ ... on {type_name} {{"
        );
    }

    /// Closes what [`Self::open_entities`] opened: the document, with the
    /// variables it uses.
    fn finish_entities(mut self, variables: &[VariableDefinition]) -> (String, Vec<String>) {
        self.text.push_str(" } } }");
        self.finish(variables, Some("$representations: [_Any!]!"), "query")
    }

    /// Writes ` name`, unless `leaves` shows it written in this selection.
    fn leaf(&mut self, leaves: &mut Leaves, name: &str) {
        if !leaves.0.iter().any(|written| written == name) {
            self.text.push(' ');
            self.text.push_str(name);
            leaves.0.push(name.to_owned());
        }
    }

    /// `{ key provided }` of an entity another source loads: the key and
    /// the fields selected that `provided` names, each once.
    fn entity_keys(&mut self, key: &[String], provided: &[String], field: &Field) {
        self.text.push_str(" {");
        let mut leaves = Leaves::default();
        for name in key
            .iter()
            .map(String::as_str)
            .chain(provided_selected(provided, field))
        {
            self.leaf(&mut leaves, name);
        }
        self.text.push_str(" }");
    }

    /// The fields of `set` this subgraph answers, each after a space; on
    /// an interface or union, `__typename` and a fragment per object type
    /// with fields to ask.
    fn fields(&mut self, set: &SelectionSet) {
        self.fields_after(set, Leaves::default());
    }

    /// [`Self::fields`] after the plain fields `leaves` already wrote: a
    /// plain field is asked once however many fields need it.
    fn fields_after(&mut self, set: &SelectionSet, mut leaves: Leaves) {
        if set.by_type.is_some() {
            self.text.push_str(" __typename");
            let known = set
                .sets()
                .iter()
                .filter(|of_type| self.types.objects.contains(&of_type.type_name));
            for of_type in known {
                let start = self.text.len();
                let _ = write!(self.text, " ... on {} {{", of_type.type_name);
                let inner = self.text.len();
                self.fields(of_type);
                if self.text.len() == inner {
                    self.text.truncate(start);
                } else {
                    self.text.push_str(" }");
                }
            }
            return;
        }
        for field in &set.fields {
            let FieldKind::Schema(definition) = &field.kind else {
                continue;
            };
            match &definition.binding {
                Binding::Project(_) if is_plain(field) => self.leaf(&mut leaves, &definition.name),
                Binding::Project(_) => {
                    self.text.push(' ');
                    self.field(&definition.name, field);
                }
                Binding::Entity(plan) => {
                    self.text.push(' ');
                    self.text.push_str(&definition.name);
                    self.entity_keys(&plan.batch.key_names, &plan.provided, field);
                }
                Binding::Subgraph(other) => {
                    self.subgraph_field(&definition.name, other, field, &mut leaves);
                }
                _ => {}
            }
        }
    }

    /// What the parent's fetch asks for a field another subgraph answers:
    /// the key (and `@requires` fields) of an entity field; the key and
    /// provided fields of an entity the other subgraph owns.
    fn subgraph_field(
        &mut self,
        name: &str,
        other: &SubgraphField,
        field: &Field,
        leaves: &mut Leaves,
    ) {
        if let Some(reference) = &other.reference {
            self.text.push(' ');
            self.text.push_str(name);
            self.entity_keys(&reference.key, &reference.provided, field);
            return;
        }
        let Some(entity) = &other.entity else {
            return;
        };
        for (name, _) in &entity.key {
            self.leaf(leaves, name);
        }
        if let Some((required, _)) = entity
            .requires
            .as_ref()
            .filter(|(text, _)| !text.is_empty())
        {
            if required.contains('{') {
                self.text.push(' ');
                self.text.push_str(required);
            } else {
                for name in required.split_whitespace() {
                    self.leaf(leaves, name);
                }
            }
        }
    }

    fn arguments(&mut self, definition: &FieldDef, args: &Arguments) {
        let entries: Vec<(String, Written)> = match args {
            Arguments::Fixed(Value::Object(entries)) => entries
                .iter()
                .map(|(name, value)| (name.clone(), Written::Value(value.clone())))
                .collect(),
            Arguments::Fixed(_) => return,
            Arguments::Varying(entries) => entries
                .iter()
                .map(|(name, input, _)| (name.clone(), Written::Input(input.clone())))
                .collect(),
        };
        if entries.is_empty() {
            return;
        }
        self.text.push('(');
        for (n, (name, value)) in entries.iter().enumerate() {
            if n > 0 {
                self.text.push_str(", ");
            }
            let is_enum = definition
                .args
                .iter()
                .find(|arg| &arg.name == name)
                .is_some_and(|arg| self.types.enums.contains(arg.ty.base()));
            self.text.push_str(name);
            self.text.push_str(": ");
            match value {
                Written::Value(value) => self.value(value, is_enum),
                Written::Input(input) => self.input(input, is_enum),
            }
        }
        self.text.push(')');
    }

    fn input(&mut self, input: &Input, is_enum: bool) {
        match input {
            Input::Literal(value) => self.value(value, is_enum),
            Input::Variable(name) => {
                self.used.insert(name.clone());
                self.text.push('$');
                self.text.push_str(name);
            }
            Input::List(items) => {
                self.text.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        self.text.push_str(", ");
                    }
                    self.input(item, is_enum);
                }
                self.text.push(']');
            }
            Input::Object(entries) => {
                self.text.push('{');
                for (n, (name, value)) in entries.iter().enumerate() {
                    if n > 0 {
                        self.text.push_str(", ");
                    }
                    let _ = write!(self.text, "{name}: ");
                    self.input(value, false);
                }
                self.text.push('}');
            }
        }
    }

    /// A JSON value as a GraphQL literal; strings of an enum argument as
    /// enum values.
    fn value(&mut self, value: &Value, is_enum: bool) {
        match value {
            Value::String(text) if is_enum => self.text.push_str(text),
            Value::Array(items) => {
                self.text.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        self.text.push_str(", ");
                    }
                    self.value(item, is_enum);
                }
                self.text.push(']');
            }
            Value::Object(entries) => {
                self.text.push('{');
                for (n, (name, value)) in entries.iter().enumerate() {
                    if n > 0 {
                        self.text.push_str(", ");
                    }
                    let _ = write!(self.text, "{name}: ");
                    self.value(value, false);
                }
                self.text.push('}');
            }
            other => {
                let _ = write!(self.text, "{other}");
            }
        }
    }
}

/// The plain fields (no arguments, no selection) written in one selection.
#[derive(Default)]
struct Leaves(Vec<String>);

/// Whether `field` is asked by its name alone.
fn is_plain(field: &Field) -> bool {
    field.selection.is_none()
        && match &field.args {
            Arguments::Fixed(Value::Null) => true,
            Arguments::Fixed(Value::Object(entries)) => entries.is_empty(),
            _ => false,
        }
}

/// An argument as the client gave it.
enum Written {
    Value(Value),
    Input(Input),
}
