//! The `RetryEngine` JS class: argument conversion and nothing else; all behaviour is in
//! [`crate::engine::Engine`].

use super::abort::{options_bag, race, read_signal, Cancel, Signal};
use super::args::{self, raw};
use super::breaker_calls;
use super::classification_js;
use super::convert::{promise, rejected, settle, to_js, to_js_direct};
use super::errors::to_napi;
use super::event_sink::EventHub;
use super::input::{self, Limits, Mode};
use super::js::Js;
use super::js_resender::{Controllers, JsResender};
use super::liveness::Liveness;
use super::options;
use super::own_methods;
use super::park_batch;
use crate::clock::SystemClock;
use crate::engine::{Engine, RetryTarget};
use crate::error::{EngineError, EngineResult};
use crate::options::parse_engine_options;
use crate::resender::Resender;
use napi::bindgen_prelude::{Function, JsObjectValue, Object, PromiseRaw, This, Unknown};
use napi::{Env, JsValue};
use napi_derive::napi;
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

/// Default of `close({ timeoutMs })`: how long in-flight resends may take to finish.
const DEFAULT_CLOSE_TIMEOUT_MS: f64 = 5000.0;

/// Keeps agent work alive through provider rate limits, quota windows, auth failures and
/// gateway restarts. See README.md for the tour. Like a `net.Server`, a started engine keeps
/// Node alive until `close()` (opt out with `unref()`); callbacks alone never do.
#[napi]
pub struct RetryEngine {
    engine: Arc<Engine>,
    hub: EventHub,
    resend: Option<JsResender>,
    controllers: Controllers,
    liveness: Rc<RefCell<Liveness>>,
    /// Fired by `close()`: gateway calls still waiting reject with `E_CLOSED`.
    closing: Cancel,
}

/// Run `fut` unless `signal` aborts (`E_ABORTED`) or the engine closes (`E_CLOSED`) first;
/// detach the signal's listener and run `after(env, ok)` on the JS thread when it settles.
fn abortable<'env, T, F>(
    env: &'env Env,
    signal: Signal,
    closing: Option<Cancel>,
    fut: F,
    after: impl FnOnce(&Env, bool) + 'static,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = EngineResult<T>> + Send + 'static,
{
    if let Signal::Aborted = signal {
        after(env, false);
        return rejected(env, &EngineError::Aborted);
    }
    let cancel = signal.cancel();
    let closing = closing.unwrap_or_default();
    park_batch::flush(env);
    env.spawn_future_with_callback(
        async move { Ok(race(fut, cancel, closing).await) },
        move |env, r| {
            signal.detach(env);
            after(env, r.is_ok());
            to_js(env, r)
        },
    )
}

/// Read the `{ signal }` of an options bag argument named `field`.
fn signal_of(
    env: &Env,
    opts: Option<Unknown<'_>>,
    field: &str,
) -> napi::Result<EngineResult<Signal>> {
    let bag = match options_bag(opts, field)? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    read_signal(env, bag.as_ref(), &format!("{field}.signal"))
}

fn ok_or_throw<T>(env: &Env, r: EngineResult<T>) -> napi::Result<T> {
    r.map_err(|e| to_napi(env, &e))
}

#[napi]
impl RetryEngine {
    /// Create an engine. Every option is optional; see `RetryEngineOptions` for defaults.
    /// Throws `E_INVALID_OPTION` naming the field on a wrong type or range.
    #[napi(constructor, ts_args_type = "options?: RetryEngineOptions | null")]
    pub fn new(env: Env, this: This<'_>, options: Unknown<'_>) -> napi::Result<Self> {
        let controllers = Controllers::default();
        let raw = ok_or_throw(&env, options::read(&env, options, &controllers)?)?;
        let cfg = ok_or_throw(
            &env,
            parse_engine_options(raw.json.as_ref(), raw.resend.is_some()),
        )?;
        let clock = Arc::new(SystemClock);
        let hub = EventHub::new(&env, clock.clone())?;
        if let Some(on_event) = raw.on_event {
            hub.add("*", on_event);
        }
        let resender = raw.resend.clone().map(|r| Arc::new(r) as Arc<dyn Resender>);
        let engine =
            ok_or_throw(&env, Engine::new(cfg, clock, hub.sink(), resender))?.into_shared();
        own_methods::install(env.raw(), this.object.raw(), &engine)?;
        Ok(Self {
            engine,
            hub,
            resend: raw.resend,
            controllers,
            liveness: Rc::new(RefCell::new(Liveness::new(&env)?)),
            closing: Cancel::default(),
        })
    }

