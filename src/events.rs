//! Events the engine reports to the host (a JS `onEvent` callback through the binding).
//! Serialised as `{ "type": "snake_case_name", ...camelCaseFields }` (one casing for every
//! value the API returns: reasons, states, statuses, event types; field names are camelCase).
//! No event carries a secret.

use crate::reason::Reason;
use serde::Serialize;
use std::sync::Arc;

/// Something the engine did or noticed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A session was parked (or its parked entry updated).
    #[serde(rename_all = "camelCase")]
    Parked {
        /// The session key.
        session_key: String,
        /// Why it failed.
        reason: Reason,
        /// Attempts so far.
        attempts: u32,
        /// When it is due (epoch ms).
        retry_at_ms: i64,
    },
    /// A park was refused (not retryable, queue full, ...).
    #[serde(rename_all = "camelCase")]
    Rejected {
        /// The session key.
        session_key: String,
        /// Stable code: `E_NOT_RETRYABLE` (waiting cannot fix the failure), `E_QUEUE_FULL`, ...
        code: String,
        /// Human-readable explanation.
        message: String,
    },
    /// A parked session was resent.
    #[serde(rename_all = "camelCase")]
    Resent {
        /// The session key.
        session_key: String,
        /// Attempt number of this resend.
        attempts: u32,
        /// Whether it was the probe for its group.
        probe: bool,
    },
    /// A resend failed.
    #[serde(rename_all = "camelCase")]
    ResendFailed {
        /// The session key.
        session_key: String,
        /// Error text (secret-free).
        message: String,
    },
    /// A probe succeeded; the rest of its group is released.
    #[serde(rename_all = "camelCase")]
    ProbeOk {
        /// The probe's session key.
        session_key: String,
        /// The provider/budget group.
        group: String,
        /// How many entries were released.
        released: usize,
    },
    /// A probe failed; its whole group is re-parked to the next window.
    #[serde(rename_all = "camelCase")]
    ProbeFailed {
        /// The probe's session key.
        session_key: String,
        /// The provider/budget group.
        group: String,
        /// How many entries were re-parked.
        reparked: usize,
        /// Next due time (epoch ms).
        retry_at_ms: i64,
    },
    /// A parked session was dropped unsent: the gateway showed it moved on since it failed
    /// (a later user message, a successful reply, or a run in flight).
    #[serde(rename_all = "camelCase")]
    Superseded {
        /// The session key.
        session_key: String,
        /// What was seen.
        why: String,
    },
    /// A parked session completed and left the queue.
    #[serde(rename_all = "camelCase")]
    Resolved {
        /// The session key.
        session_key: String,
    },
    /// A session gave up after too many attempts.
    #[serde(rename_all = "camelCase")]
    Abandoned {
        /// The session key.
        session_key: String,
        /// Last failure reason.
        reason: Reason,
        /// Attempts made.
        attempts: u32,
        /// Last error text.
        message: String,
    },
    /// A corrupt or truncated state file was moved aside; readable entries were kept.
    #[serde(rename_all = "camelCase")]
    RecoveredCorruptFile {
        /// The file that was corrupt.
        path: String,
        /// Where it was moved.
        moved_to: String,
        /// Records kept.
        kept: usize,
        /// Records that could not be read.
        dropped: usize,
    },
    /// An old-plugin `queue.json` was imported.
    #[serde(rename_all = "camelCase")]
    Imported {
        /// The imported file.
        path: String,
        /// Entries imported.
        count: usize,
    },
    /// A circuit breaker opened.
    #[serde(rename_all = "camelCase")]
    BreakerOpened {
        /// The breaker key.
        key: String,
        /// Consecutive failures that opened it.
        failures: u32,
        /// When it goes half-open (epoch ms).
        half_open_at_ms: i64,
    },
    /// A circuit breaker went half-open (one probe allowed).
    #[serde(rename_all = "camelCase")]
    BreakerHalfOpen {
        /// The breaker key.
        key: String,
    },
    /// A circuit breaker closed.
    #[serde(rename_all = "camelCase")]
    BreakerClosed {
        /// The breaker key.
        key: String,
    },
    /// A key needs human attention (billing/auth/format...). Raised once per window.
    #[serde(rename_all = "camelCase")]
    Alert {
        /// The key (session, cron job, profile...).
        key: String,
        /// The reason.
        reason: Reason,
        /// Consecutive failures.
        consecutive_errors: u32,
        /// Error text.
        message: String,
    },
    /// A gateway connection was established.
    #[serde(rename_all = "camelCase")]
    GatewayConnected {
        /// The gateway URL (no credentials).
        url: String,
    },
    /// A gateway connection closed or failed; the client will reconnect unless terminal.
    #[serde(rename_all = "camelCase")]
    GatewayDisconnected {
        /// The WebSocket close code, if any.
        code: Option<u16>,
        /// Why (secret-free).
        message: String,
        /// Whether the client gave up (auth failure).
        terminal: bool,
    },
    /// An auth profile was cooled down or disabled.
    #[serde(rename_all = "camelCase")]
    ProfileCooldown {
        /// The profile id.
        profile_id: String,
        /// The reason.
        reason: Reason,
        /// Until when (epoch ms).
        until_ms: i64,
        /// Whether it is disabled (billing/auth) rather than cooling down.
        disabled: bool,
    },
    /// The shared state backend (Redis) cannot be reached: the engine decides locally (each
    /// engine probes for itself) until it is back. Nothing parked is affected.
    #[serde(rename_all = "camelCase")]
    StateDegraded {
        /// The backend, `"redis"`.
        backend: String,
        /// Why (secret-free; the URL's password is never shown).
        message: String,
    },
    /// The shared state backend is reachable again; outcomes learned meanwhile were published.
    #[serde(rename_all = "camelCase")]
    StateRecovered {
        /// The backend, `"redis"`.
        backend: String,
        /// How long it was degraded (ms).
        degraded_ms: i64,
        /// Group outcomes published on recovery.
        caught_up: usize,
    },
    /// Another engine of the fleet published a probe outcome for a group this engine has
    /// entries in; they were released or re-parked on it.
    #[serde(rename_all = "camelCase")]
    FleetOutcome {
        /// The provider/budget group.
        group: String,
        /// Whether the other engine's probe succeeded.
        ok: bool,
        /// Entries of this engine released (ok) or re-parked (failed).
        entries: usize,
        /// When the group is due again after a failed probe (epoch ms).
        retry_at_ms: Option<i64>,
    },
}

