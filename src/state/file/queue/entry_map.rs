//! [`EntryMap`]: the in-memory entries of a store, kept compact so a million parked sessions
//! fit in well under 256 MB.
//!
//! Each entry is one fixed-size slot (72 bytes: its times, attempts, reason, status, its
//! session key and 4-byte ids of its group, error text and `meta`), and the strings many
//! entries share (group names, error texts, `meta` values) are interned once
//! ([`Interner`]). Slots are found by key through a table of 32-bit key hashes (8 bytes a
//! bucket; slots with equal hashes are chained), and the parked ones are indexed by
//! `(retry_at_ms, slot)` so "what is due" and "when is the next one due" cost O(log n + k).
//! A [`ParkedEntry`] is built only when a caller asks for one.

use super::interner::Interner;
use crate::reason::Reason;
use crate::state::entry::{EntryStatus, ParkedEntry};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

const NONE: u32 = u32::MAX;

/// Hashes the table's keys, which are already (seeded) hashes: spreads their bits only.
#[derive(Debug, Default)]
struct Spread(u64);

impl Hasher for Spread {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b) ^ self.0.rotate_left(8));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Heads = HashMap<u32, u32, BuildHasherDefault<Spread>>;

/// One entry's fields with its strings (`session_key`, `last_error`, `group`, `meta_json`) held
/// as `S`: borrowed text ([`EntryParts`]), or ranges of a read-ahead batch's text.
/// `meta_json` is the `meta` value as JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fields<S> {
    pub session_key: S,
    pub reason: Reason,
    pub attempts: u32,
    pub first_failed_at_ms: i64,
    pub last_failed_at_ms: i64,
    pub retry_at_ms: i64,
    pub last_error: S,
    pub group: S,
    pub status: EntryStatus,
    pub status_since_ms: i64,
    pub meta_json: S,
}

/// One entry's fields in borrowed form: what [`EntryMap::insert_parts`] stores.
pub(crate) type EntryParts<'a> = Fields<Cow<'a, str>>;

impl<S> Fields<S> {
    /// The same fields with each string turned by `f` (in field order).
    pub fn map_strings<T>(self, mut f: impl FnMut(S) -> T) -> Fields<T> {
        Fields {
            session_key: f(self.session_key),
            reason: self.reason,
            attempts: self.attempts,
            first_failed_at_ms: self.first_failed_at_ms,
            last_failed_at_ms: self.last_failed_at_ms,
            retry_at_ms: self.retry_at_ms,
            last_error: f(self.last_error),
            group: f(self.group),
            status: self.status,
            status_since_ms: self.status_since_ms,
            meta_json: f(self.meta_json),
        }
    }
}

impl<'a> EntryParts<'a> {
    /// The parts of `e` (its `meta` serialised to compact JSON).
    pub fn of(e: &'a ParkedEntry) -> Self {
        EntryParts {
            session_key: Cow::Borrowed(&e.session_key),
            reason: e.reason,
            attempts: e.attempts,
            first_failed_at_ms: e.first_failed_at_ms,
            last_failed_at_ms: e.last_failed_at_ms,
            retry_at_ms: e.retry_at_ms,
            last_error: Cow::Borrowed(&e.last_error),
            group: Cow::Borrowed(&e.group),
            status: e.status,
            status_since_ms: e.status_since_ms,
            meta_json: Cow::Owned(e.meta.to_string()),
        }
    }
}

/// One entry (or a free slot, `key: None`).
#[derive(Debug)]
struct Slot {
    retry_at_ms: i64,
    first_failed_at_ms: i64,
    last_failed_at_ms: i64,
    status_since_ms: i64,
    key: Option<Box<str>>,
    attempts: u32,
    group: u32,
    error: u32,
    meta: u32,
    /// The next slot whose key has the same 32-bit hash, or `NONE`.
    next: u32,
    reason: Reason,
    status: EntryStatus,
}

/// Entries by session key plus an index of those with status `Parked` by due time. Empty by
/// default.
#[derive(Debug)]
pub(crate) struct EntryMap {
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// 32-bit key hash → first slot of its chain.
    heads: Heads,
    /// Seeded per map (foldhash, what `hashbrown` uses by default): keys come from callers
    /// and files, so their hashes must not be predictable; SipHash was a fifth of a reload.
    hasher: foldhash::quality::RandomState,
    parked_by_due: BTreeSet<(i64, u32)>,
    groups: Interner,
    errors: Interner,
    metas: Interner,
    len: usize,
    /// Bits of the key hash used (all; fewer in tests, to make chains).
    hash_mask: u32,
    /// While a whole file is read the due index is left alone, then built at once (see
    /// [`EntryMap::defer_index`]).
    index_deferred: bool,
}

