//! gRPC backends, called dynamically.
//!
//! A [`GrpcSource`] reads the source's `.proto` files at start-up (with
//! `protox`, no `protoc` needed) into a descriptor pool, and keeps one lazily
//! connected HTTP/2 channel. Requests and responses follow the canonical
//! proto3 JSON mapping: field names in lowerCamelCase, enums by name, 64-bit
//! integers as strings, well-known types in their JSON forms, and default
//! values included so that a `0` is a `0` and not a missing field. Requests
//! are encoded from their JSON (`super::encode`, prost-reflect's
//! [`DynamicMessage`] for the shapes it leaves) and answers read from the
//! wire into documents (`super::transcode`), each method's way worked out
//! at start-up. Adding a gRPC service is therefore configuration only.
//!
//! Unary calls to the methods listed in the source's `idempotent_methods`
//! are retried after a transient failure (see [`super::resilience`]); each
//! must be a method the protos define.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use bytes::{Buf as _, BufMut as _};
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use http::uri::PathAndQuery;
use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, MethodDescriptor};
use serde_json::Value;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use super::encode::RequestEncoder;
use super::transcode::Transcoder;
use super::{Connector, Forward, Limits, Prepared, Reads, described, measured, settle};
use crate::config::{Descriptors, GrpcSourceConfig, SourceConfig};
use crate::error::SourceError;
use crate::json::Doc;
use crate::metrics::Metrics;
use crate::template::{ValueTemplate, Vars};

/// A configured gRPC backend.
#[derive(Debug)]
pub struct GrpcSource {
    name: String,
    pool: DescriptorPool,
    channel: Channel,
    limits: Limits,
    metrics: Arc<Metrics>,
    /// The full names (`package.Service.Method`) of the methods that may be
    /// retried.
    idempotent: HashSet<String>,
    /// How each method's requests are written and its responses read, by
    /// the method's full name; worked out at start-up.
    methods: HashMap<String, MethodCoding>,
    forward: Forward,
}

/// The descriptors of a source's services: its `.proto` files compiled, or
/// what reflection fetched from the service (see [`super::reflection`]).
pub fn descriptor_pool(config: &GrpcSourceConfig) -> Result<DescriptorPool, String> {
    match &config.descriptors {
        Descriptors::Protos { protos, include } => load_protos(protos, include, false),
        Descriptors::Reflection {
            fetched: Some(pool),
        } => Ok(pool.clone()),
        Descriptors::Reflection { fetched: None } => Err(
            "`reflection = true`, but the descriptors were not fetched from the service \
             (they are fetched when weft starts or reloads)"
                .to_owned(),
        ),
    }
}

/// Compiles `.proto` files and their imports into a descriptor pool;
/// `comments` keeps their comments (source info) too.
pub fn load_protos(
    protos: &[PathBuf],
    include: &[PathBuf],
    comments: bool,
) -> Result<DescriptorPool, String> {
    let mut compiler = protox::Compiler::new(include).map_err(|error| error.to_string())?;
    compiler.include_imports(true);
    compiler.include_source_info(comments);
    for proto in protos {
        compiler
            .open_file(proto)
            .map_err(|error| format!("cannot read `{}`: {error}", proto.display()))?;
    }
    Ok(compiler.descriptor_pool())
}

impl GrpcSource {
    /// Builds the source from its descriptors; the channel connects on first
    /// use, so weft starts even while the backend is down. Must be called
    /// inside a Tokio runtime.
    pub fn new(
        name: &str,
        config: &GrpcSourceConfig,
        source: &SourceConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let mut limits = Limits::new(source);
        let pool = descriptor_pool(config)?;
        let idempotent = idempotent_methods(&pool, &config.idempotent_methods)?;
        limits.report_to(&metrics, name);
        let channel = Endpoint::from_str(&config.endpoint)
            .map_err(|_| format!("`{}` is not a valid endpoint URI", config.endpoint))?
            .connect_timeout(limits.timeout)
            .connect_lazy();
        let methods = pool
            .services()
            .flat_map(|service| service.methods().collect::<Vec<_>>())
            .map(|method| (method.full_name().to_owned(), MethodCoding::new(&method)))
            .collect();
        Ok(Self {
            name: name.to_owned(),
            pool,
            channel,
            limits,
            metrics,
            idempotent,
            methods,
            forward: Forward::new(source),
        })
    }

