//! Composition: the SDL of each Apollo Federation v2 subgraph source merged
//! into the schema files' [`Document`], so the build binds its fields like
//! any other.
//!
//! - Types the schema files do not define are owned by the subgraph: they
//!   are added, their fields read from its answers.
//! - Fields on the root types become root fields the subgraph answers.
//! - Fields a subgraph adds to an entity owned elsewhere (a type with
//!   `@key` in the schema files, or owned by another subgraph) are asked
//!   through `_entities` with the parent's key.
//!
//! Each added field's origin is recorded in [`Document::federated`].
//! Federation directives are read here and removed from the merged
//! definitions: `@key` (every key; the first resolvable one is used),
//! `@external` (the field must exist elsewhere), `@shareable` (a field
//! defined twice must be shareable: the first definition answers it),
//! `@override(from:)` (the subgraph takes the field over), `@inaccessible`
//! (the field is left out), `@provides` (recorded in
//! [`Document::provides`]: the entity's provided fields are read from the
//! subgraph's answer), `@requires` (recorded in [`Document::requires`]: the
//! required fields are fetched first and sent in the representations; each
//! must be a field of the type in the subgraph and of its owner) and `@tag`
//! (ignored). A type a subgraph defines first with a resolvable `@key` is
//! recorded in [`Document::owned_entities`], so that other subgraphs'
//! references to it are loaded through its `_entities`.
//!
//! Interfaces and unions merge across subgraphs: an interface's fields and
//! the interfaces a type implements are the union of every subgraph's, as
//! are a union's members. An interface with a resolvable `@key` is an
//! entity interface its subgraph owns. A subgraph that sees it as an
//! object type (`@interfaceObject`) adds its fields to the interface and
//! to every object type implementing it, asked through `_entities` with
//! the interface's name as each representation's `__typename`; this is
//! done once every subgraph is merged, when all implementations are known.
//! Each subgraph's object types are recorded in
//! [`Document::subgraph_types`], so that the documents sent to it ask
//! fragments on those types only.

use std::collections::HashSet;
use std::path::PathBuf;

use async_graphql::Pos;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    ConstDirective, FieldDefinition, TypeDefinition, TypeKind, TypeSystemDefinition,
};

use super::document::{Document, Kind, Located, TypeDef};
use crate::error::{Diagnostic, Diagnostics};

/// Where a subgraph's field comes from, as the build binds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A root field the subgraph answers.
    Root {
        /// The subgraph source.
        source: String,
    },
    /// A field the subgraph adds to an entity owned elsewhere, asked
    /// through `_entities` with these key fields of the parent.
    Entity {
        /// The subgraph source.
        source: String,
        /// The entity's key fields, as the subgraph's `@key` names them.
        key: Vec<String>,
        /// The `__typename` of the representations when it is not the
        /// parent's type: the interface an `@interfaceObject` stands for.
        represented_as: Option<String>,
    },
}

/// One subgraph's SDL and where it was read from.
#[derive(Debug, Clone)]
pub struct Subgraph {
    /// The source's name.
    pub source: String,
    /// The SDL file, or a name for `_service { sdl }` in diagnostics.
    pub path: PathBuf,
    /// The SDL.
    pub text: String,
}

/// The federation directives a field or type carries.
#[derive(Debug, Default)]
struct Federated {
    /// Every `@key`: its top-level fields and whether it is resolvable.
    keys: Vec<(Vec<String>, bool)>,
    /// The names of the other federation directives present.
    present: HashSet<String>,
    override_from: Option<String>,
    /// `@provides(fields:)`: the top-level fields provided.
    provides: Vec<String>,
    /// `@requires(fields:)`, as written.
    requires: Option<String>,
}

impl Federated {
    fn has(&self, directive: &str) -> bool {
        self.present.contains(directive)
    }
}

const FEDERATION_DIRECTIVES: [&str; 12] = [
    "key",
    "external",
    "shareable",
    "inaccessible",
    "override",
    "tag",
    "requires",
    "provides",
    "extends",
    "link",
    "composeDirective",
    "interfaceObject",
];

/// Merges every subgraph into `doc`, or reports every composition problem
/// at the subgraph's file and line.
pub fn compose(doc: &mut Document, subgraphs: &[Subgraph]) -> Result<(), Diagnostics> {
    let mut problems = Diagnostics::default();
    let subgraph_files = doc.files.len();
    if !subgraphs.is_empty() {
        doc.subgraph_files = Some(subgraph_files);
    }
    let mut composer = Composer {
        doc,
        problems: &mut problems,
        shareable: HashSet::new(),
        subgraph_files,
        interface_objects: Vec::new(),
        inaccessible: HashSet::new(),
    };
    for subgraph in composition_order(subgraphs) {
        composer.subgraph(subgraph);
    }
    for found in std::mem::take(&mut composer.interface_objects) {
        composer.interface_object(found);
    }
    composer.hide_inaccessible();
    problems.into_result(())
}

