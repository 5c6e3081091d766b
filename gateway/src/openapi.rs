//! OpenAPI 3.0 and 3.1 documents as weft reads them, for `weft import
//! openapi` and for checking `@rest` directives against a REST source's
//! `openapi =` document.
//!
//! A document is read as YAML (JSON is read as the YAML it also is), so
//! mappings keep their order. Local `$ref`s (`#/components/schemas/User`)
//! are followed; each schema is seen as what a GraphQL type can hold: an
//! object with properties, an array, a string, an integer, a number, a
//! boolean, or anything (a schema weft cannot read further, such as a
//! `oneOf` of several types or an external `$ref`). Every part is named by
//! its JSON pointer (`#/paths/~1users~1{id}/get`), and what cannot be read
//! is noted as a warning at its pointer; reading never fails after the
//! document has loaded.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::error::Diagnostic;

/// The operations weft maps, by their key in a path item.
pub(crate) const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// How many `$ref`s one schema may go through before it is taken as a loop.
const MAX_REF_CHAIN: usize = 32;

/// What a `$ref` that leads nowhere stands for.
static NOTHING: Value = Value::Null;

/// A loaded OpenAPI document.
#[derive(Debug)]
pub struct Document {
    /// The file, as named by whoever asked for it (the config, the command
    /// line); messages name it so.
    pub name: String,
    /// The file's path, resolved.
    pub path: PathBuf,
    root: Value,
    warnings: RefCell<Vec<Warning>>,
}

/// Something of the document weft could not read, at its JSON pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// Where it stands, e.g. `#/paths/~1users/get/parameters/0`.
    pub pointer: String,
    /// What weft did with it.
    pub message: String,
}

/// One operation: a method of a path.
#[derive(Debug, Clone)]
pub(crate) struct Operation<'d> {
    /// The path as the document writes it, e.g. `/users/{id}`.
    pub path: &'d str,
    /// The method, lower case (`get`).
    pub method: &'static str,
    /// Its JSON pointer.
    pub pointer: String,
    node: &'d Value,
    /// The path item's and the operation's parameters (the operation's
    /// win), resolved.
    pub parameters: Vec<Parameter<'d>>,
}

/// A parameter of an operation.
#[derive(Debug, Clone)]
pub(crate) struct Parameter<'d> {
    /// Its name.
    pub name: &'d str,
    /// `path`, `query`, `header` or `cookie`.
    pub location: &'d str,
    /// Whether it must be sent.
    pub required: bool,
    /// Its schema, when it has one.
    pub schema: Option<Schema<'d>>,
    /// Its description.
    pub description: Option<&'d str>,
    /// Whether a list is sent as one parameter per item (`ids=1&ids=2`;
    /// the default for query parameters) rather than comma-separated.
    pub explode: bool,
    /// Its JSON pointer.
    pub pointer: String,
}

/// A schema, its `$ref`s followed.
#[derive(Debug, Clone)]
pub(crate) struct Schema<'d> {
    /// Where it stands (after the last `$ref`).
    pub pointer: String,
    /// The component's name, when it was reached through a `$ref` to
    /// `#/components/schemas/<name>`.
    pub name: Option<&'d str>,
    /// Whether `null` is one of its values.
    pub nullable: bool,
    /// What it holds.
    pub kind: Kind<'d>,
    node: &'d Value,
}

/// What a schema holds.
#[derive(Debug, Clone)]
pub(crate) enum Kind<'d> {
    /// An object (see [`Schema::properties`]).
    Object,
    /// An array of items.
    Array(Box<Schema<'d>>),
    /// A string.
    String,
    /// An integer.
    Integer,
    /// A number.
    Number,
    /// A boolean.
    Boolean,
    /// Any value: weft cannot say more.
    Any,
}

/// A property of an object schema.
#[derive(Debug, Clone)]
pub(crate) struct Property<'d> {
    /// Its key in the JSON object.
    pub name: &'d str,
    /// Whether the object always has it (`required`).
    pub required: bool,
    /// Its schema.
    pub schema: Schema<'d>,
}

