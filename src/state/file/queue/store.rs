//! [`QueueStore`]: the durable park queue shared by every process using one state directory.
//!
//! Each change is appended to `queue.journal` and fsynced before the call returns; the journal
//! is folded into the `queue.json` snapshot once it holds more than
//! `max(compact_min_records, 2 × live entries)` records, so writes are O(1) amortised. Every
//! call takes the `queue.lock` file lock and first reads what other processes appended since
//! this one last looked (reloading everything after another process's compaction), so no
//! update is lost between processes.
//!
//! For group commit across threads ([`crate::state::file::FileParked`]) a write can also be
//! appended now and fsynced later by its writer thread ([`QueueStore::write_prepared`], then
//! [`QueueStore::sync_target`] and [`QueueStore::synced`]): the file lock stays held from the
//! append until the fsync, so no other process reads the change before it is durable, and
//! calls of this process meanwhile need not re-read the files (nobody else could change them).

use super::config::{QueueConfig, QueueFiles};
use super::entry_map::EntryView;
use super::heap;
use super::import::{parse_old_queue, IMPORTED_FROM};
use super::journal;
use super::load::{file_id, load, write_compacted, EntryMap, FileId, Loaded};
use crate::error::{EngineError, EngineResult};
use crate::state::entry::sort_entries;
use crate::state::entry::{ParkedEntry, QueueOp};
use crate::state::file::durable::{ensure_dir, open_append, write_atomic, LockGuard};
use crate::state::recovery::{ImportReport, OpenReport, RecoveryReport};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::sync::Arc;

type Removed = EngineResult<Vec<Option<ParkedEntry>>>;

/// The durable park queue. Blocking file I/O: call it from `spawn_blocking` in async code.
#[derive(Debug)]
pub struct QueueStore {
    cfg: QueueConfig,
    files: QueueFiles,
    entries: EntryMap,
    generation: u64,
    journal: Arc<File>,
    journal_id: FileId,
    snapshot_id: Option<FileId>,
    offset: u64,
    journal_records: usize,
    recoveries: Vec<RecoveryReport>,
    trimmed: u64,
    /// The file lock, while held: between the calls of one operation, and from an append
    /// until its fsync.
    held: Option<LockGuard>,
    /// Appends made (numbered from 1) and how many of them are known durable.
    appended: u64,
    synced: u64,
    /// Pins on the file lock ([`QueueStore::try_pin`]): while any is left, it is kept.
    pins: usize,
}

impl QueueStore {
    /// Open (creating if needed) the store in `cfg.dir`, repairing damaged files and importing
    /// `cfg.import_path` once into an empty store. `now_ms` names files kept aside and stamps
    /// imported entries.
    pub fn open(cfg: QueueConfig, now_ms: i64) -> EngineResult<(QueueStore, OpenReport)> {
        let files = QueueFiles::in_dir(&cfg.dir);
        cfg.validate(&files)?;
        ensure_dir(&files.dir).map_err(|e| EngineError::io(&files.dir, e))?;
        let _lock = LockGuard::acquire(&files.lock).map_err(|e| EngineError::io(&files.lock, e))?;
        let loaded = load(&files, now_ms)?;
        let mut store = QueueStore::from_loaded(cfg, files, loaded);
        let imported = store.import_locked(now_ms)?;
        if store.entries.len() >= heap::RELEASE_FROM_ENTRIES {
            heap::release_freed();
        }
        let report = OpenReport {
            recoveries: std::mem::take(&mut store.recoveries),
            imported,
            trimmed_tail_bytes: std::mem::take(&mut store.trimmed),
        };
        Ok((store, report))
    }

    /// Park or update `entry` under its session key; durable on return. A new key while the
    /// queue holds `max_entries` fails with [`EngineError::QueueFull`] and evicts nothing.
    pub fn put(&mut self, entry: ParkedEntry) -> EngineResult<()> {
        self.apply(vec![QueueOp::Put(entry)])
    }

