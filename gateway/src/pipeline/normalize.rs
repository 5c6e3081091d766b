//! Stage 3: a validated document → the operation to run, as a tree of
//! fields bound to the [`Model`]: the operation picked by name, fragments
//! inlined, fields with the same response key merged, aliases kept, and
//! `@skip`/`@include` applied — literal conditions now, variable ones kept
//! as [`Condition`]s that the executor checks against each request's
//! variables.
//!
//! A selection on an interface or union becomes one selection per object
//! type a value may be ([`ByType`]), each with the fragments that apply to
//! that type; the executor and writer pick one per value by its type.

use std::borrow::Cow;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU32;

use graphql_tools::static_graphql::query::{
    self, Definition, Directive, Document, OperationDefinition, Selection, VariableDefinition,
};
use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::keyed::KeyedBy;
use crate::config::LimitsConfig;
use crate::error::{GraphqlError, Location, codes};
use crate::json::{Json, Snippet};
use crate::schema::model::{FieldDef, InputValue, Model, TypeResolver};

/// What kind of operation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// `query`.
    Query,
    /// `mutation`.
    Mutation,
    /// `subscription`.
    Subscription,
}

impl OperationKind {
    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Mutation => "mutation",
            Self::Subscription => "subscription",
        }
    }
}

/// The operation to run.
#[derive(Debug)]
pub struct Operation {
    /// Its kind.
    pub kind: OperationKind,
    /// Its name, if it has one.
    pub name: Option<String>,
    /// Its variables, as declared.
    pub variables: Vec<VariableDefinition>,
    /// The root selection.
    pub selection: SelectionSet,
    /// How many fields the tree has.
    pub field_count: usize,
}

/// The fields selected on one object type, in response order.
#[derive(Debug)]
pub struct SelectionSet {
    /// The object type (or interface or union).
    pub type_name: String,
    /// The fields (none for an interface or union: see `by_type`).
    pub fields: Vec<Field>,
    /// Whether a field here or below needs a fetch; the executor does not
    /// walk data under a selection that needs none.
    pub fetches: bool,
    /// For an interface or union: the selection of each object type.
    pub by_type: Option<ByType>,
    /// The places in `fields` of those the executor's walk goes into:
    /// worked out once the plan is done (see [`SelectionSet::walked`]).
    pub(crate) walked: OnceLock<Box<[usize]>>,
}

/// The selection on an interface or union, per object type a value of it
/// may be.
#[derive(Debug)]
pub struct ByType {
    /// Tells a value's object type.
    pub resolver: Arc<TypeResolver>,
    /// One selection per possible object type.
    pub sets: Vec<SelectionSet>,
}

impl SelectionSet {
    /// The selection that applies to `value`: this one, or on an
    /// interface or union the one of the value's object type; the error
    /// says why the type could not be told.
    #[inline]
    pub fn of_value(&self, value: Json<'_>) -> Result<&SelectionSet, String> {
        match &self.by_type {
            None => Ok(self),
            Some(by_type) => by_type.of_value(value),
        }
    }

    /// The fields the executor's walk goes into, by their place in
    /// `fields`: all but those that can lead to no fetch (`__typename`,
    /// and a member of the parent with no fetch below it), which most
    /// fields of a large answer are. Worked out on first use, so only once
    /// planning (which may bind fields anew) is done.
    pub(crate) fn walked(&self) -> &[usize] {
        self.walked.get_or_init(|| {
            let fields = self.fields.iter().enumerate();
            fields
                .filter(|(_, field)| field.leads_to_fetch())
                .map(|(place, _)| place)
                .collect()
        })
    }

    /// The selections of object types this one stands for: itself, or one
    /// per possible type of an interface or union.
    pub fn sets(&self) -> &[SelectionSet] {
        match &self.by_type {
            Some(by_type) => &by_type.sets,
            None => std::slice::from_ref(self),
        }
    }

