//! weft's own schema model: every type, and for every field of an object
//! type its declared type, its arguments and its [`Binding`] — where the
//! field's value comes from. The planner and executor read only this; the
//! async-graphql schema built beside it serves introspection and SDL.
//!
//! Bindings are compiled once at start-up from the directives, so a request
//! never meets a directive, a template text or a source name it must look up.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use prost_reflect::MethodDescriptor;
use rustc_hash::FxHashSet;
use serde_json::Value;

use crate::error::Place;
use crate::json::KeyPath;
use crate::sources::Connector;
use crate::sources::batching::BatchPlan;
use crate::sources::grpc::GrpcSource;
use crate::template::{StringTemplate, ValueTemplate};

/// A type as written in the schema: a name wrapped in lists and non-nulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeRef {
    /// A named type, nullable.
    Named(String),
    /// A list of the inner type, nullable.
    List(Box<TypeRef>),
    /// The inner type, never null.
    NonNull(Box<TypeRef>),
}

impl TypeRef {
    /// The innermost named type.
    pub fn base(&self) -> &str {
        match self {
            Self::Named(name) => name,
            Self::List(inner) | Self::NonNull(inner) => inner.base(),
        }
    }

    /// Whether `null` is allowed here.
    pub fn is_nullable(&self) -> bool {
        !matches!(self, Self::NonNull(_))
    }

    /// The type with its outer non-null removed.
    pub fn nullable(&self) -> &Self {
        match self {
            Self::NonNull(inner) => inner,
            other => other,
        }
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Named(name) => f.write_str(name),
            Self::List(inner) => write!(f, "[{inner}]"),
            Self::NonNull(inner) => write!(f, "{inner}!"),
        }
    }
}

/// The declared type of an output position, as far as writing needs it.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Whether `null` is allowed here.
    pub nullable: bool,
    /// What a non-null value is.
    pub kind: ShapeKind,
}

/// The kinds of output values.
#[derive(Debug, Clone)]
pub enum ShapeKind {
    /// `Int`.
    Int,
    /// `Float`.
    Float,
    /// `String`.
    String,
    /// `ID`.
    Id,
    /// `Boolean`.
    Boolean,
    /// A custom scalar: any JSON, passed through.
    Scalar,
    /// An enum type.
    Enum(Arc<EnumValues>),
    /// An object type: its fields are selected from the JSON object.
    Object,
    /// A list of something.
    List(Box<Shape>),
}

impl Shape {
    /// Whether the values here are objects (or lists of them).
    pub fn is_composite(&self) -> bool {
        match &self.kind {
            ShapeKind::Object => true,
            ShapeKind::List(item) => item.is_composite(),
            _ => false,
        }
    }

    /// Whether this is a list.
    pub fn is_list(&self) -> bool {
        matches!(self.kind, ShapeKind::List(_))
    }

    /// `value` in the form this shape has: numeric strings as numbers for
    /// `Int` and `Float`, numbers as strings for `String` and `ID`; any
    /// other value as it is.
    pub fn convert(&self, value: Value) -> Value {
        match (&self.kind, value) {
            (ShapeKind::List(item), Value::Array(items)) => {
                Value::Array(items.into_iter().map(|one| item.convert(one)).collect())
            }
            (ShapeKind::Int, Value::String(text)) => match text.parse::<i64>() {
                Ok(number) => Value::from(number),
                Err(_) => Value::String(text),
            },
            (ShapeKind::Float, Value::String(text)) => {
                match text
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                {
                    Some(number) => Value::Number(number),
                    None => Value::String(text),
                }
            }
            (ShapeKind::String | ShapeKind::Id, Value::Number(number)) => {
                Value::String(number.to_string())
            }
            (_, value) => value,
        }
    }
}

/// The values of an enum type.
#[derive(Debug, Default)]
pub struct EnumValues {
    /// The GraphQL value names (looked up for every enum value written).
    pub names: FxHashSet<String>,
}

impl EnumValues {
    /// The GraphQL value a backend's enum text stands for: the text itself,
    /// or the longest `_`-separated suffix of it that is a value, so that
    /// protobuf names such as `CATEGORY_BOOKS` map to `BOOKS`.
    pub fn resolve<'t>(&self, text: &'t str) -> Option<&'t str> {
        if self.names.contains(text) {
            return Some(text);
        }
        text.match_indices('_')
            .map(|(i, _)| &text[i + 1..])
            .find(|suffix| self.names.contains(*suffix))
    }
}

/// An argument of a field, or a field of an input object.
#[derive(Debug, Clone)]
pub struct InputValue {
    /// Its name.
    pub name: String,
    /// Its declared type.
    pub ty: TypeRef,
    /// Its default, as JSON.
    pub default: Option<Value>,
}

