//! `weft import openapi`: an OpenAPI 3.0/3.1 document → SDL with `@rest`
//! directives for one REST source.
//!
//! | OpenAPI | SDL |
//! |---|---|
//! | `GET` operation | a `Query` field |
//! | `POST`, `PUT`, `PATCH`, `DELETE` | a `Mutation` field |
//! | `operationId` | the field's name, in camelCase (without one: method and path) |
//! | path and query parameters | arguments, templated into the path and query |
//! | a JSON request body | one argument per property of an object body (an `input` argument otherwise), sent with `body:` |
//! | the first 2xx JSON response | the field's type: component schemas become object types (`@map` where a property is not camelCase), enums become enums, arrays lists, `required` and non-nullable properties non-null |
//! | `GET` of a list with an array query parameter naming a property of its items (`?ids=` over `id`) | `@key(fields: "id")` and a batch `@rest` on the item type |
//! | the same over a foreign key (`?userIds=` over `userId`) | a field on the referenced type (`User.orders`) loaded with `$batch` and `groupBy` |
//! | a property `userId` of a type when `User` is an entity of the document | `user: User @entity(key: "$this.userId")` |
//!
//! What cannot be mapped (header and cookie parameters, `oneOf` of several
//! types, external `$ref`s, enum values that are not GraphQL names) is
//! noted as a warning at its JSON pointer; the SDL is written either way.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde_norway::Value;

use super::{camel, description, is_name, pascal, plural, singular, string};
use crate::openapi::{Document, Kind, Operation, Schema, Warning};

/// The SDL written for a document, and what could not be mapped.
#[derive(Debug)]
pub struct Imported {
    /// The SDL text.
    pub sdl: String,
    /// What could not be mapped, at its JSON pointer.
    pub warnings: Vec<Warning>,
}

/// How to write the SDL.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The REST source the directives name.
    pub source: String,
    /// Root types (`Query`, `Mutation`) that another schema file defines:
    /// they are written as `extend type`.
    pub extend: Vec<String>,
}

/// Maps `doc` to SDL as `options` say.
pub fn import(doc: &Document, options: &Options) -> Imported {
    let mut generator = Generator::new(doc, &options.source);
    generator.extend.clone_from(&options.extend);
    for operation in doc.operations() {
        generator.operation(&operation);
    }
    generator.entities();
    generator.groupings();
    generator.entity_fields();
    let sdl = generator.write();
    Imported {
        sdl,
        warnings: doc.warnings(),
    }
}

/// A field as it will be written.
#[derive(Debug, Clone)]
struct Field {
    description: Option<String>,
    name: String,
    args: Vec<Arg>,
    ty: String,
    directives: String,
}

/// An argument or input field.
#[derive(Debug, Clone)]
struct Arg {
    description: Option<String>,
    name: String,
    ty: String,
    default: Option<String>,
}

/// An object type of the document.
#[derive(Debug)]
struct Object {
    name: String,
    description: Option<String>,
    directives: String,
    fields: Vec<Field>,
    /// JSON property → GraphQL field, for the plain fields.
    properties: Vec<(String, String)>,
}

impl Object {
    fn field_of(&self, property: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(json, _)| json == property)
            .map(|(_, field)| field.as_str())
    }

    fn has_field(&self, name: &str) -> bool {
        self.fields.iter().any(|field| field.name == name)
    }
}

/// A `GET` that answers a list of an object type, for batch forms.
#[derive(Debug, Clone)]
struct Listing {
    path: String,
    object: usize,
    /// Query parameters: name, whether it takes a list.
    parameters: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Query,
    Mutation,
}

struct Generator<'d> {
    doc: &'d Document,
    source: String,
    query: Vec<Field>,
    mutation: Vec<Field>,
    objects: Vec<Object>,
    inputs: Vec<(String, Option<String>, Vec<Arg>)>,
    enums: Vec<(String, Option<String>, Vec<String>)>,
    /// Schema pointer → output type name (objects and enums).
    outputs: HashMap<String, String>,
    /// Schema pointer → input type name.
    input_names: HashMap<String, String>,
    taken: HashSet<String>,
    json: bool,
    listings: Vec<Listing>,
    /// Entity type name → its key field.
    keys: HashMap<String, String>,
    /// Fields of types this document does not define.
    extensions: Vec<(String, Field)>,
    /// Root types written as `extend type`.
    extend: Vec<String>,
}

