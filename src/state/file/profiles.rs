//! The file backend of profile usage: `profiles.json` (checksummed JSON lines, one profile
//! per line; the format-1 pretty JSON object is still read) shared
//! by every process using the state directory. Every transaction takes `profiles.lock`,
//! re-reads the file, applies the operation and writes it back atomically (0600), so no
//! process ever writes a stale copy. A damaged file is moved aside and its readable profiles
//! are kept.

use super::durable::{move_aside, read_file, write_atomic, LockGuard};
use super::lines::{self, Headed};
use crate::error::{EngineError, EngineResult};
use crate::profiles::profile::validate_id;
use crate::profiles::ProfileStats;
use crate::state::profiles::{ProfileUsage, ProfileUsageStore};
use crate::state::recovery::RecoveryReport;
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// Name of the usage file inside the state directory.
pub const FILE_NAME: &str = "profiles.json";
/// Name of the lock file inside the state directory.
pub const LOCK_NAME: &str = "profiles.lock";

/// Profile usage in `profiles.json` of a state directory. Blocking file I/O; holds no open
/// files between calls.
#[derive(Debug, Clone)]
pub struct FileProfiles {
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileProfiles {
    /// The store in `dir` (which must exist).
    pub fn in_dir(dir: &Path) -> FileProfiles {
        FileProfiles {
            path: dir.join(FILE_NAME),
            lock_path: dir.join(LOCK_NAME),
        }
    }

    /// The path of `profiles.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read the file (missing = empty). A damaged file is moved aside and its readable part
    /// written back at once, so nothing salvaged is lost if the operation then fails.
    fn load(&self, now_ms: i64) -> EngineResult<(ProfileUsage, Option<RecoveryReport>)> {
        let bytes = match read_file(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok((ProfileUsage::default(), None))
            }
            Err(e) => return Err(EngineError::io(&self.path, e)),
        };
        match decode(&bytes) {
            Decoded::Clean(state) => Ok((state, None)),
            Decoded::TooNew(v) => Err(EngineError::io(
                &self.path,
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "written by a newer engine (format version {v}); upgrade openclaw-retry-engine or use another state directory"
                    ),
                ),
            )),
            Decoded::Damaged {
                state,
                kept,
                dropped,
            } => {
                let moved_to =
                    move_aside(&self.path, now_ms).map_err(|e| EngineError::io(&self.path, e))?;
                self.save(&state)?;
                let info = RecoveryReport {
                    path: self.path.clone(),
                    moved_to,
                    kept,
                    dropped,
                };
                Ok((state, Some(info)))
            }
        }
    }

    fn save(&self, state: &ProfileUsage) -> EngineResult<()> {
        write_atomic(&self.path, &encode(state)).map_err(|e| EngineError::io(&self.path, e))
    }
}

impl ProfileUsageStore for FileProfiles {
    fn transact(
        &self,
        now_ms: i64,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> EngineResult<Option<RecoveryReport>> {
        let _lock =
            LockGuard::acquire(&self.lock_path).map_err(|e| EngineError::io(&self.lock_path, e))?;
        let (mut state, recovery) = self.load(now_ms)?;
        if op(&mut state)? {
            self.save(&state)?;
        }
        Ok(recovery)
    }
}

/// What reading the file gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A well-formed file.
    Clean(ProfileUsage),
    /// A damaged file: `state` holds the `kept` readable profiles; `dropped` could not be read.
    Damaged {
        /// The readable part.
        state: ProfileUsage,
        /// Profiles kept.
        kept: usize,
        /// Profiles that could not be read.
        dropped: usize,
    },
    /// Written by a newer version of the engine; must not be touched.
    TooNew(u64),
}

/// The format version written: 2 = checksummed JSON lines, one profile per line.
pub const VERSION: u32 = 2;

/// One line of `profiles.json` (format 2).
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", rename_all_fields = "camelCase")]
enum Line {
    /// First line: the format and the store-wide pick counter.
    Header { version: u32, pick_seq: u64 },
    /// One profile's usage record.
    Profile { id: String, stats: ProfileStats },
}

impl Headed for Line {
    fn header(&self) -> Option<(u32, u64)> {
        match self {
            Line::Header { version, pick_seq } => Some((*version, *pick_seq)),
            Line::Profile { .. } => None,
        }
    }
}

