//! [`Engine`]: the whole retry engine behind the `RetryEngine` JS class. Synchronous parts
//! (classification, decisions, breakers, windows) live here; the durable queue, the scheduler,
//! profile rotation and gateway resends are in the submodules.

mod config;
mod decision_sync;
mod drain;
mod final_failure;
mod fleet_link;
#[cfg(test)]
mod gateway_test_engine;
mod lifecycle;
mod operator;
mod parking;
mod profiles;
#[cfg(test)]
mod restart_tests;
mod run_watch;
mod shared_state;
mod stats;

pub use config::{default_state_dir, EngineConfig};
pub use operator::{RetryNowOutcome, RetryTarget};
pub use parking::{ParkAction, ParkOutcome, ParkRequest};
pub use stats::EngineStats;

use crate::breaker::{BreakerRegistry, BreakerState, MessageGuard, MessageVerdict, Permit};
use crate::classify::{Classification, Classifier};
use crate::clock::SharedClock;
use crate::error::{EngineError, EngineResult};
use crate::events::EventSink;
use crate::gateway::{GatewayClient, GatewayResender};
use crate::jitter::Jitter;
use crate::metrics::Metrics;
use crate::policy::{Decision, Failure, KeyState, PolicyTable};
use crate::reason::Reason;
use crate::redact::{scrubbing_sink, Redactor, ScrubbedResender};
use crate::resender::Resender;
use crate::scheduler::ProbeConfirm;
use crate::window::{effective_reset, Window};
use lifecycle::Life;
use serde_json::Value;
use std::sync::{Arc, Mutex, MutexGuard};

/// The retry engine. Share it behind an `Arc`; every method takes `&self`.
pub struct Engine {
    cfg: EngineConfig,
    clock: SharedClock,
    jitter: Jitter,
    events: EventSink,
    classifier: Classifier,
    tables: Arc<decision_sync::Tables>,
    gateway: GatewayClient,
    resender: Arc<dyn Resender>,
    /// Where decision state is kept; `None` = `decisions.*` files in the state directory.
    decision_store: Option<Arc<dyn crate::state::DecisionStore>>,
    drain: Arc<drain::Drain>,
    metrics: Arc<Metrics>,
    redactor: Arc<Redactor>,
    life: tokio::sync::Mutex<Life>,
    fleet: fleet_link::FleetLink,
    /// This engine, for the background watchers of `scheduler.confirm: "run"` (set by
    /// [`Engine::into_shared`]).
    this: run_watch::EngineSlot,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("state_dir", &self.cfg.state_dir)
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Engine {
    /// Build an engine. `resender` replaces the default (the gateway client) when given.
    /// Nothing touches the disk or the network until [`Engine::start`] or a call that needs it.
    pub fn new(
        cfg: EngineConfig,
        clock: SharedClock,
        events: EventSink,
        resender: Option<Arc<dyn Resender>>,
    ) -> EngineResult<Self> {
        let jitter = cfg.seed.map(Jitter::seeded).unwrap_or_default();
        let redactor = Arc::new(Redactor::new(
            [
                cfg.gateway.token.as_deref(),
                cfg.gateway.password.as_deref(),
            ]
            .into_iter()
            .flatten(),
        ));
        let events = scrubbing_sink(events, redactor.clone());
        let metrics = Arc::new(Metrics::new());
        let events = metrics.tap(events, clock.clone());
        let classifier = Classifier::new(cfg.classifier.clone())?;
        let policy = PolicyTable::new(cfg.policy.clone(), jitter.clone(), events.clone())?;
        let breakers = BreakerRegistry::new(cfg.breaker.clone(), events.clone())?;
        let guard = MessageGuard::new(cfg.message_guard.clone(), events.clone())?;
        cfg.scheduler.validate()?;
        let gateway = GatewayClient::new(
            cfg.gateway.clone(),
            clock.clone(),
            jitter.clone(),
            events.clone(),
        )?;
        let this = run_watch::EngineSlot::default();
        let resender = resender.unwrap_or_else(|| {
            let gateway_resender = Arc::new(
                GatewayResender::new(gateway.clone())
                    .with_final_check(final_failure::final_failure_check(this.clone())),
            );
            match cfg.scheduler.confirm {
                ProbeConfirm::Run { timeout_ms } => Arc::new(run_watch::RunWatchingResender {
                    inner: gateway_resender,
                    gateway: gateway.clone(),
                    engine: this.clone(),
                    max_wait_ms: timeout_ms.max(cfg.scheduler.await_timeout_ms).max(0) as u64,
                }),
                _ => gateway_resender,
            }
        });
        let resender: Arc<dyn Resender> =
            Arc::new(ScrubbedResender::new(resender, redactor.clone()));
        let drain = Arc::new(drain::Drain::default());
        let resender: Arc<dyn Resender> =
            Arc::new(drain::DrainingResender::new(resender, drain.clone()));
        Ok(Self {
            cfg,
            clock,
            jitter,
            events,
            classifier,
            tables: Arc::new(decision_sync::Tables {
                policy: Mutex::new(policy),
                breakers: Mutex::new(breakers),
                guard: Mutex::new(guard),
                changed: tokio::sync::Notify::new(),
            }),
            gateway,
            resender,
            decision_store: None,
            drain,
            metrics,
            redactor,
            life: tokio::sync::Mutex::new(Life::Idle),
            fleet: Default::default(),
            this,
        })
    }

    /// This engine behind an `Arc`, as it is shared; with `scheduler.confirm: "run"` the
    /// watchers of resent runs report to it (`resolve` / `park`). An engine used without this
    /// leaves those outcomes to the scheduler's timeouts.
    pub fn into_shared(self) -> Arc<Self> {
        let engine = Arc::new(self);
        let _ = engine.this.set(Arc::downgrade(&engine));
        engine
    }

    /// Keep decision state in `store` instead of the state directory's `decisions.*` files
    /// (e.g. a store shared by several gateways). Takes effect at `start()`.
    pub fn with_decision_store(mut self, store: Arc<dyn crate::state::DecisionStore>) -> Self {
        self.decision_store = Some(store);
        self
    }

    /// The configuration in force.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// Current time from the injected clock (epoch ms).
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn at(&self, now_ms: Option<i64>) -> i64 {
        now_ms.unwrap_or_else(|| self.clock.now_ms())
    }

    /// Classify a failure input (string, error-like object, HTTP response, `agent_end` event).
    /// The summary `message` never holds a configured secret or a known key format.
    pub fn classify(&self, input: &Value, now_ms: Option<i64>) -> Classification {
        let mut c = self.classifier.classify(input, self.at(now_ms));
        // The summary's key formats are already masked by the classifier.
        self.redactor.scrub_configured_in_place(&mut c.message);
        c
    }

    /// The redactor of this engine's configured secrets (and known key formats).
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Whether an outgoing chat message is surfaced error copy (never an ordinary reply).
    pub fn is_surfaced_error(&self, text: &str) -> bool {
        self.classifier.is_surfaced_error(text)
    }

    /// Classify `input` as a failure for the policy: `reason: null` inputs are refused.
    fn failure_of(&self, input: &Value, now_ms: i64) -> EngineResult<(Classification, Failure)> {
        let c = self.classify(input, Some(now_ms));
        let failure = failure_from(&c)?;
        Ok((c, failure))
    }

    /// Record a failure of `key` and decide what to do next (reason-aware policy).
    pub fn record_failure(
        &self,
        key: &str,
        input: &Value,
        now_ms: Option<i64>,
    ) -> EngineResult<Decision> {
        check_key("key", key)?;
        let now = self.at(now_ms);
        let (_, failure) = self.failure_of(input, now)?;
        self.apply_fleet_mail();
        let decision = locked(&self.tables.policy).record_failure(key, &failure, now);
        self.share_policy(key);
        self.decided();
        Ok(decision)
    }

    /// Record a success of `key`: clears its failure streak, cooldown and disable.
    pub fn record_success(&self, key: &str) -> EngineResult<()> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        locked(&self.tables.policy).record_success(key);
        self.share_policy(key);
        self.decided();
        Ok(())
    }

