//! Property tests (fuzzing with `proptest`) of the queue loader: whatever bytes stand in
//! `queue.json` and `queue.journal`, opening the store never panics; it either opens (repairing
//! what it must, and a second open then finds nothing left to repair) or fails with `E_IO`; and
//! garbage appended after valid journal records never loses those records.
//!
//! Each property runs 256 cases by default; set the `PROPTEST_CASES` environment variable
//! (e.g. `PROPTEST_CASES=5000 cargo test --lib queue::fuzz_tests`) for a longer fuzzing run.

use super::*;
use crate::reason::Reason;
#[allow(unused_imports)]
use crate::state::{EntryStatus, ImportReport, OpenReport, ParkedEntry, QueueOp, RecoveryReport};
use crate::test_support::proptest_config;
use proptest::prelude::*;
use serde_json::{json, Value};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

const NOW: i64 = 5_000;

fn reason() -> impl Strategy<Value = Reason> {
    prop::sample::select(Reason::ALL.to_vec())
}

/// Generations: small ones, arbitrary ones and the last few (where `+ 1` overflows).
fn generation() -> impl Strategy<Value = u64> + Clone {
    prop_oneof![0u64..4, any::<u64>(), (u64::MAX - 2)..=u64::MAX]
}

/// A valid entry with arbitrary field values.
fn entry() -> impl Strategy<Value = ParkedEntry> {
    (
        "[a-z0-9:]{1,12}",
        reason(),
        any::<u32>(),
        any::<i64>(),
        any::<i64>(),
        any::<String>(),
        prop::sample::select(vec![
            EntryStatus::Parked,
            EntryStatus::Probing,
            EntryStatus::Released,
            EntryStatus::AwaitingResult,
        ]),
    )
        .prop_map(|(key, reason, attempts, at, due, error, status)| {
            let mut e = ParkedEntry::new(key, reason, at, due, error);
            e.attempts = attempts;
            e.status = status;
            e
        })
}

/// Small JSON values for replacing entry fields.
fn junk_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        Just(json!([])),
        Just(json!({})),
    ]
}

/// An entry as JSON, sometimes with one field removed or replaced by a value of any type.
fn entry_json() -> impl Strategy<Value = Value> {
    (entry(), 0usize..12, 0u8..3, junk_value()).prop_map(|(e, field, how, junk)| {
        let mut v = serde_json::to_value(e).unwrap();
        let map = v.as_object_mut().unwrap();
        let name = map.keys().nth(field).cloned();
        match (how, name) {
            (1, Some(name)) => {
                map.remove(&name);
            }
            (2, Some(name)) => {
                map.insert(name, junk);
            }
            _ => {}
        }
        v
    })
}

/// One journal line: well-formed records with arbitrary values, half-records, and noise.
fn journal_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (prop_oneof![Just(1u32), any::<u32>()], generation()).prop_map(|(version, generation)| {
            json!({"op": "header", "version": version,
                "generation": generation})
            .to_string()
            .into_bytes()
        }),
        entry_json().prop_map(|e| json!({"op": "put", "entry": e}).to_string().into_bytes()),
        "[a-z0-9:]{0,12}".prop_map(|k| json!({"op": "del", "key": k}).to_string().into_bytes()),
        junk_value().prop_map(|v| json!({"op": v, "key": v, "entry": v})
            .to_string()
            .into_bytes()),
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..64
        ),
        Just(Vec::new()),
        Just(b"{\"op\":\"put\",\"entry\":{\"sessionKey\":\"x\",\"rea".to_vec()),
    ]
}

/// A journal file: lines joined by newlines, with or without a final newline.
fn journal_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (prop::collection::vec(journal_line(), 0..8), any::<bool>()).prop_map(
            |(lines, newline)| {
                let mut out = lines.join(&b'\n');
                if newline {
                    out.push(b'\n');
                }
                out
            }
        ),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Garbage after the last good journal line: noise, cut-short records and records with an
/// unknown `op`; never a record the journal could apply.
fn garbage_bytes() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            0..64
        ),
        (entry_json(), any::<prop::sample::Index>()).prop_map(|(e, cut)| {
            let full = json!({"op": "put", "entry": e}).to_string().into_bytes();
            full[..cut.index(full.len())].to_vec()
        }),
        junk_value().prop_map(|v| json!({"op": v, "key": v}).to_string().into_bytes()),
        Just(Vec::new()),
    ];
    (prop::collection::vec(line, 1..6), any::<bool>()).prop_map(|(lines, newline)| {
        let mut out = lines.join(&b'\n');
        if newline {
            out.push(b'\n');
        }
        out
    })
}

