//! A bounded map from string keys to per-key state, shared by the policy table and the breaker
//! registry: least-recently-used eviction past a key cap, and idle eviction by a caller-given
//! "idle since" time, so memory stays bounded whatever the key churn.

use foldhash::quality::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Keys come from callers (session keys, provider names), so each map is seeded on its own
/// (foldhash, much cheaper than the standard SipHash for short keys).
type Map<K, V> = HashMap<K, V, RandomState>;
type Set<K> = HashSet<K, RandomState>;

/// Per-key state that knows since when it has been idle (epoch ms).
pub trait IdleSince {
    /// The time after which nothing about this key is pending (last activity, or the end of a
    /// cooldown still running, whichever is later).
    fn idle_since_ms(&self) -> i64;
}

#[derive(Debug)]
struct Slot<V> {
    value: V,
    seq: u64,
}

/// String-keyed store with LRU order. Every access through [`KeyedStore::touch`] or
/// [`KeyedStore::get_or_insert_with`] marks the key most recently used.
///
/// With [`KeyedStore::track_changes`] on, every key that may have changed (touched, inserted,
/// removed, evicted) is remembered until [`KeyedStore::take_changed`], so its state can be
/// persisted.
#[derive(Debug)]
pub struct KeyedStore<V> {
    slots: Map<String, Slot<V>>,
    order: BTreeMap<u64, String>,
    next_seq: u64,
    max_keys: usize,
    changed: Option<Set<String>>,
}

impl<V: IdleSince> KeyedStore<V> {
    /// An empty store holding at most `max_keys` keys (at least 1).
    pub fn new(max_keys: usize) -> Self {
        Self {
            slots: Map::default(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_keys: max_keys.max(1),
            changed: None,
        }
    }

    /// Start (or stop) remembering changed keys; default off.
    pub fn track_changes(&mut self, on: bool) {
        self.changed = on.then(Set::default);
    }

    /// Keys that may have changed since the last call (while tracking), in no order; their
    /// current state is [`KeyedStore::get`] (`None` = removed).
    pub fn take_changed(&mut self) -> Vec<String> {
        match &mut self.changed {
            Some(set) => set.drain().collect(),
            None => Vec::new(),
        }
    }

    /// Keys that may have changed since the last call, with their state now (`None` =
    /// removed).
    pub fn take_changes(&mut self) -> Vec<(String, Option<V>)>
    where
        V: Clone,
    {
        let keys = self.take_changed();
        keys.into_iter()
            .map(|k| {
                let v = self.get(&k).cloned();
                (k, v)
            })
            .collect()
    }

    /// Every key and a copy of its state, least recently used first.
    pub fn records(&self) -> Vec<(String, V)>
    where
        V: Clone,
    {
        self.order
            .values()
            .filter_map(|k| self.slots.get(k).map(|s| (k.clone(), s.value.clone())))
            .collect()
    }

    /// Whether any key changed since [`KeyedStore::take_changed`].
    pub fn has_changes(&self) -> bool {
        self.changed.as_ref().is_some_and(|s| !s.is_empty())
    }

    /// Remember `key` as changed (while tracking), e.g. state that predates the tracking.
    pub fn mark_changed(&mut self, key: &str) {
        self.mark(key);
    }

    fn mark(&mut self, key: &str) {
        if let Some(set) = &mut self.changed {
            if !set.contains(key) {
                set.insert(key.to_owned());
            }
        }
    }

    /// Put `value` under `key` as restored state (replacing any), least recently used first:
    /// keys restored in order of their last activity keep their LRU order. Not marked changed
    /// (call [`KeyedStore::mark_changed`] for state that must be written).
    pub fn restore(&mut self, key: &str, value: V) {
        if let Some(slot) = self.slots.remove(key) {
            self.order.remove(&slot.seq);
        }
        while self.slots.len() >= self.max_keys {
            if self.evict_lru().is_none() {
                break;
            }
        }
        let seq = self.bump();
        self.order.insert(seq, key.to_owned());
        self.slots.insert(key.to_owned(), Slot { value, seq });
    }

    /// Number of keys held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Read a key's state without changing its recency.
    pub fn get(&self, key: &str) -> Option<&V> {
        self.slots.get(key).map(|s| &s.value)
    }

    /// Mutable access to an existing key; marks it most recently used.
    pub fn touch(&mut self, key: &str) -> Option<&mut V> {
        if !self.slots.contains_key(key) {
            return None;
        }
        self.mark(key);
        let seq = self.bump();
        let slot = self.slots.get_mut(key)?;
        self.order.remove(&slot.seq);
        slot.seq = seq;
        self.order.insert(seq, key.to_owned());
        Some(&mut slot.value)
    }

    /// Mutable access to a key, inserting `make()` if missing. Inserting at the cap first
    /// evicts the least recently used key. Marks the key most recently used.
    pub fn get_or_insert_with(&mut self, key: &str, make: impl FnOnce() -> V) -> &mut V {
        if !self.slots.contains_key(key) {
            while self.slots.len() >= self.max_keys {
                if self.evict_lru().is_none() {
                    break;
                }
            }
            let seq = self.bump();
            self.order.insert(seq, key.to_owned());
            self.slots
                .insert(key.to_owned(), Slot { value: make(), seq });
        }
        self.touch(key).expect("key was just ensured")
    }

    /// Remove a key, returning its state.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let slot = self.slots.remove(key)?;
        self.mark(key);
        self.order.remove(&slot.seq);
        Some(slot.value)
    }

