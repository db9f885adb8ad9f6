//! The `RetryEngine` JS class: argument conversion and nothing else; all behaviour is in
//! [`crate::engine::Engine`].

use super::args::{self, raw};
use super::convert::{promise, settle, to_js, to_js_direct};
use super::errors::to_napi;
use super::event_sink::JsEventSink;
use super::input::{self, Limits, Mode};
use super::js::Js;
use super::js_resender::JsResender;
use super::options;
use crate::clock::SystemClock;
use crate::engine::Engine;
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

fn ok_or_throw<T>(env: &Env, r: EngineResult<T>) -> napi::Result<T> {
    r.map_err(|e| to_napi(env, &e))
}

#[napi]
impl RetryEngine {
    /// Create an engine. Every option is optional; see `RetryEngineOptions` for defaults.
    /// Throws `E_INVALID_OPTION` naming the field on a wrong type or range.
    #[napi(constructor, ts_args_type = "options?: RetryEngineOptions")]
    pub fn new(env: Env, options: Unknown<'_>) -> napi::Result<Self> {
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
        let v = args::failure(Js::new(env.raw()), raw(&input));
        to_js_direct(env, Ok(self.engine.classify(&v, None)))
    }

    /// Whether an outgoing chat message is surfaced error copy (never an ordinary reply).
    #[napi(ts_args_type = "text: string")]
    pub fn is_surfaced_error(&self, env: Env, text: Unknown<'_>) -> napi::Result<bool> {
        let text = ok_or_throw(&env, args::string(Js::new(env.raw()), raw(&text), "text"))?;
        Ok(self.engine.is_surfaced_error(&text))
    }

