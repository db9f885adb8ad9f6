//! What a reported outcome does to a profile: pure functions of the record, the outcome, the
//! config and `now_ms`.
//!
//! | reason | effect | `rotate` |
//! |---|---|---|
//! | success (`reason: None`) | clears failure counts, cooldown and disable | `false` |
//! | `rate_limit`, `quota` | cooldown until the hint, else `rateLimitBaseMs` doubling per rate-limit failure since the last success, capped at `rateLimitMaxMs` | `true` |
//! | `auth` | cooldown until the hint, else `authCooldownsMs[n-1]` (last step repeats) | `true` |
//! | `billing`, `auth_permanent` | disabled until the hint, else `billingBaseMs` doubling per such failure, capped at `billingMaxMs` | `true` |
//! | `overloaded`, `server_error`, `timeout`, `network` | counted only: the provider is the problem, not this profile | `false` |
//! | `format`, `context_overflow`, `model_not_found`, `unknown` | counted only: the request or model is the problem | `false` |
//!
//! `auth` is a cooldown rather than a disable because OpenClaw treats a rejected credential as
//! possibly transient (a token refresh or a rotated key fixes it) and cools the profile down
//! 30 s / 60 s / 300 s; `auth_permanent` (revoked key, disabled account) needs a human and is
//! disabled like billing — still with an expiry, so a fixed account is tried again later.
//!
//! Hints: `resetAtMs` beats `retryAfterMs` beats the schedule. A hint that is not in the future
//! (a stale reset time, `retryAfterMs: 0`) is ignored in favour of the next source. A new
//! penalty never shortens one already in force (another process may have set a longer one);
//! only a success lifts it early.

use super::config::ProfileConfig;
use super::profile::ProfileStats;
use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use serde::{Deserialize, Serialize};

/// The result of one request made with a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Why it failed; `None` (default) = success.
    pub reason: Option<Reason>,
    /// The provider's retry-after hint in ms from now; default `None`.
    pub retry_after_ms: Option<i64>,
    /// The provider's explicit reset time (epoch ms); beats `retry_after_ms`; default `None`.
    pub reset_at_ms: Option<i64>,
}

impl Outcome {
    /// A success.
    pub fn success() -> Self {
        Self::default()
    }

    /// A failure with no hint.
    pub fn failure(reason: Reason) -> Self {
        Self {
            reason: Some(reason),
            ..Self::default()
        }
    }

    /// Reject negative hints.
    pub fn validate(&self) -> EngineResult<()> {
        if let Some(ms) = self.retry_after_ms {
            if ms < 0 {
                return Err(EngineError::input(
                    "outcome.retryAfterMs",
                    format!("expected milliseconds >= 0, got {ms}"),
                ));
            }
        }
        if let Some(at) = self.reset_at_ms {
            if at < 0 {
                return Err(EngineError::input(
                    "outcome.resetAtMs",
                    format!("expected an epoch time in ms >= 0, got {at}"),
                ));
            }
        }
        Ok(())
    }

    /// The hinted end of the penalty, if the hint lies after `now_ms`.
    pub fn hinted_until(&self, now_ms: i64) -> Option<i64> {
        let reset = self.reset_at_ms.filter(|&t| t > now_ms);
        let after = self
            .retry_after_ms
            .filter(|&ms| ms > 0)
            .map(|ms| now_ms.saturating_add(ms));
        reset.or(after)
    }
}

/// What marking a profile did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkResult {
    /// Switch to another profile now instead of retrying this one (fail fast).
    pub rotate: bool,
    /// The profile's cooldown end after this mark, if it is in the future.
    pub cooldown_until_ms: Option<i64>,
    /// The profile's disable end after this mark, if it is in the future.
    pub disabled_until_ms: Option<i64>,
    /// Failures since the last success, this one included (0 after a success).
    pub error_count: u32,
}

/// The penalty an outcome puts on a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Penalty {
    /// Nothing (success, or a failure that is not the profile's fault).
    None,
    /// Cool down until the epoch ms.
    Cooldown(i64),
    /// Disable until the epoch ms.
    Disable(i64),
}