/// The subgraphs in the order they are composed: each after the
/// subgraphs that own the entity types it extends, otherwise as given, so
/// that the owner of a type defines it first.
fn composition_order(subgraphs: &[Subgraph]) -> Vec<&Subgraph> {
    let roles: Vec<(HashSet<String>, HashSet<String>)> = subgraphs
        .iter()
        .map(|subgraph| entity_roles(&subgraph.text))
        .collect();
    let mut remaining: Vec<usize> = (0..subgraphs.len()).collect();
    let mut order = Vec::with_capacity(subgraphs.len());
    while !remaining.is_empty() {
        let ready = remaining.iter().position(|&one| {
            roles[one].1.iter().all(|extended| {
                !remaining
                    .iter()
                    .any(|&other| other != one && roles[other].0.contains(extended))
            })
        });
        let next = remaining.remove(ready.unwrap_or(0));
        order.push(&subgraphs[next]);
    }
    order
}

/// The entity types an SDL owns (defines with a key of its own fields)
/// and those it extends (`extend type`, `@extends`, a key whose fields
/// are all `@external`, or any field `@external`: its owner defines that
/// field). An SDL that does not parse has neither.
fn entity_roles(sdl: &str) -> (HashSet<String>, HashSet<String>) {
    let mut owned = HashSet::new();
    let mut extended = HashSet::new();
    let Ok(parsed) = async_graphql::parser::parse_schema(sdl) else {
        return (owned, extended);
    };
    for definition in parsed.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let TypeKind::Object(object) = &ty.node.kind else {
            continue;
        };
        let directives = read(&ty.node.directives);
        let Some((key, _)) = directives.keys.first() else {
            continue;
        };
        let external_key = key.iter().all(|part| {
            object.fields.iter().any(|field| {
                field.node.name.node == *part && read(&field.node.directives).has("external")
            })
        });
        let any_external = object
            .fields
            .iter()
            .any(|field| read(&field.node.directives).has("external"));
        let name = ty.node.name.node.to_string();
        if ty.node.extend || directives.has("extends") || external_key || any_external {
            extended.insert(name);
        } else {
            owned.insert(name);
        }
    }
    (owned, extended)
}

struct Composer<'a> {
    doc: &'a mut Document,
    problems: &'a mut Diagnostics,
    /// `(type, field)` pairs a subgraph declared `@shareable`.
    shareable: HashSet<(String, String)>,
    /// The index of the first subgraph file in the document's files.
    subgraph_files: usize,
    /// The `@interfaceObject` types met, merged once every subgraph is.
    interface_objects: Vec<InterfaceObject<'a>>,
    /// The types a subgraph marks `@inaccessible`, left out once every
    /// subgraph is merged.
    inaccessible: HashSet<String>,
}

/// An `@interfaceObject` type of one subgraph.
struct InterfaceObject<'s> {
    subgraph: &'s Subgraph,
    file: usize,
    name: String,
    pos: Pos,
    key: Option<Vec<String>>,
    fields: Vec<Positioned<FieldDefinition>>,
}

/// Where an object type is defined in a subgraph, and its description.
struct Defined {
    pos: Pos,
    description: Option<String>,
}

/// What one subgraph's file is while it is merged.
struct Current<'s> {
    subgraph: &'s Subgraph,
    file: usize,
}

impl<'a> Composer<'a> {
    fn subgraph(&mut self, subgraph: &'a Subgraph) {
        let file = self.doc.files.len();
        self.doc.files.push(subgraph.path.clone());
        let parsed = match async_graphql::parser::parse_schema(&subgraph.text) {
            Ok(parsed) => parsed,
            Err(error) => {
                let pos = error
                    .positions()
                    .next()
                    .unwrap_or(Pos { line: 0, column: 0 });
                let message = format!("subgraph `{}`: syntax error: {error}", subgraph.source);
                self.problems.push(Diagnostic::at(
                    &subgraph.path,
                    pos.line,
                    pos.column,
                    message,
                ));
                return;
            }
        };
        let current = Current { subgraph, file };
        for definition in parsed.definitions {
            if let TypeSystemDefinition::Type(ty) = definition {
                if matches!(ty.node.kind, TypeKind::Object(_)) {
                    let name = ty.node.name.node.to_string();
                    self.doc
                        .subgraph_types
                        .entry(subgraph.source.clone())
                        .or_default()
                        .insert(name);
                }
                self.ty(&current, ty);
            }
        }
    }

