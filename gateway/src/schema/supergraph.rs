//! A supergraph SDL (as rover, wgc, Hive or mesh-compose print it, with
//! `join__` directives) split into one Apollo Federation v2 SDL per
//! subgraph, so that [`super::federation::compose`] composes it exactly
//! like the SDL of `[sources.<name>] kind = "graphql"` sources.
//!
//! How the `join__` directives are read:
//!
//! - `enum join__Graph`: each value is a subgraph; `@join__graph(name:,
//!   url:)` gives its name (the source's name in weft) and its URL.
//! - `@join__type(graph:, key:, resolvable:, extension:)` on a type: the
//!   subgraphs that define it, each key becoming `@key(fields:)` (with
//!   `resolvable: false` when so) in that subgraph. A type without
//!   `@join__type` belongs to every subgraph.
//! - `@join__field(graph:, external:, requires:, provides:, override:,
//!   type:, usedOverridden:)` on a field: the subgraphs that define it, with
//!   `@external`, `@requires`, `@provides` and `@override` as written, and
//!   the subgraph's own type of the field when `type:` gives one. A field
//!   without `@join__field` belongs to every subgraph of its type; a
//!   `@join__field` without `graph:` to none. A subgraph a field is
//!   overridden from, or that only keeps it for its own use
//!   (`usedOverridden: true`), does not define it. A field (or key field)
//!   several subgraphs define is `@shareable` in each.
//! - `@join__enumValue(graph:)` on an enum value: the subgraphs that have
//!   it; a value without it is in every subgraph of its enum.
//! - `@join__implements(graph:, interface:)` on an object or interface: the
//!   interfaces it implements in that subgraph (without any, those it
//!   declares, in each of its subgraphs).
//! - `@join__unionMember(graph:, member:)` on a union: its members in that
//!   subgraph (without any, all of them).
//! - An interface is an interface in each subgraph of its `@join__type`s,
//!   with its keys, except in one marked `isInterfaceObject: true`, where
//!   it is an object type with `@interfaceObject`.
//! - A Federation 1 supergraph (join v0.1, `@join__owner`) is refused.
//! - `@link`, `@tag` and the `join__`/`link__` types are machinery and are
//!   left out; `@inaccessible` (on types and fields) and `@deprecated` are
//!   kept.
//!
//! An entity (a type with a resolvable key) is owned by one subgraph: one
//! that does not merely extend it (`extension: true`), then the one that
//! defines the most fields other subgraphs mark `@external`, then the one
//! that defines the most fields, then the first. The other subgraphs add
//! their fields to it through `_entities`, as with per-source SDL.
//!
//! Each subgraph yields one SDL text, its entities owned elsewhere written
//! as `extend type`, so that composition takes an owner before the
//! subgraphs that extend its entities (subgraphs that extend each other's
//! entities are taken in the order of `join__Graph`, as per-source SDL in
//! config order). Every definition of the split SDL stands on the line it
//! has in the supergraph file, so a composition problem names the
//! supergraph file and the line of the type or field.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;

use async_graphql::Pos;
use async_graphql::Value;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    ConstDirective, EnumValueDefinition, FieldDefinition, InputValueDefinition, ServiceDocument,
    TypeDefinition, TypeKind, TypeSystemDefinition,
};

use super::document::Roots;
use super::federation::{Subgraph, key_fields, string_argument};
use crate::error::{Diagnostic, Diagnostics};

/// One subgraph a supergraph names: a value of its `join__Graph` enum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    /// `@join__graph(name:)`: the subgraph's name, and its source's name.
    pub name: String,
    /// The `join__Graph` value (`REVIEWS`) that `join__` directives name.
    pub value: String,
    /// `@join__graph(url:)`; `None` when absent or empty.
    pub url: Option<String>,
    /// The 1-based line of the value in the supergraph file.
    pub line: usize,
}

impl Graph {
    /// Whether `key` names this subgraph: its name, or its `join__Graph`
    /// value in any case (`reviews` for `REVIEWS`).
    pub fn named(&self, key: &str) -> bool {
        self.name == key || self.value.eq_ignore_ascii_case(key)
    }
}

/// A supergraph split into its subgraphs.
#[derive(Debug, Clone)]
pub struct Split {
    /// The subgraphs, in the order of the `join__Graph` enum.
    pub graphs: Vec<Graph>,
    /// The SDL of each subgraph that defines anything, in the order of
    /// `graphs`; each names its subgraph as `source` and the supergraph
    /// file as `path`.
    pub subgraphs: Vec<Subgraph>,
    /// The root types a `schema { … }` block names, when it names any.
    pub roots: Option<Roots>,
}

