//! JSON-like value templates for request bodies and gRPC request messages:
//! `{ userId: $args.userId, items: $args.items, source: "web" }`.
//!
//! Keys may be bare identifiers or quoted strings; commas are optional, as in
//! GraphQL. A variable may stand anywhere a value may. An object entry whose
//! variable has no value is left out rather than sent as `null`.

use serde_json::{Map, Value};

use super::{Resolve, Var, Vars, parse_var};

/// A parsed value template.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueTemplate {
    /// A constant.
    Literal(Value),
    /// A variable, rendered as the JSON it names.
    Var(Var),
    /// An object whose entries are templates.
    Object(Vec<(String, ValueTemplate)>),
    /// A list whose items are templates.
    List(Vec<ValueTemplate>),
}

impl ValueTemplate {
    /// Parses a whole template; trailing text is an error.
    pub fn parse(text: &str, resolve: &Resolve<'_>) -> Result<Self, String> {
        let mut parser = Parser {
            text,
            pos: 0,
            resolve,
        };
        let value = parser.value()?;
        parser.skip_blank();
        if parser.pos < text.len() {
            return Err(parser.error("unexpected text after the value"));
        }
        Ok(value)
    }

    /// Renders the template to JSON; a variable without a value renders as
    /// `null` (and is left out of objects).
    pub fn render(&self, vars: &Vars<'_>) -> Value {
        match self {
            Self::Literal(value) => value.clone(),
            Self::Var(var) => vars
                .get(var)
                .map_or(Value::Null, std::borrow::Cow::into_owned),
            Self::List(items) => items.iter().map(|item| item.render(vars)).collect(),
            Self::Object(entries) => {
                let map: Map<String, Value> = entries
                    .iter()
                    .map(|(key, template)| (key.clone(), template.render(vars)))
                    .filter(|(_, value)| !value.is_null())
                    .collect();
                Value::Object(map)
            }
        }
    }

    /// The keys of a top-level object template, with their templates.
    pub fn entries(&self) -> Option<&[(String, ValueTemplate)]> {
        match self {
            Self::Object(entries) => Some(entries),
            _ => None,
        }
    }
}

struct Parser<'t, 'r> {
    text: &'t str,
    pos: usize,
    resolve: &'r Resolve<'r>,
}

impl Parser<'_, '_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, message: &str) -> String {
        format!("{message} at offset {} of `{}`", self.pos, self.text)
    }

    fn skip_blank(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        self.pos += rest.len() - trimmed.len();
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_blank();
        if self.rest().starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<ValueTemplate, String> {
        self.skip_blank();
        match self.rest().chars().next() {
            Some('{') => self.object(),
            Some('[') => self.list(),
            Some('$') => {
                let (var, len) = parse_var(self.rest(), self.resolve)?;
                self.pos += len;
                Ok(ValueTemplate::Var(var))
            }
            Some(_) => self.literal(),
            None => Err(self.error("expected a value")),
        }
    }

    fn object(&mut self) -> Result<ValueTemplate, String> {
        self.eat('{');
        let mut entries = Vec::new();
        while !self.eat('}') {
            let key = self.key()?;
            if !self.eat(':') {
                return Err(self.error(&format!("expected `:` after `{key}`")));
            }
            entries.push((key, self.value()?));
        }
        Ok(ValueTemplate::Object(entries))
    }

    fn list(&mut self) -> Result<ValueTemplate, String> {
        self.eat('[');
        let mut items = Vec::new();
        while !self.eat(']') {
            items.push(self.value()?);
        }
        Ok(ValueTemplate::List(items))
    }

    fn key(&mut self) -> Result<String, String> {
        self.skip_blank();
        if self.rest().starts_with('"') {
            return match self.literal()? {
                ValueTemplate::Literal(Value::String(key)) => Ok(key),
                _ => Err(self.error("expected a key")),
            };
        }
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error("expected a key or `}`"));
        }
        let key = self.rest()[..len].to_owned();
        self.pos += len;
        Ok(key)
    }

    /// A JSON string, number, `true`, `false` or `null`, read with
    /// `serde_json` so escapes and number forms follow JSON exactly.
    fn literal(&mut self) -> Result<ValueTemplate, String> {
        let mut stream = serde_json::Deserializer::from_str(self.rest()).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) if !value.is_object() && !value.is_array() => {
                self.pos += stream.byte_offset();
                Ok(ValueTemplate::Literal(value))
            }
            _ => Err(self.error("expected a value")),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::template::Caller;
    use crate::template::tests::accept_all;

    fn render(template: &str, args: &Value) -> Value {
        let vars = Vars {
            args,
            this: None,
            batch: None,
            caller: Caller::default(),
        };
        ValueTemplate::parse(template, &accept_all)
            .unwrap()
            .render(&vars)
    }

    #[test]
    fn objects_lists_literals_and_variables_render_to_json() {
        let args = json!({"sku": "SKU-1", "n": 3, "input": {"a": [1, 2]}});
        let rendered = render(
            r#"{ sku: $args.sku, "page size": 20, tags: ["x" $args.n], input: $args.input.a, ok: true }"#,
            &args,
        );
        assert_eq!(
            rendered,
            json!({"sku": "SKU-1", "page size": 20, "tags": ["x", 3], "input": [1, 2], "ok": true})
        );
    }

    #[test]
    fn a_bare_variable_is_a_whole_template() {
        let args = json!({"input": {"userId": "1"}});
        assert_eq!(render("$args.input", &args), json!({"userId": "1"}));
    }

    #[test]
    fn entries_without_a_value_are_left_out() {
        assert_eq!(render("{ a: $args.a, b: 1 }", &json!({})), json!({"b": 1}));
    }

    #[test]
    fn malformed_templates_say_where() {
        let error = ValueTemplate::parse("{ sku $args.sku }", &accept_all).unwrap_err();
        assert!(error.contains("expected `:` after `sku`"), "{error}");
        let error = ValueTemplate::parse("{ a: 1 } extra", &accept_all).unwrap_err();
        assert!(error.contains("unexpected text"), "{error}");
        let error = ValueTemplate::parse("{ a: 1", &accept_all).unwrap_err();
        assert!(error.contains("expected a key"), "{error}");
    }
}
