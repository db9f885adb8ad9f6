//! The append-only journal `queue.journal`: one JSON object per line.
//!
//! ```text
//! {"op":"header","version":1,"generation":3}
//! {"op":"put","entry":{"sessionKey":"agent:main:42",...}}
//! {"op":"del","key":"agent:main:42"}
//! ```
//!
//! The header names the snapshot generation the journal continues; a compaction writes a new
//! snapshot with the next generation and then replaces the journal with a bare header.

use crate::state::entry::{ParkedEntry, QueueOp};
use serde::{Deserialize, Serialize};
use std::io::{self, BufRead};

/// The journal and snapshot format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

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

#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum RecordOut<'a> {
    Header { version: u32, generation: u64 },
    Put { entry: &'a ParkedEntry },
    Del { key: &'a str },
}

fn push_line(buf: &mut Vec<u8>, rec: &RecordOut<'_>) {
    // Serialising these plain structs to a Vec cannot fail; newlines inside strings are escaped,
    // so every record is exactly one line.
    serde_json::to_writer(&mut *buf, rec).expect("journal record serialises");
    buf.push(b'\n');
}

/// The header line for a journal continuing snapshot `generation`.
pub(crate) fn header_line(generation: u64) -> Vec<u8> {
    let mut buf = Vec::with_capacity(48);
    push_line(
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
        QueueOp::Put(entry) => push_line(buf, &RecordOut::Put { entry }),
        QueueOp::Remove(key) => push_line(buf, &RecordOut::Del { key }),
    }
}

/// What a scan of journal bytes found.
#[derive(Debug, Default)]
pub(crate) struct JournalScan {
    /// `(version, generation)` from a header on the first line, when scanning from the start.
    pub header: Option<(u32, u64)>,
    /// Put/del records in file order.
    pub records: Vec<JournalRecord>,
    /// Complete lines that could not be read (corrupt), header lines out of place included.
    pub bad_lines: usize,
    /// Bytes up to and including the last newline.
    pub complete_len: u64,
    /// Bytes after the last newline: a write torn by a crash, never acknowledged.
    pub torn_tail: u64,
}

/// Read journal bytes. `from_start` says whether `bytes` begins at offset 0 (where a header may
/// stand); blank lines are ignored.
pub(crate) fn scan(bytes: &[u8], from_start: bool) -> JournalScan {
    scan_reader(bytes, from_start).expect("reading from memory cannot fail")
}

/// Like [`scan`], reading line by line so a large journal is never held in memory whole.
pub(crate) fn scan_reader(mut r: impl BufRead, from_start: bool) -> io::Result<JournalScan> {
    let mut out = JournalScan::default();
    let mut line = Vec::new();
    let mut index = 0;
    loop {
        line.clear();
        let n = r.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            out.torn_tail = n as u64;
            break;
        }
        out.complete_len += n as u64;
        let body = &line[..n - 1];
        let first = index == 0;
        index += 1;
        if body.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<JournalRecord>(body) {
            Ok(JournalRecord::Header {
                version,
                generation,
            }) if from_start && first => out.header = Some((version, generation)),
            Ok(JournalRecord::Header { .. }) | Err(_) => out.bad_lines += 1,
            Ok(rec) => out.records.push(rec),
        }
    }
    Ok(out)
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
        let s = scan(&buf, true);
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
        let s = scan(&buf, true);
        assert_eq!(s.records.len(), 2);
        assert_eq!(s.bad_lines, 1);
        assert_eq!(s.complete_len, good_len as u64);
        assert_eq!(s.torn_tail, (buf.len() - good_len) as u64);
    }

    #[test]
    fn a_header_away_from_the_start_is_corrupt() {
        let buf = header_line(1);
        let s = scan(&buf, false);
        assert_eq!(s.header, None);
        assert_eq!(s.bad_lines, 1);
    }
}
