//! Part of stage 5 (plan): the documents sent to GraphQL subgraphs.
//!
//! A field bound to a subgraph ([`Binding::Subgraph`]) gets, once per
//! planned operation, a binding of its own with a document made from its
//! sub-selection, so the executor runs it like any other call:
//!
//! - a root field becomes a [`Binding::Fetch`] of
//!   `query($v: T) { <key>: field(args) { … } }`, read back at `data.<key>`;
//! - a field added to an entity becomes a [`Binding::Grouped`] batch of
//!   `_entities(representations: $representations) { ... on T { field { … } } }`,
//!   one call per level (chunked at `max_batch_size`), identical keys sent
//!   once, the same field with the same selection at several places of a
//!   level in the same call; the answered list is matched to the
//!   representations by position, so the key fields are not asked back.
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

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use graphql_tools::static_graphql::query::VariableDefinition;
use serde_json::Value;

use super::normalize::{
    Arguments, Condition, Field, FieldKind, Input, Operation, OperationKind, SelectionSet,
};
use crate::error::{Location, Place};
use crate::schema::model::{
    Binding, EntityPlan, FetchPlan, FieldDef, GroupedPlan, Model, SubgraphEntity, SubgraphField,
    SubgraphReference,
};
use crate::sources::batching::BatchPlan;
use crate::sources::graphql::{SubgraphEntities, SubgraphQuery, SubgraphSubscription};
use crate::template::{Root, ValueTemplate, Var};

/// Batch plans made here are told apart from the schema's by starting high.
static NEXT_BATCH_ID: AtomicUsize = AtomicUsize::new(usize::MAX / 2);

/// Gives every subgraph field of `operation` its binding for this
/// operation.
pub(crate) fn bind(operation: &mut Operation, model: &Model) {
    let variables = &operation.variables;
    let keyword = match operation.kind {
        OperationKind::Subscription => Keyword::Subscription,
        _ => Keyword::Query,
    };
    let mut binder = Binder {
        variables,
        model,
        next_hidden: u32::MAX,
        batches: Batches::default(),
    };
    binder.set(&mut operation.selection, keyword);
}

/// The entity batches made for one operation, by source and document: the
/// same field with the same selection at several places shares one batch,
/// so a level asks it in one `_entities` call.
type Batches = HashMap<(String, String), Arc<BatchPlan>>;

/// The operation a root field's document is: a subscription's root field
/// subscribes, every other field queries.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Keyword {
    Query,
    Subscription,
}

/// What binding an operation's fields needs.
struct Binder<'o> {
    variables: &'o [VariableDefinition],
    model: &'o Model,
    /// The id of the next field added for `@requires` (counting down, so
    /// it never meets the normalized fields' ids).
    next_hidden: u32,
    batches: Batches,
}

impl Binder<'_> {
    /// Binds the fields of `set`; `keyword` is the operation's at the
    /// root, `query` below it.
    fn set(&mut self, set: &mut SelectionSet, keyword: Keyword) {
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
            bind_field(field, self.variables, &siblings, keyword, &mut self.batches);
            if let Some(selection) = &mut field.selection {
                self.set(selection, Keyword::Query);
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
                key_json: String::new(),
                kind: FieldKind::Schema(definition.clone()),
                args: Arguments::Fixed(Value::Null),
                condition: Condition::Always,
                selection: None,
                location: Location { line: 0, column: 0 },
                hidden: true,
            });
            self.next_hidden -= 1;
            set.fetches = true;
        }
    }
}

