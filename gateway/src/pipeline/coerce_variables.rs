//! Stage 4: the request's variables → values of their declared types, by
//! GraphQL's input coercion rules: `Int` is a 32-bit integer, `Float` any
//! number, `ID` a string or an integer (as a string), enums by value name,
//! input objects field by field with their defaults, a single value where a
//! list is expected becomes a list of one, and `null` only where the type
//! allows it. A variable that is not given takes its default, if any.

use graphql_tools::static_graphql::query::{self, VariableDefinition};
use serde_json::{Map, Value};

use super::normalize::literal;
use crate::error::{GraphqlError, codes};
use crate::schema::model::{Model, NamedType, TypeRef};

/// The coerced variables of one request.
pub type Variables = Map<String, Value>;

/// Coerces `given` to the operation's variable definitions.
pub fn coerce(
    model: &Model,
    definitions: &[VariableDefinition],
    given: &Map<String, Value>,
) -> Result<Variables, Vec<GraphqlError>> {
    let mut coerced = Map::new();
    let mut errors = Vec::new();
    for definition in definitions {
        let ty = type_ref(&definition.var_type);
        let name = &definition.name;
        let at = |message: String| {
            GraphqlError::new(
                format!("variable `${name}`: {message}"),
                codes::BAD_USER_INPUT,
            )
            .located(definition.position.line, definition.position.column)
        };
        match given.get(name) {
            Some(value) => match coerce_value(model, &ty, value) {
                Ok(value) => drop(coerced.insert(name.clone(), value)),
                Err(message) => errors.push(at(message)),
            },
            None => match &definition.default_value {
                Some(default) => drop(coerced.insert(name.clone(), literal(default))),
                None if !ty.is_nullable() => {
                    errors.push(at(format!("a value of type `{ty}` is required")));
                }
                None => {}
            },
        }
    }
    if errors.is_empty() {
        Ok(coerced)
    } else {
        Err(errors)
    }
}

/// A declared variable type in the model's form.
pub fn type_ref(ty: &query::Type) -> TypeRef {
    match ty {
        query::Type::NamedType(name) => TypeRef::Named(name.clone()),
        query::Type::ListType(inner) => TypeRef::List(Box::new(type_ref(inner))),
        query::Type::NonNullType(inner) => TypeRef::NonNull(Box::new(type_ref(inner))),
    }
}