/// Splits the supergraph `text`, read from `path`. Every problem (a syntax
/// error, no `join__Graph`, an unknown graph in a directive, an interface
/// or union) is reported at its line of `path`.
pub fn split(path: &Path, text: &str) -> Result<Split, Diagnostics> {
    let document = async_graphql::parser::parse_schema(text).map_err(|error| {
        let pos = error
            .positions()
            .next()
            .unwrap_or(Pos { line: 0, column: 0 });
        Diagnostic::at(
            path,
            pos.line,
            pos.column,
            format!("supergraph: syntax error: {error}"),
        )
    })?;
    let mut reader = Reader {
        path,
        graphs: Vec::new(),
        problems: Diagnostics::default(),
    };
    reader.read_graphs(&document);
    if reader.graphs.is_empty() {
        reader.problems.push(Diagnostic::at(
            path,
            1,
            1,
            "not a supergraph: it has no `enum join__Graph` with `@join__graph(name:, url:)` values",
        ));
        return Err(reader.problems);
    }
    let roots = roots(&document);
    let mut parts = vec![Placed::default(); reader.graphs.len()];
    for definition in &document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition {
            reader.ty(ty, &roots, &mut parts);
        }
    }
    let Reader {
        graphs, problems, ..
    } = reader;
    problems.in_file_order().into_result(())?;
    let subgraphs = graphs
        .iter()
        .zip(&parts)
        .filter_map(|(graph, part)| part.subgraph(graph, path))
        .collect();
    Ok(Split {
        graphs,
        subgraphs,
        roots: schema_roots(&document),
    })
}

/// The names of the root types: `Query`, `Mutation`, `Subscription`, or
/// those a `schema { … }` block gives.
fn roots(document: &ServiceDocument) -> HashSet<String> {
    let mut roots: HashSet<String> = ["Query", "Mutation", "Subscription"]
        .map(str::to_owned)
        .into();
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            let named = [
                &schema.node.query,
                &schema.node.mutation,
                &schema.node.subscription,
            ];
            roots.extend(
                named
                    .into_iter()
                    .flatten()
                    .map(|name| name.node.to_string()),
            );
        }
    }
    roots
}

/// The root types of a `schema { … }` block (each missing one by its
/// default name); `None` without a block naming a root.
fn schema_roots(document: &ServiceDocument) -> Option<Roots> {
    document
        .definitions
        .iter()
        .find_map(|definition| match definition {
            TypeSystemDefinition::Schema(schema) => Some(Roots::of(&schema.node)),
            _ => None,
        })
}

/// SDL placed at lines of the supergraph file.
#[derive(Debug, Clone, Default)]
struct Placed(Vec<(usize, String)>);

impl Placed {
    fn push(&mut self, line: usize, text: String) {
        self.0.push((line, text));
    }

    /// The SDL with each piece on its line (pieces on one line separated
    /// by a space); `None` when there is none.
    fn subgraph(&self, graph: &Graph, path: &Path) -> Option<Subgraph> {
        if self.0.is_empty() {
            return None;
        }
        let mut text = String::new();
        let mut line = 1;
        for (at, piece) in &self.0 {
            if line < *at {
                while line < *at {
                    text.push('\n');
                    line += 1;
                }
            } else if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(piece);
        }
        text.push('\n');
        Some(Subgraph {
            source: graph.name.clone(),
            path: path.to_path_buf(),
            text,
        })
    }
}

/// What `@join__type` says about a type in one subgraph.
#[derive(Debug, Clone, Default)]
struct TypeIn {
    /// Each key: its fields and whether it is resolvable.
    keys: Vec<(String, bool)>,
    /// `extension: true` on one of its `@join__type`s.
    extension: bool,
    /// `isInterfaceObject: true`: the interface is an object type there.
    interface_object: bool,
}

/// What `@join__field` says about a field in one subgraph.
#[derive(Debug, Clone, Default)]
struct FieldIn {
    graph: usize,
    external: bool,
    requires: Option<String>,
    provides: Option<String>,
    override_from: Option<String>,
    ty: Option<String>,
    used_overridden: bool,
}

struct Reader<'p> {
    path: &'p Path,
    graphs: Vec<Graph>,
    problems: Diagnostics,
}

