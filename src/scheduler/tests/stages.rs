//! Every scheduler stage (queued, sending, awaiting) × `resolved` / `failed` / shutdown.
//! Resolve always wins: a resolved entry is never sent afterwards and never re-parked, and a
//! probe releases its group only on evidence that our own resend succeeded.

use super::fake::{entry, Harness, Reply, T0};
use crate::events::Event;
use crate::scheduler::{ProbeConfirm, SchedulerConfig};
use crate::state::EntryStatus;

fn resolve_mode() -> SchedulerConfig {
    SchedulerConfig {
        confirm: ProbeConfirm::Resolve { timeout_ms: 60_000 },
        release_spread_ms: 10_000,
        ..Default::default()
    }
}

fn sent(h: &Harness, key: &str) -> usize {
    h.resender.keys().iter().filter(|k| *k == key).count()
}

fn probe_oks(h: &Harness) -> usize {
    h.count(|e| matches!(e, Event::ProbeOk { .. }))
}

/// `p` probes group `g` at +1 s (acked at once); `m1..m3` wait for it.
fn group() -> Vec<crate::state::ParkedEntry> {
    vec![
        entry("p", "g", 1_000, 40),
        entry("m1", "g", 1_000, 30),
        entry("m2", "g", 1_000, 20),
        entry("m3", "g", 1_000, 10),
    ]
}

#[tokio::test(start_paused = true)]
async fn resolved_while_queued_for_release_is_never_sent() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(0));
    h.run_until(1_100).await;
    h.confirm("p");
    tokio::task::yield_now().await;
    h.run_until(1_101).await;
    // Released with starts spread over 10 s: resolve every one that has not started yet.
    let started = h.resender.keys();
    let queued: Vec<&str> = ["m1", "m2", "m3"]
        .into_iter()
        .filter(|k| !started.iter().any(|s| s == k))
        .collect();
    assert!(!queued.is_empty(), "some start later than the probe's ok");
    for k in &queued {
        h.resolve(k, None);
    }
    h.run_until(30_000).await;
    for k in &queued {
        assert_eq!(sent(&h, k), 0, "{k} was resent after its resolve");
        assert!(h.queue.entry(k).is_none());
    }
    h.handle.shutdown().await;
    for k in &queued {
        assert!(h.queue.entry(k).is_none(), "{k} came back at shutdown");
    }
}

#[tokio::test(start_paused = true)]
async fn resolved_while_queued_as_a_probe_is_not_sent_and_another_entry_probes() {
    // One slot, held by group h's hanging probe: group g's probe waits in the queue.
    let cfg = SchedulerConfig {
        max_concurrent: 1,
        ..resolve_mode()
    };
    let mut entries = group();
    entries.push(entry("hang", "h", 500, 50));
    let h = Harness::start(cfg, entries, |req, _| {
        if req.session_key == "hang" {
            Reply::Hang
        } else {
            Reply::Ok(0)
        }
    });
    h.run_until(1_500).await;
    assert_eq!(h.resender.keys(), vec!["hang"]);
    assert_eq!(h.queue.entry("p").unwrap().status, EntryStatus::Probing);
    h.resolve("p", None);
    h.run_until(2_000).await;
    h.handle.shutdown().await;
    assert_eq!(sent(&h, "p"), 0);
    assert!(h.queue.entry("p").is_none());
    assert_eq!(probe_oks(&h), 0, "no probe verdict without our own resend");
    for k in ["m1", "m2", "m3"] {
        assert_eq!(h.queue.entry(k).unwrap().status, EntryStatus::Parked, "{k}");
    }
}

#[tokio::test(start_paused = true)]
async fn resolved_while_sending_is_not_reparked_when_the_send_fails() {
    let h = Harness::start(resolve_mode(), group(), |req, _| {
        if req.session_key == "p" {
            Reply::Err(2_000, "connection dropped")
        } else {
            Reply::Hang
        }
    });
    h.run_until(1_500).await;
    h.resolve("p", None);
    h.run_until(5_000).await;
    assert!(
        h.queue.entry("p").is_none(),
        "resolve wins over the failed send"
    );
    assert_eq!(h.count(|e| matches!(e, Event::ProbeFailed { .. })), 0);
    for k in ["m1", "m2", "m3"] {
        assert_eq!(h.queue.entry(k).unwrap().retry_at_ms, T0 + 1_000, "{k}");
    }
    // The group probes again with its next entry, not as a release.
    assert_eq!(h.resender.keys(), vec!["p", "m1"]);
    assert_eq!(probe_oks(&h), 0);
    h.handle.shutdown().await;
    assert!(h.queue.entry("p").is_none());
}

#[tokio::test(start_paused = true)]
async fn resolved_while_sending_with_our_run_confirms_the_probe_at_the_ack() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(2_000));
    h.run_until(1_500).await;
    h.confirm("p");
    h.run_until(20_000).await;
    assert_eq!(probe_oks(&h), 1);
    assert_eq!(sent(&h, "p"), 1);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_unrelated_success_while_awaiting_does_not_release_the_group() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(0));
    h.run_until(1_500).await;
    // The gateway's own retry of the original run succeeded, not our resend.
    h.resolve("p", Some("the-gateway-s-own-run"));
    h.run_until(2_000).await;
    assert_eq!(probe_oks(&h), 0);
    assert!(h.queue.entry("p").is_none());
    assert_eq!(h.resender.keys(), vec!["p", "m1"], "m1 probes; no release");
    assert_eq!(h.count(|e| matches!(e, Event::Resolved { .. })), 1);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn resolved_while_awaiting_after_release_leaves_for_good() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(0));
    h.run_until(1_100).await;
    h.confirm("p");
    h.run_until(15_000).await;
    assert_eq!(
        h.queue.entry("m1").unwrap().status,
        EntryStatus::AwaitingResult
    );
    h.resolve("m1", Some("resume:m1:2"));
    h.handle.failed("m1", None, "late failure report");
    h.run_until(16_000).await;
    h.handle.shutdown().await;
    assert!(h.queue.entry("m1").is_none());
    assert_eq!(sent(&h, "m1"), 1);
}