    /// [`Self::sets`], to change.
    pub fn sets_mut(&mut self) -> &mut [SelectionSet] {
        if self.by_type.is_none() {
            return std::slice::from_mut(self);
        }
        match &mut self.by_type {
            Some(by_type) => &mut by_type.sets,
            None => &mut [],
        }
    }

    /// Every field of [`Self::sets`].
    pub fn all_fields(&self) -> impl Iterator<Item = &Field> {
        self.sets().iter().flat_map(|set| &set.fields)
    }
}

impl ByType {
    fn of_value(&self, value: Json<'_>) -> Result<&SelectionSet, String> {
        let name = self.resolver.resolve(value)?;
        self.sets
            .iter()
            .find(|set| set.type_name == name)
            .ok_or_else(|| format!("`{name}` is not a type of `{}`", self.resolver.name))
    }
}

/// One response key of a selection.
#[derive(Debug)]
pub struct Field {
    /// Unique within the operation; names this field's results.
    pub id: u32,
    /// The response key (alias or name).
    pub key: String,
    /// `"key":`, escaped, ready to write.
    pub key_json: Snippet,
    /// What it is.
    pub kind: FieldKind,
    /// Its arguments.
    pub args: Arguments,
    /// When it is included.
    pub condition: Condition,
    /// Its sub-selection, for fields of object type.
    pub selection: Option<SelectionSet>,
    /// Where it stands in the document.
    pub location: Location,
    /// Fetched for another field's `@requires` without being selected: not
    /// written to the response.
    pub hidden: bool,
    /// For a field loaded by its parent's key: the members of each loaded
    /// item its selection reads or the item is matched to its key by,
    /// by their names in the answer (sorted); `None` when it may read
    /// any. Set by the planner.
    pub reads: Option<Arc<[String]>>,
    /// For a field loaded by its parent's key: how many parents named a
    /// key in the last run of its plan, to size the walker's record of
    /// them (which grows past it as needed).
    pub(crate) parents_hint: AtomicU32,
    /// How it is loaded by its parent's key, if it is: worked out once.
    pub(crate) keyed: OnceLock<Option<KeyedBy>>,
}

impl Field {
    /// Whether the field or something below it needs a step of its own
    /// (see [`crate::schema::model::Binding::is_fetched`]), as its
    /// selection says at the time.
    fn leads_to_fetch(&self) -> bool {
        let fetched =
            matches!(&self.kind, FieldKind::Schema(definition) if definition.binding.is_fetched());
        fetched || self.selection.as_ref().is_some_and(|set| set.fetches)
    }
}

/// What a selected field is.
#[derive(Debug)]
pub enum FieldKind {
    /// `__typename`, with the type name as JSON text.
    Typename(String),
    /// `__schema` or `__type` at the root: answered by introspection.
    Introspection,
    /// A field of the schema.
    Schema(Arc<FieldDef>),
}

/// Whether a field is included, by `@skip`/`@include` on variables.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Always.
    Always,
    /// When the variable is `expected`.
    Var {
        /// The variable's name.
        name: String,
        /// `true` for `@include`, `false` for `@skip`.
        expected: bool,
    },
    /// When all of these hold.
    All(Vec<Condition>),
    /// When any of these holds.
    Any(Vec<Condition>),
}

impl Condition {
    /// Whether the field is included with these variables.
    #[inline]
    pub fn holds(&self, variables: &Map<String, Value>) -> bool {
        matches!(self, Self::Always) || self.holds_with(variables)
    }

    fn holds_with(&self, variables: &Map<String, Value>) -> bool {
        match self {
            Self::Always => true,
            Self::Var { name, expected } => {
                variables.get(name).and_then(Value::as_bool) == Some(*expected)
            }
            Self::All(all) => all.iter().all(|condition| condition.holds(variables)),
            Self::Any(any) => any.iter().any(|condition| condition.holds(variables)),
        }
    }

    fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Always, other) | (other, Self::Always) => other,
            (Self::All(mut all), other) => {
                all.push(other);
                Self::All(all)
            }
            (one, other) => Self::All(vec![one, other]),
        }
    }

    fn any(conditions: Vec<Self>) -> Self {
        if conditions.contains(&Self::Always) {
            return Self::Always;
        }
        let mut distinct: Vec<Self> = Vec::new();
        for condition in conditions {
            if !distinct.contains(&condition) {
                distinct.push(condition);
            }
        }
        if distinct.len() == 1 {
            distinct.remove(0)
        } else {
            Self::Any(distinct)
        }
    }
}

/// A field's arguments, rendered to a JSON object per request.
#[derive(Debug, Clone)]
pub enum Arguments {
    /// No variables: the same object every time (`null` without arguments).
    Fixed(Value),
    /// Entries that read variables.
    Varying(Vec<(String, Input, Option<Value>)>),
}

/// An argument value that may read variables.
#[derive(Debug, Clone)]
pub enum Input {
    /// A literal.
    Literal(Value),
    /// `$name`.
    Variable(String),
    /// A list with variables inside.
    List(Vec<Input>),
    /// An input object with variables inside.
    Object(Vec<(String, Input)>),
}

impl Arguments {
    /// The arguments as a JSON object for these variables: borrowed when
    /// they use none.
    pub fn render(&self, variables: &Map<String, Value>) -> Cow<'_, Value> {
        match self {
            Self::Fixed(value) => Cow::Borrowed(value),
            Self::Varying(entries) => {
                let mut object = Map::new();
                for (name, input, default) in entries {
                    match (input.render(variables), default) {
                        (Some(value), _) => drop(object.insert(name.clone(), value)),
                        (None, Some(default)) => drop(object.insert(name.clone(), default.clone())),
                        (None, None) => {}
                    }
                }
                Cow::Owned(Value::Object(object))
            }
        }
    }
}

impl Input {
    /// The value; `None` for a variable that was not given.
    fn render(&self, variables: &Map<String, Value>) -> Option<Value> {
        match self {
            Self::Literal(value) => Some(value.clone()),
            Self::Variable(name) => variables.get(name).cloned(),
            Self::List(items) => Some(
                items
                    .iter()
                    .map(|item| item.render(variables).unwrap_or(Value::Null))
                    .collect(),
            ),
            Self::Object(entries) => Some(Value::Object(
                entries
                    .iter()
                    .filter_map(|(key, input)| Some((key.clone(), input.render(variables)?)))
                    .collect(),
            )),
        }
    }

    fn literal(&self) -> Option<&Value> {
        match self {
            Self::Literal(value) => Some(value),
            _ => None,
        }
    }
}

/// Picks the operation `name` (or the only one) of a valid document and
/// normalizes it.
pub fn normalize(
    model: &Model,
    document: &Document,
    name: Option<&str>,
    limits: &LimitsConfig,
) -> Result<Operation, GraphqlError> {
    let (kind, operation_name, variables, directives, selection) = pick(document, name)?;
    let root_type = match kind {
        OperationKind::Query => Some(model.roots.query.clone()),
        OperationKind::Mutation => model.roots.mutation.clone(),
        OperationKind::Subscription => model.roots.subscription.clone(),
    };
    let root_type = root_type.ok_or_else(|| {
        GraphqlError::new(
            format!("the schema has no {} type", kind.keyword()),
            codes::VALIDATION_FAILED,
        )
    })?;
    let mut normalizer = Normalizer {
        model,
        document,
        next_id: 0,
        visited: 0,
        max_fields: limits.max_fields,
        max_depth: limits.max_recursion,
    };
    let condition = conditions(directives).unwrap_or(Condition::Always);
    let root = normalizer.selection_set(&root_type, &[(selection, condition)])?;
    Ok(Operation {
        kind,
        name: operation_name.cloned(),
        variables: variables.to_vec(),
        selection: root,
        field_count: normalizer.next_id as usize,
    })
}

