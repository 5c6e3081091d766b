//! Turns backend JSON into GraphQL values, by the field's declared type.
//!
//! Objects are not copied: a nested object or list of objects is handed to
//! the executor as a reference into the parent's JSON (or, for a fetched
//! field, as the owned response), and its own fields read from it in turn.
//! Scalars are checked and coerced: an `Int` accepts a JSON number or a
//! numeric string (proto3 JSON writes 64-bit integers as strings) within the
//! 32-bit range; `ID` and `String` accept numbers too; an enum accepts its
//! value names, or protobuf-style prefixed names (`CATEGORY_BOOKS` for
//! `BOOKS`); a protobuf enum's `…_UNSPECIFIED` zero value becomes `null`.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::dynamic::FieldValue;
use async_graphql::{Name, Value as GqlValue};
use serde_json::Value;

/// The declared type of an output field, as far as conversion needs it.
#[derive(Debug, Clone)]
pub struct Shape {
    /// Whether `null` is allowed here.
    pub nullable: bool,
    /// What a non-null value is.
    pub kind: ShapeKind,
}

/// The kinds of output values.
#[derive(Debug, Clone)]
pub enum ShapeKind {
    /// `Int`.
    Int,
    /// `Float`.
    Float,
    /// `String`.
    String,
    /// `ID`.
    Id,
    /// `Boolean`.
    Boolean,
    /// A custom scalar: any JSON, passed through.
    Scalar,
    /// An enum type.
    Enum(Arc<EnumValues>),
    /// An object type: its fields resolve against the JSON object.
    Object,
    /// A list of something.
    List(Box<Shape>),
}

/// The values of an enum type.
#[derive(Debug)]
pub struct EnumValues {
    /// The GraphQL value names.
    pub names: HashSet<String>,
}

impl EnumValues {
    /// The GraphQL value a backend's enum text stands for: the text itself,
    /// or the longest `_`-separated suffix of it that is a value, so that
    /// protobuf names such as `CATEGORY_BOOKS` map to `BOOKS`.
    pub fn resolve(&self, text: &str) -> Option<String> {
        if self.names.contains(text) {
            return Some(text.to_owned());
        }
        text.match_indices('_')
            .map(|(i, _)| &text[i + 1..])
            .find(|suffix| self.names.contains(*suffix))
            .map(str::to_owned)
    }
}

/// JSON that can become a [`FieldValue`]: borrowed from a parent, or owned
/// when it is a fresh backend response.
pub trait Json<'a>: Sized {
    /// A view of the JSON.
    fn json(&self) -> &Value;
    /// The items of a JSON array (only called on arrays).
    fn into_items(self) -> Vec<Self>;
    /// The JSON as an object value its child fields can read.
    fn into_object(self) -> FieldValue<'a>;
}

impl<'a> Json<'a> for &'a Value {
    fn json(&self) -> &Value {
        self
    }

    fn into_items(self) -> Vec<Self> {
        self.as_array()
            .map(|items| items.iter().collect())
            .unwrap_or_default()
    }

    fn into_object(self) -> FieldValue<'a> {
        FieldValue::borrowed_any(self)
    }
}

impl Json<'static> for Value {
    fn json(&self) -> &Value {
        self
    }

    fn into_items(self) -> Vec<Self> {
        match self {
            Value::Array(items) => items,
            _ => Vec::new(),
        }
    }

    fn into_object(self) -> FieldValue<'static> {
        FieldValue::owned_any(self)
    }
}

/// Converts `json` (absent or `null` meaning no value) to the GraphQL value
/// of `shape`; the error says what did not fit.
pub fn to_field_value<'a, J: Json<'a>>(
    json: Option<J>,
    shape: &Shape,
) -> Result<Option<FieldValue<'a>>, String> {
    let Some(json) = json.filter(|json| !json.json().is_null()) else {
        return if shape.nullable {
            Ok(None)
        } else {
            Err("a non-null field got no value".to_owned())
        };
    };
    let value = match &shape.kind {
        ShapeKind::Object if json.json().is_object() => json.into_object(),
        ShapeKind::Object => return Err(mismatch("an object", json.json())),
        ShapeKind::List(item) if json.json().is_array() => {
            let items = json.into_items().into_iter().map(|item_json| {
                to_field_value(Some(item_json), item).map(|value| value.unwrap_or(FieldValue::NULL))
            });
            FieldValue::list(items.collect::<Result<Vec<_>, _>>()?)
        }
        ShapeKind::List(_) => return Err(mismatch("a list", json.json())),
        scalar => FieldValue::value(to_scalar(json.json(), scalar)?),
    };
    Ok(Some(value))
}

