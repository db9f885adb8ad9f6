//! The compacted snapshot `queue.json`: checksummed JSON lines (format 2), a header
//! `{"op":"header","version":2,"generation":N}` then one `{"op":"put","entry":{…}}` per entry,
//! sorted by `retryAtMs`. One entry per line keeps it readable (`jq`, `grep`), lets a reader
//! check every record on its own and keep every sound one of a damaged file.
//!
//! Format 1 (a pretty-printed `{"version":1,"generation":N,"entries":[…]}` object) is still
//! read; a damaged one is salvaged entry by entry.

use super::entry_map::{EntryMap, EntryView};
use super::journal::{self, Holds, FORMAT_VERSION};
use crate::state::entry::ParkedEntry;
use crate::state::file::durable::open_read;
use serde::Deserialize;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

#[derive(Deserialize)]
struct SnapshotV1 {
    version: u32,
    #[serde(default)]
    generation: u64,
    entries: Vec<ParkedEntry>,
}

/// Serialise a snapshot of `entries` as generation `generation`, sorted by due time then
/// key.
pub(crate) fn encode(generation: u64, entries: &EntryMap) -> Vec<u8> {
    let mut views: Vec<EntryView<'_>> = entries.views().collect();
    views.sort_unstable_by(|a, b| (a.retry_at_ms(), a.key()).cmp(&(b.retry_at_ms(), b.key())));
    let mut bytes = journal::header_line(generation);
    bytes.reserve(views.len() * 320);
    for v in views {
        journal::encode_put(&mut bytes, &v.to_entry());
    }
    bytes
}

/// What reading a snapshot gave.
#[derive(Debug)]
pub(crate) enum SnapshotRead {
    /// A sound snapshot.
    Sound {
        /// Its format version (older ones are rewritten on open).
        version: u32,
        /// Its generation.
        generation: u64,
    },
    /// A damaged snapshot; the map holds the entries that could still be read.
    Damaged {
        /// The generation, when it could be read.
        generation: Option<u64>,
        /// Entries (or unreadable stretches) that were lost.
        dropped: usize,
    },
    /// Written by a newer version of this code; must not be touched.
    Unsupported(u32),
}

/// Read the snapshot at `path` into `entries` (`None` if there is none), streaming it so a
/// large snapshot is never held in memory whole (a format-1 snapshot is read whole).
pub(crate) fn read(path: &Path, entries: &mut EntryMap) -> io::Result<Option<SnapshotRead>> {
    let file = match open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::with_capacity(super::load::READ_BUFFER, file);
    if is_format_1(reader.fill_buf()?) {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes)?;
        return Ok(Some(decode_v1(&bytes, entries)));
    }
    let size = reader.get_ref().metadata()?.len();
    let scan = journal::apply_all(reader, Holds::Puts, entries, size)?;
    Ok(Some(from_scan(scan)))
}

/// Read snapshot bytes (either format); the entries sorted by due time then key.
#[cfg(test)]
pub(crate) fn decode(bytes: &[u8]) -> (SnapshotRead, Vec<ParkedEntry>) {
    let mut map = EntryMap::default();
    let read = if is_format_1(bytes) {
        decode_v1(bytes, &mut map)
    } else {
        let scan = journal::apply_all(bytes, Holds::Puts, &mut map, bytes.len() as u64);
        from_scan(scan.expect("reading from memory cannot fail"))
    };
    let mut entries: Vec<ParkedEntry> = map.views().map(|v| v.to_entry()).collect();
    crate::state::entry::sort_entries(&mut entries);
    (read, entries)
}

/// Format 2 starts with its compact header line `{"op":"header",…`; format 1 is one JSON
/// object with `version`, `generation` and `entries` fields.
fn is_format_1(start: &[u8]) -> bool {
    let trimmed = start.trim_ascii_start();
    trimmed.starts_with(b"{") && !trimmed.starts_with(b"{\"op\":")
}

