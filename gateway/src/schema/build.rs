//! Walks the merged document and builds the async-graphql dynamic schema,
//! attaching a fetch or projection resolver to every field.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, InputObject, InputValue, Object, Scalar, Schema, TypeRef,
};
use async_graphql::parser::types::{BaseType, FieldDefinition, InputValueDefinition, Type};

use super::Sources;
use super::connect;
use super::directives::{self, FieldDirectives};
use super::document::{Document, Kind, Located, TypeDef};
use super::output::{EnumValues, Shape, ShapeKind};
use super::resolve::{FetchPlan, fetch_field, project_field};
use crate::error::Diagnostics;

const BUILTIN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// What the build knows about the document while it walks it.
pub struct Builder<'d> {
    /// The merged schema files.
    pub doc: &'d Document,
    /// The opened sources.
    pub sources: &'d Sources,
    /// Each field's directives, by `(type, field)`.
    directives: HashMap<(String, String), FieldDirectives>,
    enums: HashMap<&'d str, Arc<EnumValues>>,
    /// Every problem found so far.
    pub problems: Diagnostics,
}

/// A field being built: its type and definition.
#[derive(Clone, Copy)]
pub struct Site<'d> {
    /// The type the field belongs to.
    pub ty: &'d TypeDef,
    /// The field.
    pub field: &'d Located<FieldDefinition>,
}

impl Site<'_> {
    /// `Type.field`, for messages.
    pub fn name(&self) -> String {
        format!("{}.{}", self.ty.name, self.field.node.node.name.node)
    }
}

/// Builds the executable schema, or reports every problem found.
pub fn build(doc: &Document, sources: &Sources) -> Result<Schema, Diagnostics> {
    let mut builder = Builder::new(doc, sources);
    let schema = builder.schema();
    let problems = std::mem::take(&mut builder.problems);
    problems.into_result(())?;
    schema.map_err(|message| {
        crate::error::Diagnostic::file(&doc.files[0], format!("the schema is invalid: {message}"))
            .into()
    })
}

impl<'d> Builder<'d> {
    fn new(doc: &'d Document, sources: &'d Sources) -> Self {
        let mut problems = Diagnostics::default();
        doc.check_duplicate_fields(&mut problems);
        let mut directives = HashMap::new();
        for ty in doc.types.values() {
            let Kind::Object(fields) = &ty.kind else {
                continue;
            };
            for field in fields {
                match directives::read(&field.node.node.directives) {
                    Ok(read) => {
                        directives.insert(
                            (ty.name.clone(), field.node.node.name.node.to_string()),
                            read,
                        );
                    }
                    Err(errors) => {
                        for (pos, message) in errors {
                            problems.push(doc.error(field.file, pos, message));
                        }
                    }
                }
            }
        }
        let enums = doc
            .types
            .values()
            .filter_map(|ty| match &ty.kind {
                Kind::Enum(values) => {
                    let names = values
                        .iter()
                        .map(|value| value.node.value.node.to_string())
                        .collect();
                    Some((ty.name.as_str(), Arc::new(EnumValues { names })))
                }
                _ => None,
            })
            .collect();
        Self {
            doc,
            sources,
            directives,
            enums,
            problems,
        }
    }

    /// Whether `type_name` is the query, mutation or subscription root.
    pub fn is_root(&self, type_name: &str) -> bool {
        let roots = &self.doc.roots;
        [&roots.query, &roots.mutation, &roots.subscription].contains(&&type_name.to_owned())
    }

    /// The directives read off a field, if they could be read.
    pub fn directives_of(&self, type_name: &str, field: &str) -> Option<&FieldDirectives> {
        self.directives
            .get(&(type_name.to_owned(), field.to_owned()))
    }

    /// The JSON path a plain (not fetched) field reads from its parent:
    /// `@map(from:)` or the field's name. `None` for fetched fields.
    pub fn projection(&self, type_name: &str, field: &str) -> Option<Vec<String>> {
        let directives = self.directives_of(type_name, field)?;
        if directives.fetch.is_some() {
            return None;
        }
        Some(
            directives
                .map_from
                .as_ref()
                .map_or_else(|| vec![field.to_owned()], |from| from.value.clone()),
        )
    }

    /// The conversion shape of a declared output type.
    pub fn shape(&self, ty: &Type) -> Shape {
        let kind = match &ty.base {
            BaseType::List(item) => ShapeKind::List(Box::new(self.shape(item))),
            BaseType::Named(name) => match name.as_str() {
                "Int" => ShapeKind::Int,
                "Float" => ShapeKind::Float,
                "String" => ShapeKind::String,
                "ID" => ShapeKind::Id,
                "Boolean" => ShapeKind::Boolean,
                other => match (
                    self.enums.get(other),
                    self.doc.types.get(other).map(|ty| &ty.kind),
                ) {
                    (Some(values), _) => ShapeKind::Enum(values.clone()),
                    (None, Some(Kind::Object(_))) => ShapeKind::Object,
                    _ => ShapeKind::Scalar,
                },
            },
        };
        Shape {
            nullable: ty.nullable,
            kind,
        }
    }