    fn error(&mut self, current: &Current<'_>, pos: Pos, message: String) {
        let message = format!("subgraph `{}`: {message}", current.subgraph.source);
        self.problems.push(Diagnostic::at(
            &current.subgraph.path,
            pos.line,
            pos.column,
            message,
        ));
    }

    fn ty(&mut self, current: &Current<'a>, ty: Positioned<TypeDefinition>) {
        let name = ty.node.name.node.to_string();
        if is_federation_type(&name) {
            return;
        }
        let directives = read(&ty.node.directives);
        if directives.has("inaccessible") {
            self.inaccessible.insert(name.clone());
        }
        let description = ty.node.description.map(|d| d.node);
        let defined = Defined {
            pos: ty.pos,
            description,
        };
        match ty.node.kind {
            TypeKind::Object(object) if directives.has("interfaceObject") => {
                self.interface_objects.push(InterfaceObject {
                    subgraph: current.subgraph,
                    file: current.file,
                    name,
                    pos: ty.pos,
                    key: resolvable_key(&directives.keys),
                    fields: object.fields,
                });
            }
            TypeKind::Object(object) => {
                let implements = names(&object.implements);
                self.object(current, &name, defined, &directives.keys, object.fields);
                self.implement(&name, implements);
            }
            TypeKind::Interface(interface) => {
                let implements = names(&interface.implements);
                let fields = interface.fields;
                self.interface(current, &name, defined, fields);
                self.implement(&name, implements);
                if let Some(key) = resolvable_key(&directives.keys)
                    && !self.doc.owned_entities.contains_key(&name)
                {
                    let owner = (current.subgraph.source.clone(), key);
                    self.doc.owned_entities.insert(name, owner);
                }
            }
            TypeKind::Union(union) => self.union(current, &name, defined, union.members),
            _ if self.doc.types.contains_key(&name) => {}
            kind => self.define_other(current, name, defined, kind),
        }
    }

    /// Leaves the `@inaccessible` types out of the schema: out of unions
    /// and the interfaces types implement too. A field that returns one
    /// (or takes one as an argument) must be `@inaccessible` itself; one
    /// that is not is reported at its line.
    fn hide_inaccessible(&mut self) {
        if self.inaccessible.is_empty() {
            return;
        }
        let hidden = std::mem::take(&mut self.inaccessible);
        for name in &hidden {
            self.doc.types.shift_remove(name);
            self.doc.owned_entities.remove(name);
        }
        // Each field using a hidden type: its type and name, the type it
        // uses, and where it stands.
        let mut using = Vec::new();
        for ty in self.doc.types.values_mut() {
            ty.implements
                .retain(|interface| !hidden.contains(interface));
            let hidden_in = |used: &async_graphql::parser::types::Type| {
                let used = super::build::base_name(used);
                hidden.contains(used).then(|| used.to_owned())
            };
            match &mut ty.kind {
                Kind::Union(members) => {
                    members.retain(|member| !hidden.contains(member.node.as_str()));
                }
                Kind::Object(fields) | Kind::Interface(fields) => {
                    for field in fields.iter() {
                        let definition = &field.node.node;
                        let arguments = definition.arguments.iter().map(|a| &a.node.ty.node);
                        let used = std::iter::once(&definition.ty.node)
                            .chain(arguments)
                            .find_map(hidden_in);
                        if let Some(used) = used {
                            let name = format!("{}.{}", ty.name, definition.name.node);
                            using.push((name, used, field.file, field.node.pos));
                        }
                    }
                }
                Kind::Input(fields) => {
                    for field in fields.iter() {
                        let definition = &field.node.node;
                        if read(&definition.directives).has("inaccessible") {
                            continue;
                        }
                        if let Some(used) = hidden_in(&definition.ty.node) {
                            let name = format!("{}.{}", ty.name, definition.name.node);
                            using.push((name, used, field.file, field.node.pos));
                        }
                    }
                }
                Kind::Enum(_) | Kind::Scalar => {}
            }
        }
        for (field, used, file, pos) in using {
            let message = format!(
                "`{field}` uses `{used}`, which is @inaccessible: mark the field @inaccessible too"
            );
            self.problems.push(Diagnostic::at(
                &self.doc.files[file],
                pos.line,
                pos.column,
                message,
            ));
        }
    }

