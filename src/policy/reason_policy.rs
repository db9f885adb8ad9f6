//! What to do for one failure reason: back off, park until a window resets, or stop.

use crate::backoff::BackoffSchedule;
use crate::error::{EngineError, EngineResult};
use crate::reason::Reason;
use crate::window::Window;
use serde::{Deserialize, Serialize};

/// One hour in ms.
pub const HOUR_MS: i64 = 3_600_000;
/// Default alert window: at most one alert per key and reason per hour.
pub const DEFAULT_ALERT_WINDOW_MS: i64 = HOUR_MS;
/// Default first disable span for `billing` and `auth`: 10 minutes (OpenClaw's billing base).
pub const DEFAULT_DISABLE_MS: i64 = 600_000;
/// Default cap of the doubling disable span: 24 hours (OpenClaw's cooldown maximum).
pub const DEFAULT_DISABLE_MAX_MS: i64 = 24 * HOUR_MS;
/// Default stop threshold of `unknown`: 10 consecutive failures (OpenClaw cron's auto-disable).
pub const DEFAULT_UNKNOWN_STOP_AFTER: u32 = 10;

/// How a reason is handled while it has not reached its stop threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Back off along the schedule (or the provider hint) and retry; the key stays enabled.
    Backoff,
    /// Park until the budget window resets (explicit provider reset, else the configured
    /// window, else the backoff schedule).
    Park,
    /// Stop: disable the key after `stop_after` failures in a row (≥ 1) and raise an alert.
    Stop,
}

/// The policy for one reason. Every field can be overridden by the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasonPolicy {
    /// Backoff, park or stop. Default per reason, see [`ReasonPolicy::default_for`].
    pub mode: Mode,
    /// Disable the key after this many consecutive failures of this reason; `0` = never.
    /// Default 1 for stop reasons, 10 for `unknown`, 0 otherwise.
    pub stop_after: u32,
    /// Wait between retries. Default 30 s → 1 min → 5 min → 15 min → 60 min.
    pub backoff: BackoffSchedule,
    /// Use the provider's hint (`retry-after`, reset time) instead of the schedule when it is in
    /// the future. Default true, except for stop reasons (false).
    pub honour_hint: bool,
    /// At most one alert per key and reason within this many ms. Default 1 hour.
    pub alert_window_ms: i64,
    /// How long a stop disables the key: the first disable lasts this many ms and each further
    /// one (without a success in between) doubles it up to `disable_max_ms`. `None` disables
    /// indefinitely, until a success or a manual reset. Default 10 min for `billing`/`auth`,
    /// `None` for `auth_permanent`, `format`, `context_overflow`, `model_not_found`, `unknown`.
    pub disable_ms: Option<i64>,
    /// Cap of the doubling disable span. Default 24 hours.
    pub disable_max_ms: i64,
    /// For [`Mode::Park`]: the budget window to wait for when the provider gave no reset time
    /// (e.g. `"5h"`, `"1d"`). Default none.
    pub budget_window: Option<Window>,
}

impl ReasonPolicy {
    fn base(mode: Mode) -> Self {
        Self {
            mode,
            stop_after: 0,
            backoff: BackoffSchedule::default(),
            honour_hint: true,
            alert_window_ms: DEFAULT_ALERT_WINDOW_MS,
            disable_ms: None,
            disable_max_ms: DEFAULT_DISABLE_MAX_MS,
            budget_window: None,
        }
    }

    fn stop(disable_ms: Option<i64>) -> Self {
        Self {
            stop_after: 1,
            honour_hint: false,
            disable_ms,
            ..Self::base(Mode::Stop)
        }
    }

    /// The default policy of `reason`:
    /// - `rate_limit`, `overloaded`, `server_error`, `timeout`, `network`: backoff, never stop.
    /// - `quota`: park until the window resets, never stop.
    /// - `billing`, `auth`: stop after 1, disabled 10 min doubling to 24 h.
    /// - `auth_permanent`, `format`, `context_overflow`, `model_not_found`: stop after 1,
    ///   disabled until a success or a manual reset.
    /// - `unknown`: backoff, stop after 10 (disabled until a success or reset).
    pub fn default_for(reason: Reason) -> Self {
        match reason {
            Reason::RateLimit
            | Reason::Overloaded
            | Reason::ServerError
            | Reason::Timeout
            | Reason::Network => Self::base(Mode::Backoff),
            Reason::Quota => Self::base(Mode::Park),
            Reason::Billing | Reason::Auth => Self::stop(Some(DEFAULT_DISABLE_MS)),
            Reason::AuthPermanent
            | Reason::Format
            | Reason::ContextOverflow
            | Reason::ModelNotFound => Self::stop(None),
            Reason::Unknown => Self {
                stop_after: DEFAULT_UNKNOWN_STOP_AFTER,
                ..Self::base(Mode::Backoff)
            },
        }
    }

    /// Set `stop_after` (0 = never).
    pub fn with_stop_after(mut self, n: u32) -> Self {
        self.stop_after = n;
        self
    }