    /// The policy state of `key`, or `None` when it has no failures on record.
    pub fn state(&self, key: &str, now_ms: Option<i64>) -> EngineResult<Option<KeyState>> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        Ok(locked(&self.tables.policy).state(key, self.at(now_ms)))
    }

    /// Forget `key`'s policy state (re-enables a disabled key). Returns whether it existed.
    pub fn reset(&self, key: &str) -> EngineResult<bool> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        let existed = locked(&self.tables.policy).reset(key);
        self.share_policy(key);
        self.decided();
        Ok(existed)
    }

    /// Ask the breaker of `key` for permission to call.
    pub fn breaker_acquire(&self, key: &str, now_ms: Option<i64>) -> EngineResult<Permit> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        let (permit, changed) = {
            let mut b = locked(&self.tables.breakers);
            if b.record_of(key).is_none() {
                // Closed without failures (not tracked): allowed, and nothing changes.
                return Ok(Permit::Allowed);
            }
            let permit = b.try_acquire(key, self.at(now_ms));
            (permit, b.records_mut().has_changes())
        };
        // A closed breaker without failures is not tracked: nothing to write, no wake-up.
        if changed {
            self.decided();
        }
        Ok(permit)
    }

    /// Report the outcome of a call allowed by [`Engine::breaker_acquire`].
    pub fn breaker_record(&self, key: &str, ok: bool, now_ms: Option<i64>) -> EngineResult<()> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        let changed = {
            let mut b = locked(&self.tables.breakers);
            if ok && b.record_of(key).is_none() {
                // A success of a breaker that is not tracked (closed, no failures): no-op.
                false
            } else {
                let now = self.at(now_ms);
                if ok {
                    b.record_success(key, now)
                } else {
                    b.record_failure(key, now)
                }
                b.records_mut().has_changes()
            }
        };
        self.share_breaker(key);
        if changed {
            self.decided();
        }
        Ok(())
    }

    /// The breaker state of `key` (closed when unknown).
    pub fn breaker_state(&self, key: &str, now_ms: Option<i64>) -> EngineResult<BreakerState> {
        check_key("key", key)?;
        self.apply_fleet_mail();
        Ok(locked(&self.tables.breakers).state(key, self.at(now_ms)))
    }

    /// `message_sending` guard: cancel repeated surfaced error copy in a room, never a reply.
    pub fn check_message(
        &self,
        room_key: &str,
        text: &str,
        now_ms: Option<i64>,
    ) -> EngineResult<MessageVerdict> {
        check_key("roomKey", room_key)?;
        let surfaced = self.classifier.is_surfaced_error(text);
        let verdict = locked(&self.tables.guard).check(room_key, surfaced, self.at(now_ms));
        self.decided();
        Ok(verdict)
    }

    /// Next reset of a budget `window` (`"5h"`, `"1d"`, `"7d"`, `"1mo"`...) after `now_ms`, in
    /// the fixed UTC offset `offset_minutes` (default the policy's, 0), plus the policy's reset
    /// margin. A provider's `explicit_reset_ms` beats the computed time.
    pub fn next_reset(
        &self,
        window: &str,
        now_ms: Option<i64>,
        offset_minutes: Option<i32>,
        explicit_reset_ms: Option<i64>,
    ) -> EngineResult<i64> {
        let w = Window::parse(window).map_err(|e| EngineError::input("window", e.to_string()))?;
        if let Some(off) = offset_minutes {
            if !(-14 * 60..=14 * 60).contains(&off) {
                return Err(EngineError::input(
                    "utcOffsetMinutes",
                    format!("expected -840..840 minutes, got {off}"),
                ));
            }
        }
        let offset = offset_minutes.unwrap_or(self.cfg.policy.utc_offset_minutes);
        let computed = w.next_reset(self.at(now_ms), offset);
        Ok(effective_reset(
            explicit_reset_ms,
            computed,
            self.cfg.policy.reset_margin_ms,
        ))
    }

    /// Drop idle policy keys, breakers and message-guard rooms (every state). Returns how many.
    pub fn evict_idle(&self, now_ms: Option<i64>) -> usize {
        let now = self.at(now_ms);
        let n = locked(&self.tables.policy).evict_idle(now)
            + locked(&self.tables.breakers).evict_idle(now)
            + locked(&self.tables.guard).evict_idle(now);
        self.decided();
        n
    }

    /// Every policy, breaker and guard record (`exportState()`): what a restart keeps, for
    /// hosts that keep state elsewhere.
    pub fn export_state(&self) -> crate::state::DecisionState {
        self.tables.export()
    }

    /// Put exported records back (replacing the same keys; persisted once started). Returns
    /// how many records were imported.
    pub fn import_state(&self, state: crate::state::DecisionState) -> usize {
        self.tables.restore(state, false)
    }

    /// Tell the decision writer (if running) that a table changed.
    fn decided(&self) {
        self.tables.changed.notify_one();
    }

    /// The gateway client (shared connection).
    pub fn gateway(&self) -> &GatewayClient {
        &self.gateway
    }

    /// Send `message` into a session through the gateway (`chat.send`, idempotent per key).
    pub async fn send_to_session(
        &self,
        session_key: &str,
        message: &str,
        idempotency_key: Option<String>,
    ) -> EngineResult<crate::gateway::ChatAck> {
        check_key("sessionKey", session_key)?;
        if message.trim().is_empty() {
            return Err(EngineError::input("message", "expected a non-empty string"));
        }
        let key = idempotency_key.unwrap_or_else(|| {
            format!(
                "send:{}:{:x}",
                session_key,
                (self.jitter.unit() * u64::MAX as f64) as u64
            )
        });
        self.gateway.chat_send(session_key, message, &key).await
    }

    pub(crate) fn reason_policy_mode(&self, reason: Reason) -> crate::policy::Mode {
        self.cfg.policy.policy(reason).mode
    }
}

/// Keys must be non-empty and at most 1024 bytes.
/// The policy's view of a classified failure: `reason: null` inputs are refused.
pub(crate) fn failure_from(c: &Classification) -> EngineResult<Failure> {
    let reason = c.reason.ok_or_else(|| {
        EngineError::input(
            "input",
            "is not a failure (a successful run or an ordinary message); \
             call recordSuccess/resolve for successes",
        )
    })?;
    Ok(Failure {
        reason,
        retry_after_ms: c.retry_after_ms,
        reset_at_ms: c.reset_at_ms,
        message: c.message.clone(),
        relative_hint: c.relative_hint,
    })
}

pub(crate) fn check_key(field: &str, key: &str) -> EngineResult<()> {
    if key.trim().is_empty() {
        return Err(EngineError::input(field, "expected a non-empty string"));
    }
    if key.len() > 1024 {
        return Err(EngineError::input(
            field,
            format!("is {} bytes; keys are at most 1024 bytes", key.len()),
        ));
    }
    Ok(())
}
