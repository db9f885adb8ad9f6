//! [`MemoryQueue`]: an in-memory [`ParkedQueue`] for tests and for hosts without a state dir.

use super::queue::{ParkedQueue, QueueChange, SchedEntry, SchedStatus};
use crate::error::EngineResult;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A [`ParkedQueue`] kept in a `BTreeMap` behind a mutex. Nothing survives the process.
#[derive(Debug, Default)]
pub struct MemoryQueue {
    entries: Mutex<BTreeMap<String, SchedEntry>>,
}

impl MemoryQueue {
    /// An empty queue.
    pub fn new() -> MemoryQueue {
        MemoryQueue::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SchedEntry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Insert or replace the entry under its session key (what parking does).
    pub fn insert(&self, entry: SchedEntry) {
        self.lock().insert(entry.session_key.clone(), entry);
    }

    /// A copy of the entry under `key`.
    pub fn get(&self, key: &str) -> Option<SchedEntry> {
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
    fn all_entries(&self) -> EngineResult<Vec<SchedEntry>> {
        Ok(self.lock().values().cloned().collect())
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<SchedEntry>> {
        Ok(self
            .lock()
            .values()
            .filter(|e| e.status == SchedStatus::Parked && e.retry_at_ms <= now_ms)
            .cloned()
            .collect())
    }

    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        Ok(self
            .lock()
            .values()
            .filter(|e| e.status == SchedStatus::Parked && !skip_groups.contains(&e.group))
            .map(|e| e.retry_at_ms)
            .min())
    }

    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        let mut map = self.lock();
        for change in changes {
            match change {
                QueueChange::Remove { session_key } => {
                    map.remove(session_key);
                }
                QueueChange::SetStatus {
                    session_key,
                    status,
                    retry_at_ms,
                } => {
                    if let Some(e) = map.get_mut(session_key) {
                        e.status = *status;
                        e.status_since_ms = now_ms;
                        if let Some(at) = retry_at_ms {
                            e.retry_at_ms = *at;
                        }
                    }
                }
                QueueChange::RecordFailure {
                    session_key,
                    attempts,
                    error,
                    retry_at_ms,
                } => {
                    if let Some(e) = map.get_mut(session_key) {
                        e.attempts = *attempts;
                        e.last_error = error.clone();
                        e.retry_at_ms = *retry_at_ms;
                        e.status = SchedStatus::Parked;
                        e.status_since_ms = now_ms;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    #[test]
    fn due_and_next_due_see_only_parked_entries_outside_skipped_groups() {
        let q = MemoryQueue::new();
        q.insert(SchedEntry::parked("a", "g1", Reason::Quota, 100, 0));
        q.insert(SchedEntry::parked("b", "g2", Reason::Quota, 50, 0));
        q.insert(SchedEntry::parked("c", "g2", Reason::Quota, 10, 0));
        q.apply(
            &[QueueChange::SetStatus {
                session_key: "c".into(),
                status: SchedStatus::Probing,
                retry_at_ms: None,
            }],
            5,
        )
        .unwrap();
        assert_eq!(q.next_due_ms(&[]).unwrap(), Some(50));
        assert_eq!(q.next_due_ms(&["g2".into()]).unwrap(), Some(100));
        let due: Vec<_> = q.due_entries(60).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].session_key, "b");
        assert_eq!(q.get("c").unwrap().status_since_ms, 5);
    }

    #[test]
    fn failures_repark_and_missing_keys_are_skipped() {
        let q = MemoryQueue::new();
        q.insert(SchedEntry::parked("a", "g", Reason::RateLimit, 100, 0));
        q.apply(
            &[
                QueueChange::RecordFailure {
                    session_key: "a".into(),
                    attempts: 2,
                    error: "429".into(),
                    retry_at_ms: 900,
                },
                QueueChange::Remove {
                    session_key: "gone".into(),
                },
            ],
            7,
        )
        .unwrap();
        let a = q.get("a").unwrap();
        assert_eq!(
            (a.attempts, a.retry_at_ms, a.last_error.as_str()),
            (2, 900, "429")
        );
        q.apply(
            &[QueueChange::Remove {
                session_key: "a".into(),
            }],
            8,
        )
        .unwrap();
        assert!(q.is_empty());
    }
}
