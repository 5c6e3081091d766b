//! A graphql-transport-ws client for a subgraph's subscriptions, with
//! `tokio-tungstenite`.
//!
//! [`subscribe`] opens one connection per subscription: `connection_init`,
//! `connection_ack` (within the source's timeout), then `subscribe` with
//! the document and its variables. The [`Subscription`] it yields is a
//! stream of the subgraph's results, each a GraphQL response
//! (`{data, errors}`) as in the `next` message:
//!
//! - an `error` message (the operation was refused) is one last result,
//!   `{"errors": …}`, and the stream ends;
//! - `complete` ends the stream;
//! - the connection going away without `complete` is a last
//!   [`SourceError::Unavailable`].
//!
//! Dropping the [`Subscription`] sends `complete` and closes the
//! connection. Pings are answered with pongs. Nothing here knows how
//! results are executed.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue};

use crate::error::SourceError;
use crate::json::Doc;

/// The subprotocol spoken.
const PROTOCOL: &str = "graphql-transport-ws";

/// The id of the one operation of a connection.
const OPERATION_ID: &str = "1";

/// Results a subgraph buffers for a slow client before the connection
/// waits.
const BUFFER: usize = 16;

/// What to subscribe to, and where.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    /// The source's name, for errors.
    pub(crate) source_name: &'a str,
    /// The subgraph's `ws://` or `wss://` URL.
    pub(crate) url: &'a reqwest::Url,
    /// Headers of the upgrade request.
    pub(crate) headers: HeaderMap,
    /// The document, a `subscription` operation.
    pub(crate) document: &'a str,
    /// Its variables.
    pub(crate) variables: Value,
    /// How long connecting and the acknowledgement may take.
    pub(crate) timeout: Duration,
}

/// One open subscription: a stream of the subgraph's results. Dropping it
/// completes the subscription upstream and closes the connection.
pub(crate) struct Subscription {
    results: mpsc::Receiver<Result<Doc, SourceError>>,
    /// Dropped with the subscription, which tells the connection to end.
    _stop: oneshot::Sender<()>,
}

impl Stream for Subscription {
    type Item = Result<Doc, SourceError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.results.poll_recv(cx)
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Connects, initialises and subscribes; fails when the subgraph cannot
/// be reached, does not acknowledge within the timeout, or refuses the
/// connection.
pub(crate) async fn subscribe(request: Request<'_>) -> Result<Subscription, SourceError> {
    let unavailable = |detail: String| SourceError::Unavailable {
        source_name: request.source_name.to_owned(),
        detail,
    };
    let timed_out = || SourceError::Timeout {
        source_name: request.source_name.to_owned(),
        timeout_ms: u64::try_from(request.timeout.as_millis()).unwrap_or(u64::MAX),
    };
    let opening = open(&request);
    let mut socket = tokio::time::timeout(request.timeout, opening)
        .await
        .map_err(|_| timed_out())?
        .map_err(unavailable)?;
    let subscribe = json!({
        "id": OPERATION_ID,
        "type": "subscribe",
        "payload": { "query": request.document, "variables": request.variables },
    });
    socket
        .send(text(&subscribe))
        .await
        .map_err(|error| unavailable(error.to_string()))?;
    let (results, receiver) = mpsc::channel(BUFFER);
    let (stop, stopped) = oneshot::channel();
    let source_name = request.source_name.to_owned();
    tokio::spawn(relay(socket, results, stopped, source_name));
    Ok(Subscription {
        results: receiver,
        _stop: stop,
    })
}

/// The connection, once acknowledged.
async fn open(request: &Request<'_>) -> Result<Socket, String> {
    let mut upgrade = request
        .url
        .as_str()
        .into_client_request()
        .map_err(|error| error.to_string())?;
    upgrade.headers_mut().extend(request.headers.clone());
    upgrade
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(PROTOCOL));
    let (mut socket, _) = tokio_tungstenite::connect_async(upgrade)
        .await
        .map_err(|error| error.to_string())?;
    socket
        .send(text(&json!({ "type": "connection_init", "payload": {} })))
        .await
        .map_err(|error| error.to_string())?;
    while let Some(message) = socket.next().await {
        let message = message.map_err(|error| error.to_string())?;
        match kind_of(&message).as_deref() {
            Some("connection_ack") => return Ok(socket),
            Some("ping") => {
                let pong = text(&json!({ "type": "pong" }));
                socket.send(pong).await.map_err(|error| error.to_string())?;
            }
            _ if matches!(message, Message::Close(_)) => {
                return Err(format!("the subgraph closed the connection: {message}"));
            }
            _ => {}
        }
    }
    Err("the subgraph closed the connection before acknowledging it".to_owned())
}

/// Passes the subgraph's results on until the subscription ends on
/// either side.
async fn relay(
    mut socket: Socket,
    results: mpsc::Sender<Result<Doc, SourceError>>,
    mut stopped: oneshot::Receiver<()>,
    source_name: String,
) {
    loop {
        let message = tokio::select! {
            _ = &mut stopped => break,
            () = results.closed() => break,
            message = socket.next() => message,
        };
        let outcome = match message {
            Some(Ok(message)) => read(&message, &mut socket).await,
            Some(Err(error)) => Step::End(Some(error.to_string())),
            None => Step::End(Some("the connection ended".to_owned())),
        };
        let sent = match outcome {
            Step::Continue => Ok(()),
            Step::Result(doc) => results.send(Ok(doc)).await,
            Step::Last(doc) => {
                let _ = results.send(Ok(doc)).await;
                return close(socket).await;
            }
            Step::Complete => return close(socket).await,
            Step::End(detail) => {
                let error = SourceError::Unavailable {
                    source_name,
                    detail: detail.unwrap_or_default(),
                };
                tracing::warn!("{error}: the subscription's connection went away");
                let _ = results.send(Err(error)).await;
                return;
            }
        };
        if sent.is_err() {
            break;
        }
    }
    let complete = json!({ "id": OPERATION_ID, "type": "complete" });
    let _ = socket.send(text(&complete)).await;
    close(socket).await;
}

/// What one message from the subgraph means.
enum Step {
    Continue,
    Result(Doc),
    /// The operation's last result (an `error` message).
    Last(Doc),
    Complete,
    /// The connection went away (with what the transport said).
    End(Option<String>),
}

async fn read(message: &Message, socket: &mut Socket) -> Step {
    if let Message::Close(frame) = message {
        return Step::End(Some(format!("closed: {frame:?}")));
    }
    let Message::Text(body) = message else {
        return Step::Continue;
    };
    let Ok(value) = serde_json::from_str::<Value>(body.as_str()) else {
        return Step::Continue;
    };
    match value["type"].as_str() {
        Some("next") => Step::Result(Doc::from_plain(&value["payload"])),
        Some("error") => Step::Last(Doc::from_plain(&json!({ "errors": value["payload"] }))),
        Some("complete") => Step::Complete,
        Some("ping") => {
            let _ = socket.send(text(&json!({ "type": "pong" }))).await;
            Step::Continue
        }
        _ => Step::Continue,
    }
}

async fn close(mut socket: Socket) {
    let _ = socket.close(None).await;
}

fn text(value: &Value) -> Message {
    Message::Text(value.to_string().into())
}

fn kind_of(message: &Message) -> Option<String> {
    let Message::Text(body) = message else {
        return None;
    };
    let value: Value = serde_json::from_str(body.as_str()).ok()?;
    value["type"].as_str().map(str::to_owned)
}
