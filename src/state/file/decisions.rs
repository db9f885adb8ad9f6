//! [`FileDecisions`]: decision state in the state directory, as checksummed JSON lines.
//!
//! `decisions.journal` gets one line per change, fsynced before [`DecisionStore::write`]
//! returns; at `load` (every start) and once it holds more than `max(1000, 2 × records)`
//! lines it is folded into the snapshot `decisions.json` (same line format: a header, then one `put` per record) and
//! started again. Every write takes `decisions.lock` and appends through a freshly opened
//! handle, so several processes sharing the directory never write into a replaced file. A
//! damaged line is skipped and counted, every other one kept; the damaged file is kept aside.
//!
//! ```text
//! {"op":"header","version":2,"generation":4,"crc":"…"}
//! {"op":"put","table":"breaker","key":"openai","record":{"phase":{"state":"open",…},…},"crc":"…"}
//! {"op":"del","table":"policy","key":"cron:nightly","crc":"…"}
//! ```

use super::durable::{link_aside, open_append, open_read, write_atomic, LockGuard};
use super::lines::{self, Headed};
use crate::error::{EngineError, EngineResult};
use crate::state::decisions::{
    DecisionChange, DecisionRecord, DecisionState, DecisionStore, DecisionTable, LoadedDecisions,
};
use crate::state::recovery::RecoveryReport;
use serde::{Deserialize, Serialize};
use std::io::{self, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The format version written (checksummed lines).
pub const FORMAT_VERSION: u32 = 2;
const MIN_COMPACT_LINES: usize = 1_000;

/// One line of either file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line {
    Header {
        version: u32,
        generation: u64,
    },
    Put {
        table: DecisionTable,
        key: String,
        record: DecisionRecord,
    },
    Del {
        table: DecisionTable,
        key: String,
    },
}

impl Headed for Line {
    fn header(&self) -> Option<(u32, u64)> {
        match self {
            Line::Header {
                version,
                generation,
            } => Some((*version, *generation)),
            _ => None,
        }
    }
}

impl Line {
    fn of(change: &DecisionChange) -> Line {
        match &change.record {
            Some(r) => Line::Put {
                table: change.table,
                key: change.key.clone(),
                record: r.clone(),
            },
            None => Line::Del {
                table: change.table,
                key: change.key.clone(),
            },
        }
    }

    fn into_change(self) -> Option<DecisionChange> {
        match self {
            Line::Header { .. } => None,
            Line::Put { table, key, record } => Some(DecisionChange {
                table,
                key,
                record: Some(record),
            }),
            Line::Del { table, key } => Some(DecisionChange {
                table,
                key,
                record: None,
            }),
        }
    }
}

/// Decision state in `decisions.journal` + `decisions.json` of a state directory. Blocking.
#[derive(Debug)]
pub struct FileDecisions {
    journal: PathBuf,
    snapshot: PathBuf,
    lock: PathBuf,
    /// Lines this process appended since the last compaction it saw, and the record count then.
    appended: AtomicUsize,
    records: AtomicUsize,
    compact_min: usize,
}

/// Both files read, before any repair.
struct Read {
    state: DecisionState,
    generation: u64,
    snapshot_damage: Option<(usize, usize)>,
    journal_damage: Option<(usize, usize)>,
    journal_records: usize,
    torn_tail: bool,
}

impl FileDecisions {
    /// The store in `dir` (which must exist).
    pub fn in_dir(dir: &Path) -> FileDecisions {
        FileDecisions {
            journal: dir.join("decisions.journal"),
            snapshot: dir.join("decisions.json"),
            lock: dir.join("decisions.lock"),
            appended: AtomicUsize::new(0),
            records: AtomicUsize::new(0),
            compact_min: MIN_COMPACT_LINES,
        }
    }

    /// Compact once the journal holds more than `max(lines, 2 × records)` lines (default
    /// 1000).
    pub fn compact_after(mut self, lines: usize) -> FileDecisions {
        self.compact_min = lines.max(1);
        self
    }

    fn locked(&self) -> EngineResult<LockGuard> {
        LockGuard::acquire(&self.lock).map_err(|e| EngineError::io(&self.lock, e))
    }

