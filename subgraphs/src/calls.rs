//! Request counting: every service records each request it receives under a
//! route label, so tests can assert how many calls the gateway made.
//!
//! Route labels are method plus path template for REST (`"GET /users/{id}"`,
//! `"GET /users?ids"`) and the method name for gRPC (`"GetProduct"`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A shared, cloneable counter of requests per route label.
///
/// Clones share the same counts. A poisoned lock is recovered, never
/// propagated: counting must not take a service down.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    counts: Arc<Mutex<BTreeMap<String, u64>>>,
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

    /// Forgets every count.
    pub fn reset(&self) {
        self.lock().clear();
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