impl Default for EntryMap {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            heads: Heads::default(),
            hasher: foldhash::quality::RandomState::default(),
            parked_by_due: BTreeSet::new(),
            groups: Interner::default(),
            errors: Interner::default(),
            metas: Interner::default(),
            len: 0,
            hash_mask: u32::MAX,
            index_deferred: false,
        }
    }
}

/// A borrowed look at one entry of an [`EntryMap`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryView<'a> {
    map: &'a EntryMap,
    slot: &'a Slot,
}

impl<'a> EntryView<'a> {
    /// The session key.
    pub fn key(&self) -> &'a str {
        self.slot.key.as_deref().unwrap_or_default()
    }

    /// When it is due (epoch ms).
    pub fn retry_at_ms(&self) -> i64 {
        self.slot.retry_at_ms
    }

    /// Its probe group.
    pub fn group(&self) -> &'a str {
        self.map.groups.get(self.slot.group)
    }

    /// Its status.
    pub fn status(&self) -> EntryStatus {
        self.slot.status
    }

    /// The whole entry.
    pub fn to_entry(self) -> ParkedEntry {
        let s = self.slot;
        let meta = self.map.metas.get(s.meta);
        ParkedEntry {
            session_key: self.key().to_string(),
            reason: s.reason,
            attempts: s.attempts,
            first_failed_at_ms: s.first_failed_at_ms,
            last_failed_at_ms: s.last_failed_at_ms,
            retry_at_ms: s.retry_at_ms,
            last_error: self.map.errors.get(s.error).to_string(),
            group: self.group().to_string(),
            status: s.status,
            status_since_ms: s.status_since_ms,
            // checked to be JSON when it was interned
            meta: serde_json::from_str(meta).unwrap_or(Value::Null),
        }
    }
}

/// Put a new key's slot (followed by `next` in its chain) in a free place; its index.
fn place(slots: &mut Vec<Slot>, free: &mut Vec<u32>, key: Box<str>, next: u32, slot: Slot) -> u32 {
    let slot = Slot {
        key: Some(key),
        next,
        ..slot
    };
    match free.pop() {
        Some(at) => {
            slots[at as usize] = slot;
            at
        }
        None => {
            slots.push(slot);
            u32::try_from(slots.len() - 1).expect("fewer than 2^32 entries")
        }
    }
}

impl EntryMap {
    fn hash(&self, key: &str) -> u32 {
        self.hasher.hash_one(key) as u32 & self.hash_mask
    }

    /// The slot of `key`, and its predecessor in its hash chain.
    fn find(&self, key: &str) -> Option<(u32, u32)> {
        self.find_hashed(key, self.hash(key))
    }

    fn find_hashed(&self, key: &str, hash: u32) -> Option<(u32, u32)> {
        let mut prev = NONE;
        let mut at = *self.heads.get(&hash)?;
        while at != NONE {
            let slot = &self.slots[at as usize];
            if slot.key.as_deref() == Some(key) {
                return Some((at, prev));
            }
            prev = at;
            at = slot.next;
        }
        None
    }

    /// Insert or replace the entry of its session key.
    pub fn insert(&mut self, entry: &ParkedEntry) {
        let parts = EntryParts::of(entry);
        self.insert_parts(parts)
            .expect("the meta of an entry serialises to JSON");
    }

    /// Insert or replace the entry of `p.session_key`. `Err` (and nothing changes) when
    /// `p.meta_json` is not JSON.
    pub fn insert_parts(&mut self, p: EntryParts<'_>) -> Result<(), ()> {
        let meta = match self.metas.lookup(&p.meta_json) {
            Some(id) => id,
            None => {
                serde_json::from_str::<serde::de::IgnoredAny>(&p.meta_json).map_err(drop)?;
                self.metas.intern(&p.meta_json)
            }
        };
        let group = self.groups.intern(&p.group);
        let error = self.errors.intern(&p.last_error);
        let fields = Slot {
            retry_at_ms: p.retry_at_ms,
            first_failed_at_ms: p.first_failed_at_ms,
            last_failed_at_ms: p.last_failed_at_ms,
            status_since_ms: p.status_since_ms,
            key: None,
            attempts: p.attempts,
            group,
            error,
            meta,
            next: NONE,
            reason: p.reason,
            status: p.status,
        };
        let hash = self.hash(&p.session_key);
        // One probe of the key table: a new key's chain is linked in place.
        let found = match self.heads.entry(hash) {
            Entry::Vacant(head) => {
                let key = p.session_key.into_owned().into_boxed_str();
                let at = place(&mut self.slots, &mut self.free, key, NONE, fields);
                head.insert(at);
                self.len += 1;
                Err(at)
            }
            Entry::Occupied(mut head) => {
                let mut at = *head.get();
                while at != NONE && self.slots[at as usize].key.as_deref() != Some(&p.session_key) {
                    at = self.slots[at as usize].next;
                }
                if at == NONE {
                    let key = p.session_key.into_owned().into_boxed_str();
                    let next = *head.get();
                    let at = place(&mut self.slots, &mut self.free, key, next, fields);
                    *head.get_mut() = at;
                    self.len += 1;
                    Err(at)
                } else {
                    Ok((at, fields))
                }
            }
        };
        // Ok: an existing key's slot to refill; Err: the new key's slot
        let at = match found {
            Ok((at, fields)) => {
                self.unindex(at);
                let slot = &mut self.slots[at as usize];
                let key = slot.key.take();
                let next = slot.next;
                *slot = Slot {
                    key,
                    next,
                    ..fields
                };
                at
            }
            Err(at) => at,
        };
        let slot = &self.slots[at as usize];
        if slot.status == EntryStatus::Parked && !self.index_deferred {
            self.parked_by_due.insert((slot.retry_at_ms, at));
        }
        Ok(())
    }