    /// The codec of `method`: its responses are read with `transcoder`,
    /// or else with the one built for them at start-up.
    fn codec(
        &self,
        method: &MethodDescriptor,
        transcoder: Option<&Arc<Transcoder>>,
    ) -> DynamicCodec {
        if let Some(transcoder) = transcoder {
            return DynamicCodec(transcoder.clone());
        }
        let known = self.methods.get(method.full_name());
        let transcoder = known.map(|coding| coding.response.clone());
        DynamicCodec(transcoder.unwrap_or_else(|| Arc::new(Transcoder::new(&method.output()))))
    }

    /// The source's limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The method named `package.Service/Method`, if the protos define it.
    pub fn method(&self, full_name: &str) -> Option<MethodDescriptor> {
        find_method(&self.pool, full_name)
    }

    /// The message named `package.Message`, if the protos define it.
    pub fn message(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.pool.get_message_by_name(full_name)
    }

    /// Every `package.Service/Method` the protos define, for suggestions.
    pub fn method_names(&self) -> Vec<String> {
        method_names(&self.pool)
    }

    /// Whether calls to `method` may be retried (it is listed in the
    /// source's `idempotent_methods`).
    pub fn is_idempotent(&self, method: &MethodDescriptor) -> bool {
        self.idempotent.contains(method.full_name())
    }

    /// Calls a unary method with a JSON request; returns the JSON response,
    /// read with `transcoder` when given (one that writes only what is
    /// read of it), else with the method's own. A `retryable` call is made
    /// again after a transient failure, as often as the source's
    /// `retries` allow.
    pub async fn unary(
        &self,
        method: &MethodDescriptor,
        request: Value,
        retryable: bool,
        metadata: http::HeaderMap,
        transcoder: Option<Arc<Transcoder>>,
    ) -> Result<Doc, SourceError> {
        measured(&self.metrics, &self.name, &self.limits, retryable, || {
            self.exchange(method, &request, metadata.clone(), transcoder.as_ref())
        })
        .await
    }

    /// The client's headers this source forwards, as gRPC metadata.
    pub fn forwarded(&self, client: Option<&http::HeaderMap>) -> http::HeaderMap {
        self.forward.pick(client)
    }

