//! [`QueueWriter`]: the one thread that writes a [`QueueStore`], with group commit. Writes
//! queue up as requests; the thread takes every request waiting, prepares and appends each
//! under the store's mutex (in order, each seeing the ones before it), then fsyncs once
//! *outside* the mutex and answers each request. Requests that arrive during that fsync are
//! appended and fsynced together in the next round, and reads of the store are not held up by
//! the fsync. Each request is answered only once its own bytes are durable.

use super::queue::QueueStore;
use super::writer_progress::WriterProgress;
use crate::error::{EngineError, EngineResult};
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::parked::QueueChange;
use crate::state::write_hold::{Holds, WriteHold};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::oneshot;

/// What a write answers: the entries its ops removed (one slot per op), or why it failed.
pub(crate) type Removed = EngineResult<Vec<Option<ParkedEntry>>>;

/// One write.
#[derive(Debug)]
pub(crate) enum Work {
    /// These ops, all or nothing against the cap.
    Ops(Vec<QueueOp>),
    /// The scheduler's changes, applied to the entries as they are when the write is made,
    /// at `now_ms`.
    Changes(Vec<QueueChange>, i64),
}

struct Request {
    /// Requests are numbered from 1 in the order they are queued.
    number: u64,
    work: Work,
    reply: oneshot::Sender<Removed>,
}

/// The sending side: numbers each request under the lock it is sent with, so the numbers
/// reach the thread in order.
#[derive(Debug)]
struct Queue {
    tx: Option<mpsc::Sender<Request>>,
    last: u64,
}

/// Lock the store, surviving a panicked holder.
pub(crate) fn lock(store: &Mutex<QueueStore>) -> MutexGuard<'_, QueueStore> {
    store.lock().unwrap_or_else(|e| e.into_inner())
}

/// The writer thread of one store (see the module docs); stops when dropped, after the
/// requests already queued.
#[derive(Debug)]
pub(crate) struct QueueWriter {
    queue: Mutex<Queue>,
    holds: Arc<Holds>,
    thread: Option<JoinHandle<()>>,
}