    /// Stop keeping the due index up to date (while a whole file is read into the map) until
    /// [`EntryMap::build_index`], which builds it at once: faster, and its nodes come out full.
    pub fn defer_index(&mut self) {
        self.index_deferred = true;
        self.parked_by_due.clear();
    }

    /// Build the due index left alone since [`EntryMap::defer_index`] and keep it up to date
    /// again.
    pub fn build_index(&mut self) {
        let parked: Vec<(i64, u32)> = (0u32..)
            .zip(&self.slots)
            .filter(|(_, s)| s.key.is_some() && s.status == EntryStatus::Parked)
            .map(|(at, s)| (s.retry_at_ms, at))
            .collect();
        self.parked_by_due = parked.into_iter().collect();
        self.index_deferred = false;
    }

    /// Make room for `n` more entries (the slots' pages are used only once filled; the key
    /// table costs about 9 bytes per place).
    pub fn reserve(&mut self, n: usize) {
        self.slots.reserve(n);
        self.heads.reserve(n);
    }

    /// Drop a slot's strings and its due-index place (its key stays).
    fn unindex(&mut self, at: u32) {
        let slot = &self.slots[at as usize];
        if slot.status == EntryStatus::Parked && !self.index_deferred {
            self.parked_by_due.remove(&(slot.retry_at_ms, at));
        }
        self.groups.release(slot.group);
        self.errors.release(slot.error);
        self.metas.release(slot.meta);
    }

    /// Remove and return the entry of `key`.
    pub fn remove(&mut self, key: &str) -> Option<ParkedEntry> {
        let entry = self.view(key)?.to_entry();
        self.discard(key);
        Some(entry)
    }

    /// Remove the entry of `key` without building it (replaying a journal); whether there was
    /// one.
    pub fn discard(&mut self, key: &str) -> bool {
        let Some((at, prev)) = self.find(key) else {
            return false;
        };
        self.unindex(at);
        let slot = &mut self.slots[at as usize];
        let next = slot.next;
        slot.key = None;
        if prev == NONE {
            let hash = self.hash(key);
            if next == NONE {
                self.heads.remove(&hash);
            } else {
                self.heads.insert(hash, next);
            }
        } else {
            self.slots[prev as usize].next = next;
        }
        self.free.push(at);
        self.len -= 1;
        true
    }