fn from_scan(scan: journal::JournalScan) -> SnapshotRead {
    // a snapshot holds only puts: anything else was counted as damage
    let dropped = scan.bad_lines + usize::from(scan.torn_tail > 0);
    match scan.header {
        Some((v, _)) if v > FORMAT_VERSION => SnapshotRead::Unsupported(v),
        Some((version, generation)) if dropped == 0 => SnapshotRead::Sound {
            version,
            generation,
        },
        header => SnapshotRead::Damaged {
            generation: header.map(|(_, g)| g),
            dropped: if header.is_none() && dropped == 0 {
                1 // an unreadable header line
            } else {
                dropped
            },
        },
    }
}

fn decode_v1(bytes: &[u8], map: &mut EntryMap) -> SnapshotRead {
    if let Ok(s) = serde_json::from_slice::<SnapshotV1>(bytes) {
        if s.version > FORMAT_VERSION {
            return SnapshotRead::Unsupported(s.version);
        }
        for e in &s.entries {
            map.insert(e);
        }
        return SnapshotRead::Sound {
            version: s.version,
            generation: s.generation,
        };
    }
    if let Some(v) = number_after(bytes, b"\"version\"") {
        if v > u64::from(FORMAT_VERSION) {
            return SnapshotRead::Unsupported(u32::try_from(v).unwrap_or(u32::MAX));
        }
    }
    let (entries, dropped) = salvage_entries(bytes);
    for e in &entries {
        map.insert(e);
    }
    SnapshotRead::Damaged {
        generation: number_after(bytes, b"\"generation\""),
        dropped,
    }
}

/// Read format-1 entries one by one from the `"entries"` array. An unreadable stretch counts
/// as one lost entry, and reading resumes at the next object that starts with `"sessionKey"`
/// (how every entry is written), so one damaged entry never costs the ones after it.
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
            Some(b']') | None => break,
            Some(b',') => {
                pos += 1;
                continue;
            }
            Some(_) => {}
        }
        let mut stream =
            serde_json::Deserializer::from_slice(&bytes[pos..]).into_iter::<serde_json::Value>();
        let parsed = match stream.next() {
            Some(Ok(value)) => Some((value, stream.byte_offset())),
            _ => None,
        };
        match parsed {
            Some((value, len)) => {
                match serde_json::from_value::<ParkedEntry>(value) {
                    Ok(e) => entries.push(e),
                    Err(_) => dropped += 1,
                }
                pos += len;
            }
            None => {
                dropped += 1;
                match next_entry_start(bytes, pos + 1) {
                    Some(next) => pos = next,
                    None => break,
                }
            }
        }
    }
    (entries, dropped)
}