    fn scan(path: &Path) -> EngineResult<Option<lines::LineScan<Line>>> {
        let file = match open_read(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EngineError::io(path, e)),
        };
        let reader = BufReader::with_capacity(1 << 16, file);
        let scan = lines::scan(reader, true, true, FORMAT_VERSION)
            .map_err(|e| EngineError::io(path, e))?;
        if let Some((version, _)) = scan.header {
            if version > FORMAT_VERSION {
                return Err(EngineError::io(
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "written by a newer version (format {version}, this one reads \
                             {FORMAT_VERSION}); upgrade openclaw-retry-engine or use another \
                             state directory"
                        ),
                    ),
                ));
            }
        }
        Ok(Some(scan))
    }

    /// Read both files (the caller holds the lock).
    fn read(&self) -> EngineResult<Read> {
        let mut state = DecisionState::default();
        let mut generation = 0;
        let mut snapshot_damage = None;
        if let Some(scan) = Self::scan(&self.snapshot)? {
            generation = scan.header.map_or(0, |(_, g)| g);
            let kept = scan.records.len();
            let dropped = scan.bad_lines + usize::from(scan.torn_tail > 0);
            for change in scan.records.into_iter().filter_map(Line::into_change) {
                state.apply(change);
            }
            if dropped > 0 {
                snapshot_damage = Some((kept, dropped));
            }
        }
        let mut journal_damage = None;
        let mut journal_records = 0;
        let mut torn_tail = false;
        if let Some(scan) = Self::scan(&self.journal)? {
            if let Some((_, g)) = scan.header {
                generation = generation.max(g);
            }
            let kept = scan.records.len();
            journal_records = kept;
            for change in scan.records.into_iter().filter_map(Line::into_change) {
                state.apply(change);
            }
            if scan.bad_lines > 0 {
                journal_damage = Some((kept, scan.bad_lines));
            }
            torn_tail = scan.torn_tail > 0;
        }
        Ok(Read {
            state,
            generation,
            snapshot_damage,
            journal_damage,
            journal_records,
            torn_tail,
        })
    }

    /// Write `state` as a new snapshot generation and start an empty journal (the caller holds
    /// the lock). A crash between the two leaves an old journal whose replay is harmless: every
    /// line is last-writer-wins per key and the snapshot already holds its outcome.
    fn compact_locked(&self, state: &DecisionState, generation: u64) -> EngineResult<()> {
        let mut buf = Vec::with_capacity(64 + state.len() * 192);
        lines::push_line(
            &mut buf,
            &Line::Header {
                version: FORMAT_VERSION,
                generation,
            },
        );
        for change in state.changes() {
            lines::push_line(&mut buf, &Line::of(&change));
        }
        write_atomic(&self.snapshot, &buf).map_err(|e| EngineError::io(&self.snapshot, e))?;
        let mut header = Vec::with_capacity(64);
        lines::push_line(
            &mut header,
            &Line::Header {
                version: FORMAT_VERSION,
                generation,
            },
        );
        write_atomic(&self.journal, &header).map_err(|e| EngineError::io(&self.journal, e))?;
        self.appended.store(0, Ordering::Relaxed);
        self.records.store(state.len(), Ordering::Relaxed);
        Ok(())
    }
}

impl DecisionStore for FileDecisions {
    fn load(&self, now_ms: i64) -> EngineResult<LoadedDecisions> {
        let _lock = self.locked()?;
        let read = self.read()?;
        let mut recoveries = Vec::new();
        for (path, damage) in [
            (&self.snapshot, read.snapshot_damage),
            (&self.journal, read.journal_damage),
        ] {
            if let Some((kept, dropped)) = damage {
                let moved_to = link_aside(path, now_ms).map_err(|e| EngineError::io(path, e))?;
                recoveries.push(RecoveryReport {
                    path: path.clone(),
                    moved_to,
                    kept,
                    dropped,
                });
            }
        }
        let fresh = !self.journal.exists() || !self.snapshot.exists();
        if !recoveries.is_empty() || read.torn_tail || fresh || read.journal_records > 0 {
            // Fold the journal into the snapshot at every start (the store is small and was
            // just read whole), and write every readable record back after damage, a torn
            // unacknowledged tail or a missing file.
            self.compact_locked(&read.state, read.generation.saturating_add(1))?;
        } else {
            self.records.store(read.state.len(), Ordering::Relaxed);
        }
        Ok(LoadedDecisions {
            state: read.state,
            recoveries,
        })
    }

