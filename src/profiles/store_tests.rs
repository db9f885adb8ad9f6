use super::*;
use crate::events::{null_sink, RecordingSink};
use crate::profiles::rotation::SkipReason;
use crate::profiles::view::ProfileStatus;
use crate::reason::Reason;
use crate::state::file::profiles::FILE_NAME;
use std::os::unix::fs::PermissionsExt;

const T0: i64 = 1_800_000_000_000;

fn open(dir: &Path) -> ProfileStore {
    ProfileStore::open(dir, ProfileConfig::default(), null_sink(), T0)
        .unwrap()
        .0
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn picked(store: &ProfileStore, provider: &str, now: i64) -> Option<String> {
    store.pick(provider, None, now).unwrap().profile_id
}

#[test]
fn round_robin_oldest_first_and_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for id in ["c", "a", "b"] {
        assert!(store.register(id, "openai", T0).unwrap());
    }
    assert!(!store.register("a", "openai", T0).unwrap());
    store.register("other", "anthropic", T0).unwrap();
    // all in the same millisecond: still a, b, c, a, b, c
    let order: Vec<_> = (0..6)
        .map(|_| picked(&store, "openai", T0).unwrap())
        .collect();
    assert_eq!(order, ids(&["a", "b", "c", "a", "b", "c"]));
    // a newly registered profile is never used, so it goes first
    store.register("d", "openai", T0).unwrap();
    assert_eq!(picked(&store, "openai", T0 + 1).as_deref(), Some("d"));
    assert_eq!(picked(&store, "openai", T0 + 2).as_deref(), Some("a"));

    let reopened = open(dir.path());
    let views = reopened.list(Some("openai"), T0 + 3).unwrap();
    let uses: Vec<_> = views
        .iter()
        .map(|v| {
            (
                v.profile_id.as_str(),
                v.stats.use_count,
                v.stats.last_used_ms,
            )
        })
        .collect();
    assert_eq!(
        uses,
        vec![
            ("a", 3, Some(T0 + 2)),
            ("b", 2, Some(T0)),
            ("c", 2, Some(T0)),
            ("d", 1, Some(T0 + 1))
        ]
    );
    assert_eq!(reopened.list(None, T0).unwrap().len(), 5);
    assert_eq!(picked(&reopened, "openai", T0 + 4).as_deref(), Some("b"));
}

#[test]
fn candidates_limit_the_choice_and_register_unknown_ids() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.register("a", "openai", T0).unwrap();
    store.register("b", "openai", T0).unwrap();
    let r = store
        .pick("openai", Some(&ids(&["b", "new", "b"])), T0)
        .unwrap();
    assert_eq!(r.profile_id.as_deref(), Some("b"));
    let r = store.pick("openai", Some(&ids(&["b", "new"])), T0).unwrap();
    assert_eq!(r.profile_id.as_deref(), Some("new"));
    let listed = store.list(Some("openai"), T0).unwrap();
    assert_eq!(listed.len(), 3, "`new` was registered under openai");

    let e = store.pick("openai", Some(&[]), T0).unwrap_err();
    assert_eq!(e.code(), "E_INVALID_INPUT");
    assert!(e.to_string().contains("candidates"));
    store.register("claude", "anthropic", T0).unwrap();
    let e = store
        .pick("openai", Some(&ids(&["claude"])), T0)
        .unwrap_err();
    assert!(e.to_string().contains("registered under provider"), "{e}");
    let e = store.register("claude", "openai", T0).unwrap_err();
    assert_eq!(e.code(), "E_INVALID_INPUT");
    assert!(store.pick("", None, T0).is_err());
    assert!(store.pick("openai", Some(&ids(&[" "])), T0).is_err());
    // nothing registered for a provider: nothing to pick, nothing to wait for
    let r = store.pick("mistral", None, T0).unwrap();
    assert_eq!((r.profile_id, r.next_available_at_ms), (None, None));
}

