//! One probe per group, then a jittered release under the concurrency limit.

use super::fake::{entry, Harness, Reply, T0};
use crate::events::Event;
use crate::scheduler::{ProbeConfirm, SchedulerConfig};
use crate::state::EntryStatus;

fn fifty() -> Vec<crate::state::ParkedEntry> {
    // k00 is the oldest, so it is the probe.
    (0..50)
        .map(|i| entry(&format!("k{i:02}"), "openai", 1_000, 1_000 - i))
        .collect()
}

fn resolve_cfg() -> SchedulerConfig {
    SchedulerConfig {
        confirm: ProbeConfirm::Resolve {
            timeout_ms: 120_000,
        },
        ..Default::default()
    }
}

#[tokio::test(start_paused = true)]
async fn fifty_in_one_group_send_one_probe_then_release_the_rest_within_the_spread() {
    let h = Harness::start(resolve_cfg(), fifty(), |_, _| Reply::Ok(50));
    h.run_until(60_000).await;
    assert_eq!(
        h.resender.keys(),
        vec!["k00".to_string()],
        "only the probe goes out"
    );
    assert_eq!(h.resender.calls()[0].at_ms, T0 + 1_000);
    assert_eq!(h.queue.entry("k00").unwrap().status, EntryStatus::Probing);
    assert_eq!(h.queue.entry("k01").unwrap().status, EntryStatus::Parked);

    let ok_at = h.now();
    h.confirm("k00");
    h.run_until(70_000).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 50);
    let mut released: Vec<&str> = calls[1..].iter().map(|c| c.key.as_str()).collect();
    released.sort();
    let expected: Vec<String> = (1..50).map(|i| format!("k{i:02}")).collect();
    assert_eq!(
        released,
        expected.iter().map(String::as_str).collect::<Vec<_>>()
    );
    for c in &calls[1..] {
        assert!(
            (ok_at..=ok_at + 5_000).contains(&c.at_ms),
            "{} started at +{} ms, outside the spread",
            c.key,
            c.at_ms - ok_at
        );
    }
    let distinct: std::collections::BTreeSet<i64> = calls[1..].iter().map(|c| c.at_ms).collect();
    assert!(distinct.len() > 20, "starts are spread, not a burst");
    assert!(h.resender.max_in_flight() <= 4);
    assert!(h.queue.entry("k00").is_none());
    assert_eq!(
        h.queue.entry("k07").unwrap().status,
        EntryStatus::AwaitingResult
    );
    assert_eq!(
        h.count(|e| matches!(e, Event::ProbeOk { released: 49, .. })),
        1
    );

    for i in 1..50 {
        h.confirm(&format!("k{i:02}"));
    }
    h.run_until(71_000).await;
    assert!(h.queue.is_empty());
    assert_eq!(h.count(|e| matches!(e, Event::Resolved { .. })), 50);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn never_more_than_max_concurrent_in_flight() {
    // Slow acks (2 s each): the limit, not the spread, paces the release.
    let h = Harness::start(SchedulerConfig::default(), fifty(), |_, _| Reply::Ok(2_000));
    h.run_until(2_999).await;
    assert_eq!(
        h.resender.calls().len(),
        1,
        "nothing released before the probe's ack"
    );
    h.run_until(120_000).await;
    assert_eq!(h.resender.calls().len(), 50);
    assert_eq!(h.resender.max_in_flight(), 4);
    assert!(h.queue.is_empty());
    assert_eq!(
        h.count(|e| matches!(e, Event::Resent { probe: false, .. })),
        49
    );
    h.handle.shutdown().await;
}
