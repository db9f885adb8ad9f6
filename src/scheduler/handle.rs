//! [`SchedulerHandle`]: how the engine talks to the running scheduler task.

use crate::state::coordination::GroupOutcome;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// A message to the scheduler task.
#[derive(Debug)]
pub(crate) enum Command {
    Notify,
    Resolved(String),
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
    pub(crate) join: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl SchedulerHandle {
    /// The queue changed (an entry was parked, updated or removed): recompute the next wake.
    pub fn notify(&self) {
        let _ = self.tx.send(Command::Notify);
    }

    /// A session the scheduler resent has succeeded. Confirms a probe in
    /// `ProbeConfirm::Resolve` mode and removes an `AwaitingResult` entry. Keys the scheduler
    /// is not waiting on are ignored (the engine removes those itself).
    pub fn resolved(&self, session_key: &str) {
        let _ = self.tx.send(Command::Resolved(session_key.to_string()));
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