/// A field of an object type.
#[derive(Debug)]
pub struct FieldDef {
    /// The field's name.
    pub name: String,
    /// Its declared type.
    pub ty: TypeRef,
    /// Its output shape.
    pub shape: Shape,
    /// Its arguments.
    pub args: Vec<InputValue>,
    /// Where its value comes from.
    pub binding: Binding,
    /// Who may read it: its own `@authenticated`/`@requiresScopes` and its
    /// type's.
    pub access: Access,
}

/// Who may read a field (`@authenticated`, `@requiresScopes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    /// Whether the caller must be authenticated.
    pub authenticated: bool,
    /// Rules that must all hold; each is met when the caller has every
    /// scope of one of its sets.
    pub scopes: Vec<Vec<Vec<String>>>,
}

impl Access {
    /// Whether anyone may read the field.
    pub fn is_open(&self) -> bool {
        !self.authenticated && self.scopes.is_empty()
    }

    /// Both these rules and `other`'s.
    #[must_use]
    pub fn and(mut self, other: &Access) -> Self {
        self.authenticated |= other.authenticated;
        self.scopes.extend(other.scopes.iter().cloned());
        self
    }
}

/// Where a field's value comes from.
#[derive(Debug, Clone)]
pub enum Binding {
    /// Read from the parent's JSON at this path (the field's name, or
    /// `@map(from:)`).
    Project(KeyPath),
    /// Its own backend call (`@rest`/`@grpc` on the field).
    Fetch(Arc<FetchPlan>),
    /// An entity loaded by key through its type's batch (`@entity`).
    Entity(Arc<EntityPlan>),
    /// Items loaded for many parents at once and grouped back by the
    /// parent's key (`groupBy`).
    Grouped(Arc<GroupedPlan>),
    /// A mutation field without a backend that only publishes.
    Publish(Arc<PublishPlan>),
    /// A subscription field fed by bus events.
    Event(Arc<EventPlan>),
    /// A subscription field fed by a gRPC server stream.
    Stream(Arc<StreamPlan>),
    /// A field a GraphQL subgraph answers; each operation's plan turns it
    /// into a [`Binding::Fetch`], a [`Binding::Grouped`] or (a root
    /// subscription field) a [`Binding::SubgraphStream`] with a document
    /// made for the operation's selection.
    Subgraph(Arc<SubgraphField>),
    /// A subscription field a GraphQL subgraph feeds, with the document
    /// made for one operation.
    SubgraphStream(Arc<crate::sources::graphql::SubgraphSubscription>),
}

/// A field a GraphQL subgraph answers: a root field, or a field it adds to
/// an entity owned elsewhere.
#[derive(Debug)]
pub struct SubgraphField {
    /// The subgraph.
    pub source: Arc<crate::sources::graphql::GraphqlSource>,
    /// The field's name there.
    pub name: String,
    /// For a field of an entity: the entity and its key.
    pub entity: Option<SubgraphEntity>,
    /// What the subgraph's documents may name.
    pub types: Arc<SubgraphTypes>,
    /// For a field returning an entity this subgraph (the owner) resolves
    /// by key: the entity, loaded through its `_entities`.
    pub reference: Option<SubgraphReference>,
    /// For a field this subgraph answers whose value is an entity another
    /// subgraph owns: that owner, which answers the entity's fields this
    /// subgraph does not return.
    pub owner: Option<EntityOwner>,
}

/// The subgraph that owns an entity a field of another subgraph returns.
#[derive(Debug)]
pub struct EntityOwner {
    /// The owner.
    pub source: Arc<crate::sources::graphql::GraphqlSource>,
    /// What the owner's documents may name.
    pub types: Arc<SubgraphTypes>,
    /// The entity, the owner's key and the fields the returning subgraph
    /// provides.
    pub entity: SubgraphReference,
}

/// What the documents sent to a subgraph may name.
#[derive(Debug, Default)]
pub struct SubgraphTypes {
    /// The enum types' names, so that arguments are written as enum values.
    pub enums: HashSet<String>,
    /// The object types the subgraph defines or extends: fragments on
    /// other types are left out of its documents.
    pub objects: HashSet<String>,
}

/// A field of one subgraph whose value is an entity another subgraph
/// owns: the entity's other fields are asked from the owner.
#[derive(Debug)]
pub struct SubgraphReference {
    /// The entity type.
    pub type_name: String,
    /// The owner's key fields.
    pub key: Vec<String>,
    /// The fields the referring subgraph `@provides`.
    pub provided: Vec<String>,
}

