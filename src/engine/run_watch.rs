//! `scheduler.confirm: "run"`: the engine learns how each resend's run ended from the gateway
//! itself, as the plugin's hooks tell it in `"resolve"` mode. [`RunWatchingResender`] wraps the
//! gateway resender: after an acknowledged `chat.send` it waits in the background for that run
//! ([`GatewayClient::await_run`]) and then calls the engine's own `resolve(key, {runId})` (the
//! run succeeded: a probe is good on this evidence only) or parks it again (it failed: the run's
//! error and retry hint re-park the session, an attempt counted; a session resolved or dropped
//! while its resend ran is not brought back). A run that does not
//! end within the wait is left to the scheduler's probe / await timeout; a gateway that cannot
//! say (no `agent.wait`) leaves the ack as the only signal, as in `"ack"` mode.

use super::Engine;
use crate::gateway::{GatewayClient, RunEnd};
use crate::resender::{PrepareFuture, ResendFuture, ResendOutcome, ResendRequest, Resender};
use serde_json::Value;
use std::sync::{Arc, OnceLock, Weak};

/// The engine a watcher reports to; set by [`Engine::into_shared`]. Until it is set (an engine
/// not shared behind an `Arc`), outcomes are left to the scheduler's timeouts.
pub(super) type EngineSlot = Arc<OnceLock<Weak<Engine>>>;

/// Wraps the resender; watches the run of every acknowledged resend.
pub(super) struct RunWatchingResender {
    pub(super) inner: Arc<dyn Resender>,
    pub(super) gateway: GatewayClient,
    pub(super) engine: EngineSlot,
    /// Longest wait for one run (ms): the longer of the probe and the await timeout.
    pub(super) max_wait_ms: u64,
}

impl Resender for RunWatchingResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async move {
            let (key, idempotency_key, meta) = (
                req.session_key.clone(),
                req.idempotency_key.clone(),
                req.meta.clone(),
            );
            let outcome = self.inner.resend(req).await?;
            if let ResendOutcome::Sent { run_id } = &outcome {
                // On OpenClaw 2026.9.6 the run id is the idempotency key when the ack has none.
                let run = run_id.clone().unwrap_or(idempotency_key);
                self.watch(key, run, meta);
            }
            Ok(outcome)
        })
    }

    fn prepare(&self) -> PrepareFuture<'_> {
        self.inner.prepare()
    }
}

impl RunWatchingResender {
    fn watch(&self, key: String, run: String, meta: Value) {
        let (gateway, engine, max_wait) =
            (self.gateway.clone(), self.engine.clone(), self.max_wait_ms);
        tokio::spawn(async move {
            let end = gateway.await_run(&key, &run, max_wait).await;
            let Some(engine) = engine.get().and_then(Weak::upgrade) else {
                return;
            };
            match end {
                Ok(RunEnd::Succeeded) => {
                    let _ = engine.resolve(&key, Some(&run)).await;
                }
                Ok(RunEnd::Failed { agent_end }) => {
                    let _ = engine
                        .park_again(&key, &agent_end, meta_of_run(meta, &run))
                        .await;
                }
                // A gateway that cannot tell how a run ended: its ack is all there is, as in
                // `confirm: "ack"`.
                Ok(RunEnd::CannotSay { .. }) => {
                    let _ = engine.resolve(&key, Some(&run)).await;
                }
                // Still running, or the client was closed: the scheduler's timeout decides.
                Ok(RunEnd::NotEnded) | Err(_) => {}
            }
        });
    }
}

