//! The shared test suite every backend must pass (the `object_store` way): each backend's
//! tests call these functions on a fresh instance.

use crate::breaker::{BreakerRecord, Phase};
use crate::error::EngineError;
use crate::policy::KeyRecord;
use crate::profiles::ProfileStats;
use crate::reason::Reason;
use crate::state::{
    DecisionChange, DecisionRecord, DecisionStore, DecisionTable, EntryStatus, LeaseStore,
    ParkedEntry, ParkedQueue, ProfileUsageStore, QueueChange,
};

fn entry(key: &str, group: &str, due: i64) -> ParkedEntry {
    ParkedEntry::new(key, Reason::Quota, 1, due, "quota").in_group(group)
}

/// The session keys of a queue answer, in its order.
fn keys(entries: crate::error::EngineResult<Vec<ParkedEntry>>) -> Vec<String> {
    entries
        .unwrap()
        .into_iter()
        .map(|e| e.session_key)
        .collect()
}

/// A fresh queue with room for exactly 3 entries.
pub(crate) fn parked_queue(q: &dyn ParkedQueue) {
    assert!(q.all_entries().unwrap().is_empty());
    q.put(entry("c", "g1", 30)).unwrap();
    q.put(entry("a", "g2", 10)).unwrap();
    q.put(entry("b", "g1", 20)).unwrap();
    let full = q.put(entry("d", "g1", 5)).unwrap_err();
    assert!(
        matches!(full, EngineError::QueueFull { cap: 3 }),
        "{full:?}"
    );
    q.put(entry("a", "g2", 12)).unwrap(); // an update of a parked key is not new
    let sorted = keys(q.all_entries());
    assert_eq!(sorted, ["a", "b", "c"], "sorted by due time");
    assert_eq!(q.get("a").unwrap().unwrap().retry_at_ms, 12);
    assert!(q.get("zz").unwrap().is_none());

    q.apply(
        &[
            QueueChange::SetStatus {
                session_key: "a".into(),
                status: EntryStatus::Probing,
                retry_at_ms: None,
            },
            QueueChange::RecordFailure {
                session_key: "b".into(),
                attempts: 3,
                error: "429".into(),
                retry_at_ms: 25,
            },
            QueueChange::Remove {
                session_key: "gone".into(),
            },
        ],
        7,
    )
    .unwrap();
    let a = q.get("a").unwrap().unwrap();
    assert_eq!((a.status, a.status_since_ms), (EntryStatus::Probing, 7));
    let unparked = keys(q.unparked_entries());
    assert_eq!(unparked, ["a"], "only the probing entry is mid-cycle");
    let b = q.get("b").unwrap().unwrap();
    assert_eq!(
        (
            b.attempts,
            b.retry_at_ms,
            b.last_error.as_str(),
            b.last_failed_at_ms
        ),
        (3, 25, "429", 7)
    );
    assert_eq!(
        q.next_due_ms(&[]).unwrap(),
        Some(25),
        "probing entries are not due"
    );
    assert_eq!(q.next_due_ms(&["g1".into()]).unwrap(), None);
    let due = keys(q.due_entries(26));
    assert_eq!(due, ["b"]);
    assert_eq!(
        q.remove("c").unwrap().map(|e| e.session_key),
        Some("c".into())
    );
    assert!(q.remove("c").unwrap().is_none());
    q.apply(
        &[
            QueueChange::Remove {
                session_key: "a".into(),
            },
            QueueChange::SetStatus {
                session_key: "a".into(),
                status: EntryStatus::Parked,
                retry_at_ms: Some(1),
            },
        ],
        8,
    )
    .unwrap();
    assert!(
        q.get("a").unwrap().is_none(),
        "a change after a removal is skipped"
    );
    assert_eq!(q.all_entries().unwrap().len(), 1);
}

/// A fresh decision store.
pub(crate) fn decision_store(s: &dyn DecisionStore) {
    assert!(s.load(0).unwrap().state.is_empty());
    let mut rec = KeyRecord::new(5);
    rec.consecutive_errors = 2;
    rec.last_reason = Some(Reason::Billing);
    rec.disabled = true;
    rec.disabled_until_ms = Some(9_000);
    rec.last_alert = Some((Reason::Billing, 5));
    let mut open = BreakerRecord::new(1_000, 5);
    open.phase = Phase::Open {
        half_open_at_ms: 1_005,
    };
    open.failures = 5;
    let change = |table, key: &str, record| DecisionChange {
        table,
        key: key.into(),
        record,
    };
    s.write(&[
        change(
            DecisionTable::Policy,
            "cron:1",
            Some(DecisionRecord::Policy(rec.clone())),
        ),
        change(
            DecisionTable::Breaker,
            "openai",
            Some(DecisionRecord::Breaker(open.clone())),
        ),
        change(
            DecisionTable::Guard,
            "room",
            Some(DecisionRecord::Breaker(open.clone())),
        ),
        change(
            DecisionTable::Policy,
            "gone",
            Some(DecisionRecord::Policy(rec.clone())),
        ),
        change(DecisionTable::Policy, "gone", None),
    ])
    .unwrap();
    let state = s.load(0).unwrap().state;
    assert_eq!(state.policy.get("cron:1"), Some(&rec));
    assert_eq!(state.breakers.get("openai"), Some(&open));
    assert_eq!(state.guard.get("room"), Some(&open));
    assert_eq!(state.len(), 3);
    s.write(&[change(DecisionTable::Guard, "room", None)])
        .unwrap();
    assert!(s.load(0).unwrap().state.guard.is_empty());
}

/// A fresh profile-usage store.
pub(crate) fn profile_usage(s: &dyn ProfileUsageStore) {
    let mut seen = 0;
    s.transact(0, &mut |u| {
        seen = u.profiles.len();
        u.profiles.insert("p1".into(), ProfileStats::new("openai"));
        u.pick_seq = 3;
        Ok(true)
    })
    .unwrap();
    assert_eq!(seen, 0);
    let failed = s.transact(0, &mut |u| {
        u.profiles.clear();
        Err(EngineError::input("x", "refused"))
    });
    assert!(failed.is_err());
    s.transact(0, &mut |u| {
        u.profiles.clear(); // not written back: the operation says it changed nothing
        Ok(false)
    })
    .unwrap();
    s.transact(0, &mut |u| {
        assert_eq!(u.pick_seq, 3);
        assert!(
            u.profiles.contains_key("p1"),
            "failed or unchanged ops are not kept"
        );
        Ok(false)
    })
    .unwrap();
}

/// A fresh lease store.
pub(crate) fn lease_store(s: &dyn LeaseStore) {
    assert!(s.try_acquire("probe:g", "a", 0, 100).unwrap());
    assert!(!s.try_acquire("probe:g", "b", 50, 100).unwrap());
    assert!(s.try_acquire("probe:g", "a", 60, 100).unwrap(), "renewed");
    assert!(!s.try_acquire("probe:g", "b", 150, 100).unwrap());
    assert!(s.try_acquire("probe:g", "b", 160, 100).unwrap(), "expired");
    s.release("probe:g", "a").unwrap(); // not the holder: no effect
    assert!(!s.try_acquire("probe:g", "a", 170, 100).unwrap());
    s.release("probe:g", "b").unwrap();
    assert!(s.try_acquire("probe:g", "a", 170, 100).unwrap());
}
