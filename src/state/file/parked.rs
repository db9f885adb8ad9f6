//! [`FileParked`]: the durable [`QueueStore`] behind the [`ParkedQueue`] seam, shared by the
//! engine and the scheduler, with group commit: writes that arrive while another thread's
//! fsync is in flight wait for it, then go to disk together in one append and one fsync
//! (the first of them leads); each caller returns only once its own bytes are durable, with
//! its own result.

use super::queue::QueueStore;
use crate::error::EngineError;
use crate::error::EngineResult;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::parked::{ParkedQueue, QueueChange};
use crate::state::recovery::RecoveryReport;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

type Removed = EngineResult<Vec<Option<ParkedEntry>>>;

/// Writes waiting for the next group commit, and the results of those already done.
#[derive(Debug, Default)]
struct Waiting {
    next_ticket: u64,
    queued: Vec<(u64, Vec<QueueOp>)>,
    done: HashMap<u64, Removed>,
}

/// The durable park queue of a state directory as a [`ParkedQueue`]. Calls block on file
/// I/O; call them from blocking threads.
#[derive(Debug)]
pub struct FileParked {
    store: Mutex<QueueStore>,
    waiting: Mutex<Waiting>,
}

impl FileParked {
    /// Share an opened `store`.
    pub fn new(store: QueueStore) -> Self {
        Self {
            store: Mutex::new(store),
            waiting: Mutex::new(Waiting::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueStore> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waiting(&self) -> MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enqueue(&self, ops: Vec<QueueOp>) -> u64 {
        let mut w = self.waiting();
        let ticket = w.next_ticket;
        w.next_ticket += 1;
        w.queued.push((ticket, ops));
        ticket
    }

    /// Write `ops` with whatever else is waiting, in one group commit.
    fn write(&self, ops: Vec<QueueOp>) -> Removed {
        let ticket = self.enqueue(ops);
        // Whoever holds the store is the leader of the group in flight; by the time it is
        // ours, a leader may already have written (and answered) our ops.
        let mut store = self.lock();
        self.finish(&mut store, ticket)
    }

    /// Commit everything waiting unless `ticket` was done already; `ticket`'s result.
    fn finish(&self, store: &mut QueueStore, ticket: u64) -> Removed {
        let queued = {
            let mut w = self.waiting();
            if let Some(r) = w.done.remove(&ticket) {
                return r;
            }
            std::mem::take(&mut w.queued)
        };
        let (tickets, groups): (Vec<u64>, Vec<Vec<QueueOp>>) = queued.into_iter().unzip();
        let results = store.commit_group(groups);
        let mut w = self.waiting();
        for (t, r) in tickets.into_iter().zip(results) {
            w.done.insert(t, r);
        }
        w.done.remove(&ticket).unwrap_or_else(|| {
            Err(EngineError::io(
                "park queue",
                std::io::Error::other("a group commit lost a write"),
            ))
        })
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
        self.write(vec![QueueOp::Put(entry)]).map(drop)
    }

    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        let mut removed = self.write(vec![QueueOp::Remove(session_key.to_string())])?;
        Ok(removed.pop().flatten())
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
        // read and written under one hold of the store, together with what else is waiting
        let ticket = self.enqueue(ops);
        self.finish(&mut store, ticket).map(drop)
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
