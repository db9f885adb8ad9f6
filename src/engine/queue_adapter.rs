//! Lets the scheduler drive the durable [`QueueStore`] through its [`ParkedQueue`] seam.

use crate::error::EngineResult;
use crate::queue::{EntryStatus, ParkedEntry, QueueOp, QueueStore};
use crate::scheduler::{ParkedQueue, QueueChange, SchedEntry, SchedStatus};
use std::sync::{Arc, Mutex, MutexGuard};

/// The durable store shared by the engine and the scheduler. Calls block on file I/O; the
/// scheduler makes them from blocking threads.
#[derive(Debug, Clone)]
pub struct StoreQueue {
    store: Arc<Mutex<QueueStore>>,
}

impl StoreQueue {
    /// Share `store` with the scheduler.
    pub fn new(store: Arc<Mutex<QueueStore>>) -> Self {
        Self { store }
    }

    fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Map a stored entry to the scheduler's view.
pub fn to_sched(e: &ParkedEntry) -> SchedEntry {
    SchedEntry {
        session_key: e.session_key.clone(),
        reason: e.reason,
        attempts: e.attempts,
        first_failed_at_ms: e.first_failed_at_ms,
        retry_at_ms: e.retry_at_ms,
        last_error: e.last_error.clone(),
        group: e.group.clone(),
        status: to_sched_status(e.status),
        status_since_ms: e.status_since_ms,
        meta: e.meta.clone(),
    }
}

fn to_sched_status(s: EntryStatus) -> SchedStatus {
    match s {
        EntryStatus::Parked => SchedStatus::Parked,
        EntryStatus::Probing => SchedStatus::Probing,
        EntryStatus::Released => SchedStatus::Released,
        EntryStatus::AwaitingResult => SchedStatus::AwaitingResult,
    }
}

fn to_entry_status(s: SchedStatus) -> EntryStatus {
    match s {
        SchedStatus::Parked => EntryStatus::Parked,
        SchedStatus::Probing => EntryStatus::Probing,
        SchedStatus::Released => EntryStatus::Released,
        SchedStatus::AwaitingResult => EntryStatus::AwaitingResult,
    }
}

impl ParkedQueue for StoreQueue {
    fn all_entries(&self) -> EngineResult<Vec<SchedEntry>> {
        Ok(self.lock().all()?.iter().map(to_sched).collect())
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<SchedEntry>> {
        let mut store = self.lock();
        store.refresh()?;
        let due = store
            .parked_by_due()
            .take_while(|e| e.retry_at_ms <= now_ms)
            .map(to_sched)
            .collect();
        Ok(due)
    }

    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        let mut store = self.lock();
        store.refresh()?;
        let next = store
            .parked_by_due()
            .find(|e| !skip_groups.contains(&e.group))
            .map(|e| e.retry_at_ms);
        Ok(next)
    }

    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        let mut store = self.lock();
        let mut ops = Vec::with_capacity(changes.len());
        // Later changes to the same key build on earlier ones in this batch.
        let mut pending: std::collections::HashMap<String, Option<ParkedEntry>> =
            std::collections::HashMap::new();
        for change in changes {
            let key = change.key().to_string();
            let current = match pending.get(&key) {
                Some(e) => e.clone(),
                None => store.get(&key)?,
            };
            let next = match change {
                QueueChange::Remove { .. } => None,
                QueueChange::SetStatus {
                    status,
                    retry_at_ms,
                    ..
                } => current.map(|mut e| {
                    e.status = to_entry_status(*status);
                    e.status_since_ms = now_ms;
                    if let Some(at) = retry_at_ms {
                        e.retry_at_ms = *at;
                    }
                    e
                }),
                QueueChange::RecordFailure {
                    attempts,
                    error,
                    retry_at_ms,
                    ..
                } => current.map(|mut e| {
                    e.attempts = *attempts;
                    e.last_error = error.clone();
                    e.last_failed_at_ms = now_ms;
                    e.retry_at_ms = *retry_at_ms;
                    e.status = EntryStatus::Parked;
                    e.status_since_ms = now_ms;
                    e
                }),
            };
            pending.insert(key.clone(), next.clone());
            match next {
                Some(e) => ops.push(QueueOp::Put(e)),
                None => ops.push(QueueOp::Remove(key)),
            }
        }
        store.apply(ops)
    }
}
