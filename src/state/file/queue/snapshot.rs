//! The compacted snapshot `queue.json`: a pretty, human-readable JSON object
//! `{"version":1,"generation":N,"entries":[...]}` with entries sorted by `retryAtMs`.
//!
//! Reading a damaged snapshot salvages every entry that can still be read.

use super::journal::FORMAT_VERSION;
use crate::state::entry::{sort_entries, ParkedEntry};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;

#[derive(Serialize)]
struct SnapshotOut<'a> {
    version: u32,
    generation: u64,
    entries: Vec<&'a ParkedEntry>,
}

#[derive(Deserialize)]
struct SnapshotIn {
    version: u32,
    #[serde(default)]
    generation: u64,
    entries: Vec<ParkedEntry>,
}

/// Serialise a snapshot of `entries` (in any order) as generation `generation`.
pub(crate) fn encode<'a>(
    generation: u64,
    entries: impl Iterator<Item = &'a ParkedEntry>,
) -> Vec<u8> {
    let mut entries: Vec<&ParkedEntry> = entries.collect();
    sort_entries(&mut entries);
    let out = SnapshotOut {
        version: FORMAT_VERSION,
        generation,
        entries,
    };
    let mut bytes = serde_json::to_vec_pretty(&out).expect("snapshot serialises");
    bytes.push(b'\n');
    bytes
}

/// What reading a snapshot gave.
#[derive(Debug)]
pub(crate) enum SnapshotRead {
    /// A sound snapshot.
    Sound {
        /// Its generation.
        generation: u64,
        /// Its entries.
        entries: Vec<ParkedEntry>,
    },
    /// A damaged snapshot; `entries` are those that could still be read.
    Damaged {
        /// The generation, when it could be read.
        generation: Option<u64>,
        /// Readable entries.
        entries: Vec<ParkedEntry>,
        /// Entries (or unreadable stretches) that were lost.
        dropped: usize,
    },
    /// Written by a newer version of this code; must not be touched.
    Unsupported(u32),
}

/// Read the snapshot at `path` (`None` if there is none), streaming it when it is sound so a
/// large snapshot is never held in memory whole; a damaged one is read again for salvage.
pub(crate) fn read(path: &Path) -> io::Result<Option<SnapshotRead>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let reader = BufReader::with_capacity(1 << 16, file);
    if let Ok(s) = serde_json::from_reader::<_, SnapshotIn>(reader) {
        return Ok(Some(sound(s)));
    }
    Ok(Some(decode(&std::fs::read(path)?)))
}

fn sound(s: SnapshotIn) -> SnapshotRead {
    if s.version > FORMAT_VERSION {
        return SnapshotRead::Unsupported(s.version);
    }
    SnapshotRead::Sound {
        generation: s.generation,
        entries: s.entries,
    }
}

/// Read snapshot bytes.
pub(crate) fn decode(bytes: &[u8]) -> SnapshotRead {
    if let Ok(s) = serde_json::from_slice::<SnapshotIn>(bytes) {
        return sound(s);
    }
    if let Some(v) = number_after(bytes, b"\"version\"") {
        if v > u64::from(FORMAT_VERSION) {
            return SnapshotRead::Unsupported(u32::try_from(v).unwrap_or(u32::MAX));
        }
    }
    let (entries, dropped) = salvage_entries(bytes);
    SnapshotRead::Damaged {
        generation: number_after(bytes, b"\"generation\""),
        entries,
        dropped,
    }
}

/// Read entries one by one from the `"entries"` array, stopping at the first unreadable stretch.
fn salvage_entries(bytes: &[u8]) -> (Vec<ParkedEntry>, usize) {
    let mut entries = Vec::new();
    let mut dropped = 0;
    let Some(start) = find(bytes, b"\"entries\"") else {
        return (entries, usize::from(!bytes.is_empty()));
    };
    let Some(open) = bytes[start..].iter().position(|&b| b == b'[') else {
        return (entries, 1);
    };
    let mut pos = start + open + 1;
    loop {
        pos = skip_ws(bytes, pos);
        match bytes.get(pos) {
            Some(b']') => break,
            Some(b',') => {
                pos += 1;
                continue;
            }
            None => {
                break;
            }
            Some(_) => {}
        }
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<serde_json::Value>();
        match stream.next() {
            Some(Ok(value)) => {
                pos += stream.byte_offset();
                match serde_json::from_value::<ParkedEntry>(value) {
                    Ok(e) => entries.push(e),
                    Err(_) => dropped += 1,
                }
            }
            _ => {
                dropped += 1;
                break;
            }
        }
    }
    (entries, dropped)
}

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while bytes.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn number_after(bytes: &[u8], name: &[u8]) -> Option<u64> {
    let at = find(bytes, name)? + name.len();
    let mut pos = skip_ws(bytes, at);
    if bytes.get(pos) != Some(&b':') {
        return None;
    }
    pos = skip_ws(bytes, pos + 1);
    let digits: &[u8] = &bytes[pos..];
    let len = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&digits[..len]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::Reason;

    fn entry(key: &str, due: i64) -> ParkedEntry {
        ParkedEntry::new(key, Reason::RateLimit, 1, due, "429")
    }

    #[test]
    fn writes_pretty_sorted_by_retry_time_and_reads_back() {
        let (a, b, c) = (entry("a", 30), entry("b", 10), entry("c", 20));
        let bytes = encode(7, [&a, &b, &c].into_iter());
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains("\n  \"entries\": ["));
        match decode(&bytes) {
            SnapshotRead::Sound {
                generation,
                entries,
            } => {
                assert_eq!(generation, 7);
                let keys: Vec<&str> = entries.iter().map(|e| e.session_key.as_str()).collect();
                assert_eq!(keys, ["b", "c", "a"]);
            }
            other => panic!("expected a sound snapshot, got {other:?}"),
        }
    }

    #[test]
    fn salvages_entries_before_a_truncation_and_skips_bad_ones() {
        let (a, b, c) = (entry("a", 1), entry("b", 2), entry("c", 3));
        let bytes = encode(3, [&a, &b, &c].into_iter());
        let text = String::from_utf8(bytes).unwrap();
        // make b unreadable as an entry (wrong type) and cut the file inside c
        let text = text.replacen("\"attempts\": 1", "\"attempts\": \"x\"", 2);
        let text = text.replacen("\"attempts\": \"x\"", "\"attempts\": 1", 1);
        let cut = text.rfind("\"sessionKey\": \"c\"").unwrap();
        match decode(&text.as_bytes()[..cut]) {
            SnapshotRead::Damaged {
                generation,
                entries,
                dropped,
            } => {
                assert_eq!(generation, Some(3));
                assert_eq!(entries, vec![a]);
                assert_eq!(dropped, 2);
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }

    #[test]
    fn newer_versions_are_refused() {
        let bytes = br#"{"version": 9, "generation": 1, "entries": []}"#;
        assert!(matches!(decode(bytes), SnapshotRead::Unsupported(9)));
    }

    #[test]
    fn garbage_keeps_nothing_and_counts_the_loss() {
        match decode(b"\x00\x00\x00") {
            SnapshotRead::Damaged {
                entries, dropped, ..
            } => {
                assert!(entries.is_empty());
                assert_eq!(dropped, 1);
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }
}
