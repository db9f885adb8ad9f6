//! What opening (or re-reading) a store had to repair, for the host to report.

use crate::events::Event;
use std::path::PathBuf;

/// A corrupt state file that was repaired (queue, decisions or profiles): the damaged bytes are
/// kept at `moved_to`, every readable entry or record was kept. The engine reports it as
/// `Event::RecoveredCorruptFile` ([`RecoveryReport::to_event`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The file that was corrupt.
    pub path: PathBuf,
    /// Where its damaged bytes were kept.
    pub moved_to: PathBuf,
    /// Entries (snapshot) or records (journal) that were read and kept.
    pub kept: usize,
    /// Entries, records or unreadable stretches that were lost.
    pub dropped: usize,
}

impl RecoveryReport {
    /// The matching [`Event::RecoveredCorruptFile`].
    pub fn to_event(&self) -> Event {
        Event::RecoveredCorruptFile {
            path: self.path.display().to_string(),
            moved_to: self.moved_to.display().to_string(),
            kept: self.kept,
            dropped: self.dropped,
        }
    }
}

/// The result of importing an old plugin's `queue.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// The imported file (left unmodified).
    pub source: PathBuf,
    /// Entries imported.
    pub imported: usize,
    /// Entries that could not be read (no session key, bad times) and were skipped.
    pub invalid: usize,
    /// Entries skipped because the store reached `max_entries`.
    pub over_cap: usize,
    /// Why the file could not be read at all, when it could not.
    pub problem: Option<String>,
}

/// What [`crate::state::file::QueueStore::open`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Corrupt files repaired.
    pub recoveries: Vec<RecoveryReport>,
    /// The old plugin queue imported on this open, if any.
    pub imported: Option<ImportReport>,
    /// Bytes of an unacknowledged, torn last journal line that were trimmed.
    pub trimmed_tail_bytes: u64,
}
