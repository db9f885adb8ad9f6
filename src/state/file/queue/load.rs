//! Reading the queue files from scratch (on open, and whenever another process compacted or
//! repaired them), repairing what is damaged.

use super::config::QueueFiles;
use super::journal::{self, Holds, FORMAT_VERSION};
use super::snapshot::{self, SnapshotRead};
use crate::error::{EngineError, EngineResult};
use crate::state::file::durable::{link_aside, open_append, open_read, write_atomic};
use crate::state::recovery::RecoveryReport;
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Entries by session key, compact (see [`EntryMap`]).
pub(crate) use super::entry_map::EntryMap;

/// Identity of a file (device, inode): changes when another process replaces it.
pub(crate) type FileId = (u64, u64);

/// The in-memory state built from the files.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub entries: EntryMap,
    pub generation: u64,
    pub journal: File,
    pub journal_id: FileId,
    pub snapshot_id: Option<FileId>,
    pub offset: u64,
    pub journal_records: usize,
    pub recoveries: Vec<RecoveryReport>,
    pub trimmed: u64,
}

pub(crate) fn file_id(path: &Path) -> EngineResult<Option<FileId>> {
    match fs::symlink_metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::io(path, e)),
    }
}

fn unsupported(path: &Path, version: u32) -> EngineError {
    EngineError::io(
        path,
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "written by a newer version (format {version}, this one reads {FORMAT_VERSION}); \
                 upgrade openclaw-retry-engine or point `queue.dir` elsewhere"
            ),
        ),
    )
}

/// The read buffer of the queue files.
pub(crate) const READ_BUFFER: usize = 1 << 20;

/// Bytes of a typical entry's line: reserving slots for `file size / this` costs no memory
/// until they are filled (a reservation's untouched pages are never resident).
const TYPICAL_LINE: u64 = 256;

/// About how many entries the files hold, for [`EntryMap::reserve`].
fn estimated_entries(files: &QueueFiles) -> usize {
    let size = |p: &Path| fs::symlink_metadata(p).map_or(0, |m| m.len());
    let bytes = size(&files.snapshot) + size(&files.journal);
    usize::try_from(bytes / TYPICAL_LINE).unwrap_or(0)
}

/// Write a fresh snapshot of `entries` as `generation`, then a journal holding only its header.
pub(crate) fn write_compacted(
    files: &QueueFiles,
    generation: u64,
    entries: &EntryMap,
) -> EngineResult<()> {
    let bytes = snapshot::encode(generation, entries);
    write_atomic(&files.snapshot, &bytes).map_err(|e| EngineError::io(&files.snapshot, e))?;
    write_atomic(&files.journal, &journal::header_line(generation))
        .map_err(|e| EngineError::io(&files.journal, e))
}

/// Read snapshot and journal (the caller holds the lock) and repair what needs it: a torn last
/// journal line is trimmed; a damaged snapshot or a corrupt journal line gets its file kept
/// aside (`<name>.corrupt-<now_ms>`) and both files rewritten from every readable entry.
pub(crate) fn load(files: &QueueFiles, now_ms: i64) -> EngineResult<Loaded> {
    let mut recoveries = Vec::new();
    let mut entries = EntryMap::default();
    entries.defer_index();
    entries.reserve(estimated_entries(files));
    let snapshot_read = snapshot::read(&files.snapshot, &mut entries)
        .map_err(|e| EngineError::io(&files.snapshot, e))?;
    let snapshot_missing = snapshot_read.is_none();
    let mut old_format = false;
    let (snap_gen, snap_damage) = match snapshot_read {
        None => (0, None),
        Some(SnapshotRead::Sound {
            version,
            generation,
        }) => {
            old_format = version < FORMAT_VERSION;
            (generation, None)
        }
        Some(SnapshotRead::Damaged {
            generation,
            dropped,
        }) => (generation.unwrap_or(0), Some((entries.len(), dropped))),
        Some(SnapshotRead::Unsupported(v)) => return Err(unsupported(&files.snapshot, v)),
    };

    // Records are applied as they are read; a journal of a newer format is refused below
    // before anything read from it is used.
    let (journal_missing, scan) = match open_read(&files.journal) {
        Ok(f) => {
            let mut read = |f: File| {
                let size = f.metadata()?.len();
                let r = BufReader::with_capacity(READ_BUFFER, f);
                journal::apply_all(r, Holds::Changes, &mut entries, size)
            };
            let scan = read(f).map_err(|e| EngineError::io(&files.journal, e))?;
            (false, scan)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => (true, journal::JournalScan::default()),
        Err(e) => return Err(EngineError::io(&files.journal, e)),
    };
    if let Some((version, _)) = scan.header {
        if version > FORMAT_VERSION {
            return Err(unsupported(&files.journal, version));
        }
        old_format |= version < FORMAT_VERSION;
    }
    let journal_gen = scan.header.map_or(snap_gen, |(_, g)| g);
    // A journal one generation behind the snapshot is left over from a compaction cut short by
    // a crash; replaying it is harmless (every record is last-writer-wins per key and the
    // snapshot already holds its outcome), so its records are always applied.
    let stale = journal_gen < snap_gen;
    let mut journal_records = scan.records;
    let mut generation = snap_gen.max(journal_gen);
    let mut trimmed = 0;

    if snap_damage.is_some() || scan.bad_lines > 0 {
        if let Some((kept, dropped)) = snap_damage {
            let moved_to = link_aside(&files.snapshot, now_ms)
                .map_err(|e| EngineError::io(&files.snapshot, e))?;
            recoveries.push(RecoveryReport {
                path: files.snapshot.clone(),
                moved_to,
                kept,
                dropped,
            });
        }
        if scan.bad_lines > 0 {
            let moved_to = link_aside(&files.journal, now_ms)
                .map_err(|e| EngineError::io(&files.journal, e))?;
            recoveries.push(RecoveryReport {
                path: files.journal.clone(),
                moved_to,
                kept: journal_records,
                dropped: scan.bad_lines,
            });
        }
        generation = generation.saturating_add(1); // a tampered file may claim the last one
        write_compacted(files, generation, &entries)?;
        journal_records = 0;
    } else if journal_missing || stale || scan.header.is_none() || old_format {
        if journal_records > 0 || snapshot_missing || old_format {
            // records without a header line, or no snapshot yet: write a new generation
            generation = generation.saturating_add(1);
            write_compacted(files, generation, &entries)?;
        } else {
            write_atomic(&files.journal, &journal::header_line(generation))
                .map_err(|e| EngineError::io(&files.journal, e))?;
        }
        journal_records = 0;
    } else if scan.torn_tail > 0 {
        let f = open_append(&files.journal).map_err(|e| EngineError::io(&files.journal, e))?;
        f.set_len(scan.complete_len)
            .and_then(|()| f.sync_all())
            .map_err(|e| EngineError::io(&files.journal, e))?;
        trimmed = scan.torn_tail;
    }

    entries.build_index();
    let journal = open_append(&files.journal).map_err(|e| EngineError::io(&files.journal, e))?;
    let meta = journal
        .metadata()
        .map_err(|e| EngineError::io(&files.journal, e))?;
    Ok(Loaded {
        entries,
        generation,
        journal,
        journal_id: (meta.dev(), meta.ino()),
        snapshot_id: file_id(&files.snapshot)?,
        offset: meta.len(),
        journal_records,
        recoveries,
        trimmed,
    })
}