impl Reader<'_> {
    fn error(&mut self, pos: Pos, message: String) {
        self.problems.push(Diagnostic::at(
            self.path,
            pos.line,
            pos.column,
            format!("supergraph: {message}"),
        ));
    }

    /// The values of `enum join__Graph`.
    fn read_graphs(&mut self, document: &ServiceDocument) {
        let values = document.definitions.iter().find_map(|definition| {
            let TypeSystemDefinition::Type(ty) = definition else {
                return None;
            };
            match &ty.node.kind {
                TypeKind::Enum(values) if ty.node.name.node == "join__Graph" => {
                    Some(&values.values)
                }
                _ => None,
            }
        });
        for value in values.into_iter().flatten() {
            let name_of = value.node.value.node.to_string();
            let Some(directive) = find(&value.node.directives, "join__graph") else {
                let message = format!("`join__Graph.{name_of}` has no `@join__graph(name:, url:)`");
                self.error(value.pos, message);
                continue;
            };
            let Some(name) = string_argument(directive, "name") else {
                let message = format!("`join__Graph.{name_of}`: `@join__graph` has no `name`");
                self.error(value.pos, message);
                continue;
            };
            if self.graphs.iter().any(|graph| graph.name == name) {
                let message = format!("`join__Graph.{name_of}`: a second subgraph named `{name}`");
                self.error(value.pos, message);
                continue;
            }
            let url = string_argument(directive, "url").filter(|url| !url.trim().is_empty());
            self.graphs.push(Graph {
                name,
                value: name_of,
                url,
                line: value.pos.line,
            });
        }
    }

    /// The index of the graph a directive's `graph:` argument names; an
    /// unknown one is reported at the directive.
    fn graph_argument(&mut self, directive: &Positioned<ConstDirective>) -> Option<usize> {
        let value = directive.node.get_argument("graph")?;
        let named = match &value.node {
            Value::Enum(name) => name.to_string(),
            Value::String(name) => name.clone(),
            other => other.to_string(),
        };
        let found = self.graphs.iter().position(|graph| graph.value == named);
        if found.is_none() {
            let known: Vec<&str> = self.graphs.iter().map(|g| g.value.as_str()).collect();
            let message = format!(
                "`@{}(graph: {named})`: `{named}` is not a value of `join__Graph` ({})",
                directive.node.name.node,
                known.join(", ")
            );
            self.error(directive.pos, message);
        }
        found
    }

    /// The graph of a subgraph name (`override: "products"`).
    fn graph_named(&self, name: &str) -> Option<usize> {
        self.graphs.iter().position(|graph| graph.named(name))
    }

    /// The subgraphs of a type, by graph index, from its `@join__type`s
    /// (every subgraph when it has none).
    fn type_graphs(&mut self, ty: &Positioned<TypeDefinition>) -> Vec<(usize, TypeIn)> {
        let mut graphs: Vec<(usize, TypeIn)> = Vec::new();
        let mut any = false;
        for directive in &ty.node.directives {
            if directive.node.name.node != "join__type" {
                continue;
            }
            any = true;
            let Some(graph) = self.graph_argument(directive) else {
                continue;
            };
            let index = graphs
                .iter()
                .position(|(one, _)| *one == graph)
                .unwrap_or_else(|| {
                    graphs.push((graph, TypeIn::default()));
                    graphs.len() - 1
                });
            let entry = &mut graphs[index].1;
            if let Some(key) = string_argument(&directive.node, "key") {
                let resolvable = !matches!(
                    directive.node.get_argument("resolvable").map(|v| &v.node),
                    Some(Value::Boolean(false))
                );
                entry.keys.push((key, resolvable));
            }
            entry.extension |= bool_argument(&directive.node, "extension");
            entry.interface_object |= bool_argument(&directive.node, "isInterfaceObject");
        }
        if !any {
            graphs = (0..self.graphs.len())
                .map(|graph| (graph, TypeIn::default()))
                .collect();
        }
        graphs.sort_by_key(|(graph, _)| *graph);
        graphs
    }

    /// The subgraphs that define a field (or input field) of a type in
    /// `graphs`.
    fn field_graphs(
        &mut self,
        directives: &[Positioned<ConstDirective>],
        graphs: &[(usize, TypeIn)],
    ) -> Vec<FieldIn> {
        let joins: Vec<&Positioned<ConstDirective>> = directives
            .iter()
            .filter(|d| d.node.name.node == "join__field")
            .collect();
        if joins.is_empty() {
            return graphs
                .iter()
                .map(|(graph, _)| FieldIn {
                    graph: *graph,
                    ..FieldIn::default()
                })
                .collect();
        }
        let mut fields: Vec<FieldIn> = Vec::new();
        for directive in joins {
            let Some(graph) = self.graph_argument(directive) else {
                continue;
            };
            let node = &directive.node;
            fields.push(FieldIn {
                graph,
                external: bool_argument(node, "external"),
                requires: string_argument(node, "requires"),
                provides: string_argument(node, "provides"),
                override_from: string_argument(node, "override"),
                ty: string_argument(node, "type"),
                used_overridden: bool_argument(node, "usedOverridden"),
            });
        }
        let overridden: Vec<usize> = fields
            .iter()
            .filter_map(|field| field.override_from.as_deref())
            .filter_map(|name| self.graph_named(name))
            .collect();
        fields.retain(|field| {
            !field.used_overridden
                && (field.override_from.is_some() || !overridden.contains(&field.graph))
                && graphs.iter().any(|(graph, _)| *graph == field.graph)
        });
        fields
    }

    fn ty(
        &mut self,
        ty: &Positioned<TypeDefinition>,
        roots: &HashSet<String>,
        parts: &mut [Placed],
    ) {
        let name = ty.node.name.node.as_str();
        if name.starts_with("join__") || name.starts_with("link__") {
            return;
        }
        if let Some(owner) = ty
            .node
            .directives
            .iter()
            .find(|directive| directive.node.name.node == "join__owner")
        {
            let message = format!(
                "`{name}`: `@join__owner` is Federation 1 (join v0.1), which is not supported; \
                 compose the supergraph with Federation 2"
            );
            self.error(owner.pos, message);
            return;
        }
        let graphs = self.type_graphs(ty);
        let description = described(ty.node.description.as_ref());
        match &ty.node.kind {
            TypeKind::Object(object) => {
                let is_root = roots.contains(name);
                let kind = if is_root {
                    Composite::Root
                } else {
                    Composite::Object
                };
                self.composite(ty, kind, &object.fields, &graphs, parts);
            }
            TypeKind::Interface(interface) => {
                self.composite(ty, Composite::Interface, &interface.fields, &graphs, parts);
            }
            TypeKind::Union(union) => self.union(ty, &union.members, &graphs, parts),
            TypeKind::InputObject(input) => {
                for (graph, _) in &graphs {
                    let mut placed = Vec::new();
                    for field in &input.fields {
                        let fields = self.field_graphs(&field.node.directives, &graphs);
                        if let Some(one) = fields.iter().find(|one| one.graph == *graph) {
                            let ty = one.ty.clone();
                            placed.push((field.pos.line, input_value(&field.node, ty)));
                        }
                    }
                    let header = format!(
                        "{description}input {name}{} {{",
                        hidden(&ty.node.directives)
                    );
                    close(&mut parts[*graph], ty.pos.line, header, placed);
                }
            }
            TypeKind::Enum(values) => {
                for (graph, _) in &graphs {
                    let placed = values
                        .values
                        .iter()
                        .filter(|value| self.enum_value_in(value, *graph))
                        .map(|value| (value.pos.line, enum_value(&value.node)))
                        .collect();
                    let header =
                        format!("{description}enum {name}{} {{", hidden(&ty.node.directives));
                    close(&mut parts[*graph], ty.pos.line, header, placed);
                }
            }
            TypeKind::Scalar => {
                for (graph, _) in &graphs {
                    let text = format!("{description}scalar {name}{}", hidden(&ty.node.directives));
                    parts[*graph].push(ty.pos.line, text);
                }
            }
        }
    }

    /// A union in each of its subgraphs, with the members
    /// `@join__unionMember` gives that subgraph.
    fn union(
        &mut self,
        ty: &Positioned<TypeDefinition>,
        members: &[Positioned<async_graphql::Name>],
        graphs: &[(usize, TypeIn)],
        parts: &mut [Placed],
    ) {
        let name = ty.node.name.node.as_str();
        let joined = self.joined(&ty.node.directives, "join__unionMember", "member");
        for (graph, _) in graphs {
            let in_graph: Vec<String> = match &joined {
                Some(joined) => joined
                    .iter()
                    .filter(|(one, _)| one == graph)
                    .map(|(_, member)| member.clone())
                    .collect(),
                None => members
                    .iter()
                    .map(|member| member.node.to_string())
                    .collect(),
            };
            if in_graph.is_empty() {
                continue;
            }
            let description = described(ty.node.description.as_ref());
            let text = format!(
                "{description}union {name}{} = {}",
                hidden(&ty.node.directives),
                in_graph.join(" | ")
            );
            parts[*graph].push(ty.pos.line, text);
        }
    }

    /// The `(graph, value of argument)` of each `directive` among
    /// `directives`; `None` when there is none.
    fn joined(
        &mut self,
        directives: &[Positioned<ConstDirective>],
        directive: &str,
        argument: &str,
    ) -> Option<Vec<(usize, String)>> {
        let found: Vec<&Positioned<ConstDirective>> = directives
            .iter()
            .filter(|d| d.node.name.node == directive)
            .collect();
        if found.is_empty() {
            return None;
        }
        Some(
            found
                .into_iter()
                .filter_map(|d| {
                    let graph = self.graph_argument(d)?;
                    Some((graph, string_argument(&d.node, argument)?))
                })
                .collect(),
        )
    }

    /// The interfaces a type implements in `graph`.
    fn implements_in(
        joined: Option<&Vec<(usize, String)>>,
        declared: &[Positioned<async_graphql::Name>],
        graph: usize,
    ) -> Vec<String> {
        match joined {
            Some(joined) => joined
                .iter()
                .filter(|(one, _)| *one == graph)
                .map(|(_, interface)| interface.clone())
                .collect(),
            None => declared.iter().map(|name| name.node.to_string()).collect(),
        }
    }

    /// Whether an enum value is in `graph`: it has no
    /// `@join__enumValue`, or one names the graph.
    fn enum_value_in(&mut self, value: &Positioned<EnumValueDefinition>, graph: usize) -> bool {
        let joins: Vec<&Positioned<ConstDirective>> = value
            .node
            .directives
            .iter()
            .filter(|d| d.node.name.node == "join__enumValue")
            .collect();
        joins.is_empty()
            || joins
                .into_iter()
                .any(|directive| self.graph_argument(directive) == Some(graph))
    }

    /// An object type or interface in each of its subgraphs.
    fn composite(
        &mut self,
        ty: &Positioned<TypeDefinition>,
        kind: Composite,
        fields: &[Positioned<FieldDefinition>],
        graphs: &[(usize, TypeIn)],
        parts: &mut [Placed],
    ) {
        let name = ty.node.name.node.as_str();
        let declared = match &ty.node.kind {
            TypeKind::Object(object) => object.implements.as_slice(),
            TypeKind::Interface(interface) => interface.implements.as_slice(),
            _ => &[],
        };
        let joined = self.joined(&ty.node.directives, "join__implements", "interface");
        let key_fields: HashSet<String> = graphs
            .iter()
            .flat_map(|(_, type_in)| &type_in.keys)
            .flat_map(|(key, _)| key_fields(key))
            .collect();
        let members: Vec<(&Positioned<FieldDefinition>, Vec<FieldIn>)> = fields
            .iter()
            .map(|field| (field, self.field_graphs(&field.node.directives, graphs)))
            .collect();
        let owner = (kind == Composite::Object)
            .then(|| owner(graphs, &members))
            .flatten();
        for (graph, type_in) in graphs {
            let mut placed = Vec::new();
            for (field, defined) in &members {
                let Some(one) = defined.iter().find(|one| one.graph == *graph) else {
                    continue;
                };
                let field_name = field.node.name.node.as_str();
                let resolvers = defined.iter().filter(|other| !other.external).count();
                let shareable = !one.external && (resolvers > 1 || key_fields.contains(field_name));
                placed.push((field.pos.line, field_text(&field.node, one, shareable)));
            }
            let extends = owner.is_some_and(|owner| owner != *graph);
            let mut header = String::new();
            if extends {
                header.push_str("extend ");
            } else {
                header.push_str(&described(ty.node.description.as_ref()));
            }
            let interface = kind == Composite::Interface && !type_in.interface_object;
            let _ = write!(
                header,
                "{} {name}",
                if interface { "interface" } else { "type" }
            );
            let implements = Self::implements_in(joined.as_ref(), declared, *graph);
            if !implements.is_empty() && !type_in.interface_object {
                let _ = write!(header, " implements {}", implements.join(" & "));
            }
            for (key, resolvable) in &type_in.keys {
                let _ = write!(header, " @key(fields: {}", quoted(key));
                header.push_str(if *resolvable {
                    ")"
                } else {
                    ", resolvable: false)"
                });
            }
            if type_in.interface_object {
                header.push_str(" @interfaceObject");
            }
            header.push_str(hidden(&ty.node.directives));
            header.push_str(" {");
            close(&mut parts[*graph], ty.pos.line, header, placed);
        }
    }
}