/// `base_ms * 2^(n-1)` capped at `max_ms`, for the `n`th failure (`n >= 1`; 0 is read as 1).
pub fn doubling_ms(base_ms: i64, max_ms: i64, n: u32) -> i64 {
    let shift = n.saturating_sub(1).min(62);
    base_ms
        .checked_mul(1i64 << shift)
        .map_or(max_ms, |v| v.min(max_ms))
}

/// Record `outcome` on `stats` at `now_ms` and return the penalty it earned and the result.
pub fn apply_outcome(
    stats: &mut ProfileStats,
    outcome: &Outcome,
    cfg: &ProfileConfig,
    now_ms: i64,
) -> (Penalty, MarkResult) {
    let Some(reason) = outcome.reason else {
        stats.success_count += 1;
        stats.failure_counts.clear();
        stats.consecutive_failures = 0;
        stats.cooldown_until_ms = None;
        stats.disabled_until_ms = None;
        stats.disabled_reason = None;
        return (Penalty::None, result(stats, false, now_ms));
    };
    stats.failure_total += 1;
    stats.consecutive_failures = stats.consecutive_failures.saturating_add(1);
    *stats.failure_counts.entry(reason).or_insert(0) += 1;
    stats.last_reason = Some(reason);
    let hinted = outcome.hinted_until(now_ms);
    let penalty = match reason {
        Reason::RateLimit | Reason::Quota => {
            let n = stats.failures_of(Reason::RateLimit) + stats.failures_of(Reason::Quota);
            let wait = doubling_ms(cfg.rate_limit_base_ms, cfg.rate_limit_max_ms, n);
            Penalty::Cooldown(hinted.unwrap_or(now_ms.saturating_add(wait)))
        }
        Reason::Auth => {
            let n = stats.failures_of(Reason::Auth) as usize;
            let steps = &cfg.auth_cooldowns_ms;
            let wait = steps[n.saturating_sub(1).min(steps.len() - 1)];
            Penalty::Cooldown(hinted.unwrap_or(now_ms.saturating_add(wait)))
        }
        Reason::Billing | Reason::AuthPermanent => {
            let n = stats.failures_of(reason);
            let wait = doubling_ms(cfg.billing_base_ms, cfg.billing_max_ms, n);
            Penalty::Disable(hinted.unwrap_or(now_ms.saturating_add(wait)))
        }
        Reason::Overloaded
        | Reason::ServerError
        | Reason::Timeout
        | Reason::Network
        | Reason::Format
        | Reason::ContextOverflow
        | Reason::ModelNotFound
        | Reason::Unknown => Penalty::None,
    };
    let penalty = match penalty {
        Penalty::Cooldown(until) => {
            let until = later(stats.cooldown_until_ms, until);
            stats.cooldown_until_ms = Some(until);
            Penalty::Cooldown(until)
        }
        Penalty::Disable(until) => {
            let until = later(stats.disabled_until_ms, until);
            stats.disabled_until_ms = Some(until);
            stats.disabled_reason = Some(reason);
            Penalty::Disable(until)
        }
        Penalty::None => Penalty::None,
    };
    let rotate = penalty != Penalty::None;
    (penalty, result(stats, rotate, now_ms))
}

fn later(current: Option<i64>, proposed: i64) -> i64 {
    current.map_or(proposed, |c| c.max(proposed))
}

