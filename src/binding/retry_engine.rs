//! The `RetryEngine` JS class: argument conversion and nothing else; all behaviour is in
//! [`crate::engine::Engine`].

use super::convert::{now_arg, promise, to_js};
use super::errors::to_napi;
use super::event_sink::JsEventSink;
use super::input::js_to_json;
use super::js_resender::JsResender;
use super::options;
use crate::clock::SystemClock;
use crate::engine::{Engine, RetryTarget};
use crate::error::{EngineError, EngineResult};
use crate::events::null_sink;
use crate::options::parse_options;
use crate::resender::Resender;
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use napi_derive::napi;
use serde_json::Value;
use std::sync::Arc;

/// Keeps agent work alive through provider rate limits, quota windows, auth failures and
/// gateway restarts. See README.md for the tour. Always `await engine.close()` when done: a
/// running engine (or an `onEvent` callback) keeps Node alive until then.
#[napi]
pub struct RetryEngine {
    engine: Arc<Engine>,
    events: Option<JsEventSink>,
    resend: Option<JsResender>,
}

fn input_json(env: &Env, input: Unknown<'_>) -> napi::Result<Value> {
    js_to_json(env, input).map_err(|e| {
        to_napi(
            env,
            &EngineError::input("input", format!("could not be read: {}", e.reason)),
        )
    })
}

fn ok_or_throw<T>(env: &Env, r: EngineResult<T>) -> napi::Result<T> {
    r.map_err(|e| to_napi(env, &e))
}

#[napi]
impl RetryEngine {
    /// Create an engine. Every option is optional; see `RetryEngineOptions` for defaults.
    /// Throws `E_INVALID_OPTION` naming the field on a wrong type or range.
    #[napi(constructor, ts_args_type = "options?: RetryEngineOptions")]
    pub fn new(env: Env, options: Option<Unknown<'_>>) -> napi::Result<Self> {
        let raw = ok_or_throw(&env, options::read(&env, options)?)?;
        let cfg = ok_or_throw(&env, parse_options(raw.json.as_ref()))?;
        let sink = raw.on_event.as_ref().map_or_else(null_sink, |s| s.sink());
        let resender = raw.resend.clone().map(|r| Arc::new(r) as Arc<dyn Resender>);
        let engine = ok_or_throw(
            &env,
            Engine::new(cfg, Arc::new(SystemClock), sink, resender),
        )?;
        Ok(Self {
            engine: Arc::new(engine),
            events: raw.on_event,
            resend: raw.resend,
        })
    }

