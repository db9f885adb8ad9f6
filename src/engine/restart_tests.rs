//! A restart keeps every decision: breakers, disables, alert windows and the message guard
//! survive `close()` and a new engine on the same state directory.

use super::*;
use crate::clock::ManualClock;
use crate::events::{Event, RecordingSink};
use crate::resender::{ResendFuture, ResendRequest};
use serde_json::json;
use std::path::Path;

const T0: i64 = 1_800_000_000_000;
const SURFACED: &str = "⚠️ LLM request failed (rate limited, HTTP 429). Try again shortly.";

struct NoResend;

impl Resender for NoResend {
    fn resend(&self, _req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async { Err(EngineError::ResendFailed("not in this test".into())) })
    }
}

fn engine(
    dir: &Path,
    clock: Arc<ManualClock>,
    cfg: impl FnOnce(&mut EngineConfig),
) -> (Engine, RecordingSink) {
    let mut c = EngineConfig {
        state_dir: dir.to_path_buf(),
        seed: Some(3),
        ..EngineConfig::default()
    };
    cfg(&mut c);
    let events = RecordingSink::default();
    let e = Engine::new(c, clock, events.sink(), Some(Arc::new(NoResend))).unwrap();
    (e, events)
}

fn billing() -> Value {
    json!({"status": 402, "body": "Your credit balance is too low to access the API"})
}

fn alerts(events: &RecordingSink) -> usize {
    events
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Alert { .. }))
        .count()
}

#[tokio::test]
async fn breaker_disable_alert_and_guard_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let (a, events) = engine(dir.path(), clock.clone(), |_| {});
    a.start().await.unwrap();
    for _ in 0..5 {
        a.breaker_record("openai", false, None).unwrap();
    }
    let d = a.record_failure("cron:nightly", &billing(), None).unwrap();
    assert!(d.alert, "first billing failure alerts");
    assert!(!a.check_message("room-1", SURFACED, None).unwrap().cancel);
    assert_eq!(alerts(&events), 1);
    a.close().await.unwrap();

    clock.advance(10_000);
    let (b, events) = engine(dir.path(), clock.clone(), |_| {});
    b.start().await.unwrap();
    let br = b.breaker_state("openai", None).unwrap();
    assert_eq!(
        (br.state, br.failures),
        (crate::breaker::CircuitState::Open, 5)
    );
    let st = b
        .state("cron:nightly", None)
        .unwrap()
        .expect("policy state restored");
    assert!(st.disabled, "billing disable survives: {st:?}");
    assert!(matches!(
        b.breaker_acquire("openai", None).unwrap(),
        Permit::Rejected { .. }
    ));
    let again = b.record_failure("cron:nightly", &billing(), None).unwrap();
    assert!(!again.alert, "one alert per hour, across the restart");
    assert_eq!(alerts(&events), 0);
    assert!(
        b.check_message("room-1", SURFACED, None).unwrap().cancel,
        "the repeated surfaced error is still cancelled after the restart"
    );
    let exported = b.export_state();
    assert_eq!(
        (
            exported.policy.len(),
            exported.breakers.len(),
            exported.guard.len()
        ),
        (1, 1, 1)
    );
    b.close().await.unwrap();
}

#[tokio::test]
async fn idle_keys_are_forgotten_on_disk_too_and_pre_start_decisions_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let idle = |c: &mut EngineConfig| c.policy.idle_evict_ms = 3_600_000;
    let (a, _) = engine(dir.path(), clock.clone(), idle);
    a.start().await.unwrap();
    let rate = json!({"status": 429, "body": "rate limited"});
    a.record_failure("old", &rate, None).unwrap();
    a.close().await.unwrap();

    clock.advance(2 * 3_600_000);
    let (b, _) = engine(dir.path(), clock.clone(), idle);
    b.record_failure("early", &rate, None).unwrap(); // decided before start()
    b.start().await.unwrap();
    assert!(
        b.state("old", None).unwrap().is_none(),
        "idle past idleEvictMs"
    );
    assert!(b.state("early", None).unwrap().is_some());
    b.close().await.unwrap();

    let (c, _) = engine(dir.path(), clock.clone(), idle);
    c.start().await.unwrap();
    let keys: Vec<String> = c.export_state().policy.into_keys().collect();
    assert_eq!(
        keys,
        ["early"],
        "the eviction was written, the early decision too"
    );
    c.close().await.unwrap();
}

#[tokio::test]
async fn export_then_import_into_a_fresh_engine_restores_decisions() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clock = Arc::new(ManualClock::new(T0));
    let (a, _) = engine(d1.path(), clock.clone(), |_| {});
    for _ in 0..5 {
        a.breaker_record("anthropic", false, None).unwrap();
    }
    a.record_failure("cron:x", &billing(), None).unwrap();
    let json = serde_json::to_value(a.export_state()).unwrap();
    let (b, _) = engine(d2.path(), clock.clone(), |_| {});
    let n = b.import_state(crate::state::DecisionState::from_json(json).unwrap());
    assert_eq!(n, 2);
    assert!(b.state("cron:x", None).unwrap().unwrap().disabled);
    assert_eq!(
        b.breaker_state("anthropic", None).unwrap().state,
        crate::breaker::CircuitState::Open
    );
    assert!(crate::state::DecisionState::from_json(json!({"policy": 3})).is_err());
    assert!(crate::state::DecisionState::from_json(json!({"nope": {}})).is_err());
}
