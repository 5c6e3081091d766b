//! Protobuf wire bytes → canonical proto3 JSON text, read straight from the
//! wire with the message's descriptor: no dynamic message is built on the
//! way.
//!
//! The text is what prost-reflect's serializer writes with default values
//! included (`SerializeOptions::skip_default_fields(false)`): fields by
//! their JSON names in field-number order, 64-bit integers as strings, enums
//! by name (`null` for `google.protobuf.NullValue`), bytes in base64,
//! non-finite floats as `"NaN"`/`"Infinity"`, a field that tracks presence
//! (a message, a oneof member, an `optional`) only when set, every other
//! field always. `google.protobuf.Timestamp` is written here too; the other
//! well-known types, groups and anything this reader does not expect are
//! handed to prost-reflect, so the result is the same text either way, and
//! a malformed message gets prost-reflect's error.

use std::collections::HashMap;

use prost_reflect::{
    DynamicMessage, EnumDescriptor, FieldDescriptor, Kind, MessageDescriptor, SerializeOptions,
    Value as ProtoValue,
};
use rustc_hash::FxHashMap;

use crate::json::{Doc, DocBuilder, MemberKey, write_string};

/// Writes messages of one type (and the types inside it) as JSON text:
/// what to do with each field is worked out once, from the descriptors,
/// when it is built.
#[derive(Debug)]
pub struct Transcoder {
    /// The root message's layout first, then every message type reachable
    /// from it, each once.
    layouts: Vec<Layout>,
}

impl Transcoder {
    /// The transcoder of messages of type `descriptor`.
    pub fn new(descriptor: &MessageDescriptor) -> Self {
        let mut builder = Builder::default();
        builder.add(descriptor);
        Self {
            layouts: builder.layouts.layouts,
        }
    }

    /// The transcoder of messages of type `descriptor` that writes, of
    /// each message found at `items` (JSON names of message fields from
    /// the root), only the fields whose JSON names are in `members`; the
    /// rest are skipped on the wire, unread. `None` when `items` does not
    /// lead to a message type of fields, or when that type stands
    /// anywhere else in the answer too (cut there, it would lose what is
    /// read of it).
    pub fn projected(
        descriptor: &MessageDescriptor,
        items: &[String],
        members: &[String],
    ) -> Option<Self> {
        if items.is_empty() {
            return None;
        }
        let item = items.iter().try_fold(descriptor.clone(), |message, name| {
            let field = message.fields().find(|field| field.json_name() == name)?;
            match field.kind() {
                Kind::Message(inner) if !field.is_map() => Some(inner),
                _ => None,
            }
        })?;
        let plain = !SPECIAL.contains(&item.full_name());
        if !plain || uses_of(descriptor, item.full_name()) != 1 {
            return None;
        }
        let mut builder = Builder {
            kept: Some((item.full_name().to_owned(), members.to_vec())),
            ..Builder::default()
        };
        builder.add(descriptor);
        Some(Self {
            layouts: builder.layouts.layouts,
        })
    }

    /// The message in `bytes` as canonical JSON text.
    pub fn message_json(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        self.message(bytes).map(DocBuilder::into_text)
    }

    /// The message in `bytes` as a document of its canonical JSON, its
    /// nodes recorded as it is written rather than parsed afterwards.
    pub fn message_doc(&self, bytes: &[u8]) -> Result<Doc, String> {
        self.message(bytes)?.finish()
    }

    fn message(&self, bytes: &[u8]) -> Result<DocBuilder, String> {
        let mut out = DocBuilder::with_capacity(bytes.len() * 2);
        if self.write(0, bytes, &mut out).is_ok() {
            return Ok(out);
        }
        let descriptor = &self.layouts[0].descriptor;
        let mut out = DocBuilder::default();
        serialized_value(descriptor, bytes, &mut out).map_err(
            |()| match DynamicMessage::decode(descriptor.clone(), bytes) {
                Err(error) => error.to_string(),
                Ok(_) => "the message cannot be written as JSON".to_owned(),
            },
        )?;
        Ok(out)
    }

    fn write(&self, layout: usize, bytes: &[u8], out: &mut DocBuilder) -> Written {
        let layout = &self.layouts[layout];
        match layout.form {
            Form::Fields => {}
            Form::Timestamp => return timestamp(bytes, out),
            Form::Serialized => {
                return serialized_value(&layout.descriptor, bytes, out).map_err(|()| Unsupported);
            }
        }
        if layout.streams {
            let mark = out.mark();
            match self.write_in_order(layout, bytes, out) {
                Ok(()) => return Ok(()),
                Err(Stop::Unsupported) => return Err(Unsupported),
                Err(Stop::Unordered) => out.rewind(mark),
            }
        }
        self.write_sorted(layout, bytes, out)
    }

