//! The parked-entries seam: [`ParkedQueue`], the store of [`ParkedEntry`]s that the engine
//! parks into and the scheduler resumes from, and [`QueueChange`], the changes the scheduler
//! makes.
//!
//! The trait is **blocking and synchronous** on purpose: the embedded store does fsync'd file
//! I/O under a cross-process lock. The scheduler never calls it on an async worker thread; every
//! call goes through `tokio::task::spawn_blocking`. Implementations therefore only need
//! interior mutability (e.g. a `Mutex` around the store). Backends: the durable file store
//! ([`crate::state::file::FileParked`], the default) and [`crate::state::memory::MemoryQueue`]
//! for tests. The parked queue always stays local to one engine (shared backends coordinate
//! decisions, not entries).

use super::entry::{EntryStatus, ParkedEntry, QueueOp};
use crate::error::EngineResult;
use std::future::Future;
use std::pin::Pin;

/// A write started by [`ParkedQueue::submit`]: answers once durable, with the removed entry.
pub type Submitted = Pin<Box<dyn Future<Output = EngineResult<Option<ParkedEntry>>> + Send>>;

/// One change the scheduler makes to the queue. Changes to keys that are no longer in the
/// queue (the engine removed them meanwhile) must be skipped silently, not reported as errors.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueChange {
    /// Set `status` (and `status_since_ms = now`); when `retry_at_ms` is `Some`, also set it.
    SetStatus {
        /// The session key.
        session_key: String,
        /// The new status.
        status: EntryStatus,
        /// The new due time, if it changes.
        retry_at_ms: Option<i64>,
    },
    /// A resend attempt failed: set `attempts`, `last_error`, the last failure time to now,
    /// status [`EntryStatus::Parked`] and the new `retry_at_ms`.
    RecordFailure {
        /// The session key.
        session_key: String,
        /// The new total of failed attempts.
        attempts: u32,
        /// The failure text (secret-free).
        error: String,
        /// When it is due again (epoch ms).
        retry_at_ms: i64,
    },
    /// Remove the entry (resolved or abandoned).
    Remove {
        /// The session key.
        session_key: String,
    },
}

impl QueueChange {
    /// The session key this change touches.
    pub fn key(&self) -> &str {
        match self {
            QueueChange::SetStatus { session_key, .. }
            | QueueChange::RecordFailure { session_key, .. }
            | QueueChange::Remove { session_key } => session_key,
        }
    }

    /// The entry after this change at `now_ms`: `None` when it removes the entry (or the entry
    /// is already gone). Every backend applies changes through this one function.
    pub fn applied_to(&self, current: Option<ParkedEntry>, now_ms: i64) -> Option<ParkedEntry> {
        let mut e = current?;
        match self {
            QueueChange::Remove { .. } => return None,
            QueueChange::SetStatus {
                status,
                retry_at_ms,
                ..
            } => {
                e.status = *status;
                if let Some(at) = retry_at_ms {
                    e.retry_at_ms = *at;
                }
            }
            QueueChange::RecordFailure {
                attempts,
                error,
                retry_at_ms,
                ..
            } => {
                e.attempts = *attempts;
                e.last_error.clone_from(error);
                e.last_failed_at_ms = now_ms;
                e.retry_at_ms = *retry_at_ms;
                e.status = EntryStatus::Parked;
            }
        }
        e.status_since_ms = now_ms;
        Some(e)
    }
}

/// The park queue as the engine and the scheduler need it. All calls block (see the module
/// docs). One [`ParkedEntry`] per session key.
pub trait ParkedQueue: Send + Sync + 'static {
    /// The entry under `session_key`, after reading other processes' changes.
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>>;
    /// Like [`ParkedQueue::get`], but without waiting for an fsync in flight: the answer may
    /// include another caller's change that is not durable yet (that caller is acknowledged
    /// only once it is). For a read-modify-write: any write made after it is durable only
    /// together with what it saw; call [`ParkedQueue::settle`] before acting on the answer
    /// without writing. Default: [`ParkedQueue::get`].
    fn peek(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.get(session_key)
    }
    /// [`ParkedQueue::peek`] without blocking (callable on an async worker thread): `None`
    /// when it would have to wait (for the store, or another process's file lock). Default:
    /// `None`.
    fn try_peek(&self, session_key: &str) -> Option<EngineResult<Option<ParkedEntry>>> {
        let _ = session_key;
        None
    }
    /// Start writing `op` without blocking (callable on an async worker thread): the future
    /// answers once it is durable, with the entry a remove removed. The op comes back when the
    /// backend has no background writer (then call [`ParkedQueue::put`] or
    /// [`ParkedQueue::remove`] on a blocking thread). Default: it comes back.
    fn submit(&self, op: QueueOp) -> Result<Submitted, Box<QueueOp>> {
        Err(Box::new(op))
    }
    /// Ask the background writer (if any) to start its next round only once the hold is
    /// dropped (or after a couple of milliseconds at most): writes submitted meanwhile, by
    /// calls made together, are then written and fsynced as one round. Default: `None` (no
    /// background writer).
    fn hold_writes(&self) -> Option<crate::state::WriteHold> {
        None
    }
    /// Wait until every change made so far is durable (after a [`ParkedQueue::peek`] that is
    /// not followed by a write). Default: nothing to wait for.
    fn settle(&self) -> EngineResult<()> {
        Ok(())
    }
    /// Park or replace `entry` under its session key; durable on return. A new key past the
    /// store's cap fails with `EngineError::QueueFull` and evicts nothing.
    fn put(&self, entry: ParkedEntry) -> EngineResult<()>;
    /// Remove the entry under `session_key`; durable on return. Returns the removed entry.
    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>>;
    /// Every entry, any status, sorted by `retry_at_ms` then session key.
    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>>;
    /// Entries whose status is not [`EntryStatus::Parked`] (left mid-cycle by an earlier run;
    /// what the scheduler recovers at start), sorted like [`ParkedQueue::all_entries`].
    /// Default: [`ParkedQueue::all_entries`] filtered; backends that can answer without
    /// copying every entry should (the answer is usually empty, and the queue large).
    fn unparked_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        let mut all = self.all_entries()?;
        all.retain(|e| e.status != EntryStatus::Parked);
        Ok(all)
    }
    /// Entries with status [`EntryStatus::Parked`] and `retry_at_ms <= now_ms`, earliest first.
    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>>;
    /// The earliest `retry_at_ms` among [`EntryStatus::Parked`] entries whose group is not in
    /// `skip_groups` (groups with a probe in flight), or `None` when there is none.
    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>>;
    /// Apply `changes` in order with one durable write (group commit); `now_ms` stamps
    /// status/failure times.
    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()>;
}