type Picked<'d> = (
    OperationKind,
    Option<&'d String>,
    &'d [VariableDefinition],
    &'d [Directive],
    &'d query::SelectionSet,
);

fn pick<'d>(document: &'d Document, name: Option<&str>) -> Result<Picked<'d>, GraphqlError> {
    let operations: Vec<&OperationDefinition> = document
        .definitions
        .iter()
        .filter_map(|definition| match definition {
            Definition::Operation(operation) => Some(operation),
            Definition::Fragment(_) => None,
        })
        .collect();
    let picked = match name {
        Some(name) => operations
            .into_iter()
            .find(|operation| operation_parts(operation).1 == Some(&name.to_owned())),
        None if operations.len() == 1 => operations.into_iter().next(),
        None => {
            return Err(GraphqlError::new(
                "the document has several operations: send `operationName`",
                codes::BAD_REQUEST,
            ));
        }
    };
    picked.map(operation_parts).ok_or_else(|| {
        GraphqlError::new(
            format!(
                "the document has no operation named `{}`",
                name.unwrap_or("")
            ),
            codes::BAD_REQUEST,
        )
    })
}

fn operation_parts(operation: &OperationDefinition) -> Picked<'_> {
    match operation {
        OperationDefinition::SelectionSet(selection) => {
            (OperationKind::Query, None, &[], &[], selection)
        }
        OperationDefinition::Query(q) => (
            OperationKind::Query,
            q.name.as_ref(),
            &q.variable_definitions,
            &q.directives,
            &q.selection_set,
        ),
        OperationDefinition::Mutation(m) => (
            OperationKind::Mutation,
            m.name.as_ref(),
            &m.variable_definitions,
            &m.directives,
            &m.selection_set,
        ),
        OperationDefinition::Subscription(s) => (
            OperationKind::Subscription,
            s.name.as_ref(),
            &s.variable_definitions,
            &s.directives,
            &s.selection_set,
        ),
    }
}

/// The condition `@skip`/`@include` put on a selection: `None` when a
/// literal one excludes it.
fn conditions(directives: &[Directive]) -> Option<Condition> {
    let mut condition = Condition::Always;
    for directive in directives {
        let expected = match directive.name.as_str() {
            "include" => true,
            "skip" => false,
            _ => continue,
        };
        let argument = directive
            .arguments
            .iter()
            .find(|(name, _)| name == "if")
            .map(|(_, value)| value);
        match argument {
            Some(query::Value::Boolean(value)) if *value != expected => return None,
            Some(query::Value::Variable(name)) => {
                condition = condition.and(Condition::Var {
                    name: name.clone(),
                    expected,
                });
            }
            _ => {}
        }
    }
    Some(condition)
}

struct Normalizer<'d> {
    model: &'d Model,
    document: &'d Document,
    next_id: u32,
    /// Selections visited, fragments counted each time they are spread.
    visited: usize,
    /// How many selections may be visited and fields made (`[limits]
    /// max_fields`): stops documents whose fragments spread each other
    /// exponentially.
    max_fields: usize,
    /// How deeply fragments may be followed.
    max_depth: usize,
}

fn too_large(max_fields: usize) -> GraphqlError {
    GraphqlError::new(
        format!(
            "the operation selects more than {max_fields} fields once its fragments are spread"
        ),
        codes::MAX_FIELDS_LIMIT,
    )
}

