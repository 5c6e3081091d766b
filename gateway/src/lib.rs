//! weft: one GraphQL API over REST services, gRPC services and broker events,
//! declared with schema directives instead of resolver code.
//!
//! The data's way through the gateway, one module per stage:
//! [`config`] reads `weft.toml`; [`schema`] turns SDL plus directives into an
//! executable schema, checking every directive against its source at
//! start-up; [`server`] answers HTTP; [`sources`] calls the backends through
//! [`template`]s; [`error`] separates what clients may see from internal
//! detail; [`metrics`] counts it all.

pub mod config;
pub mod error;
pub mod metrics;
pub mod sources;
pub mod template;
pub mod schema;