impl<'d> Generator<'d> {
    fn new(doc: &'d Document, source: &str) -> Self {
        Self {
            doc,
            source: source.to_owned(),
            query: Vec::new(),
            mutation: Vec::new(),
            objects: Vec::new(),
            inputs: Vec::new(),
            enums: Vec::new(),
            outputs: HashMap::new(),
            input_names: HashMap::new(),
            taken: ["Query", "Mutation", "Subscription", "JSON"]
                .into_iter()
                .map(str::to_owned)
                .collect(),
            json: false,
            listings: Vec::new(),
            keys: HashMap::new(),
            extensions: Vec::new(),
            extend: Vec::new(),
        }
    }

    /// A type name from `wanted` that no other type has yet.
    fn new_type_name(&mut self, wanted: &str) -> String {
        let wanted = if is_name(wanted) {
            wanted.to_owned()
        } else {
            "Type".to_owned()
        };
        let mut name = wanted.clone();
        let mut n = 2;
        while !self.taken.insert(name.clone()) {
            name = format!("{wanted}{n}");
            n += 1;
        }
        name
    }

    fn json(&mut self) -> String {
        self.json = true;
        "JSON".to_owned()
    }

    fn operation(&mut self, operation: &Operation<'d>) {
        let root = if operation.method == "get" {
            Root::Query
        } else {
            Root::Mutation
        };
        let name = self.field_name(operation, root);
        let context = pascal(&name);
        let mut args: Vec<Arg> = Vec::new();
        let target = self.target(operation, &context, &mut args);
        let body = self.body(operation, &context, &mut args);
        let ty = self.answer(operation, root, &context);
        let method = operation.method;
        let mut directives = format!(
            "@rest(source: {}, {method}: {}",
            string(&self.source),
            string(&target)
        );
        if let Some(body) = body {
            let _ = write!(directives, ", body: {}", string(&body));
        }
        directives.push(')');
        let field = Field {
            description: operation.description().map(str::to_owned),
            name,
            args,
            ty,
            directives,
        };
        match root {
            Root::Query => self.query.push(field),
            Root::Mutation => self.mutation.push(field),
        }
    }

    /// `operationId` in camelCase, else the method and the path's words;
    /// made unique within its root type.
    fn field_name(&self, operation: &Operation<'d>, root: Root) -> String {
        let from_id = operation.id().map(camel).filter(|name| is_name(name));
        let wanted = from_id.unwrap_or_else(|| {
            let words: Vec<&str> = operation
                .path
                .split('/')
                .map(|segment| segment.trim_matches(|c| c == '{' || c == '}'))
                .collect();
            camel(&format!("{} {}", operation.method, words.join(" ")))
        });
        let fields = match root {
            Root::Query => &self.query,
            Root::Mutation => &self.mutation,
        };
        let mut name = wanted.clone();
        let mut n = 2;
        while fields.iter().any(|field| field.name == name) {
            name = format!("{wanted}{n}");
            n += 1;
        }
        if name != wanted {
            self.doc.warn(
                &operation.pointer,
                format!("another operation is called `{wanted}` too; this one is `{name}`"),
            );
        }
        name
    }