/// What a type with fields is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Composite {
    /// A root operation type.
    Root,
    /// An object type.
    Object,
    /// An interface.
    Interface,
}

/// The subgraph that owns an entity (see the module documentation);
/// `None` for a type without a resolvable key.
fn owner(
    graphs: &[(usize, TypeIn)],
    members: &[(&Positioned<FieldDefinition>, Vec<FieldIn>)],
) -> Option<usize> {
    let candidates = graphs
        .iter()
        .filter(|(_, type_in)| type_in.keys.iter().any(|(_, resolvable)| *resolvable));
    let score = |graph: usize, type_in: &TypeIn| {
        let defines = |defined: &Vec<FieldIn>| {
            defined
                .iter()
                .any(|one| one.graph == graph && !one.external)
        };
        let externals_met = members
            .iter()
            .filter(|(_, defined)| defines(defined) && defined.iter().any(|one| one.external))
            .count();
        let defined = members
            .iter()
            .filter(|(_, defined)| defines(defined))
            .count();
        (!type_in.extension, externals_met, defined)
    };
    let mut best: Option<(usize, (bool, usize, usize))> = None;
    for (graph, type_in) in candidates {
        let scored = score(*graph, type_in);
        if best.is_none_or(|(_, top)| scored > top) {
            best = Some((*graph, scored));
        }
    }
    best.map(|(graph, _)| graph)
}

