//! The users service: a REST API over the seeded users, answering JSON in
//! `snake_case` on purpose (the gateway demonstrates renaming keys).
//!
//! User JSON: `{"id":"1","full_name":"Ada Lovelace","email":"...","created_at":"..."}`.
//!
//! | request | answer | route label |
//! | --- | --- | --- |
//! | `GET /users/{id}` | 200 user, or 404 `{"error":"user 99 not found"}` | [`ROUTE_GET`] |
//! | `GET /users?ids=1,2,3` | 200 array of the users found, see [`batch`] | [`ROUTE_BATCH`] |
//! | `GET /users` | 200 array of all users, by numeric id | [`ROUTE_LIST`] |

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::calls::CallLog;
use crate::data::{self, User};
use crate::rest;

/// Route label of `GET /users/{id}`.
pub const ROUTE_GET: &str = "GET /users/{id}";
/// Route label of `GET /users?ids=...`.
pub const ROUTE_BATCH: &str = "GET /users?ids";
/// Route label of `GET /users` without `ids`.
pub const ROUTE_LIST: &str = "GET /users";

/// The users service; every request is counted in `calls`.
pub fn router(calls: CallLog) -> Router {
    Router::new()
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .fallback(rest::no_route)
        .with_state(calls)
}

/// The users named in a comma-separated id list, as `GET /users?ids=` answers
/// them: unknown ids left out, duplicates answered once, and the result in
/// REVERSED request order on purpose, so clients must match users by id.
pub fn batch(ids: &str) -> Vec<&'static User> {
    rest::split_ids(ids)
        .into_iter()
        .rev()
        .filter_map(data::user)
        .collect()
}

async fn get_user(
    State(calls): State<CallLog>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    calls.record_with(ROUTE_GET, &headers);
    match data::user(&id) {
        Some(user) => Json(user).into_response(),
        None => rest::error(StatusCode::NOT_FOUND, format!("user {id} not found")),
    }
}

async fn list_users(
    State(calls): State<CallLog>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<Vec<&'static User>> {
    if let Some(ids) = query.get("ids") {
        calls.record_with(ROUTE_BATCH, &headers);
        Json(batch(ids))
    } else {
        calls.record(ROUTE_LIST);
        Json(data::users().iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{TestServer, http};

    #[tokio::test]
    async fn gets_one_user_or_404() {
        let server = TestServer::start(router(CallLog::new())).await;
        let (status, body) = http(server.addr, "GET", "/users/1", None).await;
        assert_eq!(status, 200);
        assert_eq!(body["id"], "1");
        assert_eq!(body["email"], data::users()[0].email);
        assert!(body["full_name"].is_string());
        assert!(body["created_at"].is_string());
        let (status, body) = http(server.addr, "GET", "/users/99", None).await;
        assert_eq!(status, 404);
        assert_eq!(body["error"], "user 99 not found");
    }

    #[tokio::test]
    async fn batch_answers_in_reversed_order() {
        let calls = CallLog::new();
        let server = TestServer::start(router(calls.clone())).await;
        let (status, body) = http(server.addr, "GET", "/users?ids=1,2,99,3,2", None).await;
        assert_eq!(status, 200);
        let ids: Vec<_> = body
            .as_array()
            .expect("an array")
            .iter()
            .map(|user| user["id"].as_str().expect("an id"))
            .collect();
        assert_eq!(ids, ["3", "2", "1"]);
        assert_eq!(calls.count(ROUTE_BATCH), 1);
    }

    #[tokio::test]
    async fn lists_all_users_and_counts_calls() {
        let calls = CallLog::new();
        let server = TestServer::start(router(calls.clone())).await;
        let (status, body) = http(server.addr, "GET", "/users", None).await;
        assert_eq!(status, 200);
        let users = body.as_array().expect("an array");
        assert_eq!(users.len(), data::USER_COUNT);
        assert_eq!(users[9]["id"], "10");
        http(server.addr, "GET", "/users/2", None).await;
        http(server.addr, "GET", "/users/3", None).await;
        assert_eq!(calls.count(ROUTE_LIST), 1);
        assert_eq!(calls.count(ROUTE_GET), 2);
        assert_eq!(calls.total(), 3);
    }
}
