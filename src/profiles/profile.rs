//! One auth profile's usage record as stored in `profiles.json`. Holds ids and counters only,
//! never a credential.

use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest accepted profile id or provider name, in bytes.
pub const MAX_ID_LEN: usize = 256;

/// Usage and health of one auth profile. Serialised in camelCase; missing fields read as their
/// defaults (`null` / `0` / `{}`), so older or hand-edited files still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileStats {
    /// The provider this profile belongs to (e.g. `anthropic`).
    pub provider: String,
    /// When it was last picked (epoch ms); `null` = never used.
    #[serde(default)]
    pub last_used_ms: Option<i64>,
    /// Store-wide pick sequence number of the last pick; orders picks made in the same ms.
    #[serde(default)]
    pub last_used_seq: u64,
    /// How many times it was picked.
    #[serde(default)]
    pub use_count: u64,
    /// Successes reported (lifetime).
    #[serde(default)]
    pub success_count: u64,
    /// Failures reported (lifetime, every reason).
    #[serde(default)]
    pub failure_total: u64,
    /// Failures by reason since the last success (a success clears them).
    #[serde(default)]
    pub failure_counts: BTreeMap<Reason, u32>,
    /// Failures of any reason since the last success.
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Not picked before this time (epoch ms) after a rate limit, quota or auth failure.
    #[serde(default)]
    pub cooldown_until_ms: Option<i64>,
    /// Not picked before this time (epoch ms) after a billing or permanent auth failure.
    #[serde(default)]
    pub disabled_until_ms: Option<i64>,
    /// Why it was disabled.
    #[serde(default)]
    pub disabled_reason: Option<Reason>,
    /// The most recent failure reason (kept after a success, for diagnostics).
    #[serde(default)]
    pub last_reason: Option<Reason>,
}

/// Whether a profile can be picked at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    /// Usable now.
    Ready,
    /// Cooling down until the given epoch ms.
    CoolingDown(i64),
    /// Disabled until the given epoch ms (if it is also cooling down, the later of both).
    Disabled(i64),
}

impl ProfileStats {
    /// A fresh, never-used record for `provider`.
    pub fn new(provider: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            last_used_ms: None,
            last_used_seq: 0,
            use_count: 0,
            success_count: 0,
            failure_total: 0,
            failure_counts: BTreeMap::new(),
            consecutive_failures: 0,
            cooldown_until_ms: None,
            disabled_until_ms: None,
            disabled_reason: None,
            last_reason: None,
        }
    }

    /// Whether the profile can be picked at `now_ms`; a time equal to `until` is free again.
    pub fn availability(&self, now_ms: i64) -> Availability {
        let cooldown = self.cooldown_until_ms.filter(|&t| t > now_ms);
        let disabled = self.disabled_until_ms.filter(|&t| t > now_ms);
        match (disabled, cooldown) {
            (Some(d), c) => Availability::Disabled(d.max(c.unwrap_or(d))),
            (None, Some(c)) => Availability::CoolingDown(c),
            (None, None) => Availability::Ready,
        }
    }

    /// Failures of `reason` since the last success.
    pub fn failures_of(&self, reason: Reason) -> u32 {
        self.failure_counts.get(&reason).copied().unwrap_or(0)
    }
}

/// Check a profile id or provider name: non-blank, at most [`MAX_ID_LEN`] bytes, no control
/// characters. `field` names the argument in the error.
pub fn validate_id(field: &str, value: &str) -> EngineResult<()> {
    if value.trim().is_empty() {
        return Err(EngineError::input(
            field,
            "must be a non-empty string (e.g. \"anthropic:work\")",
        ));
    }
    if value.len() > MAX_ID_LEN {
        return Err(EngineError::input(
            field,
            format!("must be at most {MAX_ID_LEN} bytes, got {}", value.len()),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(EngineError::input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_prefers_disabled_and_frees_at_until() {
        let mut p = ProfileStats::new("x");
        assert_eq!(p.availability(0), Availability::Ready);
        p.cooldown_until_ms = Some(100);
        assert_eq!(p.availability(50), Availability::CoolingDown(100));
        assert_eq!(p.availability(100), Availability::Ready);
        p.disabled_until_ms = Some(80);
        assert_eq!(p.availability(50), Availability::Disabled(100));
        assert_eq!(p.availability(90), Availability::CoolingDown(100));
        p.disabled_until_ms = Some(500);
        assert_eq!(p.availability(50), Availability::Disabled(500));
    }

    #[test]
    fn reads_sparse_records_and_round_trips() {
        let p: ProfileStats = serde_json::from_str(r#"{"provider":"openai"}"#).unwrap();
        assert_eq!(p, ProfileStats::new("openai"));
        let mut q = ProfileStats::new("openai");
        q.failure_counts.insert(Reason::RateLimit, 2);
        q.disabled_reason = Some(Reason::Billing);
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(json["failureCounts"], serde_json::json!({"rate_limit": 2}));
        assert_eq!(json["disabledReason"], "billing");
        let back: ProfileStats = serde_json::from_value(json).unwrap();
        assert_eq!(back, q);
    }

    #[test]
    fn ids_are_validated() {
        validate_id("profileId", "anthropic:work").unwrap();
        for bad in ["", "   ", "a\nb"] {
            let e = validate_id("profileId", bad).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_INPUT");
            assert!(e.to_string().contains("profileId"));
        }
        assert!(validate_id("provider", &"x".repeat(MAX_ID_LEN + 1)).is_err());
    }
}
