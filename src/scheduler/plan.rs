//! Pure batch planning: given the due entries, decide which are abandoned, which become the
//! one probe of their group, and which join a group that is already releasing.

use super::probe::{GroupPhase, GroupTable};
use crate::state::ParkedEntry;
use std::collections::BTreeMap;

/// What to do with one batch of due entries.
#[derive(Debug, Default, PartialEq)]
pub struct BatchPlan {
    /// Entries already at `max_attempts`: remove them with an `Abandoned` event.
    pub abandon: Vec<ParkedEntry>,
    /// One entry per idle group: the oldest (earliest `first_failed_at_ms`, then key).
    pub probes: Vec<ParkedEntry>,
    /// Entries of groups whose probe already succeeded: release without a new probe.
    pub join: Vec<ParkedEntry>,
}

/// Plan a batch. Entries of groups with a probe out, entries already `is_tracked`, and the
/// non-probe entries of idle groups are left parked (they wait for the probe's outcome).
pub fn plan_batch(
    due: Vec<ParkedEntry>,
    groups: &GroupTable,
    is_tracked: impl Fn(&str) -> bool,
    max_attempts: u32,
) -> BatchPlan {
    let mut plan = BatchPlan::default();
    let mut oldest: BTreeMap<String, ParkedEntry> = BTreeMap::new();
    for entry in due {
        if is_tracked(&entry.session_key) {
            continue;
        }
        if entry.attempts >= max_attempts {
            plan.abandon.push(entry);
            continue;
        }
        match groups.phase(&entry.group) {
            GroupPhase::Probing { .. } => {}
            GroupPhase::Releasing { .. } => plan.join.push(entry),
            GroupPhase::Idle => {
                let older = |cur: &ParkedEntry| {
                    (entry.first_failed_at_ms, &entry.session_key)
                        < (cur.first_failed_at_ms, &cur.session_key)
                };
                match oldest.get(&entry.group) {
                    Some(cur) if !older(cur) => {}
                    _ => {
                        oldest.insert(entry.group.clone(), entry);
                    }
                }
            }
        }
    }
    plan.probes = oldest.into_values().collect();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn e(key: &str, group: &str, first: i64, attempts: u32) -> ParkedEntry {
        let mut e = ParkedEntry::new(key, Reason::Quota, first, 0, "").in_group(group);
        e.attempts = attempts;
        e
    }

    #[test]
    fn one_oldest_probe_per_idle_group() {
        let groups = GroupTable::default();
        let due = vec![
            e("b", "g1", 5, 1),
            e("a", "g1", 5, 1),
            e("c", "g1", 9, 1),
            e("z", "g2", 1, 1),
        ];
        let plan = plan_batch(due, &groups, |_| false, 5);
        let keys: Vec<_> = plan.probes.iter().map(|e| e.session_key.as_str()).collect();
        assert_eq!(keys, ["a", "z"]);
        assert!(plan.join.is_empty() && plan.abandon.is_empty());
    }

    #[test]
    fn busy_groups_wait_releasing_groups_join_and_spent_entries_are_abandoned() {
        let mut groups = GroupTable::default();
        groups.start_probe("busy", "p");
        groups.start_probe("rel", "q");
        groups.probe_ok("rel", 3);
        let due = vec![
            e("x", "busy", 0, 1),
            e("y", "rel", 0, 1),
            e("spent", "idle", 0, 5),
            e("tracked", "idle", 0, 1),
        ];
        let plan = plan_batch(due, &groups, |k| k == "tracked", 5);
        assert_eq!(plan.abandon.len(), 1);
        assert_eq!(plan.abandon[0].session_key, "spent");
        assert_eq!(plan.join.len(), 1);
        assert_eq!(plan.join[0].session_key, "y");
        assert!(plan.probes.is_empty());
    }
}
