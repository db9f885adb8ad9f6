//! Restart, dedupe, cap, compaction, permissions, two stores in one process.

use super::*;
use crate::error::EngineError;
use std::fs;
use std::os::unix::fs::PermissionsExt;

#[test]
fn survives_a_restart_with_updates_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut q, report) = open(dir.path());
        assert_eq!(report, OpenReport::default());
        q.put(entry("a", 30)).unwrap();
        q.put(entry("b", 10)).unwrap();
        q.put(entry("c", 20)).unwrap();
        let mut again = entry("a", 40);
        again.attempts = 2;
        again.last_error = "still 429".into();
        q.put(again).unwrap();
        assert_eq!(q.remove("c").unwrap().unwrap().retry_at_ms, 20);
        assert_eq!(q.remove("c").unwrap(), None);
        assert_eq!(q.len(), 2);
    }
    let (mut q, report) = open(dir.path());
    assert!(report.recoveries.is_empty());
    assert_eq!(keys(&mut q), ["b", "a"]);
    let a = q.get("a").unwrap().unwrap();
    assert_eq!(
        (a.attempts, a.retry_at_ms, a.last_error.as_str()),
        (2, 40, "still 429")
    );
}

#[test]
fn a_full_queue_rejects_new_keys_but_updates_existing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.max_entries = 2;
    let (mut q, _) = QueueStore::open(cfg, 0).unwrap();
    q.put(entry("a", 1)).unwrap();
    q.put(entry("b", 2)).unwrap();
    let err = q.put(entry("c", 3)).unwrap_err();
    assert!(matches!(err, EngineError::QueueFull { cap: 2 }), "{err}");
    q.put(entry("a", 9)).unwrap();
    // a batch that would overflow writes nothing, even its valid part
    let batch = vec![QueueOp::Put(entry("b", 7)), QueueOp::Put(entry("d", 1))];
    assert!(matches!(q.apply(batch), Err(EngineError::QueueFull { .. })));
    // removing first makes room inside the same batch
    let batch = vec![QueueOp::Remove("b".into()), QueueOp::Put(entry("d", 1))];
    q.apply(batch).unwrap();
    assert_eq!(keys(&mut q), ["d", "a"]);
    drop(q);
    let (mut q, _) = open(dir.path());
    assert_eq!(keys(&mut q), ["d", "a"]);
    assert_eq!(q.get("a").unwrap().unwrap().retry_at_ms, 9);
}

#[test]
fn empty_keys_and_zero_caps_are_refused_with_the_field_name() {
    let dir = tempfile::tempdir().unwrap();
    let (mut q, _) = open(dir.path());
    let err = q.put(entry("", 1)).unwrap_err();
    assert!(err.to_string().contains("sessionKey"), "{err}");
    let mut cfg = config(dir.path());
    cfg.max_entries = 0;
    let err = QueueStore::open(cfg, 0).unwrap_err();
    assert!(err.to_string().contains("queue.maxEntries"), "{err}");
}

#[test]
fn compaction_keeps_entries_and_bounds_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.compact_min_records = 10;
    let (mut q, _) = QueueStore::open(cfg.clone(), 0).unwrap();
    for round in 0..20 {
        for k in 0..3 {
            let mut e = entry(&format!("k{k}"), round);
            e.attempts = round as u32 + 1;
            q.put(e).unwrap();
        }
    }
    q.remove("k1").unwrap();
    let journal_lines = fs::read_to_string(&q.files().journal)
        .unwrap()
        .lines()
        .count();
    // 61 records written; compaction keeps the journal at most compact_min_records + header
    assert!(journal_lines <= 11, "journal has {journal_lines} lines");
    let snapshot: serde_json::Value =
        serde_json::from_slice(&fs::read(&q.files().snapshot).unwrap()).unwrap();
    assert_eq!(snapshot["version"], 1);
    assert!(snapshot["generation"].as_u64().unwrap() >= 2);
    q.compact().unwrap();
    assert_eq!(
        fs::read_to_string(&q.files().journal)
            .unwrap()
            .lines()
            .count(),
        1
    );
    drop(q);
    let (mut q, _) = QueueStore::open(cfg, 0).unwrap();
    let all = q.all().unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|e| e.attempts == 20 && e.retry_at_ms == 19));
}

