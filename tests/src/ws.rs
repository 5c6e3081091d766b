//! A GraphQL-over-WebSocket client for tests, speaking either subprotocol at
//! the message level: every message is sent and received as JSON, nothing
//! is hidden but the server's keep-alives, and every wait is bounded by
//! [`RECV_TIMEOUT`].

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The `graphql-transport-ws` subprotocol (the `graphql-ws` library).
pub const TRANSPORT_WS: &str = "graphql-transport-ws";
/// The legacy `graphql-ws` subprotocol (subscriptions-transport-ws).
pub const LEGACY_WS: &str = "graphql-ws";

/// The longest a client waits for one message (or for the connection to
/// open or close) before failing the test.
pub const RECV_TIMEOUT: Duration = Duration::from_secs(20);

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server sent a close frame with this code and reason.
    Closed(u16, String),
    /// The server sent a close frame without a code.
    ClosedWithoutCode,
    /// The connection went away without a close frame.
    Dropped,
}

/// One WebSocket connection to `/graphql` with a chosen subprotocol.
pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    protocol: String,
    selected: Option<String>,
}

impl std::fmt::Debug for WsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsClient")
            .field("protocol", &self.protocol)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl WsClient {
    /// Opens `url` (`ws://…/graphql`) offering only `protocol` in
    /// `Sec-WebSocket-Protocol`.
    ///
    /// # Panics
    ///
    /// When the handshake fails or takes longer than [`RECV_TIMEOUT`].
    pub async fn connect(url: &str, protocol: &str) -> Self {
        Self::connect_with_headers(url, protocol, &[]).await
    }

    /// [`Self::connect`], with more headers on the upgrade request.
    ///
    /// # Panics
    ///
    /// When a header is invalid, or the handshake fails or takes longer
    /// than [`RECV_TIMEOUT`].
    pub async fn connect_with_headers(url: &str, protocol: &str, headers: &[(&str, &str)]) -> Self {
        let mut request = url
            .into_client_request()
            .unwrap_or_else(|error| panic!("{url} is not a WebSocket URL: {error}"));
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_str(protocol).expect("a header value"),
        );
        for (name, value) in headers {
            let name =
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes())
                    .expect("a header name");
            request
                .headers_mut()
                .insert(name, HeaderValue::from_str(value).expect("a header value"));
        }
        let connected =
            tokio::time::timeout(RECV_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
                .unwrap_or_else(|_| panic!("the WebSocket handshake with {url} timed out"));
        let (socket, response) =
            connected.unwrap_or_else(|error| panic!("cannot open a WebSocket to {url}: {error}"));
        let selected = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Self {
            socket,
            protocol: protocol.to_owned(),
            selected,
        }
    }

    /// The subprotocol the server selected in its handshake answer.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    fn legacy(&self) -> bool {
        self.protocol == LEGACY_WS
    }

    /// Sends `message` as a text frame.
    ///
    /// # Panics
    ///
    /// When the connection is gone.
    pub async fn send(&mut self, message: &Value) {
        self.send_text(&message.to_string()).await;
    }

    /// Sends `text` as it is, JSON or not.
    ///
    /// # Panics
    ///
    /// When the connection is gone.
    pub async fn send_text(&mut self, text: &str) {
        tokio::time::timeout(RECV_TIMEOUT, self.socket.send(Message::text(text)))
            .await
            .unwrap_or_else(|_| panic!("sending {text:?} timed out"))
            .unwrap_or_else(|error| panic!("cannot send {text:?}: {error}"));
    }

    /// The next text message as JSON, keep-alives included.
    ///
    /// # Panics
    ///
    /// When the connection ends, a message is not JSON, or nothing arrives
    /// within [`RECV_TIMEOUT`].
    pub async fn recv_any(&mut self) -> Value {
        let text = self.recv_text().await;
        serde_json::from_str(&text).unwrap_or_else(|error| {
            panic!("the gateway sent a message that is not JSON ({error}): {text}")
        })
    }

    /// The next text message as it was sent, keep-alives included.
    ///
    /// # Panics
    ///
    /// When the connection ends, or nothing arrives within [`RECV_TIMEOUT`].
    pub async fn recv_text(&mut self) -> String {
        loop {
            let next = tokio::time::timeout(RECV_TIMEOUT, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no message from the gateway within {RECV_TIMEOUT:?}"));
            match next {
                Some(Ok(Message::Text(text))) => return text.as_str().to_owned(),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    panic!(
                        "the gateway closed the connection while a message was expected: {frame:?}"
                    )
                }
                Some(Ok(other)) => panic!("the gateway sent a non-text message: {other:?}"),
                Some(Err(error)) => {
                    panic!("the connection failed while a message was expected: {error}")
                }
                None => panic!("the connection ended while a message was expected"),
            }
        }
    }

    /// The next text message as JSON, skipping the server's keep-alives
    /// (`ping` in graphql-transport-ws, `ka` in graphql-ws).
    ///
    /// # Panics
    ///
    /// As [`Self::recv_any`], and when only keep-alives arrive for
    /// [`RECV_TIMEOUT`].
    pub async fn recv(&mut self) -> Value {
        let keepalive = if self.legacy() { "ka" } else { "ping" };
        let skipping = async {
            loop {
                let message = self.recv_any().await;
                if message["type"] != keepalive {
                    return message;
                }
            }
        };
        tokio::time::timeout(RECV_TIMEOUT, skipping)
            .await
            .unwrap_or_else(|_| panic!("only keep-alives from the gateway for {RECV_TIMEOUT:?}"))
    }

    /// Sends `connection_init` (with `payload`, if any) and expects
    /// `connection_ack`.
    ///
    /// # Panics
    ///
    /// When the answer is anything else.
    pub async fn init(&mut self, payload: Option<Value>) {
        let mut message = json!({"type": "connection_init"});
        if let Some(payload) = payload {
            message["payload"] = payload;
        }
        self.send(&message).await;
        let ack = self.recv().await;
        assert_eq!(
            ack["type"], "connection_ack",
            "connection_init must be acknowledged: {ack}"
        );
    }

    /// Starts operation `id` (`subscribe`, or `start` in graphql-ws) with a
    /// GraphQL request body such as `{"query": …, "variables": …}`.
    pub async fn start(&mut self, id: &str, request: Value) {
        let kind = if self.legacy() { "start" } else { "subscribe" };
        self.send(&json!({"type": kind, "id": id, "payload": request}))
            .await;
    }

    /// Starts operation `id` running `query`.
    pub async fn subscribe(&mut self, id: &str, query: &str) {
        self.start(id, json!({ "query": query })).await;
    }

    /// Stops operation `id` (`complete`, or `stop` in graphql-ws).
    pub async fn stop(&mut self, id: &str) {
        let kind = if self.legacy() { "stop" } else { "complete" };
        self.send(&json!({"type": kind, "id": id})).await;
    }

    /// The next message, which must be of type `kind` for operation `id`.
    ///
    /// # Panics
    ///
    /// When the next (non-keep-alive) message is anything else.
    pub async fn expect(&mut self, kind: &str, id: &str) -> Value {
        let message = self.recv().await;
        assert_eq!(
            (message["type"].as_str(), message["id"].as_str()),
            (Some(kind), Some(id)),
            "expected `{kind}` for operation {id:?}, got {message}"
        );
        message
    }

    /// The payload of the next message, which must be a result (`next`, or
    /// `data` in graphql-ws) of operation `id`.
    ///
    /// # Panics
    ///
    /// When the next (non-keep-alive) message is anything else.
    pub async fn next(&mut self, id: &str) -> Value {
        let kind = if self.legacy() { "data" } else { "next" };
        let mut message = self.expect(kind, id).await;
        message["payload"].take()
    }

    /// Reads until the connection ends and says how; a text message before
    /// the end fails the test (keep-alives aside).
    ///
    /// # Panics
    ///
    /// When a message other than a keep-alive arrives, or the connection
    /// stays open for [`RECV_TIMEOUT`].
    pub async fn ending(&mut self) -> Ending {
        loop {
            let next = tokio::time::timeout(RECV_TIMEOUT, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("the connection is still open after {RECV_TIMEOUT:?}"));
            match next {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Ending::Closed(u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) => return Ending::ClosedWithoutCode,
                Some(Ok(Message::Text(text))) => {
                    let message: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                    let keepalive = if self.legacy() { "ka" } else { "ping" };
                    assert_eq!(
                        message["type"], keepalive,
                        "expected the connection to end, got {text}"
                    );
                }
                Some(Ok(_)) => {}
                Some(Err(WsError::ConnectionClosed | WsError::AlreadyClosed)) => {
                    return Ending::Dropped;
                }
                Some(Err(WsError::Protocol(_) | WsError::Io(_))) | None => return Ending::Dropped,
                Some(Err(error)) => panic!("the connection failed: {error}"),
            }
        }
    }

    /// The code and reason of the close frame the server ends the connection
    /// with.
    ///
    /// # Panics
    ///
    /// When the connection ends otherwise, or a message arrives first.
    pub async fn close_code(&mut self) -> (u16, String) {
        match self.ending().await {
            Ending::Closed(code, reason) => (code, reason),
            other => panic!("expected a close frame with a code, the connection ended: {other:?}"),
        }
    }

    /// Closes the connection with a normal close frame.
    pub async fn close(mut self) {
        self.send_close().await;
    }

    /// Sends a normal close frame (1000) and keeps the connection, to read
    /// the server's answer with [`Self::ending`].
    pub async fn send_close(&mut self) {
        let _ = tokio::time::timeout(
            RECV_TIMEOUT,
            self.socket
                .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: CloseCode::Normal,
                    reason: "".into(),
                })),
        )
        .await;
    }
}
