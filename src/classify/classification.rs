//! The result of classifying one failure.

use super::RuleId;
use crate::reason::Reason;
use serde::Serialize;

/// What the classifier concluded about one input.
///
/// Hint fields: when the provider gave a relative hint (`retry-after`, a Go duration, a text
/// "try again in 1.2s", the configured budget window), `retry_after_ms` is that delay and
/// `reset_at_ms` is `now_ms + retry_after_ms`. When the provider gave an absolute time
/// (Anthropic reset headers, an HTTP-date `retry-after`, a `…|<epoch>` suffix), `reset_at_ms` is
/// that time and `retry_after_ms` is the time left from `now_ms` (never negative). Both are
/// `None` when no hint was found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Classification {
    /// The failure reason; `None` means the input is not a failure.
    pub reason: Option<Reason>,
    /// Whether waiting and retrying the same request can succeed (`false` when `reason` is `None`).
    pub retryable: bool,
    /// The HTTP status found in the input, if any.
    pub status: Option<u16>,
    /// Milliseconds to wait from `now_ms`, if a hint was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<i64>,
    /// Absolute epoch milliseconds when the limit resets, if a hint was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_at_ms: Option<i64>,
    /// A short (at most 500 characters), secret-free summary of the failure; empty when `reason`
    /// is `None`.
    pub message: String,
    /// The id of the rule that decided `reason` (a built-in rule id such as `rate-limit` or
    /// `status-429`, `custom:<index>` for a custom pattern, `no-match` for `unknown`); `None`
    /// when `reason` is `None`. Rule ids are listed in the README's classifier section.
    pub rule: Option<RuleId>,
    /// Whether the hint is a wait relative to when the provider answered (`retry-after`
    /// seconds, `Please try again in 1.146s`, a budget window), not a wall-clock reset time.
    /// The policy adds `policy.hintMarginMs` to a relative hint and `policy.resetMarginMs` to a
    /// wall-clock one. `false` without a hint. Not serialised.
    #[serde(skip)]
    pub relative_hint: bool,
}

impl Classification {
    /// The "not a failure" result.
    pub fn not_a_failure() -> Self {
        Classification {
            reason: None,
            retryable: false,
            status: None,
            retry_after_ms: None,
            reset_at_ms: None,
            message: String::new(),
            rule: None,
            relative_hint: false,
        }
    }
}