    /// Opens a server stream with a JSON request; yields each message as
    /// JSON. Dropping the stream cancels the call upstream. The stream is not
    /// subject to the source's timeout, only its opening is.
    pub async fn server_stream(
        &self,
        method: &MethodDescriptor,
        request: Value,
        metadata: http::HeaderMap,
    ) -> Result<BoxStream<'static, Result<Doc, SourceError>>, SourceError> {
        let message = self.request_message(method, &request)?;
        let admission = self.limits.admit(&self.metrics, &self.name)?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let open = async {
            grpc.ready()
                .await
                .map_err(|error| Status::unavailable(error.to_string()))?;
            let mut request = tonic::Request::new(message);
            *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(metadata);
            grpc.server_streaming(request, method_path(method), self.codec(method, None))
                .await
        };
        let started = std::time::Instant::now();
        let opened = match tokio::time::timeout(self.limits.timeout, open).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(self.status_error(&status)),
            Err(_) => Err(self.timeout_error()),
        };
        settle(admission, &opened);
        let outcome = opened.as_ref().map_or_else(SourceError::outcome, |_| "ok");
        self.metrics
            .record_source_call(&self.name, outcome, started.elapsed());
        let name = self.name.clone();
        let messages = opened?.map(move |message| match message {
            Ok(message) => Ok(message),
            Err(status) => Err(SourceError::GrpcStatus {
                source_name: name.clone(),
                status: code_name(status.code()),
                message: status.message().to_owned(),
            }),
        });
        Ok(messages.boxed())
    }

    fn request_message(
        &self,
        method: &MethodDescriptor,
        request: &Value,
    ) -> Result<Vec<u8>, SourceError> {
        let known = self.methods.get(method.full_name());
        if let Some(encoded) = known.and_then(|coding| coding.request.encode(request)) {
            return Ok(encoded);
        }
        let message = DynamicMessage::deserialize(method.input(), request);
        message
            .map(|message| message.encode_to_vec())
            .map_err(|error| SourceError::BadRequest {
                source_name: self.name.clone(),
                reason: format!(
                    "the request does not fit {}: {error}",
                    method.input().full_name()
                ),
            })
    }

    async fn exchange(
        &self,
        method: &MethodDescriptor,
        request: &Value,
        mut metadata: http::HeaderMap,
        transcoder: Option<&Arc<Transcoder>>,
    ) -> Result<Doc, SourceError> {
        crate::traces::inject(&mut metadata);
        let message = self.request_message(method, request)?;
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        let call = async {
            grpc.ready()
                .await
                .map_err(|error| Status::unavailable(error.to_string()))?;
            let mut request = tonic::Request::new(message);
            *request.metadata_mut() = tonic::metadata::MetadataMap::from_headers(metadata);
            request.set_timeout(self.limits.timeout);
            grpc.unary(request, method_path(method), self.codec(method, transcoder))
                .await
        };
        match tokio::time::timeout(self.limits.timeout, call).await {
            Ok(Ok(response)) => Ok(response.into_inner()),
            Ok(Err(status)) => Err(self.status_error(&status)),
            Err(_) => Err(self.timeout_error()),
        }
    }

    fn timeout_error(&self) -> SourceError {
        SourceError::Timeout {
            source_name: self.name.clone(),
            timeout_ms: self.limits.timeout_ms(),
        }
    }

    fn status_error(&self, status: &Status) -> SourceError {
        match status.code() {
            Code::Unavailable => SourceError::Unavailable {
                source_name: self.name.clone(),
                detail: status.to_string(),
            },
            Code::DeadlineExceeded => self.timeout_error(),
            code => SourceError::GrpcStatus {
                source_name: self.name.clone(),
                status: code_name(code),
                message: status.message().to_owned(),
            },
        }
    }
}

/// The method named `package.Service/Method` in `pool`, if it defines it.
fn find_method(pool: &DescriptorPool, full_name: &str) -> Option<MethodDescriptor> {
    let (service, method) = full_name.split_once('/')?;
    pool.get_service_by_name(service)?
        .methods()
        .find(|candidate| candidate.name() == method)
}

