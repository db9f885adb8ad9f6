//! Parking failed sessions and resolving them.

use super::lifecycle::run_blocking;
use super::{check_key, locked, Engine};
use crate::classify::Classification;
use crate::error::{EngineError, EngineResult};
use crate::events::Event;
use crate::policy::{Action, Decision, Mode};
use crate::reason::Reason;
use crate::state::{EntryStatus, ParkedEntry, ParkedQueue, QueueOp};
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// What `park()` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParkAction {
    /// A new entry was parked.
    Parked,
    /// An existing entry was updated (attempts, error, due time).
    Updated,
    /// Not parked: the reason cannot be fixed by waiting (billing, auth, format...).
    Rejected,
    /// Removed after too many attempts.
    Abandoned,
    /// Not a failure; nothing to do.
    Ignored,
}

/// The answer of `park()`: what it decided and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParkOutcome {
    /// Whether the session is now parked.
    pub parked: bool,
    /// What happened.
    pub action: ParkAction,
    /// The classified reason (`null` for a non-failure).
    pub reason: Option<Reason>,
    /// Attempts so far (including this failure).
    pub attempts: u32,
    /// When the session will be resent (epoch ms), if parked.
    pub retry_at_ms: Option<i64>,
    /// A sentence explaining the decision.
    pub why: String,
    /// The classification of the input.
    pub classification: Classification,
    /// The policy decision, when the input was a failure.
    pub decision: Option<Decision>,
}

/// One park of [`Engine::park_all`]: the arguments of [`Engine::park`].
#[derive(Debug, Clone)]
pub struct ParkRequest {
    /// The session to park.
    pub session_key: String,
    /// The failure.
    pub input: Value,
    /// Stored with the entry (see [`Engine::park`]).
    pub meta: Value,
    /// The time to park at (epoch ms); `None`: now.
    pub now_ms: Option<i64>,
}

/// The group a session's probe belongs to: `meta.group`, else `meta.provider`, else `default`.
fn group_of(meta: &Value) -> String {
    ["group", "provider"]
        .iter()
        .find_map(|k| meta.get(k).and_then(Value::as_str))
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("default")
        .to_string()
}

/// The run a failure came from (`meta.runId`), when the parker recorded it.
fn run_of(meta: &Value) -> Option<&str> {
    meta.get("runId").and_then(Value::as_str)
}

/// Wait until what a `peek` saw is durable (a park that ends without writing).
async fn settle(store: &Arc<dyn ParkedQueue>) -> EngineResult<()> {
    let store = store.clone();
    run_blocking(move || store.settle()).await
}

/// The entry under `key`, possibly with a change still on its way to disk (see
/// [`ParkedQueue::peek`]): read in place when that needs no waiting, else on a blocking thread.
async fn peek(store: &Arc<dyn ParkedQueue>, key: &str) -> EngineResult<Option<ParkedEntry>> {
    if let Some(r) = store.try_peek(key) {
        return r;
    }
    let (store, key) = (store.clone(), key.to_string());
    run_blocking(move || store.peek(&key)).await
}

/// Write `op` durably (through the store's writer when it has one, else on a blocking
/// thread); the entry a remove removed.
pub(crate) async fn write(
    store: &Arc<dyn ParkedQueue>,
    op: QueueOp,
) -> EngineResult<Option<ParkedEntry>> {
    match store.submit(op).map_err(|op| *op) {
        Ok(durable) => durable.await,
        Err(QueueOp::Put(entry)) => {
            let store = store.clone();
            run_blocking(move || store.put(entry).map(|()| None)).await
        }
        Err(QueueOp::Remove(key)) => {
            let store = store.clone();
            run_blocking(move || store.remove(&key)).await
        }
    }
}

/// Which sessions a park applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parking {
    /// Any session: a new entry or an update.
    Any,
    /// Only a session that is parked now (an update).
    OnlyIfParked,
}

