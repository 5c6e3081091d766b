//! SDL plus directives → weft's schema model (and the async-graphql
//! schema that answers introspection).
//!
//! Stages, in order: [`document`] reads and merges the schema files;
//! [`federation`] composes the subgraphs' SDL into them (a supergraph
//! file's subgraphs split by [`supergraph`] when the config is read);
//! the sources named in the config are opened (gRPC protos compiled);
//! [`build`] walks every type and field, reads its [`directives`], binds
//! `@rest`/`@grpc` fields to connectors ([`connect`]), checks gRPC fields
//! against their protobuf messages ([`proto_check`]) and `@rest` fields
//! against their source's OpenAPI document ([`openapi_check`], when the
//! source names one), and records each
//! field's binding in the [`model`]. Any mistake is a [`Diagnostic`] with file and
//! line; the schema is only built when there are none, so a running gateway
//! never meets a configuration error at request time.

pub mod build;
pub mod connect;
pub mod directives;
pub mod document;
pub mod federation;
pub mod initial;
pub mod model;
pub mod openapi_check;
pub mod proto_check;
pub mod supergraph;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::Schema;

use crate::config::{Config, RestSourceConfig, SourceConfig, SourceKind, SubgraphSdl};
use crate::error::{Diagnostic, Diagnostics};
use crate::metrics::Metrics;
use crate::openapi;
use crate::sources::graphql::GraphqlSource;
use crate::sources::grpc::GrpcSource;
use crate::sources::rest::RestSource;

/// The configured sources, opened and ready to be bound to fields.
#[derive(Debug, Default)]
pub struct Sources {
    /// REST sources by name.
    pub rest: HashMap<String, Arc<RestSource>>,
    /// gRPC sources by name.
    pub grpc: HashMap<String, Arc<GrpcSource>>,
    /// GraphQL subgraph sources by name.
    pub graphql: HashMap<String, Arc<GraphqlSource>>,
    /// The OpenAPI documents of REST sources that name one, by source.
    pub openapi: HashMap<String, openapi::Document>,
}

impl Sources {
    /// Opens every source in the config; problems are located at the
    /// source's table in the config file.
    pub fn open(config: &Config, metrics: &Arc<Metrics>) -> Result<Self, Diagnostics> {
        let mut sources = Self::default();
        let mut problems = Diagnostics::default();
        for (name, source) in &config.sources {
            let opened = match &source.kind {
                SourceKind::Rest(rest) => RestSource::new(name, rest, source, metrics.clone())
                    .map(|rest| drop(sources.rest.insert(name.clone(), Arc::new(rest)))),
                SourceKind::Grpc(grpc) => GrpcSource::new(name, grpc, source, metrics.clone())
                    .map(|grpc| drop(sources.grpc.insert(name.clone(), Arc::new(grpc)))),
                SourceKind::Graphql(graphql) => {
                    GraphqlSource::new(name, graphql, source, metrics.clone()).map(|graphql| {
                        drop(sources.graphql.insert(name.clone(), Arc::new(graphql)));
                    })
                }
            };
            if let SourceKind::Rest(rest) = &source.kind {
                match read_openapi(config, name, source, rest) {
                    Ok(Some(doc)) => drop(sources.openapi.insert(name.clone(), doc)),
                    Ok(None) => {}
                    Err(problem) => problems.push(problem),
                }
            }
            if let Err(message) = opened {
                problems.push(Diagnostic::at(
                    &config.path,
                    source.line,
                    0,
                    format!("source `{name}`: {message}"),
                ));
            }
        }
        problems.into_result(sources)
    }

    /// Every source name, sorted, for "did you mean" messages.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .rest
            .keys()
            .chain(self.grpc.keys())
            .chain(self.graphql.keys())
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        names
    }
}

/// The OpenAPI document a REST source names, if it names one; a file that
/// cannot be read is a problem at the source's table, one that is not an
/// OpenAPI document a problem in that file.
fn read_openapi(
    config: &Config,
    name: &str,
    source: &SourceConfig,
    rest: &RestSourceConfig,
) -> Result<Option<openapi::Document>, Diagnostic> {
    let Some(path) = &rest.openapi else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|error| {
        let message = format!(
            "source `{name}`: cannot read `openapi` file {}: {error}",
            path.display()
        );
        Diagnostic::at(&config.path, source.line, 0, message)
    })?;
    openapi::Document::parse(path, &path.display().to_string(), &text).map(Some)
}

/// Reads the schema files named in `config`, opens its sources and builds
/// the model and the introspection schema. Must run inside a Tokio runtime
/// (gRPC channels are created, though not connected).
pub fn compile(
    config: &Config,
    metrics: &Arc<Metrics>,
) -> Result<(model::Model, Schema), Diagnostics> {
    let files: Vec<_> = config
        .schema
        .files
        .iter()
        .map(|file| file.path.clone())
        .collect();
    let mut document = document::Document::load(&files)?;
    if let Some(roots) = config.supergraph.as_ref().and_then(|s| s.roots.clone()) {
        document.roots = roots;
    }
    federation::compose(&mut document, &subgraphs(config)?)?;
    let sources = Sources::open(config, metrics)?;
    build::build(&document, &sources)
}

/// The SDL of every subgraph source, in config order: its `sdl` file, or
/// what its `_service { sdl }` answered at start-up; the subgraphs of
/// `[supergraph]` at its place, split from its file ([`supergraph`]). A file
/// that cannot be read, or an SDL not yet fetched, is a problem at the
/// source's table.
fn subgraphs(config: &Config) -> Result<Vec<federation::Subgraph>, Diagnostics> {
    let mut subgraphs = Vec::new();
    let mut problems = Diagnostics::default();
    for (name, source) in &config.sources {
        let SourceKind::Graphql(graphql) = &source.kind else {
            continue;
        };
        let at_source = |message: String| {
            Diagnostic::at(
                &config.path,
                source.line,
                0,
                format!("source `{name}`: {message}"),
            )
        };
        let read = match &graphql.sdl {
            SubgraphSdl::File(path) => std::fs::read_to_string(path)
                .map(|text| (path.clone(), text))
                .map_err(|error| {
                    at_source(format!(
                        "cannot read `sdl` file {}: {error}",
                        path.display()
                    ))
                }),
            SubgraphSdl::Service(Some(text)) => {
                let place = format!("{} (_service of source `{name}`)", graphql.url);
                Ok((place.into(), text.clone()))
            }
            SubgraphSdl::Service(None) => Err(at_source(
                "its SDL was not fetched from `_service`".to_owned(),
            )),
            SubgraphSdl::Supergraph => continue,
        };
        match read {
            Ok((path, text)) => subgraphs.push((
                source.line,
                federation::Subgraph {
                    source: name.clone(),
                    path,
                    text,
                },
            )),
            Err(problem) => problems.push(problem),
        }
    }
    if let Some(supergraph) = &config.supergraph {
        let parts = supergraph.subgraphs.iter().cloned();
        subgraphs.extend(parts.map(|part| (supergraph.line, part)));
    }
    subgraphs.sort_by_key(|(line, _)| *line);
    problems.into_result(
        subgraphs
            .into_iter()
            .map(|(_, subgraph)| subgraph)
            .collect(),
    )
}
