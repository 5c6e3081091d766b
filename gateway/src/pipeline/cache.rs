//! The plan cache: planned operations by document text and operation
//! name, bounded in count. When full, the entry used least recently goes.
//! A request whose plan is here is neither parsed nor planned again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use super::plan::Plan;

type Key = (String, Option<String>);

/// A bounded map from (document, operation name) to its plan.
#[derive(Debug)]
pub struct PlanCache {
    capacity: usize,
    entries: Mutex<HashMap<Key, (Arc<Plan>, u64)>>,
    clock: AtomicU64,
}

impl PlanCache {
    /// A cache keeping at most `capacity` plans.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
        }
    }

    fn tick(&self) -> u64 {
        self.clock.fetch_add(1, Ordering::Relaxed)
    }

    /// The plan of `document`'s `operation`, if cached.
    pub fn get(&self, document: &str, operation: Option<&str>) -> Option<Arc<Plan>> {
        let now = self.tick();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (document.to_owned(), operation.map(str::to_owned));
        let (plan, used) = entries.get_mut(&key)?;
        *used = now;
        Some(plan.clone())
    }

    /// Keeps a plan, making room if needed.
    pub fn insert(&self, document: &str, operation: Option<&str>, plan: Arc<Plan>) {
        let now = self.tick();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            (document.to_owned(), operation.map(str::to_owned)),
            (plan, now),
        );
    }

    /// How many plans are kept.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no plan is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
