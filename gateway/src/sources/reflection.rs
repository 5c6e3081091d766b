//! The gRPC Server Reflection client: a service's file descriptors fetched
//! from the service itself, for sources with `reflection = true` and for
//! `weft import grpc --reflect`.
//!
//! One bidirectional `ServerReflectionInfo` stream per fetch, on
//! `grpc.reflection.v1` or, when the service lacks it, `v1alpha` (the two
//! have the same messages). It lists the services, asks for the file that
//! declares each, then for every file those import that has not come yet.
//! The well-known types (`google/protobuf/*.proto`) are taken from
//! prost-reflect's own copies when the service does not send them. The
//! result is used exactly as descriptors compiled from `.proto` files.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use http::uri::PathAndQuery;
use prost::Message as _;
use prost_reflect::DescriptorPool;
use prost_types::FileDescriptorProto;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status, Streaming};
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
use tonic_reflection::pb::v1::{ServerReflectionRequest, ServerReflectionResponse};

use crate::config::{Config, Descriptors, SourceKind};
use crate::error::Diagnostics;

/// The reflection methods, newest first.
const PATHS: [&str; 2] = [
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// Fetches the descriptors of every service `endpoint` serves (the
/// reflection service's own among them), within `timeout` for the whole
/// exchange. Fails with a sentence naming the
/// endpoint when it cannot be reached, does not serve reflection, or sends
/// descriptors that do not fit together.
pub async fn fetch(endpoint: &str, timeout: Duration) -> Result<DescriptorPool, String> {
    match tokio::time::timeout(timeout, exchange(endpoint, timeout)).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "{endpoint} did not answer gRPC server reflection within {} ms",
            timeout.as_millis()
        )),
    }
}

/// Fetches the descriptors of every `reflection = true` source of `config`
/// (and the SDL of every subgraph without an `sdl` file, see
/// [`super::graphql::fetch_sdls`])
/// (at once, each within its `timeout_ms`) and keeps them in the source's
/// [`Descriptors::Reflection`]. A source whose fetch fails is reported at
/// its table in the config file.
pub async fn fetch_all(config: &mut Config) -> Result<(), Diagnostics> {
    let keep = |kind: &mut SourceKind, pool| {
        if let SourceKind::Grpc(grpc) = kind {
            grpc.descriptors = Descriptors::Reflection {
                fetched: Some(pool),
            };
        }
    };
    let wanted = |kind: &SourceKind| reflected_endpoint(kind).map(str::to_owned);
    let reflect = |endpoint: String, timeout| async move { fetch(&endpoint, timeout).await };
    let mut problems = super::fetch_at_start(config, wanted, reflect, keep).await;
    if let Err(more) = super::graphql::fetch_sdls(config).await {
        problems.extend(more.0);
    }
    problems.into_result(())
}

/// The endpoint of a gRPC source whose descriptors come by reflection.
fn reflected_endpoint(kind: &SourceKind) -> Option<&str> {
    match kind {
        SourceKind::Grpc(grpc) if matches!(grpc.descriptors, Descriptors::Reflection { .. }) => {
            Some(&grpc.endpoint)
        }
        _ => None,
    }
}

async fn exchange(endpoint: &str, timeout: Duration) -> Result<DescriptorPool, String> {
    let channel = Endpoint::from_str(endpoint)
        .map_err(|_| format!("`{endpoint}` is not a valid endpoint URI"))?
        .connect_timeout(timeout)
        .connect()
        .await
        .map_err(|error| format!("cannot connect to {endpoint}: {}", chain(&error)))?;
    let (mut session, services) = Session::open(channel, endpoint).await?;
    let files = session.files(&services).await?;
    let mut pool = DescriptorPool::new();
    pool.add_file_descriptor_protos(files.into_values())
        .map_err(|error| format!("the descriptors {endpoint} sent do not fit together: {error}"))?;
    Ok(pool)
}

/// An error and its causes, as one line.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

/// One open `ServerReflectionInfo` stream: a request is sent, then its
/// answer read, one at a time.
struct Session<'e> {
    endpoint: &'e str,
    requests: mpsc::Sender<ServerReflectionRequest>,
    responses: Streaming<ServerReflectionResponse>,
}

impl<'e> Session<'e> {
    /// Opens the stream on the first reflection version the service
    /// serves, and lists the services (asked for before the call is made:
    /// some servers answer the call only once a request has come).
    async fn open(channel: Channel, endpoint: &'e str) -> Result<(Self, Vec<String>), String> {
        for path in PATHS {
            let (requests, pending) = mpsc::channel(1);
            let first = request(MessageRequest::ListServices(String::new()));
            requests
                .send(first)
                .await
                .map_err(|_| "the request stream closed".to_owned())?;
            let mut responses = match call(channel.clone(), path, pending).await {
                Ok(responses) => responses,
                Err(status) if status.code() == Code::Unimplemented => continue,
                Err(status) => return Err(status_error(endpoint, &status)),
            };
            let listed = match responses.message().await {
                Err(status) if status.code() == Code::Unimplemented => continue,
                listed => listed,
            };
            let session = Self {
                endpoint,
                requests,
                responses,
            };
            let services = session.services(listed)?;
            return Ok((session, services));
        }
        Err(format!(
            "{endpoint} does not serve gRPC server reflection (grpc.reflection.v1 or v1alpha); \
             turn it on in the service, or give the source `protos` instead"
        ))
    }

