//! The file backend of profile usage: `profiles.json` (versioned, pretty-printed JSON) shared
//! by every process using the state directory. Every transaction takes `profiles.lock`,
//! re-reads the file, applies the operation and writes it back atomically (0600), so no
//! process ever writes a stale copy. A damaged file is moved aside and its readable profiles
//! are kept.

use super::durable::{move_aside, write_atomic, LockGuard};
use crate::error::{EngineError, EngineResult};
use crate::profiles::profile::validate_id;
use crate::profiles::ProfileStats;
use crate::state::profiles::{ProfileUsage, ProfileUsageStore, VERSION};
use crate::state::recovery::RecoveryReport;
use serde::Deserialize;
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
        let bytes = match std::fs::read(&self.path) {
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

/// Serialise for writing (pretty JSON with a trailing newline).
pub fn encode(state: &ProfileUsage) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(state).expect("profile state always serialises");
    bytes.push(b'\n');
    bytes
}

/// Read the file's bytes, salvaging what can be read from a damaged file.
pub fn decode(bytes: &[u8]) -> Decoded {
    let damaged_empty = Decoded::Damaged {
        state: ProfileUsage::default(),
        kept: 0,
        dropped: 0,
    };
    let Ok(serde_json::Value::Object(root)) = serde_json::from_slice::<serde_json::Value>(bytes)
    else {
        return damaged_empty;
    };
    let version = root.get("version").and_then(|v| v.as_u64());
    if let Some(v) = version.filter(|&v| v > u64::from(VERSION)) {
        return Decoded::TooNew(v);
    }
    let Some(serde_json::Value::Object(entries)) = root.get("profiles") else {
        return damaged_empty;
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
    let max_seq = state.profiles.values().map(|p| p.last_used_seq).max();
    let pick_seq = root.get("pickSeq").and_then(|v| v.as_u64());
    state.pick_seq = pick_seq.unwrap_or(0).max(max_seq.unwrap_or(0));
    if dropped == 0 && version.is_some() && pick_seq.is_some() {
        Decoded::Clean(state)
    } else {
        Decoded::Damaged {
            kept: state.profiles.len(),
            state,
            dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_a_clean_file() {
        let mut s = ProfileUsage {
            pick_seq: 4,
            ..ProfileUsage::default()
        };
        s.profiles.insert("a".into(), ProfileStats::new("openai"));
        let bytes = encode(&s);
        assert!(String::from_utf8(bytes.clone())
            .unwrap()
            .contains("\n  \"profiles\""));
        assert_eq!(decode(&bytes), Decoded::Clean(s));
    }

    #[test]
    fn salvages_readable_profiles() {
        let text = r#"{"version":1,"pickSeq":2,"profiles":{
            "good":{"provider":"openai","lastUsedSeq":7},
            "bad":{"provider":42},
            "":{"provider":"openai"}}}"#;
        let Decoded::Damaged {
            state,
            kept,
            dropped,
        } = decode(text.as_bytes())
        else {
            panic!("expected a damaged file")
        };
        assert_eq!((kept, dropped), (1, 2));
        assert!(state.profiles.contains_key("good"));
        assert_eq!(
            state.pick_seq, 7,
            "never reuse a sequence number seen on disk"
        );
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
    }
}