#[test]
fn cooled_and_disabled_profiles_are_skipped_until_they_free_up() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingSink::default();
    let (store, recovery) =
        ProfileStore::open(dir.path(), ProfileConfig::default(), rec.sink(), T0).unwrap();
    assert_eq!(recovery, None);
    for id in ["a", "b", "c"] {
        store.register(id, "openai", T0).unwrap();
    }
    let r = store
        .mark("a", &Outcome::failure(Reason::RateLimit), T0)
        .unwrap();
    assert!(r.rotate);
    assert_eq!(r.cooldown_until_ms, Some(T0 + 30_000));
    let hinted = Outcome {
        reason: Some(Reason::Billing),
        retry_after_ms: None,
        reset_at_ms: Some(T0 + 3_600_000),
    };
    let r = store.mark("b", &hinted, T0).unwrap();
    assert_eq!(r.disabled_until_ms, Some(T0 + 3_600_000));
    assert_eq!(
        rec.events(),
        vec![
            Event::ProfileCooldown {
                profile_id: "a".into(),
                reason: Reason::RateLimit,
                until_ms: T0 + 30_000,
                disabled: false
            },
            Event::ProfileCooldown {
                profile_id: "b".into(),
                reason: Reason::Billing,
                until_ms: T0 + 3_600_000,
                disabled: true
            },
        ]
    );

    let r = store.pick("openai", None, T0 + 1).unwrap();
    assert_eq!(r.profile_id.as_deref(), Some("c"));
    let skipped: Vec<_> = r
        .skipped
        .iter()
        .map(|s| (s.profile_id.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        vec![("a", SkipReason::Cooldown), ("b", SkipReason::Disabled)]
    );

    store
        .mark("c", &Outcome::failure(Reason::Auth), T0 + 1)
        .unwrap();
    let r = store.pick("openai", None, T0 + 2).unwrap();
    assert_eq!(r.profile_id, None);
    assert_eq!(r.next_available_at_ms, Some(T0 + 30_000), "a frees first");
    assert_eq!(r.skipped.len(), 3);
    // a pick that found nothing used nothing
    let c = &store.list(Some("openai"), T0 + 2).unwrap()[2];
    assert_eq!((c.stats.use_count, c.status), (1, ProfileStatus::Cooldown));

    assert_eq!(picked(&store, "openai", T0 + 30_000).as_deref(), Some("a"));
    assert_eq!(picked(&store, "openai", T0 + 31_001).as_deref(), Some("c"));
    // b stays disabled for the hour; a and c alternate, least recently used first
    assert_eq!(picked(&store, "openai", T0 + 31_002).as_deref(), Some("a"));
    assert_eq!(picked(&store, "openai", T0 + 31_003).as_deref(), Some("c"));
}

#[test]
fn success_clears_and_overloaded_only_counts() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingSink::default();
    let (store, _) =
        ProfileStore::open(dir.path(), ProfileConfig::default(), rec.sink(), T0).unwrap();
    store.register("a", "openai", T0).unwrap();
    let r = store
        .mark("a", &Outcome::failure(Reason::Overloaded), T0)
        .unwrap();
    assert!(!r.rotate);
    assert_eq!((r.cooldown_until_ms, r.error_count), (None, 1));
    assert!(rec.events().is_empty(), "no cooldown event for overloaded");
    assert_eq!(picked(&store, "openai", T0).as_deref(), Some("a"));
    store
        .mark("a", &Outcome::failure(Reason::Quota), T0)
        .unwrap();
    assert_eq!(picked(&store, "openai", T0 + 1), None);
    let r = store.mark("a", &Outcome::success(), T0 + 2).unwrap();
    assert_eq!(
        (r.rotate, r.error_count, r.cooldown_until_ms),
        (false, 0, None)
    );
    assert_eq!(picked(&store, "openai", T0 + 3).as_deref(), Some("a"));
    let v = &store.list(None, T0 + 3).unwrap()[0];
    assert_eq!(v.stats.success_count, 1);
    assert_eq!(v.stats.failure_total, 2);
    assert!(v.stats.failure_counts.is_empty());
}

