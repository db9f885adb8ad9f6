//! Reading a large queue file on two threads: a reader thread reads the lines, checks their
//! checksums and decodes them (the put-line fast path or `serde_json`), and hands them over
//! in batches; the calling thread applies them to the map in file order. Reading and
//! decoding cost about as much as building the map, so a reopen takes about half as long
//! when a second core is free. What is applied, and what is counted damaged, is exactly what
//! the one-thread read gives (see [`super::journal::apply_all`]).

use super::entry_map::{EntryMap, Fields};
use super::journal::{decode_line, Decoded, Holds, JournalRecord, JournalScan};
use crate::state::file::lines;
use std::borrow::Cow;
use std::io::{self, BufRead};
use std::sync::mpsc;

/// Records per batch handed over.
const BATCH: usize = 4096;
/// Batches the reader may run ahead.
const AHEAD: usize = 4;

/// A string of a batch: a range of its text, or unescaped.
enum Str {
    At(usize, usize),
    Owned(String),
}

/// [`super::entry_map::EntryParts`] whose strings live in the batch's text.
type PartsAt = Fields<Str>;

impl Str {
    /// The string, read from the batch text `text` it was kept in.
    fn in_text(self, text: &str) -> Cow<'_, str> {
        match self {
            Str::At(a, b) => Cow::Borrowed(&text[a..b]),
            Str::Owned(s) => Cow::Owned(s),
        }
    }
}

enum Item {
    Put(PartsAt),
    Record(JournalRecord),
}

#[derive(Default)]
struct Batch {
    text: String,
    items: Vec<Item>,
}

impl Batch {
    fn keep(&mut self, s: Cow<'_, str>) -> Str {
        match s {
            Cow::Borrowed(s) => {
                let start = self.text.len();
                self.text.push_str(s);
                Str::At(start, self.text.len())
            }
            Cow::Owned(s) => Str::Owned(s),
        }
    }

    fn push(&mut self, d: Decoded<'_>) {
        let item = match d {
            Decoded::Put(p) => Item::Put(p.map_strings(|s| self.keep(s))),
            Decoded::Record(r) => Item::Record(r),
        };
        self.items.push(item);
    }
}

/// [`super::journal::apply_all`] on two threads (see the module docs).
pub(crate) fn apply_all_threaded(
    r: impl BufRead + Send,
    holds: Holds,
    entries: &mut EntryMap,
    checksum_from: u32,
) -> io::Result<JournalScan> {
    let (tx, rx) = mpsc::sync_channel::<Batch>(AHEAD);
    // applied batches go back to the reader to be filled again (their memory stays mapped)
    let (back, returned) = mpsc::channel::<Batch>();
    std::thread::scope(|scope| {
        let reader = std::thread::Builder::new().name("retry-queue-read".into());
        let reader = reader.spawn_scoped(scope, move || {
            let mut batch = Batch::default();
            let mut record = |body: &[u8], crc: bool| match decode_line(body, crc, holds) {
                Some(d) => {
                    batch.push(d);
                    if batch.items.len() >= BATCH {
                        let mut next = returned.try_recv().unwrap_or_default();
                        next.text.clear();
                        next.items.clear();
                        // a closed channel means the applying side is gone: stop quietly
                        let _ = tx.send(std::mem::replace(&mut batch, next));
                    }
                    true
                }
                None => false,
            };
            let header = |body: &[u8]| super::journal::header_of(body);
            let counts = lines::scan_each(r, true, true, checksum_from, header, &mut record);
            let _ = tx.send(batch);
            counts
        })?;
        let mut refused = 0;
        for mut batch in rx {
            let Batch { text, items } = &mut batch;
            for item in items.drain(..) {
                let applied = match item {
                    Item::Put(p) => entries
                        .insert_parts(p.map_strings(|s| s.in_text(text)))
                        .is_ok(),
                    Item::Record(rec) => super::journal::apply_record(&rec, entries),
                };
                refused += usize::from(!applied);
            }
            let _ = back.send(batch);
        }
        let mut counts = reader
            .join()
            .map_err(|_| io::Error::other("the queue reader thread panicked"))??;
        counts.records -= refused;
        counts.bad_lines += refused;
        Ok(counts)
    })
}
