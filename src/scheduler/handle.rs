//! [`SchedulerHandle`]: how the engine talks to the running scheduler task.

use crate::state::coordination::GroupOutcome;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// How a held entry left the engine's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// The run id given as evidence that our resend is the run that succeeded.
    pub(crate) run_id: Option<String>,
    /// Removed by `unpark` rather than resolved: no `resolved` event.
    pub(crate) quiet: bool,
}

/// Resolutions reported but not yet processed by the scheduler task, by session key. Written
/// synchronously by [`SchedulerHandle::resolved`], so a resend that has not started yet sees
/// it and is not sent, whatever the task is doing at that moment.
#[derive(Debug, Clone, Default)]
pub(crate) struct Resolutions(Arc<Mutex<HashMap<String, Resolution>>>);

impl Resolutions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Resolution>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn insert(&self, key: &str, run_id: Option<&str>, quiet: bool) {
        let run_id = run_id.map(str::to_string);
        self.lock()
            .insert(key.to_string(), Resolution { run_id, quiet });
    }

    /// Whether `key` was resolved and the scheduler has not processed it yet.
    pub(crate) fn contains(&self, key: &str) -> bool {
        self.lock().contains_key(key)
    }

    /// Take the resolution of `key`, if it was resolved.
    pub(crate) fn take(&self, key: &str) -> Option<Resolution> {
        self.lock().remove(key)
    }
}

/// A message to the scheduler task.
#[derive(Debug)]
pub(crate) enum Command {
    Notify,
    Resolved(String),
    /// The entry was removed by the engine (unpark): forget it without any event.
    Forget(String),
    Failed {
        key: String,
        retry_at_ms: Option<i64>,
        error: String,
    },
    /// Another engine of the fleet published `outcome` for `group`.
    GroupOutcome {
        group: String,
        outcome: GroupOutcome,
    },
    Shutdown,
}

/// Controls a spawned scheduler. Every method except [`SchedulerHandle::shutdown`] is a
/// non-blocking send; after shutdown they do nothing. Dropping the handle also stops the task
/// (without waiting for it).
#[derive(Debug)]
pub struct SchedulerHandle {
    pub(crate) tx: UnboundedSender<Command>,
    /// A `Notify` is queued and not yet taken: further notifies need not queue another (a
    /// burst of parks costs the scheduler one look at the queue, not one each).
    pub(crate) notify_queued: Arc<AtomicBool>,
    pub(crate) resolutions: Resolutions,
    pub(crate) join: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl SchedulerHandle {
    /// The queue changed (an entry was parked, updated or removed): recompute the next wake.
    pub fn notify(&self) {
        if !self.notify_queued.swap(true, Ordering::SeqCst) {
            let _ = self.tx.send(Command::Notify);
        }
    }

    /// A session succeeded. Resolve always wins, in every stage: an entry that is queued for
    /// its resend is not sent, one whose resend is in flight is not re-parked whatever that
    /// send answers, one awaiting its result leaves the queue. A probe counts as good (its
    /// group is released) only on evidence from our own resend: `run_id` equal to the run id
    /// of the resend's ack or to its idempotency key; without it the group probes again with
    /// another entry. Keys the scheduler does not hold are ignored.
    pub fn resolved(&self, session_key: &str, run_id: Option<&str>) {
        self.resolutions.insert(session_key, run_id, false);
        let _ = self.tx.send(Command::Resolved(session_key.to_string()));
    }

    /// The engine removed `session_key` (unparked it): drop it from whatever stage it is in,
    /// without an event and without sending it.
    pub fn forget(&self, session_key: &str) {
        self.resolutions.insert(session_key, None, true);
        let _ = self.tx.send(Command::Forget(session_key.to_string()));
    }

    /// A session the scheduler resent failed again (resolve mode). Counts as an attempt; the
    /// entry is re-parked at `retry_at_ms` if it is in the future, else after the backoff. A
    /// probe's failure re-parks its whole group. `error` becomes `last_error` (no secrets).
    /// Keys the scheduler is not waiting on are ignored.
    pub fn failed(&self, session_key: &str, retry_at_ms: Option<i64>, error: &str) {
        let _ = self.tx.send(Command::Failed {
            key: session_key.to_string(),
            retry_at_ms,
            error: error.to_string(),
        });
    }

    /// Stop the task: in-flight resends are cancelled, every entry the scheduler holds is set
    /// back to `Parked` (same due time, so it is resent first after a restart; the resend
    /// reuses the same idempotency key), then the task ends. Returns once it has ended; a
    /// second call returns at once.
    pub async fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown);
        let join = self.join.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(join) = join {
            let _ = join.await;
        }
    }
}
