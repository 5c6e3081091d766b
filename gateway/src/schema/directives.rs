//! Reads weft's directives off a field definition into typed specs.
//!
//! | directive | meaning |
//! |---|---|
//! | `@rest(source, get/post/put/patch/delete, body, headers, response)` | call a REST source |
//! | `@grpc(source, method, request, response)` | call a gRPC method |
//! | `@map(from: "a.b")` | read the value at this JSON path of the parent instead of the field's own name |
//! | `@entity(key: "$this.userId")` | the field is the entity with this key, loaded in batches through its type's directive |
//! | `@key(fields: "id")` on a type | the type is an entity; its `@rest`/`@grpc` fetches many by `$batch.<key field>` |
//! | `@deprecated(reason)` | the standard GraphQL deprecation |
//! | `@discriminator(field: "kind", mapping: { user: "User" })` on an interface or union | where a value's object type is named in the backend's JSON (`__typename` by default), and values that name a type otherwise |
//! | `@authenticated` on a field or type | only an authenticated caller may read it |
//! | `@requiresScopes(scopes: [["a", "b"], ["c"]])` on a field or type | the caller needs all scopes of one of the sets |
//!
//! This stage only checks the directives' own shape (known names, required
//! arguments, types of argument values). Whether a source or method exists
//! is checked where the connector is built.

use async_graphql::parser::types::ConstDirective;
use async_graphql::parser::{Pos, Positioned};
use async_graphql::{Name, Value as ConstValue};
use reqwest::Method;

use super::model::Access;

/// A directive argument's value with its position, for diagnostics.
#[derive(Debug, Clone)]
pub struct Arg<T> {
    /// The value.
    pub value: T,
    /// Where it stands.
    pub pos: Pos,
}

/// `@rest(...)`.
#[derive(Debug, Clone)]
pub struct RestSpec {
    /// `source`: the name of a REST source in the config.
    pub source: Arg<String>,
    /// The method, from which of `get`/`post`/`put`/`patch`/`delete` is given.
    pub method: Method,
    /// That argument's value: the path and query template.
    pub target: Arg<String>,
    /// `body`: a value template for the JSON body.
    pub body: Option<Arg<String>>,
    /// `headers`: `"Name: value template"` entries.
    pub headers: Vec<Arg<String>>,
    /// `response`: a dotted path into the JSON answer.
    pub response: Option<Arg<String>>,
    /// `groupBy`: with `$batch`, the key of each answered item that holds the
    /// parent's key.
    pub group_by: Option<Arg<String>>,
}

/// `@grpc(...)`.
#[derive(Debug, Clone)]
pub struct GrpcSpec {
    /// `source`: the name of a gRPC source in the config.
    pub source: Arg<String>,
    /// `method`: `package.Service/Method`.
    pub method: Arg<String>,
    /// `request`: a value template for the request message (default `$args`).
    pub request: Option<Arg<String>>,
    /// `response`: a dotted path into the response message.
    pub response: Option<Arg<String>>,
    /// `groupBy`: as for `@rest`.
    pub group_by: Option<Arg<String>>,
}

/// How a field gets its value from a backend.
#[derive(Debug, Clone)]
pub enum FetchSpec {
    /// From a REST call.
    Rest(RestSpec),
    /// From a gRPC call.
    Grpc(GrpcSpec),
}

/// Everything weft reads from the directives of one field or type.
#[derive(Debug, Clone, Default)]
pub struct Directives {
    /// `@rest` or `@grpc`, with the directive's position.
    pub fetch: Option<(Pos, FetchSpec)>,
    /// `@map(from:)`, split into JSON keys.
    pub map_from: Option<Arg<Vec<String>>>,
    /// `@deprecated`, with its reason if one is given.
    pub deprecated: Option<Option<String>>,
    /// `@entity(key:)` on a field: a value template for the entity's key.
    pub entity_key: Option<Arg<String>>,
    /// `@key(fields:)` on a type: the key field names.
    pub key: Option<Arg<Vec<String>>>,
    /// `@event(topic:, filter:, protobuf:, source:, initial:, version:)` on a
    /// subscription field.
    pub event: Option<EventSpec>,
    /// `@publish(topic:, payload:)` on a mutation field.
    pub publish: Option<EventSpec>,
    /// `@authenticated` and `@requiresScopes`.
    pub access: Access,
    /// `@discriminator` on an interface or union.
    pub discriminator: Option<Discriminator>,
}

