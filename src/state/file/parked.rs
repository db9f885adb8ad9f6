//! [`FileParked`]: the durable [`QueueStore`] behind the [`ParkedQueue`] seam, shared by the
//! engine and the scheduler, with group commit: each call prepares and appends its change
//! under the store's mutex, then waits for an fsync that started after its append
//! ([`GroupSync`]); the fsync runs outside the mutex, so calls arriving while one is in flight
//! append meanwhile and the next fsync makes them all durable at once. Each caller returns
//! only once its own bytes are durable, with its own result; reads return only what is
//! durable (they wait for the fsync of an append they saw, if one is in flight), except
//! [`ParkedQueue::peek`].

use super::group_sync::{GroupSync, Ticket};
use super::queue::QueueStore;
use crate::error::EngineResult;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::parked::{ParkedQueue, QueueChange};
use crate::state::recovery::RecoveryReport;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

type Removed = EngineResult<Vec<Option<ParkedEntry>>>;

/// The durable park queue of a state directory as a [`ParkedQueue`]. Calls block on file
/// I/O; call them from blocking threads.
#[derive(Debug)]
pub struct FileParked {
    store: Mutex<QueueStore>,
    sync: GroupSync,
}

impl FileParked {
    /// Share an opened `store`.
    pub fn new(store: QueueStore) -> Self {
        Self {
            store: Mutex::new(store),
            sync: GroupSync::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `f` on the store, then wait until what it wrote or saw is durable.
    fn durable<T>(&self, f: impl FnOnce(&mut QueueStore) -> EngineResult<T>) -> EngineResult<T> {
        let (r, ticket) = {
            let mut store = self.lock();
            let r = f(&mut store);
            (r, self.sync.expect(store.last_append()))
        };
        self.settle_ticket(ticket)?;
        r
    }

    /// Wait for `ticket`, leading an fsync round when none is running.
    fn settle_ticket(&self, ticket: Ticket) -> EngineResult<()> {
        self.sync.wait(ticket, || {
            let (upto, journal) = self.lock().sync_target();
            let r = journal.sync_data();
            self.lock().synced(upto, r)
        })
    }

    /// Append the ops `prepare` makes from the store (under its mutex and the file lock),
    /// then wait until they are durable.
    fn write(&self, prepare: impl FnOnce(&QueueStore) -> EngineResult<Vec<QueueOp>>) -> Removed {
        self.durable(|store| store.write_prepared(prepare).0)
    }

    /// Damaged files repaired since open (found while reading other processes' changes);
    /// drained by this call.
    pub fn take_recoveries(&self) -> Vec<RecoveryReport> {
        self.lock().take_recoveries()
    }
}

impl ParkedQueue for FileParked {
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.durable(|store| store.get(session_key))
    }

    fn peek(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.lock().peek(session_key).map(|(entry, _)| entry)
    }

    fn settle(&self) -> EngineResult<()> {
        self.durable(|_| Ok(()))
    }

    fn put(&self, entry: ParkedEntry) -> EngineResult<()> {
        self.write(|_| Ok(vec![QueueOp::Put(entry)])).map(drop)
    }

    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        let mut removed = self.write(|_| Ok(vec![QueueOp::Remove(session_key.to_string())]))?;
        Ok(removed.pop().flatten())
    }

    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        self.durable(QueueStore::all)
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        self.durable(|store| {
            store.refresh()?;
            Ok(store
                .parked_by_due()
                .take_while(|e| e.retry_at_ms <= now_ms)
                .cloned()
                .collect())
        })
    }

    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        self.durable(|store| {
            store.refresh()?;
            Ok(store
                .parked_by_due()
                .find(|e| !skip_groups.contains(&e.group))
                .map(|e| e.retry_at_ms))
        })
    }

    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        // read and written under one hold of the store
        self.write(|store| {
            let mut ops = Vec::with_capacity(changes.len());
            // Later changes to the same key build on earlier ones in this batch.
            let mut pending: HashMap<&str, Option<ParkedEntry>> = HashMap::new();
            for change in changes {
                let key = change.key();
                let current = match pending.get(key) {
                    Some(e) => e.clone(),
                    None => store.current(key).cloned(),
                };
                let next = change.applied_to(current, now_ms);
                pending.insert(key, next.clone());
                match next {
                    Some(e) => ops.push(QueueOp::Put(e)),
                    None => ops.push(QueueOp::Remove(key.to_string())),
                }
            }
            Ok(ops)
        })
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EngineError;
    use crate::state::file::QueueConfig;

    #[test]
    fn passes_the_shared_parked_queue_suite() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = QueueConfig::new(dir.path());
        cfg.max_entries = 3;
        let (store, _) = QueueStore::open(cfg, 1).unwrap();
        crate::state::conformance::parked_queue(&FileParked::new(store));
    }

    #[test]
    fn concurrent_writers_share_fsyncs_and_each_gets_its_own_result() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = QueueConfig::new(dir.path());
        cfg.max_entries = 150;
        let (store, _) = QueueStore::open(cfg, 1).unwrap();
        let q = std::sync::Arc::new(FileParked::new(store));
        let threads: Vec<_> = (0..16)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut full = 0;
                    for i in 0..20 {
                        let e = ParkedEntry::new(
                            format!("t{t}-{i}"),
                            crate::reason::Reason::RateLimit,
                            1,
                            2,
                            "",
                        );
                        match q.put(e) {
                            Ok(()) => {}
                            Err(EngineError::QueueFull { cap: 150 }) => full += 1,
                            Err(e) => panic!("{e}"),
                        }
                    }
                    full
                })
            })
            .collect();
        let full: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(
            full,
            16 * 20 - 150,
            "exactly the puts past the cap were refused"
        );
        assert_eq!(q.all_entries().unwrap().len(), 150);
        drop(q);
        let (mut reopened, _) = QueueStore::open(QueueConfig::new(dir.path()), 2).unwrap();
        assert_eq!(
            reopened.all().unwrap().len(),
            150,
            "every acknowledged put is on disk"
        );
    }
}
