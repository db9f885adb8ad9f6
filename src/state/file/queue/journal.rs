//! The append-only journal `queue.journal`: one checksummed JSON line per change (see
//! [`crate::state::file::lines`]).
//!
//! ```text
//! {"op":"header","version":2,"generation":3,"crc":"…"}
//! {"op":"put","entry":{"sessionKey":"agent:main:42",...},"crc":"…"}
//! {"op":"del","key":"agent:main:42","crc":"…"}
//! ```
//!
//! The header names the snapshot generation the journal continues; a compaction writes a new
//! snapshot with the next generation and then replaces the journal with a bare header. The
//! snapshot uses the same lines (a header, then one `put` per entry).

use super::entry_map::EntryMap;
use super::put_line::decode_put;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::file::lines::{self, Headed, LineCheck, LineCounts};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead};

/// The journal and snapshot format version this code writes: 2 = checksummed JSON lines
/// (format 1, without checksums and with a pretty-printed snapshot, is still read).
pub const FORMAT_VERSION: u32 = 2;

/// One journal line as read back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum JournalRecord {
    /// First line: format version and the snapshot generation this journal continues.
    Header {
        /// Format version.
        version: u32,
        /// Snapshot generation.
        generation: u64,
    },
    /// Insert or replace an entry.
    Put {
        /// The entry.
        entry: ParkedEntry,
    },
    /// Remove the entry under `key`.
    Del {
        /// The session key.
        key: String,
    },
}

impl Headed for JournalRecord {
    fn header(&self) -> Option<(u32, u64)> {
        match self {
            JournalRecord::Header {
                version,
                generation,
            } => Some((*version, *generation)),
            _ => None,
        }
    }
}

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum RecordOut<'a> {
    Header { version: u32, generation: u64 },
    Put { entry: &'a ParkedEntry },
    Del { key: &'a str },
}

/// The header line for a journal (or snapshot) of `generation`.
pub(crate) fn header_line(generation: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(64);
    lines::push_line(
        &mut buf,
        &RecordOut::Header {
            version: FORMAT_VERSION,
            generation,
        },
    );
    buf
}

/// Append the line for `op` to `buf`.
pub(crate) fn encode_op(buf: &mut Vec<u8>, op: &QueueOp) {
    match op {
        QueueOp::Put(entry) => lines::push_line(buf, &RecordOut::Put { entry }),
        QueueOp::Remove(key) => lines::push_line(buf, &RecordOut::Del { key }),
    }
}

/// Append the `put` line of `entry` to `buf` (snapshot records).
pub(crate) fn encode_put(buf: &mut Vec<u8>, entry: &ParkedEntry) {
    lines::push_line(buf, &RecordOut::Put { entry });
}

/// What reading journal or snapshot lines found (the records went into the map).
pub(crate) type JournalScan = LineCounts;

/// Which records a file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holds {
    /// Puts and dels (the journal).
    Changes,
    /// Puts only (the snapshot): anything else is damage.
    Puts,
}

/// Apply the journal bytes that continue a format-2 journal (checksums required) to
/// `entries`, in order.
pub(crate) fn apply_continued(bytes: &[u8], entries: &mut EntryMap) -> JournalScan {
    let apply = |body: &[u8], crc: bool| apply_line(body, crc, Holds::Changes, entries);
    lines::scan_each(bytes, false, true, FORMAT_VERSION, |_| None, apply)
        .expect("reading from memory cannot fail")
}

/// Apply a whole journal (or line snapshot) from its start to `entries`, line by line so a
/// large file is never held in memory whole; the header's version says whether checksums are
/// required.
pub(crate) fn apply_all(
    r: impl BufRead,
    holds: Holds,
    entries: &mut EntryMap,
) -> io::Result<JournalScan> {
    let apply = |body: &[u8], crc: bool| apply_line(body, crc, holds, entries);
    lines::scan_each(r, true, true, FORMAT_VERSION, header_of, apply)
}

fn header_of(body: &[u8]) -> Option<(u32, u64)> {
    let rec = lines::decode::<JournalRecord>(body, false)?.ok()?;
    rec.header()
}