/// `@discriminator(field:, mapping:)`.
#[derive(Debug, Clone, Default)]
pub struct Discriminator {
    /// `field`: the dotted path of the text that names the type.
    pub field: Option<Arg<Vec<String>>>,
    /// `mapping`: backend values and the type each names.
    pub mapping: Vec<(String, Arg<String>)>,
}

/// `@event(topic: …, filter: …, protobuf: …, source: …)` or
/// `@publish(topic: …, payload: …)`.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// The topic, a text template (`orders.{$args.orderId}`).
    pub topic: Arg<String>,
    /// `filter` (events) or `payload` (publish): a value template.
    pub value: Option<Arg<String>>,
    /// `protobuf` (events only): the full name of the protobuf message the
    /// event's bytes hold.
    pub protobuf: Option<Arg<String>>,
    /// `source` (events only): the gRPC source whose descriptors define
    /// `protobuf`; without it, the one source that defines it.
    pub source: Option<Arg<String>>,
    /// `initial` (events only): the Query field that fetches the current state.
    pub initial: Option<Arg<String>>,
    /// `version` (events only): the key path compared between the state and
    /// each event.
    pub version: Option<Arg<String>>,
}

const METHODS: [(&str, Method); 5] = [
    ("get", Method::GET),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
];

/// Where a directive stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// On a field definition.
    Field,
    /// On an object type definition.
    Type,
    /// On an interface or union definition.
    Abstract,
}

impl Location {
    fn allows(self, directive: &str) -> bool {
        match self {
            Self::Field => matches!(
                directive,
                "rest"
                    | "grpc"
                    | "map"
                    | "entity"
                    | "event"
                    | "publish"
                    | "deprecated"
                    | "authenticated"
                    | "requiresScopes"
            ),
            Self::Type => matches!(
                directive,
                "rest" | "grpc" | "key" | "authenticated" | "requiresScopes"
            ),
            Self::Abstract => directive == "discriminator",
        }
    }

    fn known(self) -> &'static str {
        match self {
            Self::Field => {
                "@rest, @grpc, @map, @entity, @event, @publish, @deprecated, @authenticated and @requiresScopes"
            }
            Self::Type => "@key with @rest or @grpc, @authenticated and @requiresScopes",
            Self::Abstract => "@discriminator",
        }
    }
}

/// Reads the directives of a field or type; errors carry the position they
/// concern.
pub fn read(
    directives: &[Positioned<ConstDirective>],
    location: Location,
) -> Result<Directives, Vec<(Pos, String)>> {
    let mut read = Directives::default();
    let mut errors = Vec::new();
    for directive in directives {
        let pos = directive.pos;
        let name = directive.node.name.node.as_str();
        if !location.allows(name) {
            let place = match location {
                Location::Field => "a field",
                Location::Type => "a type",
                Location::Abstract => "an interface or union",
            };
            errors.push((
                pos,
                format!(
                    "unknown directive `@{name}` on {place}; weft knows {} here",
                    location.known()
                ),
            ));
            continue;
        }
        let mut args = Args::new(&directive.node);
        match name {
            "rest" | "grpc" => {
                let fetch = if name == "rest" {
                    rest(&mut args).map(FetchSpec::Rest)
                } else {
                    grpc(&mut args).map(FetchSpec::Grpc)
                };
                if read.fetch.is_some() {
                    errors.push((pos, "one of @rest and @grpc, once".to_owned()));
                }
                read.fetch = fetch.map(|fetch| (pos, fetch));
            }
            "map" => read.map_from = args.required_string("from").map(|from| split_path(&from)),
            "entity" => read.entity_key = args.required_string("key"),
            "event" => {
                let (protobuf, source) = (args.string("protobuf"), args.string("source"));
                let (initial, version) = (args.string("initial"), args.string("version"));
                read.event = event_spec(&mut args, "filter").map(|spec| EventSpec {
                    protobuf,
                    source,
                    initial,
                    version,
                    ..spec
                });
            }
            "publish" => read.publish = event_spec(&mut args, "payload"),
            "discriminator" => read.discriminator = Some(args.discriminator()),
            "authenticated" => read.access.authenticated = true,
            "requiresScopes" => {
                if let Some(sets) = args.scope_sets() {
                    read.access.scopes.push(sets);
                }
            }
            "key" => {
                read.key = args.required_string("fields").map(|fields| Arg {
                    value: fields
                        .value
                        .split([' ', ','])
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    pos: fields.pos,
                });
            }
            _ => read.deprecated = Some(args.string("reason").map(|reason| reason.value)),
        }
        args.finish();
        errors.append(&mut args.errors);
    }
    if read.fetch.is_some() && read.entity_key.is_some() {
        errors.push((
            directives[0].pos,
            "@entity replaces @rest/@grpc on a field; use one".to_owned(),
        ));
    }
    if errors.is_empty() {
        Ok(read)
    } else {
        Err(errors)
    }
}