    /// The full names of the services, from the answer to the request
    /// [`Session::open`] sent.
    fn services(
        &self,
        listed: Result<Option<ServerReflectionResponse>, Status>,
    ) -> Result<Vec<String>, String> {
        match self.read(listed)? {
            MessageResponse::ListServicesResponse(list) => Ok(list
                .service
                .into_iter()
                .map(|service| service.name)
                .collect()),
            _ => Err(self.unexpected("the list of services")),
        }
    }

    /// The files that declare `services`, and every file they import, by
    /// name.
    async fn files(
        &mut self,
        services: &[String],
    ) -> Result<BTreeMap<String, FileDescriptorProto>, String> {
        let mut files = BTreeMap::new();
        for service in services {
            let answer = self
                .ask(MessageRequest::FileContainingSymbol(service.clone()))
                .await?;
            self.keep(answer, &mut files)?;
        }
        loop {
            let missing = missing_imports(&files);
            if missing.is_empty() {
                return Ok(files);
            }
            for name in missing {
                if let Some(file) = well_known(&name) {
                    files.insert(name, file);
                    continue;
                }
                let answer = self
                    .ask(MessageRequest::FileByFilename(name.clone()))
                    .await?;
                self.keep(answer, &mut files)?;
                if !files.contains_key(&name) {
                    return Err(format!("{} did not send `{name}`", self.endpoint));
                }
            }
        }
    }

    /// Decodes the files of a file descriptor answer into `files`.
    fn keep(
        &self,
        answer: MessageResponse,
        files: &mut BTreeMap<String, FileDescriptorProto>,
    ) -> Result<(), String> {
        let MessageResponse::FileDescriptorResponse(found) = answer else {
            return Err(self.unexpected("file descriptors"));
        };
        for bytes in found.file_descriptor_proto {
            let file = FileDescriptorProto::decode(bytes.as_slice()).map_err(|error| {
                format!(
                    "{} sent a file descriptor that does not decode: {error}",
                    self.endpoint
                )
            })?;
            files.entry(file.name().to_owned()).or_insert(file);
        }
        Ok(())
    }

    async fn ask(&mut self, message: MessageRequest) -> Result<MessageResponse, String> {
        self.requests
            .send(request(message))
            .await
            .map_err(|_| format!("{} closed the reflection stream", self.endpoint))?;
        self.answer().await
    }

    async fn answer(&mut self) -> Result<MessageResponse, String> {
        let next = self.responses.message().await;
        self.read(next)
    }

    /// The answer in what the stream yielded; an error for an error
    /// answer, a failed call or a closed stream.
    fn read(
        &self,
        next: Result<Option<ServerReflectionResponse>, Status>,
    ) -> Result<MessageResponse, String> {
        let response = match next {
            Ok(Some(response)) => response,
            Ok(None) => return Err(format!("{} closed the reflection stream", self.endpoint)),
            Err(status) => return Err(status_error(self.endpoint, &status)),
        };
        match response.message_response {
            Some(MessageResponse::ErrorResponse(error)) => Err(format!(
                "{} answered reflection with an error: {} ({})",
                self.endpoint,
                error.error_message,
                Code::from(error.error_code)
            )),
            Some(answer) => Ok(answer),
            None => Err(self.unexpected("an answer")),
        }
    }

    fn unexpected(&self, wanted: &str) -> String {
        format!(
            "{} answered reflection with something other than {wanted}",
            self.endpoint
        )
    }
}

/// Opens the reflection stream at `path`, its requests read from `pending`.
async fn call(
    channel: Channel,
    path: &'static str,
    pending: mpsc::Receiver<ServerReflectionRequest>,
) -> Result<Streaming<ServerReflectionResponse>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|error| Status::unavailable(chain(&error)))?;
    let request = tonic::Request::new(ReceiverStream::new(pending));
    let codec = tonic_prost::ProstCodec::default();
    let response = grpc
        .streaming(request, PathAndQuery::from_static(path), codec)
        .await?;
    Ok(response.into_inner())
}

fn request(message: MessageRequest) -> ServerReflectionRequest {
    ServerReflectionRequest {
        host: String::new(),
        message_request: Some(message),
    }
}

fn status_error(endpoint: &str, status: &Status) -> String {
    match status.code() {
        Code::Unavailable => format!("cannot reach {endpoint}: {}", status.message()),
        code => format!(
            "{endpoint} answered reflection with {code:?}: {}",
            status.message()
        ),
    }
}

/// The files that `files` import but that are not among them, sorted.
fn missing_imports(files: &BTreeMap<String, FileDescriptorProto>) -> Vec<String> {
    let mut missing: Vec<String> = files
        .values()
        .flat_map(|file| file.dependency.iter())
        .filter(|name| !files.contains_key(*name))
        .cloned()
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// A well-known type's file (`google/protobuf/timestamp.proto`, …), from
/// prost-reflect's own copies.
fn well_known(name: &str) -> Option<FileDescriptorProto> {
    if !name.starts_with("google/protobuf/") {
        return None;
    }
    DescriptorPool::global()
        .get_file_by_name(name)
        .map(|file| file.file_descriptor_proto().clone())
}
