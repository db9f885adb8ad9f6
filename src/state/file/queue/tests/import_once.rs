//! Importing the old plugin's queue.json exactly once.

use super::*;
use std::fs;

const OLD: &str = r#"[
  {
    "sessionKey": "agent:main:telegram:1",
    "errorTime": 1773300000000,
    "retryAfter": 1773302400000,
    "errorMessage": "API rate limit reached",
    "attempts": 0
  },
  {
    "sessionKey": "agent:main:cron:nightly",
    "errorTime": "2026-03-12T08:00:00.000Z",
    "retryAfter": "2026-03-12T10:00:00.000Z",
    "errorMessage": "429",
    "attempts": 1
  },
  { "errorMessage": "no key" }
]"#;

#[test]
fn imports_the_old_queue_once_and_never_touches_it() {
    let base = tempfile::tempdir().unwrap();
    let old_path = base.path().join("ratelimit-retry").join("queue.json");
    fs::create_dir_all(old_path.parent().unwrap()).unwrap();
    fs::write(&old_path, OLD).unwrap();
    let mut cfg = config(&base.path().join("engine"));
    cfg.import_path = Some(old_path.clone());

    let (mut q, report) = QueueStore::open(cfg.clone(), 9).unwrap();
    let imported = report.imported.unwrap();
    assert_eq!(
        (imported.imported, imported.invalid, imported.over_cap),
        (2, 1, 0)
    );
    assert_eq!(imported.problem, None);
    let all = q.all().unwrap();
    assert_eq!(all[0].session_key, "agent:main:telegram:1");
    assert_eq!(all[0].retry_at_ms, 1_773_302_400_000);
    assert_eq!(all[0].attempts, 1);
    assert_eq!(all[1].retry_at_ms, 1_773_309_600_000);
    assert!(q.files().import_marker.exists());
    // the imported entries are ordinary entries now; removing one must not bring it back
    q.remove("agent:main:cron:nightly").unwrap();
    drop(q);

    let (mut q, report) = QueueStore::open(cfg.clone(), 10).unwrap();
    assert_eq!(report.imported, None);
    assert_eq!(keys(&mut q), ["agent:main:telegram:1"]);
    q.remove("agent:main:telegram:1").unwrap();
    drop(q);
    // even with the store empty again, the marker prevents a second import
    let (q, report) = QueueStore::open(cfg, 11).unwrap();
    assert_eq!(report.imported, None);
    assert!(q.is_empty());
    assert_eq!(fs::read_to_string(&old_path).unwrap(), OLD);
}

#[test]
fn a_non_empty_store_is_not_mixed_with_an_old_queue() {
    let base = tempfile::tempdir().unwrap();
    let old_path = base.path().join("old.json");
    fs::write(&old_path, OLD).unwrap();
    let engine = base.path().join("engine");
    {
        let (mut q, _) = QueueStore::open(config(&engine), 0).unwrap();
        q.put(entry("mine", 1)).unwrap();
    }
    let mut cfg = config(&engine);
    cfg.import_path = Some(old_path);
    let (mut q, report) = QueueStore::open(cfg, 0).unwrap();
    assert_eq!(report.imported, None);
    assert_eq!(keys(&mut q), ["mine"]);
    assert!(q.files().import_marker.exists());
}

#[test]
fn an_unreadable_old_queue_is_reported_not_fatal() {
    let base = tempfile::tempdir().unwrap();
    let old_path = base.path().join("old.json");
    fs::write(&old_path, "{ not a queue").unwrap();
    let mut cfg = config(&base.path().join("engine"));
    cfg.import_path = Some(old_path);
    let (q, report) = QueueStore::open(cfg, 0).unwrap();
    let imported = report.imported.unwrap();
    assert_eq!(imported.imported, 0);
    assert!(imported.problem.unwrap().contains("not JSON"));
    assert!(q.is_empty());
}

#[test]
fn an_import_path_inside_the_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.import_path = Some(dir.path().join("queue.json"));
    let err = QueueStore::open(cfg, 0).unwrap_err();
    assert!(err.to_string().contains("queue.importPath"), "{err}");
}

#[test]
fn a_large_import_is_read_back_whole_and_the_store_works_on() {
    let base = tempfile::tempdir().unwrap();
    let n = super::super::heap::RELEASE_FROM_ENTRIES + 5;
    let items: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({"sessionKey": format!("agent:main:{i}"), "errorTime": 1_000 + i,
                "retryAfter": 5_000 + i, "errorMessage": "429", "attempts": 0})
        })
        .collect();
    let old_path = base.path().join("old.json");
    fs::write(&old_path, serde_json::to_vec(&items).unwrap()).unwrap();
    let mut cfg = config(&base.path().join("engine"));
    cfg.max_entries = n + 10;
    cfg.import_path = Some(old_path);
    let (mut q, report) = QueueStore::open(cfg.clone(), 9).unwrap();
    assert_eq!(report.imported.unwrap().imported, n);
    assert_eq!(q.len(), n);
    assert_eq!(q.parked_by_due().next().unwrap().key(), "agent:main:0");
    q.put(entry("after", 1)).unwrap();
    drop(q);
    let (mut q, _) = QueueStore::open(cfg, 10).unwrap();
    assert_eq!(q.all().unwrap().len(), n + 1);
    assert_eq!(q.get("agent:main:77").unwrap().unwrap().retry_at_ms, 5_077);
}
