//! What an operator does by hand: resend parked sessions now (`retry_now`) and keep lifetime
//! counters that survive restarts (`add_counter`, `counters`).

use super::lifecycle::run_blocking;
use super::{check_key, Engine};
use crate::counters::{CounterFile, CounterRecovery, Counters};
use crate::error::{EngineError, EngineResult};
use crate::events::Event;
use crate::state::{EntryStatus, QueueChange};
use serde::Serialize;

/// Which parked sessions `retry_now` makes due: one session, or every session of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryTarget {
    /// One session key.
    Session(String),
    /// Every parked session whose probe group (provider/budget) is this.
    Group(String),
}

impl RetryTarget {
    /// Reads `{sessionKey}` or `{group}` (exactly one, a non-empty string).
    pub fn from_value(v: &serde_json::Value) -> EngineResult<RetryTarget> {
        let text = |k: &str| v.get(k).map(|x| x.as_str().map(str::to_string));
        match (text("sessionKey"), text("group")) {
            (Some(Some(k)), None) => Ok(RetryTarget::Session(k)),
            (None, Some(Some(g))) => Ok(RetryTarget::Group(g)),
            _ => Err(EngineError::input(
                "target",
                "expected {sessionKey: string} or {group: string}",
            )),
        }
    }
}

/// What `retry_now` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetryNowOutcome {
    /// Sessions that were waiting and are now due: the scheduler resends them at once, through
    /// the usual path (one probe per group first, then the rest; same idempotency keys).
    pub due: Vec<String>,
    /// Matching sessions already being resent (probing, released or awaiting their result);
    /// left as they are.
    pub in_flight: Vec<String>,
}

impl Engine {
    /// Make the matching `Parked` entries due now (their due time becomes the current time) and
    /// wake the scheduler. Nothing else changes: attempts, error and group stay, and the
    /// resend goes through the scheduler's probe/release path, so a group still sends one
    /// probe first. An unknown key or group matches nothing (empty outcome).
    pub async fn retry_now(&self, target: RetryTarget) -> EngineResult<RetryNowOutcome> {
        match &target {
            RetryTarget::Session(k) => check_key("sessionKey", k)?,
            RetryTarget::Group(g) if g.trim().is_empty() => {
                return Err(EngineError::input(
                    "group",
                    "must be a non-empty group name",
                ))
            }
            RetryTarget::Group(_) => {}
        }
        let running = self.running().await?;
        let store = running.store.clone();
        let now = self.clock.now_ms();
        let outcome = run_blocking(move || {
            let matching: Vec<_> = match &target {
                RetryTarget::Session(k) => store.get(k)?.into_iter().collect(),
                RetryTarget::Group(g) => store
                    .all_entries()?
                    .into_iter()
                    .filter(|e| &e.group == g)
                    .collect(),
            };
            let mut outcome = RetryNowOutcome::default();
            let mut changes = Vec::new();
            for entry in matching {
                if entry.status != EntryStatus::Parked {
                    outcome.in_flight.push(entry.session_key);
                    continue;
                }
                changes.push(QueueChange::SetStatus {
                    session_key: entry.session_key.clone(),
                    status: EntryStatus::Parked,
                    retry_at_ms: Some(entry.retry_at_ms.min(now)),
                });
                outcome.due.push(entry.session_key);
            }
            if !changes.is_empty() {
                store.apply(&changes, now)?;
            }
            Ok(outcome)
        })
        .await?;
        running.scheduler.notify();
        Ok(outcome)
    }

    fn counter_file(&self) -> CounterFile {
        CounterFile::new(self.cfg.state_dir.clone())
    }

    fn report(&self, recovery: Option<CounterRecovery>) {
        if let Some(r) = recovery {
            (self.events)(Event::RecoveredCorruptFile {
                path: r.path.display().to_string(),
                moved_to: r.moved_to.display().to_string(),
                kept: 0,
                dropped: 1,
            });
        }
    }

    /// Add `by` to the lifetime counter `name` in `<stateDir>/counters.json` (durable on
    /// return; see [`crate::counters`]). Returns the new value. Works before `start()`.
    pub async fn add_counter(&self, name: &str, by: u64) -> EngineResult<u64> {
        crate::counters::check_name(name)?;
        let file = self.counter_file();
        let name = name.to_string();
        let now = self.clock.now_ms();
        let (value, recovery) = run_blocking(move || file.add(&name, by, now)).await?;
        self.report(recovery);
        Ok(value)
    }

