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

use super::entry_map::{EntryMap, EntryParts};
use super::put_line::decode_put;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::file::lines::{self, Headed, LineCheck, LineCounts};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead};

/// The journal and snapshot format version this code writes: 2 = checksummed JSON lines
/// (format 1, without checksums and with a pretty-printed snapshot, is still read).
pub const FORMAT_VERSION: u32 = 2;

/// The first format version with a checksum on every line.
const CHECKSUMS_FROM: u32 = 2;

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
    lines::scan_each(bytes, false, true, CHECKSUMS_FROM, |_| None, apply)
        .expect("reading from memory cannot fail")
}

/// Files from this size on are read on two threads ([`super::read_ahead`]).
pub(crate) const THREADED_FROM: u64 = 4 << 20;

/// Apply a whole journal (or line snapshot) of about `size` bytes from its start to
/// `entries`, line by line so a large file is never held in memory whole (and on two threads
/// from [`THREADED_FROM`] bytes); the header's version says whether checksums are required.
pub(crate) fn apply_all(
    r: impl BufRead + Send,
    holds: Holds,
    entries: &mut EntryMap,
    size: u64,
) -> io::Result<JournalScan> {
    if size >= THREADED_FROM {
        return super::read_ahead::apply_all_threaded(r, holds, entries, CHECKSUMS_FROM);
    }
    let apply = |body: &[u8], crc: bool| apply_line(body, crc, holds, entries);
    lines::scan_each(r, true, true, CHECKSUMS_FROM, header_of, apply)
}

/// The header of a first line, if it is one.
pub(crate) fn header_of(body: &[u8]) -> Option<(u32, u64)> {
    let rec = lines::decode::<JournalRecord>(body, false)?.ok()?;
    rec.header()
}

/// A record line, decoded.
pub(crate) enum Decoded<'a> {
    /// A put read by the fast path.
    Put(EntryParts<'a>),
    /// A put or del read by `serde_json`.
    Record(JournalRecord),
}

/// Decode one non-blank line: `None` when it is damaged (or a record `holds` rules out). A
/// checksummed `put` as this code writes it takes the fast path ([`decode_put`]); any other
/// line is read with `serde_json`.
pub(crate) fn decode_line(body: &[u8], require_crc: bool, holds: Holds) -> Option<Decoded<'_>> {
    match lines::check(body) {
        LineCheck::Mismatch => return None,
        LineCheck::Unchecked if require_crc => return None,
        LineCheck::Sound => {
            if let Some(parts) = decode_put(body) {
                return Some(Decoded::Put(parts));
            }
        }
        LineCheck::Unchecked | LineCheck::Blank => {}
    }
    match serde_json::from_slice::<JournalRecord>(body).ok()? {
        rec @ JournalRecord::Put { .. } => Some(Decoded::Record(rec)),
        rec @ JournalRecord::Del { .. } if holds == Holds::Changes => Some(Decoded::Record(rec)),
        _ => None,
    }
}

/// Apply a put or del read by `serde_json`; `false` for anything else.
pub(crate) fn apply_record(rec: &JournalRecord, entries: &mut EntryMap) -> bool {
    match rec {
        JournalRecord::Put { entry } => entries.insert(entry),
        JournalRecord::Del { key } => {
            entries.discard(key);
        }
        JournalRecord::Header { .. } => return false,
    }
    true
}

/// Apply one non-blank line; `false` when it is damaged (see [`decode_line`]), or its `meta`
/// is not JSON.
fn apply_line(body: &[u8], require_crc: bool, holds: Holds, entries: &mut EntryMap) -> bool {
    match decode_line(body, require_crc, holds) {
        Some(Decoded::Put(parts)) => entries.insert_parts(parts).is_ok(),
        Some(Decoded::Record(rec)) => apply_record(&rec, entries),
        None => false,
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
        let s = apply_all(bytes, Holds::Changes, &mut map, 0).unwrap();
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
        let s = apply_all(&buf[..], Holds::Puts, &mut snapshot, 0).unwrap();
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

    #[test]
    fn two_threads_read_exactly_what_one_does() {
        let mut buf = header_line(3);
        for i in 0..10_000 {
            let mut e = entry(&format!("k{}", i % 7_000));
            e.retry_at_ms = i;
            e.meta = serde_json::json!({ "n": i % 3 });
            if i % 997 == 0 {
                e.session_key = format!("esc\"aped{i}");
            }
            encode_op(&mut buf, &QueueOp::Put(e));
            if i % 10 == 0 {
                encode_op(&mut buf, &QueueOp::Remove(format!("k{}", i % 5_000)));
            }
            if i % 1_000 == 1 {
                buf.extend_from_slice(b"{\"op\":\"put\",garbage}\n");
            }
            if i % 1_500 == 2 {
                // a sound checksum around a meta that is not JSON
                let mut bad = Vec::new();
                encode_op(&mut bad, &QueueOp::Put(entry("badmeta")));
                let text = String::from_utf8(bad).unwrap();
                let body = text[..text.len() - 19].replace("\"meta\":null", "\"meta\":nul");
                let crc = crc32c::crc32c(body.as_bytes());
                buf.extend_from_slice(format!("{body},\"crc\":\"{crc:08x}\"}}\n").as_bytes());
            }
        }
        buf.extend_from_slice(b"{\"op\":\"put\",\"entry\":{\"torn");
        let mut one = EntryMap::default();
        let a = apply_all(&buf[..], Holds::Changes, &mut one, 0).unwrap();
        let mut two = EntryMap::default();
        let b = apply_all(&buf[..], Holds::Changes, &mut two, THREADED_FROM).unwrap();
        assert_eq!(a, b);
        assert!(a.bad_lines >= 17, "{a:?}");
        assert!(a.torn_tail > 0);
        let all = |m: &EntryMap| {
            let mut v: Vec<ParkedEntry> = m.views().map(|v| v.to_entry()).collect();
            crate::state::entry::sort_entries(&mut v);
            v
        };
        assert_eq!(all(&one), all(&two));
        assert!(one.get("badmeta").is_none());
        assert_eq!(one.len(), two.len());
    }
}