/// Coerces one value to `ty`; the error says what did not fit.
fn coerce_value(model: &Model, ty: &TypeRef, value: &Value) -> Result<Value, String> {
    match (ty, value) {
        (TypeRef::NonNull(_), Value::Null) => Err(format!("`{ty}` cannot be null")),
        (TypeRef::NonNull(inner), value) => coerce_value(model, inner, value),
        (_, Value::Null) => Ok(Value::Null),
        (TypeRef::List(item), Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, value)| {
                coerce_value(model, item, value).map_err(|message| format!("item {i}: {message}"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (TypeRef::List(item), value) => Ok(Value::Array(vec![coerce_value(model, item, value)?])),
        (TypeRef::Named(name), value) => coerce_named(model, name, value),
    }
}

fn coerce_named(model: &Model, name: &str, value: &Value) -> Result<Value, String> {
    let fits = match (name, value) {
        ("Int", Value::Number(number)) => number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
        ("Float", Value::Number(_))
        | ("String" | "ID", Value::String(_))
        | ("Boolean", Value::Bool(_)) => true,
        ("ID", Value::Number(number)) if number.is_i64() || number.is_u64() => {
            return Ok(Value::String(number.to_string()));
        }
        ("Int" | "Float" | "String" | "Boolean" | "ID", _) => false,
        _ => return coerce_custom(model, name, value),
    };
    if fits {
        Ok(value.clone())
    } else {
        Err(format!("{} is not a valid `{name}`", describe(value)))
    }
}

fn coerce_custom(model: &Model, name: &str, value: &Value) -> Result<Value, String> {
    match (model.types.get(name), value) {
        (Some(NamedType::Scalar), value) => Ok(value.clone()),
        (Some(NamedType::Enum(values)), Value::String(text)) if values.names.contains(text) => {
            Ok(value.clone())
        }
        (Some(NamedType::Enum(_)), value) => Err(format!(
            "{} is not a value of enum `{name}`",
            describe(value)
        )),
        (Some(NamedType::Input(fields)), Value::Object(entries)) => {
            if let Some(unknown) = entries
                .keys()
                .find(|key| !fields.iter().any(|field| field.name == **key))
            {
                return Err(format!("input `{name}` has no field `{unknown}`"));
            }
            let mut coerced = Map::new();
            for field in fields {
                match (entries.get(&field.name), &field.default) {
                    (Some(value), _) => {
                        let value = coerce_value(model, &field.ty, value)
                            .map_err(|message| format!("field `{}`: {message}", field.name))?;
                        coerced.insert(field.name.clone(), value);
                    }
                    (None, Some(default)) => {
                        drop(coerced.insert(field.name.clone(), default.clone()));
                    }
                    (None, None) if !field.ty.is_nullable() => {
                        return Err(format!("input `{name}` needs field `{}`", field.name));
                    }
                    (None, None) => {}
                }
            }
            Ok(Value::Object(coerced))
        }
        (Some(NamedType::Input(_)), value) => Err(format!(
            "{} is not an input object `{name}`",
            describe(value)
        )),
        _ => Err(format!("`{name}` is not an input type")),
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(text) if text.len() <= 40 => format!("\"{text}\""),
        Value::String(_) => "a long string".to_owned(),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::LimitsConfig;
    use crate::schema::model::{EnumValues, InputValue};

    fn model() -> Model {
        let mut model = Model::default();
        let status = EnumValues {
            names: ["PAID".to_owned()].into_iter().collect(),
        };
        model
            .types
            .insert("Status".to_owned(), NamedType::Enum(status.into()));
        let item = vec![
            InputValue {
                name: "sku".to_owned(),
                ty: TypeRef::NonNull(Box::new(TypeRef::Named("ID".to_owned()))),
                default: None,
            },
            InputValue {
                name: "quantity".to_owned(),
                ty: TypeRef::Named("Int".to_owned()),
                default: Some(json!(1)),
            },
        ];
        model
            .types
            .insert("Item".to_owned(), NamedType::Input(item));
        model
    }

    fn run(document: &str, given: &Value) -> Result<Variables, Vec<GraphqlError>> {
        let document = super::super::parse::parse(document, &LimitsConfig::default()).unwrap();
        let definitions = match &document.definitions[0] {
            query::Definition::Operation(query::OperationDefinition::Query(q)) => {
                q.variable_definitions.clone()
            }
            _ => panic!("a query"),
        };
        coerce(&model(), &definitions, given.as_object().unwrap())
    }

    #[test]
    fn ints_are_32_bit() {
        assert!(run("query ($n: Int) { a }", &json!({"n": 2_147_483_647})).is_ok());
        let errors = run("query ($n: Int) { a }", &json!({"n": 99_999_999_999_i64})).unwrap_err();
        assert_eq!(errors[0].code(), codes::BAD_USER_INPUT);
        assert!(errors[0].message.contains("$n"), "{}", errors[0].message);
        assert!(run("query ($n: Int) { a }", &json!({"n": 1.5})).is_err());
    }

    #[test]
    fn ids_take_integers_as_strings_and_lists_take_single_values() {
        let coerced = run(
            "query ($id: ID!, $ids: [ID!]) { a }",
            &json!({"id": 7, "ids": 8}),
        )
        .unwrap();
        assert_eq!(coerced["id"], json!("7"));
        assert_eq!(coerced["ids"], json!(["8"]));
    }

    #[test]
    fn required_variables_and_non_null_items_are_enforced() {
        assert!(run("query ($id: ID!) { a }", &json!({})).is_err());
        assert!(run("query ($id: ID!) { a }", &json!({"id": null})).is_err());
        assert!(run("query ($ids: [ID!]) { a }", &json!({"ids": ["1", null]})).is_err());
        let defaulted = run("query ($n: Int = 20) { a }", &json!({})).unwrap();
        assert_eq!(defaulted["n"], json!(20));
    }

    #[test]
    fn enums_and_input_objects_follow_the_schema() {
        assert!(run("query ($s: Status) { a }", &json!({"s": "PAID"})).is_ok());
        assert!(run("query ($s: Status) { a }", &json!({"s": "LOST"})).is_err());
        let coerced = run("query ($i: Item) { a }", &json!({"i": {"sku": "A"}})).unwrap();
        assert_eq!(coerced["i"], json!({"sku": "A", "quantity": 1}));
        assert!(run("query ($i: Item) { a }", &json!({"i": {"quantity": 2}})).is_err());
        assert!(
            run(
                "query ($i: Item) { a }",
                &json!({"i": {"sku": "A", "x": 1}})
            )
            .is_err()
        );
    }
}
