//! The orders service: a REST API over an in-memory order store seeded from
//! [`crate::data::orders`], answering JSON in `camelCase`, plus the
//! [`EventSink`] hook through which it announces order status changes.
//!
//! Order JSON: `{"id":"1","userId":"7","status":"PAID","items":[{"sku":"SKU-0042",
//! "quantity":2,"unitPriceCents":1299}],"totalCents":2598,"createdAt":"..."}`.
//! Every error answers `{"error": "..."}`.
//!
//! | request | answer | route label |
//! | --- | --- | --- |
//! | `GET /orders/{id}` | 200 order, or 404 `{"error":"order 5000 not found"}` | [`ROUTE_GET`] |
//! | `GET /orders?userId=7` | that user's orders, by id | [`ROUTE_BY_USER`] |
//! | `GET /orders?userIds=1,2` | all orders of those users, by id | [`ROUTE_BY_USERS`] |
//! | `GET /orders?ids=1,2,3` | the orders found, in request order, duplicates once | [`ROUTE_BY_IDS`] |
//! | `GET /orders[?limit=N]` | the first N (default 100, max 1,000) orders by id | [`ROUTE_LIST`] |
//! | `POST /orders` | 201 created order, see [`CreateOrder`] | [`ROUTE_CREATE`] |
//! | `POST /orders/{id}/status` | 200 updated order, see [`StatusChange`] | [`ROUTE_SET_STATUS`] |
//! | `GET /orders/{id}/latest-change` | 200 the [`OrderEvent`] of its last change, or 404 | [`ROUTE_LATEST_CHANGE`] |
//!
//! Query parameters are looked at in the order `userId`, `userIds`, `ids`:
//! the first one present decides the route.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::calls::CallLog;
use crate::data::{self, Order, OrderItem, OrderStatus};
use crate::rest;

/// Route label of `GET /orders/{id}`.
pub const ROUTE_GET: &str = "GET /orders/{id}";
/// Route label of `GET /orders?userId=...`.
pub const ROUTE_BY_USER: &str = "GET /orders?userId";
/// Route label of `GET /orders?userIds=...`.
pub const ROUTE_BY_USERS: &str = "GET /orders?userIds";
/// Route label of `GET /orders?ids=...`.
pub const ROUTE_BY_IDS: &str = "GET /orders?ids";
/// Route label of `GET /orders` without a filter.
pub const ROUTE_LIST: &str = "GET /orders";
/// Route label of `POST /orders`.
pub const ROUTE_CREATE: &str = "POST /orders";
/// Route label of `POST /orders/{id}/status`.
pub const ROUTE_SET_STATUS: &str = "POST /orders/{id}/status";
/// Route label of `GET /orders/{id}/latest-change`.
pub const ROUTE_LATEST_CHANGE: &str = "GET /orders/{id}/latest-change";

/// Topic under which order events are handed to the [`EventSink`].
pub const ORDER_STATUS_TOPIC: &str = "orders.status";
/// Orders listed by `GET /orders` without `limit`.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest `limit` honoured by `GET /orders`; larger values are clamped.
pub const MAX_LIMIT: usize = 1000;
/// Largest quantity accepted for one item of a new order.
pub const MAX_QUANTITY: i64 = 10_000;

/// Receives the events of a service: called with a topic and a JSON payload.
///
/// The orders service calls it with [`ORDER_STATUS_TOPIC`] and a serialized
/// [`OrderEvent`] after every successful `POST /orders` and
/// `POST /orders/{id}/status`, synchronously on the request task, after the
/// store lock is released and before the response is sent. It must not block.
pub type EventSink = Arc<dyn Fn(&str, serde_json::Value) + Send + Sync>;

/// A change of an order's status, as handed to the [`EventSink`].
///
/// JSON: `{"orderId":"1001","userId":"7","status":"PENDING","previousStatus":null,"version":1}`.
/// `previousStatus` is `null` for a newly created order. Setting a status an
/// order already has still emits an event, with equal statuses. `version`
/// counts the order's changes: 1 when it is created (or as seeded), one more
/// at each change, so `GET /orders/{id}/latest-change` tells which events an
/// order's current state already reflects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    /// Id of the order.
    pub order_id: String,
    /// Id of the user who placed the order.
    pub user_id: String,
    /// Status after the change.
    pub status: OrderStatus,
    /// Status before the change; `None` when the order was just created.
    pub previous_status: Option<OrderStatus>,
    /// The order's change count after this change, from 1.
    pub version: u64,
}