impl QueueWriter {
    /// Start the writer of `store`, reporting to `progress` after each round up to which
    /// request number everything is answered.
    pub(crate) fn start(store: Arc<Mutex<QueueStore>>, progress: Arc<WriterProgress>) -> Self {
        let (tx, rx) = mpsc::channel();
        let holds = Arc::new(Holds::default());
        let thread_holds = holds.clone();
        let thread = std::thread::Builder::new()
            .name("retry-queue-writer".into())
            .spawn(move || run(&store, &progress, &thread_holds, &rx))
            .ok();
        QueueWriter {
            queue: Mutex::new(Queue {
                tx: thread.as_ref().map(|_| tx),
                last: 0,
            }),
            holds,
            thread,
        }
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queue `work`; the receiver answers once it is durable.
    pub(crate) fn submit(&self, work: Work) -> oneshot::Receiver<Removed> {
        let (reply, rx) = oneshot::channel();
        let mut q = self.queue();
        let number = q.last + 1;
        let request = Request {
            number,
            work,
            reply,
        };
        let sent = match &q.tx {
            Some(tx) => tx.send(request).map_err(|mpsc::SendError(r)| r),
            None => Err(request),
        };
        match sent {
            Ok(()) => q.last = number,
            Err(request) => {
                let _ = request.reply.send(Err(stopped()));
            }
        }
        rx
    }

    /// Hold the next round until the hold is dropped (at most [`MAX_HOLD`]); see
    /// [`crate::state::ParkedQueue::hold_writes`].
    pub(crate) fn hold(&self) -> WriteHold {
        self.holds.hold()
    }

    /// The number of the last request queued: a read waits for it (reads never overtake a
    /// write queued before them).
    pub(crate) fn last_queued(&self) -> u64 {
        self.queue().last
    }
}

impl Drop for QueueWriter {
    fn drop(&mut self) {
        self.queue().tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The error of a write whose answer was lost (the writer thread is gone).
pub(crate) fn stopped() -> EngineError {
    EngineError::io(
        "park queue",
        std::io::Error::other("the queue writer thread stopped"),
    )
}

/// Most requests taken into one round (a bound on one round's latency).
const MAX_ROUND: usize = 4096;

/// The longest a round waits for holds to go (a bound on the delay a hold can add).
pub(crate) const MAX_HOLD: Duration = Duration::from_millis(2);

fn run(
    store: &Mutex<QueueStore>,
    progress: &WriterProgress,
    holds: &Holds,
    rx: &mpsc::Receiver<Request>,
) {
    while let Ok(first) = rx.recv() {
        holds.wait_released(MAX_HOLD);
        let mut round = vec![first];
        while round.len() < MAX_ROUND {
            match rx.try_recv() {
                Ok(r) => round.push(r),
                Err(_) => break,
            }
        }
        let (results, upto, journal) = {
            let mut st = lock(store);
            let results = write_round(&mut st, &mut round);
            let (upto, journal) = st.sync_target();
            (results, upto, journal)
        };
        let outcome = if lock(store).is_durable(upto) {
            Ok(())
        } else {
            let r = journal.sync_data();
            lock(store).synced(upto, r).1
        };
        let answered = round.last().map_or(0, |r| r.number);
        for (request, result) in round.into_iter().zip(results) {
            let answer = match &outcome {
                Ok(()) => result,
                Err(e) => Err(e.copy()),
            };
            let _ = request.reply.send(answer);
        }
        progress.done(answered);
    }
}

/// Append the work of `round`, in order: each run of plain op batches with one write, each
/// batch of scheduler changes prepared against the entries as they are by then. One result
/// per request.
fn write_round(st: &mut QueueStore, round: &mut [Request]) -> Vec<Removed> {
    let mut results = Vec::with_capacity(round.len());
    let mut groups = Vec::new();
    for request in round.iter_mut() {
        match std::mem::replace(&mut request.work, Work::Ops(Vec::new())) {
            Work::Ops(ops) => groups.push(ops),
            changes @ Work::Changes(..) => {
                if !groups.is_empty() {
                    results.extend(st.write_groups(std::mem::take(&mut groups)).0);
                }
                results.push(st.write_prepared(|st| Ok(prepare(st, changes))).0);
            }
        }
    }
    if !groups.is_empty() {
        results.extend(st.write_groups(groups).0);
    }
    results
}

/// The ops of `work` against the store's entries now.
fn prepare(store: &QueueStore, work: Work) -> Vec<QueueOp> {
    let (changes, now_ms) = match work {
        Work::Ops(ops) => return ops,
        Work::Changes(changes, now_ms) => (changes, now_ms),
    };
    let mut ops = Vec::with_capacity(changes.len());
    // Later changes to the same key build on earlier ones in this batch.
    let mut pending: HashMap<&str, Option<ParkedEntry>> = HashMap::new();
    for change in &changes {
        let key = change.key();
        let current = match pending.get(key) {
            Some(e) => e.clone(),
            None => store.current(key),
        };
        let next = change.applied_to(current, now_ms);
        pending.insert(key, next.clone());
        match next {
            Some(e) => ops.push(QueueOp::Put(e)),
            None => ops.push(QueueOp::Remove(key.to_string())),
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;
    use crate::state::entry::EntryStatus;
    use crate::state::file::QueueConfig;

    fn request(number: u64, work: Work) -> Request {
        Request {
            number,
            work,
            reply: oneshot::channel().0,
        }
    }

    fn put(key: &str) -> Work {
        Work::Ops(vec![QueueOp::Put(ParkedEntry::new(
            key,
            Reason::RateLimit,
            1,
            2,
            "",
        ))])
    }

    #[test]
    fn a_round_applies_its_requests_in_order_with_each_result_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = QueueConfig::new(dir.path());
        cfg.max_entries = 2;
        let (mut store, _) = QueueStore::open(cfg, 1).unwrap();
        let probing = QueueChange::SetStatus {
            session_key: "a".into(),
            status: EntryStatus::Probing,
            retry_at_ms: Some(7),
        };
        let mut round: Vec<Request> = vec![
            put("a"),
            // sees the put just before it, in the same round
            Work::Changes(vec![probing], 5),
            put("b"),
            // over the cap of 2: refused alone
            put("c"),
            Work::Ops(vec![QueueOp::Remove("a".into())]),
            // room again after the remove before it
            put("c"),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, w)| request(i as u64 + 1, w))
        .collect();
        let results = write_round(&mut store, &mut round);
        let ok: Vec<bool> = results.iter().map(Result::is_ok).collect();
        assert_eq!(ok, [true, true, true, false, true, true]);
        assert!(matches!(results[3], Err(EngineError::QueueFull { cap: 2 })));
        let removed = results[4].as_ref().unwrap()[0].as_ref().unwrap();
        assert_eq!(
            (removed.status, removed.retry_at_ms),
            (EntryStatus::Probing, 7),
            "the remove took the entry the change before it made"
        );
        let (upto, journal) = store.sync_target();
        let synced = journal.sync_data();
        store.synced(upto, synced).1.unwrap();
        let keys: Vec<String> = store
            .all()
            .unwrap()
            .into_iter()
            .map(|e| e.session_key)
            .collect();
        assert_eq!(keys.len(), 2);
        assert!(keys.contains(&"b".to_string()) && keys.contains(&"c".to_string()));
    }
}