    /// The path and query template; path and query parameters become
    /// arguments.
    fn target(&mut self, operation: &Operation<'d>, context: &str, args: &mut Vec<Arg>) -> String {
        let mut path = operation.path.to_owned();
        let mut query = Vec::new();
        for parameter in &operation.parameters {
            if !matches!(parameter.location, "path" | "query") {
                self.doc.warn(
                    &parameter.pointer,
                    format!(
                        "{} parameter `{}` is left out; send it with `headers:` on the directive",
                        parameter.location, parameter.name
                    ),
                );
                continue;
            }
            let name = unique(args, &camel(parameter.name));
            if !is_name(&name) {
                self.doc.warn(
                    &parameter.pointer,
                    "a parameter without a usable name is left out",
                );
                continue;
            }
            let id = is_id(parameter.name);
            let mut ty = match &parameter.schema {
                Some(schema) => {
                    let context = format!("{context} {}", parameter.name);
                    self.input(schema, &context, id)
                }
                None if id => "ID".to_owned(),
                None => "String".to_owned(),
            };
            let list = ty.starts_with('[');
            if list && parameter.location == "query" && parameter.explode {
                self.doc.warn(
                    &parameter.pointer,
                    format!(
                        "weft sends a list comma-separated (`{0}=1,2`), as `explode: false` says; \
                         this parameter is exploded (`{0}=1&{0}=2`)",
                        parameter.name
                    ),
                );
            }
            if parameter.required {
                ty.push('!');
            }
            let default = parameter
                .schema
                .as_ref()
                .filter(|_| !parameter.required)
                .and_then(|schema| literal(schema.default()?, &ty));
            let variable = format!("{{$args.{name}}}");
            if parameter.location == "path" {
                path = path.replace(&format!("{{{}}}", parameter.name), &variable);
            } else {
                query.push(format!("{}={variable}", parameter.name));
            }
            args.push(Arg {
                description: parameter.description.map(str::to_owned),
                name,
                ty,
                default,
            });
        }
        self.undescribed_path_parameters(operation, &mut path, args);
        if query.is_empty() {
            path
        } else {
            format!("{path}?{}", query.join("&"))
        }
    }

    /// A `{name}` of the path that no parameter describes becomes a
    /// required `String` argument.
    fn undescribed_path_parameters(
        &mut self,
        operation: &Operation<'d>,
        path: &mut String,
        args: &mut Vec<Arg>,
    ) {
        let names: Vec<String> = path
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
            .filter(|name| !name.starts_with('$'))
            .collect();
        for parameter in names {
            let name = unique(args, &camel(&parameter));
            self.doc.warn(
                &operation.pointer,
                format!("path parameter `{parameter}` is not described; it is a `String!`"),
            );
            *path = path.replace(&format!("{{{parameter}}}"), &format!("{{$args.{name}}}"));
            args.push(Arg {
                description: None,
                name,
                ty: "String!".to_owned(),
                default: None,
            });
        }
    }

    /// The request body: an object's properties as arguments sent as a
    /// body template, or one `input` argument sent as it is.
    fn body(
        &mut self,
        operation: &Operation<'d>,
        context: &str,
        args: &mut Vec<Arg>,
    ) -> Option<String> {
        let (schema, required) = self.doc.request_body(operation)?;
        let properties = schema.properties(self.doc);
        let flat = !properties.is_empty()
            && properties.iter().all(|property| {
                let name = camel(property.name);
                is_name(&name) && !args.iter().any(|arg| arg.name == name)
            });
        if !flat {
            let name = unique(args, "input");
            let mut ty = self.input(&schema, &format!("{context} body"), false);
            if required && !schema.nullable {
                ty.push('!');
            }
            args.push(Arg {
                description: schema.description().map(str::to_owned),
                name: name.clone(),
                ty,
                default: None,
            });
            return Some(format!("$args.{name}"));
        }
        let mut entries = Vec::new();
        for property in properties {
            let name = camel(property.name);
            let context = format!("{context} {}", property.name);
            let mut ty = self.input(&property.schema, &context, is_id(property.name));
            if required && property.required && !property.schema.nullable {
                ty.push('!');
            }
            let key = if is_name(property.name) {
                property.name.to_owned()
            } else {
                string(property.name)
            };
            entries.push(format!("{key}: $args.{name}"));
            args.push(Arg {
                description: described(&property.schema),
                name,
                ty,
                default: None,
            });
        }
        Some(format!("{{ {} }}", entries.join(", ")))
    }

