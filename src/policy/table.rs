//! The keyed policy store: records failures and successes per key and decides what to do.
//!
//! Rules (documented choices):
//! - `consecutiveErrors` counts failures in a row across reasons (as OpenClaw cron does) and
//!   picks the backoff step; a success resets it. The stop threshold (`stop_after`) counts
//!   failures in a row *of the same reason*: a different reason restarts that count.
//! - Backoff: when the policy honours hints and the provider's hint (the later of
//!   `now + retryAfterMs` and `resetAtMs`) is in the future, the hint wins: the next attempt is
//!   the hint plus up to `jitter_ratio` of the hinted wait (never earlier than the hint). A hint
//!   not in the future is ignored (a stale reset header must not cause an immediate retry
//!   loop). Otherwise the schedule step ±`jitter_ratio`.
//! - Park (quota): explicit provider reset, else the policy's budget window's next reset, plus
//!   the reset margin; with neither, the backoff as above. A relative provider hint (a wait
//!   counted from the provider's answer) gets the hint margin instead (default 250 ms too; it
//!   covers the request's transit, not clock skew).
//! - Disable: after `stop_after` same-reason failures. Timed spans double per disable in a row
//!   (until a success) up to the cap; `None` disables until a success or [`PolicyTable::reset`].
//!   The decision's `alert` is true, and an `Event::Alert` is emitted, only for the first
//!   disable of a key and reason within `alert_window_ms`; the alert memory survives successes.
//! - Idle keys (no failure and nothing pending for `idle_evict_ms`) are forgotten in every
//!   state, including an indefinite disable; past `max_keys` the least recently used key goes.

use super::config::PolicyConfig;
use super::decision::{Action, Decision, Failure};
use super::key_state::{truncate_error, KeyRecord, KeyState};
use super::reason_policy::{Mode, ReasonPolicy};
use crate::error::EngineResult;
use crate::events::{Event, EventSink};
use crate::jitter::Jitter;
use crate::keyed_store::KeyedStore;
use crate::window::effective_reset;

/// Per-key failure policy. Not internally synchronised: wrap it in a mutex to share it.
pub struct PolicyTable {
    cfg: PolicyConfig,
    jitter: Jitter,
    events: EventSink,
    keys: KeyedStore<KeyRecord>,
}

