//! The whole decision policy: one [`ReasonPolicy`] per reason plus table-wide limits.

use super::reason_policy::ReasonPolicy;
use crate::backoff::DEFAULT_JITTER_RATIO;
use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use crate::window::DEFAULT_RESET_MARGIN_MS;
use std::collections::BTreeMap;

/// Default idle time after which a key's state is forgotten: 24 hours.
pub const DEFAULT_IDLE_EVICT_MS: i64 = 24 * 3_600_000;
/// Default cap on tracked keys: 100 000 (least recently used evicted first).
pub const DEFAULT_MAX_KEYS: usize = 100_000;

/// Configuration of a [`super::PolicyTable`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Per-reason policies. A reason missing here uses [`ReasonPolicy::default_for`].
    /// Default: every reason with its default policy.
    pub per_reason: BTreeMap<Reason, ReasonPolicy>,
    /// Jitter around backoff steps (`0.1` = ±10%) and the most added after a provider hint
    /// (`0.1` = up to 10% of the hinted wait, never earlier). Default `0.1`.
    pub jitter_ratio: f64,
    /// Forget a key idle this long (no failure, nothing pending). Default 24 h.
    pub idle_evict_ms: i64,
    /// Most keys tracked; past it the least recently used is evicted. Default 100 000.
    pub max_keys: usize,
    /// Fixed UTC offset in minutes for budget windows (`-720..=840`). Default 0 (UTC).
    pub utc_offset_minutes: i32,
    /// Added to every wall-clock reset time (a budget window's next reset, a provider's
    /// absolute reset such as `anthropic-ratelimit-*-reset`) before a parked key may resume:
    /// it absorbs clock differences between this host and the provider. Default 250 ms
    /// ([`DEFAULT_RESET_MARGIN_MS`]).
    pub reset_margin_ms: i64,
    /// Added to a relative provider hint (`retry-after: N`, `Please try again in 1.146s`)
    /// counted from when the provider answered. Default 250 ms ([`DEFAULT_HINT_MARGIN_MS`]).
    pub hint_margin_ms: i64,
}

/// Default margin after a relative provider hint: 250 ms. A relative hint is counted from the
/// failed message's `timestamp`, which the gateway sets when it starts the model call: earlier
/// than the provider's answer by the request's transit, measured 16–714 ms on OpenClaw 2026.9.6
/// under load (8 sessions failing at once). What keeps the resend's provider call after the
/// reset is this margin plus the gateway's own run preparation before it calls the provider
/// (370–2167 ms); with no margin one measured probe arrived only 23 ms after the reset. See
/// the README's "Resume timing".
pub const DEFAULT_HINT_MARGIN_MS: i64 = 250;

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            per_reason: Reason::ALL
                .iter()
                .map(|r| (*r, ReasonPolicy::default_for(*r)))
                .collect(),
            jitter_ratio: DEFAULT_JITTER_RATIO,
            idle_evict_ms: DEFAULT_IDLE_EVICT_MS,
            max_keys: DEFAULT_MAX_KEYS,
            utc_offset_minutes: 0,
            reset_margin_ms: DEFAULT_RESET_MARGIN_MS,
            hint_margin_ms: DEFAULT_HINT_MARGIN_MS,
        }
    }
}

impl PolicyConfig {
    /// The policy for `reason` (its default when not configured).
    pub fn policy(&self, reason: Reason) -> ReasonPolicy {
        self.per_reason
            .get(&reason)
            .cloned()
            .unwrap_or_else(|| ReasonPolicy::default_for(reason))
    }

    /// Mutable access to the policy for `reason`, inserting its default first if missing.
    pub fn policy_mut(&mut self, reason: Reason) -> &mut ReasonPolicy {
        self.per_reason
            .entry(reason)
            .or_insert_with(|| ReasonPolicy::default_for(reason))
    }

    /// Replace the policy for `reason`.
    pub fn with_policy(mut self, reason: Reason, policy: ReasonPolicy) -> Self {
        self.per_reason.insert(reason, policy);
        self
    }