/// The next `{` (at or after `from`) followed by optional whitespace and `"sessionKey"`.
fn next_entry_start(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while at < bytes.len() {
        let brace = at + bytes[at..].iter().position(|&b| b == b'{')?;
        if bytes[skip_ws(bytes, brace + 1)..].starts_with(b"\"sessionKey\"") {
            return Some(brace);
        }
        at = brace + 1;
    }
    None
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
    use serde::Serialize;

    fn entry(key: &str, due: i64) -> ParkedEntry {
        ParkedEntry::new(key, Reason::RateLimit, 1, due, "429")
    }

    /// A format-1 snapshot as the previous version wrote it.
    fn v1(generation: u64, entries: &[&ParkedEntry]) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u32,
            generation: u64,
            entries: &'a [&'a ParkedEntry],
        }
        let out = Out {
            version: 1,
            generation,
            entries,
        };
        serde_json::to_string_pretty(&out).unwrap() + "\n"
    }

    fn keys(entries: &[ParkedEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.session_key.as_str()).collect()
    }

    fn map_of(entries: &[&ParkedEntry]) -> EntryMap {
        let mut m = EntryMap::default();
        for e in entries {
            m.insert(e);
        }
        m
    }

    #[test]
    fn writes_one_checksummed_line_per_entry_sorted_by_retry_time_and_reads_back() {
        let (a, b, c) = (entry("a", 30), entry("b", 10), entry("c", 20));
        let bytes = encode(7, &map_of(&[&a, &b, &c]));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.lines().all(|l| l.contains("\"crc\":\"")));
        match decode(&bytes) {
            (
                SnapshotRead::Sound {
                    version,
                    generation,
                },
                entries,
            ) => {
                assert_eq!((version, generation), (FORMAT_VERSION, 7));
                assert_eq!(keys(&entries), ["b", "c", "a"]);
            }
            other => panic!("expected a sound snapshot, got {other:?}"),
        }
    }

    #[test]
    fn a_damaged_line_costs_only_its_entry() {
        let all: Vec<ParkedEntry> = (0..40).map(|i| entry(&format!("k{i:02}"), i)).collect();
        let bytes = encode(3, &map_of(&all.iter().collect::<Vec<_>>()));
        let text = String::from_utf8(bytes).unwrap();
        let broken = text.replacen("\"sessionKey\":\"k02\"", "\"sessionKey\":\"o57\"", 1);
        match decode(broken.as_bytes()) {
            (
                SnapshotRead::Damaged {
                    generation,
                    dropped,
                },
                entries,
            ) => {
                assert_eq!(generation, Some(3));
                assert_eq!((entries.len(), dropped), (39, 1));
                assert!(
                    !keys(&entries).contains(&"o57"),
                    "a flipped key is never accepted"
                );
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }

    #[test]
    fn format_1_is_read_and_salvaged_entry_by_entry() {
        let (a, b, c) = (entry("a", 1), entry("b", 2), entry("c", 3));
        let text = v1(3, &[&a, &b, &c]);
        match decode(text.as_bytes()) {
            (SnapshotRead::Sound { .. }, entries) => assert_eq!(keys(&entries), ["a", "b", "c"]),
            other => panic!("expected sound, got {other:?}"),
        }
        // make b unparseable: c, after it, is still read
        let broken = text.replacen("\"sessionKey\": \"b\"", "\"sessionKey\": \"b", 1);
        match decode(broken.as_bytes()) {
            (
                SnapshotRead::Damaged {
                    generation,
                    dropped,
                },
                entries,
            ) => {
                assert_eq!(generation, Some(3));
                assert_eq!(keys(&entries), ["a", "c"]);
                assert_eq!(dropped, 1);
            }
            other => panic!("expected damaged, got {other:?}"),
        }
        // wrong type in b, and the file cut inside c
        let typed = text.replacen("\"attempts\": 1", "\"attempts\": \"x\"", 2);
        let typed = typed.replacen("\"attempts\": \"x\"", "\"attempts\": 1", 1);
        let cut = typed.rfind("\"sessionKey\": \"c\"").unwrap();
        match decode(&typed.as_bytes()[..cut]) {
            (SnapshotRead::Damaged { dropped, .. }, entries) => {
                assert_eq!(keys(&entries), ["a"]);
                assert_eq!(dropped, 2);
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }

    #[test]
    fn newer_versions_are_refused() {
        let bytes = br#"{"version": 9, "generation": 1, "entries": []}"#;
        assert!(matches!(decode(bytes).0, SnapshotRead::Unsupported(9)));
        let mut lines = Vec::new();
        crate::state::file::lines::push_line(
            &mut lines,
            &serde_json::json!({"op": "header", "version": 9, "generation": 1}),
        );
        assert!(matches!(decode(&lines).0, SnapshotRead::Unsupported(9)));
    }

    #[test]
    fn garbage_keeps_nothing_and_counts_the_loss() {
        match decode(b"\x00\x00\x00") {
            (SnapshotRead::Damaged { dropped, .. }, entries) => {
                assert!(entries.is_empty());
                assert_eq!(dropped, 1);
            }
            other => panic!("expected damaged, got {other:?}"),
        }
    }
}