/// Every `package.Service/Method` `pool` defines.
fn method_names(pool: &DescriptorPool) -> Vec<String> {
    pool.services()
        .flat_map(|service| {
            service
                .methods()
                .map(|method| format!("{}/{}", service.full_name(), method.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The full names of the `idempotent_methods`; fails on one the protos do
/// not define.
fn idempotent_methods(pool: &DescriptorPool, names: &[String]) -> Result<HashSet<String>, String> {
    names
        .iter()
        .map(|name| match find_method(pool, name) {
            Some(method) => Ok(method.full_name().to_owned()),
            None => Err(format!(
                "`idempotent_methods` names `{name}`, which the protos do not define; they define: {}",
                method_names(pool).join(", ")
            )),
        })
        .collect()
}

fn method_path(method: &MethodDescriptor) -> PathAndQuery {
    let path = format!("/{}/{}", method.parent_service().full_name(), method.name());
    PathAndQuery::from_str(&path).expect("service and method names form a valid path")
}

/// The canonical name of a gRPC status code, as shown to clients.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// How one method's requests are written and its responses read.
#[derive(Debug)]
struct MethodCoding {
    request: RequestEncoder,
    response: Arc<Transcoder>,
}

impl MethodCoding {
    fn new(method: &MethodDescriptor) -> Self {
        Self {
            request: RequestEncoder::new(&method.input()),
            response: Arc::new(Transcoder::new(&method.output())),
        }
    }
}

/// Sends requests of a method known at run time, encoded already, and
/// decodes its responses straight into documents of their canonical JSON.
#[derive(Debug, Clone)]
struct DynamicCodec(Arc<Transcoder>);

#[derive(Debug)]
struct DynamicEncoder;

#[derive(Debug)]
struct DynamicDecoder(Arc<Transcoder>);

impl Codec for DynamicCodec {
    type Encode = Vec<u8>;
    type Decode = Doc;
    type Encoder = DynamicEncoder;
    type Decoder = DynamicDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        DynamicEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        DynamicDecoder(self.0.clone())
    }
}

impl Encoder for DynamicEncoder {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for DynamicDecoder {
    type Item = Doc;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        let length = src.remaining();
        let decoded = if src.chunk().len() == length {
            let doc = self.0.message_doc(src.chunk());
            src.advance(length);
            doc
        } else {
            self.0.message_doc(&src.copy_to_bytes(length))
        };
        decoded
            .map(Some)
            .map_err(|error| Status::internal(format!("cannot decode the response: {error}")))
    }
}

/// One `@grpc` directive on a unary method, bound to its source.
#[derive(Debug)]
pub struct GrpcCall {
    /// The source to call.
    pub source: Arc<GrpcSource>,
    /// The unary method.
    pub method: MethodDescriptor,
    /// The request message, as a JSON template.
    pub request: ValueTemplate,
    /// Whether the call may be sent again after a transient failure: a
    /// method of `idempotent_methods`, outside mutations (decided when the
    /// schema is built).
    pub retryable: bool,
    /// Transcoders of its responses that write only what some batch
    /// reads of them, by the members read.
    pub projections: Projections,
}

/// The projected transcoders of one method's responses (see
/// [`Transcoder::projected`]), made when first asked; at most
/// [`MAX_PROJECTIONS`], so that many different selections cannot grow it
/// without end (the others are answered whole).
#[derive(Debug, Default)]
pub struct Projections(std::sync::Mutex<Vec<Projection>>);

/// The members read, and the transcoder that writes only them (`None`
/// when the answer cannot be cut so).
type Projection = (Arc<[String]>, Option<Arc<Transcoder>>);

/// How many projections of one method are kept.
const MAX_PROJECTIONS: usize = 64;

impl Projections {
    /// The transcoder of `method`'s responses that writes `reads`;
    /// `None` when the answer cannot be cut so.
    fn get(&self, method: &MethodDescriptor, reads: &Reads<'_>) -> Option<Arc<Transcoder>> {
        let mut known = self.0.lock().ok()?;
        if let Some((_, transcoder)) = known.iter().find(|(members, _)| members == reads.members) {
            return transcoder.clone();
        }
        let transcoder =
            Transcoder::projected(&method.output(), reads.items, reads.members).map(Arc::new);
        if known.len() < MAX_PROJECTIONS {
            known.push((reads.members.clone(), transcoder.clone()));
        }
        transcoder
    }
}

impl Connector for GrpcCall {
    fn source_name(&self) -> &str {
        &self.source.name
    }

    fn describe(&self) -> String {
        let service = self.method.parent_service().full_name().to_owned();
        format!("{}: {service}/{}", self.source.name, self.method.name())
    }

    fn prepare(&self, vars: &Vars<'_>) -> Result<Prepared, SourceError> {
        Ok(self.prepared(vars, None))
    }

    fn prepare_reading(&self, vars: &Vars<'_>, reads: &Reads<'_>) -> Result<Prepared, SourceError> {
        let transcoder = self.projections.get(&self.method, reads);
        let mut prepared = self.prepared(vars, transcoder.clone());
        if transcoder.is_some() {
            prepared.reads = Some(reads.members.clone());
        }
        Ok(prepared)
    }
}

impl GrpcCall {
    fn prepared(&self, vars: &Vars<'_>, transcoder: Option<Arc<Transcoder>>) -> Prepared {
        let request = self.request.render(vars);
        let source = self.source.clone();
        let method = self.method.clone();
        let retryable = self.retryable;
        let metadata = source.forwarded(vars.caller.headers);
        Prepared {
            source: source.name.clone(),
            description: described(method.full_name(), &request),
            body_at: method.full_name().len(),
            max_in_flight: source.limits.max_request_concurrency,
            reads: None,
            call: async move {
                source
                    .unary(&method, request, retryable, metadata, transcoder)
                    .await
            }
            .boxed(),
        }
    }
}