/// Apply one non-blank line; `false` when it is damaged (or a record `holds` rules out).
/// A checksummed `put` as this code writes it takes the fast path ([`decode_put`]); any
/// other line is read with `serde_json`.
fn apply_line(body: &[u8], require_crc: bool, holds: Holds, entries: &mut EntryMap) -> bool {
    match lines::check(body) {
        LineCheck::Mismatch => return false,
        LineCheck::Unchecked if require_crc => return false,
        LineCheck::Sound => {
            if let Some(parts) = decode_put(body) {
                return entries.insert_parts(parts).is_ok();
            }
        }
        LineCheck::Unchecked | LineCheck::Blank => {}
    }
    match serde_json::from_slice::<JournalRecord>(body) {
        Ok(JournalRecord::Put { entry }) => {
            entries.insert(&entry);
            true
        }
        Ok(JournalRecord::Del { key }) if holds == Holds::Changes => {
            entries.remove(&key);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn entry(key: &str) -> ParkedEntry {
        ParkedEntry::new(key, Reason::RateLimit, 1, 2, "line one\nline two")
    }

    fn read(bytes: &[u8]) -> (JournalScan, EntryMap) {
        let mut map = EntryMap::default();
        let s = apply_all(bytes, Holds::Changes, &mut map).unwrap();
        (s, map)
    }

    #[test]
    fn round_trips_header_puts_and_dels_one_per_line() {
        let mut buf = header_line(4);
        encode_op(&mut buf, &QueueOp::Put(entry("a")));
        encode_op(&mut buf, &QueueOp::Put(entry("b")));
        encode_op(&mut buf, &QueueOp::Remove("a".into()));
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 4);
        let (s, map) = read(&buf);
        assert_eq!(s.header, Some((FORMAT_VERSION, 4)));
        assert_eq!(s.records, 3);
        assert_eq!(map.get("b"), Some(entry("b")));
        assert!(map.get("a").is_none());
        assert_eq!(s.bad_lines, 0);
        assert_eq!(s.torn_tail, 0);
        assert_eq!(s.complete_len, buf.len() as u64);
        let mut snapshot = EntryMap::default();
        let s = apply_all(&buf[..], Holds::Puts, &mut snapshot).unwrap();
        assert_eq!(
            (s.records, s.bad_lines),
            (2, 1),
            "a del is damage in a snapshot"
        );
    }

    #[test]
    fn torn_tail_and_corrupt_lines_are_told_apart() {
        let mut buf = header_line(1);
        encode_op(&mut buf, &QueueOp::Put(entry("a")));
        buf.extend_from_slice(b"{\"op\":\"put\",garbage\n");
        encode_op(&mut buf, &QueueOp::Put(entry("b")));
        let good_len = buf.len();
        buf.extend_from_slice(b"{\"op\":\"put\",\"entry\":{\"sessi");
        let (s, map) = read(&buf);
        assert_eq!((s.records, map.len()), (2, 2));
        assert_eq!(s.bad_lines, 1);
        assert_eq!(s.complete_len, good_len as u64);
        assert_eq!(s.torn_tail, (buf.len() - good_len) as u64);
    }

    #[test]
    fn a_header_away_from_the_start_is_corrupt_and_unchecked_lines_too() {
        let mut map = EntryMap::default();
        let s = apply_continued(&header_line(1), &mut map);
        assert_eq!(s.header, None);
        assert_eq!(s.bad_lines, 1);
        let s = apply_continued(b"{\"op\":\"del\",\"key\":\"a\"}\n", &mut map);
        assert_eq!((s.records, s.bad_lines), (0, 1));
    }

    #[test]
    fn format_1_journals_without_checksums_are_still_read() {
        let v1 = "{\"op\":\"header\",\"version\":1,\"generation\":2}\n\
                  {\"op\":\"put\",\"entry\":{\"sessionKey\":\"a\",\"reason\":\"quota\",\
                  \"attempts\":2,\"firstFailedAtMs\":1,\"lastFailedAtMs\":2,\"retryAtMs\":3}}\n\
                  {\"op\":\"put\",\"entry\":{\"sessionKey\":\"b\",\"reason\":\"quota\",\
                  \"attempts\":2,\"firstFailedAtMs\":1,\"lastFailedAtMs\":2,\"retryAtMs\":3}}\n\
                  {\"op\":\"del\",\"key\":\"a\"}\n";
        let (s, map) = read(v1.as_bytes());
        assert_eq!(s.header, Some((1, 2)));
        assert_eq!((s.records, s.bad_lines), (3, 0));
        assert_eq!(map.get("b").unwrap().attempts, 2);
        assert!(map.get("a").is_none());
    }

    #[test]
    fn fast_and_general_paths_agree_on_every_line() {
        let mut e = entry("x");
        e.meta = serde_json::json!({"provider": "openai", "n": 1});
        let mut fast = header_line(1);
        encode_op(&mut fast, &QueueOp::Put(e.clone()));
        // the same record with its fields in another order takes the general path
        let mut slow = header_line(1);
        let v = serde_json::to_value(&e).unwrap();
        let mut fields: Vec<(String, serde_json::Value)> =
            v.as_object().unwrap().clone().into_iter().collect();
        fields.reverse();
        let reordered: serde_json::Map<String, serde_json::Value> = fields.into_iter().collect();
        lines::push_line(
            &mut slow,
            &serde_json::json!({"op": "put", "entry": reordered}),
        );
        assert!(decode_put(
            &slow[slow.iter().position(|&b| b == b'\n').unwrap() + 1..slow.len() - 1]
        )
        .is_none());
        assert_eq!(read(&fast).1.get("x"), Some(e.clone()));
        assert_eq!(read(&slow).1.get("x"), Some(e));
    }
}