    /// The field's type, from the first success response; a list `GET` is
    /// remembered for the batch forms.
    fn answer(&mut self, operation: &Operation<'d>, root: Root, context: &str) -> String {
        let Some((_, schema)) = self.doc.response(operation) else {
            self.doc.warn(
                &operation.pointer,
                "no success (2xx) response is described; the field is a `Boolean`",
            );
            return "Boolean".to_owned();
        };
        let Some(schema) = schema else {
            return "Boolean".to_owned();
        };
        let ty = self.output(&schema, context, false);
        if let (Kind::Array(items), Root::Query) = (&schema.kind, root) {
            self.remember_listing(operation, items);
        }
        let non_null =
            !schema.nullable && (matches!(schema.kind, Kind::Array(_)) || root == Root::Mutation);
        if non_null { format!("{ty}!") } else { ty }
    }

    fn remember_listing(&mut self, operation: &Operation<'d>, items: &Schema<'d>) {
        if !operation.parameters_in("path").is_empty() {
            return;
        }
        let Some(object) = self
            .outputs
            .get(&items.pointer)
            .and_then(|name| self.objects.iter().position(|object| &object.name == name))
        else {
            return;
        };
        let parameters = operation
            .parameters_in("query")
            .into_iter()
            .map(|parameter| {
                let list = parameter
                    .schema
                    .as_ref()
                    .is_some_and(|schema| matches!(schema.kind, Kind::Array(_)));
                (parameter.name.to_owned(), list)
            })
            .collect();
        self.listings.push(Listing {
            path: operation.path.to_owned(),
            object,
            parameters,
        });
    }

    /// The output type (without its outer `!`) that holds `schema`;
    /// `context` names an inline object or enum, `id` says the value is an
    /// identifier.
    fn output(&mut self, schema: &Schema<'d>, context: &str, id: bool) -> String {
        match &schema.kind {
            Kind::Object if schema.has_properties(self.doc) => self.object(schema, context),
            Kind::Object | Kind::Any => self.json(),
            Kind::Array(items) => {
                let context = singular(context).unwrap_or_else(|| context.to_owned());
                let item = self.output(items, &context, id);
                if items.nullable {
                    format!("[{item}]")
                } else {
                    format!("[{item}!]")
                }
            }
            Kind::String => match self.enumeration(schema, context) {
                Some(name) => name,
                None if id => "ID".to_owned(),
                None => "String".to_owned(),
            },
            Kind::Integer if id => "ID".to_owned(),
            Kind::Integer => "Int".to_owned(),
            Kind::Number => "Float".to_owned(),
            Kind::Boolean => "Boolean".to_owned(),
        }
    }

    /// The input type (without its outer `!`) that holds `schema`.
    fn input(&mut self, schema: &Schema<'d>, context: &str, id: bool) -> String {
        match &schema.kind {
            Kind::Object if schema.has_properties(self.doc) => self.input_object(schema, context),
            Kind::Array(items) => {
                let context = singular(context).unwrap_or_else(|| context.to_owned());
                let item = self.input(items, &context, id);
                if items.nullable {
                    format!("[{item}]")
                } else {
                    format!("[{item}!]")
                }
            }
            _ => self.output(schema, context, id),
        }
    }

    fn object(&mut self, schema: &Schema<'d>, context: &str) -> String {
        if let Some(name) = self.outputs.get(&schema.pointer) {
            return name.clone();
        }
        let name = self.new_type_name(&pascal(schema.name.unwrap_or(context)));
        self.outputs.insert(schema.pointer.clone(), name.clone());
        let index = self.objects.len();
        self.objects.push(Object {
            name: name.clone(),
            description: schema.description().map(str::to_owned),
            directives: String::new(),
            fields: Vec::new(),
            properties: Vec::new(),
        });
        for property in schema.properties(self.doc) {
            let field = camel(property.name);
            if !is_name(&field) || self.objects[index].has_field(&field) {
                self.doc.warn(
                    &property.schema.pointer,
                    format!(
                        "property `{}` has no GraphQL name of its own; it is left out",
                        property.name
                    ),
                );
                continue;
            }
            let directives = if field == property.name {
                String::new()
            } else if property.name.contains('.') {
                self.doc.warn(
                    &property.schema.pointer,
                    format!(
                        "property `{}` has a dot, which `@map` reads as a path; it is left out",
                        property.name
                    ),
                );
                continue;
            } else {
                format!("@map(from: {})", string(property.name))
            };
            let context = format!("{name} {}", property.name);
            let mut ty = self.output(&property.schema, &context, is_id(property.name));
            if property.required && !property.schema.nullable {
                ty.push('!');
            }
            let object = &mut self.objects[index];
            object
                .properties
                .push((property.name.to_owned(), field.clone()));
            object.fields.push(Field {
                description: described(&property.schema),
                name: field,
                args: Vec::new(),
                ty,
                directives,
            });
        }
        name
    }

