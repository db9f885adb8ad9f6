//! Adaptive release: a burst up to `max_concurrent` after a good probe, then AIMD on the rate.

use super::fake::{entry, Harness, Reply, T0};
use crate::clock::Clock;
use crate::events::Event;
use crate::scheduler::SchedulerConfig;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[tokio::test(start_paused = true)]
async fn ten_thousand_sessions_against_a_provider_that_accepts_fifty_a_second() {
    let n = 10_000;
    let entries: Vec<_> = (0..n)
        .map(|i| entry(&format!("s{i:05}"), "g", 1_000, (n - i) as i64))
        .collect();
    let cfg = SchedulerConfig {
        reprobe_backoff_ms: 1_000,
        max_attempts: 50,
        ..SchedulerConfig::default()
    };
    // The provider accepts 50 sends in any sliding second and answers 429 to the rest.
    let accepted: Arc<Mutex<VecDeque<i64>>> = Arc::default();
    let clock = Arc::new(crate::clock::TokioClock::starting_at(T0));
    let (acc, c) = (accepted.clone(), clock.clone());
    let h = Harness::start(cfg, entries, move |_, _| {
        let now = c.now_ms();
        let mut acc = acc.lock().unwrap();
        while acc.front().is_some_and(|t| *t <= now - 1_000) {
            acc.pop_front();
        }
        if acc.len() < 50 {
            acc.push_back(now);
            Reply::Ok(20)
        } else {
            Reply::Err(20, "429 rate limited")
        }
    });
    let mut waited = 0;
    while !h.queue.is_empty() && waited < 3_000_000 {
        h.run_until(1_000 + waited).await;
        waited += 10_000;
    }
    assert!(h.queue.is_empty(), "{} left", h.queue.len());
    let calls = h.resender.calls().len();
    let refused = h.count(|e| matches!(e, Event::ResendFailed { .. }));
    assert_eq!(calls - refused, n, "every session sent once successfully");
    eprintln!(
        "10k vs 50/s: {refused} refused of {calls} sends, all sent by +{} s",
        (h.now() - T0) / 1_000
    );
    assert!(
        refused * 100 <= calls,
        "{refused} of {calls} sends were refused (> 1 %)"
    );
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn after_a_good_probe_up_to_max_concurrent_start_at_once() {
    let entries: Vec<_> = (0..8)
        .map(|i| entry(&format!("s{i}"), "g", 1_000, 10 - i as i64))
        .collect();
    let h = Harness::start(SchedulerConfig::default(), entries, |_, _| Reply::Ok(0));
    h.run_until(1_000).await;
    tokio::task::yield_now().await;
    h.run_until(1_001).await;
    let at: Vec<i64> = h.resender.calls().iter().map(|c| c.at_ms - T0).collect();
    assert_eq!(&at[..5], &[1_000; 5], "the probe, then 4 at once: {at:?}");
    h.run_until(2_000).await;
    assert!(h.queue.is_empty());
    h.handle.shutdown().await;
}