/// The entity a subgraph's field belongs to, as its representations name it.
#[derive(Debug)]
pub struct SubgraphEntity {
    /// The entity type (each representation's `__typename`).
    pub type_name: String,
    /// The key fields, and where each is read in the parent's JSON.
    pub key: Vec<(String, Vec<String>)>,
    /// `@requires(fields:)`: the fields read from the parent, as a
    /// selection (added to the one that fetches the parent), and each
    /// top-level field it names.
    pub requires: Option<(String, Vec<RequiredField>)>,
}

/// A top-level field of `@requires(fields:)`, as a representation carries
/// it.
#[derive(Debug, Clone)]
pub struct RequiredField {
    /// The field's name (the representation's entry).
    pub name: String,
    /// How its value is read from the parent: the value for a leaf, an
    /// object of only the named fields for `field { … }`.
    pub read: crate::template::ValueTemplate,
    /// How the value is typed in the schema.
    pub typed: Typed,
    /// Whether the field is fetched by a call of its own (a `@rest`/`@grpc`
    /// field, or one another subgraph adds) rather than read from the
    /// parent: it is then fetched first and its result sent.
    pub fetched: bool,
}

/// How a value sent to a subgraph is typed, so it is sent as the schema
/// types it (a gRPC `int64` read as the string `"1299"` is sent as the
/// `Int` 1299).
#[derive(Debug, Clone)]
pub enum Typed {
    /// A value of this shape.
    Leaf(Shape),
    /// An object: these of its fields are typed.
    Object(Vec<(String, Typed)>),
}

impl Typed {
    /// `value` converted to this type where it differs only in form.
    pub fn apply(&self, value: Value) -> Value {
        match (self, value) {
            (Self::Leaf(shape), value) => shape.convert(value),
            (Self::Object(fields), Value::Object(mut entries)) => {
                for (name, typed) in fields {
                    if let Some(found) = entries.get_mut(name) {
                        *found = typed.apply(found.take());
                    }
                }
                Value::Object(entries)
            }
            (Self::Object(_), value) => value,
        }
    }
}

impl Binding {
    /// Whether the field's value needs a step of its own (a call, a load or
    /// a publish) rather than a read of the parent.
    pub fn is_fetched(&self) -> bool {
        !matches!(self, Self::Project(_))
    }
}

/// A field that makes its own call.
#[derive(Debug)]
pub struct FetchPlan {
    /// The directive bound to its source.
    pub connector: Box<dyn Connector>,
    /// The JSON path of the field's value within the response.
    pub response: Vec<String>,
    /// Whether identical calls within a request may be shared (false for
    /// mutation fields, which must run every time).
    pub dedupe: bool,
    /// What the field publishes once it has its value (mutations only).
    pub publish: Option<Arc<PublishPlan>>,
}

/// A field that yields an entity (or a list of them) by key.
#[derive(Debug)]
pub struct EntityPlan {
    /// The entity type's batch.
    pub batch: Arc<BatchPlan>,
    /// Renders the key (or, for a list, the keys) from the parent.
    pub key: ValueTemplate,
    /// The entity type's name, for "not found" errors.
    pub entity: String,
    /// The entity's fields the parent's answer holds already (a subgraph's
    /// `@provides`): a selection of only these and the key loads nothing.
    pub provided: Vec<String>,
}

/// A field whose items are loaded for a whole level of parents at once.
#[derive(Debug)]
pub struct GroupedPlan {
    /// The batch, keyed by the parent's key.
    pub batch: Arc<BatchPlan>,
    /// Renders the parent's key.
    pub key: ValueTemplate,
    /// The parent's field whose values are the keys (`$batch.<field>`).
    pub parent_key: String,
    /// `groupBy`'s text and where it stands (for `weft check --probe`).
    pub group_by: (String, Place),
    /// Fields of the same parent fetched by calls of their own that this
    /// one waits for (a subgraph's `@requires`): each one's name in the
    /// key and its field id in the operation.
    pub after: Vec<(String, u32)>,
    /// For a field of a subgraph's entity: its response key in each entity
    /// the batch's `_entities` answers (several fields may share the call,
    /// [`BatchPlan::fields`]); `None` files the item itself.
    pub pick: Option<String>,
}

/// A subscription field fed by bus events.
#[derive(Debug)]
pub struct EventPlan {
    /// The topic, rendered from the arguments.
    pub topic: StringTemplate,
    /// Entries every delivered event must match.
    pub filter: Option<ValueTemplate>,
    /// The protobuf message the event's bytes hold, when `@event(protobuf:)`
    /// declares one; otherwise events are JSON.
    pub message: Option<EventMessage>,
    /// How a subscriber first gets the current state (`initial:`).
    pub initial: Option<InitialPlan>,
}