impl Event {
    /// Apply `f` to every free-text field (messages, paths, URLs), e.g. to scrub secrets.
    pub fn scrub_text(&mut self, mut f: impl FnMut(&mut String)) {
        match self {
            Event::Rejected { message, .. }
            | Event::ResendFailed { message, .. }
            | Event::Abandoned { message, .. }
            | Event::Alert { message, .. }
            | Event::GatewayDisconnected { message, .. }
            | Event::StateDegraded { message, .. } => f(message),
            Event::RecoveredCorruptFile { path, moved_to, .. } => {
                f(path);
                f(moved_to);
            }
            Event::Imported { path, .. } => f(path),
            Event::GatewayConnected { url } => f(url),
            Event::Superseded { why, .. } => f(why),
            Event::Parked { .. }
            | Event::Resent { .. }
            | Event::ProbeOk { .. }
            | Event::ProbeFailed { .. }
            | Event::Resolved { .. }
            | Event::BreakerOpened { .. }
            | Event::BreakerHalfOpen { .. }
            | Event::BreakerClosed { .. }
            | Event::ProfileCooldown { .. }
            | Event::StateRecovered { .. }
            | Event::FleetOutcome { .. } => {}
        }
    }
}

/// Where events go. Must not block.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A sink that drops every event (default when no callback is given).
pub fn null_sink() -> EventSink {
    Arc::new(|_| {})
}

/// A sink that records events, for tests.
#[derive(Debug, Default, Clone)]
pub struct RecordingSink(pub Arc<std::sync::Mutex<Vec<Event>>>);

impl RecordingSink {
    /// The sink to hand to the engine.
    pub fn sink(&self) -> EventSink {
        let inner = self.0.clone();
        Arc::new(move |e| inner.lock().unwrap().push(e))
    }

    /// A copy of everything recorded so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_as_tagged_camel_case() {
        let e = Event::Parked {
            session_key: "s1".into(),
            reason: Reason::Quota,
            attempts: 2,
            retry_at_ms: 5,
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"parked","sessionKey":"s1","reason":"quota","attempts":2,"retryAtMs":5})
        );
        let rec = RecordingSink::default();
        (rec.sink())(e.clone());
        assert_eq!(rec.events(), vec![e]);
    }
}