/// Adds a type to `part`: its header at `line`, each member at its line,
/// and `}` after the last; a type without members is left out.
fn close(part: &mut Placed, line: usize, header: String, members: Vec<(usize, String)>) {
    if members.is_empty() {
        return;
    }
    part.push(line, header);
    let last = members.len() - 1;
    for (index, (at, mut text)) in members.into_iter().enumerate() {
        if index == last {
            text.push_str(" }");
        }
        part.push(at, text);
    }
}

/// A field of an object in one subgraph, on one line.
fn field_text(field: &FieldDefinition, one: &FieldIn, shareable: bool) -> String {
    let mut text = described(field.description.as_ref());
    text.push_str(&field.name.node);
    if !field.arguments.is_empty() {
        let arguments: Vec<String> = field
            .arguments
            .iter()
            .map(|argument| input_value(&argument.node, None))
            .collect();
        let _ = write!(text, "({})", arguments.join(", "));
    }
    let ty = one.ty.clone().unwrap_or_else(|| field.ty.node.to_string());
    let _ = write!(text, ": {ty}");
    if one.external {
        text.push_str(" @external");
    }
    if let Some(requires) = &one.requires {
        let _ = write!(text, " @requires(fields: {})", quoted(requires));
    }
    if let Some(provides) = &one.provides {
        let _ = write!(text, " @provides(fields: {})", quoted(provides));
    }
    if let Some(from) = &one.override_from {
        let _ = write!(text, " @override(from: {})", quoted(from));
    }
    if shareable {
        text.push_str(" @shareable");
    }
    text.push_str(&kept(&field.directives));
    text
}

/// An argument or input field, on one line; `ty` replaces its type.
fn input_value(value: &InputValueDefinition, ty: Option<String>) -> String {
    let mut text = described(value.description.as_ref());
    let ty = ty.unwrap_or_else(|| value.ty.node.to_string());
    let _ = write!(text, "{}: {ty}", value.name.node);
    if let Some(default) = &value.default_value {
        let _ = write!(text, " = {}", default.node);
    }
    text.push_str(&kept(&value.directives));
    text
}

fn enum_value(value: &EnumValueDefinition) -> String {
    let mut text = described(value.description.as_ref());
    text.push_str(&value.value.node);
    text.push_str(&kept(&value.directives));
    text
}