    /// Writes a message whose fields come in number order, each singular
    /// one at most once (as encoders write them), in one pass along the
    /// wire and the layout together; `Unordered` as soon as the wire is
    /// not so.
    fn write_in_order(
        &self,
        layout: &Layout,
        bytes: &[u8],
        out: &mut DocBuilder,
    ) -> Result<(), Stop> {
        let mut wire = InOrder { bytes, last: 0 };
        let mut next = wire.next()?;
        out.open_object();
        let mut first = true;
        for field in &layout.fields {
            while let Some((number, _)) = next
                && number < field.number
            {
                next = wire.next()?;
            }
            let found = match next {
                Some((number, found)) if number == field.number => Some(found),
                _ => None,
            };
            if found.is_none() && field.presence {
                continue;
            }
            if !first {
                out.comma();
            }
            first = false;
            out.key(&field.key);
            let Some(found) = found else {
                out.append_doc(&field.default);
                continue;
            };
            next = wire.next()?;
            let again =
                |next: Option<(u32, Wire<'_>)>| next.is_some_and(|(n, _)| n == field.number);
            match &field.shape {
                Shape::Single(_) if again(next) => return Err(Stop::Unordered),
                Shape::Single(kind) => self.scalar(kind, found, out)?,
                Shape::List(kind) => {
                    out.open_array();
                    let mut first_item = true;
                    self.items(kind, found, &mut first_item, out)?;
                    while let Some((_, item)) = next.filter(|_| again(next)) {
                        self.items(kind, item, &mut first_item, out)?;
                        next = wire.next()?;
                    }
                    out.close();
                }
                Shape::Map(..) => return Err(Stop::Unordered),
            }
        }
        out.close();
        // The fields after the last known one: unknown, but read, so that
        // a malformed message is one wherever it is malformed.
        while next.is_some() {
            next = wire.next()?;
        }
        Ok(())
    }

    /// Writes a message whatever the order of its fields on the wire.
    fn write_sorted(&self, layout: &Layout, bytes: &[u8], out: &mut DocBuilder) -> Written {
        let mut wire = read_fields(bytes)?;
        let winners = layout.oneof_winners(&wire);
        // Encoders write fields in number order; the sort is for the
        // others. Stable: the occurrences of one field keep their wire order.
        if !wire.is_sorted_by_key(|(number, _)| *number) {
            wire.sort_by_key(|(number, _)| *number);
        }
        out.open_object();
        let mut first = true;
        let mut rest = wire.as_slice();
        for field in &layout.fields {
            // Both lists are in number order: a walk along them is shorter
            // than a search, as most fields are set.
            let skipped = rest
                .iter()
                .take_while(|(number, _)| *number < field.number)
                .count();
            rest = &rest[skipped..];
            let count = rest
                .iter()
                .take_while(|(number, _)| *number == field.number)
                .count();
            let (found, after) = rest.split_at(count);
            rest = after;
            if found.is_empty() && field.presence {
                continue;
            }
            if let Some(oneof) = field.oneof
                && !found.is_empty()
                && winners.get(oneof).copied().flatten() != Some(field.number)
            {
                continue;
            }
            if !first {
                out.comma();
            }
            first = false;
            out.key(&field.key);
            let found = found.iter().map(|(_, wire)| *wire);
            match &field.shape {
                _ if count == 0 => out.append_doc(&field.default),
                Shape::Single(kind) => self.single(kind, found, out)?,
                Shape::List(kind) => self.list(kind, found, out)?,
                Shape::Map(key, value) => self.map(key, value, found, out)?,
            }
        }
        out.close();
        Ok(())
    }

    /// A singular field: the last occurrence, or for a message every
    /// occurrence merged (which is what reading their bytes one after
    /// another does).
    fn single<'b>(
        &self,
        kind: &Value,
        mut found: impl DoubleEndedIterator<Item = Wire<'b>>,
        out: &mut DocBuilder,
    ) -> Written {
        if let Value::Message(layout) = kind {
            let bytes = |wire| match wire {
                Wire::Bytes(bytes) => Ok(bytes),
                _ => Err(Unsupported),
            };
            let first = bytes(found.next().ok_or(Unsupported)?)?;
            let Some(second) = found.next() else {
                return self.write(*layout, first, out);
            };
            let mut parts = [first, bytes(second)?].concat();
            for wire in found {
                parts.extend_from_slice(bytes(wire)?);
            }
            return self.write(*layout, &parts, out);
        }
        let last = found.next_back().ok_or(Unsupported)?;
        self.scalar(kind, last, out)
    }