/// Body of `POST /orders`: `{"userId":"7","items":[{"sku":"SKU-0001","quantity":2}]}`.
///
/// Answered 400 when `userId` is missing or empty, `items` is missing or
/// empty, a quantity is below 1 or above [`MAX_QUANTITY`], or a SKU is not in
/// the catalog. The user id itself is not checked against the users service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrder {
    /// Id of the ordering user.
    pub user_id: Option<String>,
    /// Items to order.
    #[serde(default)]
    pub items: Vec<NewItem>,
}

/// One item of a [`CreateOrder`]; the unit price comes from the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewItem {
    /// SKU of a catalog product.
    pub sku: String,
    /// Number of units.
    pub quantity: i64,
}

/// Body of `POST /orders/{id}/status`: `{"status":"SHIPPED"}`; an unknown
/// status answers 400.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// Wire name of the new status, e.g. `"SHIPPED"`.
    pub status: String,
}

/// Orders by numeric id, the id the next created order gets, and the last
/// change of every order changed since the store was seeded.
struct Store {
    orders: BTreeMap<u64, Order>,
    next_id: u64,
    changes: HashMap<String, OrderEvent>,
}

impl Store {
    fn seeded() -> Self {
        let orders: BTreeMap<u64, Order> = data::orders()
            .iter()
            .map(|order| {
                (
                    parse_id(&order.id).expect("seed ids are numeric"),
                    order.clone(),
                )
            })
            .collect();
        let next_id = orders.keys().next_back().map_or(1, |last| last + 1);
        Self {
            orders,
            next_id,
            changes: HashMap::new(),
        }
    }

    fn get(&self, id: &str) -> Option<&Order> {
        parse_id(id).and_then(|id| self.orders.get(&id))
    }

    /// The last change of `order`: the recorded one, or version 1 as seeded.
    fn latest_change(&self, order: &Order) -> OrderEvent {
        self.changes.get(&order.id).cloned().unwrap_or(OrderEvent {
            order_id: order.id.clone(),
            user_id: order.user_id.clone(),
            status: order.status,
            previous_status: None,
            version: 1,
        })
    }

    /// Records that `order` now has its status, from `previous` (`None`
    /// for a new order), and returns the change's event.
    fn record_change(&mut self, order: &Order, previous: Option<OrderStatus>) -> OrderEvent {
        let version = match previous {
            None => 1,
            Some(_) => self.latest_change(order).version + 1,
        };
        let event = OrderEvent {
            order_id: order.id.clone(),
            user_id: order.user_id.clone(),
            status: order.status,
            previous_status: previous,
            version,
        };
        self.changes.insert(order.id.clone(), event.clone());
        event
    }
}

#[derive(Clone)]
struct OrdersState {
    calls: CallLog,
    store: Arc<Mutex<Store>>,
    events: Option<EventSink>,
}

impl OrdersState {
    fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn emit(&self, event: &OrderEvent) {
        if let Some(sink) = &self.events {
            let payload = serde_json::to_value(event).expect("an order event serializes");
            sink(ORDER_STATUS_TOPIC, payload);
        }
    }
}

/// The orders service over a fresh store seeded with the 1,000 seed orders;
/// every request is counted in `calls`, and status changes go to `events`.
pub fn router(calls: CallLog, events: Option<EventSink>) -> Router {
    let state = OrdersState {
        calls,
        store: Arc::new(Mutex::new(Store::seeded())),
        events,
    };
    Router::new()
        .route("/orders", get(list_orders).post(create_order))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/status", post(set_status))
        .route("/orders/{id}/latest-change", get(latest_change))
        .fallback(rest::no_route)
        .with_state(state)
}

fn parse_id(id: &str) -> Option<u64> {
    if id.bytes().all(|byte| byte.is_ascii_digit()) && !id.starts_with('0') {
        id.parse().ok()
    } else {
        None
    }
}

fn order_not_found(id: &str) -> Response {
    rest::error(StatusCode::NOT_FOUND, format!("order {id} not found"))
}

async fn get_order(State(state): State<OrdersState>, Path(id): Path<String>) -> Response {
    state.calls.record(ROUTE_GET);
    match state.store().get(&id) {
        Some(order) => Json(order).into_response(),
        None => order_not_found(&id),
    }
}

