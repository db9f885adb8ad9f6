//! Keeping the decision tables (policy, breakers, message guard) in a [`DecisionStore`].
//!
//! Decisions stay synchronous and in memory; each table remembers which keys changed. After
//! `start()` a background writer wakes on every change, takes the changed keys' records and
//! writes them in one durable batch; changes made while a write is in flight go into the next
//! batch (group commit), so a burst of decisions costs one fsync per batch, not per call. A
//! failed write is kept and retried every second (`state-write-failed` event once). `close()`
//! writes what is left before returning, so a restart after `close()` keeps every decision;
//! after a crash at most the batch in flight is lost.

use super::lifecycle::run_blocking;
use crate::breaker::{BreakerRecord, BreakerRegistry, MessageGuard};
use crate::error::EngineResult;
use crate::events::{Event, EventSink};
use crate::keyed_store::{IdleSince, KeyedStore};
use crate::policy::PolicyTable;
use crate::state::{DecisionChange, DecisionRecord, DecisionState, DecisionStore, DecisionTable};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// How long a failed write waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The least time from the start of one batch write to the start of the next (20 ms): a burst
/// of decisions (16 parks in flight decide ~10k times a second) is written as a few batches a
/// second instead of one fsync after another, each taking a blocking thread and a core's share
/// of kernel time away from the parks themselves. Decisions are never acknowledged as durable
/// (they stay synchronous and in memory), so this widens only what a crash can lose: the
/// decisions of the last batch interval. `close()` does not wait for it.
const BATCH_INTERVAL: Duration = Duration::from_millis(20);

/// The engine's in-memory decision tables, shared with the writer.
pub(crate) struct Tables {
    pub policy: Mutex<PolicyTable>,
    pub breakers: Mutex<BreakerRegistry>,
    pub guard: Mutex<MessageGuard>,
    /// Woken after every change (a no-op until a writer runs).
    pub changed: Notify,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Restore `records` into `store` (oldest activity first, so the LRU order survives); with
/// `only_missing` (records loaded at `start()`), keys already present are kept and nothing
/// is marked changed; otherwise (an import) every key put is marked changed, to be written.
/// Returns how many were put.
fn restore_into<V: IdleSince + Clone>(
    store: &mut KeyedStore<V>,
    records: BTreeMap<String, V>,
    only_missing: bool,
    activity: impl Fn(&V) -> i64,
) -> usize {
    let mut recs: Vec<(String, V)> = records
        .into_iter()
        .filter(|(k, _)| !(only_missing && store.get(k).is_some()))
        .collect();
    recs.sort_by_key(|(k, r)| (activity(r), k.clone()));
    let n = recs.len();
    for (k, r) in recs {
        store.restore(&k, r);
        if !only_missing {
            store.mark_changed(&k);
        }
    }
    n
}

/// Turn change tracking on, marking every key already held (decided before `start()`).
fn track<V: IdleSince + Clone>(store: &mut KeyedStore<V>) {
    store.track_changes(true);
    for (k, _) in store.records() {
        store.mark_changed(&k);
    }
}

fn changes<V: IdleSince + Clone>(
    store: &mut KeyedStore<V>,
    table: DecisionTable,
    wrap: impl Fn(V) -> DecisionRecord,
) -> impl Iterator<Item = DecisionChange> {
    store
        .take_changes()
        .into_iter()
        .map(move |(key, r)| DecisionChange {
            table,
            key,
            record: r.map(&wrap),
        })
}

impl Tables {
    /// Run `f` on the breaker records of the breakers (`guard: false`) or of the guard.
    fn breakers<T>(&self, guard: bool, f: impl FnOnce(&mut KeyedStore<BreakerRecord>) -> T) -> T {
        if guard {
            f(locked(&self.guard).rooms().records_mut())
        } else {
            f(locked(&self.breakers).records_mut())
        }
    }

    /// Every record of every table (`exportState()`).
    pub fn export(&self) -> DecisionState {
        DecisionState {
            policy: locked(&self.policy)
                .records_mut()
                .records()
                .into_iter()
                .collect(),
            breakers: self.breakers(false, |r| r.records().into_iter().collect()),
            guard: self.breakers(true, |r| r.records().into_iter().collect()),
        }
    }

