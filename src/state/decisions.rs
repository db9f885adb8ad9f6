//! The decision-state seam: what the policy, the breakers and the `message_sending` guard
//! remember per key ([`DecisionState`]), the changes made to it ([`DecisionChange`]) and where
//! it is kept ([`DecisionStore`]).
//!
//! The engine keeps the working copy in memory (decisions are synchronous and must stay
//! cheap); the store receives every change shortly after it happens and hands everything back
//! at `start()`, so a restart keeps every decision. All times are epoch ms: a restored
//! cooldown, disable or alert window is judged against the wall clock.
//!
//! A backend shared by several engines (e.g. Redis) implements the same trait; everything the
//! policy and breaker code needs goes through these types, so it never changes per backend.

use super::recovery::RecoveryReport;
use crate::breaker::BreakerRecord;
use crate::error::EngineResult;
use crate::policy::KeyRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table a decision record belongs to. Serialised `"policy"`, `"breaker"`, `"guard"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionTable {
    /// Per-key policy state (`recordFailure`).
    Policy,
    /// Keyed circuit breakers (`breakerAcquire`/`breakerRecord`).
    Breaker,
    /// Per-room `message_sending` guard (`checkMessage`).
    Guard,
}

/// One record of any table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DecisionRecord {
    /// A policy key's record.
    Policy(KeyRecord),
    /// A breaker's (or guarded room's) record.
    Breaker(BreakerRecord),
}

/// One change: `record: None` removes the key (success, reset, eviction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionChange {
    /// The table.
    pub table: DecisionTable,
    /// The key (policy key, breaker key, or room key).
    pub key: String,
    /// The key's record now, or `None` when it is gone.
    pub record: Option<DecisionRecord>,
}

/// Every decision record, by table and key: what `exportState()` returns and `importState()`
/// takes. Serialised in camelCase: `{"policy":{…},"breakers":{…},"guard":{…}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionState {
    /// Policy records by key.
    #[serde(default)]
    pub policy: BTreeMap<String, KeyRecord>,
    /// Breaker records by key.
    #[serde(default)]
    pub breakers: BTreeMap<String, BreakerRecord>,
    /// Guard records by room key.
    #[serde(default)]
    pub guard: BTreeMap<String, BreakerRecord>,
}

impl DecisionState {
    /// Apply one change (a record of the wrong kind for its table is ignored).
    pub fn apply(&mut self, change: DecisionChange) {
        let DecisionChange { table, key, record } = change;
        match (table, record) {
            (DecisionTable::Policy, None) => {
                self.policy.remove(&key);
            }
            (DecisionTable::Breaker, None) => {
                self.breakers.remove(&key);
            }
            (DecisionTable::Guard, None) => {
                self.guard.remove(&key);
            }
            (DecisionTable::Policy, Some(DecisionRecord::Policy(r))) => {
                self.policy.insert(key, r);
            }
            (DecisionTable::Breaker, Some(DecisionRecord::Breaker(r))) => {
                self.breakers.insert(key, r);
            }
            (DecisionTable::Guard, Some(DecisionRecord::Breaker(r))) => {
                self.guard.insert(key, r);
            }
            _ => {}
        }
    }

    /// Number of records over all tables.
    pub fn len(&self) -> usize {
        self.policy.len() + self.breakers.len() + self.guard.len()
    }

    /// Whether there is no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record as a change (e.g. to write a snapshot), tables in order.
    pub fn changes(&self) -> impl Iterator<Item = DecisionChange> + '_ {
        let policy = self.policy.iter().map(|(k, r)| DecisionChange {
            table: DecisionTable::Policy,
            key: k.clone(),
            record: Some(DecisionRecord::Policy(r.clone())),
        });
        let breakers = self.breakers.iter().map(|(k, r)| DecisionChange {
            table: DecisionTable::Breaker,
            key: k.clone(),
            record: Some(DecisionRecord::Breaker(r.clone())),
        });
        let guard = self.guard.iter().map(|(k, r)| DecisionChange {
            table: DecisionTable::Guard,
            key: k.clone(),
            record: Some(DecisionRecord::Breaker(r.clone())),
        });
        policy.chain(breakers).chain(guard)
    }
}

/// What [`DecisionStore::load`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadedDecisions {
    /// Every readable record.
    pub state: DecisionState,
    /// Damaged files repaired on the way (every readable record kept).
    pub recoveries: Vec<RecoveryReport>,
}

/// Where decision state is kept. Blocking; the engine calls it from a background thread.
pub trait DecisionStore: Send + Sync + 'static {
    /// Everything stored (at `start()`); `now_ms` names damaged files kept aside.
    fn load(&self, now_ms: i64) -> EngineResult<LoadedDecisions>;
    /// Apply `changes` in order; durable on return (one write for the whole slice).
    fn write(&self, changes: &[DecisionChange]) -> EngineResult<()>;
}
