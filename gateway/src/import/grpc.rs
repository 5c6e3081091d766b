//! `weft import grpc`: the services of a gRPC descriptor pool (compiled
//! from `.proto` files, or fetched by server reflection) drafted as SDL with
//! `@grpc` directives that `weft check` accepts as they are.
//!
//! Every service is drafted except those of the `grpc.*` and `google.*`
//! packages (reflection, health). Per method:
//!
//! | method | becomes |
//! |---|---|
//! | unary, named `Get…`, `List…`, `Search…`, `Find…`, `Lookup…`, `Query…`, `Count…`, `Fetch…`, `Read…`, `Describe…` (or `Batch` + one of those) | a `Query` field |
//! | other unary | a `Mutation` field |
//! | server streaming | a `Subscription` field |
//! | client or bidirectional streaming | left out, and named in the header |
//! | unary, taking one repeated key and returning one repeated message that has that key | the batch form of that message: `@key` and `@grpc` on its type, no root field |
//!
//! A root field is named after its method in lowerCamelCase (`Get` left
//! off: `GetProduct` gives `product`); its arguments are the request
//! message's fields by JSON name (the only one is required); a response
//! message with a single message field is unwrapped with `response:`.
//!
//! Types, as weft's value conversion reads them (see
//! [`crate::schema::proto_check`]):
//!
//! | protobuf | GraphQL |
//! |---|---|
//! | `string`, `bytes` | `String`; `ID` for a field named `id`, `…_id` or like an entity's key |
//! | `int32`, `sint32`, `sfixed32` | `Int` |
//! | `int64`, `uint64`, `uint32`, `fixed…`, `sint64` | `String` (exact) |
//! | `float`, `double` | `Float` |
//! | `bool` | `Boolean` |
//! | enum | an enum with the protobuf value names (so they work as arguments too), less an `…_UNSPECIFIED` zero value (read as `null`) |
//! | message | an object type (`…Input` input type in arguments) |
//! | `repeated T` | `[T!]!` (`[T!]` in arguments) |
//! | `Timestamp`, `Duration`, `FieldMask` | `String` |
//! | wrappers (`Int32Value`, …) | the wrapped scalar, nullable |
//! | `map<…>`, `Struct`, `Value`, `ListValue`, `Any`, `Empty` | `JSON` (a custom scalar, declared) |
//!
//! Scalars without presence are non-null; messages, enums, `optional` and
//! `oneof` fields are nullable. A field of another message named
//! `<entity>_<key>` (or the key itself, unless it is `id`) gets a sibling
//! that loads the entity: `product: Product @entity(key: "$this.sku")`.
//! Comments of the `.proto` files become descriptions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;

use prost_reflect::{
    DescriptorPool, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor,
    MethodDescriptor, ServiceDescriptor,
};

/// Where the descriptors came from, for the config snippet.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `.proto` files and include directories, as given.
    Protos {
        /// The `.proto` files.
        protos: Vec<String>,
        /// The include directories (none: weft's default).
        include: Vec<String>,
    },
    /// gRPC server reflection.
    Reflection,
}

/// The source a draft is for: its name in the directives, its address and
/// where its descriptors come from.
#[derive(Debug, Clone)]
pub struct Target {
    /// `[sources.<name>]`.
    pub source: String,
    /// The service's address.
    pub endpoint: String,
    /// Where its descriptors come from.
    pub origin: Origin,
}

/// The services of `pool` a draft covers, by full name: all but those of
/// the `grpc.*` and `google.*` packages.
pub fn services(pool: &DescriptorPool) -> Vec<ServiceDescriptor> {
    let mut services: Vec<ServiceDescriptor> = pool
        .services()
        .filter(|service| !is_infrastructure(service.package_name()))
        .collect();
    services.sort_by(|a, b| a.full_name().cmp(b.full_name()));
    services
}

/// A source name for the services: the first package segment
/// (`catalog` for `catalog.v1`), or the first service's name in lower case.
pub fn default_source_name(services: &[ServiceDescriptor]) -> Option<String> {
    let first = services.first()?;
    let name = match first.package_name().split('.').next() {
        Some(segment) if !segment.is_empty() => segment.to_owned(),
        _ => first.name().to_lowercase(),
    };
    Some(name)
}

