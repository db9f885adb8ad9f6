//! The pub/sub message announcing a group's probe outcome, and the hash fields it is stored as.

use crate::state::coordination::GroupOutcome;
use serde::{Deserialize, Serialize};

/// `{"by", "group", "outcome": "ok"|"failed", "atMs", "retryAtMs"}` on the outcomes channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OutcomeMessage {
    /// Engine id of the prober (listeners skip their own messages).
    pub by: String,
    /// The provider/budget group.
    pub group: String,
    /// `ok` or `failed`.
    pub outcome: String,
    /// When it was learned (epoch ms).
    pub at_ms: i64,
    /// When to probe again after a failure (epoch ms; 0 for `ok`).
    pub retry_at_ms: i64,
}

impl OutcomeMessage {
    pub(super) fn new(by: &str, group: &str, outcome: GroupOutcome) -> Self {
        let (name, at_ms, retry_at_ms) = fields(outcome);
        Self {
            by: by.to_string(),
            group: group.to_string(),
            outcome: name.to_string(),
            at_ms,
            retry_at_ms,
        }
    }

    /// The outcome, or `None` for an unknown outcome name.
    pub(super) fn outcome(&self) -> Option<GroupOutcome> {
        parse(&self.outcome, self.at_ms, self.retry_at_ms)
    }
}

/// `(name, at_ms, retry_at_ms)` of an outcome as stored and sent.
pub(super) fn fields(outcome: GroupOutcome) -> (&'static str, i64, i64) {
    match outcome {
        GroupOutcome::Ok { at_ms } => ("ok", at_ms, 0),
        GroupOutcome::Failed { at_ms, retry_at_ms } => ("failed", at_ms, retry_at_ms),
    }
}

/// The inverse of [`fields`].
pub(super) fn parse(name: &str, at_ms: i64, retry_at_ms: i64) -> Option<GroupOutcome> {
    match name {
        "ok" => Some(GroupOutcome::Ok { at_ms }),
        "failed" => Some(GroupOutcome::Failed { at_ms, retry_at_ms }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        for o in [
            GroupOutcome::Ok { at_ms: 5 },
            GroupOutcome::Failed {
                at_ms: 6,
                retry_at_ms: 99,
            },
        ] {
            let m = OutcomeMessage::new("e1", "openai", o);
            let text = serde_json::to_string(&m).unwrap();
            let back: OutcomeMessage = serde_json::from_str(&text).unwrap();
            assert_eq!(back.outcome(), Some(o));
        }
        assert_eq!(parse("maybe", 1, 2), None);
    }
}
