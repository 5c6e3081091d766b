//! Walks the merged document and builds two views of it: weft's
//! [`Model`] (every field's type and [`Binding`]), which requests are
//! planned from, and the async-graphql dynamic schema, which only answers
//! introspection and prints SDL (its resolvers are never asked for data).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface,
    InterfaceField, Object, Scalar, Schema, Subscription, SubscriptionField,
    SubscriptionFieldFuture, TypeRef, Union,
};
use async_graphql::parser::types::{BaseType, FieldDefinition, InputValueDefinition, Type};

use super::Sources;
use super::connect::{self, BatchVars, Connected, Target};
use super::directives::{self, Arg, Directives, EventSpec, FetchSpec, Location};
use super::document::{Document, Kind, Located, TypeDef};
use super::federation::{FieldSetNode, Origin};
use super::model::{
    self, AbstractType, Binding, EntityPlan, EnumValues, FetchPlan, FieldDef, GroupedPlan, Model,
    NamedType, ObjectType, PublishPlan, RequiredField, RootTypes, Shape, ShapeKind, SubgraphEntity,
    SubgraphField, SubgraphReference, TypeResolver, Typed,
};
use crate::error::Diagnostics;
use crate::json::KeyPath;
use crate::sources::batching::BatchPlan;
use crate::template::{Root, ValueTemplate, Var};

const BUILTIN_SCALARS: [&str; 5] = ["Int", "Float", "String", "Boolean", "ID"];

/// What the build knows about the document while it walks it.
pub struct Builder<'d> {
    /// The merged schema files.
    pub doc: &'d Document,
    /// The opened sources.
    pub sources: &'d Sources,
    /// Each field's directives, by `(type, field)`.
    directives: HashMap<(String, String), Directives>,
    /// Each object type's directives, by type.
    type_directives: HashMap<String, Directives>,
    enums: HashMap<&'d str, Arc<EnumValues>>,
    /// The batch plans of entity types (`@key` + `@rest`/`@grpc`), by type.
    entities: HashMap<String, Arc<BatchPlan>>,
    next_plan_id: usize,
    /// The model's types, filled in as the walk goes.
    model: HashMap<String, NamedType>,
    /// What the documents sent to each subgraph may name, by source.
    subgraph_types: HashMap<String, Arc<model::SubgraphTypes>>,
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

impl<'d> Site<'d> {
    /// The field's name.
    pub fn field_name(&self) -> &'d str {
        self.field.node.node.name.node.as_str()
    }

    /// `Type.field`, for messages.
    pub fn name(&self) -> String {
        format!("{}.{}", self.ty.name, self.field.node.node.name.node)
    }

    fn target(&self, batch: BatchVars) -> Target<'d> {
        Target {
            ty: self.ty,
            field: Some(self.field),
            file: self.field.file,
            label: self.name(),
            batch,
        }
    }
}

/// Builds the model and the introspection schema, or reports every
/// problem found.
pub fn build(doc: &Document, sources: &Sources) -> Result<(Model, Schema), Diagnostics> {
    let mut builder = Builder::new(doc, sources);
    let schema = builder.schema();
    let problems = std::mem::take(&mut builder.problems);
    problems.into_result(())?;
    let schema = schema.map_err(|message| {
        crate::error::Diagnostic::file(&doc.files[0], format!("the schema is invalid: {message}"))
    })?;
    let roots = &doc.roots;
    let present = |name: &String| builder.model.contains_key(name).then(|| name.clone());
    let model = Model {
        roots: RootTypes {
            query: roots.query.clone(),
            mutation: present(&roots.mutation),
            subscription: present(&roots.subscription),
        },
        types: builder.model,
    };
    Ok((model, schema))
}