/// The `[sources.<name>]` table for weft.toml.
pub fn config_snippet(target: &Target) -> String {
    let mut text = format!(
        "[sources.{}]\nkind = \"grpc\"\nendpoint = {}\n",
        target.source,
        super::string(&target.endpoint)
    );
    match &target.origin {
        Origin::Reflection => text.push_str("reflection = true\n"),
        Origin::Protos { protos, include } => {
            let _ = writeln!(text, "protos = [{}]", quoted_list(protos));
            if !include.is_empty() {
                let _ = writeln!(text, "include = [{}]", quoted_list(include));
            }
        }
    }
    text
}

/// The whole draft: a comment with the config snippet and what was left
/// out, a blank line, then the SDL of [`sdl`]. Fails when `pool` has no
/// service to draft.
pub fn document(pool: &DescriptorPool, target: &Target) -> Result<String, String> {
    let services = services(pool);
    let sdl = Draft::new(&services, &target.source).sdl(&services)?;
    let mut text = header(&services, target, &sdl.notes);
    text.push('\n');
    text.push_str(&sdl.text);
    Ok(text)
}

/// The SDL of the services of `pool` against source `source`, without the
/// header. Fails when `pool` has no service to draft.
pub fn sdl(pool: &DescriptorPool, source: &str) -> Result<String, String> {
    let services = services(pool);
    Draft::new(&services, source)
        .sdl(&services)
        .map(|sdl| sdl.text)
}

fn header(services: &[ServiceDescriptor], target: &Target, notes: &[String]) -> String {
    let names: Vec<&str> = services.iter().map(ServiceDescriptor::full_name).collect();
    let mut text = format!(
        "# Drafted by `weft import grpc` from {}.\n\
         # Rename and trim it, then run `weft check`. The source, for weft.toml:\n#\n",
        names.join(", ")
    );
    for line in config_snippet(target).lines() {
        let _ = writeln!(text, "# {line}");
    }
    if !notes.is_empty() {
        text.push_str("#\n");
    }
    for note in notes {
        let _ = writeln!(text, "# {note}");
    }
    text
}

fn is_infrastructure(package: &str) -> bool {
    package == "grpc"
        || package.starts_with("grpc.")
        || package == "google"
        || package.starts_with("google.")
}

/// The batch form of a message: the method that loads many by key.
#[derive(Debug, Clone)]
struct Entity {
    /// `package.Service/Method`.
    method: String,
    /// The JSON name of the request's repeated key field (`skus`).
    batch: String,
    /// The JSON name of the response's repeated field (`products`).
    response: String,
    /// The key field of the message: proto name and JSON name.
    key: (String, String),
    /// The message's GraphQL name.
    type_name: String,
}

/// Messages or enums to write, in the order they were first met.
struct Queue<T> {
    seen: HashSet<String>,
    items: Vec<T>,
}

impl<T> Queue<T> {
    fn new() -> Self {
        Self {
            seen: HashSet::new(),
            items: Vec::new(),
        }
    }

    fn push(&mut self, full_name: &str, item: T) {
        if self.seen.insert(full_name.to_owned()) {
            self.items.push(item);
        }
    }
}

/// Which root type a method's field goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Root {
    Query,
    Mutation,
    Subscription,
}

/// One draft in progress: the names chosen, the entities found, and the
/// types still to write.
struct Draft {
    source: String,
    /// GraphQL names of messages and enums, by full name.
    names: HashMap<String, String>,
    /// Entities by the message's full name.
    entities: BTreeMap<String, Entity>,
    /// The batch methods, by full name: they are no root field.
    batch_methods: HashSet<String>,
    objects: Queue<MessageDescriptor>,
    inputs: Queue<MessageDescriptor>,
    enums: Queue<EnumDescriptor>,
    json: bool,
    /// Lines for the header: what was left out, and the batch forms.
    notes: Vec<String>,
}

/// A finished draft: its SDL, and the notes for the header.
struct Sdl {
    text: String,
    notes: Vec<String>,
}

impl Draft {
    fn new(services: &[ServiceDescriptor], source: &str) -> Self {
        let mut draft = Self {
            source: source.to_owned(),
            names: type_names(services),
            entities: BTreeMap::new(),
            batch_methods: HashSet::new(),
            objects: Queue::new(),
            inputs: Queue::new(),
            enums: Queue::new(),
            json: false,
            notes: Vec::new(),
        };
        for method in services.iter().flat_map(ServiceDescriptor::methods) {
            draft.find_entity(&method);
            if method.is_client_streaming() {
                draft.notes.push(format!(
                    "Left out: {} streams requests; weft calls unary and server-streaming methods.",
                    method_name(&method)
                ));
            }
        }
        draft
    }

