//! Which idempotency keys the SQLite database holds, kept in memory so that the lookup every
//! creating POST makes can skip the database when the key is new (nearly always).
//!
//! Exact, not a guess, because one process owns an SQLite database and every idempotency
//! record goes in through its writer thread: the filter is loaded from the table when the
//! writer opens, the writer adds a committed write's key after its `COMMIT` and before it
//! answers anyone, and a purge takes out exactly what its `DELETE` took out. A key is kept as a
//! 64-bit hash: two keys sharing a hash cost a database read, nothing else. PostgreSQL, which
//! several servers may share, has no filter.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Hash of `(scope, key)` → the record's `created_at` in milliseconds.
#[derive(Default)]
pub(crate) struct KeyFilter {
    keys: Mutex<HashMap<u64, i64>>,
}

fn hash(scope: &str, key: &str) -> u64 {
    // SipHash with fixed keys: the same value in every process, so nothing depends on when a
    // key was added.
    #[allow(deprecated)]
    let mut hasher = std::hash::SipHasher::new();
    (scope, key).hash(&mut hasher);
    hasher.finish()
}

impl KeyFilter {
    fn keys(&self) -> std::sync::MutexGuard<'_, HashMap<u64, i64>> {
        // Inserts and removals leave the map whole even if a holder panicked.
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// False only when no record with this scope and key exists.
    pub(crate) fn may_hold(&self, scope: &str, key: &str) -> bool {
        self.keys().contains_key(&hash(scope, key))
    }

    /// Notes a committed record (`created_at` as stored).
    pub(crate) fn insert(&self, scope: &str, key: &str, created_at: i64) {
        let mut keys = self.keys();
        let at = keys.entry(hash(scope, key)).or_insert(created_at);
        // Of two records sharing a hash, the later one decides when the entry may go.
        *at = (*at).max(created_at);
    }

    /// Forgets what `DELETE FROM idempotency_keys WHERE created_at < before` deleted.
    pub(crate) fn purge(&self, before: i64) {
        self.keys().retain(|_, created_at| *created_at >= before);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.keys().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_was_inserted_until_purged() {
        let filter = KeyFilter::default();
        assert!(!filter.may_hold("holds:p1", "k1"));
        filter.insert("holds:p1", "k1", 1_000);
        filter.insert("holds:p1", "k2", 2_000);
        assert!(filter.may_hold("holds:p1", "k1"));
        assert!(!filter.may_hold("holds:p2", "k1"), "the scope is part of the key");
        assert!(!filter.may_hold("holds:p1k", "1"), "scope and key do not run together");
        filter.purge(2_000);
        assert!(!filter.may_hold("holds:p1", "k1"), "older than the purge: deleted");
        assert!(filter.may_hold("holds:p1", "k2"), "as old as the purge bound: kept, as by the DELETE");
        assert_eq!(filter.len(), 1);
    }
}