/// The protobuf message type of an event's bytes.
#[derive(Debug)]
pub struct EventMessage {
    /// The message's full name (`catalog.v1.StockLevel`).
    pub name: String,
    /// Reads the message as JSON.
    pub transcoder: crate::sources::transcode::Transcoder,
}

/// `@event(initial:, version:)`: the Query field whose value is the current
/// state a subscriber gets before the events, and how to tell the events the
/// state already reflects.
#[derive(Debug)]
pub struct InitialPlan {
    /// The Query field's name; it has the subscription field's type and
    /// takes its arguments by name.
    pub field: String,
    /// The subscription's arguments the Query field requires but the
    /// subscription may leave out: without one of them there is no single
    /// state, and the subscriber gets the events only.
    pub needs: Vec<String>,
    /// The key path, in the state and in each event, of a value that grows
    /// with every change: events not newer than the state are passed over.
    pub version: Option<KeyPath>,
}

/// A subscription field fed by a gRPC server stream.
#[derive(Debug)]
pub struct StreamPlan {
    /// The source to call.
    pub source: Arc<GrpcSource>,
    /// The server-streaming method.
    pub method: MethodDescriptor,
    /// The request message.
    pub request: ValueTemplate,
    /// The path of the value in each message.
    pub response: Vec<String>,
}

/// What a mutation publishes.
#[derive(Debug)]
pub struct PublishPlan {
    /// The topic, rendered from the arguments.
    pub topic: StringTemplate,
    /// The payload; `None` publishes the field's result (or, without a
    /// backend, the arguments).
    pub payload: Option<ValueTemplate>,
}

/// An object type and its fields.
#[derive(Debug)]
pub struct ObjectType {
    /// The type's name.
    pub name: String,
    /// Its fields by name.
    pub fields: HashMap<String, Arc<FieldDef>>,
}

/// An interface or a union: the object types a value of it may be, and
/// how a backend's JSON tells which.
#[derive(Debug)]
pub struct AbstractType {
    /// The object types it may be, in declaration order.
    pub possible: Vec<String>,
    /// Reads a value's type.
    pub resolver: Arc<TypeResolver>,
}

/// Tells the object type of a value of an interface or union from its
/// JSON: the text at `path` (`__typename` unless `@discriminator(field:)`
/// says otherwise), mapped through `mapping`, or naming the type itself —
/// exactly, or written in another case with `_` or `-` between words
/// (`user_account` and `USER_ACCOUNT` for `UserAccount`).
#[derive(Debug)]
pub struct TypeResolver {
    /// The interface or union.
    pub name: String,
    /// Where the type's name is read.
    pub path: KeyPath,
    /// Backend values that name a type otherwise (`@discriminator(mapping:)`).
    pub mapping: HashMap<String, String>,
    /// The possible types by their folded name (lower case, no `_`/`-`).
    pub folded: HashMap<String, String>,
}

impl TypeResolver {
    /// A resolver of `name` over `possible` types.
    pub fn new(
        name: &str,
        path: KeyPath,
        mapping: HashMap<String, String>,
        possible: &[String],
    ) -> Self {
        Self {
            name: name.to_owned(),
            path,
            mapping,
            folded: possible.iter().map(|ty| (fold(ty), ty.clone())).collect(),
        }
    }

    /// The object type `value` is, or why it cannot be told.
    pub fn resolve(&self, value: crate::json::Json<'_>) -> Result<&str, String> {
        let found = self.path.find(value);
        let text = found.and_then(crate::json::Json::as_str);
        let Some(text) = text else {
            return Err(format!(
                "cannot tell which type of `{}` a value is: it has no text at `{}`",
                self.name,
                self.path.join(".")
            ));
        };
        let named = self
            .mapping
            .get(text.as_ref())
            .or_else(|| self.folded.get(&fold(&text)));
        named.map(String::as_str).ok_or_else(|| {
            format!(
                "`{}` is \"{}\", which names no type of `{}`",
                self.path.join("."),
                text,
                self.name
            )
        })
    }
}