    fn input_object(&mut self, schema: &Schema<'d>, context: &str) -> String {
        if let Some(name) = self.input_names.get(&schema.pointer) {
            return name.clone();
        }
        let base = pascal(schema.name.unwrap_or(context));
        let name = self.new_type_name(&format!("{base}Input"));
        self.input_names
            .insert(schema.pointer.clone(), name.clone());
        let index = self.inputs.len();
        let description = schema.description().map(str::to_owned);
        self.inputs.push((name.clone(), description, Vec::new()));
        for property in schema.properties(self.doc) {
            if !is_name(property.name) {
                self.doc.warn(
                    &property.schema.pointer,
                    format!(
                        "property `{}` is not a GraphQL name, and input fields keep the body's keys; it is left out",
                        property.name
                    ),
                );
                continue;
            }
            let context = format!("{base} {}", property.name);
            let mut ty = self.input(&property.schema, &context, is_id(property.name));
            if property.required && !property.schema.nullable {
                ty.push('!');
            }
            let default = literal_default(&property.schema, &ty);
            self.inputs[index].2.push(Arg {
                description: described(&property.schema),
                name: property.name.to_owned(),
                ty,
                default,
            });
        }
        name
    }

    /// The enum type of a string schema with `enum`; `None` (a `String`)
    /// without one, or when a value is not a GraphQL name.
    fn enumeration(&mut self, schema: &Schema<'d>, context: &str) -> Option<String> {
        let values = schema.enum_values()?;
        if let Some(name) = self.outputs.get(&schema.pointer) {
            return Some(name.clone());
        }
        let bad: Vec<&str> = values
            .iter()
            .copied()
            .filter(|value| !is_name(value))
            .collect();
        if !bad.is_empty() || values.is_empty() {
            self.doc.warn(
                &schema.pointer,
                format!(
                    "enum values that are not GraphQL names ({}) make it a `String`",
                    bad.join(", ")
                ),
            );
            return None;
        }
        let name = self.new_type_name(&pascal(schema.name.unwrap_or(context)));
        self.outputs.insert(schema.pointer.clone(), name.clone());
        let values = values.into_iter().map(str::to_owned).collect();
        self.enums.push((
            name.clone(),
            schema.description().map(str::to_owned),
            values,
        ));
        Some(name)
    }

    /// `@key` and a batch `@rest` on each object type that a list `GET`
    /// answers, when an array query parameter names a property of its items
    /// that is not a foreign key (`?ids=` over `id`).
    fn entities(&mut self) {
        for listing in self.listings.clone() {
            for (parameter, list) in &listing.parameters {
                let Some(property) = singular(parameter) else {
                    continue;
                };
                let object = &self.objects[listing.object];
                let Some(field) = object.field_of(&property).map(str::to_owned) else {
                    continue;
                };
                if !list || foreign(&property).is_some() || self.keys.contains_key(&object.name) {
                    continue;
                }
                let directives = format!(
                    "@key(fields: {}) @rest(source: {}, get: {})",
                    string(&field),
                    string(&self.source),
                    string(&format!("{}?{parameter}={{$batch.{field}}}", listing.path))
                );
                let object = &mut self.objects[listing.object];
                object.directives = directives;
                self.keys.insert(object.name.clone(), field);
            }
        }
    }