async fn latest_change(State(state): State<OrdersState>, Path(id): Path<String>) -> Response {
    state.calls.record(ROUTE_LATEST_CHANGE);
    let store = state.store();
    match store.get(&id) {
        Some(order) => Json(store.latest_change(order)).into_response(),
        None => order_not_found(&id),
    }
}

async fn list_orders(
    State(state): State<OrdersState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let store = state.store();
    let orders = if let Some(user_id) = query.get("userId") {
        state.calls.record(ROUTE_BY_USER);
        by_users(&store, &HashSet::from([user_id.trim()]))
    } else if let Some(user_ids) = query.get("userIds") {
        state.calls.record(ROUTE_BY_USERS);
        by_users(&store, &rest::split_ids(user_ids).into_iter().collect())
    } else if let Some(ids) = query.get("ids") {
        state.calls.record(ROUTE_BY_IDS);
        by_ids(&store, ids)
    } else {
        state.calls.record(ROUTE_LIST);
        match parse_limit(query.get("limit")) {
            Ok(limit) => store.orders.values().take(limit).collect(),
            Err(message) => return rest::error(StatusCode::BAD_REQUEST, message),
        }
    };
    Json(orders).into_response()
}

fn by_users<'a>(store: &'a Store, user_ids: &HashSet<&str>) -> Vec<&'a Order> {
    store
        .orders
        .values()
        .filter(|order| user_ids.contains(order.user_id.as_str()))
        .collect()
}

fn by_ids<'a>(store: &'a Store, ids: &str) -> Vec<&'a Order> {
    rest::split_ids(ids)
        .into_iter()
        .filter_map(|id| store.get(id))
        .collect()
}

/// The `limit` parameter: [`DEFAULT_LIMIT`] when absent, clamped to [`MAX_LIMIT`].
fn parse_limit(limit: Option<&String>) -> Result<usize, String> {
    let Some(limit) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    limit
        .trim()
        .parse::<usize>()
        .map(|limit| limit.min(MAX_LIMIT))
        .map_err(|_| format!("limit must be a non-negative integer, got {limit:?}"))
}

async fn create_order(
    State(state): State<OrdersState>,
    body: Result<Json<CreateOrder>, JsonRejection>,
) -> Response {
    state.calls.record(ROUTE_CREATE);
    let request = match body {
        Ok(Json(request)) => request,
        Err(rejection) => return rest::bad_body(&rejection),
    };
    let (user_id, items) = match validate(request) {
        Ok(valid) => valid,
        Err(message) => return rest::error(StatusCode::BAD_REQUEST, message),
    };
    let (order, event) = {
        let mut store = state.store();
        let order = insert(&mut store, user_id, items);
        let event = store.record_change(&order, None);
        (order, event)
    };
    state.emit(&event);
    (StatusCode::CREATED, Json(order)).into_response()
}

/// The user id and priced items of a valid request, or why it is invalid.
fn validate(request: CreateOrder) -> Result<(String, Vec<OrderItem>), String> {
    let user_id = request
        .user_id
        .filter(|id| !id.trim().is_empty())
        .ok_or("userId is required")?;
    if request.items.is_empty() {
        return Err("items must not be empty".to_owned());
    }
    let items = request
        .items
        .into_iter()
        .map(price_item)
        .collect::<Result<_, _>>()?;
    Ok((user_id, items))
}

fn price_item(item: NewItem) -> Result<OrderItem, String> {
    let quantity = u32::try_from(item.quantity)
        .ok()
        .filter(|quantity| (1..=MAX_QUANTITY).contains(&i64::from(*quantity)))
        .ok_or_else(|| {
            format!(
                "quantity of {} must be between 1 and {MAX_QUANTITY}, got {}",
                item.sku, item.quantity
            )
        })?;
    let product = data::product(&item.sku).ok_or_else(|| format!("unknown sku {}", item.sku))?;
    Ok(OrderItem {
        sku: item.sku,
        quantity,
        unit_price_cents: product.price_cents,
    })
}

/// Stores a new PENDING order under the next id and returns it.
fn insert(store: &mut Store, user_id: String, items: Vec<OrderItem>) -> Order {
    let id = store.next_id;
    store.next_id += 1;
    let order = Order {
        id: id.to_string(),
        user_id,
        status: OrderStatus::Pending,
        total_cents: data::total_cents(&items),
        items,
        created_at: data::rfc3339(data::now_unix()),
    };
    store.orders.insert(id, order.clone());
    order
}

