//! The in-memory entries of a store, keyed by session, with an ordered index of the parked
//! ones by due time so "what is due" and "when is the next one due" cost O(log n + k), not a
//! scan of the whole queue.

use crate::state::entry::{EntryStatus, ParkedEntry};
use std::collections::{BTreeSet, HashMap};

/// Entries by session key plus a `(retry_at_ms, key)` index of those with status `Parked`.
#[derive(Debug, Default)]
pub(crate) struct EntryMap {
    by_key: HashMap<String, Box<ParkedEntry>>,
    parked_by_due: BTreeSet<(i64, String)>,
}

impl EntryMap {
    /// An empty map with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            by_key: HashMap::with_capacity(n),
            parked_by_due: BTreeSet::new(),
        }
    }

    /// Insert or replace the entry of its session key.
    pub fn insert(&mut self, entry: ParkedEntry) {
        let key = entry.session_key.clone();
        self.unindex(&key);
        if entry.status == EntryStatus::Parked {
            self.parked_by_due.insert((entry.retry_at_ms, key.clone()));
        }
        self.by_key.insert(key, Box::new(entry));
    }

    /// Remove and return the entry of `key`.
    pub fn remove(&mut self, key: &str) -> Option<Box<ParkedEntry>> {
        self.unindex(key);
        self.by_key.remove(key)
    }

    fn unindex(&mut self, key: &str) {
        if let Some(old) = self.by_key.get(key) {
            if old.status == EntryStatus::Parked {
                self.parked_by_due
                    .remove(&(old.retry_at_ms, key.to_string()));
            }
        }
    }

    /// The entry of `key`.
    pub fn get(&self, key: &str) -> Option<&ParkedEntry> {
        self.by_key.get(key).map(|e| &**e)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.by_key.contains_key(key)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// Every entry, in no particular order.
    pub fn values(&self) -> impl Iterator<Item = &ParkedEntry> + '_ {
        self.by_key.values().map(|e| &**e)
    }

    /// Parked entries in due order (earliest first, then by key).
    pub fn parked_by_due(&self) -> impl Iterator<Item = &ParkedEntry> + '_ {
        self.parked_by_due
            .iter()
            .filter_map(|(_, key)| self.by_key.get(key).map(|e| &**e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn entry(key: &str, due: i64, status: EntryStatus) -> ParkedEntry {
        let mut e = ParkedEntry::new(key, Reason::RateLimit, 0, due, "");
        e.status = status;
        e
    }

    #[test]
    fn index_follows_updates_status_and_removal() {
        let mut m = EntryMap::default();
        m.insert(entry("b", 20, EntryStatus::Parked));
        m.insert(entry("a", 30, EntryStatus::Parked));
        m.insert(entry("c", 10, EntryStatus::Probing));
        let keys = |m: &EntryMap| -> Vec<String> {
            m.parked_by_due().map(|e| e.session_key.clone()).collect()
        };
        assert_eq!(keys(&m), ["b", "a"]);
        m.insert(entry("a", 5, EntryStatus::Parked));
        assert_eq!(keys(&m), ["a", "b"]);
        m.insert(entry("b", 5, EntryStatus::Released));
        assert_eq!(keys(&m), ["a"]);
        m.insert(entry("c", 1, EntryStatus::Parked));
        assert_eq!(keys(&m), ["c", "a"]);
        assert!(m.remove("c").is_some());
        assert_eq!(keys(&m), ["a"]);
        assert_eq!(m.len(), 2);
        assert!(m.remove("zz").is_none());
    }
}