    /// The type `name`, defined as `kind` from `file` when it is not yet.
    fn define_once(
        &mut self,
        name: &str,
        file: usize,
        defined: Defined,
        kind: Kind,
    ) -> &mut TypeDef {
        self.doc
            .types
            .entry(name.to_owned())
            .or_insert_with(|| TypeDef {
                name: name.to_owned(),
                file,
                pos: defined.pos,
                description: defined.description,
                directives: Vec::new(),
                kind,
                implements: Vec::new(),
            })
    }

    /// Merges an interface: its fields not defined yet are added.
    fn interface(
        &mut self,
        current: &Current<'_>,
        name: &str,
        defined: Defined,
        fields: Vec<Positioned<FieldDefinition>>,
    ) {
        let file = current.file;
        let pos = defined.pos;
        let ty = self.define_once(name, file, defined, Kind::Interface(Vec::new()));
        let Kind::Interface(known) = &mut ty.kind else {
            let message =
                format!("`{name}` is an interface here, but not where it is first defined");
            return self.error(current, pos, message);
        };
        for mut field in fields {
            let is_new = !known
                .iter()
                .any(|old| old.node.node.name.node == field.node.name.node);
            if is_new && !read(&field.node.directives).has("inaccessible") {
                field.node.directives.retain(|d| !is_federation(&d.node));
                known.push(Located { file, node: field });
            }
        }
    }

    /// Merges a union: its members not listed yet are added.
    fn union(
        &mut self,
        current: &Current<'_>,
        name: &str,
        defined: Defined,
        members: Vec<Positioned<async_graphql::Name>>,
    ) {
        let pos = defined.pos;
        let ty = self.define_once(name, current.file, defined, Kind::Union(Vec::new()));
        let Kind::Union(known) = &mut ty.kind else {
            let message = format!("`{name}` is a union here, but not where it is first defined");
            return self.error(current, pos, message);
        };
        for member in members {
            if !known.iter().any(|old| old.node == member.node) {
                known.push(member);
            }
        }
    }

    /// Adds `interfaces` to those type `name` implements.
    fn implement(&mut self, name: &str, interfaces: Vec<String>) {
        if let Some(ty) = self.doc.types.get_mut(name) {
            for interface in interfaces {
                if !ty.implements.contains(&interface) {
                    ty.implements.push(interface);
                }
            }
        }
    }

    /// Adds the fields of an `@interfaceObject` to its interface and to
    /// every object type implementing it, each asked from its subgraph
    /// with the interface's name as the representations' `__typename`.
    fn interface_object(&mut self, found: InterfaceObject<'a>) {
        let current = Current {
            subgraph: found.subgraph,
            file: found.file,
        };
        let name = &found.name;
        let is_entity_interface = matches!(
            self.doc.types.get(name).map(|ty| &ty.kind),
            Some(Kind::Interface(_))
        ) && self.doc.owned_entities.contains_key(name);
        let Some(key) = found.key.filter(|_| is_entity_interface) else {
            let message = format!(
                "`{name}` is an @interfaceObject: another subgraph must define the interface `{name}` with a resolvable @key, and this type needs one too"
            );
            return self.error(&current, found.pos, message);
        };
        let implementations = self.doc.implementations(name);
        let declared: Vec<String> = found
            .fields
            .iter()
            .map(|field| field.node.name.node.to_string())
            .collect();
        let added: Vec<Positioned<FieldDefinition>> = found
            .fields
            .into_iter()
            .filter(|field| {
                let directives = read(&field.node.directives);
                !key.iter().any(|part| field.node.name.node == *part)
                    && !directives.has("external")
                    && !directives.has("inaccessible")
            })
            .collect();
        let defined = Defined {
            pos: found.pos,
            description: None,
        };
        self.interface(&current, name, defined, added.clone());
        for implementation in implementations {
            for field in &added {
                let origin = Origin::Entity {
                    source: found.subgraph.source.clone(),
                    key: key.clone(),
                    represented_as: Some(name.clone()),
                };
                self.field(
                    &current,
                    &implementation,
                    field.clone(),
                    Some(origin),
                    &declared,
                );
            }
        }
    }

    /// An enum, input or scalar the schema files do not define.
    fn define_other(
        &mut self,
        current: &Current<'_>,
        name: String,
        defined: Defined,
        kind: TypeKind,
    ) {
        let file = current.file;
        let kind = match kind {
            TypeKind::InputObject(input) => Kind::Input(
                input
                    .fields
                    .into_iter()
                    .map(|node| Located { file, node })
                    .collect(),
            ),
            TypeKind::Enum(values) => Kind::Enum(values.values),
            _ => Kind::Scalar,
        };
        self.define_once(&name, file, defined, kind);
    }