    /// Set the jitter ratio.
    pub fn with_jitter_ratio(mut self, ratio: f64) -> Self {
        self.jitter_ratio = ratio;
        self
    }

    /// Set the idle eviction time.
    pub fn with_idle_evict_ms(mut self, ms: i64) -> Self {
        self.idle_evict_ms = ms;
        self
    }

    /// Set the key cap.
    pub fn with_max_keys(mut self, n: usize) -> Self {
        self.max_keys = n;
        self
    }

    /// Set the UTC offset of budget windows.
    pub fn with_utc_offset_minutes(mut self, minutes: i32) -> Self {
        self.utc_offset_minutes = minutes;
        self
    }

    /// Set the reset margin.
    pub fn with_reset_margin_ms(mut self, ms: i64) -> Self {
        self.reset_margin_ms = ms;
        self
    }

    /// Set the margin after a relative provider hint.
    pub fn with_hint_margin_ms(mut self, ms: i64) -> Self {
        self.hint_margin_ms = ms;
        self
    }

    /// Check every number; errors name the option (`policy.jitterRatio`, `policy.reasons.billing.stopAfter`...).
    pub fn validate(&self) -> EngineResult<()> {
        if !(0.0..=1.0).contains(&self.jitter_ratio) {
            return Err(EngineError::option(
                "policy.jitterRatio",
                format!(
                    "{} is out of range; expected 0..=1 (0.1 = ±10%)",
                    self.jitter_ratio
                ),
            ));
        }
        if self.idle_evict_ms <= 0 {
            return Err(EngineError::option(
                "policy.idleEvictMs",
                "expected a number of milliseconds > 0",
            ));
        }
        if self.max_keys == 0 {
            return Err(EngineError::option(
                "policy.maxKeys",
                "expected an integer >= 1",
            ));
        }
        if !(-720..=840).contains(&self.utc_offset_minutes) {
            return Err(EngineError::option(
                "policy.utcOffsetMinutes",
                "expected minutes between -720 (UTC-12) and 840 (UTC+14)",
            ));
        }
        if self.reset_margin_ms < 0 {
            return Err(EngineError::option(
                "policy.resetMarginMs",
                "expected a number of milliseconds >= 0",
            ));
        }
        if self.hint_margin_ms < 0 {
            return Err(EngineError::option(
                "policy.hintMarginMs",
                "expected a number of milliseconds >= 0",
            ));
        }
        for (reason, p) in &self.per_reason {
            p.validate(*reason)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Mode;

    #[test]
    fn default_covers_every_reason_and_validates() {
        let c = PolicyConfig::default();
        assert_eq!(c.per_reason.len(), Reason::ALL.len());
        c.validate().unwrap();
        assert_eq!(c.jitter_ratio, 0.1);
        assert_eq!(c.idle_evict_ms, 86_400_000);
        assert_eq!(c.max_keys, 100_000);
    }

    #[test]
    fn overrides_and_validation() {
        let mut c = PolicyConfig::default()
            .with_jitter_ratio(0.0)
            .with_max_keys(5);
        c.policy_mut(Reason::RateLimit).stop_after = 3;
        assert_eq!(c.policy(Reason::RateLimit).stop_after, 3);
        c.per_reason.remove(&Reason::Quota);
        assert_eq!(c.policy(Reason::Quota).mode, Mode::Park);
        c.validate().unwrap();

        let bad = PolicyConfig::default().with_jitter_ratio(1.5);
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("policy.jitterRatio"));
        assert!(PolicyConfig::default().with_max_keys(0).validate().is_err());
        assert!(PolicyConfig::default()
            .with_idle_evict_ms(0)
            .validate()
            .is_err());
        assert!(PolicyConfig::default()
            .with_utc_offset_minutes(900)
            .validate()
            .is_err());
        assert!(PolicyConfig::default()
            .with_reset_margin_ms(-1)
            .validate()
            .is_err());
        let bad = PolicyConfig::default().with_policy(
            Reason::Format,
            ReasonPolicy::default_for(Reason::Format).with_stop_after(0),
        );
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("policy.reasons.format.stopAfter"));
    }
}