/// Serialise for writing: a header line, then one checksummed line per profile (sorted by id).
pub fn encode(state: &ProfileUsage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(64 + state.profiles.len() * 256);
    lines::push_line(
        &mut bytes,
        &Line::Header {
            version: VERSION,
            pick_seq: state.pick_seq,
        },
    );
    for (id, stats) in &state.profiles {
        #[derive(Serialize)]
        #[serde(tag = "op", rename = "profile")]
        struct Out<'a> {
            id: &'a str,
            stats: &'a ProfileStats,
        }
        lines::push_line(&mut bytes, &Out { id, stats });
    }
    bytes
}

/// Read the file's bytes (format 2 lines, or the format-1 JSON object), salvaging every
/// readable profile of a damaged file.
pub fn decode(bytes: &[u8]) -> Decoded {
    if bytes.trim_ascii_start().starts_with(b"{\"op\":") {
        decode_lines(bytes)
    } else {
        decode_v1(bytes)
    }
}

fn decode_lines(bytes: &[u8]) -> Decoded {
    let scan = lines::scan::<Line>(bytes, true, true, VERSION).expect("reading from memory");
    if let Some((v, _)) = scan.header.filter(|(v, _)| *v > VERSION) {
        return Decoded::TooNew(u64::from(v));
    }
    let mut dropped = scan.bad_lines + usize::from(scan.torn_tail > 0);
    let mut state = ProfileUsage::default();
    for line in scan.records {
        match line {
            Line::Profile { id, stats } if validate_id("profileId", &id).is_ok() => {
                state.profiles.insert(id, stats);
            }
            _ => dropped += 1,
        }
    }
    finish(state, scan.header.map(|(_, seq)| seq), dropped)
}

/// Never reuse a pick number seen on disk; clean only with a header and nothing dropped.
fn finish(mut state: ProfileUsage, pick_seq: Option<u64>, dropped: usize) -> Decoded {
    let max_seq = state.profiles.values().map(|p| p.last_used_seq).max();
    state.pick_seq = pick_seq.unwrap_or(0).max(max_seq.unwrap_or(0));
    if dropped == 0 && pick_seq.is_some() {
        Decoded::Clean(state)
    } else {
        Decoded::Damaged {
            kept: state.profiles.len(),
            state,
            dropped,
        }
    }
}

/// Format 1: `{"version":1,"pickSeq":N,"profiles":{"<id>":{"provider":…},…}}`.
fn decode_v1(bytes: &[u8]) -> Decoded {
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice::<serde_json::Value>(bytes)
    else {
        return salvage_v1(bytes);
    };
    let version = root.get("version").and_then(|v| v.as_u64());
    if let Some(v) = version.filter(|&v| v > 1) {
        return Decoded::TooNew(v);
    }
    let Some(serde_json::Value::Object(entries)) = root.get("profiles") else {
        return finish(ProfileUsage::default(), None, 0);
    };
    let mut state = ProfileUsage::default();
    let mut dropped = 0;
    for (id, value) in entries {
        match ProfileStats::deserialize(value) {
            Ok(stats) if validate_id("profileId", id).is_ok() => {
                state.profiles.insert(id.clone(), stats);
            }
            _ => dropped += 1,
        }
    }
    let pick_seq = root.get("pickSeq").and_then(|v| v.as_u64());
    let seq = pick_seq.filter(|_| version.is_some());
    finish(state, seq, dropped)
}

