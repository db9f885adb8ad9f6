//! Whether Redis is reachable, and what to tell the others once it is again.
//!
//! The first failed call flips the backend to degraded (one `state_degraded` event); the first
//! successful call after that flips it back (one `state-recovered` event) and hands over the
//! group outcomes this engine learned meanwhile, so the fleet catches up.

use crate::events::{Event, EventSink};
use crate::state::coordination::GroupOutcome;
use crate::state::{DecisionChange, DecisionTable};
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Default)]
struct Inner {
    degraded_since_ms: Option<i64>,
    /// Latest outcome per group learned while degraded, to publish on recovery.
    unpublished: BTreeMap<String, GroupOutcome>,
    /// Latest decision change per key made while degraded, to share on recovery.
    unshared: BTreeMap<(DecisionTable, String), DecisionChange>,
}

/// What a degraded spell left to send, returned by [`Health::succeeded`].
#[derive(Debug, Default, PartialEq)]
pub(super) struct Backlog {
    pub outcomes: Vec<(String, GroupOutcome)>,
    pub decisions: Vec<DecisionChange>,
    pub degraded_ms: i64,
}

/// Reachability of the backend, shared by every task of one coordinator.
pub(super) struct Health {
    inner: Mutex<Inner>,
    events: EventSink,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("degraded", &self.is_degraded())
            .finish()
    }
}

impl Health {
    pub(super) fn new(events: EventSink) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            events,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last call failed.
    pub(super) fn is_degraded(&self) -> bool {
        self.lock().degraded_since_ms.is_some()
    }

    /// A call failed at `now_ms` with `message` (already secret-free).
    pub(super) fn failed(&self, message: String, now_ms: i64) {
        let first = {
            let mut g = self.lock();
            let first = g.degraded_since_ms.is_none();
            if first {
                g.degraded_since_ms = Some(now_ms);
            }
            first
        };
        if first {
            (self.events)(Event::StateDegraded {
                backend: "redis".into(),
                message,
            });
        }
    }

    /// Keep `outcome` to publish when the backend is back (only the latest per group).
    pub(super) fn keep_unpublished(&self, group: &str, outcome: GroupOutcome) {
        let mut g = self.lock();
        let newer = g
            .unpublished
            .get(group)
            .is_none_or(|cur| cur.at_ms() <= outcome.at_ms());
        if newer {
            g.unpublished.insert(group.to_string(), outcome);
        }
    }

    /// Keep a decision change to share when the backend is back (the latest per key).
    pub(super) fn keep_unshared(&self, change: DecisionChange) {
        let key = (change.table, change.key.clone());
        self.lock().unshared.insert(key, change);
    }

    /// A call succeeded at `now_ms`. When this ends a degraded spell, returns what to send and
    /// how long it lasted; the caller sends it and then calls [`Health::recovered`].
    pub(super) fn succeeded(&self, now_ms: i64) -> Option<Backlog> {
        let mut g = self.lock();
        let since = g.degraded_since_ms.take()?;
        Some(Backlog {
            outcomes: std::mem::take(&mut g.unpublished).into_iter().collect(),
            decisions: std::mem::take(&mut g.unshared).into_values().collect(),
            degraded_ms: (now_ms - since).max(0),
        })
    }

    /// Report the end of a degraded spell.
    pub(super) fn recovered(&self, degraded_ms: i64, caught_up: usize) {
        (self.events)(Event::StateRecovered {
            backend: "redis".into(),
            degraded_ms,
            caught_up,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RecordingSink;

    #[test]
    fn one_event_per_spell_and_the_latest_outcome_per_group_is_kept() {
        let rec = RecordingSink::default();
        let h = Health::new(rec.sink());
        assert!(h.succeeded(0).is_none());
        h.failed("down".into(), 10);
        h.failed("still down".into(), 20);
        assert!(h.is_degraded());
        h.keep_unpublished("g", GroupOutcome::Ok { at_ms: 30 });
        h.keep_unpublished("g", GroupOutcome::Ok { at_ms: 25 });
        h.keep_unpublished(
            "h",
            GroupOutcome::Failed {
                at_ms: 31,
                retry_at_ms: 90,
            },
        );
        let backlog = h.succeeded(110).unwrap();
        let ms = backlog.degraded_ms;
        assert_eq!(ms, 100);
        let backlog = backlog.outcomes;
        assert_eq!(
            backlog,
            vec![
                ("g".to_string(), GroupOutcome::Ok { at_ms: 30 }),
                (
                    "h".to_string(),
                    GroupOutcome::Failed {
                        at_ms: 31,
                        retry_at_ms: 90
                    }
                ),
            ]
        );
        h.recovered(ms, backlog.len());
        assert!(!h.is_degraded() && h.succeeded(120).is_none());
        let types: Vec<_> = rec
            .events()
            .iter()
            .map(|e| serde_json::to_value(e).unwrap()["type"].clone())
            .collect();
        assert_eq!(types, ["state_degraded", "state_recovered"]);
    }
}
