//! Options of the park queue store and the names of its files.

use crate::clock::{SharedClock, SystemClock};
use crate::error::{EngineError, EngineResult};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default cap on parked sessions.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;
/// Default minimum number of journal records before a compaction.
pub const DEFAULT_COMPACT_MIN_RECORDS: usize = 1_000;

/// Options of [`crate::state::file::QueueStore`].
#[derive(Debug, Clone)]
pub struct QueueConfig {
    /// The state directory (created 0700 if missing). No default.
    pub dir: PathBuf,
    /// Most parked sessions; parking a new key beyond it fails with `QueueFull` (updates of
    /// parked keys still succeed). Default 10 000.
    pub max_entries: usize,
    /// An old `@cheapestinference/openclaw-ratelimit-retry` `queue.json` to import once, on the
    /// first open of an empty store. Never modified. Default none.
    pub import_path: Option<PathBuf>,
    /// The journal is compacted into the snapshot once it holds more than
    /// `max(compact_min_records, 2 × live entries)` records. Default 1 000.
    pub compact_min_records: usize,
    /// Clock used to name files moved aside after open. Default the system clock.
    pub clock: SharedClock,
}

impl QueueConfig {
    /// Options with every default and the given state directory.
    pub fn new(dir: impl Into<PathBuf>) -> QueueConfig {
        QueueConfig {
            dir: dir.into(),
            max_entries: DEFAULT_MAX_ENTRIES,
            import_path: None,
            compact_min_records: DEFAULT_COMPACT_MIN_RECORDS,
            clock: Arc::new(SystemClock),
        }
    }

    pub(crate) fn validate(&self, files: &QueueFiles) -> EngineResult<()> {
        if self.max_entries == 0 {
            return Err(EngineError::option(
                "queue.maxEntries",
                "expected an integer >= 1",
            ));
        }
        if self.compact_min_records == 0 {
            return Err(EngineError::option(
                "queue.compactMinRecords",
                "expected an integer >= 1",
            ));
        }
        if let Some(import) = &self.import_path {
            let ours = [&files.snapshot, &files.journal, &files.lock];
            if ours.iter().any(|p| same_file_name(p, import)) {
                return Err(EngineError::option(
                    "queue.importPath",
                    "points at one of the store's own files; use a different `queue.dir` \
                     than the old plugin's state directory",
                ));
            }
        }
        Ok(())
    }
}

fn same_file_name(a: &Path, b: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    canon(a) == canon(b)
}

/// The files of a store inside its state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueFiles {
    /// The state directory.
    pub dir: PathBuf,
    /// The compacted snapshot, `queue.json`.
    pub snapshot: PathBuf,
    /// The append-only journal, `queue.journal`.
    pub journal: PathBuf,
    /// The cross-process lock file, `queue.lock`.
    pub lock: PathBuf,
    /// Marker written once an old plugin queue was considered for import, `queue.imported`.
    pub import_marker: PathBuf,
}

impl QueueFiles {
    /// The file names inside `dir`.
    pub fn in_dir(dir: &Path) -> QueueFiles {
        QueueFiles {
            dir: dir.to_path_buf(),
            snapshot: dir.join("queue.json"),
            journal: dir.join("queue.journal"),
            lock: dir.join("queue.lock"),
            import_marker: dir.join("queue.imported"),
        }
    }
}