    fn find_entity(&mut self, method: &MethodDescriptor) {
        let Some(mut entity) = batch_entity(method) else {
            return;
        };
        let output = method.output();
        let Some(item) = output.fields().next().and_then(|field| message_of(&field)) else {
            return;
        };
        if self.entities.contains_key(item.full_name()) {
            return;
        }
        entity.type_name = self.name_of(item.full_name());
        self.notes.push(format!(
            "{} loads {} by {} in batches (@key on the type); it is no root field.",
            entity.method, entity.type_name, entity.key.1
        ));
        self.batch_methods.insert(method.full_name().to_owned());
        self.objects.push(item.full_name(), item.clone());
        self.entities.insert(item.full_name().to_owned(), entity);
    }

    fn sdl(mut self, services: &[ServiceDescriptor]) -> Result<Sdl, String> {
        if services.is_empty() {
            return Err("the descriptors define no service to import".to_owned());
        }
        let roots = self.roots(services);
        let mut blocks: Vec<String> = Vec::new();
        for (root, fields) in roots {
            let name = match root {
                Root::Query => "Query",
                Root::Mutation => "Mutation",
                Root::Subscription => "Subscription",
            };
            blocks.push(format!("type {name} {{\n{}}}\n", fields.concat()));
        }
        let mut index = 0;
        while let Some(message) = self.objects.items.get(index).cloned() {
            blocks.push(self.object(&message));
            index += 1;
        }
        let mut index = 0;
        while let Some(message) = self.inputs.items.get(index).cloned() {
            blocks.push(self.input(&message));
            index += 1;
        }
        for item in &self.enums.items {
            blocks.push(self.enumeration(item));
        }
        if self.json {
            blocks.insert(
                0,
                "\"\"\"Any JSON value: protobuf maps, Struct, Value, ListValue, Any and Empty.\"\"\"\nscalar JSON\n"
                    .to_owned(),
            );
        }
        Ok(Sdl {
            text: blocks.join("\n"),
            notes: self.notes,
        })
    }

    /// The root fields of every method, by root type.
    fn roots(&mut self, services: &[ServiceDescriptor]) -> BTreeMap<Root, Vec<String>> {
        let mut roots: BTreeMap<Root, Vec<String>> = BTreeMap::new();
        let mut taken: HashSet<(Root, String)> = HashSet::new();
        for service in services {
            for method in service.methods() {
                if method.is_client_streaming() || self.batch_methods.contains(method.full_name()) {
                    continue;
                }
                let root = root_of(&method);
                let name = field_name(&method, |name| taken.contains(&(root, name.to_owned())));
                taken.insert((root, name.clone()));
                let field = self.root_field(&method, &name);
                roots.entry(root).or_default().push(field);
            }
        }
        roots
    }

    fn root_field(&mut self, method: &MethodDescriptor, name: &str) -> String {
        let arguments = self.arguments(&method.input());
        let (ty, response) = self.response(&method.output());
        let mut directive = format!(
            "@grpc(source: {}, method: {}",
            super::string(&self.source),
            super::string(&method_name(method))
        );
        if let Some(response) = response {
            let _ = write!(directive, ", response: {}", super::string(&response));
        }
        directive.push(')');
        let mut text = description(
            comments(&method.parent_file(), method.path()).as_deref(),
            "  ",
        );
        let _ = writeln!(text, "  {name}{arguments}: {ty}\n    {directive}");
        text
    }

    /// `(a: T, b: U)` from the request message's fields; empty for none.
    fn arguments(&mut self, input: &MessageDescriptor) -> String {
        if well_known(input).is_some() {
            return String::new();
        }
        let fields: Vec<FieldDescriptor> = input.fields().collect();
        if fields.is_empty() {
            return String::new();
        }
        let sole = fields.len() == 1;
        let arguments: Vec<String> = fields
            .iter()
            .map(|field| format!("{}: {}", field.json_name(), self.input_type(field, sole)))
            .collect();
        format!("({})", arguments.join(", "))
    }

    /// The root field's type, and the response field it reads, if any.
    fn response(&mut self, output: &MessageDescriptor) -> (String, Option<String>) {
        if let Some(name) = self.well_known_type(output) {
            return (name, None);
        }
        let fields: Vec<FieldDescriptor> = output.fields().collect();
        if let [only] = fields.as_slice()
            && !only.is_map()
            && message_of(only).is_some_and(|message| well_known(&message).is_none())
        {
            return (self.output_type(only), Some(only.json_name().to_owned()));
        }
        (format!("{}!", self.object_name(output)), None)
    }

