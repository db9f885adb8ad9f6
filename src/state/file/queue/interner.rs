//! [`Interner`]: a reference-counted pool of strings, so the many parked entries that share a
//! group name, an error text or a `meta` value hold one 4-byte id each instead of a copy.

use std::collections::HashMap;
use std::sync::Arc;

/// Strings by id, each with the number of holders; an id is freed (and reused) when its last
/// holder releases it. Empty by default.
#[derive(Debug, Default)]
pub(crate) struct Interner {
    ids: HashMap<Arc<str>, u32>,
    /// `(string, holders)` by id; `None` for a freed id.
    strings: Vec<Option<(Arc<str>, u32)>>,
    free: Vec<u32>,
    /// The id last interned or looked up: entries read in a row often share their strings,
    /// so it is compared before hashing.
    last: Option<u32>,
}

impl Interner {
    /// The id of `s`, counting one more holder.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.lookup(s) {
            return id;
        }
        let text: Arc<str> = Arc::from(s);
        let id = match self.free.pop() {
            Some(id) => {
                self.strings[id as usize] = Some((text.clone(), 1));
                id
            }
            None => {
                let id = u32::try_from(self.strings.len()).expect("fewer than 2^32 strings");
                self.strings.push(Some((text.clone(), 1)));
                id
            }
        };
        self.ids.insert(text, id);
        self.last = Some(id);
        id
    }

    /// The id of `s` if it is interned already, counting one more holder.
    pub fn lookup(&mut self, s: &str) -> Option<u32> {
        let id = match self.last {
            Some(id) if self.get(id) == s && self.strings[id as usize].is_some() => id,
            _ => *self.ids.get(s)?,
        };
        self.hold(id);
        self.last = Some(id);
        Some(id)
    }

    /// Count one more holder of `id` (which must be live).
    pub fn hold(&mut self, id: u32) {
        if let Some((_, holders)) = &mut self.strings[id as usize] {
            *holders += 1;
        }
    }

    /// One holder of `id` lets go; the string is dropped with its last holder.
    pub fn release(&mut self, id: u32) {
        let slot = &mut self.strings[id as usize];
        let Some((text, holders)) = slot else {
            return;
        };
        *holders -= 1;
        if *holders == 0 {
            self.ids.remove(&**text);
            *slot = None;
            self.free.push(id);
        }
    }

    /// The string of a live `id`.
    pub fn get(&self, id: u32) -> &str {
        self.strings[id as usize]
            .as_ref()
            .map_or("", |(text, _)| text)
    }

    /// Live strings.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_one_copy_and_frees_it_with_the_last_holder() {
        let mut i = Interner::default();
        let a = i.intern("openai");
        let b = i.intern("anthropic");
        assert_eq!(i.intern("openai"), a);
        assert_eq!(i.lookup("openai"), Some(a));
        assert_eq!(i.lookup("groq"), None);
        i.release(a);
        assert_eq!((i.get(a), i.get(b), i.len()), ("openai", "anthropic", 2));
        i.release(a);
        assert_eq!(i.get(a), "openai", "one holder left");
        i.release(a);
        assert_eq!(i.len(), 1);
        let c = i.intern("groq");
        assert_eq!(c, a, "the freed id is reused");
        assert_eq!(i.get(c), "groq");
        i.hold(b);
        i.release(b);
        assert_eq!(i.get(b), "anthropic");
    }
}
