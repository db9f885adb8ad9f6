//! Circuit breakers per key.
//!
//! - Closed: calls are allowed; `failure_threshold` failures in a row open the breaker.
//! - Open: calls are rejected until `cooldown` has passed; then the next caller becomes the
//!   half-open probe.
//! - Half-open: exactly one probe in flight; other callers are rejected. The probe's success
//!   closes the breaker (the cooldown returns to its base); its failure re-opens it with the
//!   cooldown doubled up to `max_cooldown_ms`. A probe silent for `probe_timeout_ms` is presumed
//!   lost and the next caller probes instead.
//! - A success while open (a call admitted before the breaker opened) is ignored, as in
//!   cockatiel; [`BreakerRegistry::reset`] closes a breaker by hand.
//! - Keys untouched for `idle_evict_ms` are forgotten whatever their state; past `max_keys`
//!   the least recently used key is forgotten.

use super::config::BreakerConfig;
use super::state::{BreakerRecord, BreakerState, CircuitState, Phase};
use crate::error::EngineResult;
use crate::events::{Event, EventSink};
use crate::keyed_store::KeyedStore;
use serde::Serialize;

/// The answer to [`BreakerRegistry::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "permit", rename_all = "snake_case")]
pub enum Permit {
    /// Closed: go ahead, then report the outcome.
    Allowed,
    /// Half-open: this call is the single probe; report its outcome.
    Probe,
    /// Open (or a probe is in flight): do not call before `retry_at_ms`.
    #[serde(rename_all = "camelCase")]
    Rejected {
        /// Earliest time a call may be admitted (epoch ms).
        retry_at_ms: i64,
    },
}

/// Keyed circuit breakers. Not internally synchronised: wrap in a mutex to share.
pub struct BreakerRegistry {
    cfg: BreakerConfig,
    events: EventSink,
    keys: KeyedStore<BreakerRecord>,
}