fn result(stats: &ProfileStats, rotate: bool, now_ms: i64) -> MarkResult {
    MarkResult {
        rotate,
        cooldown_until_ms: stats.cooldown_until_ms.filter(|&t| t > now_ms),
        disabled_until_ms: stats.disabled_until_ms.filter(|&t| t > now_ms),
        error_count: stats.consecutive_failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;
    const MIN: i64 = 60_000;
    const DAY: i64 = 86_400_000;

    fn mark(p: &mut ProfileStats, o: &Outcome, now: i64) -> (Penalty, MarkResult) {
        apply_outcome(p, o, &ProfileConfig::default(), now)
    }

    #[test]
    fn rate_limit_doubles_from_30s_and_caps_at_24h() {
        let mut p = ProfileStats::new("x");
        let mut waits = vec![];
        let mut now = T0;
        for _ in 0..15 {
            let (pen, r) = mark(&mut p, &Outcome::failure(Reason::RateLimit), now);
            assert!(r.rotate);
            let Penalty::Cooldown(until) = pen else {
                panic!("expected a cooldown, got {pen:?}")
            };
            assert_eq!(r.cooldown_until_ms, Some(until));
            waits.push(until - now);
            now = until; // next failure right after the cooldown ends
        }
        assert_eq!(&waits[..5], &[30_000, 60_000, 120_000, 240_000, 480_000]);
        assert_eq!(waits[11], 30_000 * 2048);
        assert_eq!(waits[12], DAY, "30s*4096 exceeds 24h and is capped");
        assert_eq!(waits[14], DAY);
        assert_eq!(p.consecutive_failures, 15);
        assert_eq!(p.failures_of(Reason::RateLimit), 15);
    }

    #[test]
    fn quota_shares_the_rate_limit_schedule() {
        let mut p = ProfileStats::new("x");
        mark(&mut p, &Outcome::failure(Reason::RateLimit), T0);
        let (pen, _) = mark(&mut p, &Outcome::failure(Reason::Quota), T0 + MIN);
        assert_eq!(pen, Penalty::Cooldown(T0 + MIN + 60_000));
    }

    #[test]
    fn billing_disables_10m_doubling_capped_at_24h() {
        let mut p = ProfileStats::new("x");
        let mut now = T0;
        let mut waits = vec![];
        for _ in 0..10 {
            let (pen, r) = mark(&mut p, &Outcome::failure(Reason::Billing), now);
            let Penalty::Disable(until) = pen else {
                panic!("expected a disable, got {pen:?}")
            };
            assert!(r.rotate);
            assert_eq!(r.disabled_until_ms, Some(until));
            assert_eq!(r.cooldown_until_ms, None);
            waits.push(until - now);
            now = until;
        }
        assert_eq!(&waits[..4], &[10 * MIN, 20 * MIN, 40 * MIN, 80 * MIN]);
        assert_eq!(waits[7], 1280 * MIN);
        assert_eq!(waits[8], DAY, "2560 min exceeds 24h and is capped");
        assert_eq!(p.disabled_reason, Some(Reason::Billing));
    }

    #[test]
    fn auth_steps_through_30s_60s_300s_and_auth_permanent_disables() {
        let mut p = ProfileStats::new("x");
        let waits: Vec<i64> = (0..5)
            .map(|i| {
                let now = T0 + i * DAY;
                match mark(&mut p, &Outcome::failure(Reason::Auth), now).0 {
                    Penalty::Cooldown(until) => until - now,
                    other => panic!("auth should cool down, got {other:?}"),
                }
            })
            .collect();
        assert_eq!(waits, vec![30_000, 60_000, 300_000, 300_000, 300_000]);
        assert_eq!(p.disabled_until_ms, None);

        let mut q = ProfileStats::new("x");
        let (pen, r) = mark(&mut q, &Outcome::failure(Reason::AuthPermanent), T0);
        assert_eq!(pen, Penalty::Disable(T0 + 10 * MIN));
        assert!(r.rotate);
        assert_eq!(q.disabled_reason, Some(Reason::AuthPermanent));
    }

    #[test]
    fn hint_precedence_reset_then_retry_after_then_base() {
        let both = Outcome {
            reason: Some(Reason::RateLimit),
            retry_after_ms: Some(5_000),
            reset_at_ms: Some(T0 + 90_000),
        };
        let mut p = ProfileStats::new("x");
        assert_eq!(mark(&mut p, &both, T0).0, Penalty::Cooldown(T0 + 90_000));

        let after_only = Outcome {
            reset_at_ms: None,
            ..both.clone()
        };
        let mut p = ProfileStats::new("x");
        assert_eq!(
            mark(&mut p, &after_only, T0).0,
            Penalty::Cooldown(T0 + 5_000)
        );

        let stale_reset = Outcome {
            reset_at_ms: Some(T0 - 1),
            ..both.clone()
        };
        let mut p = ProfileStats::new("x");
        assert_eq!(
            mark(&mut p, &stale_reset, T0).0,
            Penalty::Cooldown(T0 + 5_000)
        );

        let mut p = ProfileStats::new("x");
        let pen = mark(&mut p, &Outcome::failure(Reason::RateLimit), T0).0;
        assert_eq!(pen, Penalty::Cooldown(T0 + 30_000));

        let billing_hint = Outcome {
            reason: Some(Reason::Billing),
            retry_after_ms: None,
            reset_at_ms: Some(T0 + 3 * DAY),
        };
        let mut p = ProfileStats::new("x");
        assert_eq!(
            mark(&mut p, &billing_hint, T0).0,
            Penalty::Disable(T0 + 3 * DAY)
        );
    }

    #[test]
    fn a_new_penalty_never_shortens_the_current_one() {
        let mut p = ProfileStats::new("x");
        let long = Outcome {
            reason: Some(Reason::Quota),
            retry_after_ms: None,
            reset_at_ms: Some(T0 + DAY),
        };
        mark(&mut p, &long, T0);
        let (pen, r) = mark(&mut p, &Outcome::failure(Reason::RateLimit), T0 + 1);
        assert_eq!(pen, Penalty::Cooldown(T0 + DAY));
        assert_eq!(r.cooldown_until_ms, Some(T0 + DAY));
    }

    #[test]
    fn success_clears_failures_cooldown_and_disable() {
        let mut p = ProfileStats::new("x");
        mark(&mut p, &Outcome::failure(Reason::RateLimit), T0);
        mark(&mut p, &Outcome::failure(Reason::Billing), T0 + 1);
        assert_eq!(p.consecutive_failures, 2);
        let (pen, r) = mark(&mut p, &Outcome::success(), T0 + 2);
        assert_eq!(pen, Penalty::None);
        assert_eq!(
            r,
            MarkResult {
                rotate: false,
                cooldown_until_ms: None,
                disabled_until_ms: None,
                error_count: 0
            }
        );
        assert!(p.failure_counts.is_empty());
        assert_eq!((p.cooldown_until_ms, p.disabled_until_ms), (None, None));
        assert_eq!(p.disabled_reason, None);
        assert_eq!((p.success_count, p.failure_total), (1, 2));
        assert_eq!(p.last_reason, Some(Reason::Billing));
        // the schedule restarts from the base after a success
        let pen = mark(&mut p, &Outcome::failure(Reason::RateLimit), T0 + 3).0;
        assert_eq!(pen, Penalty::Cooldown(T0 + 3 + 30_000));
    }

    #[test]
    fn provider_side_and_request_failures_count_without_cooldown() {
        for reason in [
            Reason::Overloaded,
            Reason::ServerError,
            Reason::Timeout,
            Reason::Network,
            Reason::Format,
            Reason::ContextOverflow,
            Reason::ModelNotFound,
            Reason::Unknown,
        ] {
            let mut p = ProfileStats::new("x");
            let o = Outcome {
                reason: Some(reason),
                retry_after_ms: Some(10_000),
                reset_at_ms: None,
            };
            let (pen, r) = mark(&mut p, &o, T0);
            assert_eq!(pen, Penalty::None, "{reason}");
            assert!(!r.rotate, "{reason}");
            assert_eq!(r.error_count, 1);
            assert_eq!((p.cooldown_until_ms, p.disabled_until_ms), (None, None));
            assert_eq!(p.failures_of(reason), 1);
        }
    }

    #[test]
    fn negative_hints_are_rejected() {
        let o = Outcome {
            reason: Some(Reason::RateLimit),
            retry_after_ms: Some(-1),
            reset_at_ms: None,
        };
        assert!(o
            .validate()
            .unwrap_err()
            .to_string()
            .contains("retryAfterMs"));
        let o = Outcome {
            reason: None,
            retry_after_ms: None,
            reset_at_ms: Some(-5),
        };
        assert!(o.validate().unwrap_err().to_string().contains("resetAtMs"));
        Outcome::failure(Reason::Quota).validate().unwrap();
    }

    #[test]
    fn doubling_saturates() {
        assert_eq!(doubling_ms(30_000, DAY, 0), 30_000);
        assert_eq!(doubling_ms(30_000, DAY, 1), 30_000);
        assert_eq!(doubling_ms(30_000, DAY, u32::MAX), DAY);
        assert_eq!(doubling_ms(i64::MAX / 2, i64::MAX, 3), i64::MAX);
    }
}