    /// Listen to events of `type` (`'parked'`, `'resend_failed'`, ...; the old kebab-case
    /// names such as `'resend-failed'` work too) or of every type (`'*'`). Several listeners
    /// may listen to one type. Returns a function that removes this listener (and returns
    /// whether it was still registered). A listener that throws or rejects never affects the
    /// engine: it is reported as a `listener_error` event and/or a process warning.
    #[napi(
        ts_generic_types = "T extends EngineEventType | '*'",
        ts_args_type = "type: T | LegacyEventType, listener: (event: T extends '*' ? EngineEvent : Extract<EngineEvent, { type: T }>) => unknown",
        ts_return_type = "() => boolean"
    )]
    pub fn on<'env>(
        &self,
        env: &'env Env,
        event_type: Unknown<'_>,
        listener: Unknown<'_>,
    ) -> napi::Result<Function<'env, (), bool>> {
        let js = Js::new(env.raw());
        let event_type = ok_or_throw(env, args::string(js, raw(&event_type), "type"))?;
        if event_type.trim().is_empty() {
            return Err(to_napi(
                env,
                &EngineError::input("type", "expected an event type or '*'"),
            ));
        }
        if js.kind(raw(&listener)) != super::js::Kind::Function {
            let got = js.kind(raw(&listener)).name();
            return Err(to_napi(
                env,
                &EngineError::input("listener", format!("expected a function, got {got}")),
            ));
        }
        // SAFETY: checked to be a function just above.
        let listener: Function<'_, Value, Unknown<'static>> = unsafe { listener.cast()? };
        let id = self.hub.add(&event_type, listener.create_ref()?);
        let hub = self.hub.clone();
        env.create_function_from_closure("unsubscribe", move |_| Ok(hub.remove(id)))
    }

    /// Keep Node alive while started (the default). Returns the engine.
    #[napi(js_name = "ref", ts_return_type = "this")]
    pub fn keep_alive<'env>(
        &self,
        env: &'env Env,
        this: This<'env>,
    ) -> napi::Result<Unknown<'env>> {
        self.liveness.borrow_mut().set_wanted(env, true)?;
        // SAFETY: `this` is a live value of this call's scope.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), this.raw()) })
    }

    /// Let Node exit even though the engine is started (its scheduler then runs only while
    /// something else keeps Node alive). Returns the engine.
    #[napi(ts_return_type = "this")]
    pub fn unref<'env>(&self, env: &'env Env, this: This<'env>) -> napi::Result<Unknown<'env>> {
        self.liveness.borrow_mut().set_wanted(env, false)?;
        // SAFETY: `this` is a live value of this call's scope.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), this.raw()) })
    }

    /// Whether the engine currently keeps Node alive (started, not closed, not unref'd).
    #[napi(js_name = "hasRef")]
    pub fn has_ref(&self) -> bool {
        self.liveness.borrow().holds_loop()
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
        let obj = classification_js::classify(env.raw(), &self.engine, raw(&input))?;
        // SAFETY: `obj` is a live object of this env.
        Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), obj) })
    }

    /// Whether an outgoing chat message is surfaced error copy (never an ordinary reply).
    #[napi(ts_args_type = "text: string")]
    pub fn is_surfaced_error(&self, env: Env, text: Unknown<'_>) -> napi::Result<bool> {
        let text = ok_or_throw(&env, args::text(Js::new(env.raw()), raw(&text), "text"))?;
        Ok(self.engine.is_surfaced_error(&text))
    }

    /// Record a failure of `key` (a session, cron job, room, profile...) and get the decision.
    #[napi(
        ts_args_type = "key: string, input: FailureInput, nowMs?: number | null",
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
    /// are the one probe) or `rejected` with `retryAtMs`. The `allowed` and `probe` permits
    /// are shared frozen objects (the same object on every call); `rejected` is a new object.
    /// Each instance also has this method as its own (non-enumerable) property, which skips
    /// the class-method call overhead and works detached; both behave the same.
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
        let r = breaker_calls::acquire(env.raw(), &self.engine, raw(&key), raw(&now_ms));
        // SAFETY: the value was just created in `env`.
        r.map(|v| unsafe { Unknown::from_raw_unchecked(env.raw(), v) })
            .map_err(|e| own_methods::to_napi_error(env, e))
    }

    /// Report the outcome of a call the breaker allowed. Like `breakerAcquire`, each instance
    /// also has it as its own (non-enumerable) property.
    #[napi(ts_args_type = "key: string, ok: boolean, nowMs?: number | undefined | null")]
    pub fn breaker_record(
        &self,
        env: Env,
        key: Unknown<'_>,
        ok: Unknown<'_>,
        now_ms: Unknown<'_>,
    ) -> napi::Result<()> {
        breaker_calls::record(env.raw(), &self.engine, raw(&key), raw(&ok), raw(&now_ms))
            .map_err(|e| own_methods::to_napi_error(&env, e))
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
            let text = args::text(js, raw(&text), "text")?;
            let now = args::now(js, raw(&now_ms))?;
            self.engine.check_message(&room, &text, now)
        })();
        to_js_direct(env, r)
    }

    /// Next reset (epoch ms) of a fixed budget window (`30s`, `5m`, `5h`, `1d`, `7d`, `30d`,
    /// `1mo`) after `nowMs`, plus the reset margin; `explicitResetMs` (a provider's reset time)
    /// wins when given.
    #[napi(ts_args_type = "window: string, nowMs?: number | null, opts?: NextResetOptions | null")]
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
    /// the resume scheduler. From now until `close()` the engine keeps Node alive (see
    /// `unref()`). `opts.signal` aborts a start still opening the state (`E_ABORTED`; the
    /// engine stays unstarted).
    #[napi(
        ts_args_type = "opts?: AbortOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn start<'env>(
        &self,
        env: &'env Env,
        this: This<'env>,
        opts: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let signal = match args::readable(Js::new(env.raw()), signal_of(env, opts, "opts"), "opts")
        {
            Ok(s) => s,
            Err(e) => return rejected(env, &e),
        };
        let was_started = self.liveness.borrow().is_started();
        self.liveness.borrow_mut().started(env, &this)?;
        let engine = self.engine.clone();
        let liveness = self.liveness.clone();
        // An aborted start is dropped before it marks the engine running, so the engine stays
        // unstarted (abort wins only while start is still waiting).
        abortable(
            env,
            signal,
            Some(self.closing.clone()),
            async move { engine.start().await },
            move |env, ok| {
                if !ok && !was_started {
                    let _ = liveness.borrow_mut().stopped(env);
                }
            },
        )
    }

    /// Stop the scheduler (nothing parked is lost), close the gateway connection and let Node
    /// exit. Resends in flight get up to `opts.timeoutMs` (default 5000) to finish; then their
    /// `signal` is aborted and their sessions stay parked. Gateway calls still waiting reject
    /// with `E_CLOSED`. Idempotent.
    #[napi(
        ts_args_type = "opts?: CloseOptions | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn close<'env>(
        &self,
        env: &'env Env,
        opts: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let grace = match args::readable(Js::new(env.raw()), close_timeout(env, opts), "opts") {
            Ok(g) => g,
            Err(e) => return rejected(env, &e),
        };
        // Parks staged in this turn start before the close.
        park_batch::flush(env);
        self.closing.fire();
        let engine = self.engine.clone();
        let resend = self.resend.clone();
        let controllers = self.controllers.clone();
        let liveness = self.liveness.clone();
        env.spawn_future_with_callback(
            async move { Ok(engine.close_within(grace).await) },
            move |env, r| {
                controllers.abort_all(env);
                if let Some(r) = resend {
                    r.release();
                }
                let _ = liveness.borrow_mut().stopped(env);
                to_js(env, r)
            },
        )
    }

    /// `await using engine = new RetryEngine(...)`: the same as `close()`.
    #[napi(well_known_symbol = "asyncDispose", ts_return_type = "Promise<void>")]
    pub fn async_dispose<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        self.close(env, None)
    }

    /// Park a failed session until waiting can fix it (classifies `input`; one entry per
    /// session). `meta.message` is the text to resend; `meta.provider`/`meta.group` group
    /// sessions for the one-probe-first resume.
    #[napi(
        ts_args_type = "sessionKey: string, input: FailureInput, meta?: ParkMeta | null",
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
        // Staged with the other parks of this JS turn and run as one batch (`park_batch`).
        match a {
            Ok(a) => park_batch::stage(env, self.engine.clone(), a)
                .map(|p| PromiseRaw::new(env.raw(), p)),
            Err(e) => rejected(env, &e),
        }
    }

    /// A session succeeded: clear its state and remove its parked entry, durably, whatever
    /// stage its resume is in. `evidence.runId` (the run that succeeded) confirms a probe when
    /// it is the run of our own resend. Resolves to whether it was parked.
    #[napi(
        ts_args_type = "sessionKey: string, evidence?: { runId?: string }",
        ts_return_type = "Promise<boolean>"
    )]
    pub fn resolve<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
        evidence: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            let key = args::string(js, raw(&session_key), "sessionKey")?;
            let evidence = args::opt_object(js, raw(&evidence), "evidence", Mode::Params)?;
            let run_id = match evidence.get("runId") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(crate::error::EngineError::input(
                        "evidence.runId",
                        "expected a string",
                    ))
                }
            };
            Ok((key, run_id))
        })();
        let engine = self.engine.clone();
        settle(env, a, move |(key, run_id)| async move {
            engine.resolve(&key, run_id.as_deref()).await
        })
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
        let js = Js::new(env.raw());
        let a = args::opt_object(js, raw(&target), "target", Mode::Meta)
            .and_then(|v| RetryTarget::from_value(&v));
        let engine = self.engine.clone();
        settle(env, a, move |t| async move { engine.retry_now(t).await })
    }

    /// Add `by` (default 1) to a lifetime counter kept in `<stateDir>/counters.json`
    /// (survives restarts); resolves to the new value. Works before `start()`.
    #[napi(
        ts_args_type = "name: string, by?: number",
        ts_return_type = "Promise<number>"
    )]
    pub fn add_counter<'env>(
        &self,
        env: &'env Env,
        name: Unknown<'_>,
        by: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = args::string(js, raw(&name), "name").and_then(|n| {
            let by = args::opt_count(js, raw(&by), "by", 1, crate::counters::MAX_INCREMENT)?;
            Ok((n, by))
        });
        let engine = self.engine.clone();
        settle(env, a, move |(n, by)| async move {
            engine.add_counter(&n, by).await
        })
    }

    /// Every lifetime counter (`{name: value}`; empty before the first `addCounter`).
    #[napi(ts_return_type = "Promise<Record<string, number>>")]
    pub fn counters<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.counters().await })
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

    /// Prometheus metrics in the OpenMetrics text format: counters of parks, resends, probes,
    /// abandons, breaker transitions..., parked entries by status, the resume-lag histogram.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn metrics<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let engine = self.engine.clone();
        promise(env, async move { engine.metrics().await })
    }

    /// Send a message into a session through the gateway (`chat.send`); resolves to the ack.
    /// The third argument is the idempotency key, or `{ idempotencyKey?, signal? }`.
    #[napi(
        ts_args_type = "sessionKey: string, message: string, opts?: string | SendOptions | null",
        ts_return_type = "Promise<ChatAck>"
    )]
    pub fn send_to_session<'env>(
        &self,
        env: &'env Env,
        session_key: Unknown<'_>,
        message: Unknown<'_>,
        opts: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
        let js = Js::new(env.raw());
        let a = (|| {
            Ok((
                args::string(js, raw(&session_key), "sessionKey")?,
                args::string(js, raw(&message), "message")?,
            ))
        })();
        let (key, message) = match a {
            Ok(a) => a,
            Err(e) => return rejected(env, &e),
        };
        let (idempotency_key, signal) = match args::readable(js, send_options(env, opts), "opts") {
            Ok(v) => v,
            Err(e) => return rejected(env, &e),
        };
        let engine = self.engine.clone();
        abortable(
            env,
            signal,
            Some(self.closing.clone()),
            async move {
                engine
                    .send_to_session(&key, &message, idempotency_key)
                    .await
            },
            |_, _| {},
        )
    }

    /// Call any gateway method (e.g. `cron.list`) over the shared connection.
    /// `opts.signal` aborts the wait (`E_ABORTED`).
    #[napi(
        ts_args_type = "method: string, params?: Record<string, unknown> | null, opts?: AbortOptions | null",
        ts_return_type = "Promise<unknown>"
    )]
    pub fn gateway_request<'env>(
        &self,
        env: &'env Env,
        method: Unknown<'_>,
        params: Unknown<'_>,
        opts: Unknown<'_>,
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
        let (method, params) = match a {
            Ok(a) => a,
            Err(e) => return rejected(env, &e),
        };
        let signal = match args::readable(js, signal_of(env, Some(opts), "opts"), "opts") {
            Ok(s) => s,
            Err(e) => return rejected(env, &e),
        };
        let engine = self.engine.clone();
        abortable(
            env,
            signal,
            Some(self.closing.clone()),
            async move { engine.gateway().request(&method, params).await },
            |_, _| {},
        )
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

