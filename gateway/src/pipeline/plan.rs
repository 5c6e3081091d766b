//! Stage 5: the normalized operation → the plan the executor runs, cached
//! per document and operation name.
//!
//! A plan is the operation's field tree (every field bound to its
//! [`Binding`]) and its fetch steps by level: a field whose value needs a
//! call is at level 1 under the root and one level deeper under every
//! fetched ancestor. The executor runs each level's steps concurrently,
//! with every key of one batch across the whole level in one call (chunked
//! at `max_batch_size`). Introspection root fields are answered from a
//! document of their own, prepared here.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use graphql_tools::static_graphql::query::{
    self, Definition, Document, OperationDefinition, Selection,
};

use super::keyed::Keyed;
use super::normalize::{Field, FieldKind, Operation, OperationKind, SelectionSet};
use crate::json::KeyPath;
use crate::schema::model::{Access, Binding, Model};

/// A planned operation.
#[derive(Debug)]
pub struct Plan {
    /// Tells this plan from every other planned in this process.
    pub id: u64,
    /// The operation's field tree.
    pub operation: Operation,
    /// The document that answers the introspection root fields, if any.
    pub introspection: Option<String>,
    /// The fetch steps, by level then response path.
    pub steps: Vec<Step>,
    /// How many bytes the last response of this plan took, so the next
    /// one's buffer is allocated once.
    pub size_hint: AtomicUsize,
    /// How many fetched results the last run of this plan filed.
    pub slot_hint: AtomicUsize,
    /// The fields only some callers may read, by field id.
    pub guarded: Vec<(u32, Access)>,
}

/// One fetch step, as `weft plan` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1 for root fields, one more under each fetched ancestor.
    pub level: usize,
    /// The response path, e.g. `users.orders`.
    pub path: String,
    /// What is fetched, e.g. `orders: GET /orders?userIds={$batch.id} (batched by parent)`.
    pub fetch: String,
}

/// How many plans this process has made: the next plan's id.
static PLANNED: AtomicU64 = AtomicU64::new(0);

/// Plans a normalized operation of `document`.
pub fn plan(mut operation: Operation, document: &Document, text: &str, model: &Model) -> Plan {
    super::subgraph::bind(&mut operation, model);
    mark_reads(&mut operation.selection);
    let mut steps = Vec::new();
    collect_steps(&operation.selection, "", 0, &mut steps);
    steps.sort_by_key(|step| step.level);
    let introspection = introspection(&operation, document, text);
    let guarded = super::authorize::guarded(&operation.selection);
    Plan {
        id: PLANNED.fetch_add(1, Ordering::Relaxed),
        guarded,
        operation,
        introspection,
        steps,
        size_hint: AtomicUsize::new(1024),
        slot_hint: AtomicUsize::new(0),
    }
}

/// Sets [`Field::reads`] on every field loaded by its parent's key.
fn mark_reads(set: &mut SelectionSet) {
    for set in set.sets_mut() {
        for field in &mut set.fields {
            if let Some(selection) = &mut field.selection {
                mark_reads(selection);
            }
            if let FieldKind::Schema(definition) = &field.kind
                && let Some(keyed) = Keyed::of(definition)
            {
                let matched_by = &keyed.batch.match_paths;
                field.reads = field
                    .selection
                    .as_ref()
                    .and_then(|selection| item_reads(selection, matched_by));
            }
        }
    }
}

/// The members of an item that `selection` reads, with the first key of
/// each path the item is matched to its key by: the first key of each
/// field's path in it, or of the key a field below is loaded by. `None`
/// when it may read others: on an interface or union (whose type may be
/// told by any member), or under a field of any other binding (whose
/// templates may read any).
fn item_reads(selection: &SelectionSet, matched_by: &[KeyPath]) -> Option<Arc<[String]>> {
    if selection.by_type.is_some() {
        return None;
    }
    let mut members = Vec::new();
    for path in matched_by {
        members.push(path.first()?.clone());
    }
    for field in &selection.fields {
        let definition = match &field.kind {
            FieldKind::Typename(_) => continue,
            FieldKind::Introspection => return None,
            FieldKind::Schema(definition) => definition,
        };
        let path = match &definition.binding {
            Binding::Project(path) => path,
            _ => Keyed::of(definition)?.path,
        };
        members.push(path.first()?.clone());
    }
    members.sort_unstable();
    members.dedup();
    Some(members.into())
}

fn collect_steps(set: &SelectionSet, prefix: &str, level: usize, steps: &mut Vec<Step>) {
    if set.by_type.is_some() {
        for of_type in set.sets() {
            let prefix = format!("{prefix}<{}>", of_type.type_name);
            collect_steps(of_type, &prefix, level, steps);
        }
        return;
    }
    for field in &set.fields {
        let FieldKind::Schema(definition) = &field.kind else {
            continue;
        };
        let path = if prefix.is_empty() {
            field.key.clone()
        } else {
            format!("{prefix}.{}", field.key)
        };
        let level = if definition.binding.is_fetched() {
            // A batch that waits for fields beside it runs a level after them.
            let waits =
                matches!(&definition.binding, Binding::Grouped(plan) if !plan.after.is_empty());
            let level = level + 1 + usize::from(waits);
            steps.push(Step {
                level,
                path: path.clone(),
                fetch: describe(&definition.binding),
            });
            level
        } else {
            level
        };
        if let Some(selection) = &field.selection {
            collect_steps(selection, &path, level, steps);
        }
    }
}