#[tokio::test(start_paused = true)]
async fn failed_while_queued_for_release_goes_back_unsent_to_its_retry_time() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(0));
    h.run_until(1_100).await;
    h.confirm("p");
    tokio::task::yield_now().await;
    h.run_until(1_101).await;
    let started = h.resender.keys();
    let queued: Vec<&str> = ["m1", "m2", "m3"]
        .into_iter()
        .filter(|k| !started.iter().any(|s| s == k))
        .collect();
    assert!(!queued.is_empty());
    for k in &queued {
        h.handle
            .failed(k, Some(T0 + 900_000), "429 from the gateway's own retry");
    }
    h.run_until(30_000).await;
    for k in &queued {
        assert_eq!(sent(&h, k), 0, "{k}");
        let e = h.queue.entry(k).unwrap();
        assert_eq!(
            (e.status, e.retry_at_ms, e.attempts),
            (EntryStatus::Parked, T0 + 900_000, 2)
        );
    }
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn failed_while_sending_is_applied_at_the_ack() {
    let h = Harness::start(resolve_mode(), group(), |_, _| Reply::Ok(2_000));
    h.run_until(1_500).await;
    h.handle.failed("p", Some(T0 + 500_000), "429 again");
    h.run_until(4_000).await;
    let p = h.queue.entry("p").unwrap();
    assert_eq!(
        (p.status, p.retry_at_ms, p.attempts),
        (EntryStatus::Parked, T0 + 500_000, 2)
    );
    assert_eq!(h.count(|e| matches!(e, Event::ProbeFailed { .. })), 1);
    assert_eq!(h.queue.entry("m1").unwrap().retry_at_ms, T0 + 500_000);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_in_every_stage_parks_held_entries_again_and_keeps_resolved_ones_out() {
    // p: awaiting (probe acked); h1: sending (hangs); q1 or "gone": queued or sending.
    let cfg = SchedulerConfig {
        max_concurrent: 2,
        ..resolve_mode()
    };
    let entries = vec![
        entry("p", "g", 1_000, 40),
        entry("h1", "h", 1_000, 40),
        entry("q1", "q", 1_000, 40),
        entry("gone", "r", 1_000, 40),
    ];
    let h = Harness::start(cfg, entries, |req, _| match req.session_key.as_str() {
        "p" => Reply::Ok(0),
        "gone" => Reply::Err(5_000, "dropped"),
        _ => Reply::Hang,
    });
    h.run_until(1_500).await;
    let keys = h.resender.keys();
    assert!(keys.contains(&"p".to_string()) && keys.contains(&"h1".to_string()));
    h.resolve("gone", None);
    h.run_until(2_000).await;
    h.handle.shutdown().await;
    for k in ["p", "h1", "q1"] {
        let e = h.queue.entry(k).unwrap();
        assert_eq!(
            (e.status, e.retry_at_ms),
            (EntryStatus::Parked, T0 + 1_000),
            "{k}"
        );
    }
    assert!(h.queue.entry("gone").is_none());
}

#[tokio::test(start_paused = true)]
async fn a_superseded_probe_is_dropped_unsent_and_the_group_probes_again() {
    let h = Harness::start(resolve_mode(), group(), |req, _| {
        if req.session_key == "p" {
            Reply::Superseded(0)
        } else {
            Reply::Hang
        }
    });
    h.run_until(1_500).await;
    assert!(h.queue.entry("p").is_none());
    assert!(h.events().contains(&Event::Superseded {
        session_key: "p".into(),
        why: "a later user message".into()
    }));
    assert_eq!(
        h.count(|e| matches!(e, Event::Resent { .. })),
        0,
        "m1 hangs"
    );
    assert_eq!(h.resender.keys(), vec!["p", "m1"]);
    assert_eq!(probe_oks(&h), 0);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_probe_whose_run_is_still_running_waits_without_an_attempt_and_is_checked_again() {
    let entries = vec![entry("p", "g", 1_000, 40)];
    let h = Harness::start(resolve_mode(), entries, |_, i| {
        if i == 0 {
            Reply::StillRunning(0)
        } else {
            Reply::Hang
        }
    });
    h.run_until(1_500).await;
    let p = h.queue.entry("p").unwrap();
    assert_eq!(
        (p.status, p.attempts, p.retry_at_ms),
        (EntryStatus::Parked, 1, T0 + 6_000)
    );
    assert_eq!(h.count(|e| matches!(e, Event::ProbeFailed { .. })), 0);
    h.run_until(6_500).await;
    assert_eq!(h.resender.keys(), vec!["p", "p"], "checked again after 5 s");
    // The gateway's own retry then succeeds (not our resend): resolved, nothing released.
    h.resolve("p", Some("run-1"));
    h.run_until(7_000).await;
    h.handle.shutdown().await;
    assert!(h.queue.entry("p").is_none());
    assert_eq!(probe_oks(&h), 0);
}