    /// Set the backoff schedule.
    pub fn with_backoff(mut self, backoff: BackoffSchedule) -> Self {
        self.backoff = backoff;
        self
    }

    /// Set the disable span (`None` = indefinitely) and its cap.
    pub fn with_disable(mut self, disable_ms: Option<i64>, disable_max_ms: i64) -> Self {
        self.disable_ms = disable_ms;
        self.disable_max_ms = disable_max_ms;
        self
    }

    /// Set the budget window used by [`Mode::Park`].
    pub fn with_budget_window(mut self, window: Option<Window>) -> Self {
        self.budget_window = window;
        self
    }

    /// Check ranges; errors name the option as the host wrote it,
    /// `policy.reasons.<reason>.<field>`.
    pub fn validate(&self, reason: Reason) -> EngineResult<()> {
        let field = |f: &str| format!("policy.reasons.{}.{f}", reason.as_str());
        self.backoff.validate(&field("backoffMs"))?;
        if self.mode == Mode::Stop && self.stop_after == 0 {
            return Err(EngineError::option(
                field("stopAfter"),
                "mode `stop` needs stopAfter >= 1; use mode `backoff` to never stop",
            ));
        }
        if self.alert_window_ms < 0 {
            return Err(EngineError::option(
                field("alertWindowMs"),
                "expected a number of milliseconds >= 0",
            ));
        }
        if let Some(d) = self.disable_ms {
            if d <= 0 {
                return Err(EngineError::option(
                    field("disableMs"),
                    "expected a number of milliseconds > 0, or null to disable until reset",
                ));
            }
            if self.disable_max_ms < d {
                return Err(EngineError::option(
                    field("disableMaxMs"),
                    format!("expected a number of milliseconds >= disableMs ({d})"),
                ));
            }
        }
        Ok(())
    }

    /// The disable span for the `nth` disable in a row (1-based), or `None` = indefinitely.
    pub fn disable_span_ms(&self, nth: u32) -> Option<i64> {
        let base = self.disable_ms?;
        let doublings = nth.max(1) - 1;
        let factor = 1i64.checked_shl(doublings.min(62)).unwrap_or(i64::MAX);
        Some(base.saturating_mul(factor).min(self.disable_max_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_design() {
        let rl = ReasonPolicy::default_for(Reason::RateLimit);
        assert_eq!(
            (rl.mode, rl.stop_after, rl.honour_hint),
            (Mode::Backoff, 0, true)
        );
        assert_eq!(ReasonPolicy::default_for(Reason::Quota).mode, Mode::Park);
        for r in [Reason::Billing, Reason::Auth] {
            let p = ReasonPolicy::default_for(r);
            assert_eq!((p.mode, p.stop_after), (Mode::Stop, 1));
            assert_eq!(p.disable_ms, Some(600_000));
        }
        for r in [
            Reason::AuthPermanent,
            Reason::Format,
            Reason::ContextOverflow,
            Reason::ModelNotFound,
        ] {
            let p = ReasonPolicy::default_for(r);
            assert_eq!((p.mode, p.stop_after, p.disable_ms), (Mode::Stop, 1, None));
        }
        let u = ReasonPolicy::default_for(Reason::Unknown);
        assert_eq!((u.mode, u.stop_after), (Mode::Backoff, 10));
        for r in Reason::ALL {
            ReasonPolicy::default_for(r).validate(r).unwrap();
        }
    }

    #[test]
    fn disable_span_doubles_to_the_cap() {
        let p = ReasonPolicy::default_for(Reason::Billing);
        assert_eq!(p.disable_span_ms(1), Some(600_000));
        assert_eq!(p.disable_span_ms(2), Some(1_200_000));
        assert_eq!(p.disable_span_ms(4), Some(4_800_000));
        assert_eq!(p.disable_span_ms(9), Some(DEFAULT_DISABLE_MAX_MS));
        assert_eq!(p.disable_span_ms(200), Some(DEFAULT_DISABLE_MAX_MS));
        assert_eq!(
            ReasonPolicy::default_for(Reason::Format).disable_span_ms(3),
            None
        );
    }

    #[test]
    fn validation_names_the_field() {
        let p = ReasonPolicy::default_for(Reason::Billing).with_stop_after(0);
        let e = p.validate(Reason::Billing).unwrap_err();
        assert!(
            e.to_string().contains("policy.reasons.billing.stopAfter"),
            "{e}"
        );
        let p = ReasonPolicy::default_for(Reason::Auth).with_disable(Some(10), 5);
        assert!(p
            .validate(Reason::Auth)
            .unwrap_err()
            .to_string()
            .contains("policy.reasons.auth.disableMaxMs"));
        let p = ReasonPolicy::default_for(Reason::Auth).with_disable(Some(0), 5);
        assert!(p
            .validate(Reason::Auth)
            .unwrap_err()
            .to_string()
            .contains("disableMs"));
        let mut p = ReasonPolicy::default_for(Reason::Timeout);
        p.alert_window_ms = -1;
        assert!(p.validate(Reason::Timeout).is_err());
    }
}