fn describe(binding: &Binding) -> String {
    match binding {
        Binding::Project(path) => format!("read `{}`", path.join(".")),
        Binding::Fetch(fetch) => {
            let mut text = fetch.connector.describe();
            if fetch.publish.is_some() {
                text.push_str(", then publish");
            }
            text
        }
        Binding::Entity(entity) => format!(
            "{} (entity {}, batched by {})",
            entity.batch.connector.describe(),
            entity.entity,
            entity.batch.key_names.join(", ")
        ),
        Binding::Grouped(grouped) if grouped.pick.is_some() => format!(
            "{} (batched by parent, by {})",
            grouped.batch.connector.describe(),
            grouped.batch.key_names.join(", ")
        ),
        Binding::Grouped(grouped) => format!(
            "{} (batched by parent, grouped by {})",
            grouped.batch.connector.describe(),
            grouped
                .batch
                .match_paths
                .iter()
                .map(|path| path.join("."))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Binding::Publish(_) => "publish to the event bus".to_owned(),
        Binding::Event(_) => "events from the bus".to_owned(),
        Binding::Stream(stream) => format!("server stream {}", stream.method.full_name()),
        Binding::Subgraph(field) => format!("{}: {}", field.source.name(), field.name),
        Binding::SubgraphStream(stream) => format!("subscription {}", stream.describe()),
    }
}

impl std::fmt::Display for Plan {
    /// The plan as `weft plan` prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let operation = &self.operation;
        let levels = self.steps.last().map_or(0, |step| step.level);
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        writeln!(
            f,
            "{} {}: {} field{}, {} fetch step{} in {} level{}",
            operation.kind.keyword(),
            operation.name.as_deref().unwrap_or("(anonymous)"),
            operation.field_count,
            plural(operation.field_count),
            self.steps.len(),
            plural(self.steps.len()),
            levels,
            plural(levels)
        )?;
        if operation.kind == OperationKind::Mutation {
            writeln!(f, "root fields run one after another")?;
        }
        let mut current = 0;
        for step in &self.steps {
            if step.level != current {
                current = step.level;
                writeln!(f, "level {current}")?;
            }
            writeln!(f, "  {}  <-  {}", step.path, step.fetch)?;
        }
        if self.introspection.is_some() {
            writeln!(f, "introspection fields answered from the schema")?;
        }
        Ok(())
    }
}

/// The document for the operation's introspection root fields: the request
/// itself when every root field is introspection, otherwise the operation
/// cut down to them (with the fragments and variables they use).
fn introspection(operation: &Operation, document: &Document, text: &str) -> Option<String> {
    let roots = &operation.selection.fields;
    let is_introspection = |field: &Field| matches!(field.kind, FieldKind::Introspection);
    if !roots.iter().any(is_introspection) {
        return None;
    }
    if roots
        .iter()
        .all(|field| !matches!(field.kind, FieldKind::Schema(_)))
    {
        return Some(text.to_owned());
    }
    let mut cut = document.clone();
    let mut used_fragments = HashSet::new();
    let mut used_variables = HashSet::new();
    let fragments = cut_fragments(document);
    let is_introspection = |selection: &Selection| matches!(selection, Selection::Field(field) if field.name == "__schema" || field.name == "__type");
    for definition in &mut cut.definitions {
        let (set, variables) = match definition {
            Definition::Operation(OperationDefinition::Query(query))
                if query.name == operation.name =>
            {
                (
                    &mut query.selection_set,
                    Some(&mut query.variable_definitions),
                )
            }
            Definition::Operation(OperationDefinition::SelectionSet(set))
                if operation.name.is_none() =>
            {
                (set, None)
            }
            _ => continue,
        };
        set.items.retain(is_introspection);
        uses(set, &fragments, &mut used_fragments, &mut used_variables);
        if let Some(variables) = variables {
            variables.retain(|variable| used_variables.contains(&variable.name));
        }
    }
    cut.definitions.retain(|definition| match definition {
        Definition::Operation(OperationDefinition::Query(query)) => query.name == operation.name,
        Definition::Operation(OperationDefinition::SelectionSet(_)) => operation.name.is_none(),
        Definition::Operation(_) => false,
        Definition::Fragment(fragment) => used_fragments.contains(&fragment.name),
    });
    let mut printed = String::new();
    let _ = write!(printed, "{cut}");
    Some(printed)
}

fn cut_fragments(document: &Document) -> Vec<query::FragmentDefinition> {
    document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Fragment(fragment) => Some(fragment.clone()),
            Definition::Operation(_) => None,
        })
        .collect()
}

/// The fragments and variables a selection uses, through its fragments.
fn uses(
    set: &query::SelectionSet,
    fragments: &[query::FragmentDefinition],
    used_fragments: &mut HashSet<String>,
    used_variables: &mut HashSet<String>,
) {
    for selection in &set.items {
        match selection {
            Selection::Field(field) => {
                for (_, value) in &field.arguments {
                    variables_in(value, used_variables);
                }
                uses(
                    &field.selection_set,
                    fragments,
                    used_fragments,
                    used_variables,
                );
            }
            Selection::FragmentSpread(spread) => {
                if used_fragments.insert(spread.fragment_name.clone())
                    && let Some(fragment) =
                        fragments.iter().find(|f| f.name == spread.fragment_name)
                {
                    uses(
                        &fragment.selection_set,
                        fragments,
                        used_fragments,
                        used_variables,
                    );
                }
            }
            Selection::InlineFragment(inline) => {
                uses(
                    &inline.selection_set,
                    fragments,
                    used_fragments,
                    used_variables,
                );
            }
        }
    }
}

fn variables_in(value: &query::Value, used: &mut HashSet<String>) {
    match value {
        query::Value::Variable(name) => drop(used.insert(name.clone())),
        query::Value::List(items) => items.iter().for_each(|item| variables_in(item, used)),
        query::Value::Object(entries) => entries
            .iter()
            .for_each(|(_, value)| variables_in(value, used)),
        _ => {}
    }
}
