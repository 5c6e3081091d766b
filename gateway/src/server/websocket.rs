//! GraphQL over WebSocket on `/graphql`, in both subprotocols:
//! `graphql-transport-ws` (the `graphql-ws` library) and the legacy
//! `graphql-ws` (subscriptions-transport-ws).
//!
//! One task per connection reads client messages, writes server messages and
//! keeps the connection alive; each operation runs in a task of its own that
//! hands its responses to the connection through a bounded channel. When a
//! client reads too slowly the channel fills, the operation stops reading
//! its events, and the bus drops it with a `SUBSCRIBER_TOO_SLOW` error:
//! other subscribers never wait for it. Closing the connection (or
//! `complete`/`stop`) aborts the operation's task, which drops its bus
//! subscription or cancels its gRPC stream.
//!
//! On a bus that stores events, each `next` (`data`) payload carries its
//! event's cursor in `extensions.weft.cursor`, and a `subscribe` (`start`)
//! payload with `extensions.weft.resumeFrom` resumes after one (see
//! [`crate::subscriptions`]).
//!
//! Close codes (graphql-transport-ws): 4400 bad message, 4401 subscribe
//! before `connection_ack`, 4408 no `connection_init` in time, 4409
//! duplicate operation id, 4429 a second `connection_init`, 4403 a
//! `connection_init` token that does not verify (`[auth]`); 1013 when
//! `[subscriptions] max_connections` are open already; and 1001 when the
//! server shuts down, after a `complete` for every operation still running.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use http::HeaderMap;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::Gateway;
use crate::auth::Identity;
use crate::pipeline::GraphqlRequest;
use crate::subscriptions;

/// The subprotocols spoken, in order of preference.
pub const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

/// The read buffer of a WebSocket connection.
const READ_BUFFER: usize = 4 * 1024;

/// How many server messages may wait for a slow client.
const OUTBOX: usize = 64;

/// How long an operation waits for room among its client's unread
/// messages before it stops counting as active.
const SLOW_CLIENT: std::time::Duration = std::time::Duration::from_secs(5);

/// Which subprotocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    /// `graphql-transport-ws`.
    TransportWs,
    /// Legacy `graphql-ws` (subscriptions-transport-ws).
    Legacy,
}

impl Protocol {
    fn next_type(self) -> &'static str {
        match self {
            Self::TransportWs => "next",
            Self::Legacy => "data",
        }
    }
}

/// Upgrades a `GET /graphql` to a GraphQL WebSocket.
/// `headers`: the upgrade request's headers, those of every operation of
/// the connection (for `forward_headers` and `$request.headers`).
pub fn upgrade(
    gateway: Arc<Gateway>,
    ws: WebSocketUpgrade,
    headers: HeaderMap,
    identity: Identity,
) -> Response {
    // GraphQL messages are small: buffers sized for them, instead of the
    // 128 KiB each way a WebSocket gets by default, keep a subscriber cheap
    // (larger messages still get through; the buffers grow for them).
    let ws = ws
        .protocols(PROTOCOLS)
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0);
    let protocol = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some("graphql-ws") => Protocol::Legacy,
        _ => Protocol::TransportWs,
    };
    let Some(slot) = gateway.websocket_slot() else {
        return ws.on_upgrade(|mut socket| async move {
            let reason = "too many WebSocket connections; try again later";
            let _ = socket.send(close_message(1013, reason)).await;
        });
    };
    ws.on_upgrade(move |socket| async move {
        gateway.metrics.websocket_connections(1);
        Connection::new(gateway.clone(), protocol, headers, identity)
            .run(socket)
            .await;
        gateway.metrics.websocket_connections(-1);
        drop(slot);
    })
}

fn close_message(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// Hands `outgoing` to the connection. A client that leaves its messages
/// unread for [`SLOW_CLIENT`] no longer counts as an active subscription
/// (the bus has dropped it by then); the message still waits its turn.
/// `false` when the connection is gone.
async fn deliver(
    outbox: &mpsc::Sender<Outgoing>,
    outgoing: Outgoing,
    active: &mut Option<crate::metrics::ActiveSubscription>,
) -> bool {
    // Mostly there is room: no timer is set for those.
    let outgoing = match outbox.try_send(outgoing) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
        Err(mpsc::error::TrySendError::Full(outgoing)) => outgoing,
    };
    match outbox.send_timeout(outgoing, SLOW_CLIENT).await {
        Ok(()) => true,
        Err(mpsc::error::SendTimeoutError::Closed(_)) => false,
        Err(mpsc::error::SendTimeoutError::Timeout(outgoing)) => {
            active.take();
            outbox.send(outgoing).await.is_ok()
        }
    }
}

/// What operation tasks send to their connection.
enum Outgoing {
    /// A message to write, as JSON text.
    Message(String),
    /// The operation with this id has ended by itself; `complete` tells the
    /// client so (not after an `error`, which ends an operation already).
    Finished { id: String, complete: bool },
}