/// A snapshot file: well-formed snapshots with arbitrary values, cut short or with noise
/// appended, and plain noise.
fn snapshot_bytes() -> impl Strategy<Value = Vec<u8>> {
    let doc = (
        prop_oneof![Just(json!(1)), junk_value()],
        generation().prop_map(Value::from),
        prop::collection::vec(prop_oneof![4 => entry_json(), 1 => junk_value()], 0..6),
        any::<bool>(),
    )
        .prop_map(|(version, generation, entries, pretty)| {
            let v = json!({"version": version, "generation": generation, "entries": entries});
            if pretty {
                serde_json::to_vec_pretty(&v).unwrap()
            } else {
                serde_json::to_vec(&v).unwrap()
            }
        });
    prop_oneof![
        doc.clone(),
        (doc.clone(), any::<prop::sample::Index>()).prop_map(|(d, cut)| {
            let at = cut.index(d.len() + 1);
            d[..at].to_vec()
        }),
        (doc, prop::collection::vec(any::<u8>(), 1..64)).prop_map(|(mut d, tail)| {
            d.extend(tail);
            d
        }),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

/// Open a store over these files: it must open (and re-open cleanly with the same entries)
/// or fail with `E_IO`.
fn open_survives(snapshot: Option<&[u8]>, journal: Option<&[u8]>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let files = QueueFiles::in_dir(dir.path());
    if let Some(bytes) = snapshot {
        fs::write(&files.snapshot, bytes).unwrap();
    }
    if let Some(bytes) = journal {
        fs::write(&files.journal, bytes).unwrap();
    }
    match QueueStore::open(QueueConfig::new(dir.path()), NOW) {
        Ok((mut store, _report)) => {
            let first = store.all().unwrap();
            drop(store);
            let (mut again, report) = QueueStore::open(QueueConfig::new(dir.path()), NOW)
                .map_err(|e| TestCaseError::fail(format!("re-open after repair failed: {e}")))?;
            prop_assert_eq!(report, OpenReport::default(), "the repair did not stick");
            prop_assert_eq!(again.all().unwrap(), first);
        }
        Err(e) => prop_assert_eq!(e.code(), "E_IO", "unexpected error {}", e),
    }
    Ok(())
}

fn append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

/// Whether `bytes` holds a line that reads as a journal record (which may rightly change what
/// the queue holds).
fn has_record_line(bytes: &[u8]) -> bool {
    bytes
        .split(|b| *b == b'\n')
        .any(|line| serde_json::from_slice::<journal::JournalRecord>(line).is_ok())
}

proptest! {
    #![proptest_config(proptest_config(256))]

    #[test]
    fn any_journal_bytes_open_or_fail_with_e_io(journal in journal_bytes()) {
        open_survives(None, Some(&journal))?;
    }

    #[test]
    fn any_snapshot_bytes_open_or_fail_with_e_io(snapshot in snapshot_bytes()) {
        open_survives(Some(&snapshot), None)?;
    }

    #[test]
    fn any_snapshot_and_journal_bytes_open_or_fail_with_e_io(
        snapshot in snapshot_bytes(),
        journal in journal_bytes(),
    ) {
        open_survives(Some(&snapshot), Some(&journal))?;
    }

    #[test]
    fn valid_journal_entries_survive_garbage_appended_after_them(
        entries in prop::collection::vec(entry(), 1..6),
        garbage in garbage_bytes(),
    ) {
        prop_assume!(!has_record_line(&garbage));
        let dir = tempfile::tempdir().unwrap();
        let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
        for e in &entries {
            q.put(e.clone()).unwrap();
        }
        let expected = q.all().unwrap();
        let journal = q.files().journal.clone();
        drop(q);
        append(&journal, &garbage);
        let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW)
            .map_err(|e| TestCaseError::fail(format!("open failed: {e}")))?;
        prop_assert_eq!(q.all().unwrap(), expected.clone());
        drop(q);
        let (mut q, report) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
        prop_assert_eq!(report, OpenReport::default());
        prop_assert_eq!(q.all().unwrap(), expected);
    }

    #[test]
    fn valid_snapshot_entries_survive_garbage_appended_after_them(
        entries in prop::collection::vec(entry(), 1..6),
        garbage in prop::collection::vec(any::<u8>(), 1..128),
    ) {
        prop_assume!(!garbage.windows(9).any(|w| w == b"\"version\""));
        let dir = tempfile::tempdir().unwrap();
        let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
        for e in &entries {
            q.put(e.clone()).unwrap();
        }
        q.compact().unwrap();
        let expected = q.all().unwrap();
        let snapshot = q.files().snapshot.clone();
        drop(q);
        append(&snapshot, &garbage);
        let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW)
            .map_err(|e| TestCaseError::fail(format!("open failed: {e}")))?;
        prop_assert_eq!(q.all().unwrap(), expected);
    }
}

/// Found by `any_snapshot_bytes_open_or_fail_with_e_io`: without serde_json's `float_roundtrip`
/// a number in an entry's `meta` read back 1 ULP off, so it drifted on every load and rewrite.
#[test]
fn float_meta_survives_reopening_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
    let mut e = ParkedEntry::new("a", Reason::RateLimit, 0, 0, "");
    e.meta = json!({"x": 2.611_486_443_436_727_4e-123, "y": 2.283_872_810_490_109_7e88});
    q.put(e.clone()).unwrap();
    drop(q);
    let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
    assert_eq!(q.all().unwrap(), [e.clone()]);
    q.compact().unwrap();
    drop(q);
    let (mut q, _) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
    assert_eq!(q.all().unwrap(), [e]);
}

/// A journal whose header claims the last possible generation, followed by a corrupt line:
/// the repair must not overflow the generation counter.
#[test]
fn a_repair_at_the_last_generation_does_not_overflow() {
    let dir = tempfile::tempdir().unwrap();
    let files = QueueFiles::in_dir(dir.path());
    let mut journal = journal::header_line(u64::MAX);
    journal.extend_from_slice(b"not json\n");
    fs::write(&files.journal, &journal).unwrap();
    let (mut q, report) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
    assert_eq!(report.recoveries.len(), 1);
    q.put(ParkedEntry::new("a", Reason::RateLimit, 0, 0, ""))
        .unwrap();
    q.compact().unwrap();
    drop(q);
    let (mut q, report) = QueueStore::open(QueueConfig::new(dir.path()), NOW).unwrap();
    assert_eq!(report, OpenReport::default());
    assert_eq!(q.len(), 1);
    assert_eq!(q.all().unwrap()[0].session_key, "a");
}