#[test]
fn marking_an_unknown_profile_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let e = store
        .mark("ghost", &Outcome::failure(Reason::RateLimit), T0)
        .unwrap_err();
    assert_eq!(e.code(), "E_INVALID_INPUT");
    assert!(e.to_string().contains("unknown profile \"ghost\""), "{e}");
    assert!(e.to_string().contains("register"), "{e}");
    assert!(store.mark("", &Outcome::success(), T0).is_err());
    store.register("a", "openai", T0).unwrap();
    let bad = Outcome {
        reason: Some(Reason::RateLimit),
        retry_after_ms: Some(-3),
        reset_at_ms: None,
    };
    assert!(store.mark("a", &bad, T0).is_err());
    assert_eq!(store.list(None, T0).unwrap()[0].stats.failure_total, 0);
}

#[test]
fn file_is_private_readable_json_of_ids_and_counters() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.register("openai:work", "openai", T0).unwrap();
    store
        .mark("openai:work", &Outcome::failure(Reason::RateLimit), T0)
        .unwrap();
    let path = dir.path().join(FILE_NAME);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\n"), "pretty-printed");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["version"], 1);
    let p = &json["profiles"]["openai:work"];
    assert_eq!(p["provider"], "openai");
    assert_eq!(p["failureCounts"]["rate_limit"], 1);
    assert_eq!(p["cooldownUntilMs"], T0 + 30_000);
    assert_eq!(p["lastReason"], "rate_limit");
    for key in [
        "lastUsedMs",
        "useCount",
        "successCount",
        "consecutiveFailures",
        "disabledUntilMs",
        "disabledReason",
    ] {
        assert!(p.get(key).is_some(), "missing {key}");
    }
}

#[test]
fn corrupt_file_is_moved_aside_and_readable_profiles_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, b"{\"version\":1,\"profiles\":{\"a\":{\"provid").unwrap();
    let (store, recovery) =
        ProfileStore::open(dir.path(), ProfileConfig::default(), null_sink(), T0).unwrap();
    let info = recovery.expect("damaged file reported");
    assert_eq!((info.kept, info.dropped), (0, 0));
    assert_eq!(info.path, path);
    assert_eq!(
        std::fs::read(&info.moved_to).unwrap(),
        b"{\"version\":1,\"profiles\":{\"a\":{\"provid"
    );
    assert!(matches!(
        info.to_event(),
        Event::RecoveredCorruptFile { kept: 0, .. }
    ));
    assert!(store.list(None, T0).unwrap().is_empty());

    // a file damaged later (by another process) is recovered and reported through the sink
    std::fs::write(
        &path,
        br#"{"version":1,"pickSeq":1,"profiles":{"a":{"provider":"openai","useCount":4},"b":{"provider":[]}}}"#,
    )
    .unwrap();
    let rec = RecordingSink::default();
    let store = ProfileStore {
        events: rec.sink(),
        ..store
    };
    assert_eq!(picked(&store, "openai", T0 + 5).as_deref(), Some("a"));
    let events = rec.events();
    assert_eq!(events.len(), 1);
    let Event::RecoveredCorruptFile {
        kept,
        dropped,
        moved_to,
        ..
    } = &events[0]
    else {
        panic!("expected a recovery event, got {events:?}")
    };
    assert_eq!((*kept, *dropped), (1, 1));
    assert!(moved_to.contains(".corrupt-"));
    assert_eq!(store.list(None, T0).unwrap()[0].stats.use_count, 5);
    assert!(rec.events().len() == 1, "the rewritten file is clean");
}

#[test]
fn a_file_from_a_newer_engine_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    std::fs::write(&path, br#"{"version":2,"profiles":{}}"#).unwrap();
    let e = ProfileStore::open(dir.path(), ProfileConfig::default(), null_sink(), T0).unwrap_err();
    assert_eq!(e.code(), "E_IO");
    assert!(e.to_string().contains("newer engine"), "{e}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        br#"{"version":2,"profiles":{}}"#
    );
}

#[test]
fn invalid_config_is_rejected_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = ProfileConfig {
        billing_max_ms: 1,
        ..ProfileConfig::default()
    };
    let e = ProfileStore::open(dir.path(), cfg, null_sink(), T0).unwrap_err();
    assert_eq!(e.code(), "E_INVALID_OPTION");
}

