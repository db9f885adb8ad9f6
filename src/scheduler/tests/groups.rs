//! Probe failure re-parks the whole group; groups probe independently; resolve-mode timeouts.

use super::fake::{entry, Harness, Reply, T0};
use crate::events::Event;
use crate::scheduler::{ProbeConfirm, SchedulerConfig};
use crate::state::EntryStatus;

#[tokio::test(start_paused = true)]
async fn failed_probe_reparks_the_group_and_the_next_probe_comes_at_the_next_window() {
    let entries = vec![
        entry("a", "g", 1_000, 30),
        entry("b", "g", 1_000, 20),
        entry("c", "g", 20_000, 10), // not due yet, but before the next window
        entry("far", "g", 900_000, 0),
    ];
    // The first two probes fail, then the provider is back.
    let h = Harness::start(SchedulerConfig::default(), entries, |_, i| {
        if i < 2 {
            Reply::Err(0, "429 rate limited")
        } else {
            Reply::Ok(0)
        }
    });
    h.run_until(2_000).await;
    assert_eq!(h.resender.keys(), vec!["a"]);
    for key in ["a", "b", "c"] {
        let e = h.queue.entry(key).unwrap();
        assert_eq!(
            (e.status, e.retry_at_ms),
            (EntryStatus::Parked, T0 + 61_000),
            "{key}"
        );
    }
    assert_eq!(h.queue.entry("far").unwrap().retry_at_ms, T0 + 900_000);
    assert_eq!(h.queue.entry("a").unwrap().attempts, 2);
    assert_eq!(
        h.queue.entry("a").unwrap().last_error,
        "resend failed: 429 rate limited"
    );
    assert!(h.events().contains(&Event::ProbeFailed {
        session_key: "a".into(),
        group: "g".into(),
        reparked: 3,
        retry_at_ms: T0 + 61_000,
    }));

    // Second window: one probe exactly then, fails again; the wait doubles to 120 s.
    h.run_until(100_000).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[1].key.as_str(), calls[1].at_ms), ("a", T0 + 61_000));
    assert_eq!(h.queue.entry("b").unwrap().retry_at_ms, T0 + 181_000);

    // Third window: the probe succeeds and the rest of the due group is released.
    h.run_until(200_000).await;
    let calls = h.resender.calls();
    assert_eq!((calls[2].key.as_str(), calls[2].at_ms), ("a", T0 + 181_000));
    assert_eq!(calls[2].attempts, 4);
    let mut released: Vec<&str> = calls[3..].iter().map(|c| c.key.as_str()).collect();
    released.sort();
    assert_eq!(released, ["b", "c"]);
    for c in &calls[3..] {
        assert!((T0 + 181_000..=T0 + 186_000).contains(&c.at_ms));
    }
    assert_eq!(h.queue.len(), 1, "only the entry of a later window stays");
    assert!(h.queue.entry("far").is_some());
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn two_groups_probe_independently() {
    let entries = vec![
        entry("a1", "down", 1_000, 3),
        entry("a2", "down", 1_000, 2),
        entry("b1", "up", 1_000, 3),
        entry("b2", "up", 1_000, 2),
        entry("b3", "up", 1_000, 1),
    ];
    let h = Harness::start(SchedulerConfig::default(), entries, |req, _| {
        if req.session_key.starts_with('a') {
            Reply::Err(10, "quota exceeded")
        } else {
            Reply::Ok(10)
        }
    });
    h.run_until(1_001).await;
    let mut probes = h.resender.keys();
    probes.sort();
    assert_eq!(
        probes,
        ["a1", "b1"],
        "one probe per group, at the same time"
    );
    assert!(h.resender.calls().iter().all(|c| c.at_ms == T0 + 1_000));
    h.run_until(30_000).await;
    let keys = h.resender.keys();
    assert_eq!(keys.len(), 4);
    assert!(keys.contains(&"b2".to_string()) && keys.contains(&"b3".to_string()));
    assert_eq!(h.queue.len(), 2, "the failed group stays parked");
    assert_eq!(
        h.queue.entry("a2").unwrap().retry_at_ms,
        T0 + 1_010 + 60_000
    );
    assert_eq!(
        h.count(|e| matches!(e, Event::ProbeOk { group, released: 2, .. } if group == "up")),
        1
    );
    assert_eq!(
        h.count(|e| matches!(e, Event::ProbeFailed { group, reparked: 2, .. } if group == "down")),
        1
    );
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn resolve_mode_probe_timeout_failed_hint_and_await_timeout() {
    let cfg = SchedulerConfig {
        confirm: ProbeConfirm::Resolve { timeout_ms: 30_000 },
        ..Default::default()
    };
    let entries = vec![entry("p", "g", 1_000, 2), entry("m", "g", 1_000, 1)];
    let h = Harness::start(cfg, entries, |_, _| Reply::Ok(0));

    // The probe is acked at +1 s but never resolved: at +31 s it failed.
    h.run_until(30_999).await;
    assert_eq!(h.queue.entry("p").unwrap().status, EntryStatus::Probing);
    h.run_until(31_001).await;
    assert_eq!(h.resender.calls().len(), 1);
    let p = h.queue.entry("p").unwrap();
    assert_eq!(
        (p.status, p.attempts, p.retry_at_ms),
        (EntryStatus::Parked, 2, T0 + 91_000)
    );
    assert_eq!(h.queue.entry("m").unwrap().retry_at_ms, T0 + 91_000);
    assert!(p.last_error.contains("timeout"));

    // Second probe at +91 s; the engine reports a failure with a provider retry time.
    h.run_until(91_000).await;
    tokio::task::yield_now().await;
    h.run_until(92_000).await;
    assert_eq!(h.resender.calls()[1].at_ms, T0 + 91_000);
    h.handle.failed("p", Some(T0 + 500_000), "429 again");
    h.run_until(93_000).await;
    let p = h.queue.entry("p").unwrap();
    assert_eq!(
        (p.attempts, p.retry_at_ms, p.last_error.as_str()),
        (3, T0 + 500_000, "429 again")
    );
    assert_eq!(h.queue.entry("m").unwrap().retry_at_ms, T0 + 500_000);

    // Third probe resolves; the released entry is acked and then waits for its result,
    // which never comes: after await_timeout_ms (10 min) it is re-parked with one more attempt.
    h.run_until(501_000).await;
    h.confirm("p");
    h.run_until(510_000).await;
    assert!(h.queue.entry("p").is_none());
    let m = h.queue.entry("m").unwrap();
    assert_eq!(m.status, EntryStatus::AwaitingResult);
    let acked_at = h.resender.calls()[3].at_ms;
    h.run_until(acked_at - T0 + 600_000 - 1).await;
    assert_eq!(
        h.queue.entry("m").unwrap().status,
        EntryStatus::AwaitingResult
    );
    h.run_until(acked_at - T0 + 600_001).await;
    let m = h.queue.entry("m").unwrap();
    assert_eq!((m.status, m.attempts), (EntryStatus::Parked, 2));
    assert_eq!(m.retry_at_ms, acked_at + 600_000 + 60_000);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn entries_due_soon_after_a_successful_probe_go_with_it_without_probing_again() {
    // Parked by one 429 with jittered due times: only the earliest probes.
    let entries = vec![
        entry("first", "g", 1_000, 3),
        entry("jittered", "g", 1_070, 2),
        entry("later", "g", 30_000, 1),
        entry("next-window", "g", 200_000, 0),
    ];
    let cfg = SchedulerConfig {
        release_spread_ms: 0,
        ..SchedulerConfig::default()
    };
    let h = Harness::start(cfg, entries, |_, _| Reply::Ok(0));
    h.run_until(1_500).await;
    let calls = h.resender.calls();
    assert_eq!(calls[0].key, "first");
    let probes = h
        .events()
        .iter()
        .filter(|e| matches!(e, Event::ProbeOk { .. }))
        .count();
    assert_eq!(probes, 1, "one probe for the whole window");
    let mut released: Vec<&str> = calls[1..].iter().map(|c| c.key.as_str()).collect();
    released.sort();
    assert_eq!(released, ["jittered", "later"]);
    assert!(calls[1..].iter().all(|c| c.at_ms < T0 + 1_500));
    assert!(
        h.queue.entry("next-window").is_some(),
        "a later window waits"
    );
    h.handle.shutdown().await;
}
