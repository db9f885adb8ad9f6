//! [`ParkedEntry`]: one parked session, the one entry type used end to end (engine, scheduler,
//! every backend, the queue files), and [`QueueOp`], the changes a store applies.

use crate::reason::Reason;
use serde::{Deserialize, Serialize};

/// Where a parked session is in its resume cycle. Serialised in `snake_case`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum EntryStatus {
    /// Waiting for `retry_at_ms` (default).
    #[default]
    Parked,
    /// Sent as the one probe for its group; waiting to hear whether the provider is back.
    Probing,
    /// Released for resending after a successful probe.
    Released,
    /// Resent; waiting for the run's outcome.
    AwaitingResult,
}

/// A parked session: one per session key. Serialised with camelCase field names so the queue
/// files stay readable by humans.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkedEntry {
    /// The session key (the queue's primary key). Must not be empty.
    pub session_key: String,
    /// Why the session failed last.
    pub reason: Reason,
    /// Failed attempts counted so far (1 after the first failure).
    pub attempts: u32,
    /// When the first failure of this parking happened (epoch ms).
    pub first_failed_at_ms: i64,
    /// When the latest failure happened (epoch ms).
    pub last_failed_at_ms: i64,
    /// When the session is due for a retry (epoch ms).
    pub retry_at_ms: i64,
    /// The latest error message (never a secret).
    #[serde(default)]
    pub last_error: String,
    /// Provider/budget group used by the scheduler for probes, e.g. `"openai"`; default
    /// `"default"`.
    #[serde(default = "default_group")]
    pub group: String,
    /// Where the entry is in its resume cycle; default [`EntryStatus::Parked`].
    #[serde(default)]
    pub status: EntryStatus,
    /// When `status` last changed (epoch ms).
    #[serde(default)]
    pub status_since_ms: i64,
    /// Caller metadata; default `null`.
    #[serde(default)]
    pub meta: serde_json::Value,
}

fn default_group() -> String {
    "default".to_string()
}

impl ParkedEntry {
    /// A freshly parked entry: 1 attempt, failed at `now_ms`, due at `retry_at_ms`, group
    /// `"default"`, status [`EntryStatus::Parked`], meta `null`.
    pub fn new(
        session_key: impl Into<String>,
        reason: Reason,
        now_ms: i64,
        retry_at_ms: i64,
        last_error: impl Into<String>,
    ) -> ParkedEntry {
        ParkedEntry {
            session_key: session_key.into(),
            reason,
            attempts: 1,
            first_failed_at_ms: now_ms,
            last_failed_at_ms: now_ms,
            retry_at_ms,
            last_error: last_error.into(),
            group: default_group(),
            status: EntryStatus::Parked,
            status_since_ms: now_ms,
            meta: serde_json::Value::Null,
        }
    }

    /// This entry in probe group `group` (builder form, e.g. for tests).
    pub fn in_group(mut self, group: impl Into<String>) -> ParkedEntry {
        self.group = group.into();
        self
    }
}

/// Sort entries the way snapshots and listings show them: by `retry_at_ms`, then by session
/// key.
pub fn sort_entries<E: std::borrow::Borrow<ParkedEntry>>(entries: &mut [E]) {
    entries.sort_by(|a, b| {
        let (a, b) = (a.borrow(), b.borrow());
        (a.retry_at_ms, &a.session_key).cmp(&(b.retry_at_ms, &b.session_key))
    });
}

/// One change to the queue, for [`crate::state::file::QueueStore::apply`].
#[derive(Debug, Clone, PartialEq)]
pub enum QueueOp {
    /// Insert or replace the entry under its session key.
    Put(ParkedEntry),
    /// Remove the entry under this session key (no-op if absent).
    Remove(String),
}

impl QueueOp {
    /// The session key this operation touches.
    pub fn key(&self) -> &str {
        match self {
            QueueOp::Put(e) => &e.session_key,
            QueueOp::Remove(k) => k,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_camel_case_and_reads_minimal_records() {
        let e = ParkedEntry::new("agent:main:1", Reason::Quota, 10, 20, "daily quota");
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["sessionKey"], "agent:main:1");
        assert_eq!(v["retryAtMs"], 20);
        assert_eq!(v["reason"], "quota");
        assert_eq!(v["status"], "parked");
        let minimal = r#"{"sessionKey":"k","reason":"rate_limit","attempts":2,
            "firstFailedAtMs":1,"lastFailedAtMs":2,"retryAtMs":3}"#;
        let e: ParkedEntry = serde_json::from_str(minimal).unwrap();
        assert_eq!(e.group, "default");
        assert_eq!(e.status, EntryStatus::Parked);
        assert!(e.meta.is_null());
        let awaiting = serde_json::to_value(EntryStatus::AwaitingResult).unwrap();
        assert_eq!(awaiting, "awaiting_result");
    }
}