    fn object(
        &mut self,
        current: &Current<'_>,
        name: &str,
        defined: Defined,
        keys: &[(Vec<String>, bool)],
        fields: Vec<Positioned<FieldDefinition>>,
    ) {
        let is_root = self.is_root(name);
        let owned_elsewhere = !is_root && self.doc.types.contains_key(name);
        let pos = defined.pos;
        self.define_once(name, current.file, defined, Kind::Object(Vec::new()));
        let key = resolvable_key(keys);
        if let Some(key) = key.as_ref().filter(|_| owned_elsewhere) {
            self.check_key(current, name, pos, key, &fields);
        }
        if let Some(key) = key.as_ref().filter(|_| !is_root && !owned_elsewhere) {
            let owner = (current.subgraph.source.clone(), key.clone());
            self.doc.owned_entities.insert(name.to_owned(), owner);
        }
        let declared: Vec<String> = fields
            .iter()
            .map(|field| field.node.name.node.to_string())
            .collect();
        for field in fields {
            let name_of = field.node.name.node.as_str();
            if is_root && (name_of == "_service" || name_of == "_entities") {
                continue;
            }
            let origin = if is_root {
                Some(Origin::Root {
                    source: current.subgraph.source.clone(),
                })
            } else {
                key.clone()
                    .filter(|_| owned_elsewhere)
                    .map(|key| Origin::Entity {
                        source: current.subgraph.source.clone(),
                        key,
                        represented_as: None,
                    })
            };
            self.field(current, name, field, origin, &declared);
        }
    }

    /// Every key field must be a field of the subgraph's type.
    fn check_key(
        &mut self,
        current: &Current<'_>,
        name: &str,
        pos: Pos,
        key: &[String],
        fields: &[Positioned<FieldDefinition>],
    ) {
        for part in key {
            if !fields.iter().any(|field| field.node.name.node == *part) {
                let message = format!("`{name}`: @key field `{part}` is not a field of the type");
                self.error(current, pos, message);
            }
        }
    }

    fn field(
        &mut self,
        current: &Current<'_>,
        type_name: &str,
        mut field: Positioned<FieldDefinition>,
        origin: Option<Origin>,
        declared: &[String],
    ) {
        let field_name = field.node.name.node.to_string();
        let directives = read(&field.node.directives);
        let existing = self.position(type_name, &field_name);
        let label = format!("`{type_name}.{field_name}`");
        if matches!(&origin, Some(Origin::Entity { key, .. }) if key.contains(&field_name)) {
            if existing.is_none() {
                let message =
                    format!("{label} is a @key field, but the type's owner does not define it");
                self.error(current, field.pos, message);
            }
            return;
        }
        if directives.has("external") {
            if existing.is_none() {
                let message = format!("{label} is @external, but no other source defines it");
                self.error(current, field.pos, message);
            }
            return;
        }
        if directives.has("inaccessible") {
            return;
        }
        let pair = (type_name.to_owned(), field_name);
        if let Some(index) = existing {
            if directives.override_from.is_some() {
                self.remove_field(type_name, index);
                self.doc.federated.remove(&pair);
            } else if directives.has("shareable") && self.shareable_elsewhere(&pair, index) {
                return;
            } else {
                let at = self.place_of(type_name, index);
                let message = format!(
                    "{label} is also defined at {at}: mark it @shareable in every subgraph that defines it, or @override it"
                );
                self.error(current, field.pos, message);
                return;
            }
        } else if origin.is_none() && self.owned_by_other(type_name, current.file) {
            let message = format!(
                "{label}: the type is defined elsewhere; give it a resolvable @key to add fields to it"
            );
            self.error(current, field.pos, message);
            return;
        }
        if directives.has("shareable") {
            self.shareable.insert(pair.clone());
        }
        if !directives.provides.is_empty() {
            self.doc.provides.insert(pair.clone(), directives.provides);
        }
        if let Some(required) = directives.requires {
            if !self.check_requires(
                current,
                &pair,
                field.pos,
                &required,
                declared,
                origin.as_ref(),
            ) {
                return;
            }
            self.doc.requires.insert(pair.clone(), required);
        }
        field.node.directives.retain(|d| !is_federation(&d.node));
        if let Some(origin) = origin {
            self.doc.federated.insert(pair, origin);
        }
        let located = Located {
            file: current.file,
            node: field,
        };
        if let Some(TypeDef {
            kind: Kind::Object(fields),
            ..
        }) = self.doc.types.get_mut(type_name)
        {
            fields.push(located);
        }
    }