fn event_spec(args: &mut Args<'_>, value: &str) -> Option<EventSpec> {
    let topic = args.required_string("topic");
    let value = args.string(value);
    Some(EventSpec {
        topic: topic?,
        value,
        protobuf: None,
        source: None,
        initial: None,
        version: None,
    })
}

fn split_path(path: &Arg<String>) -> Arg<Vec<String>> {
    Arg {
        value: path.value.split('.').map(str::to_owned).collect(),
        pos: path.pos,
    }
}

fn rest(args: &mut Args<'_>) -> Option<RestSpec> {
    let source = args.required_string("source");
    let mut given: Vec<(Method, Arg<String>)> = METHODS
        .iter()
        .filter_map(|(name, method)| args.string(name).map(|target| (method.clone(), target)))
        .collect();
    let body = args.string("body");
    let headers = args.strings("headers");
    let response = args.string("response");
    let group_by = args.string("groupBy");
    if given.len() != 1 {
        args.errors.push((
            args.pos,
            "@rest needs exactly one of `get`, `post`, `put`, `patch`, `delete` with the path"
                .to_owned(),
        ));
        return None;
    }
    let (method, target) = given.remove(0);
    Some(RestSpec {
        source: source?,
        method,
        target,
        body,
        headers,
        response,
        group_by,
    })
}

fn grpc(args: &mut Args<'_>) -> Option<GrpcSpec> {
    let source = args.required_string("source");
    let method = args.required_string("method");
    let request = args.string("request");
    let response = args.string("response");
    let group_by = args.string("groupBy");
    Some(GrpcSpec {
        source: source?,
        method: method?,
        request,
        response,
        group_by,
    })
}

/// A directive's arguments, consumed one by one so that leftovers can be
/// reported as unknown.
struct Args<'d> {
    directive: &'d str,
    pos: Pos,
    remaining: Vec<&'d (Positioned<Name>, Positioned<ConstValue>)>,
    errors: Vec<(Pos, String)>,
}

impl<'d> Args<'d> {
    fn new(directive: &'d ConstDirective) -> Self {
        Self {
            directive: directive.name.node.as_str(),
            pos: directive.name.pos,
            remaining: directive.arguments.iter().collect(),
            errors: Vec::new(),
        }
    }