    fn object(&mut self, message: &MessageDescriptor) -> String {
        let name = self.name_of(message.full_name());
        let mut text = description(
            comments(&message.parent_file(), message.path()).as_deref(),
            "",
        );
        match self.entities.get(message.full_name()) {
            Some(entity) => {
                let _ = writeln!(
                    text,
                    "type {name} @key(fields: {})\n  @grpc(source: {}, method: {}, request: {}, response: {}) {{",
                    super::string(&entity.key.1),
                    super::string(&self.source),
                    super::string(&entity.method),
                    super::string(&format!("{{ {}: $batch.{} }}", entity.batch, entity.key.1)),
                    super::string(&entity.response)
                );
            }
            None => {
                let _ = writeln!(text, "type {name} {{");
            }
        }
        let fields: Vec<FieldDescriptor> = message.fields().collect();
        if fields.is_empty() {
            self.json = true;
            text.push_str("  \"Always null: the message has no fields.\"\n  empty: JSON\n");
        }
        for field in &fields {
            text.push_str(&description(
                comments(&field.parent_file(), field.path()).as_deref(),
                "  ",
            ));
            let _ = writeln!(text, "  {}: {}", field.json_name(), self.output_type(field));
            if let Some(link) = self.entity_link(message, field, &fields) {
                text.push_str(&link);
            }
        }
        text.push_str("}\n");
        text
    }

    /// `product: Product @entity(key: "$this.sku")` after a field that holds
    /// an entity's key.
    fn entity_link(
        &mut self,
        message: &MessageDescriptor,
        field: &FieldDescriptor,
        siblings: &[FieldDescriptor],
    ) -> Option<String> {
        if field.is_list() || field.is_map() || message_of(field).is_some() {
            return None;
        }
        let (full_name, type_name) = self
            .entities
            .iter()
            .find(|(full_name, entity)| {
                *full_name != message.full_name() && holds_key(field.name(), full_name, entity)
            })
            .map(|(full_name, entity)| (full_name.clone(), entity.type_name.clone()))?;
        let entity_message = message.parent_pool().get_message_by_name(&full_name)?;
        let name = super::lower_first(entity_message.name());
        if siblings.iter().any(|sibling| sibling.json_name() == name) {
            return None;
        }
        self.objects.push(&full_name, entity_message);
        Some(format!(
            "  {name}: {type_name} @entity(key: {})\n",
            super::string(&format!("$this.{}", field.json_name()))
        ))
    }

    fn input(&mut self, message: &MessageDescriptor) -> String {
        let mut text = description(
            comments(&message.parent_file(), message.path()).as_deref(),
            "",
        );
        let _ = writeln!(text, "input {} {{", self.input_name(message));
        let fields: Vec<FieldDescriptor> = message.fields().collect();
        if fields.is_empty() {
            self.json = true;
            text.push_str("  \"Ignored: the message has no fields.\"\n  empty: JSON\n");
        }
        for field in &fields {
            text.push_str(&description(
                comments(&field.parent_file(), field.path()).as_deref(),
                "  ",
            ));
            let _ = writeln!(
                text,
                "  {}: {}",
                field.json_name(),
                self.input_type(field, false)
            );
        }
        text.push_str("}\n");
        text
    }

    fn enumeration(&self, item: &EnumDescriptor) -> String {
        let mut text = description(comments(&item.parent_file(), item.path()).as_deref(), "");
        let _ = writeln!(text, "enum {} {{", self.name_of(item.full_name()));
        let values: Vec<_> = item.values().collect();
        let kept: Vec<_> = values
            .iter()
            .filter(|value| !(value.number() == 0 && value.name().ends_with("_UNSPECIFIED")))
            .collect();
        let kept = if kept.is_empty() {
            values.iter().collect()
        } else {
            kept
        };
        for value in kept {
            text.push_str(&description(
                comments(&value.parent_file(), value.path()).as_deref(),
                "  ",
            ));
            let _ = writeln!(text, "  {}", value.name());
        }
        text.push_str("}\n");
        text
    }

    fn output_type(&mut self, field: &FieldDescriptor) -> String {
        if field.is_map() {
            self.json = true;
            return "JSON".to_owned();
        }
        let (base, present) = match field.kind() {
            Kind::Message(message) => (self.object_name(&message), false),
            Kind::Enum(item) => (self.enum_name(&item), false),
            kind => (self.scalar(field, &kind).to_owned(), true),
        };
        if field.is_list() {
            format!("[{base}!]!")
        } else if present && !field.supports_presence() {
            format!("{base}!")
        } else {
            base
        }
    }

