//! Damaged files: torn journal tail, corrupt journal line, corrupt snapshot.

use super::*;
use std::fs::{self, OpenOptions};
use std::io::Write;

fn append(path: &Path, bytes: &[u8]) {
    OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

#[test]
fn a_torn_last_journal_line_is_dropped_and_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    q.put(entry("a", 1)).unwrap();
    q.put(entry("b", 2)).unwrap();
    let journal = q.files().journal.clone();
    drop(q);
    let good_len = fs::metadata(&journal).unwrap().len();
    let torn = br#"{"op":"put","entry":{"sessionKey":"c","rea"#;
    append(&journal, torn);
    let (mut q, report) = open(dir.path());
    assert!(report.recoveries.is_empty());
    assert_eq!(report.trimmed_tail_bytes, torn.len() as u64);
    assert_eq!(fs::metadata(&journal).unwrap().len(), good_len);
    assert_eq!(keys(&mut q), ["a", "b"]);
    // the next append starts on a clean line
    q.put(entry("c", 3)).unwrap();
    drop(q);
    let (mut q, report) = open(dir.path());
    assert_eq!(report, OpenReport::default());
    assert_eq!(keys(&mut q), ["a", "b", "c"]);
}

#[test]
fn a_torn_tail_left_by_another_process_is_trimmed_before_appending() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    q.put(entry("a", 1)).unwrap();
    append(&q.files().journal.clone(), br#"{"op":"del","ke"#);
    q.put(entry("b", 2)).unwrap();
    drop(q);
    let (mut q, report) = open(dir.path());
    assert_eq!(report, OpenReport::default());
    assert_eq!(keys(&mut q), ["a", "b"]);
}

#[test]
fn a_corrupt_middle_journal_line_is_kept_aside_and_the_rest_applied() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    q.put(entry("a", 1)).unwrap();
    q.put(entry("b", 2)).unwrap();
    q.put(entry("c", 3)).unwrap();
    q.remove("a").unwrap();
    let journal = q.files().journal.clone();
    drop(q);
    // header, put a, <corrupt>, put b, put c, del a
    let text = fs::read_to_string(&journal).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.insert(2, "{\"op\":\"put\",\"entry\":{\"sessionKey\":\u{0}}}");
    let damaged = lines.join("\n") + "\n";
    fs::write(&journal, &damaged).unwrap();
    let (mut q, report) = QueueStore::open(config(dir.path()), 777).unwrap();
    assert_eq!(report.recoveries.len(), 1);
    let r = &report.recoveries[0];
    assert_eq!(r.path, journal);
    assert_eq!((r.kept, r.dropped), (4, 1));
    assert!(r
        .moved_to
        .to_string_lossy()
        .ends_with("queue.journal.corrupt-777"));
    assert_eq!(fs::read_to_string(&r.moved_to).unwrap(), damaged);
    assert_eq!(keys(&mut q), ["b", "c"]);
    drop(q);
    let (mut q, report) = open(dir.path());
    assert_eq!(report, OpenReport::default());
    assert_eq!(keys(&mut q), ["b", "c"]);
}

#[test]
fn another_store_repairs_a_corrupt_line_it_finds_while_catching_up() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, _) = open(dir.path());
    let (mut b, _) = open(dir.path());
    a.put(entry("a", 1)).unwrap();
    append(&a.files().journal.clone(), b"not json\n");
    a.put(entry("b", 2)).unwrap();
    assert_eq!(keys(&mut b), ["a", "b"]);
    let recoveries = a.take_recoveries();
    assert_eq!(recoveries.len(), 1);
    assert_eq!(recoveries[0].dropped, 1);
    assert!(b.take_recoveries().is_empty());
}

#[test]
fn a_corrupt_snapshot_is_kept_aside_and_its_readable_entries_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    for (k, due) in [("a", 1), ("b", 2), ("c", 3)] {
        q.put(entry(k, due)).unwrap();
    }
    q.compact().unwrap();
    q.put(entry("d", 4)).unwrap();
    let snapshot = q.files().snapshot.clone();
    drop(q);
    // cut the snapshot inside entry "c" (as a torn copy or a bad disk block would)
    let text = fs::read_to_string(&snapshot).unwrap();
    let cut = text.find("\"sessionKey\": \"c\"").unwrap();
    fs::write(&snapshot, &text[..cut]).unwrap();
    let (mut q, report) = QueueStore::open(config(dir.path()), 42).unwrap();
    assert_eq!(report.recoveries.len(), 1);
    let r = &report.recoveries[0];
    assert_eq!(r.path, snapshot);
    assert_eq!((r.kept, r.dropped), (2, 1));
    assert_eq!(fs::read_to_string(&r.moved_to).unwrap(), &text[..cut]);
    // "d" came from the journal, "a" and "b" from the salvaged snapshot
    assert_eq!(keys(&mut q), ["a", "b", "d"]);
    drop(q);
    let (mut q, report) = open(dir.path());
    assert!(report.recoveries.is_empty());
    assert_eq!(keys(&mut q), ["a", "b", "d"]);
}

#[test]
fn a_snapshot_from_a_newer_version_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.json");
    let newer = br#"{"version": 2, "generation": 1, "entries": []}"#;
    fs::write(&path, newer).unwrap();
    let err = QueueStore::open(config(dir.path()), 0).unwrap_err();
    assert_eq!(err.code(), "E_IO");
    assert!(err.to_string().contains("newer version"), "{err}");
    assert_eq!(fs::read(&path).unwrap(), newer);
}

#[test]
fn a_compaction_cut_short_by_a_crash_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    q.put(entry("a", 1)).unwrap();
    q.put(entry("b", 2)).unwrap();
    let files = q.files().clone();
    let old_journal = fs::read(&files.journal).unwrap();
    q.remove("a").unwrap();
    q.put(entry("c", 3)).unwrap();
    q.compact().unwrap();
    drop(q);
    // the snapshot of the new generation was written, the journal was not yet replaced
    let mut stale = old_journal;
    stale.extend_from_slice(b"{\"op\":\"del\",\"key\":\"a\"}\n");
    fs::write(&files.journal, stale).unwrap();
    let (mut q, report) = open(dir.path());
    assert!(report.recoveries.is_empty());
    assert_eq!(keys(&mut q), ["b", "c"]);
}