    /// Put records back (`importState()`; or `start()` with `only_missing`, where keys decided
    /// on before `start()` are newer and kept). Returns how many were put.
    pub fn restore(&self, state: DecisionState, only_missing: bool) -> usize {
        let DecisionState {
            policy,
            breakers,
            guard,
        } = state;
        let mut n = restore_into(
            locked(&self.policy).records_mut(),
            policy,
            only_missing,
            |r| r.last_failure_at_ms,
        );
        for (is_guard, records) in [(false, breakers), (true, guard)] {
            n += self.breakers(is_guard, |r| {
                restore_into(r, records, only_missing, |r| r.last_activity_ms)
            });
        }
        self.changed.notify_one();
        n
    }

    /// Turn change tracking on, marking keys decided before `start()` as changed (call it
    /// before restoring the stored records).
    fn track(&self) {
        track(locked(&self.policy).records_mut());
        self.breakers(false, track);
        self.breakers(true, track);
    }

    fn has_changes(&self) -> bool {
        locked(&self.policy).records_mut().has_changes()
            || self.breakers(false, |r| r.has_changes())
            || self.breakers(true, |r| r.has_changes())
    }

    /// The changed keys' records, as changes.
    fn take_changes(&self) -> Vec<DecisionChange> {
        let mut out: Vec<DecisionChange> = changes(
            locked(&self.policy).records_mut(),
            DecisionTable::Policy,
            DecisionRecord::Policy,
        )
        .collect();
        for (table, is_guard) in [
            (DecisionTable::Breaker, false),
            (DecisionTable::Guard, true),
        ] {
            let more: Vec<DecisionChange> = self.breakers(is_guard, |r| {
                changes(r, table, DecisionRecord::Breaker).collect()
            });
            out.extend(more);
        }
        out
    }
}

/// The running writer.
pub(crate) struct DecisionSync {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl DecisionSync {
    /// Load `store` into `tables` (keeping decisions made before `start()`), forget what went
    /// idle meanwhile (on disk too), and start the writer. Damaged files are reported through
    /// `events`.
    pub async fn start(
        tables: Arc<Tables>,
        store: Arc<dyn DecisionStore>,
        events: EventSink,
        now_ms: i64,
    ) -> EngineResult<DecisionSync> {
        let s = store.clone();
        let loaded = run_blocking(move || s.load(now_ms)).await?;
        for r in &loaded.recoveries {
            events(r.to_event());
        }
        tables.track();
        tables.restore(loaded.state, true);
        locked(&tables.policy).evict_idle(now_ms);
        locked(&tables.breakers).evict_idle(now_ms);
        locked(&tables.guard).evict_idle(now_ms);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(write_loop(tables, store, events, stop_rx));
        Ok(DecisionSync { stop, task })
    }

    /// Write what is left and stop.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn write_loop(
    tables: Arc<Tables>,
    store: Arc<dyn DecisionStore>,
    events: EventSink,
    mut stop: watch::Receiver<bool>,
) {
    let mut pending: Vec<DecisionChange> = Vec::new();
    let mut reported = false;
    let mut last_write: Option<tokio::time::Instant> = None;
    loop {
        let stopping = *stop.borrow_and_update();
        if !stopping {
            let retry = !pending.is_empty();
            tokio::select! {
                _ = tables.changed.notified() => {}
                _ = stop.changed() => {}
                _ = tokio::time::sleep(RETRY_AFTER), if retry => {}
            }
            // Coalesce a burst: the next batch starts BATCH_INTERVAL after the last one did
            // (not when the wake was the stop: close() writes what is left at once).
            let next_batch = last_write.map(|t| t + BATCH_INTERVAL);
            if let Some(at) = next_batch.filter(|_| !*stop.borrow()) {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = stop.changed() => {}
                }
            }
        }
        pending.extend(tables.take_changes());
        if !pending.is_empty() {
            last_write = Some(tokio::time::Instant::now());
            let batch = std::mem::take(&mut pending);
            let again = batch.clone();
            let s = store.clone();
            match run_blocking(move || s.write(&batch)).await {
                Ok(()) => reported = false,
                Err(e) => {
                    if !reported {
                        reported = true;
                        events(Event::StateWriteFailed {
                            code: e.code().into(),
                            message: format!("decision state not saved yet: {e}"),
                        });
                    }
                    pending = again;
                    if stopping {
                        return; // close() does not wait forever on a broken disk
                    }
                }
            }
        }
        if stopping && pending.is_empty() && !tables.has_changes() {
            return;
        }
    }
}