    /// A list field on the type a foreign key refers to, for each list
    /// `GET` filtered by it: batched with `groupBy` when the parameter takes
    /// a list (`?userIds=` over `userId` gives `User.orders`), one call per
    /// parent otherwise.
    fn groupings(&mut self) {
        let mut done: HashSet<(String, usize)> = HashSet::new();
        for batched in [true, false] {
            for listing in self.listings.clone() {
                for (parameter, list) in &listing.parameters {
                    if *list != batched {
                        continue;
                    }
                    let property = if batched {
                        singular(parameter)
                    } else {
                        Some(parameter.clone())
                    };
                    let Some(property) = property else { continue };
                    let Some(referenced) = foreign(&property) else {
                        continue;
                    };
                    let object = &self.objects[listing.object];
                    if object.field_of(&property).is_none() || referenced == object.name {
                        continue;
                    }
                    if !done.insert((referenced.clone(), listing.object)) {
                        continue;
                    }
                    let field = self.grouped_field(&listing, parameter, &property, batched);
                    self.add_field(&referenced, field);
                }
            }
        }
    }

    fn grouped_field(
        &self,
        listing: &Listing,
        parameter: &str,
        property: &str,
        batched: bool,
    ) -> Field {
        let object = &self.objects[listing.object].name;
        let referenced = foreign(property).unwrap_or_default();
        let rest = if batched {
            format!(
                "@rest(source: {}, get: {}, groupBy: {})",
                string(&self.source),
                string(&format!("{}?{parameter}={{$batch.id}}", listing.path)),
                string(property)
            )
        } else {
            format!(
                "@rest(source: {}, get: {})",
                string(&self.source),
                string(&format!("{}?{parameter}={{$this.id}}", listing.path))
            )
        };
        Field {
            description: Some(format!(
                "The {} whose `{property}` is this {}'s `id`.",
                camel(&plural(object)),
                camel(&referenced)
            )),
            name: camel(&plural(object)),
            args: Vec::new(),
            ty: format!("[{object}!]!"),
            directives: rest,
        }
    }

    /// Adds `field` to the object type `name`, or to an `extend type` when
    /// this document does not define it.
    fn add_field(&mut self, name: &str, field: Field) {
        match self.objects.iter_mut().find(|object| object.name == name) {
            Some(object) if !object.has_field(&field.name) => object.fields.push(field),
            Some(_) => {}
            None => self.extensions.push((name.to_owned(), field)),
        }
    }

    /// `user: User @entity(key: "$this.userId")` on every object type with
    /// a foreign key to an entity of this document.
    fn entity_fields(&mut self) {
        let mut added = Vec::new();
        for (index, object) in self.objects.iter().enumerate() {
            for (property, field) in &object.properties {
                let Some(entity) = foreign(property) else {
                    continue;
                };
                let name = camel(&entity);
                if self.keys.get(&entity).map(String::as_str) != Some("id")
                    || object.has_field(&name)
                {
                    continue;
                }
                added.push((
                    index,
                    Field {
                        description: None,
                        name,
                        args: Vec::new(),
                        ty: entity.clone(),
                        directives: format!("@entity(key: {})", string(&format!("$this.{field}"))),
                    },
                ));
            }
        }
        for (index, field) in added {
            self.objects[index].fields.push(field);
        }
    }

    fn write(&self) -> String {
        let mut out = format!(
            "# Generated by `weft import openapi` from {}",
            self.doc.name
        );
        if let Some(title) = self.doc.title() {
            let _ = write!(out, " ({title})");
        }
        let _ = writeln!(
            out,
            ".\n# Every @rest names the REST source {} of weft.toml.",
            string(&self.source)
        );
        for (name, fields) in [("Query", &self.query), ("Mutation", &self.mutation)] {
            if !fields.is_empty() {
                out.push('\n');
                if self.extend.iter().any(|root| root == name) {
                    out.push_str("extend ");
                }
                write_object(&mut out, name, None, "", fields);
            }
        }
        for object in &self.objects {
            out.push('\n');
            let description = object.description.as_deref();
            write_object(
                &mut out,
                &object.name,
                description,
                &object.directives,
                &object.fields,
            );
        }
        for (name, description, values) in &self.enums {
            out.push('\n');
            write_enum(&mut out, name, description.as_deref(), values);
        }
        for (name, description, fields) in &self.inputs {
            out.push('\n');
            write_input(&mut out, name, description.as_deref(), fields);
        }
        if self.json {
            out.push_str("\n\"Any JSON value, passed through as it is.\"\nscalar JSON\n");
        }
        for (name, field) in &self.extensions {
            let _ = write!(
                out,
                "\n# `{name}` is not defined in {}: load this with the schema that defines it.\nextend type {name} {{\n",
                self.doc.name
            );
            write_field(&mut out, field);
            out.push_str("}\n");
        }
        out
    }
}

