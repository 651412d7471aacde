//! In-memory guards against guessing and floods: failure lock-outs for booking code + date of
//! birth, request budgets for identity checks, and the set of idempotency keys in flight.
//! Per node; a multi-node deployment adds the same at its proxy.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts events per key in a fixed window and says when a key is over its budget.
pub struct Limiter {
    budget: u32,
    window: Duration,
    counts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Limiter {
    pub fn new(budget: u32, window: Duration) -> Self {
        Self { budget, window, counts: Mutex::new(HashMap::new()) }
    }

    fn with_counts<T>(&self, f: impl FnOnce(&mut HashMap<String, (u32, Instant)>) -> T) -> T {
        let mut counts = self.counts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if counts.len() > 100_000 {
            let window = self.window;
            counts.retain(|_, (_, since)| since.elapsed() < window);
        }
        f(&mut counts)
    }

    pub fn is_locked(&self, key: &str) -> bool {
        self.with_counts(|counts| counts.get(key).is_some_and(|(n, since)| since.elapsed() < self.window && *n >= self.budget))
    }

    /// Records one event; returns whether the key is still within its budget.
    pub fn failure(&self, key: &str) -> bool {
        self.with_counts(|counts| {
            let entry = counts.entry(key.to_owned()).or_insert((0, Instant::now()));
            if entry.1.elapsed() >= self.window {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
            entry.0 <= self.budget
        })
    }
}

/// Idempotency keys whose first request is still being committed.
#[derive(Clone, Default)]
pub struct InFlight {
    keys: Arc<Mutex<HashSet<(String, String)>>>,
}

/// Holds a key in flight until dropped (after the commit answered).
pub struct InFlightGuard {
    keys: Arc<Mutex<HashSet<(String, String)>>>,
    entry: (String, String),
}

impl InFlight {
    pub fn enter(&self, scope: &str, key: &str) -> Option<InFlightGuard> {
        let entry = (scope.to_owned(), key.to_owned());
        let mut keys = self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        keys.insert(entry.clone()).then(|| InFlightGuard { keys: self.keys.clone(), entry })
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&self.entry);
    }
}
