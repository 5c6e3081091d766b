//! Reads the schema files and merges them into one set of type definitions.
//!
//! Types may be declared in one file and extended (`extend type Query`) in
//! another; every definition remembers the file it came from so diagnostics
//! can name file and line.

use std::path::{Path, PathBuf};

use async_graphql::parser::types::{
    ConstDirective, EnumValueDefinition, FieldDefinition, InputValueDefinition, TypeDefinition,
    TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Pos, Positioned};
use indexmap::IndexMap;

use crate::error::{Diagnostic, Diagnostics, Place};

/// A definition and the index of the file it came from.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// Index into [`Document::files`].
    pub file: usize,
    /// The definition, with its position in that file.
    pub node: Positioned<T>,
}

/// What kind of type a merged definition is, with its members.
#[derive(Debug, Clone)]
pub enum Kind {
    /// An object type and its fields.
    Object(Vec<Located<FieldDefinition>>),
    /// An interface and its fields.
    Interface(Vec<Located<FieldDefinition>>),
    /// A union and its member types.
    Union(Vec<Positioned<async_graphql::Name>>),
    /// An input object and its fields.
    Input(Vec<Located<InputValueDefinition>>),
    /// An enum and its values.
    Enum(Vec<Positioned<EnumValueDefinition>>),
    /// A custom scalar.
    Scalar,
}

/// One type, merged from its definition and extensions.
#[derive(Debug, Clone)]
pub struct TypeDef {
    /// The type's name.
    pub name: String,
    /// The file of its (first) definition.
    pub file: usize,
    /// Its position there.
    pub pos: Pos,
    /// Its description.
    pub description: Option<String>,
    /// Its directives (`@key`, `@rest`, `@grpc`), from every definition.
    pub directives: Vec<Positioned<ConstDirective>>,
    /// Its kind and members.
    pub kind: Kind,
    /// The interfaces an object or interface type implements.
    pub implements: Vec<String>,
}

/// The merged schema files.
#[derive(Debug, Default)]
pub struct Document {
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// The types, in the order first declared.
    pub types: IndexMap<String, TypeDef>,
    /// Root type names from a `schema { … }` block, if any.
    pub roots: Roots,
    /// The fields subgraphs add, with where each comes from
    /// ([`super::federation`]), by `(type, field)`.
    pub federated: std::collections::HashMap<(String, String), super::federation::Origin>,
    /// The fields of an entity a subgraph's field provides (`@provides`),
    /// by `(type, field)`.
    pub provides: std::collections::HashMap<(String, String), Vec<String>>,
    /// The fields of its entity a subgraph's field needs first
    /// (`@requires(fields:)`, as written), by `(type, field)`.
    pub requires: std::collections::HashMap<(String, String), String>,
    /// The types a subgraph owns and others may look up through its
    /// `_entities`: the subgraph and the resolvable key's fields, by type.
    pub owned_entities: std::collections::HashMap<String, (String, Vec<String>)>,
    /// The object types each subgraph's SDL defines or extends, by source.
    pub subgraph_types: std::collections::HashMap<String, std::collections::HashSet<String>>,
    /// The index in [`Self::files`] of the first subgraph's SDL, once
    /// subgraphs are composed in.
    pub subgraph_files: Option<usize>,
}

/// The names of the root operation types.
#[derive(Debug, Clone)]
pub struct Roots {
    /// The query root (`Query` by default).
    pub query: String,
    /// The mutation root (`Mutation` by default).
    pub mutation: String,
    /// The subscription root (`Subscription` by default).
    pub subscription: String,
}

impl Roots {
    /// The roots a `schema { … }` block names, each missing one by its
    /// default name.
    pub fn of(schema: &async_graphql::parser::types::SchemaDefinition) -> Self {
        let name = |root: &Option<Positioned<async_graphql::Name>>, default: &str| {
            root.as_ref()
                .map_or_else(|| default.to_owned(), |name| name.node.to_string())
        };
        Self {
            query: name(&schema.query, "Query"),
            mutation: name(&schema.mutation, "Mutation"),
            subscription: name(&schema.subscription, "Subscription"),
        }
    }
}

impl Default for Roots {
    fn default() -> Self {
        Self {
            query: "Query".into(),
            mutation: "Mutation".into(),
            subscription: "Subscription".into(),
        }
    }
}

impl Document {
    /// A diagnostic at a position in one of the files.
    pub fn error(&self, file: usize, pos: Pos, message: impl Into<String>) -> Diagnostic {
        Diagnostic::at(&self.files[file], pos.line, pos.column, message)
    }

    /// Where `pos` of `file` stands, for a problem found later.
    pub fn place(&self, file: usize, pos: Pos) -> Place {
        Place {
            file: self.files[file].clone(),
            line: pos.line,
            column: pos.column,
        }
    }

    /// Reads and merges `paths`; reports every unreadable file, syntax error
    /// and conflicting definition.
    pub fn load(paths: &[PathBuf]) -> Result<Self, Diagnostics> {
        let mut sources = Vec::new();
        let mut problems = Diagnostics::default();
        for path in paths {
            match std::fs::read_to_string(path) {
                Ok(text) => sources.push((path.clone(), text)),
                Err(error) => problems.push(Diagnostic::file(
                    path,
                    format!("cannot read schema file: {error}"),
                )),
            }
        }
        problems.into_result(())?;
        Self::parse(&sources)
    }