    fn input_type(&mut self, field: &FieldDescriptor, required: bool) -> String {
        if field.is_map() {
            self.json = true;
            return "JSON".to_owned();
        }
        let base = match field.kind() {
            Kind::Message(message) => self.input_name(&message),
            Kind::Enum(item) => self.enum_name(&item),
            kind => self.scalar(field, &kind).to_owned(),
        };
        if field.is_list() {
            format!("[{base}!]")
        } else if required {
            format!("{base}!")
        } else {
            base
        }
    }

    fn scalar(&self, field: &FieldDescriptor, kind: &Kind) -> &'static str {
        let id_like = field.name() == "id"
            || field.name().ends_with("_id")
            || self
                .entities
                .values()
                .any(|entity| entity.key.0 == field.name());
        match kind {
            Kind::Int32
            | Kind::Sint32
            | Kind::Sfixed32
            | Kind::Int64
            | Kind::Sint64
            | Kind::Sfixed64
            | Kind::Uint32
            | Kind::Fixed32
            | Kind::Uint64
            | Kind::Fixed64
            | Kind::String
            | Kind::Bytes
                if id_like =>
            {
                "ID"
            }
            Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => "Int",
            Kind::Float | Kind::Double => "Float",
            Kind::Bool => "Boolean",
            _ => "String",
        }
    }

    fn object_name(&mut self, message: &MessageDescriptor) -> String {
        if let Some(name) = self.well_known_type(message) {
            return name;
        }
        self.objects.push(message.full_name(), message.clone());
        self.name_of(message.full_name())
    }

    fn input_name(&mut self, message: &MessageDescriptor) -> String {
        if let Some(name) = self.well_known_type(message) {
            return name;
        }
        self.inputs.push(message.full_name(), message.clone());
        format!("{}Input", self.name_of(message.full_name()))
    }

    fn enum_name(&mut self, item: &EnumDescriptor) -> String {
        self.enums.push(item.full_name(), item.clone());
        self.name_of(item.full_name())
    }

    fn well_known_type(&mut self, message: &MessageDescriptor) -> Option<String> {
        let name = well_known(message)?;
        self.json |= name == "JSON";
        Some(name.to_owned())
    }

    fn name_of(&self, full_name: &str) -> String {
        self.names
            .get(full_name)
            .cloned()
            .unwrap_or_else(|| super::pascal(full_name))
    }
}

/// The batch form `method` offers, if it takes one repeated scalar key and
/// answers one repeated message that has a field for that key.
fn batch_entity(method: &MethodDescriptor) -> Option<Entity> {
    if method.is_client_streaming() || method.is_server_streaming() {
        return None;
    }
    let request = only_field(&method.input())?;
    let response = only_field(&method.output())?;
    let scalar_key = !matches!(request.kind(), Kind::Message(_) | Kind::Enum(_));
    if !request.is_list() || !scalar_key || !response.is_list() || response.is_map() {
        return None;
    }
    let item = message_of(&response).filter(|item| well_known(item).is_none())?;
    let key = key_field(&item, request.name())?;
    Some(Entity {
        method: method_name(method),
        batch: request.json_name().to_owned(),
        response: response.json_name().to_owned(),
        key: (key.name().to_owned(), key.json_name().to_owned()),
        type_name: String::new(),
    })
}

/// The field of `item` that one element of the list `list_name` names:
/// `sku` for `skus`, `id` of `Product` for `product_ids`.
fn key_field(item: &MessageDescriptor, list_name: &str) -> Option<FieldDescriptor> {
    let single = list_name.strip_suffix('s')?;
    let prefix = format!("{}_", snake(item.name()));
    [Some(single), single.strip_prefix(&prefix)]
        .into_iter()
        .flatten()
        .filter_map(|name| item.get_field_by_name(name))
        .find(|field| !field.is_list() && !matches!(field.kind(), Kind::Message(_)))
}

/// Whether a field named `field` holds the key of the entity message
/// `full_name`: `<entity>_<key>`, or the key's own name unless it is `id`.
fn holds_key(field: &str, full_name: &str, entity: &Entity) -> bool {
    let short = full_name.rsplit('.').next().unwrap_or(full_name);
    let key = &entity.key.0;
    field == format!("{}_{key}", snake(short)) || (key != "id" && field == key)
}

