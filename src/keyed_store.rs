//! A bounded map from string keys to per-key state, shared by the policy table and the breaker
//! registry: least-recently-used eviction past a key cap, and idle eviction by a caller-given
//! "idle since" time, so memory stays bounded whatever the key churn.

use std::collections::{BTreeMap, HashMap};

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
#[derive(Debug)]
pub struct KeyedStore<V> {
    slots: HashMap<String, Slot<V>>,
    order: BTreeMap<u64, String>,
    next_seq: u64,
    max_keys: usize,
}

impl<V: IdleSince> KeyedStore<V> {
    /// An empty store holding at most `max_keys` keys (at least 1).
    pub fn new(max_keys: usize) -> Self {
        Self {
            slots: HashMap::new(),
            order: BTreeMap::new(),
            next_seq: 0,
            max_keys: max_keys.max(1),
        }
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
        self.order.remove(&slot.seq);
        Some(slot.value)
    }

    /// Evict the least recently used key, returning it.
    pub fn evict_lru(&mut self) -> Option<(String, V)> {
        let (_, key) = self.order.pop_first()?;
        let slot = self.slots.remove(&key)?;
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
}
