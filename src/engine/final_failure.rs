//! The final failure of a run the gateway retried itself, judged before a resend.
//!
//! OpenClaw retries a per-minute 429 inside the run (one `agent_end` per attempt, same
//! `runId`), so an entry parked on the first attempt's 1 s hint can come due while the run is
//! still being retried, or after the run ended on a long-window quota whose own `agent_end`
//! has not been parked yet. The gateway resender asks the gateway how the failed run ended
//! (`gateway::failed_run`) and this judges that final failure the way a park of it would: when
//! the time it names is still ahead the session is not sent ([`NotDue`]) but waits for it.

use super::{failure_from, locked, Engine};
use crate::resender::{FinalFailureCheck, NotDue};
use serde_json::Value;
use std::sync::{Arc, Weak};

impl Engine {
    /// `Some` when the failed run's final failure (`agent_end` shape, ended at `ended_at_ms` on
    /// the gateway's clock) names a retry time still ahead of now: the provider's hint or the
    /// reason's budget window with the park margin ([`crate::policy::PolicyTable::named_retry_at`]).
    /// The same failure always names the same time, so a session re-checked at that time is
    /// sent. `None` for a failure that names no time or that is not a failure at all.
    pub(crate) fn final_failure_wait(&self, agent_end: &Value, ended_at_ms: i64) -> Option<NotDue> {
        let classification = self.classify(agent_end, Some(ended_at_ms));
        let failure = failure_from(&classification).ok()?;
        let at = locked(&self.tables.policy).named_retry_at(&failure, ended_at_ms)?;
        (at > self.clock.now_ms()).then_some(NotDue {
            retry_at_ms: at,
            error: classification.message,
        })
    }
}

/// The check the engine gives its gateway resender: [`Engine::final_failure_wait`] of the engine
/// in `slot` (none until the engine is shared, see `run_watch::EngineSlot`).
pub(super) fn final_failure_check(slot: super::run_watch::EngineSlot) -> Arc<FinalFailureCheck> {
    Arc::new(move |agent_end: &Value, ended_at_ms: i64| {
        slot.get()
            .and_then(Weak::upgrade)?
            .final_failure_wait(agent_end, ended_at_ms)
    })
}

#[cfg(test)]
mod tests {
    use crate::clock::ManualClock;
    use crate::engine::gateway_test_engine::start_on_gateway;
    use crate::engine::RetryTarget;
    use crate::gateway::fake::{FakeGateway, FakeScript};
    use crate::scheduler::ProbeConfirm;
    use crate::state::EntryStatus;
    use serde_json::json;
    use std::sync::Arc;
    use std::time::Duration;

    const NOW: i64 = 1_800_000_000_000;

    #[tokio::test]
    async fn a_session_parked_on_the_first_attempt_waits_for_the_final_failures_time() {
        // The run failed a per-minute 429 (1 s hint, parked), the gateway retried it and it
        // ended on a quota naming 30 s — whose own `agent_end` the engine has not seen.
        let history = json!({"messages": [
            {"role": "user", "idempotencyKey": "orig:user"},
            {"role": "assistant", "stopReason": "error", "timestamp": NOW + 1_500,
             "idempotencyKey": "orig:terminal-error"},
        ], "sessionInfo": {"status": "failed", "hasActiveRun": false}});
        let gw = FakeGateway::start(FakeScript {
            histories: [("s".to_string(), history)].into(),
            run_waits: [(
                "orig".to_string(),
                json!({"status": "error", "endedAt": NOW + 2_000,
                       "error": "⚠️ You exceeded your current quota: daily usage limit reached.; Retry-After: 30 seconds"}),
            )]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let confirm = ProbeConfirm::Resolve { timeout_ms: 60_000 };
        let engine = start_on_gateway(
            dir.path(),
            gw.url(),
            confirm,
            clock.clone(),
            Arc::new(|_| {}),
        )
        .await;
        let first = json!("429 Rate limit reached for requests per min. Please try again in 1s.");
        let meta = json!({"provider": "openai", "runId": "orig"});
        assert!(engine.park("s", &first, meta, None).await.unwrap().parked);
        clock.advance(3_000);
        engine
            .retry_now(RetryTarget::Session("s".into()))
            .await
            .unwrap();
        let mut entry = None;
        for _ in 0..500 {
            let e = engine.get("s").await.unwrap().unwrap();
            if e.status == EntryStatus::Parked && e.retry_at_ms > NOW + 10_000 {
                entry = Some(e);
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let e = entry.expect("re-parked at the final failure's time");
        // Counted from when the failed call started (+1.5 s), plus the hint margin.
        assert!(
            (NOW + 31_500..=NOW + 32_500).contains(&e.retry_at_ms),
            "{}",
            e.retry_at_ms - NOW
        );
        assert_eq!(e.attempts, 1, "the gateway's attempts are not ours");
        assert!(e.last_error.contains("quota"), "{}", e.last_error);
        let sends = gw
            .record()
            .requests
            .iter()
            .filter(|r| r.1 == "chat.send")
            .count();
        assert_eq!(sends, 0, "nothing sent before the final failure's time");
        engine.close().await.unwrap();
    }
}