    fn take(&mut self, name: &str) -> Option<&'d Positioned<ConstValue>> {
        let index = self
            .remaining
            .iter()
            .position(|(key, _)| key.node == name)?;
        Some(&self.remaining.remove(index).1)
    }

    fn string(&mut self, name: &str) -> Option<Arg<String>> {
        let value = self.take(name)?;
        if let ConstValue::String(text) = &value.node {
            Some(Arg {
                value: text.clone(),
                pos: value.pos,
            })
        } else {
            self.errors.push((
                value.pos,
                format!("`{name}` of @{} takes a string", self.directive),
            ));
            None
        }
    }

    fn required_string(&mut self, name: &str) -> Option<Arg<String>> {
        let found = self.string(name);
        if found.is_none()
            && !self
                .errors
                .iter()
                .any(|(_, message)| message.starts_with(&format!("`{name}`")))
        {
            self.errors
                .push((self.pos, format!("@{} needs `{name}`", self.directive)));
        }
        found
    }

    fn strings(&mut self, name: &str) -> Vec<Arg<String>> {
        let Some(value) = self.take(name) else {
            return Vec::new();
        };
        let items = match &value.node {
            ConstValue::List(items) => items.iter().collect(),
            single => vec![single],
        };
        items
            .into_iter()
            .filter_map(|item| {
                if let ConstValue::String(text) = item {
                    Some(Arg {
                        value: text.clone(),
                        pos: value.pos,
                    })
                } else {
                    self.errors.push((
                        value.pos,
                        format!("`{name}` of @{} takes a list of strings", self.directive),
                    ));
                    None
                }
            })
            .collect()
    }

    /// `scopes: [["a", "b"], ["c"]]`: sets of scopes, at least one.
    fn scope_sets(&mut self) -> Option<Vec<Vec<String>>> {
        let Some(value) = self.take("scopes") else {
            self.errors
                .push((self.pos, "@requiresScopes needs `scopes`".to_owned()));
            return None;
        };
        let sets: Option<Vec<Vec<String>>> = match &value.node {
            ConstValue::List(sets) if !sets.is_empty() => sets
                .iter()
                .map(|set| match set {
                    ConstValue::List(scopes) => scopes
                        .iter()
                        .map(|scope| match scope {
                            ConstValue::String(scope) => Some(scope.clone()),
                            _ => None,
                        })
                        .collect(),
                    _ => None,
                })
                .collect(),
            _ => None,
        };
        if sets.is_none() {
            self.errors.push((
                value.pos,
                "`scopes` of @requiresScopes takes a list of lists of strings, e.g. [[\"read:orders\"]]"
                    .to_owned(),
            ));
        }
        sets
    }

    /// `field: "a.b"` and `mapping: { value: "Type" }`.
    fn discriminator(&mut self) -> Discriminator {
        let field = self.string("field").map(|field| split_path(&field));
        let mut mapping = Vec::new();
        if let Some(given) = self.take("mapping") {
            match &given.node {
                ConstValue::Object(entries) => {
                    for (value, named) in entries {
                        match named {
                            ConstValue::String(ty) => mapping.push((
                                value.to_string(),
                                Arg {
                                    value: ty.clone(),
                                    pos: given.pos,
                                },
                            )),
                            _ => self.errors.push((
                                given.pos,
                                format!("@discriminator(mapping:): `{value}` must map to a type name in quotes"),
                            )),
                        }
                    }
                }
                _ => self.errors.push((
                    given.pos,
                    "@discriminator(mapping:) takes an object: `{ value: \"Type\" }`".to_owned(),
                )),
            }
        }
        Discriminator { field, mapping }
    }

    fn finish(&mut self) {
        for (key, _) in std::mem::take(&mut self.remaining) {
            self.errors.push((
                key.pos,
                format!("@{} has no argument `{}`", self.directive, key.node),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directives_of(sdl: &str) -> Vec<Positioned<ConstDirective>> {
        let document = async_graphql::parser::parse_schema(sdl).unwrap();
        let async_graphql::parser::types::TypeSystemDefinition::Type(ty) = &document.definitions[0]
        else {
            panic!("a type")
        };
        let async_graphql::parser::types::TypeKind::Object(object) = &ty.node.kind else {
            panic!("an object")
        };
        object.fields[0].node.directives.clone()
    }

    fn read_field(
        directives: &[Positioned<ConstDirective>],
    ) -> Result<Directives, Vec<(Pos, String)>> {
        read(directives, Location::Field)
    }

    #[test]
    fn rest_reads_method_path_body_headers_and_response() {
        let read = read_field(&directives_of(
            r#"type Query { x: Int @rest(source: "s", post: "/x", body: "$args", headers: ["a: b"], response: "data") }"#,
        ))
        .unwrap();
        let Some((_, FetchSpec::Rest(rest))) = read.fetch else {
            panic!("a REST fetch")
        };
        assert_eq!(rest.method, Method::POST);
        assert_eq!(rest.target.value, "/x");
        assert_eq!(rest.body.unwrap().value, "$args");
        assert_eq!(rest.headers[0].value, "a: b");
        assert_eq!(rest.response.unwrap().value, "data");
    }

    #[test]
    fn mistakes_are_reported_where_they_stand() {
        let errors = read_field(&directives_of(
            "type Query {\n x: Int @rest(source: 1, get: \"/a\", post: \"/b\", retries: 3) @cache\n}",
        ))
        .unwrap_err();
        let messages: Vec<String> = errors
            .iter()
            .map(|(pos, m)| format!("{}:{m}", pos.line))
            .collect();
        assert!(
            messages.contains(&"2:`source` of @rest takes a string".to_owned()),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.starts_with("2:@rest needs exactly one of")),
            "{messages:?}"
        );
        assert!(
            messages.contains(&"2:@rest has no argument `retries`".to_owned()),
            "{messages:?}"
        );
        assert!(
            messages
                .iter()
                .any(|m| m.contains("unknown directive `@cache`")),
            "{messages:?}"
        );
    }

    #[test]
    fn map_splits_its_path() {
        let read = read_field(&directives_of(r#"type T { x: Int @map(from: "a.b") }"#)).unwrap();
        assert_eq!(
            read.map_from.unwrap().value,
            vec!["a".to_owned(), "b".to_owned()]
        );
    }
}
