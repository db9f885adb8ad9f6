//! A scripted [`Resender`] that records when each resend started and how many overlapped,
//! plus a harness that spawns a scheduler on paused time.

use crate::clock::{Clock, SharedClock, TokioClock};
use crate::error::EngineError;
use crate::events::{Event, RecordingSink};
use crate::jitter::Jitter;
use crate::reason::Reason;
use crate::resender::{PrepareFuture, ResendFuture, ResendOutcome, ResendRequest, Resender};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerHandle};
use crate::state::memory::MemoryQueue;
use crate::state::ParkedEntry;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Epoch ms at test start.
pub const T0: i64 = 1_700_000_000_000;

/// What the fake does with one resend.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Succeed after `ms` of (paused) time.
    Ok(u64),
    /// Fail after `ms` with this message.
    Err(u64, &'static str),
    /// After `ms`, report the session moved on (not sent).
    Superseded(u64),
    /// After `ms`, report the failed run is still running (not sent).
    StillRunning(u64),
    /// Never answer.
    Hang,
}

/// One recorded resend.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub key: String,
    pub at_ms: i64,
    pub attempts: u32,
    pub idempotency_key: String,
}

type Script = Box<dyn Fn(&ResendRequest, usize) -> Reply + Send + Sync>;

pub struct FakeResender {
    clock: SharedClock,
    script: Script,
    calls: Mutex<Vec<Call>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: AtomicUsize,
    /// When `prepare` was called (epoch ms).
    prepared: Mutex<Vec<i64>>,
}

struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FakeResender {
    /// `script(request, call_index)` decides each reply.
    pub fn new(
        clock: SharedClock,
        script: impl Fn(&ResendRequest, usize) -> Reply + Send + Sync + 'static,
    ) -> Self {
        FakeResender {
            clock,
            script: Box::new(script),
            calls: Mutex::new(Vec::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: AtomicUsize::new(0),
            prepared: Mutex::new(Vec::new()),
        }
    }

    /// When `prepare` was called (epoch ms), oldest first.
    pub fn prepared(&self) -> Vec<i64> {
        self.prepared.lock().unwrap().clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    pub fn keys(&self) -> Vec<String> {
        self.calls().into_iter().map(|c| c.key).collect()
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Resender for FakeResender {
    fn prepare(&self) -> PrepareFuture<'_> {
        self.prepared.lock().unwrap().push(self.clock.now_ms());
        Box::pin(async {})
    }

    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        let index = {
            let mut calls = self.calls.lock().unwrap();
            calls.push(Call {
                key: req.session_key.clone(),
                at_ms: self.clock.now_ms(),
                attempts: req.attempts,
                idempotency_key: req.idempotency_key.clone(),
            });
            calls.len() - 1
        };
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(self.in_flight.clone());
        let reply = (self.script)(&req, index);
        let run_id = req.idempotency_key.clone();
        Box::pin(async move {
            let _guard = guard;
            match reply {
                Reply::Ok(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(ResendOutcome::Sent {
                        run_id: Some(run_id),
                    })
                }
                Reply::Err(ms, msg) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Err(EngineError::ResendFailed(msg.to_string()))
                }
                Reply::Superseded(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(ResendOutcome::Superseded {
                        why: "a later user message".into(),
                    })
                }
                Reply::StillRunning(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(ResendOutcome::StillRunning {
                        why: "the gateway retries it".into(),
                    })
                }
                Reply::Hang => std::future::pending().await,
            }
        })
    }
}

/// A running scheduler and everything around it.
pub struct Harness {
    pub queue: Arc<MemoryQueue>,
    pub resender: Arc<FakeResender>,
    pub events: RecordingSink,
    pub clock: Arc<TokioClock>,
    pub handle: SchedulerHandle,
}

impl Harness {
    /// Spawn a scheduler over `entries` (call inside a paused-time test).
    pub fn start(
        cfg: SchedulerConfig,
        entries: Vec<ParkedEntry>,
        script: impl Fn(&ResendRequest, usize) -> Reply + Send + Sync + 'static,
    ) -> Harness {
        let clock = Arc::new(TokioClock::starting_at(T0));
        let queue = Arc::new(MemoryQueue::new());
        for e in entries {
            queue.insert(e);
        }
        let resender = Arc::new(FakeResender::new(clock.clone(), script));
        let events = RecordingSink::default();
        let handle = Scheduler::spawn(
            queue.clone(),
            resender.clone(),
            cfg,
            clock.clone(),
            Jitter::seeded(7),
            events.sink(),
        )
        .expect("valid config");
        Harness {
            queue,
            resender,
            events,
            clock,
            handle,
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Let paused time run until `T0 + ms`.
    pub async fn run_until(&self, ms: i64) {
        let wait = T0 + ms - self.now();
        assert!(wait >= 0, "run_until({ms}) is in the past");
        tokio::time::sleep(Duration::from_millis(wait as u64)).await;
    }

    /// `resolved(key)` with the evidence that it was our latest resend of `key` that
    /// succeeded (its run id, which the fake sets to the idempotency key).
    pub fn confirm(&self, key: &str) {
        let run = self
            .resender
            .calls()
            .into_iter()
            .rev()
            .find(|c| c.key == key)
            .map(|c| c.idempotency_key);
        self.handle.resolved(key, run.as_deref());
    }

    /// What the engine's `resolve(key, {runId})` does: remove the entry durably, then tell
    /// the scheduler.
    pub fn resolve(&self, key: &str, run_id: Option<&str>) {
        use crate::state::{ParkedQueue, QueueChange};
        let remove = QueueChange::Remove {
            session_key: key.to_string(),
        };
        self.queue.apply(&[remove], self.now()).unwrap();
        self.handle.resolved(key, run_id);
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.events()
    }

    pub fn count(&self, pred: impl Fn(&Event) -> bool) -> usize {
        self.events().iter().filter(|e| pred(e)).count()
    }
}

/// An entry of `group` due at `T0 + due_ms`, first failed `age` ms before T0 (older = larger).
pub fn entry(key: &str, group: &str, due_ms: i64, age: i64) -> ParkedEntry {
    let mut e = ParkedEntry::new(key, Reason::Quota, T0 - age, T0 + due_ms, "").in_group(group);
    e.status_since_ms = T0;
    e
}
