//! Store failures are retried in order, and outcomes that arrive before the ack are kept.

use super::fake::{entry, FakeResender, Reply, T0};
use crate::clock::TokioClock;
use crate::error::{EngineError, EngineResult};
use crate::events::{Event, RecordingSink};
use crate::jitter::Jitter;
use crate::scheduler::{ProbeConfirm, Scheduler, SchedulerConfig};
use crate::state::memory::MemoryQueue;
use crate::state::{ParkedEntry, ParkedQueue, QueueChange};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A memory queue whose next `failing` writes fail.
struct FlakyQueue {
    inner: MemoryQueue,
    failing: AtomicUsize,
    writes: AtomicUsize,
}

impl ParkedQueue for FlakyQueue {
    fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.inner.get(session_key)
    }
    fn put(&self, entry: ParkedEntry) -> EngineResult<()> {
        self.inner.put(entry)
    }
    fn remove(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        self.inner.remove(session_key)
    }
    fn all_entries(&self) -> EngineResult<Vec<ParkedEntry>> {
        self.inner.all_entries()
    }
    fn due_entries(&self, now_ms: i64) -> EngineResult<Vec<ParkedEntry>> {
        self.inner.due_entries(now_ms)
    }
    fn next_due_ms(&self, skip_groups: &[String]) -> EngineResult<Option<i64>> {
        self.inner.next_due_ms(skip_groups)
    }
    fn apply(&self, changes: &[QueueChange], now_ms: i64) -> EngineResult<()> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        let fail = self
            .failing
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            return Err(EngineError::io("queue", std::io::Error::other("disk full")));
        }
        self.inner.apply(changes, now_ms)
    }
}

#[tokio::test(start_paused = true)]
async fn failed_writes_are_retried_without_resending_twice() {
    let clock = Arc::new(TokioClock::starting_at(T0));
    let queue = Arc::new(FlakyQueue {
        inner: MemoryQueue::new(),
        failing: AtomicUsize::new(2),
        writes: AtomicUsize::new(0),
    });
    queue.inner.insert(entry("s", "g", 1_000, 0));
    let resender = Arc::new(FakeResender::new(clock.clone(), |_, _| Reply::Ok(0)));
    let events = RecordingSink::default();
    let handle = Scheduler::spawn(
        queue.clone(),
        resender.clone(),
        SchedulerConfig::default(),
        clock.clone(),
        Jitter::seeded(1),
        events.sink(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(resender.calls().len(), 1);
    assert_eq!(queue.inner.len(), 1, "the removal has not landed yet");
    tokio::time::sleep(Duration::from_millis(10_000)).await;
    assert_eq!(
        resender.calls().len(),
        1,
        "no second resend while writes were failing"
    );
    assert!(queue.inner.is_empty(), "the pending writes landed");
    assert_eq!(queue.writes.load(Ordering::SeqCst), 3);
    handle.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_result_reported_before_the_ack_is_applied_at_the_ack() {
    let clock = Arc::new(TokioClock::starting_at(T0));
    let queue = Arc::new(MemoryQueue::new());
    queue.insert(entry("s", "g", 1_000, 0));
    let resender = Arc::new(FakeResender::new(clock.clone(), |_, _| Reply::Ok(1_000)));
    let events = RecordingSink::default();
    let cfg = SchedulerConfig {
        confirm: ProbeConfirm::Resolve { timeout_ms: 5_000 },
        ..Default::default()
    };
    let handle = Scheduler::spawn(
        queue.clone(),
        resender.clone(),
        cfg,
        clock.clone(),
        Jitter::seeded(1),
        events.sink(),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    handle.resolved("s", Some("resume:s:2"));
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert!(queue.is_empty());
    assert!(events.events().contains(&Event::ProbeOk {
        session_key: "s".into(),
        group: "g".into(),
        released: 0
    }));
    handle.shutdown().await;
}