    /// Every lifetime counter (empty before the first `add_counter`). Works before `start()`.
    pub async fn counters(&self) -> EngineResult<Counters> {
        let file = self.counter_file();
        let now = self.clock.now_ms();
        let (counters, recovery) = run_blocking(move || file.read(now)).await?;
        self.report(recovery);
        Ok(counters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::engine::EngineConfig;
    use crate::events::RecordingSink;
    use crate::resender::{ResendFuture, ResendRequest, Resender};
    use serde_json::json;
    use std::sync::{Arc, Mutex};

    /// Records resends and never acks (so entries stay probing).
    #[derive(Default)]
    struct Recorder(Mutex<Vec<String>>);
    impl Resender for Recorder {
        fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
            self.0.lock().unwrap().push(req.session_key.clone());
            Box::pin(std::future::pending())
        }
    }

    async fn started(dir: &std::path::Path, resender: Arc<Recorder>) -> (Engine, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(NOW));
        let mut cfg = EngineConfig {
            state_dir: dir.to_path_buf(),
            seed: Some(1),
            ..EngineConfig::default()
        };
        cfg.scheduler.release_spread_ms = 0;
        let engine = Engine::new(
            cfg,
            clock.clone(),
            RecordingSink::default().sink(),
            Some(resender),
        )
        .unwrap();
        engine.start().await.unwrap();
        (engine, clock)
    }

    const NOW: i64 = 1_800_000_000_000;
    const QUOTA: &str = "429 You exceeded your current quota: daily usage limit reached";

    #[tokio::test]
    async fn retry_now_makes_one_session_or_a_group_due_and_the_scheduler_probes_first() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Arc::new(Recorder::default());
        let (engine, _clock) = started(dir.path(), rec.clone()).await;
        for (key, provider) in [("a", "openai"), ("b", "openai"), ("c", "anthropic")] {
            let out = engine
                .park(key, &json!(QUOTA), json!({ "provider": provider }), None)
                .await
                .unwrap();
            assert!(out.parked);
        }
        let later = engine.get("a").await.unwrap().unwrap().retry_at_ms;
        assert!(later > NOW, "parked for the future");
        let c_due = engine.get("c").await.unwrap().unwrap().retry_at_ms;

        let none = engine
            .retry_now(RetryTarget::Session("nobody".into()))
            .await
            .unwrap();
        assert_eq!(none, RetryNowOutcome::default());

        let out = engine
            .retry_now(RetryTarget::Group("openai".into()))
            .await
            .unwrap();
        let mut due = out.due.clone();
        due.sort();
        assert_eq!(due, ["a", "b"]);
        assert!(out.in_flight.is_empty());
        assert_eq!(
            engine.get("c").await.unwrap().unwrap().retry_at_ms,
            c_due,
            "other groups untouched"
        );
        // The scheduler sends exactly one probe for the group (the resender never acks).
        for _ in 0..200 {
            if !rec.0.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(rec.0.lock().unwrap().len(), 1, "one probe per group");
        let again = engine
            .retry_now(RetryTarget::Group("openai".into()))
            .await
            .unwrap();
        assert_eq!(
            again.in_flight.len(),
            1,
            "the probe is in flight: {again:?}"
        );
        engine.close().await.unwrap();
    }

    #[tokio::test]
    async fn counters_survive_a_new_engine_on_the_same_state_dir() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _) = started(dir.path(), Arc::new(Recorder::default())).await;
        assert_eq!(engine.add_counter("retried", 1).await.unwrap(), 1);
        assert_eq!(engine.add_counter("retried", 1).await.unwrap(), 2);
        engine.close().await.unwrap();
        let (engine, _) = started(dir.path(), Arc::new(Recorder::default())).await;
        assert_eq!(engine.counters().await.unwrap().get("retried"), Some(&2));
        assert!(engine
            .retry_now(RetryTarget::Group(" ".into()))
            .await
            .is_err());
        for bad in [
            json!(null),
            json!({}),
            json!({"sessionKey": 1}),
            json!({"sessionKey": "a", "group": "b"}),
        ] {
            assert!(RetryTarget::from_value(&bad).is_err(), "{bad}");
        }
        assert_eq!(
            RetryTarget::from_value(&json!({"group": "g"})).unwrap(),
            RetryTarget::Group("g".into())
        );
        engine.close().await.unwrap();
    }
}