    /// Remove the entry under `key`; durable on return. Returns the removed entry.
    pub fn remove(&mut self, key: &str) -> EngineResult<Option<ParkedEntry>> {
        let mut removed = self.commit(vec![QueueOp::Remove(key.to_string())])?;
        Ok(removed.pop().flatten())
    }

    /// Apply several changes in order with one fsync (group commit); durable on return. All or
    /// nothing against the cap: if any new key would exceed `max_entries`, nothing is written.
    /// (A crash during the call may keep a prefix of the batch.)
    pub fn apply(&mut self, ops: Vec<QueueOp>) -> EngineResult<()> {
        self.commit(ops).map(drop)
    }

    /// The entry under `key`, after reading other processes' changes.
    pub fn get(&mut self, key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.held(|s| Ok(s.entries.get(key)))
    }

    /// Every entry sorted by `retry_at_ms` (then session key), after reading other processes'
    /// changes.
    pub fn all(&mut self) -> EngineResult<Vec<ParkedEntry>> {
        self.held(|s| {
            let mut all: Vec<ParkedEntry> = s.entries.views().map(|v| v.to_entry()).collect();
            sort_entries(&mut all);
            Ok(all)
        })
    }

    /// Read other processes' changes now (for [`QueueStore::iter`]).
    pub fn refresh(&mut self) -> EngineResult<()> {
        self.held(|_| Ok(()))
    }

    /// Parked entries (status `Parked`) as of this process's last call, earliest due first
    /// (equal due times in no particular order), as borrowed looks; O(log n) to start, so the
    /// scheduler's "what is due next" stays cheap at any queue size.
    pub(crate) fn parked_by_due(&self) -> impl Iterator<Item = EntryView<'_>> + '_ {
        self.entries.parked_by_due()
    }