impl std::fmt::Debug for BreakerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreakerRegistry")
            .field("cfg", &self.cfg)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl BreakerRegistry {
    /// A registry with `cfg` (validated; errors name `breaker.<field>`) and an event sink for
    /// opened / half-open / closed events.
    pub fn new(cfg: BreakerConfig, events: EventSink) -> EngineResult<Self> {
        Self::with_field_prefix(cfg, events, "breaker")
    }

    pub(crate) fn with_field_prefix(
        cfg: BreakerConfig,
        events: EventSink,
        prefix: &str,
    ) -> EngineResult<Self> {
        cfg.validate(prefix)?;
        let keys = KeyedStore::new(cfg.max_keys);
        Ok(Self { cfg, events, keys })
    }

    /// The configuration in use.
    pub fn config(&self) -> &BreakerConfig {
        &self.cfg
    }

    /// Ask to make a call for `key` at `now_ms`.
    pub fn try_acquire(&mut self, key: &str, now_ms: i64) -> Permit {
        let probe_timeout = self.cfg.probe_timeout_ms;
        let Some(rec) = self.keys.touch(key) else {
            return Permit::Allowed;
        };
        rec.last_activity_ms = now_ms;
        match rec.phase {
            Phase::Closed => Permit::Allowed,
            Phase::Open { half_open_at_ms } if now_ms < half_open_at_ms => Permit::Rejected {
                retry_at_ms: half_open_at_ms,
            },
            Phase::Open { .. } => {
                rec.phase = Phase::HalfOpen {
                    probe_started_at_ms: now_ms,
                };
                (self.events)(Event::BreakerHalfOpen {
                    key: key.to_owned(),
                });
                Permit::Probe
            }
            Phase::HalfOpen {
                probe_started_at_ms,
            } => {
                let lease_end = probe_started_at_ms.saturating_add(probe_timeout);
                if now_ms >= lease_end {
                    rec.phase = Phase::HalfOpen {
                        probe_started_at_ms: now_ms,
                    };
                    Permit::Probe
                } else {
                    Permit::Rejected {
                        retry_at_ms: lease_end,
                    }
                }
            }
        }
    }

    /// Report a failed call for `key` at `now_ms`.
    pub fn record_failure(&mut self, key: &str, now_ms: i64) {
        let base = self.cfg.cooldown_ms;
        let threshold = self.cfg.failure_threshold;
        let max = self.cfg.max_cooldown_ms;
        let rec = self
            .keys
            .get_or_insert_with(key, || BreakerRecord::new(base, now_ms));
        rec.last_activity_ms = now_ms;
        rec.failures = rec.failures.saturating_add(1);
        let open = match rec.phase {
            Phase::Closed => rec.failures >= threshold,
            Phase::HalfOpen { .. } => {
                rec.cooldown_ms = rec.cooldown_ms.saturating_mul(2).min(max);
                true
            }
            Phase::Open { .. } => false,
        };
        if open {
            let half_open_at_ms = now_ms.saturating_add(rec.cooldown_ms);
            rec.phase = Phase::Open { half_open_at_ms };
            rec.opened_at_ms = Some(now_ms);
            let failures = rec.failures;
            (self.events)(Event::BreakerOpened {
                key: key.to_owned(),
                failures,
                half_open_at_ms,
            });
        }
    }

    /// Report a successful call for `key` at `now_ms`: a closed breaker forgets its failures,
    /// a half-open one closes; an open one ignores it (see the module docs).
    pub fn record_success(&mut self, key: &str, now_ms: i64) {
        let Some(rec) = self.keys.touch(key) else {
            return;
        };
        rec.last_activity_ms = now_ms;
        match rec.phase {
            Phase::Closed => {
                self.keys.remove(key);
            }
            Phase::HalfOpen { .. } => {
                self.keys.remove(key);
                (self.events)(Event::BreakerClosed {
                    key: key.to_owned(),
                });
            }
            Phase::Open { .. } => {}
        }
    }

    /// Close `key` by hand and forget it (cooldown back to base). Emits `BreakerClosed` if it
    /// was open or half-open. Returns whether the key was tracked.
    pub fn reset(&mut self, key: &str) -> bool {
        match self.keys.remove(key) {
            Some(rec) => {
                if rec.phase != Phase::Closed {
                    (self.events)(Event::BreakerClosed {
                        key: key.to_owned(),
                    });
                }
                true
            }
            None => false,
        }
    }

    /// The record of `key`, if tracked (what the fleet shares, see `state::coordination`).
    pub fn record_of(&self, key: &str) -> Option<&BreakerRecord> {
        self.keys.get(key)
    }

    /// Set (or, with `None`, forget) the record of `key` as another engine of the fleet has
    /// it. No events: the engine that made the change reported it.
    pub fn put_record(&mut self, key: &str, record: Option<BreakerRecord>) {
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

    /// The state of `key` at `now_ms` (an unknown key is closed with no failures).
    pub fn state(&self, key: &str, now_ms: i64) -> BreakerState {
        match self.keys.get(key) {
            Some(rec) => rec.view(now_ms),
            None => BreakerState {
                state: CircuitState::Closed,
                failures: 0,
                opened_at_ms: None,
                half_open_at_ms: None,
                cooldown_ms: self.cfg.cooldown_ms,
            },
        }
    }

    /// States of every tracked key, sorted by key, for listings.
    pub fn states(&self, now_ms: i64) -> Vec<(String, BreakerState)> {
        let mut all: Vec<(String, BreakerState)> = self
            .keys
            .iter()
            .map(|(k, r)| (k.to_owned(), r.view(now_ms)))
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Forget keys untouched for `idle_evict_ms` at `now_ms`, in every state (an open breaker
    /// idle that long is forgotten too). Returns how many were forgotten.
    pub fn evict_idle(&mut self, now_ms: i64) -> usize {
        self.keys.evict_idle(now_ms, self.cfg.idle_evict_ms)
    }

    /// Number of tracked keys (closed keys without failures are not tracked).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, TokioClock};
    use crate::events::RecordingSink;

    const T0: i64 = 1_795_000_000_000;

    fn registry(cfg: BreakerConfig) -> (BreakerRegistry, RecordingSink) {
        let rec = RecordingSink::default();
        (BreakerRegistry::new(cfg, rec.sink()).unwrap(), rec)
    }

    fn small() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 3,
            cooldown_ms: 1_000,
            max_cooldown_ms: 5_000,
            probe_timeout_ms: 10_000,
            idle_evict_ms: 100_000,
            max_keys: 100,
        }
    }

    #[test]
    fn opens_after_threshold_and_rejects_until_cooldown() {
        let (mut r, ev) = registry(small());
        for _ in 0..2 {
            assert_eq!(r.try_acquire("k", T0), Permit::Allowed);
            r.record_failure("k", T0);
        }
        assert_eq!(r.state("k", T0).state, CircuitState::Closed);
        assert_eq!(r.state("k", T0).failures, 2);
        r.record_failure("k", T0);
        let s = r.state("k", T0);
        assert_eq!(s.state, CircuitState::Open);
        assert_eq!(s.opened_at_ms, Some(T0));
        assert_eq!(s.half_open_at_ms, Some(T0 + 1_000));
        assert_eq!(
            r.try_acquire("k", T0 + 999),
            Permit::Rejected {
                retry_at_ms: T0 + 1_000
            }
        );
        assert_eq!(r.state("k", T0 + 1_000).state, CircuitState::HalfOpen);
        assert_eq!(
            ev.events(),
            vec![Event::BreakerOpened {
                key: "k".into(),
                failures: 3,
                half_open_at_ms: T0 + 1_000
            }]
        );
        // other keys are unaffected
        assert_eq!(r.try_acquire("other", T0), Permit::Allowed);
    }

    #[test]
    fn half_open_allows_one_probe_and_success_closes() {
        let (mut r, ev) = registry(small());
        for _ in 0..3 {
            r.record_failure("k", T0);
        }
        assert_eq!(r.try_acquire("k", T0 + 1_000), Permit::Probe);
        assert_eq!(
            r.try_acquire("k", T0 + 1_001),
            Permit::Rejected {
                retry_at_ms: T0 + 11_000
            },
            "second caller rejected while the probe is in flight"
        );
        r.record_success("k", T0 + 1_500);
        let s = r.state("k", T0 + 1_500);
        assert_eq!(
            (s.state, s.failures, s.cooldown_ms),
            (CircuitState::Closed, 0, 1_000)
        );
        assert_eq!(r.try_acquire("k", T0 + 1_501), Permit::Allowed);
        assert!(r.is_empty(), "a healthy key is not tracked");
        let kinds: Vec<_> = ev
            .events()
            .into_iter()
            .map(|e| match e {
                Event::BreakerOpened { .. } => "opened",
                Event::BreakerHalfOpen { .. } => "half-open",
                Event::BreakerClosed { .. } => "closed",
                _ => "other",
            })
            .collect();
        assert_eq!(kinds, vec!["opened", "half-open", "closed"]);
    }

    #[test]
    fn probe_failure_reopens_with_doubled_capped_cooldown() {
        let (mut r, _) = registry(small());
        for _ in 0..3 {
            r.record_failure("k", T0);
        }
        let mut now = T0;
        let mut expected = [2_000, 4_000, 5_000, 5_000].into_iter();
        let mut cooldown = 1_000;
        for _ in 0..4 {
            now += cooldown;
            assert_eq!(r.try_acquire("k", now), Permit::Probe);
            r.record_failure("k", now);
            cooldown = expected.next().unwrap();
            let s = r.state("k", now);
            assert_eq!(s.state, CircuitState::Open);
            assert_eq!(s.cooldown_ms, cooldown);
            assert_eq!(s.half_open_at_ms, Some(now + cooldown));
        }
        // a success closes and the cooldown returns to base
        now += cooldown;
        assert_eq!(r.try_acquire("k", now), Permit::Probe);
        r.record_success("k", now);
        for _ in 0..3 {
            r.record_failure("k", now);
        }
        assert_eq!(r.state("k", now).cooldown_ms, 1_000);
    }

    #[test]
    fn lost_probe_lease_expires() {
        let (mut r, _) = registry(small());
        for _ in 0..3 {
            r.record_failure("k", T0);
        }
        assert_eq!(r.try_acquire("k", T0 + 1_000), Permit::Probe);
        assert!(matches!(
            r.try_acquire("k", T0 + 10_999),
            Permit::Rejected { .. }
        ));
        assert_eq!(r.try_acquire("k", T0 + 11_000), Permit::Probe);
    }

    #[test]
    fn success_resets_the_closed_count_and_is_ignored_while_open() {
        let (mut r, _) = registry(small());
        r.record_failure("k", T0);
        r.record_failure("k", T0);
        r.record_success("k", T0);
        r.record_failure("k", T0);
        r.record_failure("k", T0);
        assert_eq!(r.state("k", T0).state, CircuitState::Closed);
        r.record_failure("k", T0);
        r.record_success("k", T0 + 1);
        assert_eq!(r.state("k", T0 + 1).state, CircuitState::Open);
        assert!(r.reset("k"));
        assert_eq!(r.state("k", T0 + 1).state, CircuitState::Closed);
        assert!(!r.reset("k"));
    }

    #[test]
    fn idle_keys_are_evicted_in_every_state_and_capped() {
        let (mut r, _) = registry(BreakerConfig {
            max_keys: 3,
            ..small()
        });
        r.record_failure("closed", T0);
        for _ in 0..3 {
            r.record_failure("open", T0);
        }
        for _ in 0..3 {
            r.record_failure("half", T0);
        }
        assert_eq!(r.try_acquire("half", T0 + 1_000), Permit::Probe);
        assert_eq!(r.len(), 3);
        assert_eq!(r.evict_idle(T0 + 100_000), 2, "closed and open are idle");
        assert_eq!(r.evict_idle(T0 + 101_000), 1, "a stuck half-open goes too");
        assert!(r.is_empty());
        for k in ["a", "b", "c", "d"] {
            r.record_failure(k, T0);
        }
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.state("a", T0).failures,
            0,
            "least recently used forgotten"
        );
        assert_eq!(r.states(T0).len(), 3);
    }

    #[test]
    fn serialises_camel_case() {
        let (mut r, _) = registry(small());
        for _ in 0..3 {
            r.record_failure("k", T0);
        }
        assert_eq!(
            serde_json::to_value(r.state("k", T0)).unwrap(),
            serde_json::json!({"state":"open","failures":3,"openedAtMs":T0,
                "halfOpenAtMs":T0 + 1_000,"cooldownMs":1_000})
        );
        assert_eq!(
            serde_json::to_value(r.try_acquire("k", T0)).unwrap(),
            serde_json::json!({"permit":"rejected","retryAtMs":T0 + 1_000})
        );
        assert_eq!(
            serde_json::to_value(Permit::Probe).unwrap(),
            serde_json::json!({"permit":"probe"})
        );
    }

    #[test]
    fn runs_on_a_manual_clock() {
        let clock = ManualClock::new(T0);
        let (mut r, _) = registry(small());
        for _ in 0..3 {
            r.record_failure("k", clock.now_ms());
        }
        clock.advance(999);
        assert!(matches!(
            r.try_acquire("k", clock.now_ms()),
            Permit::Rejected { .. }
        ));
        clock.advance(1);
        assert_eq!(r.try_acquire("k", clock.now_ms()), Permit::Probe);
    }

    #[tokio::test(start_paused = true)]
    async fn waits_out_the_cooldown_on_paused_tokio_time() {
        let clock = TokioClock::starting_at(T0);
        let (mut r, _) = registry(BreakerConfig::default());
        for _ in 0..5 {
            assert_eq!(r.try_acquire("provider", clock.now_ms()), Permit::Allowed);
            r.record_failure("provider", clock.now_ms());
        }
        let Permit::Rejected { retry_at_ms } = r.try_acquire("provider", clock.now_ms()) else {
            panic!("expected the breaker to be open");
        };
        assert_eq!(retry_at_ms, T0 + 30_000);
        let wait = (retry_at_ms - clock.now_ms()) as u64;
        tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
        assert_eq!(r.try_acquire("provider", clock.now_ms()), Permit::Probe);
        r.record_success("provider", clock.now_ms());
        assert_eq!(
            r.state("provider", clock.now_ms()).state,
            CircuitState::Closed
        );
    }
}