    /// Parses and merges SDL texts, each named by its path.
    pub fn parse(sources: &[(PathBuf, String)]) -> Result<Self, Diagnostics> {
        let mut document = Self::default();
        let mut problems = Diagnostics::default();
        let mut extensions = Vec::new();
        for (file, (path, text)) in sources.iter().enumerate() {
            document.files.push(path.clone());
            let parsed = match async_graphql::parser::parse_schema(text) {
                Ok(parsed) => parsed,
                Err(error) => {
                    problems.push(syntax_error(path, &error));
                    continue;
                }
            };
            for definition in parsed.definitions {
                match definition {
                    TypeSystemDefinition::Type(ty) if ty.node.extend => extensions.push((file, ty)),
                    TypeSystemDefinition::Type(ty) => document.define(file, ty, &mut problems),
                    TypeSystemDefinition::Schema(schema) => {
                        document.roots = Roots::of(&schema.node);
                    }
                    TypeSystemDefinition::Directive(_) => {}
                }
            }
        }
        for (file, extension) in extensions {
            document.extend(file, extension, &mut problems);
        }
        problems.into_result(document)
    }

    fn define(&mut self, file: usize, ty: Positioned<TypeDefinition>, problems: &mut Diagnostics) {
        let name = ty.node.name.node.to_string();
        if let Some(existing) = self.types.get(&name) {
            let first = format!(
                "{}:{}",
                self.files[existing.file].display(),
                existing.pos.line
            );
            problems.push(self.error(
                file,
                ty.pos,
                format!("type `{name}` is already defined at {first}"),
            ));
            return;
        }
        let implements = implemented(&ty.node.kind);
        let kind = members(file, ty.node.kind);
        let description = ty.node.description.map(|d| d.node);
        let directives = ty.node.directives;
        self.types.insert(
            name.clone(),
            TypeDef {
                name,
                file,
                pos: ty.pos,
                description,
                directives,
                kind,
                implements,
            },
        );
    }

    fn extend(&mut self, file: usize, ty: Positioned<TypeDefinition>, problems: &mut Diagnostics) {
        let name = ty.node.name.node.to_string();
        let Some(target) = self.types.get_mut(&name) else {
            problems.push(self.error(
                file,
                ty.pos,
                format!("`extend type {name}` extends a type that is not defined"),
            ));
            return;
        };
        if let Some(directive) = ty.node.directives.first() {
            let message =
                format!("put the directives of `{name}` on its definition, not on an extension");
            problems.push(Diagnostic::at(
                &self.files[file],
                directive.pos.line,
                directive.pos.column,
                message,
            ));
            return;
        }
        for interface in implemented(&ty.node.kind) {
            if !target.implements.contains(&interface) {
                target.implements.push(interface);
            }
        }
        match (&mut target.kind, members(file, ty.node.kind)) {
            (Kind::Object(fields), Kind::Object(more))
            | (Kind::Interface(fields), Kind::Interface(more)) => fields.extend(more),
            (Kind::Input(fields), Kind::Input(more)) => fields.extend(more),
            (Kind::Enum(values), Kind::Enum(more)) => values.extend(more),
            (Kind::Union(members), Kind::Union(more)) => members.extend(more),
            _ => problems.push(self.error(
                file,
                ty.pos,
                format!("this extension of `{name}` is not of the same kind"),
            )),
        }
    }

    /// The object types that say they implement interface `name`, in the
    /// order they were first declared.
    pub fn implementations(&self, name: &str) -> Vec<String> {
        self.types
            .values()
            .filter(|ty| {
                matches!(ty.kind, Kind::Object(_)) && ty.implements.iter().any(|i| i == name)
            })
            .map(|ty| ty.name.clone())
            .collect()
    }

    /// The positions of duplicate field names within each type.
    pub fn check_duplicate_fields(&self, problems: &mut Diagnostics) {
        for ty in self.types.values() {
            let (Kind::Object(fields) | Kind::Interface(fields)) = &ty.kind else {
                continue;
            };
            let mut seen = std::collections::HashSet::new();
            for field in fields {
                if !seen.insert(field.node.node.name.node.as_str()) {
                    problems.push(self.error(
                        field.file,
                        field.node.pos,
                        format!(
                            "field `{}.{}` is defined twice",
                            ty.name, field.node.node.name.node
                        ),
                    ));
                }
            }
        }
    }
}

fn members(file: usize, kind: TypeKind) -> Kind {
    match kind {
        TypeKind::Object(object) => Kind::Object(locate(file, object.fields)),
        TypeKind::Interface(interface) => Kind::Interface(locate(file, interface.fields)),
        TypeKind::Union(union) => Kind::Union(union.members),
        TypeKind::InputObject(input) => Kind::Input(locate(file, input.fields)),
        TypeKind::Enum(values) => Kind::Enum(values.values),
        TypeKind::Scalar => Kind::Scalar,
    }
}

/// The interfaces an object or interface type says it implements.
fn implemented(kind: &TypeKind) -> Vec<String> {
    let names = match kind {
        TypeKind::Object(object) => &object.implements,
        TypeKind::Interface(interface) => &interface.implements,
        _ => return Vec::new(),
    };
    names.iter().map(|name| name.node.to_string()).collect()
}

fn locate<T>(file: usize, nodes: Vec<Positioned<T>>) -> Vec<Located<T>> {
    nodes
        .into_iter()
        .map(|node| Located { file, node })
        .collect()
}

fn syntax_error(path: &Path, error: &async_graphql::parser::Error) -> Diagnostic {
    let pos = error
        .positions()
        .next()
        .unwrap_or(Pos { line: 0, column: 0 });
    Diagnostic::at(path, pos.line, pos.column, format!("syntax error: {error}"))
}
