//! [`FileParked`]: the durable [`QueueStore`] behind the [`ParkedQueue`] seam, shared by the
//! engine and the scheduler. Writes go through the store's [`QueueWriter`] thread (group
//! commit: everything that arrives while an fsync is in flight is appended meanwhile and made
//! durable by the next one; each caller is answered only once its own bytes are durable).
//! Reads take the store's mutex, which the fsync does not hold, and return only what is
//! durable (waiting for the fsync of an append they saw, if one is in flight), except
//! [`ParkedQueue::peek`].

use super::queue::QueueStore;
use super::queue_writer::{lock, stopped, QueueWriter, Removed, Work};
use super::writer_progress::WriterProgress;
use crate::error::EngineResult;
use crate::state::entry::{sort_entries, ParkedEntry, QueueOp};
use crate::state::parked::{ParkedQueue, QueueChange, Submitted};
use crate::state::recovery::RecoveryReport;
use std::sync::{Arc, Mutex};

/// The durable park queue of a state directory as a [`ParkedQueue`]. Calls block on file
/// I/O; call them from blocking threads (except [`ParkedQueue::submit`] and
/// [`ParkedQueue::try_peek`]).
#[derive(Debug)]
pub struct FileParked {
    store: Arc<Mutex<QueueStore>>,
    progress: Arc<WriterProgress>,
    writer: QueueWriter,
}

impl FileParked {
    /// Share an opened `store`.
    pub fn new(store: QueueStore) -> Self {
        let progress = Arc::new(WriterProgress::default());
        let store = Arc::new(Mutex::new(store));
        let writer = QueueWriter::start(store.clone(), progress.clone());
        Self {
            store,
            progress,
            writer,
        }
    }

    /// Run `f` on the store once every write queued before this call is durable (so a read
    /// never overtakes a write, and never returns one still on its way to disk).
    fn durable<T>(&self, f: impl FnOnce(&mut QueueStore) -> EngineResult<T>) -> EngineResult<T> {
        self.progress.wait_for(self.writer.last_queued());
        f(&mut lock(&self.store))
    }

    /// Write `work` and wait until it is durable.
    fn write(&self, work: Work) -> Removed {
        self.writer
            .submit(work)
            .blocking_recv()
            .unwrap_or_else(|_| Err(stopped()))
    }

    /// Damaged files repaired since open (found while reading other processes' changes);
    /// drained by this call.
    pub fn take_recoveries(&self) -> Vec<RecoveryReport> {
        lock(&self.store).take_recoveries()
    }
}

impl ParkedQueue for FileParked {
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.durable(|store| store.get(session_key))
    }

    fn peek(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        lock(&self.store).peek(session_key).map(|(entry, _)| entry)
    }

    fn try_peek(&self, session_key: &str) -> Option<EngineResult<Option<ParkedEntry>>> {
        self.store.try_lock().ok()?.try_peek(session_key)
    }

    fn settle(&self) -> EngineResult<()> {
        self.durable(|_| Ok(()))
    }

    fn hold_writes(&self) -> Option<crate::state::WriteHold> {
        let hold = self.writer.hold();
        // The file lock is kept meanwhile, when it is free: the peeks of the calls made
        // together then need no locking or file checks each.
        let pinned = self.store.try_lock().is_ok_and(|mut store| store.try_pin());
        if !pinned {
            return Some(hold);
        }
        let store = self.store.clone();
        Some(hold.on_release(move || lock(&store).unpin()))
    }

    fn submit(&self, op: QueueOp) -> Result<Submitted, Box<QueueOp>> {
        let rx = self.writer.submit(Work::Ops(vec![op]));
        Ok(Box::pin(async move {
            let mut removed = rx.await.unwrap_or_else(|_| Err(stopped()))?;
            Ok(removed.pop().flatten())
        }))
    }

    fn put(&self, entry: ParkedEntry) -> EngineResult<()> {
        self.write(Work::Ops(vec![QueueOp::Put(entry)])).map(drop)
    }

    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        let mut removed = self.write(Work::Ops(vec![QueueOp::Remove(session_key.to_string())]))?;
        Ok(removed.pop().flatten())
    }

    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        self.durable(QueueStore::all)
    }

    fn unparked_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        self.durable(|store| {
            store.refresh()?;
            let mut unparked = store.unparked();
            sort_entries(&mut unparked);
            Ok(unparked)
        })
    }

    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        self.durable(|store| {
            store.refresh()?;
            let mut due: Vec<ParkedEntry> = store
                .parked_by_due()
                .take_while(|e| e.retry_at_ms() <= now_ms)
                .map(|e| e.to_entry())
                .collect();
            sort_entries(&mut due);
            Ok(due)
        })
    }

    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        self.durable(|store| {
            store.refresh()?;
            Ok(store
                .parked_by_due()
                .find(|e| !skip_groups.iter().any(|g| g == e.group()))
                .map(|e| e.retry_at_ms()))
        })
    }

    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        self.write(Work::Changes(changes.to_vec(), now_ms))
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
    fn what_the_store_wrote_before_it_was_shared_reads_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _) = QueueStore::open(QueueConfig::new(dir.path()), 1).unwrap();
        let e = ParkedEntry::new("early", crate::reason::Reason::RateLimit, 1, 2, "");
        store.put(e).unwrap();
        let q = FileParked::new(store);
        assert!(q.get("early").unwrap().is_some());
        assert_eq!(q.all_entries().unwrap().len(), 1);
        q.settle().unwrap();
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