/// `close({ timeoutMs })`: a finite number >= 0, default 5000.
fn close_timeout(
    env: &Env,
    opts: Option<Unknown<'_>>,
) -> napi::Result<EngineResult<std::time::Duration>> {
    let bag = match options_bag(opts, "opts")? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let ms = match bag {
        None => DEFAULT_CLOSE_TIMEOUT_MS,
        Some(o) => {
            let v: Unknown = o.get_named_property("timeoutMs")?;
            match v.get_type()? {
                napi::ValueType::Undefined | napi::ValueType::Null => DEFAULT_CLOSE_TIMEOUT_MS,
                napi::ValueType::Number => {
                    let n: f64 = o.get_named_property("timeoutMs")?;
                    if !(n.is_finite() && n >= 0.0) {
                        return Ok(Err(EngineError::input(
                            "opts.timeoutMs",
                            format!("expected a finite number of milliseconds >= 0, got {n}"),
                        )));
                    }
                    n
                }
                other => {
                    return Ok(Err(EngineError::input(
                        "opts.timeoutMs",
                        format!("expected a number of milliseconds, got {other}"),
                    )))
                }
            }
        }
    };
    let _ = env;
    Ok(Ok(std::time::Duration::from_millis(ms as u64)))
}

/// `sendToSession`'s third argument: an idempotency key (string) or
/// `{ idempotencyKey?, signal? }`.
fn send_options(
    env: &Env,
    opts: Unknown<'_>,
) -> napi::Result<EngineResult<(Option<String>, Signal)>> {
    if opts.get_type()? == napi::ValueType::String {
        let key = args::string(Js::new(env.raw()), raw(&opts), "idempotencyKey");
        return Ok(key.map(|k| (Some(k), Signal::None)));
    }
    let bag: Option<Object> = match options_bag(Some(opts), "opts")? {
        Ok(b) => b,
        Err(e) => return Ok(Err(e)),
    };
    let key = match &bag {
        None => None,
        Some(o) => {
            let v: Unknown = o.get_named_property("idempotencyKey")?;
            match v.get_type()? {
                napi::ValueType::Undefined | napi::ValueType::Null => None,
                napi::ValueType::String => Some(o.get_named_property::<String>("idempotencyKey")?),
                other => {
                    return Ok(Err(EngineError::input(
                        "opts.idempotencyKey",
                        format!("expected a string, got {other}"),
                    )))
                }
            }
        }
    };
    let signal = match read_signal(env, bag.as_ref(), "opts.signal")? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok((key, signal)))
}