    fn view_at(&self, at: u32) -> EntryView<'_> {
        EntryView {
            map: self,
            slot: &self.slots[at as usize],
        }
    }

    /// A look at the entry of `key`.
    pub fn view(&self, key: &str) -> Option<EntryView<'_>> {
        self.find(key).map(|(at, _)| self.view_at(at))
    }

    /// The entry of `key`.
    pub fn get(&self, key: &str) -> Option<ParkedEntry> {
        self.view(key).map(|v| v.to_entry())
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries whose status is not `Parked` (counted, not scanned).
    pub fn unparked_len(&self) -> usize {
        self.len - self.parked_by_due.len()
    }

    /// Every entry, in no particular order.
    pub fn views(&self) -> impl Iterator<Item = EntryView<'_>> + '_ {
        self.slots
            .iter()
            .filter(|s| s.key.is_some())
            .map(move |slot| EntryView { map: self, slot })
    }

    /// Parked entries in due order (earliest first; equal due times in no particular order).
    pub fn parked_by_due(&self) -> impl Iterator<Item = EntryView<'_>> + '_ {
        self.parked_by_due.iter().map(|&(_, at)| self.view_at(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(key: &str, due: i64, status: EntryStatus) -> ParkedEntry {
        let mut e = ParkedEntry::new(key, Reason::RateLimit, 0, due, "");
        e.status = status;
        e
    }

    #[test]
    fn a_slot_is_72_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 72);
    }

    #[test]
    fn index_follows_updates_status_and_removal() {
        let mut m = EntryMap::default();
        m.insert(&entry("b", 20, EntryStatus::Parked));
        m.insert(&entry("a", 30, EntryStatus::Parked));
        m.insert(&entry("c", 10, EntryStatus::Probing));
        let keys = |m: &EntryMap| -> Vec<String> {
            m.parked_by_due().map(|e| e.key().to_string()).collect()
        };
        assert_eq!(keys(&m), ["b", "a"]);
        assert_eq!(m.unparked_len(), 1);
        m.insert(&entry("a", 5, EntryStatus::Parked));
        assert_eq!(keys(&m), ["a", "b"]);
        m.insert(&entry("b", 5, EntryStatus::Released));
        assert_eq!(keys(&m), ["a"]);
        m.insert(&entry("c", 1, EntryStatus::Parked));
        assert_eq!(keys(&m), ["c", "a"]);
        assert!(m.remove("c").is_some());
        assert_eq!(keys(&m), ["a"]);
        assert_eq!(m.len(), 2);
        assert!(m.remove("zz").is_none());
        assert!(m.discard("a") && !m.discard("a"));
        assert_eq!((m.len(), m.parked_by_due().count()), (1, 0));
    }

    #[test]
    fn a_deferred_index_is_built_at_once_and_then_kept() {
        let mut m = EntryMap::default();
        m.insert(&entry("old", 1, EntryStatus::Parked));
        m.defer_index();
        for (i, k) in ["d", "b", "e", "a", "c"].iter().enumerate() {
            m.insert(&entry(k, 50 - i as i64, EntryStatus::Parked));
        }
        m.insert(&entry("e", 7, EntryStatus::Probing));
        m.remove("old");
        m.remove("b");
        m.build_index();
        let keys = |m: &EntryMap| -> Vec<String> {
            m.parked_by_due().map(|e| e.key().to_string()).collect()
        };
        assert_eq!(keys(&m), ["c", "a", "d"]);
        assert_eq!(m.unparked_len(), 1);
        m.insert(&entry("e", 1, EntryStatus::Parked));
        assert_eq!(keys(&m), ["e", "c", "a", "d"]);
    }

    #[test]
    fn entries_come_back_whole_and_shared_strings_are_kept_once() {
        let mut m = EntryMap::default();
        let mut a = ParkedEntry::new("a", Reason::Quota, 1, 2, "daily quota\n\"x\"");
        a.group = "openai".into();
        a.meta = json!({"runId": "r1", "n": [1.5, null, true]});
        a.status = EntryStatus::AwaitingResult;
        a.status_since_ms = 9;
        let mut b = a.clone();
        b.session_key = "b".into();
        m.insert(&a);
        m.insert(&b);
        assert_eq!(m.get("a").unwrap(), a);
        assert_eq!(m.get("b").unwrap(), b);
        assert_eq!((m.groups.len(), m.errors.len(), m.metas.len()), (1, 1, 1));
        assert_eq!(m.remove("a").unwrap(), a);
        b.meta = Value::Null;
        m.insert(&b);
        assert_eq!(m.get("b").unwrap(), b);
        assert_eq!((m.groups.len(), m.errors.len(), m.metas.len()), (1, 1, 1));
        assert!(m.get("a").is_none());
    }

    #[test]
    fn meta_that_is_not_json_is_refused() {
        let mut m = EntryMap::default();
        let e = entry("a", 1, EntryStatus::Parked);
        let mut p = EntryParts::of(&e);
        p.meta_json = Cow::Borrowed("{nope");
        assert!(m.insert_parts(p).is_err());
        assert!(m.is_empty());
    }

    #[test]
    fn keys_sharing_a_hash_chain_stay_apart() {
        let mut m = EntryMap {
            hash_mask: 0b11, // four chains for fifty keys
            ..EntryMap::default()
        };
        let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
        for (i, k) in keys.iter().enumerate() {
            m.insert(&entry(k, i as i64, EntryStatus::Parked));
        }
        assert!(m.heads.len() <= 4);
        for (i, k) in keys.iter().enumerate().step_by(3) {
            assert_eq!(m.remove(k).unwrap().retry_at_ms, i as i64);
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(m.contains_key(k), i % 3 != 0, "{k}");
        }
        for (i, k) in keys.iter().enumerate().step_by(3) {
            m.insert(&entry(k, 100 + i as i64, EntryStatus::Parked));
        }
        assert_eq!(m.slots.len(), 50, "freed slots are reused");
        for (i, k) in keys.iter().enumerate() {
            let due = if i % 3 == 0 { 100 + i as i64 } else { i as i64 };
            assert_eq!(m.get(k).unwrap().retry_at_ms, due);
        }
        for k in &keys {
            assert!(m.remove(k).is_some());
        }
        assert!(m.is_empty() && m.heads.is_empty() && m.parked_by_due.is_empty());
    }
}
