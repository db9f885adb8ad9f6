//! [`CounterFile`]: named lifetime counters (sessions parked, retried, dropped, ...) kept in
//! `<stateDir>/counters.json`, so they survive restarts.
//!
//! Every change is one read-modify-write under the state dir's lock file
//! (`counters.lock`): read and verify the file, add, write it back atomically and durably
//! ([`crate::state::file::durable::write_atomic`]: 0600 temp file, fsync, rename, fsync dir). The file holds
//! the counters and a SHA-256 of their canonical JSON; a file that fails the check is moved
//! aside (`counters.json.corrupt-<ms>`, never deleted) and counting restarts from zero. The
//! file is never read or written through a symlink. Counter values carry no secrets (names are
//! short identifiers chosen by the caller).

use crate::error::{EngineError, EngineResult};
use crate::state::file::durable::{ensure_dir, move_aside, write_atomic, LockGuard};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name of the counters inside the state dir.
pub const COUNTERS_FILE: &str = "counters.json";
/// Most distinct counter names one state dir keeps (default 256).
pub const MAX_COUNTERS: usize = 256;
/// Longest counter name, in bytes (default 64).
pub const MAX_NAME_LEN: usize = 64;
/// Largest single increment (default 1 000 000 000).
pub const MAX_INCREMENT: u64 = 1_000_000_000;

/// The counters as stored: name → value, sorted by name.
pub type Counters = BTreeMap<String, u64>;

#[derive(Serialize, Deserialize)]
struct OnDisk {
    version: u32,
    counters: Counters,
    sha256: String,
}

fn digest(counters: &Counters) -> String {
    let canonical = serde_json::to_vec(counters).unwrap_or_default();
    hex::encode(Sha256::digest(canonical))
}

/// What reading the file found besides the counters: a damaged file that was moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRecovery {
    /// The damaged file.
    pub path: PathBuf,
    /// Where it was moved.
    pub moved_to: PathBuf,
}

/// The counters file of one state dir. Cheap to create; every call does its own I/O (blocking:
/// call it off the async threads).
#[derive(Debug, Clone)]
pub struct CounterFile {
    dir: PathBuf,
}

/// Checks a counter name: 1..=64 bytes of `A-Z a-z 0-9 _ . : -`.
pub fn check_name(name: &str) -> EngineResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::input(
            "name",
            format!("expected 1..={MAX_NAME_LEN} characters of A-Z a-z 0-9 _ . : -"),
        ))
    }
}

impl CounterFile {
    /// The counters of state dir `dir` (the directory is created 0700 on the first write).
    pub fn new(dir: impl Into<PathBuf>) -> CounterFile {
        CounterFile { dir: dir.into() }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(COUNTERS_FILE)
    }

    fn lock(&self) -> EngineResult<LockGuard> {
        ensure_dir(&self.dir).map_err(|e| EngineError::io(&self.dir, e))?;
        let path = self.dir.join("counters.lock");
        LockGuard::acquire(&path).map_err(|e| EngineError::io(&path, e))
    }

