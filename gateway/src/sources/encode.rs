//! JSON request → protobuf wire bytes, written straight from the
//! `serde_json` value with the message's descriptor: no dynamic message is
//! built on the way.
//!
//! The bytes are the ones prost-reflect writes for the same request:
//! fields in number order, a field that does not track presence left out
//! at its default value, numeric lists packed. Only the shapes requests
//! usually take are read here: strings, booleans, integers given as JSON
//! numbers, enums by name or number, nested messages and lists of them.
//! Anything else (a map, a oneof, a float, bytes, a well-known type, an
//! integer given as a string, a `null`, a key the message lacks) is left
//! to prost-reflect, which writes the same bytes or names what is wrong.

use prost_reflect::{EnumDescriptor, FieldDescriptor, MessageDescriptor};
use rustc_hash::FxHashMap;
use serde_json::Value;

use super::transcode::{Layouts, ValueKind};

/// Encodes requests of one message type (and the types inside it): what
/// to do with each field is worked out once, when it is built.
#[derive(Debug)]
pub struct RequestEncoder {
    /// The root message's layout first, then every message type reachable
    /// from it, each once; `None` for a type left to prost-reflect.
    layouts: Vec<Option<Vec<FieldPlan>>>,
}

#[derive(Debug)]
struct FieldPlan {
    number: u32,
    json_name: String,
    name: String,
    kind: Scalar,
    list: bool,
    packed: bool,
}

/// How one value is written; an enum carries its numbers by name.
type Scalar = ValueKind<FxHashMap<String, i32>>;

/// A value as it goes on the wire.
enum Wire {
    Varint(u64),
    Fixed32(u32),
    Fixed64(u64),
}

impl RequestEncoder {
    /// The encoder of messages of type `descriptor`.
    pub fn new(descriptor: &MessageDescriptor) -> Self {
        let mut builder = Builder::default();
        builder.add(descriptor);
        Self {
            layouts: builder.layouts.layouts,
        }
    }

    /// `request` encoded as a message; `None` when it takes a shape left
    /// to prost-reflect.
    pub fn encode(&self, request: &Value) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(64);
        self.message(0, request, &mut out)?;
        Some(out)
    }

    fn message(&self, layout: usize, value: &Value, out: &mut Vec<u8>) -> Option<()> {
        let fields = self.layouts.get(layout)?.as_ref()?;
        let Value::Object(entries) = value else {
            return None;
        };
        let mut present = Vec::with_capacity(entries.len());
        for (key, value) in entries {
            let index = fields
                .iter()
                .position(|field| field.json_name == *key || field.name == *key)?;
            if present.iter().any(|&(known, _)| known == index) {
                return None;
            }
            present.push((index, value));
        }
        // The fields are in number order, so are their indexes.
        present.sort_unstable_by_key(|&(index, _)| index);
        for (index, value) in present {
            let field = &fields[index];
            match value {
                Value::Array(items) if field.list => self.list(field, items, out)?,
                _ if field.list => return None,
                _ => self.single(field, value, out)?,
            }
        }
        Some(())
    }

    fn single(&self, field: &FieldPlan, value: &Value, out: &mut Vec<u8>) -> Option<()> {
        if let Scalar::Message(layout) = field.kind {
            let mut inner = Vec::new();
            self.message(layout, value, &mut inner)?;
            length_delimited(field.number, &inner, out);
            return Some(());
        }
        if let (Scalar::String, Value::String(text)) = (&field.kind, value) {
            if !text.is_empty() {
                length_delimited(field.number, text.as_bytes(), out);
            }
            return Some(());
        }
        match scalar(&field.kind, value)? {
            Wire::Varint(0) | Wire::Fixed32(0) | Wire::Fixed64(0) => {}
            wire => {
                tag(field.number, wire.type_bits(), out);
                wire.write(out);
            }
        }
        Some(())
    }

    fn list(&self, field: &FieldPlan, items: &[Value], out: &mut Vec<u8>) -> Option<()> {
        if items.is_empty() {
            return Some(());
        }
        if field.packed {
            let mut packed = Vec::with_capacity(items.len() * 2);
            for item in items {
                scalar(&field.kind, item)?.write(&mut packed);
            }
            length_delimited(field.number, &packed, out);
            return Some(());
        }
        for item in items {
            match (&field.kind, item) {
                (Scalar::String, Value::String(text)) => {
                    length_delimited(field.number, text.as_bytes(), out);
                }
                (Scalar::Message(layout), item) => {
                    let mut inner = Vec::new();
                    self.message(*layout, item, &mut inner)?;
                    length_delimited(field.number, &inner, out);
                }
                _ => return None,
            }
        }
        Some(())
    }
}

