//! One upstream subscription to a subgraph shared by every subscriber that
//! asks it the same: the same document, variables and upgrade headers.
//!
//! The first such subscriber opens it ([`graphql_ws::subscribe`]); later
//! ones join it and get its results from then on, each result one `Arc`
//! handed to all of them. When the last subscriber leaves, the upstream
//! subscription is dropped, which completes it and closes its connection.
//! One that ended (the subgraph completed or refused it, or went away)
//! ends for each of its subscribers after its last result, and is not
//! joined again: the next subscriber opens a new one. A subscriber that
//! falls more than [`BUFFER`] results behind gets a
//! [`SourceError::Lagged`] and its stream ends; the others go on.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::task::{Context, Poll};

use futures::{Stream, StreamExt as _};
use tokio::sync::{broadcast, oneshot};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::graphql_ws;
use crate::error::SourceError;
use crate::json::Doc;

/// Results kept for the slowest subscriber of an upstream subscription.
const BUFFER: usize = 256;

/// A result of an upstream subscription, as every subscriber gets it.
pub(crate) type Shared = Result<Arc<Doc>, SourceError>;

/// The open upstream subscriptions of one subgraph, by what they ask.
#[derive(Debug, Default)]
pub(crate) struct Upstreams {
    open: Mutex<HashMap<String, Weak<Upstream>>>,
}

/// One upstream subscription while a subscriber holds it.
#[derive(Debug)]
struct Upstream {
    /// A receiver new subscribers are made from.
    results: broadcast::Receiver<Shared>,
    /// Set once the subgraph's stream has ended.
    ended: Arc<AtomicBool>,
    /// Dropped with the last subscriber, which stops the pump.
    _stop: oneshot::Sender<()>,
}

/// A subscriber's stream of an upstream subscription's results.
pub(crate) struct Subscriber {
    results: BroadcastStream<Shared>,
    source_name: String,
    /// Keeps the upstream subscription open while this subscriber is.
    _upstream: Arc<Upstream>,
    lagged: bool,
}

impl Upstreams {
    /// A subscriber of the upstream subscription `request` asks for:
    /// the open one that asks the same, or a new one.
    pub(crate) async fn subscribe(
        &self,
        request: graphql_ws::Request<'_>,
    ) -> Result<Subscriber, SourceError> {
        let key = share_key(&request);
        let source_name = request.source_name.to_owned();
        if let Some(upstream) = self.joinable(&key) {
            return Ok(Subscriber::of(upstream, source_name));
        }
        let subscription = graphql_ws::subscribe(request).await?;
        let upstream = Arc::new(Upstream::pumping(subscription));
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.retain(|_, upstream| upstream.strong_count() > 0);
        open.insert(key, Arc::downgrade(&upstream));
        Ok(Subscriber::of(upstream, source_name))
    }

    /// The open upstream subscription for `key`, unless it has ended.
    fn joinable(&self, key: &str) -> Option<Arc<Upstream>> {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(key)
            .and_then(Weak::upgrade)
            .filter(|upstream| !upstream.ended.load(Ordering::Acquire))
    }
}

/// What makes two subscribers' upstream subscriptions the same.
fn share_key(request: &graphql_ws::Request<'_>) -> String {
    let mut key = format!("{}\n{}\n", request.document, request.variables);
    for (name, value) in &request.headers {
        key.push_str(name.as_str());
        key.push(':');
        key.push_str(&String::from_utf8_lossy(value.as_bytes()));
        key.push('\n');
    }
    key
}

impl Upstream {
    /// Hands every result of `subscription` to the subscribers until it
    /// ends or the last subscriber leaves.
    fn pumping(mut subscription: graphql_ws::Subscription) -> Self {
        let (sender, results) = broadcast::channel(BUFFER);
        let (stop, mut stopped) = oneshot::channel::<()>();
        let ended = Arc::new(AtomicBool::new(false));
        let ended_by_pump = ended.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    result = subscription.next() => {
                        let Some(result) = result else { break };
                        // No subscriber left is noticed by `stopped`.
                        let _ = sender.send(result.map(Arc::new));
                    }
                    _ = &mut stopped => break,
                }
            }
            ended_by_pump.store(true, Ordering::Release);
        });
        Self {
            results,
            ended,
            _stop: stop,
        }
    }
}

impl Subscriber {
    fn of(upstream: Arc<Upstream>, source_name: String) -> Self {
        Self {
            results: BroadcastStream::new(upstream.results.resubscribe()),
            source_name,
            _upstream: upstream,
            lagged: false,
        }
    }
}

impl Stream for Subscriber {
    type Item = Shared;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.lagged {
            return Poll::Ready(None);
        }
        match self.results.poll_next_unpin(cx) {
            Poll::Ready(Some(Err(BroadcastStreamRecvError::Lagged(missed)))) => {
                self.lagged = true;
                Poll::Ready(Some(Err(SourceError::Lagged {
                    source_name: self.source_name.clone(),
                    missed,
                })))
            }
            Poll::Ready(Some(Ok(result))) => Poll::Ready(Some(result)),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