    /// Whether `@requires(fields: required)` on `pair` can be met: the
    /// field is added to an entity owned elsewhere, and every top-level
    /// field named is declared on the type in this subgraph and defined by
    /// another source. Reports each problem at the field.
    fn check_requires(
        &mut self,
        current: &Current<'_>,
        pair: &(String, String),
        pos: Pos,
        required: &str,
        declared: &[String],
        origin: Option<&Origin>,
    ) -> bool {
        let label = format!("`{}.{}`", pair.0, pair.1);
        if !matches!(origin, Some(Origin::Entity { .. })) {
            let message = format!(
                "{label}: @requires is only supported on a field added to an entity another source owns"
            );
            self.error(current, pos, message);
            return false;
        }
        let names = key_fields(required);
        if names.is_empty() {
            self.error(current, pos, format!("{label}: @requires names no field"));
            return false;
        }
        let mut met = true;
        for name in names {
            let known = declared.contains(&name) && self.position(&pair.0, &name).is_some();
            if !known {
                let message = format!(
                    "{label}: @requires field `{name}` is not a field of `{}` defined by another source",
                    pair.0
                );
                self.error(current, pos, message);
                met = false;
            }
        }
        met
    }

    /// Whether the existing definition of `pair` (at `index`) may be shared:
    /// one from the schema files always may, one from another subgraph
    /// only if that subgraph marked it @shareable too.
    fn shareable_elsewhere(&self, pair: &(String, String), index: usize) -> bool {
        let from_subgraph = match self.doc.types.get(&pair.0).map(|ty| &ty.kind) {
            Some(Kind::Object(fields)) => fields[index].file >= self.subgraph_files,
            _ => false,
        };
        !from_subgraph || self.shareable.contains(pair)
    }

    /// Whether `type_name` was defined before this subgraph's file.
    fn owned_by_other(&self, type_name: &str, file: usize) -> bool {
        self.doc
            .types
            .get(type_name)
            .is_some_and(|ty| ty.file != file && !self.is_root(type_name))
    }

    fn position(&self, type_name: &str, field: &str) -> Option<usize> {
        match &self.doc.types.get(type_name)?.kind {
            Kind::Object(fields) => fields.iter().position(|f| f.node.node.name.node == field),
            _ => None,
        }
    }

    fn remove_field(&mut self, type_name: &str, index: usize) {
        if let Some(TypeDef {
            kind: Kind::Object(fields),
            ..
        }) = self.doc.types.get_mut(type_name)
        {
            fields.remove(index);
        }
    }

    fn place_of(&self, type_name: &str, index: usize) -> String {
        match self.doc.types.get(type_name).map(|ty| &ty.kind) {
            Some(Kind::Object(fields)) => {
                let field = &fields[index];
                format!(
                    "{}:{}",
                    self.doc.files[field.file].display(),
                    field.node.pos.line
                )
            }
            _ => String::new(),
        }
    }

    fn is_root(&self, name: &str) -> bool {
        let roots = &self.doc.roots;
        name == roots.query || name == roots.mutation || name == roots.subscription
    }
}

/// The federation directives among `directives`.
fn read(directives: &[Positioned<ConstDirective>]) -> Federated {
    let mut read = Federated::default();
    for directive in directives {
        let directive = &directive.node;
        match directive.name.node.as_str() {
            "key" => {
                let fields = string_argument(directive, "fields").unwrap_or_default();
                let resolvable = !matches!(
                    directive
                        .get_argument("resolvable")
                        .map(|value| &value.node),
                    Some(async_graphql::Value::Boolean(false))
                );
                read.keys.push((key_fields(&fields), resolvable));
            }
            "override" => read.override_from = string_argument(directive, "from"),
            "provides" => {
                read.provides =
                    key_fields(&string_argument(directive, "fields").unwrap_or_default());
            }
            "requires" => {
                read.requires = Some(string_argument(directive, "fields").unwrap_or_default());
            }
            other => drop(read.present.insert(other.to_owned())),
        }
    }
    read
}

/// The first resolvable key among `keys`.
fn resolvable_key(keys: &[(Vec<String>, bool)]) -> Option<Vec<String>> {
    keys.iter()
        .find(|(_, resolvable)| *resolvable)
        .map(|(key, _)| key.clone())
}

fn names(nodes: &[Positioned<async_graphql::Name>]) -> Vec<String> {
    nodes.iter().map(|name| name.node.to_string()).collect()
}

/// The top-level field names of a `FieldSet` such as `"id org { id }"`.
pub(super) fn key_fields(fields: &str) -> Vec<String> {
    field_set(fields)
        .into_iter()
        .map(|node| node.name)
        .collect()
}