/// The verbs of methods that read: their unary methods are queries.
const READS: [&str; 10] = [
    "Get", "List", "Search", "Find", "Lookup", "Query", "Count", "Fetch", "Read", "Describe",
];

fn root_of(method: &MethodDescriptor) -> Root {
    if method.is_server_streaming() {
        return Root::Subscription;
    }
    let name = method.name();
    let name = name
        .strip_prefix("Batch")
        .filter(|rest| starts_word(rest))
        .unwrap_or(name);
    let reads = READS.iter().any(|verb| {
        name.strip_prefix(verb)
            .is_some_and(|rest| rest.is_empty() || starts_word(rest))
    });
    if reads { Root::Query } else { Root::Mutation }
}

/// Whether `text` begins a new word of a `PascalCase` name.
fn starts_word(text: &str) -> bool {
    text.chars()
        .next()
        .is_some_and(|first| first.is_ascii_uppercase() || first.is_ascii_digit())
}

/// The root field's name: the method's in lowerCamelCase, `Get` left off;
/// the whole name when that is taken, then with the service's name before.
fn field_name(method: &MethodDescriptor, taken: impl Fn(&str) -> bool) -> String {
    let whole = super::lower_first(method.name());
    let short = method
        .name()
        .strip_prefix("Get")
        .filter(|rest| starts_word(rest))
        .map(super::lower_first);
    let service = format!(
        "{}{}",
        super::lower_first(method.parent_service().name()),
        method.name()
    );
    short
        .into_iter()
        .chain([whole, service])
        .find(|name| !taken(name))
        .unwrap_or_else(|| super::lower_first(method.full_name()))
}

/// `package.Service/Method`, as `@grpc(method:)` names it.
fn method_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}

/// The field of a message that has exactly one.
fn only_field(message: &MessageDescriptor) -> Option<FieldDescriptor> {
    let mut fields = message.fields();
    let first = fields.next()?;
    fields.next().is_none().then_some(first)
}

fn message_of(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

/// The GraphQL type of a well-known message, as weft's value conversion
/// reads it.
fn well_known(message: &MessageDescriptor) -> Option<&'static str> {
    let name = message.full_name().strip_prefix("google.protobuf.")?;
    Some(match name {
        "Timestamp" | "Duration" | "FieldMask" | "StringValue" | "BytesValue" | "UInt32Value"
        | "Int64Value" | "UInt64Value" => "String",
        "Int32Value" => "Int",
        "FloatValue" | "DoubleValue" => "Float",
        "BoolValue" => "Boolean",
        _ => "JSON",
    })
}

