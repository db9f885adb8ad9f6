//! Per-room suppression of repeated surfaced error messages, for OpenClaw's `message_sending`
//! hook.
//!
//! Each room has a breaker (default threshold 1, cooldown 30 s doubling to 10 min). While it
//! is closed a surfaced error message passes and counts as a failure; once open, further
//! surfaced errors are cancelled; after the cooldown one surfaced error passes as the
//! half-open probe (and, being an error, re-opens the breaker with a doubled cooldown).
//! A normal reply is never cancelled and closes the room's breaker.
//! Breaker events from the guard carry the key `message:<room>`.

use super::config::BreakerConfig;
use super::registry::{BreakerRegistry, Permit};
use super::state::{BreakerState, CircuitState};
use crate::error::EngineResult;
use crate::events::EventSink;
use serde::Serialize;

/// Prefix of the guard's breaker keys (and of the keys in its events).
pub const MESSAGE_KEY_PREFIX: &str = "message:";

/// The answer for one outgoing message. Serialised in camelCase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageVerdict {
    /// Return `{cancel: true}` from the hook.
    pub cancel: bool,
    /// The room's breaker state after this message.
    pub state: CircuitState,
}

/// Per-room message guard. Not internally synchronised: wrap in a mutex to share.
#[derive(Debug)]
pub struct MessageGuard {
    rooms: BreakerRegistry,
}

impl MessageGuard {
    /// The guard's default breaker config: threshold 1 (the first surfaced error passes,
    /// repeats are cancelled), cooldown 30 s doubling to 600 s, keys idle 1 h forgotten,
    /// at most 100 000 rooms.
    pub fn default_config() -> BreakerConfig {
        BreakerConfig {
            failure_threshold: 1,
            ..BreakerConfig::default()
        }
    }

    /// A guard with `cfg` (validated; errors name `messageGuard.<field>`).
    pub fn new(cfg: BreakerConfig, events: EventSink) -> EngineResult<Self> {
        Ok(Self {
            rooms: BreakerRegistry::with_field_prefix(cfg, events, "messageGuard")?,
        })
    }

    fn key(room_key: &str) -> String {
        format!("{MESSAGE_KEY_PREFIX}{room_key}")
    }

    /// Judge one outgoing message to `room_key` at `now_ms`. `is_surfaced_error` comes from
    /// the classifier (the message is a provider error shown to the user).
    pub fn check(
        &mut self,
        room_key: &str,
        is_surfaced_error: bool,
        now_ms: i64,
    ) -> MessageVerdict {
        let key = Self::key(room_key);
        let cancel = if is_surfaced_error {
            match self.rooms.try_acquire(&key, now_ms) {
                Permit::Allowed | Permit::Probe => {
                    self.rooms.record_failure(&key, now_ms);
                    false
                }
                Permit::Rejected { .. } => true,
            }
        } else {
            self.rooms.reset(&key);
            false
        };
        MessageVerdict {
            cancel,
            state: self.rooms.state(&key, now_ms).state,
        }
    }

    /// The room's breaker state at `now_ms`.
    pub fn state(&self, room_key: &str, now_ms: i64) -> BreakerState {
        self.rooms.state(&Self::key(room_key), now_ms)
    }

    /// Forget rooms idle past the configured time, in every state. Returns how many.
    pub fn evict_idle(&mut self, now_ms: i64) -> usize {
        self.rooms.evict_idle(now_ms)
    }

    /// The rooms' breakers (keys `message:<room>`), e.g. to persist or restore them.
    pub fn rooms(&mut self) -> &mut BreakerRegistry {
        &mut self.rooms
    }

    /// Number of rooms tracked.
    pub fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Whether no room is tracked.
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Event, RecordingSink};

    const T0: i64 = 1_795_000_000_000;

    fn guard() -> (MessageGuard, RecordingSink) {
        let rec = RecordingSink::default();
        (
            MessageGuard::new(MessageGuard::default_config(), rec.sink()).unwrap(),
            rec,
        )
    }

    #[test]
    fn first_error_passes_repeats_are_cancelled() {
        let (mut g, ev) = guard();
        let v = g.check("room", true, T0);
        assert_eq!(
            v,
            MessageVerdict {
                cancel: false,
                state: CircuitState::Open
            }
        );
        for i in 1..10 {
            assert!(g.check("room", true, T0 + i * 1_000).cancel);
        }
        // another room is independent
        assert!(!g.check("other", true, T0).cancel);
        assert_eq!(
            ev.events()[0],
            Event::BreakerOpened {
                key: "message:room".into(),
                failures: 1,
                half_open_at_ms: T0 + 30_000
            }
        );
    }

    #[test]
    fn normal_replies_never_cancel_and_close_the_room() {
        let (mut g, _) = guard();
        assert!(!g.check("room", false, T0).cancel);
        assert!(g.is_empty(), "normal replies alone track nothing");
        g.check("room", true, T0);
        assert!(g.check("room", true, T0 + 1).cancel);
        let v = g.check("room", false, T0 + 2);
        assert_eq!(
            v,
            MessageVerdict {
                cancel: false,
                state: CircuitState::Closed
            }
        );
        assert!(
            !g.check("room", true, T0 + 3).cancel,
            "closed again: first error passes"
        );
    }

    #[test]
    fn one_error_passes_per_cooldown_which_doubles() {
        let (mut g, _) = guard();
        g.check("room", true, T0);
        assert!(g.check("room", true, T0 + 29_999).cancel);
        assert_eq!(g.state("room", T0 + 30_000).state, CircuitState::HalfOpen);
        // the half-open probe passes, then re-opens with 60 s
        assert!(!g.check("room", true, T0 + 30_000).cancel);
        assert_eq!(g.state("room", T0 + 30_000).cooldown_ms, 60_000);
        assert!(g.check("room", true, T0 + 89_999).cancel);
        assert!(!g.check("room", true, T0 + 90_000).cancel);
        assert_eq!(g.state("room", T0 + 90_000).cooldown_ms, 120_000);
        // a normal reply closes and the cooldown returns to base
        g.check("room", false, T0 + 91_000);
        g.check("room", true, T0 + 92_000);
        assert_eq!(g.state("room", T0 + 92_000).cooldown_ms, 30_000);
    }

    #[test]
    fn idle_rooms_are_forgotten_and_config_is_checked() {
        let (mut g, _) = guard();
        g.check("room", true, T0);
        assert_eq!(g.len(), 1);
        assert_eq!(g.evict_idle(T0 + 3_599_999), 0);
        assert_eq!(g.evict_idle(T0 + 3_600_000), 1);
        assert!(!g.check("room", true, T0 + 3_600_001).cancel);
        let bad = BreakerConfig {
            failure_threshold: 0,
            ..MessageGuard::default_config()
        };
        let e = MessageGuard::new(bad, crate::events::null_sink()).unwrap_err();
        assert!(e.to_string().contains("messageGuard.failureThreshold"));
    }

    #[test]
    fn verdict_serialises_camel_case() {
        let (mut g, _) = guard();
        g.check("room", true, T0);
        assert_eq!(
            serde_json::to_value(g.check("room", true, T0 + 1)).unwrap(),
            serde_json::json!({"cancel": true, "state": "open"})
        );
    }
}