/// `name`, or `name2`, `name3`… when an argument already has it.
fn unique(args: &[Arg], name: &str) -> String {
    let mut candidate = name.to_owned();
    let mut n = 2;
    while args.iter().any(|arg| arg.name == candidate) {
        candidate = format!("{name}{n}");
        n += 1;
    }
    candidate
}

/// Whether a property or parameter holds identifiers (`id`, `userId`,
/// `user_id`, or a list of them: `ids`, `userIds`).
fn is_id(name: &str) -> bool {
    let one = |name: &str| {
        name == "id" || name.ends_with("Id") || name.ends_with("_id") || name.ends_with("ID")
    };
    one(name) || singular(name).is_some_and(|name| one(&name))
}

/// The type a foreign key refers to: `userId` and `user_id` → `User`.
fn foreign(property: &str) -> Option<String> {
    let stem = property
        .strip_suffix("Id")
        .or_else(|| property.strip_suffix("_id"))?;
    (!stem.is_empty()).then(|| pascal(stem))
}

/// A property's own description (a `$ref`'s is its type's).
fn described(schema: &Schema<'_>) -> Option<String> {
    if schema.name.is_some() {
        return None;
    }
    schema.description().map(str::to_owned)
}

fn literal_default(schema: &Schema<'_>, ty: &str) -> Option<String> {
    if ty.ends_with('!') {
        return None;
    }
    literal(schema.default()?, ty)
}

/// A default value as a GraphQL literal of type `ty`.
fn literal(value: &Value, ty: &str) -> Option<String> {
    let base = ty.trim_end_matches('!');
    match value {
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !["String", "ID"].contains(&base) && is_name(text) => {
            Some(text.clone())
        }
        Value::String(text) => Some(string(text)),
        _ => None,
    }
}

fn write_object(
    out: &mut String,
    name: &str,
    about: Option<&str>,
    directives: &str,
    fields: &[Field],
) {
    if let Some(about) = about {
        out.push_str(&description(about, ""));
    }
    let directives = if directives.is_empty() {
        String::new()
    } else {
        format!(" {directives}")
    };
    let _ = writeln!(out, "type {name}{directives} {{");
    for field in fields {
        write_field(out, field);
    }
    out.push_str("}\n");
}

fn write_field(out: &mut String, field: &Field) {
    if let Some(about) = &field.description {
        out.push_str(&description(about, "  "));
    }
    let _ = write!(out, "  {}", field.name);
    if field.args.iter().any(|arg| arg.description.is_some()) {
        out.push_str("(\n");
        for arg in &field.args {
            if let Some(about) = &arg.description {
                out.push_str(&description(about, "    "));
            }
            let _ = writeln!(out, "    {}", argument(arg));
        }
        out.push_str("  )");
    } else if !field.args.is_empty() {
        let args: Vec<String> = field.args.iter().map(argument).collect();
        let _ = write!(out, "({})", args.join(", "));
    }
    let _ = write!(out, ": {}", field.ty);
    if !field.directives.is_empty() {
        let _ = write!(out, " {}", field.directives);
    }
    out.push('\n');
}

fn argument(arg: &Arg) -> String {
    match &arg.default {
        Some(default) => format!("{}: {} = {default}", arg.name, arg.ty),
        None => format!("{}: {}", arg.name, arg.ty),
    }
}

