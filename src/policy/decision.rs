//! The input (a classified failure) and output (what to do) of the policy.

use crate::reason::Reason;
use serde::{Deserialize, Serialize};

/// A classified failure, as the engine hands it to the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    /// The reason.
    pub reason: Reason,
    /// Provider hint: wait this many ms (from `retry-after`, text, ...).
    pub retry_after_ms: Option<i64>,
    /// Provider hint: the limit resets at this epoch ms.
    pub reset_at_ms: Option<i64>,
    /// Error text, secret-free (kept as the key's last error, truncated to 1000 characters).
    pub message: String,
    /// Whether the hint is a wait counted from the provider's answer (see
    /// `Classification::relative_hint`): a park then adds `hint_margin_ms` (default 250), not
    /// `reset_margin_ms`. Default `false`.
    pub relative_hint: bool,
}

impl Failure {
    /// A failure without hints.
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            retry_after_ms: None,
            reset_at_ms: None,
            message: message.into(),
            relative_hint: false,
        }
    }

    /// The provider's hinted time (epoch ms) relative to `now_ms`: the later of
    /// `now + retry_after_ms` and `reset_at_ms`, if either is given.
    pub fn hinted_at(&self, now_ms: i64) -> Option<i64> {
        let after = self
            .retry_after_ms
            .map(|ms| now_ms.saturating_add(ms.max(0)));
        match (after, self.reset_at_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// What the caller should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Back off until `next_attempt_at_ms`, then retry; the key stays enabled.
    Retry,
    /// Parked until a budget window resets at `next_attempt_at_ms` (quota).
    Wait,
    /// Stop: the key is disabled until `disabled_until_ms` (`None` = until a success or reset).
    Disable,
}

/// The decision for one failure. Serialised in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Retry, wait or disable.
    pub action: Action,
    /// The failure's reason.
    pub reason: Reason,
    /// Failures in a row for this key, across reasons (reset by a success).
    pub consecutive_errors: u32,
    /// When the next attempt may happen (epoch ms); `None` when disabled indefinitely.
    pub next_attempt_at_ms: Option<i64>,
    /// For retry/wait: the key cools down until this epoch ms.
    pub cooldown_until_ms: Option<i64>,
    /// For disable: disabled until this epoch ms; `None` = until a success or reset.
    pub disabled_until_ms: Option<i64>,
    /// True on the first disable of this key and reason within the alert window.
    pub alert: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_takes_the_later_of_both() {
        let mut f = Failure::new(Reason::RateLimit, "429");
        assert_eq!(f.hinted_at(1_000), None);
        f.retry_after_ms = Some(500);
        assert_eq!(f.hinted_at(1_000), Some(1_500));
        f.reset_at_ms = Some(9_000);
        assert_eq!(f.hinted_at(1_000), Some(9_000));
        f.retry_after_ms = Some(20_000);
        assert_eq!(f.hinted_at(1_000), Some(21_000));
    }

    #[test]
    fn decision_serialises_camel_case() {
        let d = Decision {
            action: Action::Disable,
            reason: Reason::Billing,
            consecutive_errors: 1,
            next_attempt_at_ms: None,
            cooldown_until_ms: None,
            disabled_until_ms: None,
            alert: true,
        };
        assert_eq!(
            serde_json::to_value(&d).unwrap(),
            serde_json::json!({"action":"disable","reason":"billing","consecutiveErrors":1,
                "nextAttemptAtMs":null,"cooldownUntilMs":null,"disabledUntilMs":null,"alert":true})
        );
    }
}
