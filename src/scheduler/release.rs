//! [`ReleaseQueue`]: released entries waiting for their jittered start time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

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
}
