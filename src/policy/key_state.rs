//! What the policy remembers about one key, and the serialisable view of it.

use crate::keyed_store::IdleSince;
use crate::reason::Reason;
use serde::{Deserialize, Serialize};

/// Longest error text kept per key, in characters.
pub const MAX_ERROR_CHARS: usize = 1_000;

/// What the policy remembers about one key: the record persisted in the decision state
/// (`crate::state::DecisionStore`) and exported by `exportState()`. Times are epoch ms, so a
/// restored record is judged against the wall clock. Serialised in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// Failures in a row across reasons.
    pub consecutive_errors: u32,
    /// Failures in a row of `last_reason`.
    pub reason_streak: u32,
    /// Disables in a row (doubles the disable span).
    pub disables_in_row: u32,
    /// The reason of the last failure.
    pub last_reason: Option<Reason>,
    /// The last error text (truncated to 1000 characters).
    pub last_error: String,
    /// When the last failure was recorded.
    pub last_failure_at_ms: i64,
    /// When the next attempt may happen.
    pub next_attempt_at_ms: Option<i64>,
    /// End of the current backoff or park.
    pub cooldown_until_ms: Option<i64>,
    /// Whether the key is disabled.
    pub disabled: bool,
    /// End of the current disable; `None` with `disabled` = until a success or reset.
    pub disabled_until_ms: Option<i64>,
    /// The last alert raised (reason, epoch ms): "one alert per window" survives restarts.
    pub last_alert: Option<(Reason, i64)>,
}

impl KeyRecord {
    /// A record with no failures, last active at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        Self {
            consecutive_errors: 0,
            reason_streak: 0,
            disables_in_row: 0,
            last_reason: None,
            last_error: String::new(),
            last_failure_at_ms: now_ms,
            next_attempt_at_ms: None,
            cooldown_until_ms: None,
            disabled: false,
            disabled_until_ms: None,
            last_alert: None,
        }
    }

    /// Forget the failure streak (a success); the alert memory stays so a flapping key still
    /// alerts at most once per window.
    pub(crate) fn clear_streak(&mut self) {
        let last_alert = self.last_alert;
        *self = Self::new(self.last_failure_at_ms);
        self.last_alert = last_alert;
    }

    /// The public view at `now_ms`, `None` without a failure streak.
    pub fn view(&self, now_ms: i64) -> Option<KeyState> {
        let reason = self.last_reason?;
        if self.consecutive_errors == 0 {
            return None;
        }
        let disabled = self.disabled && self.disabled_until_ms.is_none_or(|t| t > now_ms);
        let cooling_down = !self.disabled && self.cooldown_until_ms.is_some_and(|t| t > now_ms);
        Some(KeyState {
            last_error_reason: reason,
            consecutive_errors: self.consecutive_errors,
            consecutive_reason_errors: self.reason_streak,
            next_attempt_at_ms: self.next_attempt_at_ms,
            cooldown_until_ms: self.cooldown_until_ms,
            disabled_until_ms: self.disabled_until_ms,
            disabled,
            cooling_down,
            last_error: self.last_error.clone(),
            last_failure_at_ms: self.last_failure_at_ms,
            last_alert_at_ms: self.last_alert.map(|(_, at)| at),
        })
    }
}

impl IdleSince for KeyRecord {
    /// Idle from the last failure, or from the end of a cooldown/timed disable still pending.
    fn idle_since_ms(&self) -> i64 {
        let pending = if self.disabled {
            self.disabled_until_ms
        } else {
            self.cooldown_until_ms
        };
        pending.map_or(self.last_failure_at_ms, |t| t.max(self.last_failure_at_ms))
    }
}

/// A key's current policy state (for `state()`, UIs and `cron.list`-style listings).
/// Serialised in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyState {
    /// The reason of the last failure.
    pub last_error_reason: Reason,
    /// Failures in a row, across reasons.
    pub consecutive_errors: u32,
    /// Failures in a row with the last reason (what the stop threshold counts).
    pub consecutive_reason_errors: u32,
    /// When the next attempt may happen (epoch ms); `None` when disabled indefinitely.
    pub next_attempt_at_ms: Option<i64>,
    /// End of the current backoff or park (epoch ms).
    pub cooldown_until_ms: Option<i64>,
    /// End of the current disable (epoch ms); `None` with `disabled` = indefinitely.
    pub disabled_until_ms: Option<i64>,
    /// Whether the key is disabled at the queried time.
    pub disabled: bool,
    /// Whether the key is backing off or parked at the queried time.
    pub cooling_down: bool,
    /// The last error text (truncated to 1000 characters).
    pub last_error: String,
    /// When the last failure was recorded (epoch ms).
    pub last_failure_at_ms: i64,
    /// When the last alert was raised for this key (epoch ms).
    pub last_alert_at_ms: Option<i64>,
}

/// `text` cut to at most [`MAX_ERROR_CHARS`] characters.
pub(crate) fn truncate_error(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((i, _)) => text[..i].to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_char_boundaries() {
        let long = "é".repeat(MAX_ERROR_CHARS + 5);
        assert_eq!(truncate_error(&long).chars().count(), MAX_ERROR_CHARS);
        assert_eq!(truncate_error("short"), "short");
    }

    #[test]
    fn idle_counts_from_pending_cooldown() {
        let mut r = KeyRecord::new(100);
        assert_eq!(r.idle_since_ms(), 100);
        r.cooldown_until_ms = Some(5_000);
        assert_eq!(r.idle_since_ms(), 5_000);
        r.disabled = true;
        r.disabled_until_ms = None;
        assert_eq!(r.idle_since_ms(), 100);
        assert!(r.view(0).is_none(), "no failure recorded yet");
    }
}
