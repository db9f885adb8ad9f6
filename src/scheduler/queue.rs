//! The seam between the scheduler and the durable park queue: [`ParkedQueue`].
//!
//! The trait is **blocking and synchronous** on purpose: the real store does fsync'd file I/O
//! under a cross-process lock. The scheduler never calls it on an async worker thread; every
//! call goes through `tokio::task::spawn_blocking` (see `store_calls.rs`). Implementations
//! therefore only need interior mutability (e.g. a `Mutex` around the store).

use crate::error::EngineResult;
use crate::reason::Reason;

/// Where a parked entry is in its resume cycle. Mirrors the store's entry status one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SchedStatus {
    /// Waiting for `retry_at_ms` (default). The only status the scheduler picks up.
    #[default]
    Parked,
    /// Sent (or about to be sent) as the one probe of its group.
    Probing,
    /// Released after a successful probe; its resend is queued or in flight.
    Released,
    /// Resent and acknowledged; waiting for `resolved`/`failed` (resolve mode only).
    AwaitingResult,
}

/// The scheduler's view of one parked session (one per session key).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedEntry {
    /// The session key (primary key).
    pub session_key: String,
    /// Why the session failed last.
    pub reason: Reason,
    /// Failed attempts so far, counting the original send (1 after the first failure).
    pub attempts: u32,
    /// When the session first failed (epoch ms); the oldest entry of a group is its probe.
    pub first_failed_at_ms: i64,
    /// When the entry is due (epoch ms).
    pub retry_at_ms: i64,
    /// The latest error text (never a secret).
    pub last_error: String,
    /// Provider/budget group: one probe per group.
    pub group: String,
    /// Resume-cycle status.
    pub status: SchedStatus,
    /// When `status` last changed (epoch ms).
    pub status_since_ms: i64,
    /// Caller metadata. A string `meta.message` is used as the resend message.
    pub meta: serde_json::Value,
}

impl SchedEntry {
    /// A freshly parked entry: 1 attempt, first failed at `now_ms`, status
    /// [`SchedStatus::Parked`], empty error, meta `null`.
    pub fn parked(
        session_key: impl Into<String>,
        group: impl Into<String>,
        reason: Reason,
        retry_at_ms: i64,
        now_ms: i64,
    ) -> SchedEntry {
        SchedEntry {
            session_key: session_key.into(),
            reason,
            attempts: 1,
            first_failed_at_ms: now_ms,
            retry_at_ms,
            last_error: String::new(),
            group: group.into(),
            status: SchedStatus::Parked,
            status_since_ms: now_ms,
            meta: serde_json::Value::Null,
        }
    }
}

/// One change the scheduler makes to the queue. Changes to keys that are no longer in the
/// queue (the engine removed them meanwhile) must be skipped silently, not reported as errors.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueChange {
    /// Set `status` (and `status_since_ms = now`); when `retry_at_ms` is `Some`, also set it.
    SetStatus {
        /// The session key.
        session_key: String,
        /// The new status.
        status: SchedStatus,
        /// The new due time, if it changes.
        retry_at_ms: Option<i64>,
    },
    /// A resend attempt failed: set `attempts`, `last_error`, the last failure time to now,
    /// status [`SchedStatus::Parked`] and the new `retry_at_ms`.
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
}

/// The park queue as the scheduler needs it. All calls block (see the module docs).
///
/// Maps onto a store keyed by session key with the fields of [`SchedEntry`]; `apply` should be
/// one durable write (group commit) for the whole slice.
pub trait ParkedQueue: Send + Sync + 'static {
    /// Every entry, any status (used once at spawn to recover interrupted work).
    fn all_entries(&self) -> EngineResult<Vec<SchedEntry>>;
    /// Entries with status [`SchedStatus::Parked`] and `retry_at_ms <= now_ms`.
    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<SchedEntry>>;
    /// The earliest `retry_at_ms` among [`SchedStatus::Parked`] entries whose group is not in
    /// `skip_groups` (groups with a probe in flight), or `None` when there is none.
    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>>;
    /// Apply `changes` in order, atomically if possible; `now_ms` stamps status/failure times.
    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()>;
}