impl<'d> Builder<'d> {
    fn new(doc: &'d Document, sources: &'d Sources) -> Self {
        let mut problems = Diagnostics::default();
        doc.check_duplicate_fields(&mut problems);
        let mut directives = HashMap::new();
        let mut type_directives = HashMap::new();
        for ty in doc.types.values() {
            let Kind::Object(fields) = &ty.kind else {
                continue;
            };
            match directives::read(&ty.directives, Location::Type) {
                Ok(read) => {
                    type_directives.insert(ty.name.clone(), read);
                }
                Err(errors) => {
                    for (pos, message) in errors {
                        problems.push(doc.error(ty.file, pos, message));
                    }
                }
            }
            for field in fields {
                match directives::read(&field.node.node.directives, Location::Field) {
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
        let enums: HashMap<&str, Arc<EnumValues>> = doc
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
        let enum_names: HashSet<String> = enums.keys().map(|name| (*name).to_owned()).collect();
        let subgraph_types = sources
            .graphql
            .keys()
            .map(|source| {
                let types = model::SubgraphTypes {
                    enums: enum_names.clone(),
                    objects: doc.subgraph_types.get(source).cloned().unwrap_or_default(),
                };
                (source.clone(), Arc::new(types))
            })
            .collect();
        Self {
            subgraph_types,
            doc,
            sources,
            directives,
            type_directives,
            enums,
            entities: HashMap::new(),
            next_plan_id: 0,
            model: HashMap::new(),
            problems,
        }
    }

    /// Whether `type_name` is the query, mutation or subscription root.
    pub fn is_root(&self, type_name: &str) -> bool {
        let roots = &self.doc.roots;
        [&roots.query, &roots.mutation, &roots.subscription].contains(&&type_name.to_owned())
    }

    /// The directives read off a field, if they could be read.
    pub fn directives_of(&self, type_name: &str, field: &str) -> Option<&Directives> {
        self.directives
            .get(&(type_name.to_owned(), field.to_owned()))
    }

    /// The JSON path a plain (not fetched) field reads from its parent:
    /// `@map(from:)` or the field's name. `None` for fetched fields
    /// (subgraph fields included).
    pub fn projection(&self, type_name: &str, field: &str) -> Option<Vec<String>> {
        let pair = (type_name.to_owned(), field.to_owned());
        if self.doc.federated.contains_key(&pair) {
            return None;
        }
        let directives = self.directives_of(type_name, field)?;
        if directives.fetch.is_some() || directives.entity_key.is_some() {
            return None;
        }
        Some(
            directives
                .map_from
                .as_ref()
                .map_or_else(|| vec![field.to_owned()], |from| from.value.clone()),
        )
    }

    /// The values of enum type `name`.
    pub fn enum_values(&self, name: &str) -> Option<&EnumValues> {
        self.enums.get(name).map(AsRef::as_ref)
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
                    (None, Some(Kind::Object(_) | Kind::Interface(_) | Kind::Union(_))) => {
                        ShapeKind::Object
                    }
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
        self.entities();
        let mutation = self
            .doc
            .types
            .contains_key(&roots.mutation)
            .then_some(roots.mutation.as_str());
        let subscription = self.doc.types.get(&roots.subscription);
        let mut schema = Schema::build(
            &roots.query,
            mutation,
            subscription.map(|ty| ty.name.as_str()),
        );
        let doc = self.doc;
        for ty in doc.types.values() {
            schema = match &ty.kind {
                Kind::Object(fields) if ty.name == roots.subscription => {
                    schema.register(self.subscription(ty, fields))
                }
                Kind::Object(fields) => schema.register(self.object(ty, fields)),
                Kind::Interface(fields) => schema.register(self.interface(ty, fields)),
                Kind::Union(members) => schema.register(self.union(ty, members)),
                Kind::Input(fields) => schema.register(self.input_object(ty, fields)),
                Kind::Enum(values) => {
                    let names = self.enums.get(ty.name.as_str()).cloned();
                    self.model
                        .insert(ty.name.clone(), NamedType::Enum(names.unwrap_or_default()));
                    schema.register(enum_type(ty, values))
                }
                Kind::Scalar => {
                    self.model.insert(ty.name.clone(), NamedType::Scalar);
                    schema.register(scalar(ty))
                }
            };
        }
        schema.finish().map_err(|error| error.0)
    }

    fn object(&mut self, ty: &'d TypeDef, fields: &'d [Located<FieldDefinition>]) -> Object {
        let mut object = Object::new(&ty.name);
        if let Some(description) = &ty.description {
            object = object.description(description);
        }
        for interface in &ty.implements {
            object = object.implement(interface);
        }
        let mut bound = HashMap::new();
        for field in fields {
            let site = Site { ty, field };
            if let Some((built, binding)) = self.field(site) {
                object = object.field(built);
                bound.insert(site.field_name().to_owned(), self.field_def(site, binding));
            }
        }
        self.add_object(ty, bound);
        object
    }

    /// An interface's introspection entry. Its fields take their values
    /// from each object type's own field, so directives that say where a
    /// value comes from are refused on them.
    fn interface(&mut self, ty: &'d TypeDef, fields: &'d [Located<FieldDefinition>]) -> Interface {
        let mut interface = Interface::new(&ty.name);
        if let Some(description) = &ty.description {
            interface = interface.description(description);
        }
        for name in &ty.implements {
            interface = interface.implement(name);
        }
        for field in fields {
            let site = Site { ty, field };
            let definition = &field.node.node;
            self.check_type(field.file, &definition.ty, false, &site.name());
            let mut built =
                InterfaceField::new(definition.name.node.as_str(), type_ref(&definition.ty.node));
            for argument in &definition.arguments {
                self.check_type(field.file, &argument.node.ty, true, &site.name());
                built = built.argument(input_value(&argument.node));
            }
            if let Some(description) = &definition.description {
                built = built.description(&description.node);
            }
            if let Some(reason) = self.interface_field_directives(site).deprecated {
                built = built.deprecation(reason.as_deref());
            }
            interface = interface.field(built);
        }
        self.add_abstract(ty);
        interface
    }

    /// An interface field's directives; any that binds a value is
    /// reported.
    fn interface_field_directives(&mut self, site: Site<'d>) -> Directives {
        let field = site.field;
        match directives::read(&field.node.node.directives, Location::Field) {
            Ok(read) => {
                let binds = read.fetch.is_some()
                    || read.entity_key.is_some()
                    || read.map_from.is_some()
                    || read.event.is_some()
                    || read.publish.is_some();
                if binds {
                    let message = format!(
                        "`{}` is a field of an interface: each object type's own field says where its value comes from",
                        site.name()
                    );
                    self.problems
                        .push(self.doc.error(field.file, field.node.pos, message));
                }
                read
            }
            Err(errors) => {
                for (pos, message) in errors {
                    self.problems.push(self.doc.error(field.file, pos, message));
                }
                Directives::default()
            }
        }
    }

    /// A union's introspection entry; its members must be object types.
    fn union(
        &mut self,
        ty: &'d TypeDef,
        members: &'d [async_graphql::Positioned<async_graphql::Name>],
    ) -> Union {
        let mut union = Union::new(&ty.name);
        if let Some(description) = &ty.description {
            union = union.description(description);
        }
        for member in members {
            let name = member.node.as_str();
            if !matches!(
                self.doc.types.get(name).map(|found| &found.kind),
                Some(Kind::Object(_))
            ) {
                let message = format!("union `{}`: member `{name}` is not an object type", ty.name);
                self.problems
                    .push(self.doc.error(ty.file, member.pos, message));
            }
            union = union.possible_type(name);
        }
        self.add_abstract(ty);
        union
    }

    /// The object types a value of interface or union `ty` may be.
    fn possible_types(&self, ty: &TypeDef) -> Vec<String> {
        if let Kind::Union(members) = &ty.kind {
            return members
                .iter()
                .map(|member| member.node.to_string())
                .collect();
        }
        self.doc.implementations(&ty.name)
    }

    /// Enters interface or union `ty` in the model, with how its values'
    /// types are told (`@discriminator`).
    fn add_abstract(&mut self, ty: &TypeDef) {
        let possible = self.possible_types(ty);
        let mut path = vec!["__typename".to_owned()];
        let mut mapping = HashMap::new();
        match directives::read(&ty.directives, Location::Abstract) {
            Ok(read) => {
                let discriminator = read.discriminator.unwrap_or_default();
                if let Some(field) = discriminator.field {
                    path = field.value;
                }
                for (value, named) in discriminator.mapping {
                    if possible.contains(&named.value) {
                        mapping.insert(value, named.value);
                    } else {
                        let message = format!(
                            "@discriminator(mapping:) of `{}`: `{}` is not one of its types ({})",
                            ty.name,
                            named.value,
                            possible.join(", ")
                        );
                        self.problems
                            .push(self.doc.error(ty.file, named.pos, message));
                    }
                }
            }
            Err(errors) => {
                for (pos, message) in errors {
                    self.problems.push(self.doc.error(ty.file, pos, message));
                }
            }
        }
        let resolver = Arc::new(TypeResolver::new(&ty.name, path.into(), mapping, &possible));
        self.model.insert(
            ty.name.clone(),
            NamedType::Abstract(AbstractType { possible, resolver }),
        );
    }

    fn add_object(&mut self, ty: &TypeDef, fields: HashMap<String, Arc<FieldDef>>) {
        let object = ObjectType {
            name: ty.name.clone(),
            fields,
        };
        self.model
            .insert(ty.name.clone(), NamedType::Object(object));
    }

    /// The model's entry for a field bound to `binding`.
    fn field_def(&self, site: Site<'d>, binding: Binding) -> Arc<FieldDef> {
        let definition = &site.field.node.node;
        let own = self
            .directives_of(&site.ty.name, site.field_name())
            .map(|directives| directives.access.clone())
            .unwrap_or_default();
        let of_type = self
            .type_directives
            .get(base_name(&definition.ty.node))
            .map(|directives| &directives.access);
        let access = match of_type {
            Some(of_type) => own.and(of_type),
            None => own,
        };
        Arc::new(FieldDef {
            name: site.field_name().to_owned(),
            ty: model_type(&definition.ty.node),
            shape: self.shape(&definition.ty.node),
            args: definition
                .arguments
                .iter()
                .map(|argument| model_input(&argument.node))
                .collect(),
            binding,
            access,
        })
    }

    fn subscription(
        &mut self,
        ty: &'d TypeDef,
        fields: &'d [Located<FieldDefinition>],
    ) -> Subscription {
        let mut subscription = Subscription::new(&ty.name);
        if let Some(description) = &ty.description {
            subscription = subscription.description(description);
        }
        let mut bound = HashMap::new();
        for field in fields {
            let site = Site { ty, field };
            let definition = &field.node.node;
            self.check_type(field.file, &definition.ty, false, &site.name());
            let Some(binding) = self.subscription_field(site) else {
                continue;
            };
            bound.insert(site.field_name().to_owned(), self.field_def(site, binding));
            let mut built = SubscriptionField::new(
                definition.name.node.as_str(),
                type_ref(&definition.ty.node),
                |_| {
                    SubscriptionFieldFuture::new(async {
                        Ok(futures::stream::empty::<
                            async_graphql::Result<FieldValue<'static>>,
                        >())
                    })
                },
            );
            for argument in &definition.arguments {
                self.check_type(field.file, &argument.node.ty, true, &site.name());
                built = built.argument(input_value(&argument.node));
            }
            if let Some(description) = &definition.description {
                built = built.description(&description.node);
            }
            subscription = subscription.field(built);
        }
        self.add_object(ty, bound);
        subscription
    }

    /// A subscription field: `@event` on a bus topic, `@grpc` on a
    /// server-streaming method, or a subgraph's.
    fn subscription_field(&mut self, site: Site<'d>) -> Option<Binding> {
        let definition = &site.field.node.node;
        let name = definition.name.node.as_str();
        let pair = (site.ty.name.clone(), name.to_owned());
        if let Some(origin) = self.doc.federated.get(&pair) {
            return self.subgraph_field(site, origin);
        }
        let directives = self.directives_of(&site.ty.name, name)?.clone();
        let target = site.target(BatchVars::None);
        let built = match (&directives.event, &directives.fetch) {
            (Some(event), None) => connect::event_plan(self, &target, event, &definition.ty.node)
                .map(|plan| Binding::Event(Arc::new(plan))),
            (None, Some((pos, FetchSpec::Grpc(grpc)))) => {
                connect::stream_plan(self, &target, *pos, grpc, &definition.ty.node)
                    .map(|plan| Binding::Stream(Arc::new(plan)))
            }
            _ => {
                let message = format!(
                    "subscription field `{}` needs @event(topic:) or @grpc on a server-streaming method",
                    site.name()
                );
                Err(vec![self.doc.error(
                    site.field.file,
                    site.field.node.pos,
                    message,
                )])
            }
        };
        built
            .map_err(|problems| self.problems.extend(problems))
            .ok()
    }

    /// A field's introspection entry and its binding.
    fn field(&mut self, site: Site<'d>) -> Option<(Field, Binding)> {
        let definition = &site.field.node.node;
        let name = definition.name.node.as_str();
        self.check_type(site.field.file, &definition.ty, false, &site.name());
        for argument in &definition.arguments {
            self.check_type(site.field.file, &argument.node.ty, true, &site.name());
        }
        let directives = self.directives_of(&site.ty.name, name)?.clone();
        let pair = (site.ty.name.clone(), name.to_owned());
        if let Some(origin) = self.doc.federated.get(&pair) {
            let binding = self.subgraph_field(site, origin)?;
            return Some((Self::introspection_field(site, &directives), binding));
        }
        if let Some(binding) = self.subgraph_reference(site) {
            return Some((Self::introspection_field(site, &directives), binding));
        }
        let publish = match &directives.publish {
            Some(spec) => Some(Arc::new(self.publish_plan(site, spec)?)),
            None => None,
        };
        let binding = if let Some((pos, spec)) = &directives.fetch {
            self.fetched(site, *pos, spec, publish)?
        } else if let Some(publish) = publish {
            Binding::Publish(publish)
        } else if let Some(key) = &directives.entity_key {
            self.entity_field(site, key)?
        } else if self.is_root(&site.ty.name) {
            self.problems.push(self.doc.error(
                site.field.file,
                site.field.node.pos,
                format!("root field `{}` needs @rest, @grpc or @entity to say where its value comes from", site.name()),
            ));
            return None;
        } else {
            Binding::Project(self.projection(&site.ty.name, name)?.into())
        };
        Some((Self::introspection_field(site, &directives), binding))
    }

    /// A field's introspection entry.
    fn introspection_field(site: Site<'d>, directives: &Directives) -> Field {
        let definition = &site.field.node.node;
        let name = definition.name.node.as_str();
        let mut field = Field::new(name, type_ref(&definition.ty.node), |_| {
            FieldFuture::Value(None)
        });
        for argument in &definition.arguments {
            field = field.argument(input_value(&argument.node));
        }
        if let Some(description) = &definition.description {
            field = field.description(&description.node);
        }
        if let Some(reason) = &directives.deprecated {
            field = field.deprecation(reason.as_deref());
        }
        field
    }

    /// The binding of a subgraph's field whose type is an entity owned by
    /// another source: a REST or gRPC source's entity is loaded through
    /// its batch, another subgraph's through that subgraph's `_entities`,
    /// with the key the subgraph returns. `None` for every other field.
    fn subgraph_reference(&self, site: Site<'d>) -> Option<Binding> {
        let from_subgraph = self
            .doc
            .subgraph_files
            .is_some_and(|first| site.field.file >= first);
        if !from_subgraph {
            return None;
        }
        let entity = base_name(&site.field.node.node.ty.node);
        let field = site.field_name().to_owned();
        let pair = (site.ty.name.clone(), field.clone());
        let provided = self.doc.provides.get(&pair).cloned().unwrap_or_default();
        let Some(batch) = self.entities.get(entity).cloned() else {
            return self.owned_by_subgraph(site, entity, provided);
        };
        let part = |key: &String| {
            ValueTemplate::Var(Var {
                root: Root::This,
                path: vec![field.clone(), key.clone()].into(),
            })
        };
        let key = match batch.key_names.as_slice() {
            [one] => part(one),
            many => {
                ValueTemplate::Object(many.iter().map(|key| (key.clone(), part(key))).collect())
            }
        };
        let plan = EntityPlan {
            batch,
            key,
            entity: entity.to_owned(),
            provided,
        };
        Some(Binding::Entity(Arc::new(plan)))
    }

    /// A subgraph's field returning `entity`, which another subgraph owns
    /// and resolves by key: asked from the owner per operation.
    fn owned_by_subgraph(
        &self,
        site: Site<'d>,
        entity: &str,
        provided: Vec<String>,
    ) -> Option<Binding> {
        let owner_file = self.doc.types.get(entity)?.file;
        let (owner, key) = self.doc.owned_entities.get(entity)?;
        if owner_file == site.field.file {
            return None;
        }
        let source = self.sources.graphql.get(owner)?.clone();
        Some(Binding::Subgraph(Arc::new(SubgraphField {
            source,
            name: site.field_name().to_owned(),
            entity: None,
            types: self.subgraph_types(owner),
            reference: Some(SubgraphReference {
                type_name: entity.to_owned(),
                key: key.clone(),
                provided,
            }),
            owner: None,
        })))
    }

    /// What the documents sent to subgraph `source` may name.
    fn subgraph_types(&self, source: &str) -> Arc<model::SubgraphTypes> {
        self.subgraph_types.get(source).cloned().unwrap_or_default()
    }

    /// The owner of `returned` when it is an entity another subgraph than
    /// the one in `file` owns and resolves by key (`None` when it is not
    /// an entity owned elsewhere); the error says why such a value cannot
    /// be loaded.
    fn foreign_entity(
        &self,
        returned: &str,
        file: usize,
    ) -> Result<Option<model::EntityOwner>, &'static str> {
        if self.entities.contains_key(returned) {
            return Err("an entity a REST or gRPC source owns");
        }
        let Some(ty) = self.doc.types.get(returned).filter(|ty| ty.file != file) else {
            return Ok(None);
        };
        let Some((owner, key)) = self.doc.owned_entities.get(returned) else {
            return Ok(None);
        };
        if !matches!(ty.kind, Kind::Object(_)) {
            return Err("an entity interface another subgraph owns");
        }
        let Some(source) = self.sources.graphql.get(owner).cloned() else {
            return Ok(None);
        };
        Ok(Some(model::EntityOwner {
            source,
            types: self.subgraph_types(owner),
            entity: SubgraphReference {
                type_name: returned.to_owned(),
                key: key.clone(),
                provided: Vec::new(),
            },
        }))
    }

    /// How each top-level field of `@requires(fields:)` on a field of
    /// `type_name` is read from the parent and typed for the
    /// representation.
    fn required_parts(&self, type_name: &str, nodes: &[FieldSetNode]) -> Vec<RequiredField> {
        nodes
            .iter()
            .map(|node| {
                let projected = self.projection(type_name, &node.name);
                let fetched = projected.is_none();
                let path = projected.unwrap_or_else(|| vec![node.name.clone()]);
                RequiredField {
                    name: node.name.clone(),
                    read: required_template(path, &node.children),
                    typed: self.required_type(type_name, node),
                    fetched,
                }
            })
            .collect()
    }

    /// How the field `node` names on `type_name` is typed, with its
    /// selected fields.
    fn required_type(&self, type_name: &str, node: &FieldSetNode) -> Typed {
        let definition = match self.doc.types.get(type_name).map(|ty| &ty.kind) {
            Some(Kind::Object(fields)) => fields
                .iter()
                .find(|field| field.node.node.name.node == node.name)
                .map(|field| &field.node.node.ty.node),
            _ => None,
        };
        let Some(ty) = definition else {
            return Typed::Object(Vec::new());
        };
        if node.children.is_empty() {
            return Typed::Leaf(self.shape(ty));
        }
        let inner = base_name(ty);
        Typed::Object(
            node.children
                .iter()
                .map(|child| (child.name.clone(), self.required_type(inner, child)))
                .collect(),
        )
    }

    fn subgraph_field(&mut self, site: Site<'d>, origin: &Origin) -> Option<Binding> {
        let (source, key, represented_as) = match origin {
            Origin::Root { source } => (source, None, None),
            Origin::Entity {
                source,
                key,
                represented_as,
            } => (source, Some(key), represented_as.as_ref()),
        };
        let returned = base_name(&site.field.node.node.ty.node);
        let owner = match self.foreign_entity(returned, site.field.file) {
            Ok(owner) => owner,
            Err(why) => {
                let message = format!(
                    "subgraph `{source}`: `{}`: a subgraph's root field, or a field it adds to an entity, cannot return `{returned}`, {why} (not supported yet)",
                    site.name()
                );
                self.problems.push(
                    self.doc
                        .error(site.field.file, site.field.node.pos, message),
                );
                return None;
            }
        };
        let Some(graphql) = self.sources.graphql.get(source).cloned() else {
            let message = format!("{}: source `{source}` is not a GraphQL source", site.name());
            self.problems.push(
                self.doc
                    .error(site.field.file, site.field.node.pos, message),
            );
            return None;
        };
        let pair = (site.ty.name.clone(), site.field_name().to_owned());
        let requires = self.doc.requires.get(&pair).map(|text| {
            let nodes = super::federation::field_set(text);
            let parts = self.required_parts(&site.ty.name, &nodes);
            for (node, _) in nodes
                .iter()
                .zip(&parts)
                .filter(|(node, part)| part.fetched && !node.children.is_empty())
            {
                let message = format!(
                    "subgraph `{source}`: `{}`: @requires of `{}`, a field with a selection fetched by a call of its own, is not supported yet",
                    site.name(),
                    node.name
                );
                self.problems
                    .push(self.doc.error(site.field.file, site.field.node.pos, message));
            }
            let read: Vec<String> = nodes
                .iter()
                .zip(&parts)
                .filter(|(_, part)| !part.fetched)
                .map(|(node, _)| node.to_string())
                .collect();
            (read.join(" "), parts)
        });
        let entity = key.map(|key| SubgraphEntity {
            requires,
            type_name: represented_as.unwrap_or(&site.ty.name).clone(),
            key: key
                .iter()
                .map(|part| {
                    let path = self.projection(&site.ty.name, part);
                    (part.clone(), path.unwrap_or_else(|| vec![part.clone()]))
                })
                .collect(),
        });
        Some(Binding::Subgraph(Arc::new(SubgraphField {
            types: self.subgraph_types(source),
            source: graphql,
            name: site.field_name().to_owned(),
            entity,
            reference: None,
            owner: owner.map(|mut owner| {
                owner.entity.provided = self.doc.provides.get(&pair).cloned().unwrap_or_default();
                owner
            }),
        })))
    }

    /// A field with its own `@rest`/`@grpc`: one call per field, or, with
    /// `groupBy`, one call per batch of parents.
    fn publish_plan(&mut self, site: Site<'d>, spec: &EventSpec) -> Option<PublishPlan> {
        if site.ty.name != self.doc.roots.mutation {
            let message = format!(
                "{}: @publish is only allowed on mutation fields",
                site.name()
            );
            self.problems
                .push(self.doc.error(site.field.file, spec.topic.pos, message));
            return None;
        }
        connect::publish_plan(self, &site.target(BatchVars::None), spec)
            .map_err(|problems| self.problems.extend(problems))
            .ok()
    }

    fn fetched(
        &mut self,
        site: Site<'d>,
        pos: async_graphql::Pos,
        spec: &FetchSpec,
        publish: Option<Arc<PublishPlan>>,
    ) -> Option<Binding> {
        let declared = &site.field.node.node.ty.node;
        let group_by = match spec {
            FetchSpec::Rest(rest) => rest.group_by.clone(),
            FetchSpec::Grpc(grpc) => grpc.group_by.clone(),
        };
        let Some(group_by) = group_by else {
            let connected = self.connect(&site.target(BatchVars::None), pos, spec, declared)?;
            let dedupe = site.ty.name != self.doc.roots.mutation;
            let plan = FetchPlan {
                connector: connected.connector,
                response: connected.response,
                dedupe,
                publish,
            };
            return Some(Binding::Fetch(Arc::new(plan)));
        };
        let connected = self.connect(
            &site.target(BatchVars::Parent),
            pos,
            spec,
            &as_list(declared),
        )?;
        let [parent_key] = connected.batch_names.as_slice() else {
            let message = format!(
                "{}: `groupBy` batches by one parent field: use it as `$batch.<field>` in the request",
                site.name()
            );
            self.problems
                .push(self.doc.error(site.field.file, group_by.pos, message));
            return None;
        };
        let key = ValueTemplate::Var(Var {
            root: Root::This,
            path: self.projection(&site.ty.name, parent_key)?.into(),
        });
        let parent_key = parent_key.clone();
        let batch = self.batch_plan(connected, vec![path_of(&group_by)]);
        let place = self.doc.place(site.field.file, group_by.pos);
        Some(Binding::Grouped(Arc::new(GroupedPlan {
            after: Vec::new(),
            batch,
            key,
            parent_key,
            group_by: (group_by.value.clone(), place),
            pick: None,
        })))
    }

    /// A field declared with `@entity(key:)`: the entity is loaded through its
    /// type's batch.
    fn entity_field(&mut self, site: Site<'d>, key: &Arg<String>) -> Option<Binding> {
        let entity = base_name(&site.field.node.node.ty.node);
        let Some(batch) = self.entities.get(entity).cloned() else {
            if self
                .type_directives
                .get(entity)
                .is_some_and(|directives| directives.key.is_some())
            {
                // The type's own directive failed, and that was reported.
                return None;
            }
            let message = format!(
                "{}: type `{entity}` is not an entity: give it @key and a @rest or @grpc that fetches many by `$batch`",
                site.name()
            );
            self.problems
                .push(self.doc.error(site.field.file, key.pos, message));
            return None;
        };
        let template = match connect::entity_key(self, &site.target(BatchVars::None), key) {
            Ok(template) => template,
            Err(problems) => {
                self.problems.extend(problems);
                return None;
            }
        };
        let plan = EntityPlan {
            batch,
            key: template,
            entity: entity.to_owned(),
            provided: Vec::new(),
        };
        Some(Binding::Entity(Arc::new(plan)))
    }

    /// Reads every type's `@key` and batch directive into entity batch plans.
    fn entities(&mut self) {
        for ty in self.doc.types.values() {
            let Some(directives) = self.type_directives.get(&ty.name).cloned() else {
                continue;
            };
            let label = format!("type `{}`", ty.name);
            let (key, (pos, spec)) = match (directives.key, directives.fetch) {
                (None, None) => continue,
                (Some(key), Some(fetch)) => (key, fetch),
                (Some(key), None) => {
                    let message = format!(
                        "{label}: @key needs a @rest or @grpc on the type that fetches many by `$batch.<key>`"
                    );
                    self.problems
                        .push(self.doc.error(ty.file, key.pos, message));
                    continue;
                }
                (None, Some((pos, _))) => {
                    self.problems.push(self.doc.error(
                        ty.file,
                        pos,
                        format!("{label}: a @rest or @grpc on a type needs @key(fields:)"),
                    ));
                    continue;
                }
            };
            let match_paths: Option<Vec<Vec<String>>> = key
                .value
                .iter()
                .map(|field| self.projection(&ty.name, field))
                .collect();
            let Some(match_paths) = match_paths.filter(|paths| !paths.is_empty()) else {
                let message =
                    format!("{label}: @key names fields that are not plain fields of the type");
                self.problems
                    .push(self.doc.error(ty.file, key.pos, message));
                continue;
            };
            let target = Target {
                ty,
                field: None,
                file: ty.file,
                label: label.clone(),
                batch: BatchVars::Keys(key.value.clone()),
            };
            let expected = as_list(&Type {
                base: BaseType::Named(async_graphql::Name::new(&ty.name)),
                nullable: true,
            });
            let Some(connected) = self.connect(&target, pos, &spec, &expected) else {
                continue;
            };
            if connected.batch_names.is_empty() {
                self.problems.push(self.doc.error(
                    ty.file,
                    pos,
                    format!("{label}: the request must carry the keys as `$batch.<key field>`"),
                ));
                continue;
            }
            let mut connected = connected;
            connected.batch_names.clone_from(&key.value);
            let plan = self.batch_plan(connected, match_paths);
            self.entities.insert(ty.name.clone(), plan);
        }
    }

    fn connect(
        &mut self,
        target: &Target<'_>,
        pos: async_graphql::Pos,
        spec: &FetchSpec,
        expected: &Type,
    ) -> Option<Connected> {
        match connect::connect(self, target, pos, spec, expected) {
            Ok(connected) => {
                self.check_openapi(target, spec, expected);
                Some(connected)
            }
            Err(problems) => {
                self.problems.extend(problems);
                None
            }
        }
    }

    /// Checks a bound `@rest` against its source's OpenAPI document, when
    /// the source names one.
    fn check_openapi(&mut self, target: &Target<'_>, spec: &FetchSpec, expected: &Type) {
        let FetchSpec::Rest(rest) = spec else {
            return;
        };
        let Some(doc) = self.sources.openapi.get(&rest.source.value) else {
            return;
        };
        let problems = super::openapi_check::check(self, target, rest, expected, doc);
        self.problems.extend(problems);
    }

    fn batch_plan(
        &mut self,
        connected: Connected,
        match_paths: Vec<Vec<String>>,
    ) -> Arc<BatchPlan> {
        self.next_plan_id += 1;
        Arc::new(BatchPlan {
            id: self.next_plan_id,
            graphql: connected.connector.speaks_graphql(),
            connector: connected.connector,
            key_names: connected.batch_names,
            match_paths: match_paths.into_iter().map(KeyPath::from).collect(),
            response: connected.response.into(),
            max_batch_size: connected.max_batch_size,
            fields: Vec::new(),
        })
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
        let model_fields = fields.iter().map(|field| model_input(&field.node.node));
        self.model
            .insert(ty.name.clone(), NamedType::Input(model_fields.collect()));
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
            Some(Kind::Object(_) | Kind::Interface(_) | Kind::Union(_)) if input => {
                format!("`{owner}`: output type `{name}` cannot be used as an input")
            }
            Some(Kind::Input(_)) if !input => {
                format!("`{owner}`: input type `{name}` cannot be used as an output")
            }
            Some(_) => return,
        };
        self.problems.push(self.doc.error(file, ty.pos, problem));
    }
}

/// `[T]` for a `T` that is not already a list.
fn as_list(ty: &Type) -> Type {
    match ty.base {
        BaseType::List(_) => ty.clone(),
        BaseType::Named(_) => Type {
            base: BaseType::List(Box::new(ty.clone())),
            nullable: true,
        },
    }
}

fn path_of(arg: &Arg<String>) -> Vec<String> {
    arg.value.split('.').map(str::to_owned).collect()
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

/// The model's form of a declared type.
fn model_type(ty: &Type) -> model::TypeRef {
    let inner = match &ty.base {
        BaseType::Named(name) => model::TypeRef::Named(name.to_string()),
        BaseType::List(item) => model::TypeRef::List(Box::new(model_type(item))),
    };
    if ty.nullable {
        inner
    } else {
        model::TypeRef::NonNull(Box::new(inner))
    }
}

/// The model's form of an argument or input field.
fn model_input(definition: &InputValueDefinition) -> model::InputValue {
    model::InputValue {
        name: definition.name.node.to_string(),
        ty: model_type(&definition.ty.node),
        default: definition
            .default_value
            .as_ref()
            .and_then(|default| default.node.clone().into_json().ok()),
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

/// Reads a required field at `path` of the parent: the value itself for a
/// leaf, an object of only the selected fields for `field { … }`.
fn required_template(path: Vec<String>, children: &[FieldSetNode]) -> ValueTemplate {
    if children.is_empty() {
        return ValueTemplate::Var(Var {
            root: Root::This,
            path: path.into(),
        });
    }
    ValueTemplate::Object(
        children
            .iter()
            .map(|child| {
                let mut inner = path.clone();
                inner.push(child.name.clone());
                (
                    child.name.clone(),
                    required_template(inner, &child.children),
                )
            })
            .collect(),
    )
}
