//! The plan cache: planned operations by document hash and operation name,
//! bounded in count. When full, the entry used least recently goes. A
//! request whose plan is here is neither parsed nor planned again, and its
//! lookup copies nothing: the document is hashed, then compared with the
//! one the entry was planned from.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use rustc_hash::FxBuildHasher;

use super::plan::Plan;

#[derive(Debug)]
struct Entry {
    document: String,
    operation: Option<String>,
    plan: Arc<Plan>,
    used: u64,
}

/// A bounded map from (document, operation name) to its plan.
#[derive(Debug)]
pub struct PlanCache {
    capacity: usize,
    entries: Mutex<HashMap<u64, Entry>>,
    clock: AtomicU64,
}

fn hash(document: &str, operation: Option<&str>) -> u64 {
    let mut hasher = FxBuildHasher.build_hasher();
    document.hash(&mut hasher);
    operation.hash(&mut hasher);
    hasher.finish()
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
        let entry = entries.get_mut(&hash(document, operation))?;
        if entry.document != document || entry.operation.as_deref() != operation {
            return None;
        }
        entry.used = now;
        Some(entry.plan.clone())
    }

    /// Keeps a plan, making room if needed (a document whose hash another
    /// one shares replaces it).
    pub fn insert(&self, document: &str, operation: Option<&str>, plan: Arc<Plan>) {
        let key = hash(document, operation);
        let entry = Entry {
            document: document.to_owned(),
            operation: operation.map(str::to_owned),
            plan,
            used: self.tick(),
        };
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(key, _)| *key);
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, entry);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LimitsConfig;

    #[test]
    fn the_least_recently_used_plan_goes_first() {
        let cache = PlanCache::new(2);
        let plan = |text: &str| {
            let document = super::super::parse::parse(text, &LimitsConfig::default()).unwrap();
            let model = crate::schema::model::Model::default();
            let operation = super::super::normalize::normalize(
                &model,
                &document,
                None,
                &LimitsConfig::default(),
            );
            operation.map(|operation| {
                Arc::new(super::super::plan::plan(operation, &document, text, &model))
            })
        };
        let Ok(a) = plan("{ __typename }") else {
            panic!("a plan")
        };
        cache.insert("a", None, a.clone());
        cache.insert("b", None, a.clone());
        assert!(cache.get("a", None).is_some());
        cache.insert("c", None, a);
        assert_eq!(cache.len(), 2);
        assert!(cache.get("a", None).is_some(), "used recently, kept");
        assert!(cache.get("b", None).is_none(), "least recently used, gone");
        assert!(cache.get("a", Some("Other")).is_none());
    }
}
