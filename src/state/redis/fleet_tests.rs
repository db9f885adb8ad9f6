//! Several schedulers (one per engine) sharing one provider through a real Redis: one probe per
//! window for the whole fleet, every session resumed once.

use super::test_server::TestRedis;
use super::{RedisConfig, RedisCoordinator};
use crate::clock::{SharedClock, SystemClock};
use crate::error::EngineError;
use crate::events::{Event, RecordingSink};
use crate::jitter::Jitter;
use crate::reason::Reason;
use crate::resender::{ResendFuture, ResendOutcome, ResendRequest, Resender};
use crate::scheduler::{Scheduler, SchedulerConfig, SchedulerHandle};
use crate::state::coordination::Coordinator;
use crate::state::memory::MemoryQueue;
use crate::state::ParkedEntry;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One provider account shared by every engine: down until `recover()`; records every call.
#[derive(Default)]
struct Provider {
    up: AtomicBool,
    calls: Mutex<Vec<(String, bool)>>,
}

impl Provider {
    fn calls(&self) -> Vec<(String, bool)> {
        self.calls.lock().unwrap().clone()
    }
    fn failed_calls(&self) -> usize {
        self.calls().iter().filter(|(_, ok)| !ok).count()
    }
}

struct Engine(Arc<Provider>);

impl Resender for Engine {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        let ok = self.0.up.load(Ordering::SeqCst);
        self.0.calls.lock().unwrap().push((req.session_key, ok));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            if ok {
                Ok(ResendOutcome::Sent { run_id: None })
            } else {
                Err(EngineError::ResendFailed("429 quota exceeded".into()))
            }
        })
    }
}

struct Member {
    queue: Arc<MemoryQueue>,
    events: RecordingSink,
    handle: SchedulerHandle,
    coordinator: RedisCoordinator,
}

fn member(url: &str, provider: &Arc<Provider>, keys: &[&str], due_ms: i64, seed: u64) -> Member {
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now_ms();
    let queue = Arc::new(MemoryQueue::new());
    for k in keys {
        queue.insert(
            ParkedEntry::new(*k, Reason::Quota, now, now + due_ms, "429").in_group("openai"),
        );
    }
    let events = RecordingSink::default();
    let cfg = RedisConfig {
        url: url.to_string(),
        key_prefix: "fleet:".into(),
        lease_ttl_ms: 1_500,
        poll_ms: 50,
        timeout_ms: 500,
        ..RedisConfig::default()
    };
    let coordinator = RedisCoordinator::start(cfg, clock.clone(), events.sink()).unwrap();
    let sched = SchedulerConfig {
        release_spread_ms: 20,
        reprobe_backoff_ms: 700,
        ..SchedulerConfig::default()
    };
    let handle = Scheduler::spawn_coordinated(
        queue.clone(),
        Arc::new(Engine(provider.clone())),
        sched,
        clock,
        Jitter::seeded(seed),
        events.sink(),
        Arc::new(coordinator.clone()),
    )
    .unwrap();
    Member {
        queue,
        events,
        handle,
        coordinator,
    }
}

async fn until(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_engines_send_one_probe_per_window_and_resume_every_session_once() {
    let Some(redis) = TestRedis::start() else {
        return;
    };
    let provider = Arc::new(Provider::default());
    let fleet = [
        member(&redis.url(), &provider, &["a1", "a2"], 300, 1),
        member(&redis.url(), &provider, &["b1", "b2"], 300, 2),
        member(&redis.url(), &provider, &["c1", "c2"], 300, 3),
    ];
    // Window 1: the provider is down. Whoever probes fails; the fleet re-parks on it.
    until("the first probe", || !provider.calls().is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(provider.failed_calls(), 1, "{:?}", provider.calls());
    provider.up.store(true, Ordering::SeqCst);
    // Window 2: one probe succeeds, every engine releases its own sessions.
    until("every queue empty", || {
        fleet.iter().all(|m| m.queue.is_empty())
    })
    .await;
    let calls = provider.calls();
    assert_eq!(provider.failed_calls(), 1, "{calls:?}");
    let mut ok: Vec<String> = calls.iter().filter(|c| c.1).map(|c| c.0.clone()).collect();
    ok.sort();
    assert_eq!(
        ok,
        ["a1", "a2", "b1", "b2", "c1", "c2"],
        "each session resent once"
    );
    let probes: usize = fleet
        .iter()
        .map(|m| {
            m.events
                .events()
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::Resent { probe: true, .. } | Event::ResendFailed { .. }
                    )
                })
                .count()
        })
        .sum();
    assert_eq!(
        probes, 2,
        "one failed and one good probe in the whole fleet"
    );
    let heard = fleet
        .iter()
        .flat_map(|m| m.events.events())
        .filter(|e| matches!(e, Event::FleetOutcome { ok: true, .. }))
        .count();
    assert_eq!(
        heard, 2,
        "the two engines that did not probe learned the good outcome"
    );
    for m in &fleet {
        m.handle.shutdown().await;
        m.coordinator.close().await;
    }
}