impl std::fmt::Debug for PolicyTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyTable")
            .field("cfg", &self.cfg)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl PolicyTable {
    /// A table with `cfg` (validated; `EngineError::InvalidOption` on a bad number), the jitter
    /// source and the event sink alerts go to.
    pub fn new(cfg: PolicyConfig, jitter: Jitter, events: EventSink) -> EngineResult<Self> {
        cfg.validate()?;
        let keys = KeyedStore::new(cfg.max_keys);
        Ok(Self {
            cfg,
            jitter,
            events,
            keys,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &PolicyConfig {
        &self.cfg
    }

    /// Record a failure of `key` at `now_ms` and decide what to do.
    pub fn record_failure(&mut self, key: &str, failure: &Failure, now_ms: i64) -> Decision {
        let reason = failure.reason;
        let policy = self.cfg.policy(reason);
        let rec = self.keys.get_or_insert_with(key, || KeyRecord::new(now_ms));
        rec.consecutive_errors = rec.consecutive_errors.saturating_add(1);
        rec.reason_streak = if rec.last_reason == Some(reason) {
            rec.reason_streak.saturating_add(1)
        } else {
            1
        };
        rec.last_reason = Some(reason);
        rec.last_error = truncate_error(&failure.message);
        rec.last_failure_at_ms = now_ms;
        let consecutive = rec.consecutive_errors;

        if policy.stop_after > 0 && rec.reason_streak >= policy.stop_after {
            rec.disables_in_row = rec.disables_in_row.saturating_add(1);
            let until = policy
                .disable_span_ms(rec.disables_in_row)
                .map(|span| now_ms.saturating_add(span));
            rec.disabled = true;
            rec.disabled_until_ms = until;
            rec.cooldown_until_ms = None;
            rec.next_attempt_at_ms = until;
            let alert = rec.last_alert.is_none_or(|(r, at)| {
                r != reason || now_ms.saturating_sub(at) >= policy.alert_window_ms
            });
            if alert {
                rec.last_alert = Some((reason, now_ms));
                (self.events)(Event::Alert {
                    key: key.to_owned(),
                    reason,
                    consecutive_errors: consecutive,
                    message: rec.last_error.clone(),
                });
            }
            return Decision {
                action: Action::Disable,
                reason,
                consecutive_errors: consecutive,
                next_attempt_at_ms: until,
                cooldown_until_ms: None,
                disabled_until_ms: until,
                alert,
            };
        }

        self.stay_enabled(key, &policy, failure, consecutive, now_ms)
    }

    /// A later attempt of a failure already recorded for `key` (the gateway retried the run
    /// itself): decides again from this failure's reason and hint without counting another
    /// error, so a run the gateway retried ten times is one failure. A key without a record,
    /// or a failure that would disable it, is recorded as a new failure (`record_failure`).
    pub fn record_repeat(&mut self, key: &str, failure: &Failure, now_ms: i64) -> Decision {
        let reason = failure.reason;
        let policy = self.cfg.policy(reason);
        let Some((consecutive, streak)) = self.keys.touch(key).map(|rec| {
            let streak = if rec.last_reason == Some(reason) {
                rec.reason_streak.max(1)
            } else {
                1
            };
            (rec.consecutive_errors.max(1), streak)
        }) else {
            return self.record_failure(key, failure, now_ms);
        };
        if policy.stop_after > 0 && streak >= policy.stop_after {
            return self.record_failure(key, failure, now_ms);
        }
        let rec = self.keys.touch(key).expect("record checked above");
        rec.reason_streak = streak;
        rec.last_reason = Some(reason);
        rec.last_error = truncate_error(&failure.message);
        rec.last_failure_at_ms = now_ms;
        self.stay_enabled(key, &policy, failure, consecutive, now_ms)
    }

    /// The decision for a recorded key that stays enabled (park until the reset, or back off),
    /// written into its record.
    fn stay_enabled(
        &mut self,
        key: &str,
        policy: &ReasonPolicy,
        failure: &Failure,
        consecutive: u32,
        now_ms: i64,
    ) -> Decision {
        let (action, next) = self.next_attempt(policy, failure, consecutive, now_ms);
        let rec = self.keys.touch(key).expect("a recorded key");
        rec.disabled = false;
        rec.disabled_until_ms = None;
        rec.cooldown_until_ms = Some(next);
        rec.next_attempt_at_ms = Some(next);
        Decision {
            action,
            reason: failure.reason,
            consecutive_errors: consecutive,
            next_attempt_at_ms: Some(next),
            cooldown_until_ms: Some(next),
            disabled_until_ms: None,
            alert: false,
        }
    }

    /// What to do and when, for a key that stays enabled: park until the reset, or back off.
    fn next_attempt(
        &self,
        policy: &ReasonPolicy,
        failure: &Failure,
        consecutive: u32,
        now_ms: i64,
    ) -> (Action, i64) {
        match policy.mode {
            Mode::Park => (
                Action::Wait,
                self.park_until(policy, failure, consecutive, now_ms),
            ),
            Mode::Backoff | Mode::Stop => (
                Action::Retry,
                self.backoff_until(policy, failure, consecutive, now_ms),
            ),
        }
    }

    fn backoff_until(
        &self,
        policy: &ReasonPolicy,
        failure: &Failure,
        consecutive: u32,
        now_ms: i64,
    ) -> i64 {
        let ratio = self.cfg.jitter_ratio;
        if policy.honour_hint {
            if let Some(hint) = failure.hinted_at(now_ms).filter(|t| *t > now_ms) {
                // The provider said when: go then, spread by at most the reset margin (a
                // proportional jitter made a 70 s hint up to 7 s late). Parked sessions of one
                // provider do not stampede anyway: one probe goes first.
                let extra = (((hint - now_ms) as f64 * ratio).round() as i64)
                    .min(self.cfg.reset_margin_ms.max(0));
                return hint.saturating_add(self.jitter.up_to(extra));
            }
        }
        let step = self
            .jitter
            .spread(policy.backoff.delay_for(consecutive), ratio);
        now_ms.saturating_add(step)
    }

    fn park_until(
        &self,
        policy: &ReasonPolicy,
        failure: &Failure,
        consecutive: u32,
        now_ms: i64,
    ) -> i64 {
        self.window_end(policy, failure, now_ms)
            .unwrap_or_else(|| self.backoff_until(policy, failure, consecutive, now_ms))
    }

    /// The end of the window a park waits for: the provider's hint when honoured, else the
    /// reason's budget window, plus the margin; `None` when neither names a time.
    fn window_end(&self, policy: &ReasonPolicy, failure: &Failure, now_ms: i64) -> Option<i64> {
        let explicit = if policy.honour_hint {
            failure.hinted_at(now_ms).filter(|t| *t > now_ms)
        } else {
            None
        };
        let computed = policy
            .budget_window
            .map(|w| w.next_reset(now_ms, self.cfg.utc_offset_minutes));
        let margin = if explicit.is_some() && failure.relative_hint {
            self.cfg.hint_margin_ms
        } else {
            self.cfg.reset_margin_ms
        };
        match (explicit, computed) {
            (None, None) => None,
            (e, c) => Some(effective_reset(e, c.or(e).unwrap_or(now_ms), margin)),
        }
    }

    /// The time `failure` (which happened at `failed_at_ms`) names for trying again, as a park
    /// of it would wait for — the provider's hint or the budget window, with the margin — but
    /// without backoff or jitter and without recording anything. `None` when it names no time
    /// or its reason is not waited out (`Backoff` without a hint, `Stop`). Compare-and-send
    /// asks it of a failed run's final failure: the same answer each time for the same failure.
    pub fn named_retry_at(&self, failure: &Failure, failed_at_ms: i64) -> Option<i64> {
        let policy = self.cfg.policy(failure.reason);
        match policy.mode {
            Mode::Park => self.window_end(&policy, failure, failed_at_ms),
            Mode::Backoff if policy.honour_hint => failure
                .hinted_at(failed_at_ms)
                .filter(|t| *t > failed_at_ms),
            Mode::Backoff | Mode::Stop => None,
        }
    }

    /// Record a success of `key`: its failure streak, cooldown and disable are cleared (the
    /// alert memory stays). Unknown keys are not created.
    pub fn record_success(&mut self, key: &str) {
        let remove = match self.keys.touch(key) {
            Some(rec) => {
                rec.clear_streak();
                rec.last_alert.is_none()
            }
            None => false,
        };
        if remove {
            self.keys.remove(key);
        }
    }

    /// The record of `key`, if tracked (what the fleet shares, see `state::coordination`).
    pub fn record_of(&self, key: &str) -> Option<&KeyRecord> {
        self.keys.get(key)
    }

    /// Set (or, with `None`, forget) the record of `key` as another engine of the fleet has
    /// it. No events: the engine that made the change reported it.
    pub fn put_record(&mut self, key: &str, record: Option<KeyRecord>) {
        match record {
            Some(r) => {
                let slot = self.keys.get_or_insert_with(key, || r.clone());
                *slot = r;
            }
            None => {
                self.keys.remove(key);
            }
        }
    }

    /// The state of `key` at `now_ms`, or `None` when it has no failure streak.
    pub fn state(&self, key: &str, now_ms: i64) -> Option<KeyState> {
        self.keys.get(key)?.view(now_ms)
    }

    /// Whether `key` may be attempted at `now_ms` (not cooling down, not disabled).
    pub fn is_ready(&self, key: &str, now_ms: i64) -> bool {
        self.state(key, now_ms)
            .is_none_or(|s| !s.disabled && !s.cooling_down)
    }

    /// States of every key with a failure streak, for listings.
    pub fn states(&self, now_ms: i64) -> Vec<(String, KeyState)> {
        let mut all: Vec<(String, KeyState)> = self
            .keys
            .iter()
            .filter_map(|(k, r)| r.view(now_ms).map(|s| (k.to_owned(), s)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Forget everything about `key` (manual re-enable), including its alert memory.
    /// Returns whether it was known.
    pub fn reset(&mut self, key: &str) -> bool {
        self.keys.remove(key).is_some()
    }

    /// Forget keys idle for at least `idle_evict_ms` at `now_ms`, in every state.
    /// Returns how many were forgotten.
    pub fn evict_idle(&mut self, now_ms: i64) -> usize {
        self.keys.evict_idle(now_ms, self.cfg.idle_evict_ms)
    }

    /// Number of keys tracked.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The records by key (LRU order, change tracking), to persist or restore them.
    pub fn records_mut(&mut self) -> &mut KeyedStore<KeyRecord> {
        &mut self.keys
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}
