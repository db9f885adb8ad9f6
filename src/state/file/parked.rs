//! [`FileParked`]: the durable [`QueueStore`] behind the [`ParkedQueue`] seam, shared by the
//! engine and the scheduler.

use super::queue::QueueStore;
use crate::error::EngineResult;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::parked::{ParkedQueue, QueueChange};
use crate::state::recovery::RecoveryReport;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// The durable park queue of a state directory as a [`ParkedQueue`]. Calls block on file
/// I/O; call them from blocking threads.
#[derive(Debug)]
pub struct FileParked {
    store: Mutex<QueueStore>,
}

impl FileParked {
    /// Share an opened `store`.
    pub fn new(store: QueueStore) -> Self {
        Self {
            store: Mutex::new(store),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Damaged files repaired since open (found while reading other processes' changes);
    /// drained by this call.
    pub fn take_recoveries(&self) -> Vec<RecoveryReport> {
        self.lock().take_recoveries()
    }
}

impl ParkedQueue for FileParked {
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.lock().get(session_key)
    }

    fn put(&self, entry: ParkedEntry) -> EngineResult<()> {
        self.lock().put(entry)
    }

    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.lock().remove(session_key)
    }

    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        self.lock().all()
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        let mut store = self.lock();
        store.refresh()?;
        let due = store
            .parked_by_due()
            .take_while(|e| e.retry_at_ms <= now_ms)
            .cloned()
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
        let mut pending: HashMap<&str, Option<ParkedEntry>> = HashMap::new();
        for change in changes {
            let key = change.key();
            let current = match pending.get(key) {
                Some(e) => e.clone(),
                None => store.get(key)?,
            };
            let next = change.applied_to(current, now_ms);
            pending.insert(key, next.clone());
            match next {
                Some(e) => ops.push(QueueOp::Put(e)),
                None => ops.push(QueueOp::Remove(key.to_string())),
            }
        }
        store.apply(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::file::QueueConfig;

    #[test]
    fn passes_the_shared_parked_queue_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = QueueConfig::new(dir.path());
        cfg.max_entries = 3;
        let (store, _) = QueueStore::open(cfg, 1).unwrap();
        crate::state::conformance::parked_queue(&FileParked::new(store));
    }
}