/// Why the connection loop stops.
enum Stop {
    /// Close with this code and reason.
    Close(u16, String),
    /// The client went away.
    Gone,
    /// The client closed: its close frame is answered, as the protocol
    /// wants.
    Echo,
    /// The server shuts down: every running operation gets its `complete`,
    /// then the connection is closed with 1001.
    Shutdown,
}

struct Connection {
    gateway: Arc<Gateway>,
    protocol: Protocol,
    /// The `connection_init` payload, once received.
    init: Option<Value>,
    operations: HashMap<String, JoinHandle<()>>,
    outbox: mpsc::Sender<Outgoing>,
    inbox: mpsc::Receiver<Outgoing>,
    /// The upgrade request's headers.
    headers: HeaderMap,
    /// The caller: from the upgrade request, or the `connection_init`
    /// payload's token.
    identity: Identity,
}

impl Connection {
    fn new(
        gateway: Arc<Gateway>,
        protocol: Protocol,
        headers: HeaderMap,
        identity: Identity,
    ) -> Self {
        let (outbox, inbox) = mpsc::channel(OUTBOX);
        Self {
            gateway,
            protocol,
            init: None,
            operations: HashMap::new(),
            outbox,
            inbox,
            headers,
            identity,
        }
    }

    async fn run(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let limits = self.gateway.subscriptions;
        let init_deadline = tokio::time::sleep(limits.connection_init_timeout);
        tokio::pin!(init_deadline);
        let mut keepalive = tokio::time::interval(limits.keepalive);
        keepalive.reset();
        let shutdown = self.gateway.shutting_down();
        tokio::pin!(shutdown);
        let stop = loop {
            let step = tokio::select! {
                message = stream.next() => match message {
                    Some(Ok(Message::Text(text))) => self.on_message(text.as_str()).map(texts),
                    Some(Ok(Message::Close(_))) => Err(Stop::Echo),
                    Some(Err(_)) | None => Err(Stop::Gone),
                    Some(Ok(_)) => Ok(Vec::new()),
                },
                Some(outgoing) = self.inbox.recv() => Ok(self.on_outgoing(outgoing)),
                () = &mut init_deadline, if self.init.is_none() => {
                    Err(Stop::Close(4408, "Connection initialisation timeout".to_owned()))
                }
                _ = keepalive.tick(), if self.init.is_some() => Ok(texts(vec![self.keepalive_message()])),
                () = &mut shutdown => Err(Stop::Shutdown),
            };
            match step {
                Ok(replies) => {
                    for reply in replies {
                        if sink.send(Message::Text(reply.into())).await.is_err() {
                            break;
                        }
                    }
                }
                Err(stop) => break stop,
            }
        };
        let mut running: Vec<String> = Vec::with_capacity(self.operations.len());
        for (id, task) in self.operations.drain() {
            task.abort();
            running.push(id);
        }
        let close = match stop {
            Stop::Gone => return,
            Stop::Echo => {
                // The reply to a client's close frame is queued by the
                // WebSocket layer itself; closing flushes it.
                let _ = sink.close().await;
                return;
            }
            Stop::Close(code, reason) => close_message(code, &reason),
            Stop::Shutdown => {
                for id in running {
                    let complete = json!({"type": "complete", "id": id}).to_string();
                    if sink.send(Message::Text(complete.into())).await.is_err() {
                        return;
                    }
                }
                close_message(1001, "the server is shutting down")
            }
        };
        let _ = sink.send(close).await;
    }

    fn keepalive_message(&self) -> Value {
        match self.protocol {
            Protocol::TransportWs => json!({"type": "ping"}),
            Protocol::Legacy => json!({"type": "ka"}),
        }
    }

    fn on_outgoing(&mut self, outgoing: Outgoing) -> Vec<String> {
        match outgoing {
            Outgoing::Message(message) => vec![message],
            Outgoing::Finished { id, complete } => {
                if self.operations.remove(&id).is_some() && complete {
                    vec![json!({"type": "complete", "id": id}).to_string()]
                } else {
                    Vec::new()
                }
            }
        }
    }

    /// Handles one client message; returns the replies to send.
    fn on_message(&mut self, text: &str) -> Result<Vec<Value>, Stop> {
        let Ok(message) = serde_json::from_str::<Value>(text) else {
            return Err(Stop::Close(4400, "Invalid message received".to_owned()));
        };
        let id = message.get("id").and_then(Value::as_str).map(str::to_owned);
        match (message.get("type").and_then(Value::as_str), id) {
            (Some("connection_init"), _) => self.on_init(message.get("payload")),
            (Some("ping"), _) if self.protocol == Protocol::TransportWs => {
                Ok(vec![json!({"type": "pong"})])
            }
            (Some("pong"), _) => Ok(Vec::new()),
            (Some("subscribe" | "start"), Some(id)) => {
                self.on_subscribe(id, message.get("payload"))
            }
            (Some("complete" | "stop"), Some(id)) => Ok(self.on_complete(&id)),
            (Some("connection_terminate"), _) => Err(Stop::Gone),
            _ => Err(Stop::Close(4400, "Invalid message received".to_owned())),
        }
    }

