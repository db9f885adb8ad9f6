//! [`MemoryQueue`]: an in-memory [`ParkedQueue`] for tests and for hosts without a state dir.

use crate::error::{EngineError, EngineResult};
use crate::state::entry::{sort_entries, EntryStatus, ParkedEntry};
use crate::state::parked::{ParkedQueue, QueueChange};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A [`ParkedQueue`] kept in a `BTreeMap` behind a mutex. Nothing survives the process.
#[derive(Debug)]
pub struct MemoryQueue {
    entries: Mutex<BTreeMap<String, ParkedEntry>>,
    max_entries: usize,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        MemoryQueue::with_cap(usize::MAX)
    }
}

impl MemoryQueue {
    /// An empty queue without a cap.
    pub fn new() -> MemoryQueue {
        MemoryQueue::default()
    }

    /// An empty queue holding at most `max_entries` sessions.
    pub fn with_cap(max_entries: usize) -> MemoryQueue {
        MemoryQueue {
            entries: Mutex::new(BTreeMap::new()),
            max_entries,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, ParkedEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Insert or replace the entry under its session key (what parking does), ignoring the cap.
    pub fn insert(&self, entry: ParkedEntry) {
        self.lock().insert(entry.session_key.clone(), entry);
    }

    /// A copy of the entry under `key` (infallible form of [`ParkedQueue::get`]).
    pub fn entry(&self, key: &str) -> Option<ParkedEntry> {
        self.lock().get(key).cloned()
    }

    /// How many entries the queue holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the queue is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

impl ParkedQueue for MemoryQueue {
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        Ok(self.lock().get(session_key).cloned())
    }

    fn put(&self, entry: ParkedEntry) -> EngineResult<()> {
        if entry.session_key.is_empty() {
            return Err(EngineError::input(
                "sessionKey",
                "must be a non-empty string",
            ));
        }
        let mut map = self.lock();
        if !map.contains_key(&entry.session_key) && map.len() >= self.max_entries {
            return Err(EngineError::QueueFull {
                cap: self.max_entries,
            });
        }
        map.insert(entry.session_key.clone(), entry);
        Ok(())
    }

    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        Ok(self.lock().remove(session_key))
    }

    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        let mut all: Vec<ParkedEntry> = self.lock().values().cloned().collect();
        sort_entries(&mut all);
        Ok(all)
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        let mut due: Vec<ParkedEntry> = self
            .lock()
            .values()
            .filter(|e| e.status == EntryStatus::Parked && e.retry_at_ms <= now_ms)
            .cloned()
            .collect();
        sort_entries(&mut due);
        Ok(due)
    }

    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        Ok(self
            .lock()
            .values()
            .filter(|e| e.status == EntryStatus::Parked && !skip_groups.contains(&e.group))
            .map(|e| e.retry_at_ms)
            .min())
    }

    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        let mut map = self.lock();
        for change in changes {
            let key = change.key();
            if let Some(e) = change.applied_to(map.remove(key), now_ms) {
                map.insert(key.to_string(), e);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_shared_parked_queue_suite() {
        crate::state::conformance::parked_queue(&MemoryQueue::with_cap(3));
    }
}