impl Engine {
    /// Classify `input` and park `session_key` when waiting can fix it. One entry per session;
    /// a repeat updates attempts, error and due time (a repeat with the entry's `meta.runId`,
    /// a later attempt of the same run, updates error and due time only). `meta` (any JSON; `meta.message` is the
    /// text to resend, `meta.group`/`meta.provider` the probe group) is stored with it.
    pub async fn park(
        &self,
        session_key: &str,
        input: &Value,
        meta: Value,
        now_ms: Option<i64>,
    ) -> EngineResult<ParkOutcome> {
        self.park_with(session_key, input, meta, now_ms, Parking::Any)
            .await
    }

    /// [`Engine::park`] for each of `requests` (calls made together), each with its own
    /// result, in order. They run together, so that their writes share one round and one
    /// fsync of the queue writer; parks of the same session run one after another, in order.
    pub async fn park_all(&self, requests: Vec<ParkRequest>) -> Vec<EngineResult<ParkOutcome>> {
        let mut chains: Vec<Vec<(usize, ParkRequest)>> = Vec::new();
        let mut chain_of: HashMap<String, usize> = HashMap::new();
        for (i, request) in requests.into_iter().enumerate() {
            match chain_of.get(&request.session_key) {
                Some(&c) => chains[c].push((i, request)),
                None => {
                    chain_of.insert(request.session_key.clone(), chains.len());
                    chains.push(vec![(i, request)]);
                }
            }
        }
        let all = join_all(chains.into_iter().map(|chain| async move {
            let mut out = Vec::with_capacity(chain.len());
            for (i, r) in chain {
                out.push((
                    i,
                    self.park(&r.session_key, &r.input, r.meta, r.now_ms).await,
                ));
            }
            out
        }));
        // Held until every park has run as far as it can without waiting (most of them up to
        // their write): then the writer takes all those writes in one round.
        let mut hold = match self.running().await {
            Ok(running) => running.store.hold_writes(),
            Err(_) => None,
        };
        let mut all = std::pin::pin!(all);
        let done = std::future::poll_fn(|cx| {
            let polled = all.as_mut().poll(cx);
            hold.take();
            polled
        })
        .await;
        let mut results: Vec<_> = done.into_iter().flatten().collect();
        results.sort_unstable_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// [`Engine::park`] for the failure of a run our own resend started (`scheduler.confirm:
    /// "run"`): only while the session is still parked, so a session resolved or dropped while
    /// its resend ran stays gone (`Ignored`).
    pub(crate) async fn park_again(
        &self,
        session_key: &str,
        input: &Value,
        meta: Value,
    ) -> EngineResult<ParkOutcome> {
        self.park_with(session_key, input, meta, None, Parking::OnlyIfParked)
            .await
    }

    async fn park_with(
        &self,
        session_key: &str,
        input: &Value,
        mut meta: Value,
        now_ms: Option<i64>,
        parking: Parking,
    ) -> EngineResult<ParkOutcome> {
        check_key("sessionKey", session_key)?;
        // Meta is stored in the queue files: no configured secret or key format goes there.
        self.redactor.scrub_value(&mut meta);
        if !(meta.is_null() || meta.is_object()) {
            return Err(EngineError::input(
                "meta",
                "expected an object or undefined",
            ));
        }
        let running = self.running().await?;
        let now = self.at(now_ms);
        let classification = self.classify(input, Some(now));
        let Some(reason) = classification.reason else {
            return Ok(ParkOutcome {
                parked: false,
                action: ParkAction::Ignored,
                reason: None,
                attempts: 0,
                retry_at_ms: None,
                why: "the input is not a failure".into(),
                classification,
                decision: None,
            });
        };
        let failure = super::failure_from(&classification)?;
        // Not behind an fsync in flight: a write below is durable only together with what this
        // saw, and the paths that do not write settle first.
        let existing = peek(&running.store, session_key).await?;
        if parking == Parking::OnlyIfParked && existing.is_none() {
            return Ok(ParkOutcome {
                parked: false,
                action: ParkAction::Ignored,
                reason: Some(reason),
                attempts: 0,
                retry_at_ms: None,
                why: "the session was resolved or dropped while its resend ran".into(),
                classification,
                decision: None,
            });
        }
        let key = session_key.to_string();
        // A later attempt of the run already parked (the gateway retries some failures inside
        // the run, same runId): it brings the run's latest error and hint (its final failure's
        // decides when to resend) but it is not another failed send: no attempt, no error counted.
        // The run of our latest resend, whose failure `attempts` already counts
        // (`resume:<key>:<attempts>`), is such a run too: the gateway retries it the same way.
        let same_run = existing.as_ref().is_some_and(|e| {
            run_of(&meta).is_some_and(|run| {
                run_of(&e.meta) == Some(run) || run == format!("resume:{key}:{}", e.attempts)
            })
        });
        let decision = if same_run {
            locked(&self.tables.policy).record_repeat(session_key, &failure, now)
        } else {
            locked(&self.tables.policy).record_failure(session_key, &failure, now)
        };
        self.decided();

        let stop =
            self.reason_policy_mode(reason) == Mode::Stop || decision.action == Action::Disable;
        if stop {
            let why = format!(
                "{reason} cannot be fixed by waiting; not parked (fix the cause, then retry)"
            );
            (self.events)(Event::Rejected {
                session_key: key.clone(),
                code: "E_NOT_RETRYABLE".into(),
                message: why.clone(),
            });
            if existing.is_some() {
                write(&running.store, QueueOp::Remove(key.clone())).await?;
                self.abandoned(
                    &key,
                    reason,
                    existing.map_or(0, |e| e.attempts),
                    &classification.message,
                );
                running.scheduler.notify();
            } else {
                settle(&running.store).await?;
            }
            return Ok(ParkOutcome {
                parked: false,
                action: ParkAction::Rejected,
                reason: Some(reason),
                attempts: decision.consecutive_errors,
                retry_at_ms: None,
                why,
                classification,
                decision: Some(decision),
            });
        }

        let retry_at = decision
            .next_attempt_at_ms
            .or(decision.cooldown_until_ms)
            .unwrap_or(now)
            .max(now);
        let attempts = match &existing {
            Some(e) if same_run => e.attempts,
            _ => existing
                .as_ref()
                .map_or(1, |e| e.attempts + 1)
                .max(decision.consecutive_errors),
        };
        // `attempts` counts failed sends; a session is sent at most `max_attempts` times, so
        // the failure that reaches the cap abandons it (the scheduler would drop it unsent).
        if attempts >= self.cfg.queue.max_attempts {
            if existing.is_some() {
                write(&running.store, QueueOp::Remove(key.clone())).await?;
                running.scheduler.notify();
            } else {
                settle(&running.store).await?;
            }
            self.abandoned(&key, reason, attempts, &classification.message);
            return Ok(ParkOutcome {
                parked: false,
                action: ParkAction::Abandoned,
                reason: Some(reason),
                attempts,
                retry_at_ms: None,
                why: format!(
                    "gave up after {attempts} attempts (queue.maxAttempts = {})",
                    self.cfg.queue.max_attempts
                ),
                classification,
                decision: Some(decision),
            });
        }

        let held_by_scheduler = existing.as_ref().is_some_and(|e| {
            matches!(
                e.status,
                EntryStatus::Probing | EntryStatus::Released | EntryStatus::AwaitingResult
            )
        });
        if held_by_scheduler && same_run {
            // Our resend of it is queued or under way: the run's later attempt says nothing of
            // that resend (which compare-and-send checks against how the run ended), so it is
            // neither an attempt nor a new due time.
            settle(&running.store).await?;
            return Ok(ParkOutcome {
                parked: true,
                action: ParkAction::Updated,
                reason: Some(reason),
                attempts,
                retry_at_ms: existing.map(|e| e.retry_at_ms),
                why: "a later attempt of the failed run while its resend is under way: \
                      nothing changes"
                    .into(),
                classification,
                decision: Some(decision),
            });
        }
        if held_by_scheduler {
            settle(&running.store).await?;
            running
                .scheduler
                .failed(&key, Some(retry_at), &classification.message);
        } else {
            let mut entry = match existing.clone() {
                Some(mut e) => {
                    e.attempts = attempts;
                    e.reason = reason;
                    e.last_failed_at_ms = now;
                    e.retry_at_ms = retry_at;
                    e.last_error = classification.message.clone();
                    e.status = EntryStatus::Parked;
                    e.status_since_ms = now;
                    e
                }
                None => {
                    let mut e =
                        ParkedEntry::new(&key, reason, now, retry_at, &classification.message);
                    e.attempts = attempts;
                    e
                }
            };
            if !meta.is_null() {
                entry.group = group_of(&meta);
                entry.meta = meta;
            }
            let put = write(&running.store, QueueOp::Put(entry)).await;
            if let Err(e) = put {
                if let EngineError::QueueFull { .. } = e {
                    (self.events)(Event::Rejected {
                        session_key: key.clone(),
                        code: e.code().into(),
                        message: e.to_string(),
                    });
                }
                return Err(e);
            }
            running.scheduler.notify();
        }
        (self.events)(Event::Parked {
            session_key: key.clone(),
            reason,
            attempts,
            retry_at_ms: retry_at,
        });
        let action = if existing.is_some() {
            ParkAction::Updated
        } else {
            ParkAction::Parked
        };
        Ok(ParkOutcome {
            parked: true,
            action,
            reason: Some(reason),
            attempts,
            retry_at_ms: Some(retry_at),
            why: match (classification.retry_after_ms, classification.reset_at_ms) {
                (_, Some(_)) | (Some(_), _) => {
                    format!("{reason}: parked until the provider's reset hint")
                }
                _ => format!("{reason}: parked with backoff (no provider hint)"),
            },
            classification,
            decision: Some(decision),
        })
    }

    fn abandoned(&self, key: &str, reason: Reason, attempts: u32, message: &str) {
        (self.events)(Event::Abandoned {
            session_key: key.to_string(),
            reason,
            attempts,
            message: message.to_string(),
        });
    }

    /// A session succeeded: clear its policy state and remove its parked entry durably
    /// (acknowledged after the write), whatever stage its resume is in, so it is never resent
    /// and never comes back after a restart. `run_id` (the run that succeeded) is the
    /// evidence that confirms a probe in resolve mode. Returns whether an entry was parked.
    pub async fn resolve(&self, session_key: &str, run_id: Option<&str>) -> EngineResult<bool> {
        check_key("sessionKey", session_key)?;
        let running = self.running().await?;
        locked(&self.tables.policy).record_success(session_key);
        self.decided();
        let removed = write(&running.store, QueueOp::Remove(session_key.to_string())).await?;
        // The scheduler may hold it whatever the stored status says (a status write may be
        // pending): it drops it in every stage and reports `resolved` for what it held.
        running.scheduler.resolved(session_key, run_id);
        let Some(entry) = removed else {
            return Ok(false);
        };
        let held = matches!(
            entry.status,
            EntryStatus::Probing | EntryStatus::AwaitingResult | EntryStatus::Released
        );
        if !held {
            (self.events)(Event::Resolved {
                session_key: session_key.to_string(),
            });
        }
        running.scheduler.notify();
        Ok(true)
    }

    /// Remove a parked session without resending it. Returns the removed entry.
    pub async fn unpark(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        check_key("sessionKey", session_key)?;
        let running = self.running().await?;
        let removed = write(&running.store, QueueOp::Remove(session_key.to_string())).await?;
        running.scheduler.forget(session_key);
        running.scheduler.notify();
        Ok(removed)
    }

    /// The parked entry of a session, if any.
    pub async fn get(&self, session_key: &str) -> EngineResult<Option<ParkedEntry>> {
        check_key("sessionKey", session_key)?;
        let running = self.running().await?;
        let store = running.store.clone();
        let key = session_key.to_string();
        run_blocking(move || store.get(&key)).await
    }

    /// Every parked entry, earliest due first.
    pub async fn pending(&self) -> EngineResult<Vec<ParkedEntry>> {
        let running = self.running().await?;
        let store = running.store.clone();
        run_blocking(move || store.all_entries()).await
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
    use std::sync::Arc;

    struct NoResend;

    impl Resender for NoResend {
        fn resend(&self, _req: ResendRequest) -> ResendFuture<'_> {
            Box::pin(async { Err(EngineError::ResendFailed("not in this test".into())) })
        }
    }

    /// A resender whose sends never finish: an entry it was given stays in the scheduler.
    struct Stuck;

    impl Resender for Stuck {
        fn resend(&self, _req: ResendRequest) -> ResendFuture<'_> {
            Box::pin(std::future::pending())
        }
    }

