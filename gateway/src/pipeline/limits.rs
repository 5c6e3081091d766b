//! Stage 2: the operation limits of `[limits]`, on the syntax tree, before
//! the validation rules run (some of which grow with the square of a
//! document's size).
//!
//! Depth, aliases and root fields are measured with fragments spread, each
//! fragment measured once and its measure reused wherever it is spread, so
//! that a document of fragments spreading each other many times over is
//! measured in time linear in its size. Every operation of the document is
//! measured; the directives of every field and fragment are counted.

use std::collections::{HashMap, HashSet};

use graphql_tools::static_graphql::query::{
    Definition, Directive, Document, FragmentDefinition, OperationDefinition, Selection,
    SelectionSet,
};

use crate::config::LimitsConfig;
use crate::error::{GraphqlError, codes};

/// What a selection set weighs, its fragments spread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Measure {
    /// Fields nested, counting the set's own as 1.
    depth: usize,
    /// Aliased fields, at any depth.
    aliases: usize,
    /// Fields of the set itself.
    fields: usize,
}

impl Measure {
    fn add(&mut self, other: Self) {
        self.depth = self.depth.max(other.depth);
        self.aliases = self.aliases.saturating_add(other.aliases);
        self.fields = self.fields.saturating_add(other.fields);
    }
}

/// Refuses `document` when one of its operations is over a limit.
pub fn check(document: &Document, limits: &LimitsConfig) -> Result<(), GraphqlError> {
    let mut measurer = Measurer {
        limits,
        fragments: document
            .definitions
            .iter()
            .filter_map(|definition| match definition {
                Definition::Fragment(fragment) => Some((fragment.name.as_str(), fragment)),
                Definition::Operation(_) => None,
            })
            .collect(),
        measured: HashMap::new(),
        spreading: HashSet::new(),
    };
    for definition in &document.definitions {
        if let Definition::Operation(operation) = definition {
            let (directives, selection) = parts(operation);
            measurer.directives(directives)?;
            let measure = measurer.selection_set(selection)?;
            over(
                measure.depth,
                limits.max_depth,
                "levels deep",
                codes::MAX_DEPTH_LIMIT,
            )?;
            over(
                measure.aliases,
                limits.max_aliases,
                "aliases",
                codes::MAX_ALIASES_LIMIT,
            )?;
            over(
                measure.fields,
                limits.max_root_fields,
                "root fields",
                codes::MAX_ROOT_FIELDS_LIMIT,
            )?;
        }
    }
    Ok(())
}

fn over(value: usize, limit: usize, what: &str, code: &'static str) -> Result<(), GraphqlError> {
    if value > limit {
        return Err(GraphqlError::new(
            format!("the operation has {value} {what}; at most {limit} are allowed"),
            code,
        ));
    }
    Ok(())
}

fn parts(operation: &OperationDefinition) -> (&[Directive], &SelectionSet) {
    match operation {
        OperationDefinition::SelectionSet(selection) => (&[], selection),
        OperationDefinition::Query(query) => (&query.directives, &query.selection_set),
        OperationDefinition::Mutation(mutation) => (&mutation.directives, &mutation.selection_set),
        OperationDefinition::Subscription(subscription) => {
            (&subscription.directives, &subscription.selection_set)
        }
    }
}

struct Measurer<'d> {
    limits: &'d LimitsConfig,
    fragments: HashMap<&'d str, &'d FragmentDefinition>,
    measured: HashMap<&'d str, Measure>,
    /// Fragments being measured: a cycle counts nothing (the validation
    /// rules report it).
    spreading: HashSet<&'d str>,
}

impl<'d> Measurer<'d> {
    fn selection_set(&mut self, set: &'d SelectionSet) -> Result<Measure, GraphqlError> {
        let mut measure = Measure::default();
        for selection in &set.items {
            match selection {
                Selection::Field(field) => {
                    self.directives(&field.directives)?;
                    let inner = self.selection_set(&field.selection_set)?;
                    measure.add(Measure {
                        depth: inner.depth.saturating_add(1),
                        aliases: inner.aliases + usize::from(field.alias.is_some()),
                        fields: 1,
                    });
                }
                Selection::FragmentSpread(spread) => {
                    self.directives(&spread.directives)?;
                    measure.add(self.fragment(&spread.fragment_name)?);
                }
                Selection::InlineFragment(inline) => {
                    self.directives(&inline.directives)?;
                    measure.add(self.selection_set(&inline.selection_set)?);
                }
            }
        }
        Ok(measure)
    }