    fn list<'b>(
        &self,
        kind: &Value,
        found: impl Iterator<Item = Wire<'b>>,
        out: &mut DocBuilder,
    ) -> Written {
        out.open_array();
        let mut first = true;
        for wire in found {
            self.items(kind, wire, &mut first, out)?;
        }
        out.close();
        Ok(())
    }

    /// Writes the items one occurrence of a list field holds: a packed
    /// run of them, or one. `first` says whether none is written yet.
    fn items(
        &self,
        kind: &Value,
        wire: Wire<'_>,
        first: &mut bool,
        out: &mut DocBuilder,
    ) -> Written {
        let mut item = |wire: Wire<'_>, out: &mut DocBuilder| {
            if !*first {
                out.comma();
            }
            *first = false;
            self.scalar(kind, wire, out)
        };
        match (wire, kind.packed_width()) {
            (Wire::Bytes(mut bytes), Some(width)) => {
                while !bytes.is_empty() {
                    let element = match width {
                        0 => Wire::Varint(varint(&mut bytes)?),
                        4 => Wire::Fixed32(u32::from_le_bytes(take(&mut bytes)?)),
                        _ => Wire::Fixed64(u64::from_le_bytes(take(&mut bytes)?)),
                    };
                    item(element, out)?;
                }
                Ok(())
            }
            (wire, _) => item(wire, out),
        }
    }

    fn map<'b>(
        &self,
        key: &MapPart,
        value: &MapPart,
        found: impl Iterator<Item = Wire<'b>>,
        out: &mut DocBuilder,
    ) -> Written {
        let mut entries: Vec<(Vec<u8>, DocBuilder)> = Vec::new();
        for wire in found {
            let Wire::Bytes(bytes) = wire else {
                return Err(Unsupported);
            };
            let parts = read_fields(bytes)?;
            let part = |number: u32| {
                parts
                    .iter()
                    .filter(move |(n, _)| *n == number)
                    .map(|(_, w)| *w)
            };
            let mut key_text = Vec::new();
            match part(1).next_back() {
                Some(wire) => self.map_key(&key.kind, wire, &mut key_text)?,
                None => key_text.extend_from_slice(&key.default),
            }
            let mut value_doc = DocBuilder::default();
            if part(2).next().is_some() {
                self.single(&value.kind, part(2), &mut value_doc)?;
            } else if let Value::Message(layout) = value.kind {
                self.write(layout, &[], &mut value_doc)?;
            } else {
                value_doc
                    .text_value(&value.default)
                    .map_err(|_| Unsupported)?;
            }
            entries.retain(|(earlier, _)| *earlier != key_text);
            entries.push((key_text, value_doc));
        }
        out.open_object();
        for (index, (key, value)) in entries.into_iter().enumerate() {
            if index > 0 {
                out.comma();
            }
            out.key(&MemberKey::quoted(key));
            out.append(value);
        }
        out.close();
        Ok(())
    }

    /// A map key: always a JSON string.
    fn map_key(&self, kind: &Value, wire: Wire<'_>, out: &mut Vec<u8>) -> Written {
        let mut written = DocBuilder::default();
        self.scalar(kind, wire, &mut written)?;
        let text = written.into_text();
        if matches!(kind, Value::String) {
            out.extend_from_slice(&text);
            return Ok(());
        }
        let text = std::str::from_utf8(&text).map_err(|_| Unsupported)?;
        write_string(text.trim_matches('"'), out);
        Ok(())
    }

    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    fn scalar(&self, kind: &Value, wire: Wire<'_>, out: &mut DocBuilder) -> Written {
        match (kind, wire) {
            (Value::Double, Wire::Fixed64(bits)) => out.scalar(|t| float(f64::from_bits(bits), t)),
            (Value::Float, Wire::Fixed32(bits)) => out.scalar(|t| float(f32::from_bits(bits), t)),
            (Value::Int32, Wire::Varint(v)) => out.scalar(|t| number(v as i32, t)),
            (Value::Uint32, Wire::Varint(v)) => out.scalar(|t| number(v as u32, t)),
            (Value::Sint32, Wire::Varint(v)) => out.scalar(|t| number(zigzag(v) as i32, t)),
            (Value::Fixed32, Wire::Fixed32(v)) => out.scalar(|t| number(v, t)),
            (Value::Sfixed32, Wire::Fixed32(v)) => out.scalar(|t| number(v as i32, t)),
            (Value::Int64, Wire::Varint(v)) | (Value::Sfixed64, Wire::Fixed64(v)) => {
                out.scalar(|t| quoted(v as i64, t));
            }
            (Value::Uint64, Wire::Varint(v)) | (Value::Fixed64, Wire::Fixed64(v)) => {
                out.scalar(|t| quoted(v, t));
            }
            (Value::Sint64, Wire::Varint(v)) => out.scalar(|t| quoted(zigzag(v), t)),
            (Value::Bool, Wire::Varint(v)) => out.scalar(|t| {
                t.extend_from_slice(if v == 0 { b"false" } else { b"true" });
            }),
            (Value::String, Wire::Bytes(bytes)) => {
                out.wire_string(bytes).map_err(|_| Unsupported)?;
            }
            (Value::Bytes, Wire::Bytes(bytes)) => out.scalar(|t| base64(bytes, t)),
            (Value::Enum(names), Wire::Varint(v)) => out.scalar(|t| names.write(v as i32, t)),
            (Value::Message(layout), Wire::Bytes(bytes)) => self.write(*layout, bytes, out)?,
            _ => return Err(Unsupported),
        }
        Ok(())
    }
}

/// Something this reader leaves to prost-reflect (which then fails, or
/// writes the message).
#[derive(Debug)]
struct Unsupported;

type Written = Result<(), Unsupported>;

/// Why a message was not written in one pass along its wire.
enum Stop {
    Unsupported,
    /// Its fields are not in number order, or a singular one comes more
    /// than once: it is written field by field instead.
    Unordered,
}

impl From<Unsupported> for Stop {
    fn from(Unsupported: Unsupported) -> Self {
        Self::Unsupported
    }
}

/// One field occurrence on the wire.
#[derive(Debug, Clone, Copy)]
enum Wire<'b> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    Bytes(&'b [u8]),
}

/// The well-known types prost-reflect writes in a form of their own.
const SPECIAL: [&str; 17] = [
    "google.protobuf.Any",
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.Struct",
    "google.protobuf.FloatValue",
    "google.protobuf.DoubleValue",
    "google.protobuf.Int32Value",
    "google.protobuf.Int64Value",
    "google.protobuf.UInt32Value",
    "google.protobuf.UInt64Value",
    "google.protobuf.BoolValue",
    "google.protobuf.StringValue",
    "google.protobuf.BytesValue",
    "google.protobuf.FieldMask",
    "google.protobuf.ListValue",
    "google.protobuf.Value",
    "google.protobuf.Empty",
];

/// How a message type is written.
#[derive(Debug)]
struct Layout {
    descriptor: MessageDescriptor,
    form: Form,
    /// By field number.
    fields: Vec<FieldPlan>,
    /// The numbers of each oneof's members, by oneof index.
    oneofs: Vec<Vec<u32>>,
    /// Whether a message whose fields are in order is written in one pass
    /// along its wire: when it has no oneof and no map.
    streams: bool,
}

