//! Per-group probe state machine: `Idle` → `Probing` → (`Releasing` → `Idle`) or back to `Idle`
//! with one more consecutive failure. Pure; the runner drives it.

use std::collections::HashMap;

/// Where a provider/budget group is in its resume cycle.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum GroupPhase {
    /// Nothing in flight; the next due entry becomes a probe (default).
    #[default]
    Idle,
    /// One probe is queued, in flight, or waiting for its confirmation.
    Probing {
        /// The probe's session key.
        key: String,
    },
    /// The probe succeeded; `outstanding` released entries are not yet acknowledged. Entries
    /// of this group that fall due now join the release without a new probe.
    Releasing {
        /// Released resends queued or in flight.
        outstanding: usize,
    },
}

#[derive(Debug, Default)]
struct GroupState {
    phase: GroupPhase,
    consecutive_failures: u32,
}

/// The phase and failure streak of every group the scheduler has touched.
#[derive(Debug, Default)]
pub struct GroupTable {
    groups: HashMap<String, GroupState>,
}

impl GroupTable {
    /// The group's phase ([`GroupPhase::Idle`] for an unknown group).
    pub fn phase(&self, group: &str) -> GroupPhase {
        self.groups
            .get(group)
            .map(|g| g.phase.clone())
            .unwrap_or_default()
    }

    /// Consecutive failed probes of the group since its last successful one.
    pub fn consecutive_failures(&self, group: &str) -> u32 {
        self.groups.get(group).map_or(0, |g| g.consecutive_failures)
    }

    /// Groups whose due entries must wait (a probe is out).
    pub fn probing_groups(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, g)| matches!(g.phase, GroupPhase::Probing { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        v.sort();
        v
    }

    /// `key` becomes the group's probe.
    pub fn start_probe(&mut self, group: &str, key: &str) {
        self.entry(group).phase = GroupPhase::Probing {
            key: key.to_string(),
        };
    }

    /// The probe succeeded and `released` entries were released: the failure streak resets.
    pub fn probe_ok(&mut self, group: &str, released: usize) {
        let g = self.entry(group);
        g.consecutive_failures = 0;
        g.phase = if released == 0 {
            GroupPhase::Idle
        } else {
            GroupPhase::Releasing {
                outstanding: released,
            }
        };
    }

    /// The probe failed: the group goes idle. Returns the new failure streak (>= 1).
    pub fn probe_failed(&mut self, group: &str) -> u32 {
        let g = self.entry(group);
        g.phase = GroupPhase::Idle;
        g.consecutive_failures = g.consecutive_failures.saturating_add(1);
        g.consecutive_failures
    }

    /// The probe left without a verdict (its session was resolved with no evidence that our
    /// resend did it, superseded, or unparked): the group goes idle, the streak is unchanged,
    /// and the next due entry probes.
    pub fn probe_cancelled(&mut self, group: &str) {
        let g = self.entry(group);
        if matches!(g.phase, GroupPhase::Probing { .. }) {
            g.phase = GroupPhase::Idle;
        }
    }

    /// `n` more entries joined a releasing group.
    pub fn join_release(&mut self, group: &str, n: usize) {
        if let GroupPhase::Releasing { outstanding } = &mut self.entry(group).phase {
            *outstanding += n;
        }
    }

    /// One released resend finished (acked or failed); the group goes idle after the last.
    pub fn release_done(&mut self, group: &str) {
        let g = self.entry(group);
        if let GroupPhase::Releasing { outstanding } = &mut g.phase {
            *outstanding = outstanding.saturating_sub(1);
            if *outstanding == 0 {
                g.phase = GroupPhase::Idle;
            }
        }
    }

    fn entry(&mut self, group: &str) -> &mut GroupState {
        self.groups.entry(group.to_string()).or_default()
    }
}

/// Wait before the next probe after `failures` consecutive failed probes without a retry
/// hint: `base_ms * 2^(failures-1)`, capped at `cap_ms`.
pub fn reprobe_backoff_ms(base_ms: i64, cap_ms: i64, failures: u32) -> i64 {
    let shift = failures.saturating_sub(1).min(40);
    base_ms.saturating_mul(1_i64 << shift).min(cap_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b: Vec<i64> = (1..=8)
            .map(|n| reprobe_backoff_ms(60_000, 3_600_000, n))
            .collect();
        assert_eq!(
            b,
            [60_000, 120_000, 240_000, 480_000, 960_000, 1_920_000, 3_600_000, 3_600_000]
        );
        assert_eq!(reprobe_backoff_ms(60_000, 3_600_000, 200), 3_600_000);
    }

    #[test]
    fn phases_follow_probe_outcomes() {
        let mut t = GroupTable::default();
        assert_eq!(t.phase("g"), GroupPhase::Idle);
        t.start_probe("g", "a");
        assert_eq!(t.probing_groups(), vec!["g".to_string()]);
        assert_eq!(t.probe_failed("g"), 1);
        t.start_probe("g", "a");
        assert_eq!(t.probe_failed("g"), 2);
        assert!(t.probing_groups().is_empty());
        t.start_probe("g", "a");
        t.probe_ok("g", 2);
        assert_eq!(t.consecutive_failures("g"), 0);
        t.join_release("g", 1);
        t.release_done("g");
        t.release_done("g");
        assert_eq!(t.phase("g"), GroupPhase::Releasing { outstanding: 1 });
        t.release_done("g");
        assert_eq!(t.phase("g"), GroupPhase::Idle);
        t.start_probe("c", "x");
        t.probe_failed("c");
        t.start_probe("c", "y");
        t.probe_cancelled("c");
        assert_eq!(
            (t.phase("c"), t.consecutive_failures("c")),
            (GroupPhase::Idle, 1)
        );
        t.probe_ok("h", 0);
        assert_eq!(t.phase("h"), GroupPhase::Idle);
    }
}
