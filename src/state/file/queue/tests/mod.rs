//! Store tests on temporary directories. `processes` re-executes this test binary as a second
//! writer process.

mod basics;
mod import_once;
mod processes;
mod repair;

use super::*;
use crate::reason::Reason;
#[allow(unused_imports)]
use crate::state::{EntryStatus, ImportReport, OpenReport, ParkedEntry, QueueOp, RecoveryReport};
use std::path::Path;

pub(super) fn entry(key: &str, due: i64) -> ParkedEntry {
    ParkedEntry::new(key, Reason::RateLimit, 1_000, due, "429 Too Many Requests")
}

pub(super) fn config(dir: &Path) -> QueueConfig {
    QueueConfig::new(dir)
}

pub(super) fn open(dir: &Path) -> (QueueStore, OpenReport) {
    QueueStore::open(config(dir), 5_000).unwrap()
}

pub(super) fn keys(store: &mut QueueStore) -> Vec<String> {
    store
        .all()
        .unwrap()
        .into_iter()
        .map(|e| e.session_key)
        .collect()
}