fn write_enum(out: &mut String, name: &str, about: Option<&str>, values: &[String]) {
    if let Some(about) = about {
        out.push_str(&description(about, ""));
    }
    let _ = writeln!(out, "enum {name} {{");
    for value in values {
        let _ = writeln!(out, "  {value}");
    }
    out.push_str("}\n");
}

fn write_input(out: &mut String, name: &str, about: Option<&str>, fields: &[Arg]) {
    if let Some(about) = about {
        out.push_str(&description(about, ""));
    }
    let _ = writeln!(out, "input {name} {{");
    for field in fields {
        if let Some(about) = &field.description {
            out.push_str(&description(about, "  "));
        }
        let _ = writeln!(out, "  {}", argument(field));
    }
    out.push_str("}\n");
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The SDL of a document, then its warnings as `weft import` prints them.
    fn imported(name: &str, text: &str, options: &Options) -> String {
        let doc = Document::parse(Path::new(name), name, text).expect("the document loads");
        let imported = import(&doc, options);
        let mut out = imported.sdl;
        for warning in imported.warnings {
            let _ = write!(out, "\nwarning: {}: {}", warning.pointer, warning.message);
        }
        out
    }

    fn options(source: &str) -> Options {
        Options {
            source: source.to_owned(),
            extend: Vec::new(),
        }
    }

    #[test]
    fn the_users_service() {
        let text = include_str!("../../../schema/openapi/users.yaml");
        insta::assert_snapshot!(imported("users.yaml", text, &options("users")));
    }

    #[test]
    fn the_orders_service_beside_the_users_service() {
        let text = include_str!("../../../schema/openapi/orders.yaml");
        let options = Options {
            extend: vec!["Query".to_owned()],
            ..options("orders")
        };
        insta::assert_snapshot!(imported("orders.yaml", text, &options));
    }

    /// One document with an entity, a list filtered by a foreign key to it,
    /// inline objects, OpenAPI 3.1 nullability, `allOf`, a free-form
    /// object, a body that is not an object, an answer without a body, and
    /// what cannot be mapped.
    #[test]
    fn constructs_and_what_cannot_be_mapped() {
        let text = r##"openapi: 3.1.0
info: {title: shop, version: 2.1.0}
paths:
  /authors:
    get:
      operationId: list_authors
      parameters:
        - {name: ids, in: query, schema: {type: array, items: {type: integer}}}
        - {name: X-Tenant, in: header, schema: {type: string}}
      responses:
        "200":
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Author"}}
  /books:
    get:
      parameters:
        - {name: author_ids, in: query, style: form, explode: false, schema: {type: array, items: {type: integer}}}
        - {name: sort, in: query, schema: {type: string, enum: [title, "-title"], default: title}}
        - {name: page_size, in: query, schema: {type: integer, default: 20}}
      responses:
        "200":
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Book"}}
    put:
      operationId: replaceBooks
      requestBody:
        required: true
        content:
          application/json:
            schema: {type: array, items: {$ref: "#/components/schemas/Book"}}
      responses:
        "204": {description: replaced}
  /books/{isbn}:
    delete:
      operationId: deleteBook
      responses:
        "200":
          content:
            application/json:
              schema:
                type: object
                properties:
                  deleted: {type: boolean}
                  meta: {type: object, additionalProperties: true}
components:
  schemas:
    Author:
      type: object
      required: [id, name]
      properties:
        id: {type: integer}
        name: {type: string, description: "Pen name."}
        born: {type: [string, "null"], format: date}
        genre: {type: string, enum: [FICTION, NON_FICTION]}
    Book:
      allOf:
        - {$ref: "#/components/schemas/Base"}
        - type: object
          required: [title, author_id]
          properties:
            title: {type: string}
            author_id: {type: integer}
            price: {oneOf: [{type: number}, {type: string}]}
            cover:
              type: object
              properties:
                url: {type: string}
                size.bytes: {type: integer}
    Base:
      type: object
      required: [isbn]
      properties:
        isbn: {type: string}
"##;
        insta::assert_snapshot!(imported("shop.yaml", text, &options("shop")));
    }
}