#[test]
fn two_handles_never_overwrite_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let one = open(dir.path());
    let two = open(dir.path());
    one.register("a", "openai", T0).unwrap();
    two.register("b", "openai", T0).unwrap();
    one.mark("b", &Outcome::failure(Reason::Timeout), T0)
        .unwrap();
    two.mark("a", &Outcome::failure(Reason::Timeout), T0)
        .unwrap();
    assert_eq!(picked(&one, "openai", T0).as_deref(), Some("a"));
    assert_eq!(picked(&two, "openai", T0).as_deref(), Some("b"));
    let views = one.list(None, T0).unwrap();
    assert!(views
        .iter()
        .all(|v| v.stats.use_count == 1 && v.stats.failure_total == 1));
}

#[test]
fn threads_with_their_own_handles_count_every_mark() {
    let dir = tempfile::tempdir().unwrap();
    open(dir.path()).register("a", "openai", T0).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let d = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let store = open(&d);
                for i in 0..25 {
                    store
                        .mark("a", &Outcome::failure(Reason::RateLimit), T0 + i)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let v = &open(dir.path()).list(None, T0).unwrap()[0];
    assert_eq!(v.stats.failures_of(Reason::RateLimit), 100);
    assert_eq!(v.stats.consecutive_failures, 100);
}

const CHILD_DIR: &str = "PROFILES_TEST_CHILD_DIR";
const CHILD_OPS: &str = "PROFILES_TEST_CHILD_OPS";
const CHILD_INDEX: &str = "PROFILES_TEST_CHILD_INDEX";

/// Outcomes a child cycles through: none of them cools a profile down, so every pick succeeds.
const CHILD_OUTCOMES: [Option<Reason>; 5] = [
    None,
    Some(Reason::Overloaded),
    Some(Reason::Timeout),
    Some(Reason::ServerError),
    Some(Reason::Network),
];

/// Entry point of the child processes of `processes_sharing_the_store_lose_no_update`; run
/// only through that test (it re-executes this test binary with the env vars set).
#[test]
#[ignore = "child process of processes_sharing_the_store_lose_no_update"]
fn child_worker() {
    // Outside the multi-process test (e.g. `cargo test -- --include-ignored`) there is no
    // shared directory to work on; the parent test is what asserts.
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let ops: i64 = std::env::var(CHILD_OPS).unwrap().parse().unwrap();
    let index: i64 = std::env::var(CHILD_INDEX).unwrap().parse().unwrap();
    let store = open(Path::new(&dir));
    for i in 0..ops {
        let now = T0 + index * 1_000_000 + i;
        let id = picked(&store, "openai", now).expect("no profile ever cools down here");
        let reason = CHILD_OUTCOMES[(index + i) as usize % CHILD_OUTCOMES.len()];
        let outcome = Outcome {
            reason,
            retry_after_ms: None,
            reset_at_ms: None,
        };
        store.mark(&id, &outcome, now).unwrap();
    }
}

#[test]
fn processes_sharing_the_store_lose_no_update() {
    const PROCESSES: usize = 4;
    const OPS: u64 = 40;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for id in ["p1", "p2", "p3"] {
        store.register(id, "openai", T0).unwrap();
    }
    let module = module_path!().split_once("::").unwrap().1;
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|i| {
            std::process::Command::new(&exe)
                .args([
                    &format!("{module}::child_worker"),
                    "--exact",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(CHILD_DIR, dir.path())
                .env(CHILD_OPS, OPS.to_string())
                .env(CHILD_INDEX, i.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("1 passed"),
            "the child ran the worker: {stdout}"
        );
    }
    let total = PROCESSES as u64 * OPS;
    let views = store.list(Some("openai"), T0).unwrap();
    let uses: u64 = views.iter().map(|v| v.stats.use_count).sum();
    let marks: u64 = views
        .iter()
        .map(|v| v.stats.success_count + v.stats.failure_total)
        .sum();
    assert_eq!(uses, total, "every pick counted");
    assert_eq!(marks, total, "every mark counted");
    let successes: u64 = views.iter().map(|v| v.stats.success_count).sum();
    assert_eq!(successes, total / CHILD_OUTCOMES.len() as u64);
    let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        json["pickSeq"], total,
        "every pick took its own sequence number"
    );
}
