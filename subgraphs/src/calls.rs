//! Request counting: every service records each request it receives under a
//! route label, so tests can assert how many calls the gateway made.
//!
//! Route labels are method plus path template for REST (`"GET /users/{id}"`,
//! `"GET /users?ids"`) and the method name for gRPC (`"GetProduct"`). Some
//! routes also keep the `authorization` and `x-…` headers (gRPC metadata)
//! of their last request, so tests can see what the gateway forwarded.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A shared, cloneable counter of requests per route label.
///
/// Clones share the same counts. A poisoned lock is recovered, never
/// propagated: counting must not take a service down.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
    headers: Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>,
}

impl CallLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one request on `route`.
    pub fn record(&self, route: &str) {
        *self.lock().entry(route.to_owned()).or_default() += 1;
    }

    /// Counts one request on `route` and keeps its `authorization`,
    /// `traceparent` and `x-…` headers as the route's last seen.
    pub fn record_with(&self, route: &str, headers: &axum::http::HeaderMap) {
        self.record(route);
        let kept = headers
            .iter()
            .filter(|(name, _)| {
                matches!(name.as_str(), "authorization" | "traceparent")
                    || name.as_str().starts_with("x-")
            })
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect();
        self.headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(route.to_owned(), kept);
    }

    /// The `authorization`, `traceparent` and `x-…` headers of the last request on
    /// `route` that kept them; empty if none did.
    pub fn last_headers(&self, route: &str) -> BTreeMap<String, String> {
        self.headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
            .cloned()
            .unwrap_or_default()
    }

    /// The counts so far, per route label; routes never called are absent.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.lock().clone()
    }

    /// Requests counted on all routes together.
    pub fn total(&self) -> u64 {
        self.lock().values().sum()
    }

    /// Requests counted on `route`; 0 if never called.
    pub fn count(&self, route: &str) -> u64 {
        self.lock().get(route).copied().unwrap_or(0)
    }

    /// Forgets every count and every kept header.
    pub fn reset(&self) {
        self.lock().clear();
        self.headers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, u64>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_routes() {
        let log = CallLog::new();
        let shared = log.clone();
        log.record("GET /users/{id}");
        shared.record("GET /users/{id}");
        log.record("GetProduct");
        assert_eq!(log.count("GET /users/{id}"), 2);
        assert_eq!(shared.count("GetProduct"), 1);
        assert_eq!(log.count("GET /orders"), 0);
        assert_eq!(log.total(), 3);
        let snapshot = log.snapshot();
        assert_eq!(snapshot.len(), 2);
        assert_eq!(snapshot["GET /users/{id}"], 2);
        shared.reset();
        assert_eq!(log.total(), 0);
        assert!(log.snapshot().is_empty());
    }
}