/// A type name folded for matching: lower case, without `_` and `-`.
fn fold(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// What a named type is.
#[derive(Debug)]
pub enum NamedType {
    /// An object type.
    Object(ObjectType),
    /// An interface or a union.
    Abstract(AbstractType),
    /// An input object and its fields.
    Input(Vec<InputValue>),
    /// An enum.
    Enum(Arc<EnumValues>),
    /// A custom scalar.
    Scalar,
}

/// The names of the root operation types present in the schema.
#[derive(Debug, Clone, Default)]
pub struct RootTypes {
    /// The query root.
    pub query: String,
    /// The mutation root, if the schema has one.
    pub mutation: Option<String>,
    /// The subscription root, if the schema has one.
    pub subscription: Option<String>,
}

/// The whole schema as the planner sees it.
#[derive(Debug, Default)]
pub struct Model {
    /// Every user-defined type by name (built-in scalars are not listed).
    pub types: HashMap<String, NamedType>,
    /// The root types.
    pub roots: RootTypes,
}

impl Model {
    /// The subscription fields (`Type.field`) whose fixed `@event` topic no
    /// `@publish` of this schema publishes: on the in-process bus, nothing
    /// would ever deliver to them. Topics with variables are left out.
    pub fn unpublished_topics(&self) -> Vec<(String, String)> {
        let published: Vec<&str> = self
            .object_fields()
            .filter_map(|(_, field)| match &field.binding {
                Binding::Publish(plan) => plan.topic.literal(),
                Binding::Fetch(plan) => plan.publish.as_ref()?.topic.literal(),
                _ => None,
            })
            .collect();
        let mut unpublished: Vec<(String, String)> = self
            .object_fields()
            .filter_map(|(type_name, field)| {
                let Binding::Event(plan) = &field.binding else {
                    return None;
                };
                let topic = plan.topic.literal()?;
                (!published.contains(&topic))
                    .then(|| (format!("{type_name}.{}", field.name), topic.to_owned()))
            })
            .collect();
        unpublished.sort();
        unpublished
    }

    /// Every `@event` and `@publish` topic, with its field (`Type.field`).
    pub fn bus_topics(&self) -> Vec<(String, &StringTemplate)> {
        self.object_fields()
            .filter_map(|(type_name, field)| {
                let topic = match &field.binding {
                    Binding::Event(plan) => &plan.topic,
                    Binding::Publish(plan) => &plan.topic,
                    Binding::Fetch(plan) => &plan.publish.as_ref()?.topic,
                    _ => return None,
                };
                Some((format!("{type_name}.{}", field.name), topic))
            })
            .collect()
    }

    /// Every field of every object type, with its type's name.
    pub fn object_fields(&self) -> impl Iterator<Item = (&str, &FieldDef)> {
        self.types
            .iter()
            .filter_map(|(name, named)| match named {
                NamedType::Object(object) => Some((name.as_str(), object)),
                _ => None,
            })
            .flat_map(|(name, object)| {
                object
                    .fields
                    .values()
                    .map(move |field| (name, field.as_ref()))
            })
    }

    /// The object type `name`, if there is one.
    pub fn object(&self, name: &str) -> Option<&ObjectType> {
        match self.types.get(name) {
            Some(NamedType::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// The field `field` of object type `ty`.
    pub fn field(&self, ty: &str, field: &str) -> Option<&Arc<FieldDef>> {
        self.object(ty)?.fields.get(field)
    }

    /// The interface or union `name`, if it is one.
    pub fn abstract_type(&self, name: &str) -> Option<&AbstractType> {
        match self.types.get(name) {
            Some(NamedType::Abstract(found)) => Some(found),
            _ => None,
        }
    }

    /// Whether a fragment on `condition` applies to a value of object type
    /// `ty`: the same type, or an interface or union it belongs to.
    pub fn applies(&self, condition: &str, ty: &str) -> bool {
        condition == ty
            || self
                .abstract_type(condition)
                .is_some_and(|found| found.possible.iter().any(|name| name == ty))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn leaf(kind: ShapeKind) -> Typed {
        Typed::Leaf(Shape {
            nullable: true,
            kind,
        })
    }

    #[test]
    fn required_values_are_sent_in_their_schema_form() {
        let typed = Typed::Object(vec![
            ("price".to_owned(), leaf(ShapeKind::Int)),
            ("ratio".to_owned(), leaf(ShapeKind::Float)),
            ("code".to_owned(), leaf(ShapeKind::Id)),
        ]);
        let sent = typed.apply(json!({ "price": "1299", "ratio": "0.5", "code": 7, "other": "1" }));
        assert_eq!(
            sent,
            json!({ "price": 1299, "ratio": 0.5, "code": "7", "other": "1" })
        );
        assert_eq!(leaf(ShapeKind::Int).apply(json!("n/a")), json!("n/a"));
        let list = Typed::Leaf(Shape {
            nullable: true,
            kind: ShapeKind::List(Box::new(Shape {
                nullable: false,
                kind: ShapeKind::Int,
            })),
        });
        assert_eq!(list.apply(json!(["1", 2])), json!([1, 2]));
    }
}