/// A format-1 file that is not JSON any more (cut, NUL tail, a broken profile): every
/// `"<id>": {"provider": …}` object that still parses is kept, every one that does not is
/// counted as dropped.
fn salvage_v1(bytes: &[u8]) -> Decoded {
    static START: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(r#""((?:[^"\\\x00-\x1f]|\\.)*)"\s*:\s*(\{)\s*"provider""#)
            .expect("profile start pattern compiles")
    });
    static PICK_SEQ: std::sync::LazyLock<regex::bytes::Regex> = std::sync::LazyLock::new(|| {
        regex::bytes::Regex::new(r#""pickSeq"\s*:\s*(\d+)"#).expect("pickSeq pattern compiles")
    });
    let mut state = ProfileUsage::default();
    let mut dropped = 0;
    for caps in START.captures_iter(bytes) {
        let (Some(id), Some(open)) = (caps.get(1), caps.get(2)) else {
            continue;
        };
        let id: Option<String> = serde_json::from_slice(&bytes[id.start() - 1..id.end() + 1]).ok();
        let mut stream = serde_json::Deserializer::from_slice(&bytes[open.start()..])
            .into_iter::<ProfileStats>();
        match (id, stream.next()) {
            (Some(id), Some(Ok(stats))) if validate_id("profileId", &id).is_ok() => {
                state.profiles.insert(id, stats);
            }
            _ => dropped += 1,
        }
    }
    let pick_seq = PICK_SEQ
        .captures(bytes)
        .and_then(|c| std::str::from_utf8(&c[1]).ok()?.parse::<u64>().ok());
    match finish(state, pick_seq, dropped) {
        Decoded::Clean(state) => Decoded::Damaged {
            kept: state.profiles.len(),
            state,
            dropped: 0,
        },
        damaged => damaged,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(ids: &[&str]) -> ProfileUsage {
        let mut s = ProfileUsage {
            pick_seq: 4,
            ..ProfileUsage::default()
        };
        for id in ids {
            s.profiles.insert((*id).into(), ProfileStats::new("openai"));
        }
        s
    }

    fn kept_dropped(d: &Decoded) -> (usize, usize) {
        match d {
            Decoded::Damaged { kept, dropped, .. } => (*kept, *dropped),
            other => panic!("expected damaged, got {other:?}"),
        }
    }

    #[test]
    fn round_trips_a_clean_file_one_profile_per_line() {
        let s = usage(&["a", "b"]);
        let bytes = encode(&s);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| l.contains("\"crc\":\"")));
        assert_eq!(decode(&bytes), Decoded::Clean(s));
    }

    #[test]
    fn one_damaged_line_costs_only_its_profile() {
        let s = usage(&["a", "b", "c"]);
        let text = String::from_utf8(encode(&s)).unwrap();
        let flipped = text.replacen("\"id\":\"b\"", "\"id\":\"B\"", 1);
        let d = decode(flipped.as_bytes());
        assert_eq!(kept_dropped(&d), (2, 1));
        let Decoded::Damaged { state, .. } = d else {
            unreachable!()
        };
        assert_eq!(state.pick_seq, 4);
        assert!(!state.profiles.contains_key("B"));
        // NUL tail, cut last bytes
        let mut nul = text.clone().into_bytes();
        nul.extend_from_slice(&[0; 64]);
        assert_eq!(kept_dropped(&decode(&nul)), (3, 1));
        let cut = &text.as_bytes()[..text.len() - 3];
        assert_eq!(kept_dropped(&decode(cut)), (2, 1));
    }

    #[test]
    fn format_1_files_are_read_and_salvaged_profile_by_profile() {
        let clean =
            r#"{"version":1,"pickSeq":2,"profiles":{"a":{"provider":"openai","lastUsedSeq":7}}}"#;
        let Decoded::Clean(s) = decode(clean.as_bytes()) else {
            panic!("a sound format-1 file is clean")
        };
        assert_eq!((s.pick_seq, s.profiles.len()), (7, 1));
        let text = r#"{"version":1,"pickSeq":2,"profiles":{
            "good":{"provider":"openai","lastUsedSeq":7},
            "bad":{"provider":42},
            "":{"provider":"openai"}}}"#;
        let d = decode(text.as_bytes());
        assert_eq!(kept_dropped(&d), (1, 2));
        let Decoded::Damaged { state, .. } = d else {
            unreachable!()
        };
        assert!(state.profiles.contains_key("good"));
        assert_eq!(
            state.pick_seq, 7,
            "never reuse a sequence number seen on disk"
        );
        // not JSON any more: a NUL tail, a cut, a broken profile in the middle
        let three = r#"{
  "version": 1,
  "pickSeq": 3,
  "profiles": {
    "a": {"provider": "openai", "useCount": 1},
    "b": {"provider": "openai", "useCount": 2},
    "c": {"provider": "openai", "useCount": 3}
  }
}
"#;
        let mut nul = three.as_bytes().to_vec();
        nul.extend_from_slice(&[0; 16]);
        assert_eq!(kept_dropped(&decode(&nul)), (3, 0));
        assert_eq!(
            kept_dropped(&decode(&three.as_bytes()[..three.len() - 3])),
            (3, 0)
        );
        let broken = three.replacen("\"useCount\": 2", "\"useCount\": 2,,", 1);
        assert_eq!(kept_dropped(&decode(broken.as_bytes())), (2, 1));
    }

    #[test]
    fn garbage_and_truncation_are_damaged_and_newer_versions_refused() {
        for bad in [&b""[..], b"{\"version\":1,\"profi", b"[]", b"\x00\x01"] {
            assert!(
                matches!(decode(bad), Decoded::Damaged { kept: 0, .. }),
                "{bad:?}"
            );
        }
        assert_eq!(
            decode(br#"{"version":9,"profiles":{}}"#),
            Decoded::TooNew(9)
        );
        let mut v9 = Vec::new();
        lines::push_line(
            &mut v9,
            &Line::Header {
                version: 9,
                pick_seq: 0,
            },
        );
        assert_eq!(decode(&v9), Decoded::TooNew(9));
    }
}