/// A number, a boolean or an enum as it goes on the wire; `None` for any
/// other value.
#[allow(clippy::cast_sign_loss)]
fn scalar(kind: &Scalar, value: &Value) -> Option<Wire> {
    let signed = || value.as_i64();
    let int32 = || signed().and_then(|n| i32::try_from(n).ok());
    let uint32 = || value.as_u64().and_then(|n| u32::try_from(n).ok());
    Some(match kind {
        // Negative 32-bit values are sign-extended to ten bytes, as
        // protobuf requires.
        Scalar::Int32 => Wire::Varint(i64::from(int32()?) as u64),
        Scalar::Int64 => Wire::Varint(signed()? as u64),
        Scalar::Uint32 => Wire::Varint(u64::from(uint32()?)),
        Scalar::Uint64 => Wire::Varint(value.as_u64()?),
        Scalar::Sint32 => {
            let n = int32()?;
            Wire::Varint(u64::from(((n << 1) ^ (n >> 31)) as u32))
        }
        Scalar::Sint64 => {
            let n = signed()?;
            Wire::Varint(((n << 1) ^ (n >> 63)) as u64)
        }
        Scalar::Fixed32 => Wire::Fixed32(uint32()?),
        Scalar::Sfixed32 => Wire::Fixed32(int32()? as u32),
        Scalar::Fixed64 => Wire::Fixed64(value.as_u64()?),
        Scalar::Sfixed64 => Wire::Fixed64(signed()? as u64),
        Scalar::Bool => Wire::Varint(u64::from(value.as_bool()?)),
        Scalar::Enum(numbers) => {
            let number = match value {
                Value::String(name) => *numbers.get(name)?,
                _ => int32()?,
            };
            Wire::Varint(i64::from(number) as u64)
        }
        Scalar::String | Scalar::Message(_) | Scalar::Double | Scalar::Float | Scalar::Bytes => {
            return None;
        }
    })
}

impl Wire {
    fn type_bits(&self) -> u64 {
        match self {
            Self::Varint(_) => 0,
            Self::Fixed64(_) => 1,
            Self::Fixed32(_) => 5,
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Self::Varint(value) => varint(value, out),
            Self::Fixed32(value) => out.extend_from_slice(&value.to_le_bytes()),
            Self::Fixed64(value) => out.extend_from_slice(&value.to_le_bytes()),
        }
    }
}

fn tag(number: u32, type_bits: u64, out: &mut Vec<u8>) {
    varint(u64::from(number) << 3 | type_bits, out);
}

fn length_delimited(number: u32, bytes: &[u8], out: &mut Vec<u8>) {
    tag(number, 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

#[allow(clippy::cast_possible_truncation)]
fn varint(mut value: u64, out: &mut Vec<u8>) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Works out the layouts of a message type and every type inside it.
#[derive(Default)]
struct Builder {
    layouts: Layouts<Option<Vec<FieldPlan>>>,
}

impl Builder {
    fn add(&mut self, descriptor: &MessageDescriptor) -> usize {
        let index = match self.layouts.reserve(descriptor, || None) {
            Ok(index) => index,
            Err(known) => return known,
        };
        let well_known = descriptor.full_name().starts_with("google.protobuf.");
        if well_known || descriptor.oneofs().len() > 0 {
            return index;
        }
        let fields: Option<Vec<_>> = descriptor
            .fields()
            .map(|field| self.field(&field))
            .collect();
        self.layouts.layouts[index] = fields;
        index
    }

    fn field(&mut self, field: &FieldDescriptor) -> Option<FieldPlan> {
        if field.is_map() || field.is_group() {
            return None;
        }
        let numbers = |descriptor: &EnumDescriptor| {
            let values = descriptor.values();
            values
                .map(|value| (value.name().to_owned(), value.number()))
                .collect()
        };
        let kind = Scalar::of(&field.kind(), numbers, |descriptor| self.add(descriptor));
        if matches!(kind, Scalar::Double | Scalar::Float | Scalar::Bytes) {
            return None;
        }
        Some(FieldPlan {
            number: field.number(),
            json_name: field.json_name().to_owned(),
            name: field.name().to_owned(),
            kind,
            list: field.is_list(),
            packed: field.is_packed(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sources::transcode::tests::{encoded, message};

    #[test]
    fn requests_are_encoded_as_prost_reflect_encodes_them() {
        let descriptor = message("test.v1.Request");
        let encoder = RequestEncoder::new(&descriptor);
        let cases = [
            json!({}),
            json!({ "sku": "SKU-1", "skus": ["a", "", "é\"\n"] }),
            json!({
                "a": -7, "b": -9_007_199_254_740_993_i64, "c": 4_000_000_000_u32,
                "d": 18_446_744_073_709_551_615_u64, "e": -3, "f": -4, "g": 9, "h": 10,
                "i": -11, "j": -12, "k": true, "color": "COLOR_BLUE",
                "inner": { "label": "x", "counts": [1, -2, 0] },
                "inners": [{}, { "next": { "label": "deep" } }],
                "packed": [0, 1, -1, 300], "zig": [-1, 1, i64::MIN], "colors": ["COLOR_RED", 7],
                "flags": [true, false],
            }),
            json!({ "sku": "", "a": 0, "k": false, "color": "COLOR_UNSPECIFIED", "inner": {}, "skus": [] }),
            json!({ "snake_case": 5, "k": true }),
            json!({ "snakeCase": 6 }),
        ];
        for case in cases {
            let ours = encoder
                .encode(&case)
                .unwrap_or_else(|| panic!("left over: {case}"));
            assert_eq!(ours, encoded(&descriptor, &case), "for {case}");
        }
    }

    #[test]
    fn other_shapes_are_left_to_prost_reflect() {
        let descriptor = message("test.v1.Request");
        let encoder = RequestEncoder::new(&descriptor);
        for case in [
            json!({ "b": "-5" }),
            json!({ "a": 1.5 }),
            json!({ "a": 3_000_000_000_u32 }),
            json!({ "sku": null }),
            json!({ "unknown": 1 }),
            json!({ "snake_case": 1, "snakeCase": 2 }),
            json!({ "skus": "not a list" }),
            json!({ "color": "NOT_A_COLOR" }),
            json!({ "inners": [null] }),
            json!([]),
        ] {
            assert_eq!(encoder.encode(&case), None, "for {case}");
        }
        let everything = RequestEncoder::new(&message("test.v1.Everything"));
        assert_eq!(
            everything.encode(&json!({})),
            None,
            "a message with a oneof"
        );
    }
}