/// The occurrences of one response key: each field node and the condition
/// it was selected under.
type Occurrences<'d> = IndexMap<&'d str, Vec<(&'d query::Field, Condition)>>;

impl<'d> Normalizer<'d> {
    /// The merged fields of several selection sets of one type.
    fn selection_set(
        &mut self,
        type_name: &str,
        sets: &[(&'d query::SelectionSet, Condition)],
    ) -> Result<SelectionSet, GraphqlError> {
        let mut occurrences: Occurrences<'d> = IndexMap::new();
        for (set, condition) in sets {
            self.collect(type_name, set, condition, &mut occurrences, 0);
        }
        if self.visited > self.max_fields {
            return Err(too_large(self.max_fields));
        }
        let mut fields = Vec::with_capacity(occurrences.len());
        for (key, found) in occurrences {
            fields.push(self.field(type_name, key, found)?);
        }
        let fetches = fields.iter().any(Field::leads_to_fetch);
        Ok(SelectionSet {
            type_name: type_name.to_owned(),
            fields,
            fetches,
            by_type: None,
            walked: OnceLock::new(),
        })
    }

    /// The selection of a field of interface or union type `type_name`
    /// (or of an object type, when it is not one).
    fn selection_of(
        &mut self,
        type_name: &str,
        sets: &[(&'d query::SelectionSet, Condition)],
    ) -> Result<SelectionSet, GraphqlError> {
        let Some(found) = self.model.abstract_type(type_name) else {
            return self.selection_set(type_name, sets);
        };
        let mut by_type = Vec::with_capacity(found.possible.len());
        for possible in &found.possible {
            by_type.push(self.selection_set(possible, sets)?);
        }
        Ok(SelectionSet {
            type_name: type_name.to_owned(),
            fields: Vec::new(),
            fetches: by_type.iter().any(|set| set.fetches),
            by_type: Some(ByType {
                resolver: found.resolver.clone(),
                sets: by_type,
            }),
            walked: OnceLock::new(),
        })
    }

    /// Whether a fragment with `condition` applies to object type `ty`.
    fn applies(&self, condition: Option<&query::TypeCondition>, ty: &str) -> bool {
        match condition {
            None => true,
            Some(query::TypeCondition::On(name)) => self.model.applies(name, ty),
        }
    }

    fn collect(
        &mut self,
        type_name: &str,
        set: &'d query::SelectionSet,
        inherited: &Condition,
        out: &mut Occurrences<'d>,
        depth: usize,
    ) {
        if depth > self.max_depth {
            return;
        }
        for selection in &set.items {
            self.visited += 1;
            if self.visited > self.max_fields {
                return;
            }
            let (directives, inner) = match selection {
                Selection::Field(field) => {
                    if let Some(condition) = conditions(&field.directives) {
                        let key = field.alias.as_deref().unwrap_or(&field.name);
                        let condition = inherited.clone().and(condition);
                        out.entry(key).or_default().push((field, condition));
                    }
                    continue;
                }
                Selection::FragmentSpread(spread) => {
                    let fragment = self.document.definitions.iter().find_map(|d| match d {
                        Definition::Fragment(f) if f.name == spread.fragment_name => Some(f),
                        _ => None,
                    });
                    let Some(fragment) = fragment else { continue };
                    if !self.applies(Some(&fragment.type_condition), type_name) {
                        continue;
                    }
                    (&spread.directives, &fragment.selection_set)
                }
                Selection::InlineFragment(inline) => {
                    if !self.applies(inline.type_condition.as_ref(), type_name) {
                        continue;
                    }
                    (&inline.directives, &inline.selection_set)
                }
            };
            if let Some(condition) = conditions(directives) {
                let inherited = inherited.clone().and(condition);
                self.collect(type_name, inner, &inherited, out, depth + 1);
            }
        }
    }

    fn field(
        &mut self,
        type_name: &str,
        key: &str,
        occurrences: Vec<(&'d query::Field, Condition)>,
    ) -> Result<Field, GraphqlError> {
        self.next_id += 1;
        if self.next_id as usize > self.max_fields {
            return Err(too_large(self.max_fields));
        }
        let id = self.next_id;
        let first = occurrences[0].0;
        let location = Location {
            line: first.position.line,
            column: first.position.column,
        };
        let condition = Condition::any(occurrences.iter().map(|(_, c)| c.clone()).collect());
        let key_json = Snippet::new(format!("{}:", Value::String(key.to_owned())));
        let (kind, args, selection) = match first.name.as_str() {
            "__typename" => (
                FieldKind::Typename(Value::String(type_name.to_owned()).to_string()),
                Arguments::Fixed(Value::Null),
                None,
            ),
            "__schema" | "__type" => (
                FieldKind::Introspection,
                Arguments::Fixed(Value::Null),
                None,
            ),
            name => {
                let definition = self.model.field(type_name, name).cloned().ok_or_else(|| {
                    GraphqlError::new(
                        format!("type `{type_name}` has no field `{name}`"),
                        codes::VALIDATION_FAILED,
                    )
                    .located(location.line, location.column)
                })?;
                let args = arguments(&definition.args, &first.arguments);
                let selection = if definition.shape.is_composite() {
                    let sets: Vec<_> = occurrences
                        .iter()
                        .map(|(field, own)| {
                            let inherited = if *own == condition {
                                Condition::Always
                            } else {
                                own.clone()
                            };
                            (&field.selection_set, inherited)
                        })
                        .collect();
                    Some(self.selection_of(definition.ty.base(), &sets)?)
                } else {
                    None
                };
                (FieldKind::Schema(definition), args, selection)
            }
        };
        Ok(Field {
            id,
            key: key.to_owned(),
            key_json,
            kind,
            args,
            condition,
            selection,
            location,
            hidden: false,
            reads: None,
            parents_hint: AtomicU32::new(0),
            keyed: OnceLock::new(),
        })
    }
}

/// The arguments given, with the declared defaults of those not given.
fn arguments(declared: &[InputValue], given: &[(String, query::Value)]) -> Arguments {
    if declared.is_empty() {
        return Arguments::Fixed(Value::Null);
    }
    let entries: Vec<(String, Input, Option<Value>)> = declared
        .iter()
        .filter_map(|argument| {
            let input = given
                .iter()
                .find(|(name, _)| *name == argument.name)
                .map(|(_, value)| input(value));
            match (input, &argument.default) {
                (Some(input), default) => Some((argument.name.clone(), input, default.clone())),
                (None, Some(default)) => {
                    Some((argument.name.clone(), Input::Literal(default.clone()), None))
                }
                (None, None) => None,
            }
        })
        .collect();
    if entries
        .iter()
        .all(|(_, input, _)| input.literal().is_some())
    {
        let object = entries
            .into_iter()
            .filter_map(|(name, input, _)| match input {
                Input::Literal(value) => Some((name, value)),
                _ => None,
            })
            .collect();
        return Arguments::Fixed(Value::Object(object));
    }
    Arguments::Varying(entries)
}

/// A document value as an [`Input`]: a literal when it reads no variable.
fn input(value: &query::Value) -> Input {
    match value {
        query::Value::Variable(name) => Input::Variable(name.clone()),
        _ if !reads_variables(value) => Input::Literal(literal(value)),
        query::Value::List(items) => Input::List(items.iter().map(input).collect()),
        query::Value::Object(entries) => Input::Object(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), input(value)))
                .collect(),
        ),
        other => Input::Literal(literal(other)),
    }
}

fn reads_variables(value: &query::Value) -> bool {
    match value {
        query::Value::Variable(_) => true,
        query::Value::List(items) => items.iter().any(reads_variables),
        query::Value::Object(entries) => entries.iter().any(|(_, value)| reads_variables(value)),
        _ => false,
    }
}

/// A document value without variables as JSON; enum values become strings.
pub fn literal(value: &query::Value) -> Value {
    match value {
        query::Value::Int(number) => number.as_i64().map_or(Value::Null, Value::from),
        query::Value::Float(number) => {
            serde_json::Number::from_f64(*number).map_or(Value::Null, Value::Number)
        }
        query::Value::String(text) | query::Value::Enum(text) => Value::String(text.clone()),
        query::Value::Boolean(flag) => Value::Bool(*flag),
        query::Value::List(items) => items.iter().map(literal).collect(),
        query::Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(key, value)| (key.clone(), literal(value)))
                .collect(),
        ),
        query::Value::Null | query::Value::Variable(_) => Value::Null,
    }
}
