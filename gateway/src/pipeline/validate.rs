//! Stage 2: the document against the schema, with the standard GraphQL
//! validation rules (`graphql-tools`, the rules Hive Router runs). A
//! document that fails here never executes and its answer has no `data`.

use graphql_tools::static_graphql::{query, schema};
use graphql_tools::validation::rules::default_rules_validation_plan;
use graphql_tools::validation::validate::ValidationPlan;

use crate::error::{GraphqlError, codes};

/// What every schema has without declaring it.
const BUILT_INS: &str = "
directive @skip(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
directive @include(if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
scalar Boolean
scalar Float
scalar Int
scalar ID
scalar String
";

/// The public schema in the validator's form, and the rules to run.
pub struct Validator {
    schema: schema::Document,
    rules: ValidationPlan,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator for the schema printed as `sdl` (which need not declare
    /// the built-in scalars and directives).
    pub fn new(sdl: &str) -> Result<Self, String> {
        let sdl = format!("{BUILT_INS}{sdl}");
        let schema = graphql_tools::parser::schema::parse_schema::<String>(&sdl)
            .map_err(|error| format!("the public schema does not parse: {error}"))?
            .into_static();
        Ok(Self {
            schema,
            rules: default_rules_validation_plan(),
        })
    }

    /// Every rule the document breaks.
    pub fn validate(&self, document: &query::Document) -> Result<(), Vec<GraphqlError>> {
        let errors =
            graphql_tools::validation::validate::validate(&self.schema, document, &self.rules);
        if errors.is_empty() {
            return Ok(());
        }
        Err(errors
            .into_iter()
            .map(|error| {
                error.locations.iter().fold(
                    GraphqlError::new(error.message, codes::VALIDATION_FAILED),
                    |graphql, pos| graphql.located(pos.line, pos.column),
                )
            })
            .collect())
    }
}