    /// Record a failure of `key` (a session, cron job, room, profile...) and get the decision.
    #[napi(
        ts_args_type = "key: string, input: FailureInput, nowMs?: number",
        ts_return_type = "Decision"
    )]
    pub fn record_failure<'env>(
        &self,
        env: &'env Env,
        key: Unknown<'_>,
        input: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let js = Js::new(env.raw());
        let r = (|| {
            let key = args::string(js, raw(&key), "key")?;
            let now = args::now(js, raw(&now_ms))?;
            let v = args::failure(js, raw(&input));
            self.engine.record_failure(&key, &v, now)
        })();
        to_js_direct(env, r)
    }

    /// Record a success of `key`: clears its streak, cooldown and disable.
    #[napi(ts_args_type = "key: string")]
    pub fn record_success(&self, env: Env, key: Unknown<'_>) -> napi::Result<()> {
        let js = Js::new(env.raw());
        let r = args::string(js, raw(&key), "key").and_then(|k| self.engine.record_success(&k));
        ok_or_throw(&env, r)
    }

    /// The policy state of `key`, or `null` when it has no failures on record.
    #[napi(
        ts_args_type = "key: string, nowMs?: number | undefined | null",
        ts_return_type = "KeyState | null"
    )]
    pub fn state<'env>(
        &self,
        env: &'env Env,
        key: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let js = Js::new(env.raw());
        let r = args::string(js, raw(&key), "key").and_then(|key| {
            let now = args::now(js, raw(&now_ms))?;
            self.engine.state(&key, now)
        });
        to_js_direct(env, r)
    }

    /// Forget `key`'s policy state (re-enables it). Returns whether it existed.
    #[napi(ts_args_type = "key: string")]
    pub fn reset(&self, env: Env, key: Unknown<'_>) -> napi::Result<bool> {
        let js = Js::new(env.raw());
        let r = args::string(js, raw(&key), "key").and_then(|k| self.engine.reset(&k));
        ok_or_throw(&env, r)
    }

    /// Ask the circuit breaker of `key` for permission: `allowed`, `probe` (half-open, you
    /// are the one probe) or `rejected` with `retryAtMs`.
    #[napi(
        ts_args_type = "key: string, nowMs?: number | undefined | null",
        ts_return_type = "Permit"
    )]
    pub fn breaker_acquire<'env>(
        &self,
        env: &'env Env,
        key: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let js = Js::new(env.raw());
        let r = args::string(js, raw(&key), "key").and_then(|key| {
            let now = args::now(js, raw(&now_ms))?;
            self.engine.breaker_acquire(&key, now)
        });
        to_js_direct(env, r)
    }

    /// Report the outcome of a call the breaker allowed.
    #[napi(ts_args_type = "key: string, ok: boolean, nowMs?: number | undefined | null")]
    pub fn breaker_record(
        &self,
        env: Env,
        key: Unknown<'_>,
        ok: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<()> {
        let js = Js::new(env.raw());
        let r = (|| {
            let key = args::string(js, raw(&key), "key")?;
            let ok = args::boolean(js, raw(&ok), "ok")?;
            let now = args::now(js, raw(&now_ms))?;
            self.engine.breaker_record(&key, ok, now)
        })();
        ok_or_throw(&env, r)
    }

    /// The breaker state of `key` (`closed` when unknown).
    #[napi(
        ts_args_type = "key: string, nowMs?: number | undefined | null",
        ts_return_type = "BreakerState"
    )]
    pub fn breaker_state<'env>(
        &self,
        env: &'env Env,
        key: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let js = Js::new(env.raw());
        let r = args::string(js, raw(&key), "key").and_then(|key| {
            let now = args::now(js, raw(&now_ms))?;
            self.engine.breaker_state(&key, now)
        });
        to_js_direct(env, r)
    }

    /// For OpenClaw's `message_sending` hook: `{cancel: true}` for repeated surfaced error
    /// messages in a room; ordinary replies always pass.
    #[napi(
        ts_args_type = "roomKey: string, text: string, nowMs?: number | undefined | null",
        ts_return_type = "MessageVerdict"
    )]
    pub fn check_message<'env>(
        &self,
        env: &'env Env,
        room_key: Unknown<'_>,
        text: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<Unknown<'env>> {
        let js = Js::new(env.raw());
        let r = (|| {
            let room = args::string(js, raw(&room_key), "roomKey")?;
            let text = args::string(js, raw(&text), "text")?;
            let now = args::now(js, raw(&now_ms))?;
            self.engine.check_message(&room, &text, now)
        })();
        to_js_direct(env, r)
    }

    /// Next reset (epoch ms) of a fixed budget window (`30s`, `5m`, `5h`, `1d`, `7d`, `30d`,
    /// `1mo`) after `nowMs`, plus the reset margin; `explicitResetMs` (a provider's reset time)
    /// wins when given.
    #[napi(ts_args_type = "window: string, nowMs?: number, opts?: NextResetOptions")]
    pub fn next_reset(
        &self,
        env: Env,
        window: Unknown<'_>,
        now_ms: Unknown<'_>,
        opts: Unknown<'_>,
    ) -> napi::Result<f64> {
        let js = Js::new(env.raw());
        let r = (|| {
            let window = args::string(js, raw(&window), "window")?;
            let now = args::now(js, raw(&now_ms))?;
            let opts = args::opt_object(js, raw(&opts), "opts", Mode::Params)?;
            let offset = match opts.get("utcOffsetMinutes") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_i64()
                        .filter(|m| i32::try_from(*m).is_ok())
                        .ok_or_else(|| {
                            EngineError::input(
                                "opts.utcOffsetMinutes",
                                "expected an integer number of minutes",
                            )
                        })? as i32,
                ),
            };
            let explicit = match opts.get("explicitResetMs") {
                None | Some(Value::Null) => None,
                Some(v) => Some(
                    v.as_f64()
                        .filter(|ms| ms.is_finite() && (0.0..=8.64e15).contains(ms))
                        .ok_or_else(|| {
                            EngineError::input(
                                "opts.explicitResetMs",
                                "expected epoch milliseconds",
                            )
                        })? as i64,
                ),
            };
            self.engine.next_reset(&window, now, offset, explicit)
        })();
        ok_or_throw(&env, r).map(|v| v as f64)
    }

    /// Drop idle policy keys, breakers and rooms in every state. Returns how many.
    #[napi(ts_args_type = "nowMs?: number | undefined | null")]
    pub fn evict_idle(&self, env: Env, now_ms: Unknown<'_>) -> napi::Result<u32> {
        let now = ok_or_throw(&env, args::now(Js::new(env.raw()), raw(&now_ms)))?;
        Ok(self.engine.evict_idle(now) as u32)
    }

    /// Every policy, breaker and guard record (what a restart keeps), for hosts that keep
    /// state elsewhere. Works before `start()` too.
    #[napi(ts_return_type = "DecisionState")]
    pub fn export_state<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        to_js(env, Ok(self.engine.export_state()))
    }

    /// Put records from `exportState()` back, replacing the same keys (saved to the state
    /// directory once started). Returns how many records were imported. Throws
    /// `E_INVALID_INPUT` on a malformed state (nothing is imported then).
    #[napi(ts_args_type = "state: DecisionState")]
    pub fn import_state(&self, env: Env, state: Unknown<'_>) -> napi::Result<u32> {
        // An exported state holds one object per key: read it with room for every key the
        // tables can hold (the policy's and breakers' `maxKeys`).
        let limits = Limits {
            max_nodes: 64_000_000,
            max_keys: 8_000_000,
            max_total_bytes: 1 << 30,
            ..Limits::default()
        };
        let parsed = match input::read(Js::new(env.raw()), raw(&state), Mode::Params, limits) {
            Ok(v) => crate::state::DecisionState::from_json(v.unwrap_or(Value::Null))
                .map_err(|e| EngineError::input("state", e)),
            Err(p) => Err(EngineError::input(
                format!("state.{}", p.path).trim_end_matches('.'),
                p.message,
            )),
        };
        let state = ok_or_throw(&env, parsed)?;
        Ok(self.engine.import_state(state) as u32)
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
        session_key: Unknown<'_>,
        input: Unknown<'_>,
        meta: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            let key = args::string(js, raw(&session_key), "sessionKey")?;
            let meta = args::opt_object(js, raw(&meta), "meta", Mode::Meta)?;
            Ok((key, args::failure(js, raw(&input)), meta))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(key, input, meta)| async move {
            engine.park(&key, &input, meta, None).await
        })
    }

    /// A session succeeded: clear its state and remove its parked entry (confirms a probe).
    /// Resolves to whether it was parked.
    #[napi(
        ts_args_type = "sessionKey: string",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let a = args::string(Js::new(env.raw()), raw(&session_key), "sessionKey");
        let engine = self.engine.clone();
        settle(env, a, move |key| async move { engine.resolve(&key).await })
    }

    /// Remove a parked session without resending it; resolves to the removed entry or null.
    #[napi(
        ts_args_type = "sessionKey: string",
        ts_return_type = "Promise<ParkedEntry | null>"
    )]
    pub fn unpark<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let a = args::string(Js::new(env.raw()), raw(&session_key), "sessionKey");
        let engine = self.engine.clone();
        settle(env, a, move |key| async move { engine.unpark(&key).await })
    }

    /// The parked entry of a session, or null.
    #[napi(
        ts_args_type = "sessionKey: string",
        ts_return_type = "Promise<ParkedEntry | null>"
    )]
    pub fn get<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let a = args::string(Js::new(env.raw()), raw(&session_key), "sessionKey");
        let engine = self.engine.clone();
        settle(env, a, move |key| async move { engine.get(&key).await })
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
    #[napi(
        ts_args_type = "sessionKey: string, message: string, idempotencyKey?: string | undefined | null",
        ts_return_type = "Promise<ChatAck>"
    )]
    pub fn send_to_session<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
        message: Unknown<'_>,
        idempotency_key: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            Ok((
                args::string(js, raw(&session_key), "sessionKey")?,
                args::string(js, raw(&message), "message")?,
                args::opt_string(js, raw(&idempotency_key), "idempotencyKey")?,
            ))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(key, message, idem)| async move {
            engine.send_to_session(&key, &message, idem).await
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
        method: Unknown<'_>,
        params: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            let method = args::string(js, raw(&method), "method")?;
            if method.trim().is_empty() {
                return Err(EngineError::input("method", "expected a non-empty string"));
            }
            let params = match args::opt_object(js, raw(&params), "params", Mode::Params)? {
                Value::Null => Value::Object(Default::default()),
                p => p,
            };
            Ok((method, params))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(method, params)| async move {
            engine.gateway().request(&method, params).await
        })
    }

    /// The next usable auth profile of `provider` (round robin by last use, skipping cooled-
    /// down and disabled ones); `candidates` limits and registers the set.
    #[napi(
        ts_args_type = "provider: string, candidates?: Array<string> | undefined | null",
        ts_return_type = "Promise<PickResult>"
    )]
    pub fn pick_profile<'env>(
        &self,
        env: &'env Env,
        provider: Unknown<'_>,
        candidates: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            Ok((
                args::string(js, raw(&provider), "provider")?,
                args::opt_string_list(js, raw(&candidates), "candidates")?,
            ))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(provider, candidates)| async move {
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
        profile_id: Unknown<'_>,
        outcome: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = args::string(js, raw(&profile_id), "profileId")
            .map(|id| (id, args::failure(js, raw(&outcome))));
        let engine = self.engine.clone();
        settle(env, a, move |(id, outcome)| async move {
            engine.mark_profile(&id, &outcome).await
        })
    }

    /// Register an auth profile under a provider; resolves to whether it was new.
    #[napi(
        ts_args_type = "profileId: string, provider: string",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn register_profile<'env>(
        &self,
        env: &'env Env,
        profile_id: Unknown<'_>,
        provider: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            Ok((
                args::string(js, raw(&profile_id), "profileId")?,
                args::string(js, raw(&provider), "provider")?,
            ))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(id, provider)| async move {
            engine.register_profile(&id, &provider).await
        })
    }

    /// Every auth profile (of `provider`, when given) with status and usage stats.
    #[napi(
        ts_args_type = "provider?: string | undefined | null",
        ts_return_type = "Promise<ProfileView[]>"
    )]
    pub fn profiles<'env>(
        &self,
        env: &'env Env,
        provider: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let a = args::opt_string(Js::new(env.raw()), raw(&provider), "provider");
        let engine = self.engine.clone();
        settle(env, a, move |provider| async move {
            engine.profiles(provider).await
        })
    }
}