/// GraphQL names for every message and enum the services reach: the name
/// within the package (`Outer.Inner` gives `OuterInner`), or with the
/// package before it (`CatalogV1Product`) when two share it.
fn type_names(services: &[ServiceDescriptor]) -> HashMap<String, String> {
    let mut reached = BTreeMap::new();
    for method in services.iter().flat_map(ServiceDescriptor::methods) {
        reach(&method.input(), &mut reached);
        reach(&method.output(), &mut reached);
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for short in reached.values() {
        *counts.entry(short.clone()).or_default() += 1;
    }
    reached
        .into_iter()
        .map(|(full_name, short)| {
            let name = if counts.get(&short).copied().unwrap_or(0) > 1 {
                super::pascal(&full_name)
            } else {
                short
            };
            (full_name, name)
        })
        .collect()
}

/// Records `message` and every message and enum its fields reach, each by
/// full name with its name within its package.
fn reach(message: &MessageDescriptor, reached: &mut BTreeMap<String, String>) {
    if well_known(message).is_some()
        || reached.contains_key(message.full_name())
        || message.is_map_entry()
    {
        return;
    }
    reached.insert(
        message.full_name().to_owned(),
        short_name(message.full_name(), message.package_name()),
    );
    for field in message.fields() {
        match field.kind() {
            Kind::Message(inner) if inner.is_map_entry() => {}
            Kind::Message(inner) => reach(&inner, reached),
            Kind::Enum(item) => {
                reached.insert(
                    item.full_name().to_owned(),
                    short_name(item.full_name(), item.package_name()),
                );
            }
            _ => {}
        }
    }
}

fn short_name(full_name: &str, package: &str) -> String {
    let within = full_name
        .strip_prefix(package)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(full_name);
    within.replace('.', "")
}

/// `OrderItem` → `order_item`.
fn snake(name: &str) -> String {
    let mut text = String::new();
    for (index, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && index > 0 {
            text.push('_');
        }
        text.push(c.to_ascii_lowercase());
    }
    text
}

/// The leading comment of the element at `path` of `file`, if the
/// descriptors kept comments.
fn comments(file: &FileDescriptor, path: &[i32]) -> Option<String> {
    let proto = file.file_descriptor_proto();
    let info = proto.source_code_info.as_ref()?;
    let location = info
        .location
        .iter()
        .find(|location| location.path == path)?;
    let lines: Vec<&str> = location
        .leading_comments()
        .lines()
        .map(|line| line.strip_prefix(' ').unwrap_or(line).trim_end())
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// A GraphQL description line (or block, for several lines), indented;
/// nothing without a text.
fn description(text: Option<&str>, indent: &str) -> String {
    text.map(|text| super::description(text, indent))
        .unwrap_or_default()
}

fn quoted_list(items: &[String]) -> String {
    items
        .iter()
        .map(|item| super::string(item))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    /// A service with one of every shape the draft maps.
    const SHOP: &str = r#"syntax = "proto3";

package shop.v1;

import "google/protobuf/empty.proto";
import "google/protobuf/struct.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

// Users, their orders and a live feed.
service Shop {
  // One user; NOT_FOUND when there is none.
  rpc GetUser(GetUserRequest) returns (GetUserResponse);
  // Many users by id, in any order.
  rpc BatchGetUsers(BatchGetUsersRequest) returns (BatchGetUsersResponse);
  // Orders of the shop,
  // "newest" first.
  rpc ListOrders(ListOrdersRequest) returns (ListOrdersResponse);
  rpc SearchOrders(SearchOrdersRequest) returns (SearchOrdersResponse);
  rpc PlaceOrder(PlaceOrderRequest) returns (Order);
  rpc BatchDeleteOrders(BatchDeleteOrdersRequest) returns (google.protobuf.Empty);
  rpc Ping(google.protobuf.Empty) returns (google.protobuf.Empty);
  rpc WatchOrders(WatchOrdersRequest) returns (stream Order);
  rpc UploadItems(stream Item) returns (Order);
  rpc Chat(stream Item) returns (stream Item);
}

message User {
  string id = 1;
  string name = 2;
  google.protobuf.Timestamp created_at = 3;
  map<string, string> labels = 4;
}

message GetUserRequest { string id = 1; }
message GetUserResponse { User user = 1; }
message BatchGetUsersRequest { repeated string user_ids = 1; }
message BatchGetUsersResponse { repeated User users = 1; }

// An order placed by a user.
message Order {
  // Where an order is.
  enum Status {
    STATUS_UNSPECIFIED = 0;
    STATUS_OPEN = 1;
    // Paid and on its way.
    STATUS_SHIPPED = 2;
  }
  int64 id = 1;
  string user_id = 2;
  Status status = 3;
  repeated Item items = 4;
  uint32 total_cents = 5;
  double weight = 6;
  bool gift = 7;
  bytes receipt = 8;
  optional string note = 9;
  oneof delivery {
    string address = 10;
    Pickup pickup = 11;
  }
  google.protobuf.Int32Value rating = 12;
  google.protobuf.Int64Value coupon = 13;
  google.protobuf.Struct extra = 14;
  sint32 priority = 15;

  message Pickup { string store = 1; }
}

message Item {
  string sku = 1;
  int32 quantity = 2;
}

message ListOrdersRequest {
  int32 page_size = 1;
  string page_token = 2;
  Order.Status status = 3;
}

message ListOrdersResponse {
  repeated Order orders = 1;
  string next_page_token = 2;
}

message SearchOrdersRequest { Filter filter = 1; }
message SearchOrdersResponse { repeated Order orders = 1; }

message Filter {
  repeated Order.Status statuses = 1;
  google.protobuf.Timestamp since = 2;
}

message PlaceOrderRequest {
  string user_id = 1;
  repeated Item items = 2;
}

message BatchDeleteOrdersRequest { repeated int64 ids = 1; }
message WatchOrdersRequest { string user_id = 1; }
"#;

    /// A directory of its own under the system's temporary one, removed
    /// on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir = std::env::temp_dir().join(format!(
                "weft-import-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            std::fs::create_dir_all(dir.join("proto/shop/v1")).unwrap();
            std::fs::write(dir.join("proto/shop/v1/shop.proto"), SHOP).unwrap();
            Self(dir)
        }

        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn shop(scratch: &Scratch) -> DescriptorPool {
        let proto = scratch.path().join("proto/shop/v1/shop.proto");
        let include = scratch.path().join("proto");
        crate::sources::grpc::load_protos(&[proto], &[include], true).unwrap()
    }

    fn target(origin: Origin) -> Target {
        Target {
            source: "shop".to_owned(),
            endpoint: "http://127.0.0.1:50051".to_owned(),
            origin,
        }
    }

    #[test]
    fn every_shape_of_the_shop_service_is_drafted() {
        let scratch = Scratch::new("shapes");
        let draft = sdl(&shop(&scratch), "shop").unwrap();
        insta::assert_snapshot!(draft);
    }

    #[test]
    fn the_header_carries_the_config_and_what_was_left_out() {
        let scratch = Scratch::new("header");
        let origin = Origin::Protos {
            protos: vec!["proto/shop/v1/shop.proto".to_owned()],
            include: vec!["proto".to_owned()],
        };
        let document = document(&shop(&scratch), &target(origin)).unwrap();
        let header: Vec<&str> = document
            .lines()
            .take_while(|line| !line.is_empty())
            .collect();
        insta::assert_snapshot!(header.join("\n"));
    }

    #[test]
    fn the_config_snippet_names_the_reflection_or_the_files() {
        assert_eq!(
            config_snippet(&target(Origin::Reflection)),
            "[sources.shop]\nkind = \"grpc\"\nendpoint = \"http://127.0.0.1:50051\"\nreflection = true\n"
        );
        let origin = Origin::Protos {
            protos: vec!["a.proto".to_owned(), "b \"x\".proto".to_owned()],
            include: Vec::new(),
        };
        assert_eq!(
            config_snippet(&target(origin)),
            "[sources.shop]\nkind = \"grpc\"\nendpoint = \"http://127.0.0.1:50051\"\nprotos = [\"a.proto\", \"b \\\"x\\\".proto\"]\n"
        );
    }

    /// The draft is served as it is: weft builds a gateway from it, every
    /// directive checked against the proto.
    #[tokio::test]
    async fn weft_accepts_the_draft_as_it_is() {
        let scratch = Scratch::new("accepted");
        let draft = sdl(&shop(&scratch), "shop").unwrap();
        std::fs::write(scratch.path().join("schema.graphql"), &draft).unwrap();
        let origin = Origin::Protos {
            protos: vec!["proto/shop/v1/shop.proto".to_owned()],
            include: vec!["proto".to_owned()],
        };
        let toml = format!(
            "[schema]\nfiles = [\"schema.graphql\"]\n\n{}",
            config_snippet(&target(origin))
        );
        let path = scratch.path().join("weft.toml");
        std::fs::write(&path, toml).unwrap();
        let config = crate::config::Config::load(&path).unwrap();
        if let Err(problems) = crate::Gateway::from_config(&config) {
            panic!("{problems}\n{draft}");
        }
    }

    #[test]
    fn reads_are_queries_and_the_rest_mutations() {
        let scratch = Scratch::new("roots");
        let pool = shop(&scratch);
        let service = pool.get_service_by_name("shop.v1.Shop").unwrap();
        let roots: Vec<(String, Root)> = service
            .methods()
            .map(|method| (method.name().to_owned(), root_of(&method)))
            .collect();
        let named = |name: &str| roots.iter().find(|(method, _)| method == name).unwrap().1;
        assert_eq!(named("GetUser"), Root::Query);
        assert_eq!(named("ListOrders"), Root::Query);
        assert_eq!(named("SearchOrders"), Root::Query);
        assert_eq!(named("BatchGetUsers"), Root::Query);
        assert_eq!(named("BatchDeleteOrders"), Root::Mutation);
        assert_eq!(named("PlaceOrder"), Root::Mutation);
        assert_eq!(named("WatchOrders"), Root::Subscription);
    }

    #[test]
    fn no_service_is_an_error() {
        let pool = DescriptorPool::global();
        let error = sdl(&pool, "x").unwrap_err();
        assert_eq!(error, "the descriptors define no service to import");
    }

    #[test]
    fn names_are_cased_for_graphql() {
        assert_eq!(snake("OrderItem"), "order_item");
        assert_eq!(
            description(Some("one\ntwo"), "  "),
            "  \"\"\"\n  one\n  two\n  \"\"\"\n"
        );
    }
}