/// The escaped form of one JSON pointer token (`/` as `~1`, `~` as `~0`).
pub(crate) fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// A mapping key as text (`200` may be written without quotes).
fn key_text(key: &Value) -> Option<String> {
    match key {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn text<'d>(node: &'d Value, key: &str) -> Option<&'d str> {
    node.get(key).and_then(Value::as_str)
}

impl Document {
    /// Reads the document at `path`; `name` is how messages name it.
    /// A file that cannot be read, is not YAML or JSON, or is not an
    /// OpenAPI 3 document is one problem, at its line when known.
    pub fn load(path: &Path, name: &str) -> Result<Self, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|error| {
            Diagnostic::file(path, format!("cannot read the OpenAPI document: {error}"))
        })?;
        Self::parse(path, name, &text)
    }

    /// Reads a document from its text.
    pub fn parse(path: &Path, name: &str, text: &str) -> Result<Self, Diagnostic> {
        let root: Value = serde_norway::from_str(text).map_err(|error| {
            let (line, column) = error
                .location()
                .map_or((0, 0), |at| (at.line(), at.column()));
            let message = format!("not YAML or JSON: {error}");
            Diagnostic::at(path, line, column, message)
        })?;
        let version = root.get("openapi").and_then(|version| match version {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            _ => None,
        });
        match version {
            Some(version) if version.starts_with("3.") => {}
            Some(version) => {
                return Err(Diagnostic::file(
                    path,
                    format!("OpenAPI {version} is not supported; weft reads OpenAPI 3.0 and 3.1"),
                ));
            }
            None if root.get("swagger").is_some() => {
                return Err(Diagnostic::file(
                    path,
                    "Swagger 2.0 is not supported; weft reads OpenAPI 3.0 and 3.1 (convert the document first)",
                ));
            }
            None => {
                return Err(Diagnostic::file(
                    path,
                    "not an OpenAPI document: it has no `openapi: 3.x` field",
                ));
            }
        }
        if root.get("paths").is_some_and(|paths| !paths.is_mapping()) {
            return Err(Diagnostic::file(path, "`paths` is not a mapping"));
        }
        Ok(Self {
            name: name.to_owned(),
            path: path.to_path_buf(),
            root,
            warnings: RefCell::new(Vec::new()),
        })
    }

    /// `info.title` and `info.version`, when given.
    pub(crate) fn title(&self) -> Option<String> {
        let info = self.root.get("info")?;
        let title = text(info, "title")?;
        Some(match info.get("version").and_then(key_text) {
            Some(version) => format!("{title} {version}"),
            None => title.to_owned(),
        })
    }

    /// Notes something weft could not read (once per pointer and message).
    pub(crate) fn warn(&self, pointer: &str, message: impl Into<String>) {
        let warning = Warning {
            pointer: pointer.to_owned(),
            message: message.into(),
        };
        let mut warnings = self.warnings.borrow_mut();
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }

    /// The warnings noted so far, in the order met.
    pub fn warnings(&self) -> Vec<Warning> {
        self.warnings.borrow().clone()
    }

    /// The paths as the document writes them, in its order.
    pub(crate) fn path_names(&self) -> Vec<&str> {
        self.root
            .get("paths")
            .and_then(Value::as_mapping)
            .map(|paths| paths.keys().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// Every operation of every path, in the document's order.
    pub(crate) fn operations(&self) -> Vec<Operation<'_>> {
        let Some(paths) = self.root.get("paths").and_then(Value::as_mapping) else {
            return Vec::new();
        };
        let mut operations = Vec::new();
        for (path, item) in paths {
            let Some(path) = path.as_str() else { continue };
            let item_pointer = format!("#/paths/{}", token(path));
            let (item, item_pointer) = self.follow(item, item_pointer);
            for method in METHODS {
                if let Some(node) = item.get(method) {
                    let pointer = format!("{item_pointer}/{method}");
                    let parameters = self.parameters(item, &item_pointer, node, &pointer);
                    operations.push(Operation {
                        path,
                        method,
                        pointer,
                        node,
                        parameters,
                    });
                }
            }
            for other in ["head", "options", "trace"] {
                if item.get(other).is_some() {
                    self.warn(
                        &format!("{item_pointer}/{other}"),
                        format!("{} operations are left out", other.to_uppercase()),
                    );
                }
            }
        }
        operations
    }

    /// The operation `method` of the document path `path`.
    pub(crate) fn operation(&self, path: &str, method: &str) -> Option<Operation<'_>> {
        self.operations()
            .into_iter()
            .find(|operation| operation.path == path && operation.method == method)
    }

    fn parameters<'d>(
        &'d self,
        item: &'d Value,
        item_pointer: &str,
        operation: &'d Value,
        pointer: &str,
    ) -> Vec<Parameter<'d>> {
        let mut parameters: Vec<Parameter<'d>> = Vec::new();
        for (node, at) in [(item, item_pointer), (operation, pointer)] {
            let Some(list) = node.get("parameters").and_then(Value::as_sequence) else {
                continue;
            };
            for (index, parameter) in list.iter().enumerate() {
                let at = format!("{at}/parameters/{index}");
                let Some(parameter) = self.parameter(parameter, at) else {
                    continue;
                };
                parameters.retain(|known| {
                    (known.name, known.location) != (parameter.name, parameter.location)
                });
                parameters.push(parameter);
            }
        }
        parameters
    }

    fn parameter<'d>(&'d self, node: &'d Value, pointer: String) -> Option<Parameter<'d>> {
        let (node, pointer) = self.follow(node, pointer);
        let (Some(name), Some(location)) = (text(node, "name"), text(node, "in")) else {
            self.warn(&pointer, "a parameter without `name` and `in` is left out");
            return None;
        };
        let schema = node
            .get("schema")
            .map(|schema| self.schema(schema, format!("{pointer}/schema")));
        if schema.is_none() && node.get("content").is_some() {
            self.warn(
                &pointer,
                "a parameter with `content` instead of `schema` is read as a string",
            );
        }
        let style = text(node, "style").unwrap_or("form");
        let explode = node
            .get("explode")
            .and_then(Value::as_bool)
            .unwrap_or(style == "form");
        Some(Parameter {
            name,
            location,
            required: location == "path"
                || node.get("required").and_then(Value::as_bool) == Some(true),
            schema,
            description: text(node, "description"),
            explode,
            pointer,
        })
    }

    /// The node a `$ref` chain ends at, with its pointer; a `$ref` that
    /// leads nowhere is noted, and the node itself is returned.
    fn follow<'d>(&'d self, node: &'d Value, pointer: String) -> (&'d Value, String) {
        let (node, pointer, _) = self.follow_named(node, pointer);
        (node, pointer)
    }

    /// [`Self::follow`], with the name of the last component schema met.
    fn follow_named<'d>(
        &'d self,
        mut node: &'d Value,
        mut pointer: String,
    ) -> (&'d Value, String, Option<&'d str>) {
        let mut name = None;
        for _ in 0..MAX_REF_CHAIN {
            let Some(reference) = text(node, "$ref") else {
                return (node, pointer, name);
            };
            let Some(target) = self.lookup(reference) else {
                let why = if reference.starts_with("#/") {
                    "leads nowhere in this document"
                } else {
                    "is not a local reference (`#/…`), which is all weft follows"
                };
                self.warn(&pointer, format!("`$ref: {reference}` {why}"));
                return (&NOTHING, pointer, name);
            };
            name = reference
                .strip_prefix("#/components/schemas/")
                .filter(|rest| !rest.contains('/'))
                .or(name);
            node = target;
            reference.clone_into(&mut pointer);
        }
        self.warn(&pointer, "`$ref`s that lead in a circle");
        (&NOTHING, pointer, name)
    }

    /// The node at a local reference.
    fn lookup(&self, reference: &str) -> Option<&Value> {
        let rest = reference.strip_prefix("#/")?;
        rest.split('/').try_fold(&self.root, |node, part| {
            let part = part.replace("~1", "/").replace("~0", "~");
            match node {
                Value::Sequence(items) => items.get(part.parse::<usize>().ok()?),
                _ => node.get(part.as_str()),
            }
        })
    }

    /// The schema at `node` (`pointer` names it).
    pub(crate) fn schema<'d>(&'d self, node: &'d Value, pointer: String) -> Schema<'d> {
        let (node, pointer, name) = self.follow_named(node, pointer);
        let (types, mut nullable) = self.types(node, &pointer);
        nullable |= node.get("nullable").and_then(Value::as_bool) == Some(true);
        let kind = match types.as_slice() {
            [one] => self.kind_of(one, node, &pointer),
            [] => return self.untyped(node, pointer, name, nullable),
            _ => {
                self.warn(
                    &pointer,
                    format!(
                        "a schema of several types ({}) is read as any value",
                        types.join(", ")
                    ),
                );
                Kind::Any
            }
        };
        Schema {
            pointer,
            name,
            nullable,
            kind,
            node,
        }
    }

    /// The types a schema names (without `null`), and whether `null` is one.
    fn types<'d>(&self, node: &'d Value, pointer: &str) -> (Vec<&'d str>, bool) {
        match node.get("type") {
            Some(Value::String(one)) if one == "null" => (Vec::new(), true),
            Some(Value::String(one)) => (vec![one.as_str()], false),
            Some(Value::Sequence(many)) => {
                let names: Vec<&str> = many.iter().filter_map(Value::as_str).collect();
                let nullable = names.contains(&"null");
                (
                    names.into_iter().filter(|name| *name != "null").collect(),
                    nullable,
                )
            }
            Some(_) => {
                self.warn(pointer, "`type` is neither a name nor a list of names");
                (Vec::new(), false)
            }
            None => (Vec::new(), false),
        }
    }

    fn kind_of<'d>(&'d self, name: &str, node: &'d Value, pointer: &str) -> Kind<'d> {
        match name {
            "object" => Kind::Object,
            "array" => Kind::Array(Box::new(match node.get("items") {
                Some(items) => self.schema(items, format!("{pointer}/items")),
                None => Schema::any(node, format!("{pointer}/items")),
            })),
            "string" => Kind::String,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "boolean" => Kind::Boolean,
            other => {
                self.warn(
                    pointer,
                    format!("unknown type `{other}` is read as any value"),
                );
                Kind::Any
            }
        }
    }

    /// A schema without `type`: an object by its properties or `allOf`, an
    /// array by its items, a string by its enum, a nullable alternative of
    /// `oneOf`/`anyOf` (`[X, null]`), or any value.
    fn untyped<'d>(
        &'d self,
        node: &'d Value,
        pointer: String,
        name: Option<&'d str>,
        nullable: bool,
    ) -> Schema<'d> {
        let kind = if node.get("properties").is_some() || node.get("allOf").is_some() {
            Kind::Object
        } else if node.get("items").is_some() {
            self.kind_of("array", node, &pointer)
        } else if let Some(values) = node.get("enum").and_then(Value::as_sequence) {
            if values
                .iter()
                .all(|value| value.is_string() || value.is_null())
            {
                Kind::String
            } else {
                Kind::Any
            }
        } else if let Some(alternative) = self.nullable_alternative(node, &pointer) {
            let mut schema = alternative;
            schema.nullable = true;
            return schema;
        } else {
            for key in ["oneOf", "anyOf"] {
                if node.get(key).is_some() {
                    self.warn(&pointer, format!("`{key}` is read as any value"));
                }
            }
            Kind::Any
        };
        Schema {
            pointer,
            name,
            nullable,
            kind,
            node,
        }
    }

    /// The one alternative of a `oneOf`/`anyOf` whose others are all `null`.
    fn nullable_alternative<'d>(&'d self, node: &'d Value, pointer: &str) -> Option<Schema<'d>> {
        for key in ["oneOf", "anyOf"] {
            let Some(alternatives) = node.get(key).and_then(Value::as_sequence) else {
                continue;
            };
            let is_null = |alternative: &Value| text(alternative, "type") == Some("null");
            let others: Vec<(usize, &Value)> = alternatives
                .iter()
                .enumerate()
                .filter(|(_, alternative)| !is_null(alternative))
                .collect();
            if let [(index, alternative)] = others.as_slice()
                && others.len() < alternatives.len()
            {
                return Some(self.schema(alternative, format!("{pointer}/{key}/{index}")));
            }
        }
        None
    }

    /// The JSON schema of an operation's request body, and whether the body
    /// is required.
    pub(crate) fn request_body<'d>(
        &'d self,
        operation: &Operation<'d>,
    ) -> Option<(Schema<'d>, bool)> {
        let body = operation.node.get("requestBody")?;
        let (body, pointer) = self.follow(body, format!("{}/requestBody", operation.pointer));
        let required = body.get("required").and_then(Value::as_bool) == Some(true);
        let schema = self.json_schema(body, &pointer);
        if schema.is_none() {
            self.warn(&pointer, "a request body without a JSON schema is left out");
        }
        Some((schema?, required))
    }

    /// The answer of an operation: the first success status (`200`, `201`,
    /// …, `2XX`), and the JSON schema of its body (`None` when it has
    /// none, e.g. `204`). `None` when no success is described.
    pub(crate) fn response<'d>(
        &'d self,
        operation: &Operation<'d>,
    ) -> Option<(String, Option<Schema<'d>>)> {
        let responses = operation.node.get("responses")?.as_mapping()?;
        let mut successes: Vec<(String, &Value)> = responses
            .iter()
            .filter_map(|(status, response)| Some((key_text(status)?, response)))
            .filter(|(status, _)| status.starts_with('2'))
            .collect();
        successes.sort_by(|(a, _), (b, _)| a.cmp(b));
        let (status, response) = successes.into_iter().next()?;
        let pointer = format!("{}/responses/{}", operation.pointer, token(&status));
        let (response, pointer) = self.follow(response, pointer);
        Some((status, self.json_schema(response, &pointer)))
    }

    /// The schema of the JSON media type of a request body or response.
    fn json_schema<'d>(&'d self, node: &'d Value, pointer: &str) -> Option<Schema<'d>> {
        let content = node.get("content")?.as_mapping()?;
        let (media, body) = content
            .iter()
            .filter_map(|(media, body)| Some((media.as_str()?, body)))
            .find(|(media, _)| is_json(media))?;
        let schema = body.get("schema")?;
        let pointer = format!("{pointer}/content/{}/schema", token(media));
        Some(self.schema(schema, pointer))
    }
}