/// One field of a `FieldSet` and the fields selected under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSetNode {
    /// The field's name.
    pub name: String,
    /// Its sub-selection; empty for a leaf.
    pub children: Vec<FieldSetNode>,
}

impl std::fmt::Display for FieldSetNode {
    /// The node as `FieldSet` text: `name` or `name { a b }`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)?;
        if !self.children.is_empty() {
            f.write_str(" {")?;
            for child in &self.children {
                write!(f, " {child}")?;
            }
            f.write_str(" }")?;
        }
        Ok(())
    }
}

/// A `FieldSet` such as `"price dimensions { weight }"` as a tree.
pub fn field_set(fields: &str) -> Vec<FieldSetNode> {
    let spaced = fields.replace('{', " { ").replace('}', " } ");
    let mut tokens = spaced.split_whitespace().peekable();
    field_set_level(&mut tokens)
}

fn field_set_level<'t>(
    tokens: &mut std::iter::Peekable<impl Iterator<Item = &'t str>>,
) -> Vec<FieldSetNode> {
    let mut nodes: Vec<FieldSetNode> = Vec::new();
    while let Some(token) = tokens.next() {
        match token {
            "}" => break,
            "{" => {
                let children = field_set_level(tokens);
                if let Some(last) = nodes.last_mut() {
                    last.children = children;
                }
            }
            name => nodes.push(FieldSetNode {
                name: name.to_owned(),
                children: Vec::new(),
            }),
        }
    }
    nodes
}

pub(super) fn string_argument(directive: &ConstDirective, name: &str) -> Option<String> {
    match directive.get_argument(name).map(|value| &value.node) {
        Some(async_graphql::Value::String(text)) => Some(text.clone()),
        _ => None,
    }
}

fn is_federation(directive: &ConstDirective) -> bool {
    let name = directive.name.node.as_str();
    FEDERATION_DIRECTIVES.contains(&name) || name.starts_with("federation__")
}