impl Layout {
    /// The member each oneof holds: the one set last on the wire.
    fn oneof_winners(&self, wire: &[(u32, Wire<'_>)]) -> Vec<Option<u32>> {
        self.oneofs
            .iter()
            .map(|members| {
                wire.iter()
                    .rev()
                    .map(|(number, _)| *number)
                    .find(|number| members.contains(number))
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Field by field, here.
    Fields,
    /// An RFC 3339 string, here.
    Timestamp,
    /// As prost-reflect writes it.
    Serialized,
}

#[derive(Debug)]
struct FieldPlan {
    number: u32,
    /// `"jsonName":`
    key: MemberKey,
    shape: Shape,
    /// Written only when set.
    presence: bool,
    /// The index of its oneof in [`Layout::oneofs`].
    oneof: Option<usize>,
    /// The value written when it is not on the wire (and has no
    /// presence).
    default: Doc,
}

#[derive(Debug)]
enum Shape {
    Single(Value),
    List(Value),
    Map(MapPart, MapPart),
}

/// The key or the value of a map entry.
#[derive(Debug)]
struct MapPart {
    kind: Value,
    default: Vec<u8>,
}

/// How one value is read from the wire and written.
type Value = ValueKind<EnumNames>;

/// A protobuf value's kind, as the reader here and the request encoder
/// (`super::encode`) each prepare it; `E` is what an enum carries for
/// them (its names by number, or its numbers by name).
#[derive(Debug)]
pub(crate) enum ValueKind<E> {
    Double,
    Float,
    Int32,
    Int64,
    Uint32,
    Uint64,
    Sint32,
    Sint64,
    Fixed32,
    Fixed64,
    Sfixed32,
    Sfixed64,
    Bool,
    String,
    Bytes,
    Enum(E),
    /// The index of its layout.
    Message(usize),
}

impl<E> ValueKind<E> {
    /// The kind of `kind`: an enum's carried as `enumeration` makes it,
    /// a message's layout index as `message` gives it.
    pub(crate) fn of(
        kind: &Kind,
        enumeration: impl FnOnce(&EnumDescriptor) -> E,
        message: impl FnOnce(&MessageDescriptor) -> usize,
    ) -> Self {
        match kind {
            Kind::Double => Self::Double,
            Kind::Float => Self::Float,
            Kind::Int32 => Self::Int32,
            Kind::Int64 => Self::Int64,
            Kind::Uint32 => Self::Uint32,
            Kind::Uint64 => Self::Uint64,
            Kind::Sint32 => Self::Sint32,
            Kind::Sint64 => Self::Sint64,
            Kind::Fixed32 => Self::Fixed32,
            Kind::Fixed64 => Self::Fixed64,
            Kind::Sfixed32 => Self::Sfixed32,
            Kind::Sfixed64 => Self::Sfixed64,
            Kind::Bool => Self::Bool,
            Kind::String => Self::String,
            Kind::Bytes => Self::Bytes,
            Kind::Enum(descriptor) => Self::Enum(enumeration(descriptor)),
            Kind::Message(descriptor) => Self::Message(message(descriptor)),
        }
    }

    /// How a packed list stores each element: `0` as varints, else in that
    /// many bytes; `None` when the kind cannot be packed.
    fn packed_width(&self) -> Option<usize> {
        match self {
            Self::Int32
            | Self::Int64
            | Self::Uint32
            | Self::Uint64
            | Self::Sint32
            | Self::Sint64
            | Self::Bool
            | Self::Enum(_) => Some(0),
            Self::Fixed32 | Self::Sfixed32 | Self::Float => Some(4),
            Self::Fixed64 | Self::Sfixed64 | Self::Double => Some(8),
            Self::String | Self::Bytes | Self::Message(_) => None,
        }
    }
}

/// An enum's value names, quoted, by number.
#[derive(Debug)]
struct EnumNames {
    /// `google.protobuf.NullValue`, written `null`.
    null: bool,
    names: FxHashMap<i32, Vec<u8>>,
}

impl EnumNames {
    fn write(&self, number: i32, out: &mut Vec<u8>) {
        if self.null {
            out.extend_from_slice(b"null");
        } else if let Some(name) = self.names.get(&number) {
            out.extend_from_slice(name);
        } else {
            self::number(number, out);
        }
    }
}

/// The layouts of message types, each type's once, by index: a type
/// that holds itself refers to its own index.
#[derive(Debug)]
pub(crate) struct Layouts<L> {
    pub(crate) layouts: Vec<L>,
    by_name: HashMap<String, usize>,
}

impl<L> Default for Layouts<L> {
    fn default() -> Self {
        Self {
            layouts: Vec::new(),
            by_name: HashMap::new(),
        }
    }
}

impl<L> Layouts<L> {
    /// `Err` with the index of `descriptor`'s layout when it has one; else
    /// `Ok` with the index `first` now holds, to be completed once the
    /// type's fields (which may name it) are worked out.
    pub(crate) fn reserve(
        &mut self,
        descriptor: &MessageDescriptor,
        first: impl FnOnce() -> L,
    ) -> Result<usize, usize> {
        if let Some(index) = self.by_name.get(descriptor.full_name()) {
            return Err(*index);
        }
        let index = self.layouts.len();
        self.layouts.push(first());
        self.by_name
            .insert(descriptor.full_name().to_owned(), index);
        Ok(index)
    }
}

/// How many fields of the messages reachable from `root` (itself
/// included) are messages of type `target`.
fn uses_of(root: &MessageDescriptor, target: &str) -> usize {
    let mut seen = std::collections::HashSet::new();
    let mut open = vec![root.clone()];
    let mut uses = 0;
    while let Some(message) = open.pop() {
        if !seen.insert(message.full_name().to_owned()) {
            continue;
        }
        for field in message.fields() {
            if let Kind::Message(inner) = field.kind() {
                uses += usize::from(inner.full_name() == target);
                open.push(inner);
            }
        }
    }
    uses
}

/// Works out the layouts of a message type and every type inside it.
#[derive(Default)]
struct Builder {
    layouts: Layouts<Layout>,
    /// A message type of which only the fields of these JSON names are
    /// written.
    kept: Option<(String, Vec<String>)>,
}

impl Builder {
    fn add(&mut self, descriptor: &MessageDescriptor) -> usize {
        let form = match descriptor.full_name() {
            "google.protobuf.Timestamp" => Form::Timestamp,
            name if SPECIAL.contains(&name) => Form::Serialized,
            _ => Form::Fields,
        };
        let layout = || Layout {
            descriptor: descriptor.clone(),
            form,
            fields: Vec::new(),
            oneofs: descriptor
                .oneofs()
                .map(|oneof| oneof.fields().map(|field| field.number()).collect())
                .collect(),
            streams: false,
        };
        let index = match self.layouts.reserve(descriptor, layout) {
            Ok(index) => index,
            Err(known) => return known,
        };
        if form == Form::Fields {
            let kept = match &self.kept {
                Some((name, members)) if name == descriptor.full_name() => Some(members.clone()),
                _ => None,
            };
            let fields = descriptor
                .fields()
                .filter(|field| {
                    kept.as_ref()
                        .is_none_or(|kept| kept.iter().any(|name| name == field.json_name()))
                })
                .map(|field| self.field(&field))
                .collect::<Vec<_>>();
            let layout = &mut self.layouts.layouts[index];
            layout.streams = layout.oneofs.is_empty()
                && !fields
                    .iter()
                    .any(|field| matches!(field.shape, Shape::Map(..)));
            layout.fields = fields;
        }
        index
    }

    fn field(&mut self, field: &FieldDescriptor) -> FieldPlan {
        let shape = match field.kind() {
            Kind::Message(entry) if field.is_map() => Shape::Map(
                self.map_part(&entry.map_entry_key_field()),
                self.map_part(&entry.map_entry_value_field()),
            ),
            kind if field.is_list() => Shape::List(self.value(&kind)),
            kind => Shape::Single(self.value(&kind)),
        };
        FieldPlan {
            number: field.number(),
            key: MemberKey::new(field.json_name()),
            shape,
            presence: field.supports_presence(),
            oneof: field.containing_oneof().and_then(|oneof| {
                field
                    .parent_message()
                    .oneofs()
                    .position(|candidate| candidate.name() == oneof.name())
            }),
            default: Doc::parse(default_text(field)).unwrap_or_else(|_| Doc::null()),
        }
    }

    fn map_part(&mut self, field: &FieldDescriptor) -> MapPart {
        MapPart {
            kind: self.value(&field.kind()),
            default: default_text(field),
        }
    }

    fn value(&mut self, kind: &Kind) -> Value {
        let names = |descriptor: &EnumDescriptor| EnumNames {
            null: descriptor.full_name() == "google.protobuf.NullValue",
            names: descriptor
                .values()
                .map(|value| {
                    let mut name = Vec::new();
                    write_string(value.name(), &mut name);
                    (value.number(), name)
                })
                .collect(),
        };
        Value::of(kind, names, |descriptor| self.add(descriptor))
    }
}

/// The text of a field's default value (`[]` for a list, `{}` for a map);
/// empty for a message, which is never written by default.
fn default_text(field: &FieldDescriptor) -> Vec<u8> {
    let mut out = Vec::new();
    match field.default_value() {
        ProtoValue::Bool(value) => out.extend_from_slice(if value { b"true" } else { b"false" }),
        ProtoValue::I32(value) => number(value, &mut out),
        ProtoValue::U32(value) => number(value, &mut out),
        ProtoValue::I64(value) => quoted(value, &mut out),
        ProtoValue::U64(value) => quoted(value, &mut out),
        ProtoValue::F32(value) => float(value, &mut out),
        ProtoValue::F64(value) => float(value, &mut out),
        ProtoValue::String(value) => write_string(&value, &mut out),
        ProtoValue::Bytes(value) => base64(&value, &mut out),
        ProtoValue::EnumNumber(number) => {
            if let Kind::Enum(descriptor) = field.kind() {
                match descriptor.get_value(number) {
                    _ if descriptor.full_name() == "google.protobuf.NullValue" => {
                        out.extend_from_slice(b"null");
                    }
                    Some(value) => write_string(value.name(), &mut out),
                    None => self::number(number, &mut out),
                }
            }
        }
        ProtoValue::List(_) => out.extend_from_slice(b"[]"),
        ProtoValue::Map(_) => out.extend_from_slice(b"{}"),
        ProtoValue::Message(_) => {}
    }
    out
}

fn timestamp(bytes: &[u8], out: &mut DocBuilder) -> Written {
    /// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const RANGE: std::ops::RangeInclusive<i64> = -62_135_596_800..=253_402_300_799;
    let mut timestamp = prost_types::Timestamp::default();
    let mut bytes = bytes;
    while !bytes.is_empty() {
        let (number, wire) = next_field(&mut bytes)?;
        match (number, wire) {
            #[allow(clippy::cast_possible_wrap)]
            (1, Wire::Varint(seconds)) => timestamp.seconds = seconds as i64,
            #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
            (2, Wire::Varint(nanos)) => timestamp.nanos = nanos as i32,
            (1 | 2, _) => return Err(Unsupported),
            _ => {}
        }
    }
    if !RANGE.contains(&timestamp.seconds) || !(0..1_000_000_000).contains(&timestamp.nanos) {
        return Err(Unsupported);
    }
    out.scalar(|text| rfc3339(timestamp.seconds, timestamp.nanos, text));
    Ok(())
}

/// Writes a time within years 1 to 9999 as prost-types does: UTC, with
/// 3, 6 or 9 digits of fraction when there is one, in quotes.
fn rfc3339(seconds: i64, nanos: i32, out: &mut Vec<u8>) {
    let (days, second_of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    // Filled in place and copied once: a timestamp is in every product.
    let mut text = *b"\"0000-00-00T00:00:00.000000000Z\"";
    padded(&mut text[1..5], year);
    padded(&mut text[6..8], month);
    padded(&mut text[9..11], day);
    padded(&mut text[12..14], second_of_day / 3600);
    padded(&mut text[15..17], second_of_day / 60 % 60);
    padded(&mut text[18..20], second_of_day % 60);
    let nanos = i64::from(nanos);
    let (fraction, width) = match nanos {
        0 => (0, 0),
        _ if nanos % 1_000_000 == 0 => (nanos / 1_000_000, 3),
        _ if nanos % 1_000 == 0 => (nanos / 1_000, 6),
        _ => (nanos, 9),
    };
    out.extend_from_slice(&text[..20]);
    if width > 0 {
        padded(&mut text[21..21 + width], fraction);
        out.extend_from_slice(&text[20..21 + width]);
    }
    out.extend_from_slice(b"Z\"");
}

/// Writes `value` (not negative, with no more digits than `digits` has
/// room for) into `digits`, with leading zeros.
fn padded(digits: &mut [u8], mut value: i64) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + u8::try_from(value % 10).unwrap_or(0);
        value /= 10;
    }
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The message as prost-reflect writes it; `Err` when it does not decode.
fn serialized(descriptor: &MessageDescriptor, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    let message = DynamicMessage::decode(descriptor.clone(), bytes).map_err(|_| ())?;
    sonic_rs::to_writer(out, &Canonical(&message)).map_err(|_| ())
}

/// [`serialized`], written to `out` as one value.
fn serialized_value(
    descriptor: &MessageDescriptor,
    bytes: &[u8],
    out: &mut DocBuilder,
) -> Result<(), ()> {
    let mut text = Vec::with_capacity(bytes.len() * 2);
    serialized(descriptor, bytes, &mut text)?;
    out.text_value(&text).map_err(|_| ())
}

/// Serializes a message with the canonical options.
pub(crate) struct Canonical<'m>(pub(crate) &'m DynamicMessage);

impl serde::Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let options = SerializeOptions::new().skip_default_fields(false);
        self.0.serialize_with_options(serializer, &options)
    }
}

/// Every field occurrence of a message, in wire order; groups are left to
/// prost-reflect.
fn read_fields(mut bytes: &[u8]) -> Result<Vec<(u32, Wire<'_>)>, Unsupported> {
    // Room for a field every four bytes, up to 64: most messages never
    // grow it.
    let mut fields = Vec::with_capacity((bytes.len() / 4 + 1).min(64));
    while !bytes.is_empty() {
        fields.push(next_field(&mut bytes)?);
    }
    Ok(fields)
}

/// The field occurrence `bytes` start with, which it reads past. Inlined:
/// returned through memory, the occurrence was stored in parts and read
/// back whole, which the processor cannot forward from store to load, and
/// that wait cost more than the rest of the field's transcoding.
#[allow(clippy::inline_always)]
#[inline(always)]
fn next_field<'b>(bytes: &mut &'b [u8]) -> Result<(u32, Wire<'b>), Unsupported> {
    let tag = varint(bytes)?;
    let number = u32::try_from(tag >> 3).map_err(|_| Unsupported)?;
    let wire = match tag & 7 {
        0 => Wire::Varint(varint(bytes)?),
        1 => Wire::Fixed64(u64::from_le_bytes(take(bytes)?)),
        2 => {
            let length = usize::try_from(varint(bytes)?).map_err(|_| Unsupported)?;
            if length > bytes.len() {
                return Err(Unsupported);
            }
            let (value, rest) = bytes.split_at(length);
            *bytes = rest;
            Wire::Bytes(value)
        }
        5 => Wire::Fixed32(u32::from_le_bytes(take(bytes)?)),
        _ => return Err(Unsupported),
    };
    Ok((number, wire))
}

/// A message's field occurrences one at a time, as long as their numbers
/// never go down.
struct InOrder<'b> {
    bytes: &'b [u8],
    last: u32,
}