/// The directives the split SDL keeps (`@deprecated`, `@inaccessible`),
/// each preceded by a space.
fn kept(directives: &[Positioned<ConstDirective>]) -> String {
    let mut text = String::new();
    for directive in directives {
        let name = directive.node.name.node.as_str();
        if name != "deprecated" && name != "inaccessible" {
            continue;
        }
        let _ = write!(text, " @{name}");
        if !directive.node.arguments.is_empty() {
            let arguments: Vec<String> = directive
                .node
                .arguments
                .iter()
                .map(|(name, value)| format!("{}: {}", name.node, value.node))
                .collect();
            let _ = write!(text, "({})", arguments.join(", "));
        }
    }
    text
}

/// ` @inaccessible` when a type is marked so; empty otherwise.
fn hidden(directives: &[Positioned<ConstDirective>]) -> &'static str {
    if find(directives, "inaccessible").is_some() {
        " @inaccessible"
    } else {
        ""
    }
}

/// A description as a one-line string followed by a space; empty without
/// one.
fn described(description: Option<&Positioned<String>>) -> String {
    description.map_or_else(String::new, |d| format!("{} ", quoted(&d.node)))
}

/// `text` as a GraphQL string literal.
fn quoted(text: &str) -> String {
    Value::String(text.to_owned()).to_string()
}

fn find<'d>(
    directives: &'d [Positioned<ConstDirective>],
    name: &str,
) -> Option<&'d ConstDirective> {
    directives
        .iter()
        .map(|directive| &directive.node)
        .find(|directive| directive.name.node == name)
}