    fn schema(&mut self) -> Result<Schema, String> {
        let roots = self.doc.roots.clone();
        if !self.doc.types.contains_key(&roots.query) {
            let file = self.doc.files.len().saturating_sub(1);
            self.problems.push(self.doc.error(
                file,
                async_graphql::Pos { line: 0, column: 0 },
                format!("the schema has no `{}` type", roots.query),
            ));
        }
        if let Some(ty) = self.doc.types.get(&roots.subscription) {
            self.problems.push(self.doc.error(
                ty.file,
                ty.pos,
                "subscriptions are not supported yet",
            ));
        }
        let mutation = self
            .doc
            .types
            .contains_key(&roots.mutation)
            .then_some(roots.mutation.as_str());
        let mut schema = Schema::build(&roots.query, mutation, None);
        let doc = self.doc;
        for ty in doc.types.values() {
            schema = match &ty.kind {
                Kind::Object(fields) => schema.register(self.object(ty, fields)),
                Kind::Input(fields) => schema.register(self.input_object(ty, fields)),
                Kind::Enum(values) => schema.register(enum_type(ty, values)),
                Kind::Scalar => schema.register(scalar(ty)),
            };
        }
        schema.finish().map_err(|error| error.0)
    }

    fn object(&mut self, ty: &'d TypeDef, fields: &'d [Located<FieldDefinition>]) -> Object {
        let mut object = Object::new(&ty.name);
        if let Some(description) = &ty.description {
            object = object.description(description);
        }
        for field in fields {
            if let Some(built) = self.field(Site { ty, field }) {
                object = object.field(built);
            }
        }
        object
    }

    fn field(&mut self, site: Site<'d>) -> Option<Field> {
        let definition = &site.field.node.node;
        let name = definition.name.node.as_str();
        self.check_type(site.field.file, &definition.ty, false, &site.name());
        for argument in &definition.arguments {
            self.check_type(site.field.file, &argument.node.ty, true, &site.name());
        }
        let directives = self.directives_of(&site.ty.name, name)?.clone();
        let ty = type_ref(&definition.ty.node);
        let shape = self.shape(&definition.ty.node);
        let mut field = match &directives.fetch {
            Some((pos, spec)) => {
                let (connector, response) = connect::connect(self, site, *pos, spec)?;
                fetch_field(
                    name,
                    ty,
                    Arc::new(FetchPlan {
                        connector,
                        response,
                        shape,
                    }),
                )
            }
            None if self.is_root(&site.ty.name) => {
                self.problems.push(self.doc.error(
                    site.field.file,
                    site.field.node.pos,
                    format!(
                        "root field `{}` needs @rest or @grpc to say where its value comes from",
                        site.name()
                    ),
                ));
                return None;
            }
            None => project_field(name, ty, self.projection(&site.ty.name, name)?, shape),
        };
        for argument in &definition.arguments {
            field = field.argument(input_value(&argument.node));
        }
        if let Some(description) = &definition.description {
            field = field.description(&description.node);
        }
        if let Some(reason) = directives.deprecated {
            field = field.deprecation(reason.as_deref());
        }
        Some(field)
    }

    fn input_object(
        &mut self,
        ty: &TypeDef,
        fields: &[Located<InputValueDefinition>],
    ) -> InputObject {
        let mut input = InputObject::new(&ty.name);
        if let Some(description) = &ty.description {
            input = input.description(description);
        }
        for field in fields {
            self.check_type(
                field.file,
                &field.node.node.ty,
                true,
                &format!("{}.{}", ty.name, field.node.node.name.node),
            );
            input = input.field(input_value(&field.node.node));
        }
        input
    }

    /// Checks that a field's or argument's type names a type of the right
    /// direction: input types for arguments, output types for fields.
    fn check_type(
        &mut self,
        file: usize,
        ty: &async_graphql::Positioned<Type>,
        input: bool,
        owner: &str,
    ) {
        let name = base_name(&ty.node);
        if BUILTIN_SCALARS.contains(&name) {
            return;
        }
        let problem = match self.doc.types.get(name).map(|found| &found.kind) {
            None => format!("`{owner}` uses type `{name}`, which is not defined"),
            Some(Kind::Object(_)) if input => {
                format!("`{owner}`: object type `{name}` cannot be used as an input")
            }
            Some(Kind::Input(_)) if !input => {
                format!("`{owner}`: input type `{name}` cannot be used as an output")
            }
            Some(_) => return,
        };
        self.problems.push(self.doc.error(file, ty.pos, problem));
    }
}

/// The innermost named type of a (list, non-null) type.
pub fn base_name(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => base_name(item),
    }
}

/// The dynamic schema's type reference for a parsed type.
fn type_ref(ty: &Type) -> TypeRef {
    let inner = match &ty.base {
        BaseType::Named(name) => TypeRef::named(name.to_string()),
        BaseType::List(item) => TypeRef::List(Box::new(type_ref(item))),
    };
    if ty.nullable {
        inner
    } else {
        TypeRef::NonNull(Box::new(inner))
    }
}

fn input_value(definition: &InputValueDefinition) -> InputValue {
    let mut value = InputValue::new(
        definition.name.node.to_string(),
        type_ref(&definition.ty.node),
    );
    if let Some(default) = &definition.default_value {
        value = value.default_value(default.node.clone());
    }
    if let Some(description) = &definition.description {
        value = value.description(&description.node);
    }
    value
}

fn enum_type(
    ty: &TypeDef,
    values: &[async_graphql::Positioned<async_graphql::parser::types::EnumValueDefinition>],
) -> Enum {
    let mut built = Enum::new(&ty.name);
    if let Some(description) = &ty.description {
        built = built.description(description);
    }
    let mut seen = HashSet::new();
    for value in values {
        let name = value.node.value.node.to_string();
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut item = EnumItem::new(name);
        if let Some(description) = &value.node.description {
            item = item.description(&description.node);
        }
        built = built.item(item);
    }
    built
}

fn scalar(ty: &TypeDef) -> Scalar {
    let mut scalar = Scalar::new(&ty.name);
    if let Some(description) = &ty.description {
        scalar = scalar.description(description);
    }
    scalar
}