    fn write(&self, changes: &[DecisionChange]) -> EngineResult<()> {
        if changes.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(changes.len() * 256);
        for change in changes {
            lines::push_line(&mut buf, &Line::of(change));
        }
        let _lock = self.locked()?;
        let mut journal =
            open_append(&self.journal).map_err(|e| EngineError::io(&self.journal, e))?;
        journal
            .write_all(&buf)
            .and_then(|()| journal.sync_data())
            .map_err(|e| EngineError::io(&self.journal, e))?;
        let appended = self.appended.fetch_add(changes.len(), Ordering::Relaxed) + changes.len();
        let records = self.records.load(Ordering::Relaxed);
        if appended > self.compact_min.max(2 * records) {
            // The changes are durable in the journal already; a failed compaction leaves a
            // valid journal and is tried again after a later write.
            if let Ok(read) = self.read() {
                if read.snapshot_damage.is_none() && read.journal_damage.is_none() {
                    let _ = self.compact_locked(&read.state, read.generation.saturating_add(1));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::KeyRecord;
    use std::fs;

    fn put(key: &str, errors: u32) -> DecisionChange {
        let mut r = KeyRecord::new(1);
        r.consecutive_errors = errors;
        DecisionChange {
            table: DecisionTable::Policy,
            key: key.into(),
            record: Some(DecisionRecord::Policy(r)),
        }
    }

    #[test]
    fn passes_the_shared_decision_store_suite() {
        let dir = tempfile::tempdir().unwrap();
        crate::state::conformance::decision_store(&FileDecisions::in_dir(dir.path()));
        let again = FileDecisions::in_dir(dir.path()).load(0).unwrap();
        assert_eq!(
            again.state.len(),
            2,
            "another handle reads what was written"
        );
        assert!(again.recoveries.is_empty());
    }

    #[test]
    fn compacts_past_the_threshold_and_keeps_every_record() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileDecisions::in_dir(dir.path());
        s.load(0).unwrap();
        for round in 0..3 {
            let changes: Vec<_> = (0..500).map(|i| put(&format!("k{i}"), round)).collect();
            s.write(&changes).unwrap();
        }
        let journal_lines = fs::read_to_string(dir.path().join("decisions.journal"))
            .unwrap()
            .lines()
            .count();
        assert!(
            journal_lines < 1_000,
            "compacted: {journal_lines} journal lines"
        );
        let state = FileDecisions::in_dir(dir.path()).load(0).unwrap().state;
        assert_eq!(state.policy.len(), 500);
        assert!(state.policy.values().all(|r| r.consecutive_errors == 2));
    }

    #[test]
    fn a_damaged_line_costs_only_itself_and_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let s = FileDecisions::in_dir(dir.path());
        s.load(0).unwrap();
        s.write(&[put("a", 1), put("b", 1), put("c", 1)]).unwrap();
        let path = dir.path().join("decisions.journal");
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replacen("\"key\":\"b\"", "\"key\":\"B\"", 1)).unwrap();
        let loaded = FileDecisions::in_dir(dir.path()).load(7).unwrap();
        let keys: Vec<&String> = loaded.state.policy.keys().collect();
        assert_eq!(keys, ["a", "c"]);
        assert_eq!(loaded.recoveries.len(), 1);
        let r = &loaded.recoveries[0];
        assert_eq!((r.kept, r.dropped), (2, 1));
        assert!(r.moved_to.exists());
        // repaired: a second load finds nothing to report
        let again = FileDecisions::in_dir(dir.path()).load(8).unwrap();
        assert!(again.recoveries.is_empty());
        assert_eq!(again.state.policy.len(), 2);
    }
}
