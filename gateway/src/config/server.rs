//! `[server]`: where the gateway listens and what it serves besides GraphQL.

use std::net::SocketAddr;

use serde::Deserialize;

use super::Origin;
use crate::error::Diagnostics;

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";

/// The validated `[server]` section.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The socket address of the HTTP server (`listen`, default
    /// `127.0.0.1:4000`).
    pub listen: SocketAddr,
    /// Whether `GET /graphql` from a browser serves GraphiQL (`graphiql`,
    /// default `true`).
    pub graphiql: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    listen: Option<toml::Spanned<String>>,
    graphiql: Option<bool>,
}

pub(super) fn validate(
    raw: RawServer,
    origin: &Origin<'_>,
    problems: &mut Diagnostics,
) -> ServerConfig {
    let default_listen = DEFAULT_LISTEN
        .parse()
        .expect("the default listen address parses");
    let listen = raw.listen.map_or(default_listen, |listen| {
        listen.get_ref().parse().unwrap_or_else(|_| {
            problems.push(origin.error(
                listen.span(),
                format!(
                    "`listen = \"{}\"` is not a socket address like 127.0.0.1:4000",
                    listen.get_ref()
                ),
            ));
            default_listen
        })
    });
    ServerConfig {
        listen,
        graphiql: raw.graphiql.unwrap_or(true),
    }
}