/// Whether a media type is JSON (`application/json`, `…+json`).
fn is_json(media: &str) -> bool {
    let essence = media.split(';').next().unwrap_or_default().trim();
    essence == "application/json" || essence.ends_with("+json") || essence == "*/*"
}

impl<'d> Operation<'d> {
    /// `operationId`, when given.
    pub(crate) fn id(&self) -> Option<&'d str> {
        text(self.node, "operationId")
    }

    /// `summary`, else `description`.
    pub(crate) fn description(&self) -> Option<&'d str> {
        text(self.node, "summary").or_else(|| text(self.node, "description"))
    }

    /// `GET /users/{id}`, for messages.
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }

    /// The parameters in `location` (`path`, `query`).
    pub(crate) fn parameters_in(&self, location: &str) -> Vec<&Parameter<'d>> {
        self.parameters
            .iter()
            .filter(|parameter| parameter.location == location)
            .collect()
    }
}

impl<'d> Schema<'d> {
    fn any(node: &'d Value, pointer: String) -> Self {
        Self {
            pointer,
            name: None,
            nullable: false,
            kind: Kind::Any,
            node,
        }
    }

    /// `description`, when given.
    pub(crate) fn description(&self) -> Option<&'d str> {
        text(self.node, "description")
    }

    /// `default`, when given.
    pub(crate) fn default(&self) -> Option<&'d Value> {
        self.node.get("default")
    }

    /// The string values of `enum`, when it has one (`null` left out).
    pub(crate) fn enum_values(&self) -> Option<Vec<&'d str>> {
        let values = self.node.get("enum")?.as_sequence()?;
        Some(values.iter().filter_map(Value::as_str).collect())
    }

    /// The properties of an object schema, from it and from every part of
    /// its `allOf`, in the document's order; empty for other schemas.
    pub(crate) fn properties(&self, doc: &'d Document) -> Vec<Property<'d>> {
        let mut properties = Vec::new();
        if matches!(self.kind, Kind::Object) {
            collect_properties(doc, self.node, &self.pointer, &mut properties, 0);
        }
        properties
    }

    /// Whether the object schema lists its properties (a free-form object,
    /// such as a map, lists none).
    pub(crate) fn has_properties(&self, doc: &'d Document) -> bool {
        !self.properties(doc).is_empty()
    }

    /// What it holds, for messages: `integer`, `array of Order`,
    /// `object Order`.
    pub(crate) fn describe(&self) -> String {
        let mut text = match &self.kind {
            Kind::Object => "object".to_owned(),
            Kind::Array(items) => format!("array of {}", items.describe()),
            Kind::String if self.enum_values().is_some() => "string enum".to_owned(),
            Kind::String => "string".to_owned(),
            Kind::Integer => "integer".to_owned(),
            Kind::Number => "number".to_owned(),
            Kind::Boolean => "boolean".to_owned(),
            Kind::Any => "any value".to_owned(),
        };
        if let (Some(name), false) = (self.name, matches!(self.kind, Kind::Array(_))) {
            let _ = write!(text, " {name}");
        }
        text
    }
}