async fn set_status(
    State(state): State<OrdersState>,
    Path(id): Path<String>,
    body: Result<Json<StatusChange>, JsonRejection>,
) -> Response {
    state.calls.record(ROUTE_SET_STATUS);
    let change = match body {
        Ok(Json(change)) => change,
        Err(rejection) => return rest::bad_body(&rejection),
    };
    let (order, event) = {
        let mut store = state.store();
        let Some(order) = parse_id(&id).and_then(|key| store.orders.get_mut(&key)) else {
            return order_not_found(&id);
        };
        let Some(status) = OrderStatus::parse(&change.status) else {
            let message = format!("unknown status {:?}", change.status);
            return rest::error(StatusCode::BAD_REQUEST, message);
        };
        let previous = std::mem::replace(&mut order.status, status);
        let order = order.clone();
        let event = store.record_change(&order, Some(previous));
        (order, event)
    };
    state.emit(&event);
    Json(order).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestServer, http};
    use serde_json::{Value, json};

    async fn start() -> (TestServer, CallLog) {
        let calls = CallLog::new();
        (TestServer::start(router(calls.clone(), None)).await, calls)
    }

    fn ids(body: &Value) -> Vec<String> {
        let orders = body.as_array().expect("an array");
        orders
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn gets_one_order_or_404() {
        let (server, calls) = start().await;
        let (status, body) = http(server.addr, "GET", "/orders/1", None).await;
        assert_eq!(status, 200);
        assert_eq!(body, serde_json::to_value(&data::orders()[0]).unwrap());
        assert!(body["userId"].is_string() && body["totalCents"].is_i64());
        let (status, body) = http(server.addr, "GET", "/orders/5000", None).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "order 5000 not found");
        assert_eq!(calls.count(ROUTE_GET), 2);
    }

    #[tokio::test]
    async fn filters_orders() {
        let (server, calls) = start().await;
        let (_, body) = http(server.addr, "GET", "/orders?userId=7", None).await;
        let expected: Vec<_> = data::orders().iter().filter(|o| o.user_id == "7").collect();
        assert_eq!(body, serde_json::to_value(&expected).unwrap());
        let (_, body) = http(server.addr, "GET", "/orders?userIds=1,2", None).await;
        let users = body.as_array().unwrap().iter().map(|o| &o["userId"]);
        assert!(users.clone().all(|user| user == "1" || user == "2"));
        assert!(users.clone().any(|user| user == "1") && users.clone().any(|user| user == "2"));
        let (_, body) = http(server.addr, "GET", "/orders?ids=3,9999,1,3", None).await;
        assert_eq!(ids(&body), ["3", "1"]);
        let (_, body) = http(server.addr, "GET", "/orders", None).await;
        assert_eq!(body.as_array().unwrap().len(), DEFAULT_LIMIT);
        let (_, body) = http(server.addr, "GET", "/orders?limit=5000", None).await;
        assert_eq!(body.as_array().unwrap().len(), MAX_LIMIT);
        let (status, _) = http(server.addr, "GET", "/orders?limit=x", None).await;
        assert_eq!(status, 400);
        for route in [ROUTE_BY_USER, ROUTE_BY_USERS, ROUTE_BY_IDS] {
            assert_eq!(calls.count(route), 1);
        }
        assert_eq!(calls.count(ROUTE_LIST), 3);
    }

    #[tokio::test]
    async fn creates_orders() {
        let (server, calls) = start().await;
        let body = r#"{"userId":"7","items":[{"sku":"SKU-0001","quantity":2}]}"#;
        let (status, order) = http(server.addr, "POST", "/orders", Some(body)).await;
        assert_eq!(status, 201);
        let price = data::product("SKU-0001").unwrap().price_cents;
        assert_eq!(order["id"], "1001");
        assert_eq!(order["status"], "PENDING");
        assert_eq!(order["items"][0]["unitPriceCents"], price);
        assert_eq!(order["totalCents"], 2 * price);
        let (status, fetched) = http(server.addr, "GET", "/orders/1001", None).await;
        assert_eq!((status, fetched), (200, order));
        let (_, order) = http(server.addr, "POST", "/orders", Some(body)).await;
        assert_eq!(order["id"], "1002");
        assert_eq!(calls.count(ROUTE_CREATE), 2);
    }

    #[tokio::test]
    async fn rejects_invalid_orders() {
        let (server, _calls) = start().await;
        let invalid = [
            r#"{"userId":"7","items":[]}"#,
            r#"{"userId":"7"}"#,
            r#"{"userId":"7","items":[{"sku":"SKU-0001","quantity":0}]}"#,
            r#"{"userId":"7","items":[{"sku":"SKU-0001","quantity":-3}]}"#,
            r#"{"userId":"7","items":[{"sku":"SKU-9999","quantity":1}]}"#,
            r#"{"items":[{"sku":"SKU-0001","quantity":1}]}"#,
            r#"{"userId":"","items":[{"sku":"SKU-0001","quantity":1}]}"#,
            r#"{"userId":"7","items":[{"sku":"SKU-0001"}]}"#,
            r#"{"userId": "7", "items": ["#,
        ];
        for body in invalid {
            let (status, answer) = http(server.addr, "POST", "/orders", Some(body)).await;
            assert_eq!(status, 400, "{body}");
            assert!(answer["error"].is_string(), "{body}: {answer}");
        }
        let (_, listed) = http(server.addr, "GET", "/orders?limit=1000", None).await;
        assert_eq!(listed.as_array().unwrap().len(), data::ORDER_COUNT);
    }

    #[tokio::test]
    async fn status_change_emits_an_event() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let sink: EventSink = Arc::new(move |topic, payload| {
            seen.lock().unwrap().push((topic.to_owned(), payload));
        });
        let server = TestServer::start(router(CallLog::new(), Some(sink))).await;
        let previous = data::orders()[4].status.as_str();
        let body = r#"{"status":"SHIPPED"}"#;
        let (status, order) = http(server.addr, "POST", "/orders/5/status", Some(body)).await;
        assert_eq!(status, 200);
        assert_eq!(order["status"], "SHIPPED");
        let expected = json!({
            "orderId": "5",
            "userId": data::orders()[4].user_id,
            "status": "SHIPPED",
            "previousStatus": previous,
            "version": 2,
        });
        assert_eq!(
            *events.lock().unwrap(),
            [(ORDER_STATUS_TOPIC.to_owned(), expected)]
        );
        let (status, _) = http(server.addr, "POST", "/orders/5000/status", Some(body)).await;
        assert_eq!(status, 404);
        let bad = r#"{"status":"LOST"}"#;
        let (status, answer) = http(server.addr, "POST", "/orders/5/status", Some(bad)).await;
        assert_eq!(status, 400);
        assert!(answer["error"].is_string());
        assert_eq!(events.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_latest_change_counts_the_changes() {
        let (server, calls) = start().await;
        let seeded = data::orders()[4].status.as_str();
        let (status, change) = http(server.addr, "GET", "/orders/5/latest-change", None).await;
        assert_eq!(status, 200);
        assert_eq!(
            (change["status"].as_str(), change["version"].as_u64()),
            (Some(seeded), Some(1))
        );
        assert!(change["previousStatus"].is_null());
        let body = r#"{"status":"SHIPPED"}"#;
        http(server.addr, "POST", "/orders/5/status", Some(body)).await;
        let (_, change) = http(server.addr, "GET", "/orders/5/latest-change", None).await;
        let expected = json!({"orderId": "5", "userId": data::orders()[4].user_id,
            "status": "SHIPPED", "previousStatus": seeded, "version": 2});
        assert_eq!(change, expected);
        let (status, _) = http(server.addr, "GET", "/orders/5000/latest-change", None).await;
        assert_eq!(status, 404);
        assert_eq!(calls.count(ROUTE_LATEST_CHANGE), 3);
    }

    #[tokio::test]
    async fn creation_emits_an_event() {
        let events = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&events);
        let sink: EventSink = Arc::new(move |_, payload| seen.lock().unwrap().push(payload));
        let server = TestServer::start(router(CallLog::new(), Some(sink))).await;
        let body = r#"{"userId":"3","items":[{"sku":"SKU-0002","quantity":1}]}"#;
        http(server.addr, "POST", "/orders", Some(body)).await;
        let expected = json!({
            "orderId": "1001", "userId": "3", "status": "PENDING", "previousStatus": null, "version": 1,
        });
        assert_eq!(*events.lock().unwrap(), [expected]);
    }
}