impl<'b> InOrder<'b> {
    /// The next occurrence; inlined, as [`next_field`] is.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn next(&mut self) -> Result<Option<(u32, Wire<'b>)>, Stop> {
        if self.bytes.is_empty() {
            return Ok(None);
        }
        let (number, wire) = next_field(&mut self.bytes)?;
        if number < self.last {
            return Err(Stop::Unordered);
        }
        self.last = number;
        Ok(Some((number, wire)))
    }
}

fn varint(bytes: &mut &[u8]) -> Result<u64, Unsupported> {
    let mut value = 0_u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or(Unsupported)?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Unsupported)
}

fn take<const N: usize>(bytes: &mut &[u8]) -> Result<[u8; N], Unsupported> {
    let (head, rest) = bytes.split_first_chunk::<N>().ok_or(Unsupported)?;
    *bytes = rest;
    Ok(*head)
}

#[allow(clippy::cast_possible_wrap)]
fn zigzag(value: u64) -> i64 {
    (value >> 1) as i64 ^ -((value & 1) as i64)
}

fn number(value: impl itoa::Integer, out: &mut Vec<u8>) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

fn quoted(value: impl itoa::Integer, out: &mut Vec<u8>) {
    out.push(b'"');
    number(value, out);
    out.push(b'"');
}

