//! The bulletins subgraph: an Apollo Federation v2 subgraph (async-graphql)
//! with a `Subscription`, served over graphql-transport-ws on
//! `GET /graphql` (async-graphql's protocol implementation under an axum
//! WebSocket) and over HTTP on `POST /graphql`.
//!
//! `priceChanges(sku: ID!, count: Int)` sends `count` changes of `sku`
//! (`seq` 1, 2, …, 20 ms apart; without `count`, without end), each with a
//! `product` only by key, which the catalog answers. `note` fails on the
//! second change with the code `NOTE_LOST`. The subgraph counts the
//! streams it opened and those dropped, and [`Bulletins::cut`] drops
//! every connection without a close frame, as a subgraph that goes away.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_graphql::http::{WebSocket as GraphqlWebSocket, WsMessage};
use async_graphql::{
    Context, EmptyMutation, ErrorExtensions as _, ID, Object, Schema, SimpleObject, Subscription,
};
use axum::Json;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures::{SinkExt as _, Stream, StreamExt as _};
use tokio::sync::watch;

use crate::StubBackend;

/// The SDL of the subgraph, for a test's `sdl` file.
pub const SDL: &str = r#"type Product @key(fields: "sku") { sku: ID! }
type PriceChange { seq: Int! product: Product! note: String }
type Query { bulletinsVersion: Int! }
type Subscription { priceChanges(sku: ID!, count: Int): PriceChange! }"#;

/// A product, by its catalog key.
#[derive(SimpleObject, Clone)]
struct Product {
    sku: ID,
}

/// One change of a product's price.
#[derive(SimpleObject, Clone)]
#[graphql(complex)]
struct PriceChange {
    seq: i32,
    product: Product,
}

// Resolvers of a complex object must be `async`.
#[allow(clippy::unused_async)]
#[async_graphql::ComplexObject]
impl PriceChange {
    async fn note(&self) -> async_graphql::Result<String> {
        if self.seq == 2 {
            return Err(async_graphql::Error::new("the second note is lost")
                .extend_with(|_, extensions| extensions.set("code", "NOTE_LOST")));
        }
        Ok(format!("change {}", self.seq))
    }
}

struct Query;

#[Object]
impl Query {
    /// A root field, so the schema has one.
    async fn bulletins_version(&self) -> i32 {
        1
    }

    #[graphql(entity)]
    async fn product_by_sku(&self, sku: ID) -> Product {
        Product { sku }
    }
}

/// The streams opened and dropped.
#[derive(Debug, Default)]
struct Counters {
    opened: AtomicU64,
    dropped: AtomicU64,
}

/// Counts its stream as dropped when dropped with it.
struct Open(Arc<Counters>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

struct Root;

#[Subscription]
impl Root {
    async fn price_changes(
        &self,
        ctx: &Context<'_>,
        sku: ID,
        count: Option<i32>,
    ) -> impl Stream<Item = PriceChange> + use<> {
        let counters = ctx.data_unchecked::<Arc<Counters>>().clone();
        counters.opened.fetch_add(1, Ordering::SeqCst);
        let open = Open(counters);
        futures::stream::unfold((1, open), move |(seq, open)| {
            let sku = sku.clone();
            async move {
                if count.is_some_and(|count| seq > count) {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let change = PriceChange {
                    seq,
                    product: Product { sku },
                };
                Some((change, (seq + 1, open)))
            }
        })
    }
}

type BulletinsSchema = Schema<Query, EmptyMutation, Root>;

/// The running bulletins subgraph.
#[derive(Debug)]
pub struct Bulletins {
    /// Its GraphQL endpoint, `http://127.0.0.1:<port>/graphql`.
    pub url: String,
    counters: Arc<Counters>,
    cut: watch::Sender<bool>,
    _server: StubBackend,
}

impl Bulletins {
    /// Serves the subgraph on a free port of the test's runtime.
    pub async fn start() -> Self {
        let counters = Arc::new(Counters::default());
        let schema = Schema::build(Query, EmptyMutation, Root)
            .enable_federation()
            .data(counters.clone())
            .finish();
        let (cut, _) = watch::channel(false);
        let router = axum::Router::new()
            .route("/graphql", get(upgrade).post(answer))
            .with_state((schema, cut.clone()));
        let server = StubBackend::start(router).await;
        Self {
            url: format!("{}/graphql", server.url),
            counters,
            cut,
            _server: server,
        }
    }

    /// How many `priceChanges` streams it opened.
    pub fn opened(&self) -> u64 {
        self.counters.opened.load(Ordering::SeqCst)
    }

    /// How many of its streams were dropped (completed by the client, or
    /// their connection closed).
    pub fn dropped(&self) -> u64 {
        self.counters.dropped.load(Ordering::SeqCst)
    }

    /// Drops every WebSocket connection, without a close frame.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }

    /// Waits (at most 10 s) until `dropped` streams were dropped.
    ///
    /// # Panics
    ///
    /// When they are not.
    pub async fn wait_dropped(&self, dropped: u64) {
        for _ in 0..500 {
            if self.dropped() >= dropped {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("{} of {dropped} streams dropped after 10 s", self.dropped());
    }
}

type Shared = (BulletinsSchema, watch::Sender<bool>);

async fn answer(
    State((schema, _)): State<Shared>,
    Json(request): Json<async_graphql::Request>,
) -> Json<async_graphql::Response> {
    Json(schema.execute(request).await)
}

async fn upgrade(State((schema, cut)): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.protocols(["graphql-transport-ws"])
        .on_upgrade(move |socket| serve(socket, schema, cut.subscribe()))
}

/// Speaks graphql-transport-ws on `socket` until either side ends, or the
/// subgraph is cut.
async fn serve(socket: WebSocket, schema: BulletinsSchema, mut cut: watch::Receiver<bool>) {
    let (mut sink, source) = socket.split();
    let input = source
        .take_while(|message| futures::future::ready(message.is_ok()))
        .filter_map(|message| {
            futures::future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let mut output = GraphqlWebSocket::new(
        schema,
        input,
        async_graphql::http::WebSocketProtocols::GraphQLWS,
    );
    let cut = async move {
        let _ = cut.wait_for(|cut| *cut).await.map(|_| ());
    };
    tokio::pin!(cut);
    loop {
        tokio::select! {
            () = &mut cut => return,
            message = output.next() => {
                let message = match message {
                    Some(WsMessage::Text(text)) => Message::Text(text.into()),
                    Some(WsMessage::Close(code, reason)) => {
                        Message::Close(Some(axum::extract::ws::CloseFrame { code, reason: reason.into() }))
                    }
                    None => return,
                };
                if sink.send(message).await.is_err() {
                    return;
                }
            }
        }
    }
}