    /// Classify a failure: a string, an `Error`, `{status, headers, body}`, or an OpenClaw
    /// `agent_end` event. `reason` is `null` when the input is not a failure.
    #[napi(
        ts_args_type = "input: FailureInput",
        ts_return_type = "Classification"
    )]
    pub fn classify<'env>(
        &self,
        env: &'env Env,
        input: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let v = input_json(env, input)?;
        to_js(env, Ok(self.engine.classify(&v, None)))
    }

    /// Whether an outgoing chat message is surfaced error copy (never an ordinary reply).
    #[napi]
    pub fn is_surfaced_error(&self, text: String) -> bool {
        self.engine.is_surfaced_error(&text)
    }

    /// Record a failure of `key` (a session, cron job, room, profile...) and get the decision.
    #[napi(
        ts_args_type = "key: string, input: FailureInput, nowMs?: number",
        ts_return_type = "Decision"
    )]
    pub fn record_failure<'env>(
        &self,
        env: &'env Env,
        key: String,
        input: Unknown<'_>,
        now_ms: Option<f64>,
    ) -> napi::Result<Unknown<'env>> {
        let v = input_json(env, input)?;
        let r = now_arg(now_ms).and_then(|now| self.engine.record_failure(&key, &v, now));
        to_js(env, r)
    }

    /// Record a success of `key`: clears its streak, cooldown and disable.
    #[napi]
    pub fn record_success(&self, env: Env, key: String) -> napi::Result<()> {
        ok_or_throw(&env, self.engine.record_success(&key))
    }

    /// The policy state of `key`, or `null` when it has no failures on record.
    #[napi(ts_return_type = "KeyState | null")]
    pub fn state<'env>(
        &self,
        env: &'env Env,
        key: String,
        now_ms: Option<f64>,
    ) -> napi::Result<Unknown<'env>> {
        let r = now_arg(now_ms).and_then(|now| self.engine.state(&key, now));
        to_js(env, r)
    }

    /// Forget `key`'s policy state (re-enables it). Returns whether it existed.
    #[napi]
    pub fn reset(&self, env: Env, key: String) -> napi::Result<bool> {
        ok_or_throw(&env, self.engine.reset(&key))
    }

    /// Ask the circuit breaker of `key` for permission: `allowed`, `probe` (half-open, you
    /// are the one probe) or `rejected` with `retryAtMs`.
    #[napi(ts_return_type = "Permit")]
    pub fn breaker_acquire<'env>(
        &self,
        env: &'env Env,
        key: String,
        now_ms: Option<f64>,
    ) -> napi::Result<Unknown<'env>> {
        let r = now_arg(now_ms).and_then(|now| self.engine.breaker_acquire(&key, now));
        to_js(env, r)
    }

    /// Report the outcome of a call the breaker allowed.
    #[napi]
    pub fn breaker_record(
        &self,
        env: Env,
        key: String,
        ok: bool,
        now_ms: Option<f64>,
    ) -> napi::Result<()> {
        let r = now_arg(now_ms).and_then(|now| self.engine.breaker_record(&key, ok, now));
        ok_or_throw(&env, r)
    }

    /// The breaker state of `key` (`closed` when unknown).
    #[napi(ts_return_type = "BreakerState")]
    pub fn breaker_state<'env>(
        &self,
        env: &'env Env,
        key: String,
        now_ms: Option<f64>,
    ) -> napi::Result<Unknown<'env>> {
        let r = now_arg(now_ms).and_then(|now| self.engine.breaker_state(&key, now));
        to_js(env, r)
    }

    /// For OpenClaw's `message_sending` hook: `{cancel: true}` for repeated surfaced error
    /// messages in a room; ordinary replies always pass.
    #[napi(ts_return_type = "MessageVerdict")]
    pub fn check_message<'env>(
        &self,
        env: &'env Env,
        room_key: String,
        text: String,
        now_ms: Option<f64>,
    ) -> napi::Result<Unknown<'env>> {
        let r = now_arg(now_ms).and_then(|now| self.engine.check_message(&room_key, &text, now));
        to_js(env, r)
    }

    /// Next reset (epoch ms) of a fixed budget window (`30s`, `5m`, `5h`, `1d`, `7d`, `30d`,
    /// `1mo`) after `nowMs`, plus the reset margin; `explicitResetMs` (a provider's reset time)
    /// wins when given.
    #[napi(ts_args_type = "window: string, nowMs?: number, opts?: NextResetOptions")]
    pub fn next_reset(
        &self,
        env: Env,
        window: String,
        now_ms: Option<f64>,
        opts: Option<Unknown<'_>>,
    ) -> napi::Result<f64> {
        let opts = match opts {
            Some(o) => input_json(&env, o)?,
            None => Value::Null,
        };
        let r = (|| {
            let now = now_arg(now_ms)?;
            let offset = match opts.get("utcOffsetMinutes") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_i64().ok_or_else(|| {
                    EngineError::input("opts.utcOffsetMinutes", "expected an integer")
                })? as i32),
            };
            let explicit = match opts.get("explicitResetMs") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_f64().ok_or_else(|| {
                    EngineError::input("opts.explicitResetMs", "expected epoch milliseconds")
                })? as i64),
            };
            self.engine.next_reset(&window, now, offset, explicit)
        })();
        ok_or_throw(&env, r).map(|v| v as f64)
    }

    /// Drop idle policy keys, breakers and rooms in every state. Returns how many.
    #[napi]
    pub fn evict_idle(&self, env: Env, now_ms: Option<f64>) -> napi::Result<u32> {
        let now = ok_or_throw(&env, now_arg(now_ms))?;
        Ok(self.engine.evict_idle(now) as u32)
    }

    /// Open the state directory (import an old queue once, recover damaged files) and start
    /// the resume scheduler.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.start().await })
    }

    /// Stop the scheduler (nothing parked is lost), close the gateway connection and release
    /// the callbacks so Node can exit. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        let events = self.events.clone();
        let resend = self.resend.clone();
        promise(env, async move {
            let r = engine.close().await;
            if let Some(r) = resend {
                r.release();
            }
            if let Some(e) = events {
                e.release();
            }
            r
        })
    }

    /// Park a failed session until waiting can fix it (classifies `input`; one entry per
    /// session). `meta.message` is the text to resend; `meta.provider`/`meta.group` group
    /// sessions for the one-probe-first resume.
    #[napi(
        ts_args_type = "sessionKey: string, input: FailureInput, meta?: ParkMeta",
        ts_return_type = "Promise<ParkOutcome>"
    )]
    pub fn park<'env>(
        &self,
        env: &'env Env,
        session_key: String,
        input: Unknown<'_>,
        meta: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let input = input_json(env, input)?;
        let meta = match meta {
            Some(m) => input_json(env, m)?,
            None => Value::Null,
        };
        let engine = self.engine.clone();
        promise(env, async move {
            engine.park(&session_key, &input, meta, None).await
        })
    }

    /// A session succeeded: clear its state and remove its parked entry (confirms a probe).
    /// Resolves to whether it was parked.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        session_key: String,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.resolve(&session_key).await })
    }

    /// Remove a parked session without resending it; resolves to the removed entry or null.
    #[napi(ts_return_type = "Promise<ParkedEntry | null>")]
    pub fn unpark<'env>(
        &self,
        env: &'env Env,
        session_key: String,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.unpark(&session_key).await })
    }

    /// Resend parked sessions now: `{sessionKey}` or every session of `{group}` becomes due
    /// and goes through the scheduler (one probe per group first). Resolves to
    /// `{due, inFlight}` (session keys).
    #[napi(
        ts_args_type = "target: { sessionKey: string } | { group: string }",
        ts_return_type = "Promise<RetryNowOutcome>"
    )]
    pub fn retry_now<'env>(
        &self,
        env: &'env Env,
        target: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let target = js_to_json(env, target)
            .map_err(|e| EngineError::input("target", format!("could not be read: {}", e.reason)))
            .and_then(|v| RetryTarget::from_value(&v));
        let engine = self.engine.clone();
        promise(env, async move { engine.retry_now(target?).await })
    }

    /// Add `by` (default 1) to a lifetime counter kept in `<stateDir>/counters.json`
    /// (survives restarts); resolves to the new value. Works before `start()`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn add_counter<'env>(
        &self,
        env: &'env Env,
        name: String,
        by: Option<f64>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let by = match by {
            None => Ok(1),
            Some(n) if n.fract() == 0.0 && (1.0..=1e9).contains(&n) => Ok(n as u64),
            Some(n) => Err(EngineError::input(
                "by",
                format!("expected an integer from 1 to 1000000000, got {n}"),
            )),
        };
        let engine = self.engine.clone();
        promise(env, async move { engine.add_counter(&name, by?).await })
    }

    /// Every lifetime counter (`{name: value}`; empty before the first `addCounter`).
    #[napi(ts_return_type = "Promise<Record<string, number>>")]
    pub fn counters<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.counters().await })
    }

    /// The parked entry of a session, or null.
    #[napi(ts_return_type = "Promise<ParkedEntry | null>")]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        session_key: String,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.get(&session_key).await })
    }

    /// Every parked entry, earliest due first.
    #[napi(ts_return_type = "Promise<ParkedEntry[]>")]
    pub fn pending<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.pending().await })
    }

    /// Counts and per-key states for UIs and listings.
    #[napi(ts_return_type = "Promise<EngineStats>")]
    pub fn stats<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.stats().await })
    }

    /// Send a message into a session through the gateway (`chat.send`); resolves to the ack.
    #[napi(ts_return_type = "Promise<ChatAck>")]
    pub fn send_to_session<'env>(
        &self,
        env: &'env Env,
        session_key: String,
        message: String,
        idempotency_key: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move {
            engine
                .send_to_session(&session_key, &message, idempotency_key)
                .await
        })
    }

    /// Call any gateway method (e.g. `cron.list`) over the shared connection.
    #[napi(
        ts_args_type = "method: string, params?: Record<string, unknown>",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn gateway_request<'env>(
        &self,
        env: &'env Env,
        method: String,
        params: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let params = match params {
            Some(p) => input_json(env, p)?,
            None => Value::Object(Default::default()),
        };
        let engine = self.engine.clone();
        promise(env, async move {
            engine.gateway().request(&method, params).await
        })
    }

    /// The next usable auth profile of `provider` (round robin by last use, skipping cooled-
    /// down and disabled ones); `candidates` limits and registers the set.
    #[napi(ts_return_type = "Promise<PickResult>")]
    pub fn pick_profile<'env>(
        &self,
        env: &'env Env,
        provider: String,
        candidates: Option<Vec<String>>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move {
            engine.pick_profile(&provider, candidates).await
        })
    }

    /// Record how a call with `profileId` went: `"success"`, `{reason, retryAfterMs?,
    /// resetAtMs?}`, or any failure input to classify.
    #[napi(
        ts_args_type = "profileId: string, outcome: 'success' | ProfileOutcome | FailureInput",
        ts_return_type = "Promise<MarkResult>"
    )]
    pub fn mark_profile<'env>(
        &self,
        env: &'env Env,
        profile_id: String,
        outcome: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let outcome = input_json(env, outcome)?;
        let engine = self.engine.clone();
        promise(env, async move {
            engine.mark_profile(&profile_id, &outcome).await
        })
    }

    /// Register an auth profile under a provider; resolves to whether it was new.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn register_profile<'env>(
        &self,
        env: &'env Env,
        profile_id: String,
        provider: String,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move {
            engine.register_profile(&profile_id, &provider).await
        })
    }

    /// Every auth profile (of `provider`, when given) with status and usage stats.
    #[napi(ts_return_type = "Promise<ProfileView[]>")]
    pub fn profiles<'env>(
        &self,
        env: &'env Env,
        provider: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.profiles(provider).await })
    }
}