    /// The entries as of this process's last call, unsorted, each built on demand; call
    /// [`QueueStore::refresh`] first for other processes' changes.
    pub fn iter(&self) -> impl Iterator<Item = ParkedEntry> + '_ {
        self.entries.views().map(|v| v.to_entry())
    }

    /// Entries whose status is not `Parked`, as of this process's last call (O(1) when there
    /// are none, as after a clean shutdown).
    pub fn unparked(&self) -> Vec<ParkedEntry> {
        if self.entries.unparked_len() == 0 {
            return Vec::new();
        }
        self.entries
            .views()
            .filter(|v| v.status() != crate::state::EntryStatus::Parked)
            .map(|v| v.to_entry())
            .collect()
    }

    /// Entries known to this process (as of its last call).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is known to this process (as of its last call).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Fold the journal into a new snapshot now.
    pub fn compact(&mut self) -> EngineResult<()> {
        self.held(QueueStore::compact_locked)
    }

    /// The store's file names.
    pub fn files(&self) -> &QueueFiles {
        &self.files
    }

    /// Corrupt files repaired since `open` (found while reading another process's changes);
    /// drained by this call.
    pub fn take_recoveries(&mut self) -> Vec<RecoveryReport> {
        std::mem::take(&mut self.recoveries)
    }

    fn lock(&self) -> EngineResult<LockGuard> {
        LockGuard::acquire(&self.files.lock).map_err(|e| EngineError::io(&self.files.lock, e))
    }

    /// Hold the file lock and be up to date with the files: take the lock and read other
    /// processes' changes, unless the lock is held already since our last read (appends
    /// waiting for their fsync), when nobody else can have changed them.
    fn enter(&mut self) -> EngineResult<()> {
        self.enter_if(true).map(drop)
    }

    /// [`QueueStore::enter`]; without `wait`, only if the lock is free or held already
    /// (`false` otherwise).
    fn enter_if(&mut self, wait: bool) -> EngineResult<bool> {
        if self.held.is_none() {
            let lock = if wait {
                Some(self.lock()?)
            } else {
                LockGuard::try_acquire(&self.files.lock)
                    .map_err(|e| EngineError::io(&self.files.lock, e))?
            };
            let Some(lock) = lock else {
                return Ok(false);
            };
            self.held = Some(lock);
        } else if self.offset != u64::MAX {
            return Ok(true);
        }
        let r = self.catch_up();
        if r.is_err() {
            self.leave();
        }
        r.map(|()| true)
    }

    /// Let go of the file lock unless appends still wait for their fsync or it is pinned.
    fn leave(&mut self) {
        if self.synced >= self.appended && self.pins == 0 {
            self.held = None;
        }
    }

    /// Take the file lock, up to date with the files, and keep it until [`QueueStore::unpin`]
    /// (reads meanwhile need no locking or file checks: no other process can write). Only if
    /// it is free or held already, without waiting: whether it is pinned now.
    pub(crate) fn try_pin(&mut self) -> bool {
        match self.enter_if(false) {
            Ok(true) => {
                self.pins += 1;
                true
            }
            _ => false,
        }
    }

    /// Drop a pin of [`QueueStore::try_pin`]; the lock goes with the last one (unless appends
    /// still wait for their fsync).
    pub(crate) fn unpin(&mut self) {
        self.pins = self.pins.saturating_sub(1);
        self.leave();
    }

    /// Run `f` holding the file lock, up to date with the files.
    fn held<T>(&mut self, f: impl FnOnce(&mut Self) -> EngineResult<T>) -> EngineResult<T> {
        self.enter()?;
        let r = f(self);
        self.leave();
        r
    }

    fn from_loaded(cfg: QueueConfig, files: QueueFiles, loaded: Loaded) -> QueueStore {
        QueueStore {
            cfg,
            files,
            entries: loaded.entries,
            generation: loaded.generation,
            journal: Arc::new(loaded.journal),
            journal_id: loaded.journal_id,
            snapshot_id: loaded.snapshot_id,
            offset: loaded.offset,
            journal_records: loaded.journal_records,
            recoveries: loaded.recoveries,
            trimmed: loaded.trimmed,
            held: None,
            appended: 0,
            synced: 0,
            pins: 0,
        }
    }

    fn install(&mut self, loaded: Loaded) {
        self.entries = loaded.entries;
        self.generation = loaded.generation;
        self.journal = Arc::new(loaded.journal);
        self.journal_id = loaded.journal_id;
        self.snapshot_id = loaded.snapshot_id;
        self.offset = loaded.offset;
        self.journal_records = loaded.journal_records;
        self.recoveries.extend(loaded.recoveries);
        self.trimmed += loaded.trimmed;
    }

    fn reload(&mut self) -> EngineResult<()> {
        let loaded = load(&self.files, self.cfg.clock.now_ms())?;
        self.install(loaded);
        if self.entries.len() >= heap::RELEASE_FROM_ENTRIES {
            heap::release_freed();
        }
        Ok(())
    }

    /// Read what other processes appended since our last read (the caller holds the lock).
    fn catch_up(&mut self) -> EngineResult<()> {
        let path = &self.files.journal;
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return self.reload(),
            Err(e) => return Err(EngineError::io(path, e)),
        };
        if (meta.dev(), meta.ino()) != self.journal_id
            || meta.len() < self.offset
            || file_id(&self.files.snapshot)? != self.snapshot_id
        {
            return self.reload();
        }
        if meta.len() == self.offset {
            return Ok(());
        }
        let mut buf = vec![0; (meta.len() - self.offset) as usize];
        self.journal
            .read_exact_at(&mut buf, self.offset)
            .map_err(|e| EngineError::io(path, e))?;
        let scan = journal::apply_continued(&buf, &mut self.entries);
        if scan.bad_lines > 0 {
            // some records may be applied already: the reload replaces them all
            return self.reload();
        }
        self.journal_records += scan.records;
        self.offset += scan.complete_len;
        if scan.torn_tail > 0 {
            self.journal
                .set_len(self.offset)
                .and_then(|()| self.journal.sync_data())
                .map_err(|e| EngineError::io(path, e))?;
            self.trimmed += scan.torn_tail;
        }
        Ok(())
    }

    fn commit(&mut self, ops: Vec<QueueOp>) -> EngineResult<Vec<Option<ParkedEntry>>> {
        self.commit_group(vec![ops])
            .pop()
            .expect("one result per group")
    }

    /// Group commit: apply several callers' batches with one append and one fsync. Each batch
    /// is all or nothing against the cap and gets its own result (its removed entries, or why
    /// it was refused); a failed write fails every batch. Durable before returning.
    pub fn commit_group(&mut self, groups: Vec<Vec<QueueOp>>) -> Vec<Removed> {
        let (mut results, _) = self.write_groups(groups);
        if let Err(e) = self.sync_now() {
            results = results.iter().map(|_| Err(e.copy())).collect();
        }
        self.leave();
        results
    }

    /// Append the ops `prepare` makes from the store (up to date with the files, under the
    /// file lock) like [`QueueStore::commit_group`] but without the fsync: the result holds
    /// once append number `seq` (returned) is durable, which the caller makes sure of with
    /// [`QueueStore::sync_target`] and [`QueueStore::synced`] (possibly for many appends at
    /// once) before acknowledging it. The file lock stays held until then.
    pub fn write_prepared(
        &mut self,
        prepare: impl FnOnce(&QueueStore) -> EngineResult<Vec<QueueOp>>,
    ) -> (Removed, u64) {
        if let Err(e) = self.enter() {
            return (Err(e), self.appended);
        }
        let r = match prepare(self) {
            Ok(ops) => self
                .append_locked(vec![ops])
                .pop()
                .expect("one result per group"),
            Err(e) => Err(e),
        };
        self.leave();
        (r, self.appended)
    }

    /// [`QueueStore::write_prepared`] for several callers' batches at once, appended with one
    /// write: each batch is checked against the cap after the ones before it and gets its own
    /// result, as in [`QueueStore::commit_group`]; they hold once the returned append number is
    /// durable.
    pub fn write_groups(&mut self, groups: Vec<Vec<QueueOp>>) -> (Vec<Removed>, u64) {
        if let Err(e) = self.enter() {
            return (
                groups.iter().map(|_| Err(e.copy())).collect(),
                self.appended,
            );
        }
        let results = self.append_locked(groups);
        self.leave();
        (results, self.appended)
    }

    /// [`QueueStore::peek`] without blocking: `None` when another process holds the file lock.
    pub fn try_peek(&mut self, key: &str) -> Option<EngineResult<Option<ParkedEntry>>> {
        match self.enter_if(false) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => return Some(Err(e)),
        }
        let entry = self.entries.get(key);
        self.leave();
        Some(Ok(entry))
    }

    /// The entry under `key` as of this process's last call (no file access).
    pub fn current(&self, key: &str) -> Option<ParkedEntry> {
        self.entries.get(key)
    }

    /// The entry under `key` as this process last wrote or read it, possibly including
    /// appends still waiting for their fsync; and the number of the last append (wait for it
    /// before acting on the answer without writing). Reads other processes' changes first.
    pub fn peek(&mut self, key: &str) -> EngineResult<(Option<ParkedEntry>, u64)> {
        let entry = self.get(key)?;
        Ok((entry, self.appended))
    }

    /// The number of the last append: everything read so far is durable once it is.
    pub fn last_append(&self) -> u64 {
        self.appended
    }

    /// What an fsync now would cover: appends up to the returned number, all in the returned
    /// file (fsync it outside the caller's lock, then report with [`QueueStore::synced`]).
    pub fn sync_target(&self) -> (u64, Arc<File>) {
        (self.appended, self.journal.clone())
    }

    /// Whether appends up to `upto` are known durable.
    pub fn is_durable(&self, upto: u64) -> bool {
        self.synced >= upto
    }

    /// Report an fsync of appends up to `upto` (from [`QueueStore::sync_target`]). On
    /// success, once nothing waits for an fsync, compacts if due and lets go of the file lock.
    /// A failure fails every append not yet durable (the files are re-read on the next call):
    /// returns up to which append the round covered, and its outcome.
    pub fn synced(&mut self, upto: u64, r: io::Result<()>) -> (u64, EngineResult<()>) {
        let outcome = match r {
            Ok(()) => {
                self.synced = self.synced.max(upto);
                if self.synced >= self.appended {
                    self.compact_if_due();
                }
                (upto, Ok(()))
            }
            Err(e) => {
                // the file may hold bytes that are not durable: the next call re-reads it
                self.offset = u64::MAX;
                self.synced = self.appended;
                (self.appended, Err(EngineError::io(&self.files.journal, e)))
            }
        };
        self.leave();
        outcome
    }

    /// Fsync the appends not yet durable, here and now.
    fn sync_now(&mut self) -> EngineResult<()> {
        if self.synced >= self.appended {
            return Ok(());
        }
        let upto = self.appended;
        let r = self.journal.sync_data();
        self.synced(upto, r).1
    }

    /// Fold the journal into a snapshot once it holds more than
    /// `max(compact_min_records, 2 × entries)` records (the caller holds the lock).
    fn compact_if_due(&mut self) {
        if self.journal_records > self.cfg.compact_min_records.max(2 * self.entries.len()) {
            // The changes are already durable in the journal; a failed compaction leaves a
            // valid journal behind and is retried after the next write, so it is not reported
            // as a failure of this call.
            let _ = self.compact_locked();
        }
    }

    /// Check every group against the cap, append the accepted ones (no fsync), then apply
    /// them in memory (the caller holds the lock and has caught up).
    fn append_locked(&mut self, groups: Vec<Vec<QueueOp>>) -> Vec<Removed> {
        let mut buf = Vec::with_capacity(groups.iter().map(Vec::len).sum::<usize>() * 320);
        let mut written = 0;
        let mut verdicts: Vec<EngineResult<()>> = Vec::with_capacity(groups.len());
        {
            // presence of keys as of the groups accepted so far
            let mut present: HashMap<&str, bool> = HashMap::new();
            let mut count = self.entries.len();
            for ops in &groups {
                let verdict = self.check_group(ops, &present, count);
                if let Ok((new_count, changes)) = &verdict {
                    count = *new_count;
                    for (key, there) in changes {
                        present.insert(key, *there);
                    }
                    for op in ops {
                        journal::encode_op(&mut buf, op);
                        written += 1;
                    }
                }
                verdicts.push(verdict.map(drop));
            }
        }
        if written > 0 {
            if let Err(e) = (&*self.journal).write_all(&buf) {
                // the file may hold part of the bytes: the next call re-reads it
                self.offset = u64::MAX;
                let e = EngineError::io(&self.files.journal, e);
                return groups.iter().map(|_| Err(e.copy())).collect();
            }
            self.appended += 1;
            self.offset += buf.len() as u64;
            self.journal_records += written;
        }
        let mut results = Vec::with_capacity(groups.len());
        for (ops, verdict) in groups.into_iter().zip(verdicts) {
            if let Err(e) = verdict {
                results.push(Err(e));
                continue;
            }
            let mut removed = Vec::with_capacity(ops.len());
            for op in ops {
                match op {
                    QueueOp::Put(entry) => {
                        removed.push(None);
                        self.entries.insert(&entry);
                    }
                    QueueOp::Remove(key) => removed.push(self.entries.remove(&key)),
                }
            }
            results.push(Ok(removed));
        }
        results
    }

    /// Whether `ops` fit under the cap after the groups before it (`present`, `count`); the
    /// new count and the presence changes when they do.
    fn check_group<'a>(
        &self,
        ops: &'a [QueueOp],
        present: &HashMap<&str, bool>,
        mut count: usize,
    ) -> EngineResult<(usize, Vec<(&'a str, bool)>)> {
        if ops.iter().any(|op| op.key().is_empty()) {
            return Err(EngineError::input(
                "sessionKey",
                "must be a non-empty string",
            ));
        }
        let mut mine: HashMap<&'a str, bool> = HashMap::new();
        for op in ops {
            let key = op.key();
            let was = mine
                .get(key)
                .or_else(|| present.get(key))
                .copied()
                .unwrap_or_else(|| self.entries.contains_key(key));
            match op {
                QueueOp::Put(_) => {
                    if !was {
                        if count >= self.cfg.max_entries {
                            return Err(EngineError::QueueFull {
                                cap: self.cfg.max_entries,
                            });
                        }
                        count += 1;
                    }
                    mine.insert(key, true);
                }
                QueueOp::Remove(_) => {
                    if was {
                        count -= 1;
                    }
                    mine.insert(key, false);
                }
            }
        }
        Ok((count, mine.into_iter().collect()))
    }

    fn compact_locked(&mut self) -> EngineResult<()> {
        let generation = self.generation.saturating_add(1);
        write_compacted(&self.files, generation, &self.entries)?;
        // From here the files on disk are the new generation; re-read our handles' identities.
        self.snapshot_id = file_id(&self.files.snapshot)?;
        let journal = open_append(&self.files.journal)
            .map_err(|e| EngineError::io(&self.files.journal, e))?;
        let meta = journal
            .metadata()
            .map_err(|e| EngineError::io(&self.files.journal, e))?;
        self.journal = Arc::new(journal);
        self.journal_id = (meta.dev(), meta.ino());
        self.offset = meta.len();
        self.generation = generation;
        self.journal_records = 0;
        Ok(())
    }

    /// Import the old plugin's queue once (the caller holds the lock).
    fn import_locked(&mut self, now_ms: i64) -> EngineResult<Option<ImportReport>> {
        let Some(source) = self.cfg.import_path.clone() else {
            return Ok(None);
        };
        if self.files.import_marker.exists() || !source.exists() {
            return Ok(None);
        }
        let mut report = None;
        if self.entries.is_empty() {
            let mut r = ImportReport {
                source: source.clone(),
                imported: 0,
                invalid: 0,
                over_cap: 0,
                problem: None,
            };
            match fs::read(&source)
                .map_err(|e| format!("cannot read it ({e})"))
                .and_then(|b| parse_old_queue(&b, now_ms))
            {
                Ok(old) => {
                    r.invalid = old.invalid;
                    let room = self.cfg.max_entries;
                    r.over_cap = old.entries.len().saturating_sub(room);
                    let ops: Vec<QueueOp> = old
                        .entries
                        .into_iter()
                        .take(room)
                        .map(QueueOp::Put)
                        .collect();
                    r.imported = ops.len();
                    self.append_locked(vec![ops])
                        .pop()
                        .expect("one result per group")?;
                    self.sync_now()?;
                    if r.imported >= heap::RELEASE_FROM_ENTRIES {
                        // The map was built among the import's parse buffers, and its small
                        // allocations (keys, index nodes) would keep their pages resident
                        // once those are freed: build it again from the files, now that they
                        // are gone, so it packs into few pages and the rest can be handed back.
                        self.entries = EntryMap::default();
                        self.reload()?;
                    }
                }
                Err(problem) => r.problem = Some(problem),
            }
            report = Some(r);
        }
        let marker = serde_json::json!({
            "source": source.display().to_string(),
            "format": IMPORTED_FROM,
            "atMs": now_ms,
            "imported": report.as_ref().map_or(0, |r| r.imported),
            "skippedBecause": if report.is_none() { Some("store was not empty") } else { None },
            "problem": report.as_ref().and_then(|r| r.problem.clone()),
        });
        let bytes = serde_json::to_vec_pretty(&marker).expect("marker serialises");
        write_atomic(&self.files.import_marker, &bytes)
            .map_err(|e| EngineError::io(&self.files.import_marker, e))?;
        Ok(report)
    }
}