/// A float as serde writes it, or the proto3 JSON names of the non-finite
/// ones.
fn float<F: Into<f64> + serde::Serialize + Copy>(value: F, out: &mut Vec<u8>) {
    let wide: f64 = value.into();
    if wide.is_finite() {
        let _ = sonic_rs::to_writer(out, &value);
    } else if wide.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if wide > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
}

/// Standard base64 with padding, in quotes.
fn base64(bytes: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    out.push(b'"');
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0_u32, |group, (i, byte)| {
            group | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(group >> (18 - 6 * i) & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
pub(crate) mod tests {
    use prost::Message as _;
    use prost_reflect::DescriptorPool;
    use serde_json::{Value, json};

    use super::*;

    const PROTO: &str = r#"
syntax = "proto3";
package test.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";

enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; COLOR_BLUE = 2; }

message Inner { string label = 1; repeated int32 counts = 2; Inner next = 3; }

message Everything {
  double f_double = 1; float f_float = 2; int32 f_int32 = 3; int64 f_int64 = 4;
  uint32 f_uint32 = 5; uint64 f_uint64 = 6; sint32 f_sint32 = 7; sint64 f_sint64 = 8;
  fixed32 f_fixed32 = 9; fixed64 f_fixed64 = 10; sfixed32 f_sfixed32 = 11;
  sfixed64 f_sfixed64 = 12; bool f_bool = 13; string f_string = 14; bytes f_bytes = 15;
  Color color = 16; Inner inner = 17; repeated Inner inners = 18;
  repeated sint64 packed = 19; repeated string names = 20; repeated Color colors = 21;
  map<string, int64> totals = 22; map<int32, Inner> by_id = 23; map<bool, Color> flags = 24;
  oneof choice { string text = 25; Inner nested = 26; }
  optional int32 maybe = 27;
  google.protobuf.Timestamp at = 28; google.protobuf.Duration took = 29;
  google.protobuf.StringValue wrapped = 30; google.protobuf.Struct extra = 31;
  repeated double doubles = 32;
}

message Plain {
  string name = 1; int64 count = 3; repeated int32 values = 4; Inner inner = 5;
  repeated string labels = 6; google.protobuf.Timestamp at = 7;
}

message Page { repeated Plain items = 1; string token = 2; Inner inner = 3; }

message Twice { repeated Plain items = 1; Plain first = 2; }

message Request {
  string sku = 1; repeated string skus = 2; int32 a = 3; int64 b = 4; uint32 c = 5;
  uint64 d = 6; sint32 e = 7; sint64 f = 8; fixed32 g = 9; fixed64 h = 10; sfixed32 i = 11;
  sfixed64 j = 12; bool k = 13; Color color = 14; Inner inner = 15; repeated Inner inners = 16;
  repeated int32 packed = 17; repeated sint64 zig = 18; repeated Color colors = 19;
  repeated bool flags = 20; int32 snake_case = 21;
}
"#;

    fn descriptor() -> MessageDescriptor {
        message("test.v1.Everything")
    }

    /// The message `name` of the test protos.
    pub(crate) fn message(name: &str) -> MessageDescriptor {
        // Compiled once: tests running side by side must not write the
        // file while another reads it.
        static POOL: std::sync::OnceLock<DescriptorPool> = std::sync::OnceLock::new();
        let pool = POOL.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("weft-transcode-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("everything.proto"), PROTO).unwrap();
            let mut compiler = protox::Compiler::new([&dir]).unwrap();
            compiler.include_imports(true);
            compiler.open_file("everything.proto").unwrap();
            DescriptorPool::from_file_descriptor_set(compiler.file_descriptor_set()).unwrap()
        });
        pool.get_message_by_name(name).unwrap()
    }

    /// Both texts of the message encoded in `bytes`, as JSON values; this
    /// reader's must be its own, not prost-reflect's.
    fn both(descriptor: &MessageDescriptor, bytes: &[u8]) -> (Value, Value) {
        let mut written = DocBuilder::default();
        Transcoder::new(descriptor)
            .write(0, bytes, &mut written)
            .expect("read without prost-reflect");
        let written = written.finish().unwrap();
        let ours = written.root().raw().to_owned();
        let parsed = Doc::parse(ours.clone()).unwrap();
        assert!(written.same_as(&parsed), "nodes as written: {ours}");
        let mut theirs = Vec::new();
        serialized(descriptor, bytes, &mut theirs).unwrap();
        (
            serde_json::from_str(&ours).unwrap(),
            serde_json::from_slice(&theirs).unwrap(),
        )
    }

    /// `value` encoded by prost-reflect as a message of `descriptor`.
    pub(crate) fn encoded(descriptor: &MessageDescriptor, value: &Value) -> Vec<u8> {
        DynamicMessage::deserialize(descriptor.clone(), value)
            .unwrap()
            .encode_to_vec()
    }

    #[test]
    fn a_projection_writes_only_the_named_members_of_the_items() {
        let page = message("test.v1.Page");
        let plain = json!({
            "name": "n", "count": "7", "values": [1, 2], "inner": { "label": "x" },
            "labels": ["a"], "at": "2024-01-01T04:02:12Z",
        });
        let bytes = encoded(
            &page,
            &json!({ "items": [plain, { "count": "1" }], "token": "t", "inner": { "label": "i" } }),
        );
        let members = ["at".to_owned(), "name".to_owned(), "values".to_owned()];
        let projected = Transcoder::projected(&page, &["items".to_owned()], &members).unwrap();
        let text = projected.message_json(&bytes).unwrap();
        let written: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(
            written,
            json!({
                "items": [
                    { "name": "n", "values": [1, 2], "at": "2024-01-01T04:02:12Z" },
                    { "name": "", "values": [] },
                ],
                "token": "t",
                "inner": { "label": "i", "counts": [] },
            })
        );
        let full: Value =
            serde_json::from_slice(&Transcoder::new(&page).message_json(&bytes).unwrap()).unwrap();
        assert_eq!(
            full["items"][0]["count"], "7",
            "the whole answer keeps every member"
        );
    }

    #[test]
    fn no_projection_where_the_items_are_not_messages_of_their_own() {
        let names = ["name".to_owned()];
        let path = |keys: &[&str]| keys.iter().map(|&key| key.to_owned()).collect::<Vec<_>>();
        let cut = |name: &str, items: &[&str]| {
            Transcoder::projected(&message(name), &path(items), &names).is_some()
        };
        assert!(cut("test.v1.Page", &["items"]));
        assert!(!cut("test.v1.Page", &[]), "the root itself");
        assert!(!cut("test.v1.Page", &["token"]), "a string");
        assert!(!cut("test.v1.Page", &["missing"]), "no such field");
        assert!(!cut("test.v1.Page", &["inner"]), "Inner holds an Inner");
        assert!(!cut("test.v1.Twice", &["items"]), "Plain stands twice");
        assert!(!cut("test.v1.Plain", &["at"]), "a well-known type");
    }

    #[test]
    fn every_kind_of_field_reads_as_prost_reflect_writes_it() {
        let descriptor = descriptor();
        let cases = [
            json!({}),
            json!({
                "fDouble": 1.5, "fFloat": -0.25, "fInt32": -7, "fInt64": "-9007199254740993",
                "fUint32": 4_000_000_000_u32, "fUint64": "18446744073709551615", "fSint32": -3,
                "fSint64": "-4", "fFixed32": 9, "fFixed64": "10", "fSfixed32": -11,
                "fSfixed64": "-12", "fBool": true, "fString": "a \"quoted\" é\n", "fBytes": "AAEC/w==",
                "color": "COLOR_BLUE", "inner": { "label": "x", "counts": [1, -2, 3] },
                "inners": [{ "label": "a" }, { "next": { "label": "deep" } }],
                "packed": ["1", "-2", "300"], "names": ["p", "q"], "colors": ["COLOR_RED", 7],
                "totals": { "a": "1", "b": "-2" }, "byId": { "5": { "label": "five" } },
                "flags": { "true": "COLOR_RED" }, "text": "chosen", "maybe": 0,
                "at": "2024-01-01T04:02:12.5Z", "took": "1.5s", "wrapped": "w",
                "extra": { "k": [1, "two", null, true] }, "doubles": [0.1, 2.0, -3.5],
            }),
            json!({ "nested": { "label": "inside" }, "fFloat": "NaN", "fDouble": "-Infinity", "color": 42 }),
        ];
        for case in cases {
            let (ours, theirs) = both(&descriptor, &encoded(&descriptor, &case));
            assert_eq!(ours, theirs, "for {case}");
        }
    }

    #[test]
    fn unpacked_lists_repeated_messages_and_unknown_fields_are_read_as_prost_does() {
        let descriptor = descriptor();
        let mut bytes = encoded(
            &descriptor,
            &json!({ "inner": { "label": "first" }, "text": "t" }),
        );
        // counts unpacked: field 3 of Inner is a message holding field 2 as varints.
        bytes.extend_from_slice(&[0x8a, 0x01, 0x04, 0x10, 0x05, 0x10, 0x06]); // inner again: merged
        bytes.extend_from_slice(&[0xf8, 0x07, 0x01]); // unknown field 127, varint 1
        bytes.extend_from_slice(&[0x18, 0x7f]); // f_int32 = 127, set twice: the last wins
        bytes.extend_from_slice(&[0xd2, 0x01, 0x02, 0x0a, 0x00]); // nested after text: the oneof holds nested
        let (ours, theirs) = both(&descriptor, &bytes);
        assert_eq!(ours, theirs);
        assert_eq!(ours["inner"], json!({ "label": "first", "counts": [5, 6] }));
        assert!(ours.get("text").is_none(), "{ours}");
    }

    #[test]
    fn fields_in_order_are_written_in_one_pass_and_any_order_as_prost_writes_it() {
        let descriptor = message("test.v1.Plain");
        let transcoder = Transcoder::new(&descriptor);
        let in_one_pass = |bytes: &[u8]| {
            let mut out = DocBuilder::default();
            match transcoder.write_in_order(&transcoder.layouts[0], bytes, &mut out) {
                Ok(()) => true,
                Err(Stop::Unordered) => false,
                Err(Stop::Unsupported) => panic!("{bytes:?} is not read"),
            }
        };
        let full = encoded(
            &descriptor,
            &json!({
                "name": "n\"é", "count": "-5", "values": [1, -2], "inner": { "label": "in", "counts": [3] },
                "labels": ["a", "b"], "at": "2024-01-01T04:02:12.5Z",
            }),
        );
        let name =
            |text: &str| [&[0x0a, u8::try_from(text.len()).unwrap()], text.as_bytes()].concat();
        let count = |n: u8| vec![0x18, n];
        let value = |n: u8| vec![0x20, n];
        let unknown = |number: u8| vec![number << 3, 0x01];
        let inner = |label: &str| {
            let label = [
                &[0x0a, u8::try_from(label.len()).unwrap()],
                label.as_bytes(),
            ]
            .concat();
            [vec![0x2a, u8::try_from(label.len()).unwrap()], label].concat()
        };
        let cases: [(Vec<u8>, bool); 8] = [
            (full, true),
            (Vec::new(), true),
            ([value(1), value(2), unknown(9), unknown(10)].concat(), true),
            ([name("x"), unknown(2), count(3)].concat(), true),
            ([count(3), name("x")].concat(), false),
            ([name("first"), name("last")].concat(), false),
            ([value(1), inner("i"), value(2)].concat(), false),
            ([inner("a"), inner("b")].concat(), false),
        ];
        for (bytes, streams) in cases {
            assert_eq!(in_one_pass(&bytes), streams, "{bytes:?}");
            let (ours, theirs) = both(&descriptor, &bytes);
            assert_eq!(ours, theirs, "{bytes:?}");
        }
        let mut truncated = name("abc");
        truncated.pop();
        let mut out = DocBuilder::default();
        let read = transcoder.write_in_order(&transcoder.layouts[0], &truncated, &mut out);
        assert!(matches!(read, Err(Stop::Unsupported)));
        assert!(transcoder.message_json(&truncated).is_err());
    }

    #[test]
    fn malformed_messages_get_prost_reflects_error() {
        let descriptor = descriptor();
        let transcoder = Transcoder::new(&descriptor);
        assert!(transcoder.message_json(&[0x0a, 0x05, 0x01]).is_err());
        assert!(transcoder.message_json(&[0x72, 0x02, 0xff, 0xfe]).is_err());
    }

    #[test]
    fn timestamps_are_written_as_prost_types_writes_them() {
        let check = |seconds: i64, nanos: i32| {
            let mut ours = Vec::new();
            rfc3339(seconds, nanos, &mut ours);
            let theirs = format!("\"{}\"", prost_types::Timestamp { seconds, nanos });
            assert_eq!(String::from_utf8(ours).unwrap(), theirs);
        };
        // 0001-01-01, 1900-03-01, 1969-12-31T23:59:59, 2000-02-29, 9999-12-31T23:59:59.
        for seconds in [
            -62_135_596_800,
            -2_203_891_200,
            -1,
            951_782_400,
            253_402_300_799,
        ] {
            check(seconds, 0);
        }
        let nanos = [0, 500_000_000, 1_000, 7, 999_999_999, 120_000];
        let (mut seconds, mut step) = (-62_135_596_800_i64, 0);
        while seconds <= 253_402_300_799 {
            check(seconds, nanos[step % nanos.len()]);
            step += 1;
            seconds += 86_399 * 37 + i64::try_from(step % 86_400).unwrap();
        }
        assert!(step > 90_000, "{step}");
    }

    #[test]
    fn base64_matches_the_standard_alphabet_with_padding() {
        for (bytes, expected) in [
            (&b""[..], "\"\""),
            (b"f", "\"Zg==\""),
            (b"fo", "\"Zm8=\""),
            (b"foo", "\"Zm9v\""),
            (&[0xfb, 0xff][..], "\"+/8=\""),
        ] {
            let mut out = Vec::new();
            base64(bytes, &mut out);
            assert_eq!(String::from_utf8(out).unwrap(), expected);
        }
    }
}