    #[tokio::test]
    async fn the_gateways_retries_of_our_resends_run_are_one_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _events) = started_with_three_attempts(&dir, 1_800_000_000_000).await;
        let per_minute = json!({"status": 429, "headers": {"retry-after": "1"}, "body": "Rate limit reached for requests per min"});
        let run = |id: &str| json!({"runId": id, "provider": "fake"});
        let first = engine
            .park("s", &per_minute, run("r1"), None)
            .await
            .unwrap();
        assert_eq!(first.attempts, 1);
        // Our first resend (`resume:s:2`) failed: an attempt; the gateway then retries that run
        // itself, one `agent_end` per attempt: not more attempts (3 would abandon it).
        let resend = engine
            .park("s", &per_minute, run("resume:s:2"), None)
            .await
            .unwrap();
        assert_eq!((resend.action, resend.attempts), (ParkAction::Updated, 2));
        for _ in 0..4 {
            let o = engine
                .park("s", &per_minute, run("resume:s:2"), None)
                .await
                .unwrap();
            assert_eq!(
                (o.action, o.parked, o.attempts),
                (ParkAction::Updated, true, 2)
            );
        }
        assert_eq!(engine.get("s").await.unwrap().unwrap().attempts, 2);
        engine.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_later_attempt_of_the_parked_run_while_its_resend_is_under_way_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, _events) =
            started_with_three_attempts_and(&dir, 1_800_000_000_000, Arc::new(Stuck)).await;
        let per_minute = json!({"status": 429, "headers": {"retry-after": "1"}, "body": "Rate limit reached for requests per min"});
        let meta = json!({"runId": "r1", "provider": "fake"});
        engine
            .park("s", &per_minute, meta.clone(), None)
            .await
            .unwrap();
        engine
            .retry_now(crate::engine::RetryTarget::Session("s".into()))
            .await
            .unwrap();
        let mut held = None;
        for _ in 0..500 {
            let e = engine.get("s").await.unwrap().unwrap();
            if e.status != EntryStatus::Parked {
                held = Some(e);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let held = held.expect("the scheduler took the entry");
        // The gateway's retries of r1 go on while our resend is under way (3 would abandon it).
        for _ in 0..4 {
            let o = engine
                .park("s", &per_minute, meta.clone(), None)
                .await
                .unwrap();
            assert_eq!(
                (o.action, o.attempts),
                (ParkAction::Updated, 1),
                "{}",
                o.why
            );
            assert!(o.why.contains("under way"), "{}", o.why);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let e = engine.get("s").await.unwrap().unwrap();
        assert_eq!((e.attempts, e.status), (1, held.status));
        engine.close().await.unwrap();
    }

    /// A started engine in `dir` at `now` (paused clock) with `maxAttempts` 3 and no resender.
    async fn started_with_three_attempts(
        dir: &tempfile::TempDir,
        now: i64,
    ) -> (Engine, RecordingSink) {
        started_with_three_attempts_and(dir, now, Arc::new(NoResend)).await
    }

    /// [`started_with_three_attempts`] resending through `resender`.
    async fn started_with_three_attempts_and(
        dir: &tempfile::TempDir,
        now: i64,
        resender: Arc<dyn Resender>,
    ) -> (Engine, RecordingSink) {
        let mut cfg = EngineConfig {
            state_dir: dir.path().to_path_buf(),
            seed: Some(1),
            ..EngineConfig::default()
        };
        cfg.queue.max_attempts = 3;
        cfg.scheduler.max_attempts = 3;
        let events = RecordingSink::default();
        let clock = Arc::new(ManualClock::new(now));
        let engine = Engine::new(cfg, clock, events.sink(), Some(resender)).unwrap();
        engine.start().await.unwrap();
        (engine, events)
    }

    #[tokio::test]
    async fn the_failure_that_reaches_max_attempts_abandons_instead_of_parking() {
        let dir = tempfile::tempdir().unwrap();
        let (engine, events) = started_with_three_attempts(&dir, 1_800_000_000_000).await;
        let input =
            json!({"status": 429, "headers": {"retry-after": "3600"}, "body": "rate limited"});
        let mut actions = Vec::new();
        for _ in 0..3 {
            let o = engine.park("s", &input, Value::Null, None).await.unwrap();
            actions.push((o.action, o.parked, o.attempts));
        }
        assert_eq!(
            actions,
            vec![
                (ParkAction::Parked, true, 1),
                (ParkAction::Updated, true, 2),
                (ParkAction::Abandoned, false, 3)
            ]
        );
        assert!(engine.get("s").await.unwrap().is_none());
        let abandoned = events
            .events()
            .into_iter()
            .filter(|e| matches!(e, Event::Abandoned { attempts: 3, .. }))
            .count();
        assert_eq!(abandoned, 1);
        engine.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_later_attempt_of_the_same_run_moves_the_due_time_without_counting_an_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let now = 1_800_000_000_000;
        let (engine, _events) = started_with_three_attempts(&dir, now).await;
        let per_minute = json!({"status": 429, "headers": {"retry-after": "1"}, "body": "Rate limit reached for requests per min"});
        let quota = json!({"status": 429, "headers": {"retry-after": "40"}, "body": "You exceeded your current quota: daily usage limit reached."});
        let run = |id: &str| json!({"runId": id, "provider": "fake"});
        let first = engine
            .park("s", &per_minute, run("r1"), None)
            .await
            .unwrap();
        assert_eq!((first.action, first.attempts), (ParkAction::Parked, 1));
        // The gateway retries r1 itself (more attempts than max_attempts), then it ends on a quota.
        for _ in 0..4 {
            let o = engine
                .park("s", &per_minute, run("r1"), None)
                .await
                .unwrap();
            assert_eq!(
                (o.action, o.parked, o.attempts),
                (ParkAction::Updated, true, 1)
            );
        }
        let last = engine.park("s", &quota, run("r1"), None).await.unwrap();
        assert_eq!(
            (last.action, last.parked, last.attempts),
            (ParkAction::Updated, true, 1)
        );
        let entry = engine.get("s").await.unwrap().unwrap();
        assert!(
            entry.retry_at_ms >= now + 40_000,
            "the final failure's hint decides: {}",
            entry.retry_at_ms - now
        );
        assert_eq!(entry.attempts, 1);
        // Another run's failure (our resend failed) is an attempt.
        let again = engine
            .park("s", &per_minute, run("r2"), None)
            .await
            .unwrap();
        assert_eq!(again.action, ParkAction::Updated);
        assert!(again.attempts >= 2);
        engine.close().await.unwrap();
    }
}