    fn fragment(&mut self, name: &'d str) -> Result<Measure, GraphqlError> {
        if let Some(measure) = self.measured.get(name) {
            return Ok(*measure);
        }
        let Some(fragment) = self.fragments.get(name).copied() else {
            return Ok(Measure::default());
        };
        if !self.spreading.insert(name) {
            return Ok(Measure::default());
        }
        self.directives(&fragment.directives)?;
        let measure = self.selection_set(&fragment.selection_set)?;
        self.spreading.remove(name);
        self.measured.insert(name, measure);
        Ok(measure)
    }

    fn directives(&self, directives: &[Directive]) -> Result<(), GraphqlError> {
        let limit = self.limits.max_directives;
        match directives.get(limit) {
            Some(directive) => Err(GraphqlError::new(
                format!(
                    "a selection carries {} directives; at most {limit} are allowed",
                    directives.len()
                ),
                codes::MAX_DIRECTIVES_LIMIT,
            )
            .located(directive.position.line, directive.position.column)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;

    fn check_text(text: &str, limits: &LimitsConfig) -> Result<(), String> {
        let document = graphql_tools::parser::query::parse_query::<String>(text)
            .unwrap()
            .into_static();
        check(&document, limits).map_err(|error| error.code().to_owned())
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        let limits = LimitsConfig {
            max_depth: 3,
            ..LimitsConfig::default()
        };
        let text = "{ a { ...F } } fragment F on T { b { c } }";
        assert_eq!(check_text(text, &limits), Ok(()));
        let deeper = "{ a { ...F } } fragment F on T { b { c { d } } }";
        assert_eq!(
            check_text(deeper, &limits),
            Err(codes::MAX_DEPTH_LIMIT.to_owned())
        );
    }

    #[test]
    fn aliases_multiply_with_every_spread() {
        let limits = LimitsConfig {
            max_aliases: 5,
            ..LimitsConfig::default()
        };
        let three = "{ ...F } fragment F on Q { a: x b: x c: x }";
        assert_eq!(check_text(three, &limits), Ok(()));
        let six = "{ ...F ...F } fragment F on Q { a: x b: x c: x }";
        assert_eq!(
            check_text(six, &limits),
            Err(codes::MAX_ALIASES_LIMIT.to_owned())
        );
    }

    #[test]
    fn exponential_spreads_are_measured_once_per_fragment() {
        let mut text = String::from("{ ...F0 }");
        for n in 0..40 {
            let next = n + 1;
            let _ = write!(text, " fragment F{n} on Q {{ ...F{next} ...F{next} }}");
        }
        text.push_str(" fragment F40 on Q { a: x }");
        assert_eq!(
            check_text(&text, &LimitsConfig::default()),
            Err(codes::MAX_ALIASES_LIMIT.to_owned())
        );
    }

    #[test]
    fn root_fields_and_directives_have_their_limits() {
        let limits = LimitsConfig {
            max_root_fields: 2,
            max_directives: 1,
            ..LimitsConfig::default()
        };
        assert_eq!(check_text("{ a b }", &limits), Ok(()));
        assert_eq!(
            check_text("{ a ... { b c } }", &limits),
            Err(codes::MAX_ROOT_FIELDS_LIMIT.to_owned())
        );
        assert_eq!(
            check_text("{ a @x @y }", &limits),
            Err(codes::MAX_DIRECTIVES_LIMIT.to_owned())
        );
    }

    #[test]
    fn cyclic_fragments_are_left_to_validation() {
        let text = "{ ...A } fragment A on Q { ...B } fragment B on Q { ...A }";
        assert_eq!(check_text(text, &LimitsConfig::default()), Ok(()));
    }
}