    fn on_init(&mut self, payload: Option<&Value>) -> Result<Vec<Value>, Stop> {
        if self.init.is_some() {
            return Err(Stop::Close(
                4429,
                "Too many initialisation requests".to_owned(),
            ));
        }
        let payload = payload.cloned().unwrap_or(Value::Null);
        match self.gateway.served().identify_payload(&payload) {
            Some(Ok(identity)) => self.identity = identity,
            Some(Err(_)) => return Err(Stop::Close(4403, "Forbidden".to_owned())),
            None => {}
        }
        self.init = Some(payload);
        let mut replies = vec![json!({"type": "connection_ack"})];
        if self.protocol == Protocol::Legacy {
            replies.push(json!({"type": "ka"}));
        }
        Ok(replies)
    }

    fn on_subscribe(&mut self, id: String, payload: Option<&Value>) -> Result<Vec<Value>, Stop> {
        if self.init.is_none() {
            return Err(Stop::Close(4401, "Unauthorized".to_owned()));
        }
        if self.operations.contains_key(&id) {
            return Err(Stop::Close(
                4409,
                format!("Subscriber for {id} already exists"),
            ));
        }
        let limit = self.gateway.subscriptions.max_per_connection;
        if self.operations.len() >= limit {
            let message =
                format!("this connection already runs {limit} operations, the most it may");
            return Ok(vec![self.error(&id, &message, "TOO_MANY_SUBSCRIPTIONS")]);
        }
        let parsed =
            payload.map(|payload| serde_json::from_value::<GraphqlRequest>(payload.clone()));
        let Some(Ok(mut request)) = parsed else {
            return Ok(vec![self.error(
                &id,
                "the payload is not a GraphQL request",
                "BAD_REQUEST",
            )]);
        };
        request.headers = self.headers.clone();
        request.connection = self
            .init
            .clone()
            .filter(|init| !init.is_null())
            .map(Arc::new);
        request.identity = self.identity.clone();
        let task = tokio::spawn(operation(
            self.gateway.clone(),
            request,
            id.clone(),
            self.protocol,
            self.outbox.clone(),
        ));
        self.operations.insert(id, task);
        Ok(Vec::new())
    }

    fn on_complete(&mut self, id: &str) -> Vec<Value> {
        let Some(task) = self.operations.remove(id) else {
            return Vec::new();
        };
        task.abort();
        match self.protocol {
            Protocol::Legacy => vec![json!({"type": "complete", "id": id})],
            Protocol::TransportWs => Vec::new(),
        }
    }

    fn error(&self, id: &str, message: &str, code: &str) -> Value {
        let error = json!({"message": message, "extensions": {"code": code}});
        match self.protocol {
            Protocol::TransportWs => json!({"type": "error", "id": id, "payload": [error]}),
            Protocol::Legacy => json!({"type": "error", "id": id, "payload": error}),
        }
    }
}

/// Writes messages as JSON text.
fn texts(messages: Vec<Value>) -> Vec<String> {
    messages.iter().map(Value::to_string).collect()
}

/// Runs one operation and hands its responses to the connection. A first
/// response without data (the operation did not start) is sent as an
/// `error` message; everything else as `next`/`data`, then the operation is
/// reported finished.
async fn operation(
    gateway: Arc<Gateway>,
    request: GraphqlRequest,
    id: String,
    protocol: Protocol,
    outbox: mpsc::Sender<Outgoing>,
) {
    let mut active = Some(gateway.metrics.subscription_started());
    let prepared = gateway.served().pipeline.prepare(&request);
    let mut responses = subscriptions::run(&gateway, prepared);
    let id_json = Value::String(id.clone()).to_string();
    while let Some(response) = responses.next().await {
        let failed_to_start = response.never_executed();
        let message = if failed_to_start {
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            let payload = match protocol {
                Protocol::TransportWs => errors,
                Protocol::Legacy => errors.get(0).cloned().unwrap_or(Value::Null),
            };
            json!({"type": "error", "id": id, "payload": payload}).to_string()
        } else {
            let payload = response.to_bytes();
            let mut message = String::with_capacity(payload.len() + id_json.len() + 32);
            message.push_str(r#"{"type":""#);
            message.push_str(protocol.next_type());
            message.push_str(r#"","id":"#);
            message.push_str(&id_json);
            message.push_str(r#","payload":"#);
            message.push_str(&String::from_utf8_lossy(&payload));
            message.push('}');
            message
        };
        if !deliver(&outbox, Outgoing::Message(message), &mut active).await {
            return;
        }
        if failed_to_start {
            let _ = outbox
                .send(Outgoing::Finished {
                    id,
                    complete: false,
                })
                .await;
            return;
        }
    }
    let _ = outbox.send(Outgoing::Finished { id, complete: true }).await;
}