/// The entry's meta with `runId` set to the run that failed now, so `park()` counts it as
/// another failed send (not a later attempt of the run that was parked). While the scheduler
/// holds the entry only its due time, error and attempts change; compare-and-send recognises
/// our own resend's failed turn by its `resume:<key>:` idempotency key.
fn meta_of_run(meta: Value, run: &str) -> Value {
    let mut meta = match meta {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    meta.insert("runId".into(), Value::String(run.to_owned()));
    Value::Object(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::engine::gateway_test_engine::start_on_gateway;
    use crate::engine::RetryTarget;
    use crate::events::{Event, RecordingSink};
    use crate::gateway::fake::{FakeGateway, FakeScript};
    use crate::scheduler::ProbeConfirm;
    use crate::state::EntryStatus;
    use serde_json::json;
    use std::time::Duration;

    const NOW: i64 = 1_800_000_000_000;

    /// Polls (real time) until `done(engine.get(key))`, for at most 10 s.
    async fn until_entry(
        engine: &Engine,
        key: &str,
        done: impl Fn(Option<&crate::state::ParkedEntry>) -> bool,
    ) -> Option<crate::state::ParkedEntry> {
        for _ in 0..500 {
            let e = engine.get(key).await.unwrap();
            if done(e.as_ref()) {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{key}: timed out; entry {:?}",
            engine.get(key).await.unwrap()
        );
    }

    #[tokio::test]
    async fn the_engine_resolves_a_resend_whose_run_succeeded_and_reparks_one_whose_run_failed() {
        // Run ids are the idempotency keys `resume:<key>:<attempt>` (the fake acks with them).
        let quota = "⚠️ You exceeded your current quota: daily usage limit reached. \
                     Please try again in 30s.; Retry-After: 30 seconds";
        let gw = FakeGateway::start(FakeScript {
            run_waits: [
                ("resume:ok:2".into(), json!({"status": "ok"})),
                (
                    "resume:bad:2".into(),
                    json!({"status": "error", "endedAt": NOW, "error": quota}),
                ),
            ]
            .into(),
            ..Default::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let events = RecordingSink::default();
        let engine = start_on_gateway(
            dir.path(),
            gw.url(),
            ProbeConfirm::Run { timeout_ms: 60_000 },
            Arc::new(ManualClock::new(NOW)),
            events.sink(),
        )
        .await;
        for (key, provider) in [("ok", "openai"), ("bad", "anthropic")] {
            let failure = json!("429 You exceeded your current quota: daily usage limit reached");
            let meta = json!({"provider": provider, "runId": format!("orig-{key}")});
            assert!(engine.park(key, &failure, meta, None).await.unwrap().parked);
            engine
                .retry_now(RetryTarget::Session(key.into()))
                .await
                .unwrap();
        }
        until_entry(&engine, "ok", |e| e.is_none()).await;
        let bad = until_entry(&engine, "bad", |e| {
            e.is_some_and(|e| e.status == EntryStatus::Parked && e.attempts >= 2)
        })
        .await
        .unwrap();
        assert_eq!(bad.attempts, 2, "the failed resend is an attempt");
        assert!(
            bad.retry_at_ms >= NOW + 30_000,
            "due at the failed run's hint: {}",
            bad.retry_at_ms - NOW
        );
        assert_eq!(bad.meta["provider"], "anthropic");
        assert!(bad.last_error.contains("quota"), "{}", bad.last_error);
        let resolved: Vec<_> = events
            .events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Resolved { session_key, .. } => Some(session_key),
                _ => None,
            })
            .collect();
        assert_eq!(resolved, ["ok"]);
        // A session resolved (or dropped) while its resend ran is not brought back by the
        // failure of that run.
        let gone = engine
            .park_again(
                "ok",
                &json!("429 quota exceeded"),
                json!({"runId": "resume:ok:2"}),
            )
            .await
            .unwrap();
        assert_eq!(
            gone.action,
            crate::engine::ParkAction::Ignored,
            "{}",
            gone.why
        );
        assert!(engine.get("ok").await.unwrap().is_none());
        engine.close().await.unwrap();
    }

    #[test]
    fn the_meta_names_the_run_that_failed_and_keeps_the_rest() {
        let m = meta_of_run(json!({"provider": "openai", "runId": "old"}), "resume:k:2");
        assert_eq!(m, json!({"provider": "openai", "runId": "resume:k:2"}));
        assert_eq!(meta_of_run(Value::Null, "r"), json!({"runId": "r"}));
    }
}
