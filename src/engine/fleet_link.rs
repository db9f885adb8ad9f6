//! [`FleetLink`]: how the engine's synchronous decisions (policy, breakers) reach the other
//! engines of a fleet and theirs reach it.
//!
//! Decisions stay synchronous and local (microseconds, no network on the hot path). After a
//! call changes a key's record, the record is handed to the coordinator, which shares it in
//! the background. Records other engines share land in an inbox and are applied at the start
//! of this engine's next decision call (an atomic flag keeps that free when nothing came), so
//! an open breaker or a disabled key learned anywhere applies everywhere within a pub/sub hop.
//! Without `state.redis` there is no coordinator and none of this runs.

use super::{locked, Engine};
use crate::state::coordination::Coordinator;
use crate::state::{DecisionChange, DecisionRecord, DecisionState, DecisionTable};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The engine's end of fleet decision sharing (default: not linked).
#[derive(Default)]
pub(crate) struct FleetLink {
    coordinator: Mutex<Option<Arc<dyn Coordinator>>>,
    inbox: Arc<Mutex<Vec<DecisionChange>>>,
    mail: Arc<AtomicBool>,
    /// Whether a coordinator is set: read without the lock on every decision call.
    linked: AtomicBool,
}

impl FleetLink {
    /// Start sharing through `coordinator`; `loaded` is what the fleet already knows.
    pub(crate) fn link(&self, coordinator: Arc<dyn Coordinator>, loaded: Option<DecisionState>) {
        let (inbox, mail) = (self.inbox.clone(), self.mail.clone());
        coordinator.listen_decisions(Arc::new(move |change| {
            locked(&inbox).push(change);
            mail.store(true, Ordering::Release);
        }));
        if let Some(state) = loaded {
            locked(&self.inbox).extend(state.changes());
            self.mail.store(true, Ordering::Release);
        }
        *locked(&self.coordinator) = Some(coordinator);
        self.linked.store(true, Ordering::Release);
    }

    /// Stop sharing (at `close()`).
    pub(crate) fn unlink(&self) {
        self.linked.store(false, Ordering::Release);
        *locked(&self.coordinator) = None;
    }

    fn coordinator(&self) -> Option<Arc<dyn Coordinator>> {
        if !self.linked.load(Ordering::Acquire) {
            return None;
        }
        locked(&self.coordinator).clone()
    }
}

impl Engine {
    /// Apply what other engines shared since the last call.
    pub(crate) fn apply_fleet_mail(&self) {
        // A plain load first: the common case (nothing came) writes nothing.
        if !self.fleet.mail.load(Ordering::Relaxed)
            || !self.fleet.mail.swap(false, Ordering::Acquire)
        {
            return;
        }
        let changes = std::mem::take(&mut *locked(&self.fleet.inbox));
        for DecisionChange { table, key, record } in changes {
            match (table, record) {
                (DecisionTable::Policy, Some(DecisionRecord::Policy(r))) => {
                    locked(&self.tables.policy).put_record(&key, Some(r))
                }
                (DecisionTable::Policy, None) => locked(&self.tables.policy).put_record(&key, None),
                (DecisionTable::Breaker, Some(DecisionRecord::Breaker(r))) => {
                    locked(&self.tables.breakers).put_record(&key, Some(r))
                }
                (DecisionTable::Breaker, None) => {
                    locked(&self.tables.breakers).put_record(&key, None)
                }
                _ => {}
            }
        }
    }

    /// Share `key`'s policy record as it is now.
    pub(crate) fn share_policy(&self, key: &str) {
        let Some(c) = self.fleet.coordinator() else {
            return;
        };
        let record = locked(&self.tables.policy).record_of(key).cloned();
        c.share_decision(DecisionChange {
            table: DecisionTable::Policy,
            key: key.to_string(),
            record: record.map(DecisionRecord::Policy),
        });
    }

    /// Share `key`'s breaker record as it is now.
    pub(crate) fn share_breaker(&self, key: &str) {
        let Some(c) = self.fleet.coordinator() else {
            return;
        };
        let record = locked(&self.tables.breakers).record_of(key).cloned();
        c.share_decision(DecisionChange {
            table: DecisionTable::Breaker,
            key: key.to_string(),
            record: record.map(DecisionRecord::Breaker),
        });
    }
}