#[test]
fn files_are_0600_and_a_created_dir_is_0700() {
    let base = tempfile::tempdir().unwrap();
    let dir = base.path().join("state").join("queue");
    let mut cfg = config(&dir);
    cfg.compact_min_records = 1;
    let (mut q, _) = QueueStore::open(cfg, 0).unwrap();
    q.put(entry("a", 1)).unwrap();
    q.put(entry("b", 1)).unwrap();
    q.put(entry("c", 1)).unwrap();
    let mode = |p: &std::path::Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let files = q.files().clone();
    for f in [&files.snapshot, &files.journal, &files.lock] {
        assert_eq!(mode(f), 0o600, "{}", f.display());
    }
}

#[test]
fn two_stores_on_one_dir_see_each_others_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.compact_min_records = 5;
    let (mut a, _) = QueueStore::open(cfg.clone(), 0).unwrap();
    let (mut b, _) = QueueStore::open(cfg, 0).unwrap();
    a.put(entry("x", 1)).unwrap();
    assert_eq!(b.get("x").unwrap().unwrap().retry_at_ms, 1);
    b.put(entry("x", 2)).unwrap();
    assert_eq!(a.get("x").unwrap().unwrap().retry_at_ms, 2);
    assert_eq!(a.remove("x").unwrap().unwrap().retry_at_ms, 2);
    assert_eq!(b.get("x").unwrap(), None);
    // b compacts; a must notice the new generation and keep appending safely
    for i in 0..12 {
        b.put(entry(&format!("b{i}"), i)).unwrap();
    }
    b.compact().unwrap();
    a.put(entry("a0", 0)).unwrap();
    assert_eq!(b.all().unwrap().len(), 13);
    assert_eq!(a.len(), 13);
    b.remove("b3").unwrap();
    assert_eq!(a.iter().filter(|e| e.session_key == "b3").count(), 1);
    a.refresh().unwrap();
    assert_eq!(a.iter().filter(|e| e.session_key == "b3").count(), 0);
    let earliest = a.iter().map(|e| e.retry_at_ms).min();
    assert_eq!(earliest, Some(0));
}

#[test]
fn two_stores_writing_from_threads_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.compact_min_records = 20;
    let writers: Vec<_> = ["p", "q"]
        .into_iter()
        .map(|prefix| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let (mut s, _) = QueueStore::open(cfg, 0).unwrap();
                for i in 0..150 {
                    s.put(entry(&format!("{prefix}{i}"), i)).unwrap();
                    if i % 10 == 0 {
                        // updates and a group commit interleaved with the other writer
                        let ops = vec![
                            QueueOp::Put(entry(&format!("{prefix}{i}"), i + 1000)),
                            QueueOp::Put(entry(&format!("{prefix}shared"), i)),
                        ];
                        s.apply(ops).unwrap();
                    }
                    if i % 25 == 24 {
                        s.compact().unwrap();
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let (mut q, report) = QueueStore::open(cfg, 0).unwrap();
    assert!(report.recoveries.is_empty());
    let all = q.all().unwrap();
    assert_eq!(all.len(), 302);
    for prefix in ["p", "q"] {
        for i in 0..150 {
            let e = q.get(&format!("{prefix}{i}")).unwrap().unwrap();
            let due = if i % 10 == 0 { i + 1000 } else { i };
            assert_eq!(e.retry_at_ms, due, "{prefix}{i}");
        }
    }
}

#[test]
fn the_store_can_move_into_spawn_blocking() {
    fn send<T: Send + 'static>(_: &T) {}
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = open(dir.path());
    send(&q);
    let q = std::sync::Mutex::new(q);
    let handle = std::thread::spawn(move || q.lock().unwrap().put(entry("t", 1)));
    handle.join().unwrap().unwrap();
}