/// Types every subgraph's SDL may declare for federation's own use.
fn is_federation_type(name: &str) -> bool {
    name.starts_with('_')
        || name.starts_with("link__")
        || name.starts_with("federation__")
        || name == "FieldSet"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compose_one(schema: &str, sdl: &str) -> Result<Document, String> {
        let mut doc = Document::parse(&[(PathBuf::from("schema.graphql"), schema.to_owned())])
            .map_err(|problems| problems.to_string())?;
        let subgraph = Subgraph {
            source: "reviews".to_owned(),
            path: PathBuf::from("reviews.graphql"),
            text: sdl.to_owned(),
        };
        compose(&mut doc, &[subgraph]).map_err(|problems| problems.to_string())?;
        Ok(doc)
    }

    const OWNER: &str =
        "type Query { a: Int }\ntype Product @key(fields: \"sku\") { sku: ID! name: String! }";

    #[test]
    fn a_field_set_is_read_as_a_tree() {
        let leaf = |name: &str| FieldSetNode {
            name: name.to_owned(),
            children: Vec::new(),
        };
        assert_eq!(
            field_set("price dimensions { weight size { w } } id"),
            [
                leaf("price"),
                FieldSetNode {
                    name: "dimensions".to_owned(),
                    children: vec![
                        leaf("weight"),
                        FieldSetNode {
                            name: "size".to_owned(),
                            children: vec![leaf("w")],
                        }
                    ],
                },
                leaf("id"),
            ]
        );
        let nested = &field_set("dimensions{weight size { w }}")[0];
        assert_eq!(nested.to_string(), "dimensions { weight size { w } }");
    }

    #[test]
    fn requires_must_name_fields_of_the_owner() {
        let sdl = "type Product @key(fields: \"sku\") { sku: ID! @external name: String! @external\n\
                   label: String @requires(fields: \"name color\") }";
        let error = compose_one(OWNER, sdl).unwrap_err();
        assert!(error.contains("reviews.graphql:2:"), "{error}");
        assert!(
            error.contains(
                "subgraph `reviews`: `Product.label`: @requires field `color` is not a field"
            ),
            "{error}"
        );
        let sdl = "type Product @key(fields: \"sku\") { sku: ID! @external name: String! @external\n\
                   label: String @requires(fields: \"name\") }";
        let doc = compose_one(OWNER, sdl).unwrap();
        let pair = ("Product".to_owned(), "label".to_owned());
        assert_eq!(doc.requires.get(&pair).map(String::as_str), Some("name"));
    }

    #[test]
    fn an_extending_subgraph_listed_first_is_composed_after_the_owner() {
        let mut doc = Document::parse(&[(
            PathBuf::from("schema.graphql"),
            "type Query { a: Int }".to_owned(),
        )])
        .unwrap();
        let subgraph = |source: &str, text: &str| Subgraph {
            source: source.to_owned(),
            path: PathBuf::from(format!("{source}.graphql")),
            text: text.to_owned(),
        };
        let both = [
            subgraph(
                "inventory",
                "extend type Product @key(fields: \"upc\") { upc: String! @external price: Int @external\n\
                 estimate: Int @requires(fields: \"price\") }",
            ),
            subgraph(
                "products",
                "type Product @key(fields: \"upc\") { upc: String! price: Int }\n\
                 type Query { top: [Product] }",
            ),
        ];
        compose(&mut doc, &both).unwrap();
        assert_eq!(
            doc.owned_entities.get("Product"),
            Some(&("products".to_owned(), vec!["upc".to_owned()]))
        );
        let pair = ("Product".to_owned(), "estimate".to_owned());
        assert_eq!(
            doc.federated.get(&pair),
            Some(&Origin::Entity {
                source: "inventory".to_owned(),
                key: vec!["upc".to_owned()],
                represented_as: None,
            })
        );
        assert_eq!(doc.requires.get(&pair).map(String::as_str), Some("price"));
    }

    #[test]
    fn key_fields_are_the_top_level_names() {
        assert_eq!(key_fields("id"), ["id"]);
        assert_eq!(key_fields("id org { id name }"), ["id", "org"]);
        assert_eq!(key_fields(" a{b} c "), ["a", "c"]);
    }

    #[test]
    fn fields_are_recorded_by_origin_and_federation_directives_removed() {
        let sdl = "type Product @key(fields: \"sku\") { sku: ID! reviews: [Review!]! @tag(name: \"x\") }\n\
                   type Review { id: ID! }\n\
                   type Query { top: [Review!]! _service: Int }";
        let doc = compose_one(OWNER, sdl).unwrap();
        let origin = |ty: &str, field: &str| doc.federated.get(&(ty.to_owned(), field.to_owned()));
        assert_eq!(
            origin("Product", "reviews"),
            Some(&Origin::Entity {
                source: "reviews".to_owned(),
                key: vec!["sku".to_owned()],
                represented_as: None,
            })
        );
        assert_eq!(
            origin("Query", "top"),
            Some(&Origin::Root {
                source: "reviews".to_owned()
            })
        );
        assert_eq!(origin("Review", "id"), None);
        assert_eq!(origin("Query", "_service"), None);
        let Kind::Object(fields) = &doc.types["Product"].kind else {
            panic!("Product is an object");
        };
        let names: Vec<&str> = fields
            .iter()
            .map(|f| f.node.node.name.node.as_str())
            .collect();
        assert_eq!(names, ["sku", "name", "reviews"]);
        assert!(fields[2].node.node.directives.is_empty());
        assert_eq!(doc.subgraph_files, Some(1));
    }

    #[test]
    fn a_type_defined_elsewhere_without_a_key_takes_no_new_fields() {
        let sdl = "type Product { sku: ID! @shareable extra: Int }";
        let error = compose_one(OWNER, sdl).unwrap_err();
        assert!(error.contains("reviews.graphql:1:"), "{error}");
        assert!(
            error.contains("`Product.extra`: the type is defined elsewhere"),
            "{error}"
        );
    }

    #[test]
    fn two_subgraphs_may_share_a_field_both_mark_shareable() {
        let mut doc = Document::parse(&[(
            PathBuf::from("schema.graphql"),
            "type Query { a: Int }".to_owned(),
        )])
        .unwrap();
        let subgraph = |source: &str, shareable: &str| Subgraph {
            source: source.to_owned(),
            path: PathBuf::from(format!("{source}.graphql")),
            text: format!("type Review {{ id: ID! {shareable} }}"),
        };
        let both = [subgraph("one", "@shareable"), subgraph("two", "@shareable")];
        assert!(compose(&mut doc, &both).is_ok());
        let mut doc = Document::parse(&[(
            PathBuf::from("schema.graphql"),
            "type Query { a: Int }".to_owned(),
        )])
        .unwrap();
        let one_only = [subgraph("one", "@shareable"), subgraph("two", "")];
        let error = compose(&mut doc, &one_only).unwrap_err().to_string();
        assert!(error.contains("two.graphql:1:"), "{error}");
        assert!(
            error.contains("`Review.id` is also defined at one.graphql:1"),
            "{error}"
        );
    }
}