/// Binds one field for the operation; `siblings` are the fields beside it
/// (name and id), for `@requires` of fetched fields.
fn bind_field(
    field: &mut Field,
    variables: &[VariableDefinition],
    siblings: &[(String, u32)],
    keyword: Keyword,
    batches: &mut Batches,
) {
    if let FieldKind::Schema(definition) = &field.kind
        && let Binding::Subgraph(subgraph) = &definition.binding
    {
        let binding = match (&subgraph.entity, &subgraph.reference, keyword) {
            (_, Some(reference), _) => owner_load(subgraph, reference, field, variables),
            (None, None, Keyword::Subscription) => root_subscription(subgraph, field, variables),
            (None, None, Keyword::Query) => root_fetch(subgraph, field, variables),
            (Some(entity), None, _) => {
                entity_batch(subgraph, entity, field, variables, siblings, batches)
            }
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
        .flat_map(|selection| &selection.fields)
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
    selection.fields.iter().all(|child| match &child.kind {
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
    keyword: &str,
) -> (String, Vec<String>) {
    let mut writer = Writer::new(&subgraph.enums);
    writer.text.push_str("{ ");
    writer.text.push_str(&field.key);
    writer.text.push_str(": ");
    writer.field(&subgraph.name, field);
    writer.text.push_str(" }");
    writer.finish(variables, None, keyword)
}

fn root_subscription(
    subgraph: &SubgraphField,
    field: &Field,
    variables: &[VariableDefinition],
) -> Binding {
    let (document, used) = root_document(subgraph, field, variables, "subscription");
    Binding::SubgraphStream(Arc::new(SubgraphSubscription {
        source: subgraph.source.clone(),
        document,
        variables: used,
        response: vec!["data".to_owned(), field.key.clone()],
    }))
}

fn root_fetch(
    subgraph: &SubgraphField,
    field: &Field,
    variables: &[VariableDefinition],
) -> Binding {
    let (document, used) = root_document(subgraph, field, variables, "query");
    Binding::Fetch(Arc::new(FetchPlan {
        connector: Box::new(SubgraphQuery {
            source: subgraph.source.clone(),
            document,
            variables: used,
        }),
        response: vec!["data".to_owned(), field.key.clone()],
        dedupe: true,
        publish: None,
    }))
}

fn entity_batch(
    subgraph: &SubgraphField,
    entity: &SubgraphEntity,
    field: &Field,
    variables: &[VariableDefinition],
    siblings: &[(String, u32)],
    batches: &mut Batches,
) -> Binding {
    let key_names: Vec<String> = entity.key.iter().map(|(name, _)| name.clone()).collect();
    let required = entity.requires.iter().flat_map(|(_, parts)| parts);
    let sent_names: Vec<String> = key_names
        .iter()
        .cloned()
        .chain(required.clone().map(|part| part.name.clone()))
        .collect();
    let mut writer = Writer::new(&subgraph.enums);
    let _ = write!(
        writer.text,
        "{{ _entities(representations: $representations) {{ ... on {} {{ ",
        entity.type_name,
    );
    writer.field(&subgraph.name, field);
    writer.text.push_str(" } } }");
    let (document, used) = writer.finish(variables, Some("$representations: [_Any!]!"), "query");
    let shared = (subgraph.source.name().to_owned(), document.clone());
    let batch = batches.entry(shared).or_insert_with(|| {
        Arc::new(BatchPlan {
            id: NEXT_BATCH_ID.fetch_add(1, Ordering::Relaxed),
            connector: Box::new(SubgraphEntities {
                source: subgraph.source.clone(),
                document,
                type_name: entity.type_name.clone(),
                key_names: sent_names.clone(),
                variables: used,
                typed: required
                    .clone()
                    .map(|part| (part.name.clone(), part.typed.clone()))
                    .collect(),
            }),
            // Answers are matched by position; these tell keys apart.
            match_paths: key_names
                .iter()
                .map(|name| vec![name.clone()].into())
                .collect(),
            key_names: sent_names,
            response: vec!["data".to_owned(), "_entities".to_owned()].into(),
            max_batch_size: subgraph.source.limits().max_batch_size,
            pick: Some(vec![subgraph.name.clone()].into()),
        })
    });
    let batch = batch.clone();
    let part = |path: &Vec<String>| {
        ValueTemplate::Var(Var {
            root: Root::This,
            path: path.clone(),
        })
    };
    let key = match (entity.key.as_slice(), &entity.requires) {
        ([(_, path)], None) => part(path),
        (parts, _) => ValueTemplate::Object(
            parts
                .iter()
                .map(|(name, path)| (name.clone(), part(path)))
                .chain(
                    required
                        .clone()
                        .map(|part| (part.name.clone(), part.read.clone())),
                )
                .collect(),
        ),
    };
    let after = required
        .filter(|part| part.fetched)
        .filter_map(|part| {
            let (_, id) = siblings.iter().find(|(name, _)| *name == part.name)?;
            Some((part.name.clone(), *id))
        })
        .collect();
    Binding::Grouped(Arc::new(GroupedPlan {
        after,
        batch,
        key,
        parent_key: key_names.first().cloned().unwrap_or_default(),
        group_by: (
            key_names.join(" "),
            Place {
                file: subgraph.source.name().into(),
                line: 0,
                column: 0,
            },
        ),
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
    let mut writer = Writer::new(&subgraph.enums);
    let _ = write!(
        writer.text,
        "{{ _entities(representations: $representations) {{ ... on {} {{ {}",
        reference.type_name,
        reference.key.join(" ")
    );
    if let Some(selection) = &field.selection {
        writer.fields(selection);
    }
    writer.text.push_str(" } } }");
    let (document, used) = writer.finish(variables, Some("$representations: [_Any!]!"), "query");
    let batch = BatchPlan {
        id: NEXT_BATCH_ID.fetch_add(1, Ordering::Relaxed),
        connector: Box::new(SubgraphEntities {
            source: subgraph.source.clone(),
            document,
            type_name: reference.type_name.clone(),
            key_names: reference.key.clone(),
            variables: used,
            typed: Vec::new(),
        }),
        match_paths: reference
            .key
            .iter()
            .map(|name| vec![name.clone()].into())
            .collect(),
        key_names: reference.key.clone(),
        response: vec!["data".to_owned(), "_entities".to_owned()].into(),
        max_batch_size: subgraph.source.limits().max_batch_size,
        pick: None,
    };
    let part = |name: &String| {
        ValueTemplate::Var(Var {
            root: Root::This,
            path: vec![subgraph.name.clone(), name.clone()],
        })
    };
    let key = match reference.key.as_slice() {
        [one] => part(one),
        many => ValueTemplate::Object(many.iter().map(|name| (name.clone(), part(name))).collect()),
    };
    Binding::Entity(Arc::new(EntityPlan {
        batch: Arc::new(batch),
        key,
        entity: reference.type_name.clone(),
        provided: reference.provided.clone(),
    }))
}

/// Writes a subgraph document and notes the variables it uses.
struct Writer<'e> {
    text: String,
    used: BTreeSet<String>,
    enums: &'e HashSet<String>,
}

impl<'e> Writer<'e> {
    fn new(enums: &'e HashSet<String>) -> Self {
        Self {
            text: String::new(),
            used: BTreeSet::new(),
            enums,
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

    /// The fields of `set` this subgraph answers, each after a space.
    fn fields(&mut self, set: &SelectionSet) {
        for field in &set.fields {
            let FieldKind::Schema(definition) = &field.kind else {
                continue;
            };
            match &definition.binding {
                Binding::Project(_) => {
                    self.text.push(' ');
                    self.field(&definition.name, field);
                }
                Binding::Entity(plan) => {
                    let _ = write!(
                        self.text,
                        " {} {{ {}",
                        definition.name,
                        plan.batch.key_names.join(" ")
                    );
                    for name in provided_selected(&plan.provided, field) {
                        self.text.push(' ');
                        self.text.push_str(name);
                    }
                    self.text.push_str(" }");
                }
                Binding::Subgraph(other) => self.subgraph_field(&definition.name, other, field),
                _ => {}
            }
        }
    }

    /// What the parent's fetch asks for a field another subgraph answers:
    /// the key (and `@requires` fields) of an entity field; the key and
    /// provided fields of an entity the other subgraph owns.
    fn subgraph_field(&mut self, name: &str, other: &SubgraphField, field: &Field) {
        if let Some(reference) = &other.reference {
            let _ = write!(self.text, " {name} {{ {}", reference.key.join(" "));
            for provided in provided_selected(&reference.provided, field) {
                self.text.push(' ');
                self.text.push_str(provided);
            }
            self.text.push_str(" }");
            return;
        }
        let Some(entity) = &other.entity else {
            return;
        };
        for (name, _) in &entity.key {
            self.text.push(' ');
            self.text.push_str(name);
        }
        if let Some((required, _)) = entity
            .requires
            .as_ref()
            .filter(|(text, _)| !text.is_empty())
        {
            self.text.push(' ');
            self.text.push_str(required);
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
                .is_some_and(|arg| self.enums.contains(arg.ty.base()));
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

/// An argument as the client gave it.
enum Written {
    Value(Value),
    Input(Input),
}