fn collect_properties<'d>(
    doc: &'d Document,
    node: &'d Value,
    pointer: &str,
    into: &mut Vec<Property<'d>>,
    depth: usize,
) {
    if depth > MAX_REF_CHAIN {
        return;
    }
    let required: Vec<&str> = node
        .get("required")
        .and_then(Value::as_sequence)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(properties) = node.get("properties").and_then(Value::as_mapping) {
        for (name, schema) in properties {
            let Some(name) = name.as_str() else { continue };
            let at = format!("{pointer}/properties/{}", token(name));
            into.retain(|known: &Property<'_>| known.name != name);
            into.push(Property {
                name,
                required: required.contains(&name),
                schema: doc.schema(schema, at),
            });
        }
    }
    for known in into.iter_mut() {
        known.required |= required.contains(&known.name);
    }
    if let Some(parts) = node.get("allOf").and_then(Value::as_sequence) {
        for (index, part) in parts.iter().enumerate() {
            let (part, at) = doc.follow(part, format!("{pointer}/allOf/{index}"));
            collect_properties(doc, part, &at, into, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Document, Diagnostic> {
        Document::parse(Path::new("api.yaml"), "api.yaml", text)
    }

    #[test]
    fn malformed_and_foreign_documents_are_one_clear_problem() {
        let error = parse("openapi: 3.0.0\npaths: [\n").unwrap_err();
        assert!(error.message.starts_with("not YAML or JSON"), "{error}");
        assert!(error.line > 0, "{error}");
        let error = parse("swagger: \"2.0\"\n").unwrap_err();
        assert!(error.message.contains("Swagger 2.0"), "{error}");
        let error = parse("name: x\n").unwrap_err();
        assert!(error.message.contains("no `openapi: 3.x`"), "{error}");
        let error = parse("openapi: 3.0.0\npaths: 3\n").unwrap_err();
        assert!(error.message.contains("`paths`"), "{error}");
    }

    #[test]
    fn refs_nullability_and_all_of_are_followed() {
        let doc = parse(
            r##"openapi: 3.1.0
paths: {}
components:
  schemas:
    Base:
      type: object
      required: [id]
      properties:
        id: {type: string}
    Pet:
      allOf:
        - $ref: "#/components/schemas/Base"
        - type: object
          required: [name]
          properties:
            name: {type: [string, "null"]}
            tag: {anyOf: [{$ref: "#/components/schemas/Base"}, {type: "null"}]}
            missing: {$ref: "#/components/schemas/Nope"}
"##,
        )
        .unwrap();
        let node = serde_norway::from_str::<Value>("$ref: '#/components/schemas/Pet'").unwrap();
        let pet = doc.schema(&node, "#/x".to_owned());
        assert_eq!(pet.name, Some("Pet"));
        let properties = pet.properties(&doc);
        let summary: Vec<(&str, bool, bool, String)> = properties
            .iter()
            .map(|p| (p.name, p.required, p.schema.nullable, p.schema.describe()))
            .collect();
        assert_eq!(
            summary,
            [
                ("id", true, false, "string".to_owned()),
                ("name", true, true, "string".to_owned()),
                ("tag", false, true, "object Base".to_owned()),
                ("missing", false, false, "any value".to_owned()),
            ]
        );
        let warnings = doc.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].message.contains("leads nowhere"),
            "{warnings:?}"
        );
    }
}