    /// Read and verify; a damaged file is moved aside and reported, a missing one is empty.
    fn load(&self, now_ms: i64) -> EngineResult<(Counters, Option<CounterRecovery>)> {
        let path = self.path();
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Counters::new(), None))
            }
            Err(e) => return Err(EngineError::io(&path, e)),
            Ok(m) if m.file_type().is_symlink() => {
                return Err(EngineError::io(
                    &path,
                    std::io::Error::other("refusing to read counters through a symlink"),
                ))
            }
            Ok(_) => {}
        }
        let bytes = std::fs::read(&path).map_err(|e| EngineError::io(&path, e))?;
        match serde_json::from_slice::<OnDisk>(&bytes) {
            Ok(d) if d.version == 1 && d.sha256 == digest(&d.counters) => Ok((d.counters, None)),
            _ => {
                let moved_to = move_aside(&path, now_ms).map_err(|e| EngineError::io(&path, e))?;
                Ok((Counters::new(), Some(CounterRecovery { path, moved_to })))
            }
        }
    }

    /// Every counter (an empty map before the first [`CounterFile::add`]).
    pub fn read(&self, now_ms: i64) -> EngineResult<(Counters, Option<CounterRecovery>)> {
        let _lock = self.lock()?;
        self.load(now_ms)
    }

    /// Add `by` (1..=[`MAX_INCREMENT`]) to counter `name` durably; returns the new value.
    /// Values saturate at `u64::MAX`. A new name past [`MAX_COUNTERS`] is refused.
    pub fn add(
        &self,
        name: &str,
        by: u64,
        now_ms: i64,
    ) -> EngineResult<(u64, Option<CounterRecovery>)> {
        check_name(name)?;
        if by == 0 || by > MAX_INCREMENT {
            return Err(EngineError::input(
                "by",
                format!("expected an integer from 1 to {MAX_INCREMENT}"),
            ));
        }
        let _lock = self.lock()?;
        let (mut counters, recovery) = self.load(now_ms)?;
        if !counters.contains_key(name) && counters.len() >= MAX_COUNTERS {
            return Err(EngineError::input(
                "name",
                format!("at most {MAX_COUNTERS} distinct counters per state dir"),
            ));
        }
        let value = counters.entry(name.to_string()).or_insert(0);
        *value = value.saturating_add(by);
        let new_value = *value;
        let disk = OnDisk {
            version: 1,
            sha256: digest(&counters),
            counters,
        };
        let bytes = serde_json::to_vec_pretty(&disk)
            .map_err(|e| EngineError::io(self.path(), std::io::Error::other(e.to_string())))?;
        write_atomic(&self.path(), &bytes).map_err(|e| EngineError::io(self.path(), e))?;
        Ok((new_value, recovery))
    }

    /// The state dir this file lives in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn counts_survive_a_new_handle_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let a = CounterFile::new(&state);
        assert_eq!(a.add("retried", 1, 0).unwrap().0, 1);
        assert_eq!(a.add("retried", 2, 0).unwrap().0, 3);
        assert_eq!(a.add("dropped", 1, 0).unwrap().0, 1);
        let (read, rec) = CounterFile::new(&state).read(0).unwrap();
        assert_eq!(rec, None);
        assert_eq!(read.get("retried"), Some(&3));
        assert_eq!(read.get("dropped"), Some(&1));
        let mode = std::fs::metadata(state.join(COUNTERS_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let dmode = std::fs::metadata(&state).unwrap().permissions().mode();
        assert_eq!(dmode & 0o777, 0o700);
    }

    #[test]
    fn a_tampered_file_is_moved_aside_and_counting_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let f = CounterFile::new(dir.path());
        f.add("parked", 5, 0).unwrap();
        let path = dir.path().join(COUNTERS_FILE);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace(": 5", ": 50");
        std::fs::write(&path, text).unwrap();
        let (counters, rec) = f.read(42).unwrap();
        assert!(counters.is_empty());
        let rec = rec.expect("reported");
        assert!(rec.moved_to.exists(), "the damaged file is kept");
        assert_eq!(f.add("parked", 1, 43).unwrap(), (1, None));
    }

    #[test]
    fn names_and_increments_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let f = CounterFile::new(dir.path());
        for bad in ["", "has space", "x/y", &"n".repeat(65)] {
            assert_eq!(
                f.add(bad, 1, 0).unwrap_err().code(),
                "E_INVALID_INPUT",
                "{bad:?}"
            );
        }
        assert!(f.add("ok", 0, 0).is_err());
        assert!(f.add("ok", MAX_INCREMENT + 1, 0).is_err());
        for i in 0..MAX_COUNTERS {
            f.add(&format!("c{i}"), 1, 0).unwrap();
        }
        assert!(f.add("one-too-many", 1, 0).is_err());
        assert_eq!(
            f.add("c0", 1, 0).unwrap().0,
            2,
            "existing names still count"
        );
    }

    #[test]
    fn a_symlinked_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere.json");
        std::fs::write(&target, "{}").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join(COUNTERS_FILE)).unwrap();
        assert!(CounterFile::new(dir.path()).read(0).is_err());
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{}");
    }
}
