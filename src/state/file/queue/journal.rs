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

use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::file::lines::{self, Headed, LineScan};
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

/// What a scan of journal bytes found.
pub(crate) type JournalScan = LineScan<JournalRecord>;

/// Read journal bytes that continue a format-2 journal (checksums required).
pub(crate) fn scan(bytes: &[u8]) -> JournalScan {
    lines::scan(bytes, false, true, FORMAT_VERSION).expect("reading from memory cannot fail")
}

/// Read a whole journal (or line snapshot) from its start, line by line so a large file is
/// never held in memory whole; the header's version says whether checksums are required.
pub(crate) fn scan_reader(r: impl BufRead) -> io::Result<JournalScan> {
    lines::scan(r, true, true, FORMAT_VERSION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn entry(key: &str) -> ParkedEntry {
        ParkedEntry::new(key, Reason::RateLimit, 1, 2, "line one\nline two")
    }

    #[test]
    fn round_trips_header_puts_and_dels_one_per_line() {
        let mut buf = header_line(4);
        encode_op(&mut buf, &QueueOp::Put(entry("a")));
        encode_op(&mut buf, &QueueOp::Remove("a".into()));
        assert_eq!(buf.iter().filter(|&&b| b == b'\n').count(), 3);
        let s = scan_reader(&buf[..]).unwrap();
        assert_eq!(s.header, Some((FORMAT_VERSION, 4)));
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.records[0], JournalRecord::Put { entry: entry("a") });
        assert_eq!(s.bad_lines, 0);
        assert_eq!(s.torn_tail, 0);
        assert_eq!(s.complete_len, buf.len() as u64);
    }

    #[test]
    fn torn_tail_and_corrupt_lines_are_told_apart() {
        let mut buf = header_line(1);
        encode_op(&mut buf, &QueueOp::Put(entry("a")));
        buf.extend_from_slice(b"{\"op\":\"put\",garbage\n");
        encode_op(&mut buf, &QueueOp::Put(entry("b")));
        let good_len = buf.len();
        buf.extend_from_slice(b"{\"op\":\"put\",\"entry\":{\"sessi");
        let s = scan_reader(&buf[..]).unwrap();
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.bad_lines, 1);
        assert_eq!(s.complete_len, good_len as u64);
        assert_eq!(s.torn_tail, (buf.len() - good_len) as u64);
    }

    #[test]
    fn a_header_away_from_the_start_is_corrupt_and_unchecked_lines_too() {
        let s = scan(&header_line(1));
        assert_eq!(s.header, None);
        assert_eq!(s.bad_lines, 1);
        let s = scan(b"{\"op\":\"del\",\"key\":\"a\"}\n");
        assert_eq!((s.records.len(), s.bad_lines), (0, 1));
    }

    #[test]
    fn format_1_journals_without_checksums_are_still_read() {
        let v1 =
            "{\"op\":\"header\",\"version\":1,\"generation\":2}\n{\"op\":\"del\",\"key\":\"a\"}\n";
        let s = scan_reader(v1.as_bytes()).unwrap();
        assert_eq!(s.header, Some((1, 2)));
        assert_eq!(s.records, vec![JournalRecord::Del { key: "a".into() }]);
    }
}
