//! Attempts, abandonment, shutdown and restart.

use super::fake::{entry, Harness, Reply, T0};
use crate::clock::TokioClock;
use crate::events::Event;
use crate::events::RecordingSink;
use crate::jitter::Jitter;
use crate::reason::Reason;
use crate::resender::{ResendFuture, ResendOutcome, ResendRequest, Resender};
use crate::scheduler::handle::Command;
use crate::scheduler::Scheduler;
use crate::scheduler::SchedulerConfig;
use crate::state::memory::MemoryQueue;
use crate::state::EntryStatus;
use std::sync::Arc;

#[tokio::test(start_paused = true)]
async fn resend_errors_count_as_attempts_until_abandoned() {
    let cfg = SchedulerConfig {
        max_attempts: 3,
        ..Default::default()
    };
    let mut spent = entry("spent", "other", 1_000, 0);
    spent.attempts = 3;
    let h = Harness::start(cfg, vec![entry("s", "g", 1_000, 0), spent], |_, _| {
        Reply::Err(0, "connection refused")
    });
    h.run_until(2_000).await;
    assert!(
        h.queue.entry("spent").is_none(),
        "an entry already at the limit is not resent"
    );
    assert_eq!(h.queue.entry("s").unwrap().attempts, 2);
    h.run_until(100_000).await;
    let calls = h.resender.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].at_ms, T0 + 61_000);
    assert!(h.queue.is_empty());
    let abandoned: Vec<Event> = h
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::Abandoned { .. }))
        .collect();
    assert_eq!(
        abandoned,
        vec![
            Event::Abandoned {
                session_key: "spent".into(),
                reason: Reason::Quota,
                attempts: 3,
                message: String::new(),
            },
            Event::Abandoned {
                session_key: "s".into(),
                reason: Reason::Quota,
                attempts: 3,
                message: "resend failed: connection refused".into(),
            },
        ]
    );
    assert_eq!(h.count(|e| matches!(e, Event::ResendFailed { .. })), 2);
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_work_in_flight_returns_promptly_and_reparks() {
    let entries = (0..10)
        .map(|i| entry(&format!("s{i}"), "g", 1_000, 10 - i))
        .collect();
    let h = Harness::start(SchedulerConfig::default(), entries, |_, _| Reply::Hang);
    h.run_until(5_000).await;
    assert_eq!(h.resender.in_flight(), 1);
    assert_eq!(h.queue.entry("s0").unwrap().status, EntryStatus::Probing);
    let before = h.now();
    h.handle.shutdown().await;
    assert_eq!(h.now(), before, "shutdown waited on a timer");
    assert_eq!(h.resender.in_flight(), 0, "the hung resend was cancelled");
    let s0 = h.queue.entry("s0").unwrap();
    assert_eq!(
        (s0.status, s0.attempts, s0.retry_at_ms),
        (EntryStatus::Parked, 1, T0 + 1_000)
    );
    assert_eq!(h.queue.len(), 10);
    h.handle.notify();
    h.handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn interrupted_entries_are_parked_and_due_at_restart() {
    let mut probing = entry("probing", "g1", -50_000, 0);
    probing.status = EntryStatus::Probing;
    let mut awaiting = entry("awaiting", "g2", 40_000, 0);
    awaiting.status = EntryStatus::AwaitingResult;
    let mut released = entry("released", "g3", -1, 0);
    released.status = EntryStatus::Released;
    let h = Harness::start(
        SchedulerConfig::default(),
        vec![probing, awaiting, released, entry("later", "g4", 90_000, 0)],
        |_, _| Reply::Ok(0),
    );
    h.run_until(10).await;
    let mut keys = h.resender.keys();
    keys.sort();
    assert_eq!(keys, ["awaiting", "probing", "released"]);
    assert!(h.resender.calls().iter().all(|c| c.at_ms == T0));
    assert_eq!(h.queue.len(), 1);
    h.handle.shutdown().await;
}

/// A resender that finishes at once, but tells the scheduler to shut down just before it
/// returns: the shutdown command is then waiting ahead of the finished resend.
struct ShutdownAsItFinishes(std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Command>>);

impl Resender for ShutdownAsItFinishes {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async move {
            let _ = self.0.get().expect("handle set").send(Command::Shutdown);
            Ok(ResendOutcome::Sent {
                run_id: Some(req.idempotency_key),
            })
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_resend_that_finished_as_shutdown_began_is_recorded_not_reparked() {
    let clock = Arc::new(TokioClock::starting_at(T0));
    let queue = Arc::new(MemoryQueue::new());
    queue.insert(entry("s", "g", 0, 0));
    let resender = Arc::new(ShutdownAsItFinishes(std::sync::OnceLock::new()));
    let handle = Scheduler::spawn(
        queue.clone(),
        resender.clone(),
        SchedulerConfig::default(),
        clock,
        Jitter::seeded(7),
        RecordingSink::default().sink(),
    )
    .expect("valid config");
    resender.0.set(handle.tx.clone()).expect("set once");
    let join = handle.join.lock().unwrap().take().expect("running");
    join.await.expect("the scheduler stops cleanly");
    assert_eq!(
        queue.entry("s"),
        None,
        "the acknowledged resend was parked again and would be sent twice"
    );
}
