//! One breaker's state machine data and its serialisable view.

use crate::keyed_store::IdleSince;
use serde::{Deserialize, Serialize};

/// The three breaker states. Serialised `"closed"`, `"open"`, `"half_open"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    /// Calls pass; failures are counted.
    Closed,
    /// Calls are rejected until the cooldown ends.
    Open,
    /// One probe call is allowed; its outcome closes or re-opens the breaker.
    HalfOpen,
}

/// Phase of a tracked breaker. Serialised `{"state":"open","halfOpenAtMs":…}` etc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Phase {
    /// Calls pass.
    Closed,
    /// Calls are rejected until `half_open_at_ms` (epoch ms).
    Open {
        /// When the next caller becomes the probe.
        half_open_at_ms: i64,
    },
    /// One probe is in flight since `probe_started_at_ms` (epoch ms).
    HalfOpen {
        /// When the probe was admitted.
        probe_started_at_ms: i64,
    },
}

/// One breaker's record: persisted in the decision state (`crate::state::DecisionStore`) and
/// exported by `exportState()`. A key without a record is closed with no failures. Times are
/// epoch ms. Serialised in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerRecord {
    /// Where the breaker is.
    pub phase: Phase,
    /// Consecutive failures counted.
    pub failures: u32,
    /// The cooldown the next opening uses.
    pub cooldown_ms: i64,
    /// When it last opened.
    pub opened_at_ms: Option<i64>,
    /// Last acquire/record (idle eviction counts from here).
    pub last_activity_ms: i64,
}

impl BreakerRecord {
    /// A closed record with no failures.
    pub fn new(cooldown_ms: i64, now_ms: i64) -> Self {
        Self {
            phase: Phase::Closed,
            failures: 0,
            cooldown_ms,
            opened_at_ms: None,
            last_activity_ms: now_ms,
        }
    }

    /// The public view at `now_ms`.
    pub fn view(&self, now_ms: i64) -> BreakerState {
        let (state, half_open_at_ms) = match self.phase {
            Phase::Closed => (CircuitState::Closed, None),
            Phase::Open { half_open_at_ms } if now_ms >= half_open_at_ms => {
                (CircuitState::HalfOpen, Some(half_open_at_ms))
            }
            Phase::Open { half_open_at_ms } => (CircuitState::Open, Some(half_open_at_ms)),
            Phase::HalfOpen { .. } => (CircuitState::HalfOpen, None),
        };
        BreakerState {
            state,
            failures: self.failures,
            opened_at_ms: self.opened_at_ms,
            half_open_at_ms,
            cooldown_ms: self.cooldown_ms,
        }
    }
}

impl IdleSince for BreakerRecord {
    fn idle_since_ms(&self) -> i64 {
        self.last_activity_ms
    }
}

/// A breaker's state at a point in time. Serialised in camelCase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerState {
    /// Closed, open or half-open (an open breaker past its cooldown reports half-open).
    pub state: CircuitState,
    /// Consecutive failures counted.
    pub failures: u32,
    /// When it last opened (epoch ms).
    pub opened_at_ms: Option<i64>,
    /// While open: when it goes half-open (epoch ms).
    pub half_open_at_ms: Option<i64>,
    /// The cooldown the next opening uses (doubles per failed probe, capped).
    pub cooldown_ms: i64,
}
