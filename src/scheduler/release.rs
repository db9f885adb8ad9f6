//! [`ReleaseQueue`]: released entries waiting for their jittered start time, and
//! [`GroupReleases`]: one such line per provider/budget group, each paced by its own
//! [`ReleasePace`].

use super::pace::ReleasePace;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Session keys ordered by start time (epoch ms), ties in insertion order.
#[derive(Debug, Default)]
pub struct ReleaseQueue {
    heap: BinaryHeap<Reverse<(i64, u64, String)>>,
    seq: u64,
}

impl ReleaseQueue {
    /// Queue `key` to start at `start_ms`.
    pub fn push(&mut self, key: String, start_ms: i64) {
        self.seq += 1;
        self.heap.push(Reverse((start_ms, self.seq, key)));
    }

    /// The earliest start time, if any.
    pub fn next_start_ms(&self) -> Option<i64> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The next key whose start time is `<= now_ms`.
    pub fn pop_ready(&mut self, now_ms: i64) -> Option<String> {
        if self.next_start_ms()? > now_ms {
            return None;
        }
        self.heap.pop().map(|Reverse((_, _, k))| k)
    }

    /// Forget `key` (its entry was resolved or failed before it started).
    pub fn remove(&mut self, key: &str) {
        self.heap.retain(|Reverse((_, _, k))| k != key);
    }

    /// Remove and return every queued key (shutdown).
    pub fn drain(&mut self) -> Vec<String> {
        self.heap.drain().map(|Reverse((_, _, k))| k).collect()
    }

    /// How many keys wait.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// Released entries by group, each group paced by its adaptive rate.
#[derive(Debug, Default)]
pub struct GroupReleases {
    lines: HashMap<String, ReleaseQueue>,
    paces: HashMap<String, ReleasePace>,
}

impl GroupReleases {
    /// Queue `key` of `group` to start no earlier than `start_ms`.
    pub fn push(&mut self, group: &str, key: String, start_ms: i64) {
        self.lines
            .entry(group.to_string())
            .or_default()
            .push(key, start_ms);
    }

    /// The pace of `group`.
    pub fn pace(&mut self, group: &str) -> &mut ReleasePace {
        self.paces.entry(group.to_string()).or_default()
    }

    /// The next key whose start time came and whose group's pace allows a start now.
    pub fn pop_ready(&mut self, now_ms: i64) -> Option<String> {
        let mut groups: Vec<&String> = self
            .lines
            .iter()
            .filter(|(_, q)| q.next_start_ms().is_some_and(|at| at <= now_ms))
            .map(|(g, _)| g)
            .collect();
        groups.sort();
        let group = groups.into_iter().find(|g| {
            self.paces
                .entry((*g).clone())
                .or_default()
                .try_start(now_ms)
                .is_ok()
        })?;
        self.lines.get_mut(&group.clone())?.pop_ready(now_ms)
    }

    /// When the next queued key may start (its start time and its group's pace), if any.
    pub fn next_start_ms(&self) -> Option<i64> {
        self.lines
            .iter()
            .filter_map(|(g, q)| {
                let at = q.next_start_ms()?;
                Some(at.max(self.paces.get(g).map_or(i64::MIN, ReleasePace::ready_at_ms)))
            })
            .min()
    }

    /// Forget `key` (its entry was resolved or failed before it started).
    pub fn remove(&mut self, key: &str) {
        for q in self.lines.values_mut() {
            q.remove(key);
        }
    }

    /// Remove and return every key queued for `group`.
    pub fn take_group(&mut self, group: &str) -> Vec<String> {
        self.lines
            .remove(group)
            .map(|mut q| q.drain())
            .unwrap_or_default()
    }

    /// Remove and return every queued key (shutdown).
    pub fn drain(&mut self) -> Vec<String> {
        self.lines
            .drain()
            .flat_map(|(_, mut q)| q.drain())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_in_start_order_only_when_ready() {
        let mut q = ReleaseQueue::default();
        q.push("b".into(), 20);
        q.push("a".into(), 10);
        q.push("c".into(), 20);
        assert_eq!(q.next_start_ms(), Some(10));
        assert_eq!(q.pop_ready(9), None);
        assert_eq!(q.pop_ready(10).as_deref(), Some("a"));
        assert_eq!(q.pop_ready(25).as_deref(), Some("b"));
        assert_eq!(q.len(), 1);
        q.push("d".into(), 30);
        q.remove("d");
        assert_eq!(q.drain(), vec!["c".to_string()]);
        assert!(q.is_empty());
    }

    #[test]
    fn each_group_is_paced_on_its_own() {
        let mut r = GroupReleases::default();
        for k in ["a1", "a2"] {
            r.push("a", k.into(), 0);
        }
        r.push("b", "b1".into(), 0);
        r.pace("a").probe_ok(1, 0);
        r.pace("b").probe_ok(1, 0);
        assert_eq!(r.pop_ready(0).as_deref(), Some("a1"));
        assert_eq!(r.pop_ready(0).as_deref(), Some("b1"), "a waits, b goes");
        assert_eq!(r.pop_ready(0), None);
        assert_eq!(r.next_start_ms(), Some(100), "a's next slot at 10/s");
        assert_eq!(r.pop_ready(100).as_deref(), Some("a2"));
        r.push("a", "a3".into(), 0);
        assert_eq!(r.take_group("a"), vec!["a3".to_string()]);
        assert!(r.drain().is_empty());
    }
}