fn bool_argument(directive: &ConstDirective, name: &str) -> bool {
    matches!(
        directive.get_argument(name).map(|value| &value.node),
        Some(Value::Boolean(true))
    )
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::schema::document::Document;
    use crate::schema::federation::{self, Origin};

    const HEADER: &str = r#"schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
{
  query: Query
}

directive @join__field(graph: join__Graph, requires: join__FieldSet, provides: join__FieldSet, type: String, external: Boolean, override: String, usedOverridden: Boolean) repeatable on FIELD_DEFINITION | INPUT_FIELD_DEFINITION

directive @join__graph(name: String!, url: String!) on ENUM_VALUE

directive @join__type(graph: join__Graph!, key: join__FieldSet, extension: Boolean! = false, resolvable: Boolean! = true, isInterfaceObject: Boolean! = false) repeatable on OBJECT | INTERFACE | UNION | ENUM | INPUT_OBJECT | SCALAR

scalar join__FieldSet

enum join__Graph {
  INVENTORY @join__graph(name: "inventory", url: "http://inventory:4002/graphql")
  PRODUCTS @join__graph(name: "products", url: "http://products:4003/graphql")
}
"#;

    const TYPES: &str = r#"
"""A product."""
type Product
  @join__type(graph: INVENTORY, key: "upc", extension: true)
  @join__type(graph: PRODUCTS, key: "upc")
{
  upc: String!
  price: Int @join__field(graph: INVENTORY, external: true) @join__field(graph: PRODUCTS)
  estimate(zone: String = "EU"): Int @join__field(graph: INVENTORY, requires: "price")
  name: String @join__field(graph: PRODUCTS) @tag(name: "public")
  label: String @join__field(graph: INVENTORY) @join__field(graph: PRODUCTS)
}

type Query
  @join__type(graph: INVENTORY)
  @join__type(graph: PRODUCTS)
{
  top: [Product] @join__field(graph: PRODUCTS)
}
"#;

    fn path() -> PathBuf {
        PathBuf::from("supergraph.graphql")
    }

    fn split_text(text: &str) -> Result<Split, String> {
        split(&path(), text).map_err(|problems| problems.to_string())
    }

    /// The text of `source`'s `n`th part.
    fn part<'s>(split: &'s Split, source: &str, n: usize) -> &'s str {
        split
            .subgraphs
            .iter()
            .filter(|subgraph| subgraph.source == source)
            .nth(n)
            .map(|subgraph| subgraph.text.as_str())
            .unwrap()
    }

    /// The 1-based line of the first line of `text` containing `needle`.
    fn line_of(text: &str, needle: &str) -> usize {
        text.lines().position(|line| line.contains(needle)).unwrap() + 1
    }

    #[test]
    fn the_graphs_are_the_join_graph_values() {
        let split = split_text(&format!("{HEADER}{TYPES}")).unwrap();
        let graphs: Vec<(&str, &str, Option<&str>)> = split
            .graphs
            .iter()
            .map(|g| (g.name.as_str(), g.value.as_str(), g.url.as_deref()))
            .collect();
        assert_eq!(
            graphs,
            [
                (
                    "inventory",
                    "INVENTORY",
                    Some("http://inventory:4002/graphql")
                ),
                ("products", "PRODUCTS", Some("http://products:4003/graphql")),
            ]
        );
        assert_eq!(
            split.graphs[0].line,
            line_of(HEADER, "INVENTORY @join__graph")
        );
    }

    #[test]
    fn each_graph_gets_its_fields_with_federation_directives_on_their_lines() {
        let text = format!("{HEADER}{TYPES}");
        let split = split_text(&text).unwrap();
        let sources: Vec<&str> = split.subgraphs.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(sources, ["inventory", "products"]);
        let products = part(&split, "products", 0);
        assert!(
            products.contains(r#""A product." type Product @key(fields: "upc") {"#),
            "{products}"
        );
        assert!(products.contains("upc: String! @shareable"), "{products}");
        assert!(
            products.contains("price: Int\n"),
            "only products resolves it: {products}"
        );
        assert!(products.contains("name: String\n"), "{products}");
        assert!(
            products.contains("label: String @shareable }"),
            "{products}"
        );
        assert!(products.contains("top: [Product] }"), "{products}");
        assert!(!products.contains("estimate"), "{products}");
        let inventory = part(&split, "inventory", 0);
        assert!(
            inventory.contains(r#"extend type Product @key(fields: "upc") {"#),
            "{inventory}"
        );
        assert!(inventory.contains("price: Int @external"), "{inventory}");
        assert!(
            inventory.contains(r#"estimate(zone: String = "EU"): Int @requires(fields: "price")"#),
            "{inventory}"
        );
        assert!(!inventory.contains("name"), "{inventory}");
        assert!(
            !inventory.contains("Query"),
            "an empty root is left out: {inventory}"
        );
        for (in_split, sdl, in_supergraph) in [
            ("type Product", products, "\"\"\"A product"),
            ("estimate(", inventory, "estimate("),
            ("name: String", products, "name: String @join__field"),
            ("top: [Product]", products, "top: [Product]"),
        ] {
            assert_eq!(
                line_of(sdl, in_split),
                line_of(&text, in_supergraph),
                "{in_split}"
            );
        }
        for subgraph in &split.subgraphs {
            assert!(!subgraph.text.contains("join__"), "{}", subgraph.text);
            assert!(!subgraph.text.contains("@tag"), "{}", subgraph.text);
            assert_eq!(subgraph.path, path());
        }
    }

    #[test]
    fn the_split_composes_like_per_source_sdl() {
        let split = split_text(&format!("{HEADER}{TYPES}")).unwrap();
        let mut doc = Document::parse(&[]).unwrap();
        federation::compose(&mut doc, &split.subgraphs).unwrap();
        assert_eq!(
            doc.owned_entities.get("Product"),
            Some(&("products".to_owned(), vec!["upc".to_owned()]))
        );
        let pair = |field: &str| ("Product".to_owned(), field.to_owned());
        assert_eq!(
            doc.federated.get(&pair("estimate")),
            Some(&Origin::Entity {
                source: "inventory".to_owned(),
                key: vec!["upc".to_owned()],
                represented_as: None,
            })
        );
        assert_eq!(
            doc.requires.get(&pair("estimate")).map(String::as_str),
            Some("price")
        );
        assert_eq!(
            doc.federated.get(&("Query".to_owned(), "top".to_owned())),
            Some(&Origin::Root {
                source: "products".to_owned()
            })
        );
        assert_eq!(
            doc.federated.get(&pair("label")),
            None,
            "the owner answers it"
        );
    }

    #[test]
    fn a_field_without_join_field_is_in_every_graph_of_its_type() {
        let types = "
type Money @join__type(graph: INVENTORY) @join__type(graph: PRODUCTS) { amount: Int currency: String }
type Query @join__type(graph: PRODUCTS) { cost: Money }
";
        let split = split_text(&format!("{HEADER}{types}")).unwrap();
        for source in ["inventory", "products"] {
            let sdl = part(&split, source, 0);
            assert!(
                sdl.contains("type Money { amount: Int @shareable currency: String @shareable }"),
                "{sdl}"
            );
        }
    }

    #[test]
    fn overridden_fields_leave_the_graph_they_came_from() {
        let types = r#"
type Product @join__type(graph: INVENTORY, key: "upc") @join__type(graph: PRODUCTS, key: "upc") {
  upc: String!
  stock: Int @join__field(graph: INVENTORY, override: "products")
  old: Int @join__field(graph: INVENTORY, override: "products") @join__field(graph: PRODUCTS, usedOverridden: true)
}
"#;
        let split = split_text(&format!("{HEADER}{types}")).unwrap();
        let all: String = split.subgraphs.iter().map(|s| s.text.as_str()).collect();
        assert!(
            all.contains(r#"stock: Int @override(from: "products")"#),
            "{all}"
        );
        assert!(
            all.contains(r#"old: Int @override(from: "products")"#),
            "{all}"
        );
        assert_eq!(all.matches("old:").count(), 1, "{all}");
    }

    #[test]
    fn enum_values_and_input_fields_follow_their_graphs() {
        let types = "
enum Color @join__type(graph: INVENTORY) @join__type(graph: PRODUCTS) {
  RED @join__enumValue(graph: INVENTORY) @join__enumValue(graph: PRODUCTS)
  BLUE @join__enumValue(graph: PRODUCTS)
}
input Filter @join__type(graph: PRODUCTS) { color: Color first: Int = 5 }
scalar Date @join__type(graph: INVENTORY)
";
        let split = split_text(&format!("{HEADER}{types}")).unwrap();
        let inventory = part(&split, "inventory", 0);
        let products = part(&split, "products", 0);
        assert!(inventory.contains("enum Color {\nRED }"), "{inventory}");
        assert!(products.contains("enum Color {\nRED\nBLUE }"), "{products}");
        assert!(
            products.contains("input Filter { color: Color first: Int = 5 }"),
            "{products}"
        );
        assert!(inventory.contains("scalar Date"), "{inventory}");
        assert!(!products.contains("Date"), "{products}");
    }

    const ABSTRACT: &str = r#"
interface Media
  @join__type(graph: PRODUCTS, key: "id")
  @join__type(graph: INVENTORY, key: "id", isInterfaceObject: true)
{
  id: ID!
  title: String! @join__field(graph: PRODUCTS)
  stock: Int @join__field(graph: INVENTORY)
}

type Book implements Media
  @join__implements(graph: PRODUCTS, interface: "Media")
  @join__type(graph: PRODUCTS, key: "id")
{
  id: ID!
  title: String!
  stock: Int @join__field
}

type Shelf @join__type(graph: INVENTORY) { label: String! }

union Found
  @join__type(graph: INVENTORY)
  @join__type(graph: PRODUCTS)
  @join__unionMember(graph: INVENTORY, member: "Shelf")
  @join__unionMember(graph: PRODUCTS, member: "Book")
 = Book | Shelf

type Query @join__type(graph: INVENTORY) @join__type(graph: PRODUCTS) {
  media: [Media!]! @join__field(graph: PRODUCTS)
  found: [Found!]! @join__field(graph: INVENTORY)
}
"#;

    #[test]
    fn interfaces_unions_and_interface_objects_follow_their_graphs() {
        let text = format!("{HEADER}{ABSTRACT}");
        let split = split_text(&text).unwrap();
        let products = part(&split, "products", 0);
        let inventory = part(&split, "inventory", 0);
        let at = |sdl: &str, needle: &str| line_of(sdl, needle);
        assert_eq!(
            at(products, "interface Media @key(fields: \"id\") {"),
            line_of(&text, "interface Media")
        );
        assert!(products.contains("type Book implements Media @key(fields: \"id\") {"));
        assert!(products.contains("union Found = Book"), "{products}");
        assert!(!products.contains("stock"), "{products}");
        assert!(
            inventory.contains("type Media @key(fields: \"id\") @interfaceObject {"),
            "{inventory}"
        );
        assert!(inventory.contains("union Found = Shelf"), "{inventory}");
        assert!(!inventory.contains("Book"), "{inventory}");
        let mut doc = Document::parse(&[]).unwrap();
        federation::compose(&mut doc, &split.subgraphs).unwrap();
        let pair = ("Book".to_owned(), "stock".to_owned());
        assert_eq!(
            doc.federated.get(&pair),
            Some(&Origin::Entity {
                source: "inventory".to_owned(),
                key: vec!["id".to_owned()],
                represented_as: Some("Media".to_owned()),
            })
        );
    }

    #[test]
    fn what_composition_refuses_is_reported_at_its_line() {
        for (types, needle, message) in [
            (
                "union Thing @join__unionMember(graph: REVIEWS, member: \"A\") = A",
                "union Thing",
                "`@join__unionMember(graph: REVIEWS)`: `REVIEWS` is not a value",
            ),
            (
                "type Item @join__type(graph: REVIEWS) { id: ID! }",
                "type Item",
                "`@join__type(graph: REVIEWS)`: `REVIEWS` is not a value of `join__Graph` (INVENTORY, PRODUCTS)",
            ),
            (
                "type Item @join__type(graph: PRODUCTS) {\n  id: ID! @join__field(graph: USERS)\n}",
                "USERS",
                "`@join__field(graph: USERS)`: `USERS` is not a value",
            ),
            (
                "type Item @join__owner(graph: PRODUCTS) @join__type(graph: PRODUCTS, key: \"id\") { id: ID! }",
                "type Item",
                "`Item`: `@join__owner` is Federation 1 (join v0.1), which is not supported",
            ),
            (
                "type Item { id: ID! ] }",
                "type Item",
                "supergraph: syntax error",
            ),
        ] {
            let text = format!("{HEADER}{types}\n");
            let error = split_text(&text).unwrap_err();
            let line = line_of(&text, needle);
            assert!(
                error.contains(&format!("supergraph.graphql:{line}:")),
                "{needle}: {error}"
            );
            assert!(error.contains(message), "{error}");
        }
    }

    #[test]
    fn a_file_without_join_graph_is_not_a_supergraph() {
        let error = split_text("type Query { a: Int }").unwrap_err();
        assert!(
            error.contains("supergraph.graphql:1:1: not a supergraph"),
            "{error}"
        );
        let text = HEADER.replace(
            r#"PRODUCTS @join__graph(name: "products", url: "http://products:4003/graphql")"#,
            "PRODUCTS",
        );
        let error = split_text(&text).unwrap_err();
        let line = line_of(&text, "  PRODUCTS");
        assert!(
            error.contains(&format!("supergraph.graphql:{line}:")),
            "{error}"
        );
        assert!(
            error.contains("`join__Graph.PRODUCTS` has no `@join__graph"),
            "{error}"
        );
    }

    #[test]
    fn a_graph_without_url_has_none() {
        let text = HEADER.replace("url: \"http://products:4003/graphql\"", "url: \"\"");
        let split = split_text(&text).unwrap();
        assert_eq!(split.graphs[1].url, None);
    }
}