fn to_scalar(json: &Value, kind: &ShapeKind) -> Result<GqlValue, String> {
    let converted = match (kind, json) {
        (ShapeKind::Int, Value::Number(n)) => n
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(GqlValue::from),
        (ShapeKind::Int, Value::String(s)) => s.parse::<i32>().ok().map(GqlValue::from),
        (ShapeKind::Float, Value::Number(n)) => n.as_f64().map(GqlValue::from),
        (ShapeKind::Float, Value::String(s)) => s.parse::<f64>().ok().map(GqlValue::from),
        (ShapeKind::String | ShapeKind::Id, Value::String(s)) => Some(GqlValue::String(s.clone())),
        (ShapeKind::String | ShapeKind::Id, Value::Number(n)) => {
            Some(GqlValue::String(n.to_string()))
        }
        (ShapeKind::Boolean, Value::Bool(b)) => Some(GqlValue::Boolean(*b)),
        (ShapeKind::Enum(values), Value::String(s)) => match values.resolve(s) {
            Some(name) => Some(GqlValue::Enum(Name::new(name))),
            None if s.ends_with("_UNSPECIFIED") => Some(GqlValue::Null),
            None => None,
        },
        (ShapeKind::Scalar, json) => GqlValue::from_json(json.clone()).ok(),
        _ => None,
    };
    converted.ok_or_else(|| {
        let expected = match kind {
            ShapeKind::Int => "an Int (a 32-bit integer)",
            ShapeKind::Float => "a Float",
            ShapeKind::String => "a String",
            ShapeKind::Id => "an ID",
            ShapeKind::Boolean => "a Boolean",
            ShapeKind::Enum(_) => "one of the enum's values",
            _ => "a scalar",
        };
        mismatch(expected, json)
    })
}

fn mismatch(expected: &str, got: &Value) -> String {
    let got = match got {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.len() <= 40 => format!("\"{s}\""),
        Value::String(_) => "a long string".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    };
    format!("expected {expected}, got {got}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn shape(kind: ShapeKind) -> Shape {
        Shape {
            nullable: true,
            kind,
        }
    }

    fn scalar(json: &Value, kind: ShapeKind) -> Result<GqlValue, String> {
        let value = to_field_value(Some(json), &shape(kind))?.expect("a value");
        Ok(value.as_value().expect("a scalar").clone())
    }

    #[test]
    fn ints_accept_numbers_and_numeric_strings_within_32_bits() {
        assert_eq!(scalar(&json!(42), ShapeKind::Int), Ok(GqlValue::from(42)));
        assert_eq!(
            scalar(&json!("1299"), ShapeKind::Int),
            Ok(GqlValue::from(1299))
        );
        assert_eq!(
            scalar(&json!("9000000000"), ShapeKind::Int),
            Err("expected an Int (a 32-bit integer), got \"9000000000\"".to_owned())
        );
        assert!(scalar(&json!(1.5), ShapeKind::Int).is_err());
    }

    #[test]
    fn ids_and_strings_accept_numbers() {
        assert_eq!(scalar(&json!(7), ShapeKind::Id), Ok(GqlValue::from("7")));
        assert_eq!(
            scalar(&json!("x"), ShapeKind::String),
            Ok(GqlValue::from("x"))
        );
        assert!(scalar(&json!(true), ShapeKind::String).is_err());
    }

    #[test]
    fn enums_accept_their_names_and_protobuf_prefixed_names() {
        let values = Arc::new(EnumValues {
            names: ["BOOKS".to_owned()].into(),
        });
        let kind = || ShapeKind::Enum(values.clone());
        assert_eq!(
            scalar(&json!("BOOKS"), kind()),
            Ok(GqlValue::Enum(Name::new("BOOKS")))
        );
        assert_eq!(
            scalar(&json!("PRODUCT_CATEGORY_BOOKS"), kind()),
            Ok(GqlValue::Enum(Name::new("BOOKS")))
        );
        assert!(scalar(&json!("TOYS"), kind()).is_err());
        assert_eq!(
            scalar(&json!("CATEGORY_UNSPECIFIED"), kind()),
            Ok(GqlValue::Null)
        );
    }

    #[test]
    fn null_is_refused_only_where_the_type_is_non_null() {
        let nullable = shape(ShapeKind::Int);
        assert!(to_field_value::<&Value>(None, &nullable).unwrap().is_none());
        let required = Shape {
            nullable: false,
            kind: ShapeKind::Int,
        };
        assert!(to_field_value(Some(&json!(null)), &required).is_err());
    }

    #[test]
    fn lists_convert_each_item_and_objects_stay_json() {
        let list = shape(ShapeKind::List(Box::new(shape(ShapeKind::Object))));
        let json = json!([{"a": 1}, null]);
        let value = to_field_value(Some(&json), &list).unwrap().unwrap();
        let items = value.as_list().unwrap();
        assert_eq!(items[0].downcast_ref::<Value>(), Some(&json!({"a": 1})));
        assert!(items[1].as_value().is_some_and(|v| *v == GqlValue::Null));
        assert_eq!(
            to_field_value(Some(&json!({"a": 1})), &list).err(),
            Some("expected a list, got an object".to_owned())
        );
    }
}
