//! The scheduler's side of fleet coordination ([`crate::state::coordination`]): before a group's
//! probe is sent the coordinator is asked who probes; the probe's outcome is handed back to it;
//! outcomes other engines publish release or re-park this engine's own entries of the group.
//!
//! - `Mine`: probe as a lone engine would.
//! - `Elsewhere`: the group is *watched*: its entries stay parked and no probe is planned for it
//!   until the other engine's outcome arrives or `reclaim_at_ms` passes (then it is claimed
//!   again: that is the polled fallback, and how a dead prober is replaced).
//! - `Known` (or an outcome message): `Ok` releases the group's parked entries due within
//!   `release_ahead_ms`, as a local probe's success would (no attempt is counted: this engine
//!   sent nothing); `Failed` moves its parked entries due earlier to the retry time.
//!
//! With the default [`crate::state::coordination::Solo`] every claim is `Mine` and nothing
//! else here runs.

use super::probe::GroupPhase;
use super::runner::{status_change, Runner};
use crate::events::Event;
use crate::state::coordination::{GroupOutcome, ProbeClaim};
use crate::state::{EntryStatus, ParkedEntry, QueueChange};

impl Runner {
    /// Groups whose due entries must not be planned now: a local probe is out, or another
    /// engine's is.
    pub(super) fn skip_groups(&self) -> Vec<String> {
        let mut groups = self.groups.probing_groups();
        groups.extend(self.watching.keys().cloned());
        groups.sort();
        groups.dedup();
        groups
    }

    /// Ask the fleet whether this engine probes `entry`'s group.
    pub(super) async fn claim(&self, entry: &ParkedEntry, now: i64) -> ProbeClaim {
        self.coordinator
            .claim_probe(&entry.group, entry.last_failed_at_ms, now)
            .await
    }

    /// The group of `entry` is being probed elsewhere: wait for its outcome until `at`.
    pub(super) fn watch(&mut self, group: &str, reclaim_at_ms: i64) {
        self.watching.insert(group.to_string(), reclaim_at_ms);
        self.dirty = true;
    }

    /// Watched groups whose reclaim time has come become plannable again.
    pub(super) fn expire_watches(&mut self, now: i64) {
        let before = self.watching.len();
        self.watching.retain(|_, at| *at > now);
        if self.watching.len() != before {
            self.dirty = true;
        }
    }

    /// The earliest reclaim time of a watched group.
    pub(super) fn next_reclaim(&self) -> Option<i64> {
        self.watching.values().copied().min()
    }

    /// Hand this engine's probe outcome to the fleet (in the background: the scheduler never
    /// waits on shared state after the fact).
    pub(super) fn publish_outcome(&self, group: &str, outcome: GroupOutcome) {
        let coordinator = self.coordinator.clone();
        let group = group.to_string();
        tokio::spawn(async move { coordinator.finish_probe(&group, outcome).await });
    }

    /// Act on an outcome learned from the fleet for `group`.
    pub(super) async fn on_fleet_outcome(&mut self, group: String, outcome: GroupOutcome) {
        if matches!(self.groups.phase(&group), GroupPhase::Probing { .. }) {
            return; // this engine's own probe of the group decides
        }
        let was_watched = self.watching.remove(&group).is_some();
        self.dirty = true;
        let now = self.now();
        self.write_deferred().await;
        let entries: Vec<ParkedEntry> = match self.store.all_entries().await {
            Ok(all) => all
                .into_iter()
                .filter(|e| e.group == group && e.status == EntryStatus::Parked)
                .filter(|e| !self.held.contains_key(&e.session_key))
                .filter(|e| !self.pending.iter().any(|c| c.key() == e.session_key))
                .collect(),
            Err(_) => return, // the next claim will learn it again
        };
        let (count, retry_at_ms) = match outcome {
            GroupOutcome::Ok { .. } => (self.release_on_fleet_ok(&group, entries, now).await, None),
            GroupOutcome::Failed { retry_at_ms, .. } => (
                self.repark_on_fleet_failure(entries, retry_at_ms).await,
                Some(retry_at_ms),
            ),
        };
        if count > 0 || was_watched {
            self.emit(Event::FleetOutcome {
                group,
                ok: matches!(outcome, GroupOutcome::Ok { .. }),
                entries: count,
                retry_at_ms,
            });
        }
    }

    async fn release_on_fleet_ok(
        &mut self,
        group: &str,
        entries: Vec<ParkedEntry>,
        now: i64,
    ) -> usize {
        let ahead = now + self.cfg.release_ahead_ms;
        let members: Vec<ParkedEntry> = entries
            .into_iter()
            .filter(|e| e.retry_at_ms <= ahead && e.attempts < self.cfg.max_attempts)
            .collect();
        let n = members.len();
        if n == 0 {
            return 0;
        }
        match self.groups.phase(group) {
            GroupPhase::Releasing { .. } => self.groups.join_release(group, n),
            _ => self.groups.probe_ok(group, n),
        }
        let mut changes = Vec::with_capacity(n);
        for entry in members {
            changes.push(status_change(&entry.session_key, EntryStatus::Released));
            self.schedule_release(entry, now);
        }
        self.persist(changes).await;
        n
    }

    async fn repark_on_fleet_failure(
        &mut self,
        entries: Vec<ParkedEntry>,
        retry_at_ms: i64,
    ) -> usize {
        let changes: Vec<QueueChange> = entries
            .into_iter()
            .filter(|e| e.retry_at_ms < retry_at_ms)
            .map(|e| QueueChange::SetStatus {
                session_key: e.session_key,
                status: EntryStatus::Parked,
                retry_at_ms: Some(retry_at_ms),
            })
            .collect();
        let n = changes.len();
        self.persist(changes).await;
        n
    }
}