    /// Evict the least recently used key, returning it.
    pub fn evict_lru(&mut self) -> Option<(String, V)> {
        let (_, key) = self.order.pop_first()?;
        let slot = self.slots.remove(&key)?;
        self.mark(&key);
        Some((key, slot.value))
    }

    /// Remove every key idle for at least `idle_ms` at `now_ms`, whatever its state.
    /// Returns how many were removed.
    pub fn evict_idle(&mut self, now_ms: i64, idle_ms: i64) -> usize {
        let stale: Vec<(String, u64)> = self
            .slots
            .iter()
            .filter(|(_, s)| now_ms.saturating_sub(s.value.idle_since_ms()) >= idle_ms)
            .map(|(k, s)| (k.clone(), s.seq))
            .collect();
        for (key, seq) in &stale {
            self.slots.remove(key);
            self.order.remove(seq);
            self.mark(key);
        }
        stale.len()
    }

    /// Iterate over all keys and states (no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V)> {
        self.slots.iter().map(|(k, s)| (k.as_str(), &s.value))
    }

    fn bump(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct At(i64);
    impl IdleSince for At {
        fn idle_since_ms(&self) -> i64 {
            self.0
        }
    }

    #[test]
    fn evicts_least_recently_used_past_the_cap() {
        let mut s = KeyedStore::new(2);
        s.get_or_insert_with("a", || At(0));
        s.get_or_insert_with("b", || At(0));
        s.touch("a");
        s.get_or_insert_with("c", || At(0));
        assert_eq!(s.len(), 2);
        assert!(s.get("b").is_none(), "b was least recently used");
        assert!(s.get("a").is_some() && s.get("c").is_some());
        assert_eq!(s.remove("a"), Some(At(0)));
        assert_eq!(s.evict_lru().map(|(k, _)| k), Some("c".to_string()));
        assert!(s.is_empty());
    }

    #[test]
    fn evicts_idle_keys_only() {
        let mut s = KeyedStore::new(10);
        s.get_or_insert_with("old", || At(100));
        s.get_or_insert_with("new", || At(900));
        assert_eq!(s.evict_idle(1_000, 500), 1);
        assert!(s.get("old").is_none());
        assert!(s.get("new").is_some());
        assert_eq!(s.iter().count(), 1);
        // the LRU order stays consistent after idle eviction
        s.get_or_insert_with("x", || At(0));
        assert_eq!(s.evict_lru().map(|(k, _)| k), Some("new".to_string()));
    }

    #[test]
    fn tracks_every_changed_key_once_tracking_is_on() {
        let mut s = KeyedStore::new(2);
        s.get_or_insert_with("before", || At(0));
        s.restore("restored", At(1));
        assert!(s.take_changed().is_empty(), "not tracking yet");
        s.track_changes(true);
        s.restore("restored", At(1));
        assert!(s.take_changed().is_empty(), "restoring is not a change");
        s.mark_changed("restored");
        assert_eq!(s.take_changed(), ["restored"]);
        s.get_or_insert_with("a", || At(2)); // evicts "before" (LRU)
        s.touch("a");
        s.touch("missing");
        let mut changed = s.take_changed();
        changed.sort();
        assert_eq!(changed, ["a", "before"]);
        assert_eq!(s.evict_idle(100, 50), 2);
        let mut changed = s.take_changed();
        changed.sort();
        assert_eq!(changed, ["a", "restored"]);
        assert!(s.take_changed().is_empty());
    }
}
