//! A Server-Sent Events reader for tests: the response of a
//! `text/event-stream` request, read one event at a time, each read bounded
//! by [`RECV_TIMEOUT`].

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use serde_json::Value;

use crate::ws::RECV_TIMEOUT;

/// One event of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field (empty when absent).
    pub event: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// The data as JSON.
    ///
    /// # Panics
    ///
    /// When the data is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or_else(|error| {
            panic!(
                "the data of `{}` is not JSON ({error}): {:?}",
                self.event, self.data
            )
        })
    }
}

/// POSTs a GraphQL request body as JSON to `graphql_url` with `Accept:
/// text/event-stream` and `headers`, and returns the open event stream.
///
/// # Panics
///
/// When a header is invalid or the server does not answer in time.
pub async fn post(graphql_url: &str, body: &Value, headers: &[(&str, &str)]) -> SseStream {
    let mut request = crate::streaming_client()
        .post(graphql_url)
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "text/event-stream")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    crate::open_stream(request).await
}

/// An open event stream.
#[derive(Debug)]
pub struct SseStream {
    /// The status code.
    pub status: u16,
    /// The response headers.
    pub headers: HeaderMap,
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
}

impl SseStream {
    /// Reads the stream of `response`.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            response,
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// The value of header `name`, if present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The next event (comments such as keep-alives skipped), or `None` once
    /// the server has ended the stream.
    ///
    /// # Panics
    ///
    /// When the stream breaks off or nothing arrives within the timeout.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            if self.ended {
                assert!(
                    self.buffer.iter().all(u8::is_ascii_whitespace),
                    "the stream ended inside an event: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                );
                return None;
            }
            let chunk = tokio::time::timeout(RECV_TIMEOUT, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no event within {RECV_TIMEOUT:?}"))
                .unwrap_or_else(|error| panic!("the event stream broke off: {error:?}"));
            match chunk {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => self.ended = true,
            }
        }
    }

    /// Removes the first complete event from the buffer; blocks of comments
    /// only are dropped.
    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.buffer.windows(2).position(|pair| pair == b"\n\n")?;
            let block: Vec<u8> = self.buffer.drain(..end + 2).collect();
            let block = String::from_utf8(block).expect("an event stream is UTF-8 text");
            let mut event = String::new();
            let mut id = None;
            let mut data: Vec<&str> = Vec::new();
            let mut fields = false;
            for line in block.lines() {
                if line.is_empty() || line.starts_with(':') {
                    continue;
                }
                let (name, value) = line.split_once(':').unwrap_or((line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                fields = true;
                match name {
                    "event" => value.clone_into(&mut event),
                    "data" => data.push(value),
                    "id" => id = Some(value.to_owned()),
                    _ => {}
                }
            }
            if fields {
                return Some(SseEvent {
                    event,
                    data: data.join("\n"),
                    id,
                });
            }
        }
    }
}
