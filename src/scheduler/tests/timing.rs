//! The scheduler wakes exactly at the due time and re-arms on notify.

use super::fake::{entry, Harness, Reply, T0};
use crate::events::Event;
use crate::scheduler::{SchedulerConfig, PREPARE_AHEAD_MS};

#[tokio::test(start_paused = true)]
async fn wakes_exactly_at_the_due_time() {
    let h = Harness::start(
        SchedulerConfig::default(),
        vec![entry("s1", "openai", 10_000, 0)],
        |_, _| Reply::Ok(0),
    );
    h.run_until(9_999).await;
    assert!(h.resender.calls().is_empty(), "fired early");
    h.run_until(30_000).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].at_ms, T0 + 10_000);
    assert_eq!(calls[0].attempts, 2);
    assert_eq!(calls[0].idempotency_key, "resume:s1:2");
    assert!(h.queue.is_empty(), "ack mode removes the acked entry");
    assert_eq!(
        h.events(),
        vec![
            Event::Resent {
                session_key: "s1".into(),
                attempts: 2,
                probe: true
            },
            Event::ProbeOk {
                session_key: "s1".into(),
                group: "openai".into(),
                released: 0
            },
            Event::Resolved {
                session_key: "s1".into()
            },
        ]
    );
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn notify_with_an_earlier_entry_rearms_the_timer() {
    let h = Harness::start(
        SchedulerConfig::default(),
        vec![entry("late", "a", 60_000, 0)],
        |_, _| Reply::Ok(0),
    );
    h.run_until(1_000).await;
    h.queue.insert(entry("early", "b", 5_000, 0));
    h.handle.notify();
    h.run_until(59_999).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        (calls[0].key.as_str(), calls[0].at_ms),
        ("early", T0 + 5_000)
    );
    h.run_until(60_000).await;
    tokio::task::yield_now().await;
    h.run_until(61_000).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[1].key.as_str(), calls[1].at_ms),
        ("late", T0 + 60_000)
    );
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn an_entry_due_in_the_past_is_sent_at_once_and_meta_message_is_used() {
    let mut e = entry("old", "g", -5_000, 0);
    e.meta = serde_json::json!({"message": "resume please", "channel": "x"});
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    let h = Harness::start(SchedulerConfig::default(), vec![e], move |req, _| {
        seen2.lock().unwrap().push(req.message.clone());
        Reply::Ok(0)
    });
    h.run_until(1).await;
    assert_eq!(h.resender.calls()[0].at_ms, T0);
    assert_eq!(*seen.lock().unwrap(), vec!["resume please".to_string()]);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn the_resender_is_prepared_once_ahead_of_each_due_time_and_never_sends_early() {
    let h = Harness::start(
        SchedulerConfig::default(),
        vec![entry("s1", "a", 10_000, 0), entry("s2", "b", 30_000, 0)],
        |_, _| Reply::Ok(0),
    );
    h.run_until(7_000).await;
    assert!(h.resender.prepared().is_empty(), "prepared too early");
    h.run_until(9_999).await;
    assert_eq!(h.resender.prepared(), vec![T0 + 10_000 - PREPARE_AHEAD_MS]);
    assert!(h.resender.calls().is_empty(), "fired early");
    h.run_until(29_999).await;
    assert_eq!(
        h.resender.prepared(),
        vec![
            T0 + 10_000 - PREPARE_AHEAD_MS,
            T0 + 30_000 - PREPARE_AHEAD_MS
        ]
    );
    h.run_until(31_000).await;
    let at: Vec<_> = h.resender.calls().iter().map(|c| c.at_ms).collect();
    assert_eq!(
        at,
        vec![T0 + 10_000, T0 + 30_000],
        "each sent at its due time"
    );
    assert_eq!(h.resender.prepared().len(), 2, "once per due time");
    h.handle.shutdown().await;
}
