//! Engine events to JS listeners: `engine.on(type | '*', listener)` and the `onEvent` option.
//!
//! Events cross from any thread through one *weak* threadsafe function, so listeners never
//! keep Node alive. On the JS thread every event gets `atMs` and is handed, as a fresh object,
//! to each listener registered for its type or for `'*'`. A listener that throws or returns a
//! rejected promise is contained: it is reported as a `listener_error` event to the other
//! listeners and, unless a listener is registered for `listener_error` itself, as a process
//! warning (code `RETRY_ENGINE_LISTENER_ERROR`). It never reaches the engine call that caused
//! the event, and never crashes the process.

use crate::clock::SharedClock;
use crate::events::{Event, EventSink};
use napi::bindgen_prelude::{
    CallbackContext, Function, FunctionRef, JsObjectValue, PromiseRaw, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Status};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A JS listener `(event) => unknown`.
pub type ListenerFn = FunctionRef<Value, Unknown<'static>>;

/// How a thrown value that cannot be turned into text is described.
const UNPRINTABLE: &str = "(a value that cannot be turned into text)";

/// The event type of listener errors.
const LISTENER_ERROR: &str = "listener_error";

/// Weak: queued events never hold the event loop.
type EventTsfn = ThreadsafeFunction<Value, (), (), Status, false, true>;

struct Listener {
    id: u64,
    /// `None` listens to every type (`'*'`).
    event_type: Option<String>,
    func: ListenerFn,
}

/// The listeners of one engine. Lives on the JS thread only.
struct Registry {
    next_id: u64,
    listeners: Vec<Listener>,
    /// Stamps `atMs` on `listener_error` events.
    clock: SharedClock,
}

/// Spelling of event types accepted by `on()`: `resend_failed`, `resend-failed` (the old
/// kebab-case names keep working) or `*`.
pub fn normalise_type(event_type: &str) -> String {
    event_type.trim().replace('-', "_")
}

/// The JS-thread half: registering listeners and dispatching events to them.
#[derive(Clone)]
pub struct EventHub {
    registry: Rc<RefCell<Registry>>,
    /// How many listeners exist; read by engine threads to skip encoding unheard events.
    count: Arc<AtomicUsize>,
    tsfn: Arc<EventTsfn>,
    clock: SharedClock,
}

impl EventHub {
    /// A hub with no listeners yet.
    pub fn new(env: &Env, clock: SharedClock) -> napi::Result<Self> {
        let registry = Rc::new(RefCell::new(Registry {
            next_id: 0,
            listeners: Vec::new(),
            clock: clock.clone(),
        }));
        let count = Arc::new(AtomicUsize::new(0));
        let noop: Function<'_, (), ()> =
            env.create_function_from_closure("retryEngineEvents", |_| Ok(()))?;
        let dispatch_registry = registry.clone();
        let tsfn = noop
            .build_threadsafe_function::<Value>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                dispatch(&ctx.env, &dispatch_registry, &ctx.value);
                Ok(())
            })?;
        Ok(Self {
            registry,
            count,
            tsfn: Arc::new(tsfn),
            clock,
        })
    }

    /// Add a listener for `event_type` (`'*'`: every type). Returns its id for [`Self::remove`].
    pub fn add(&self, event_type: &str, func: ListenerFn) -> u64 {
        let mut reg = self.registry.borrow_mut();
        reg.next_id += 1;
        let id = reg.next_id;
        let event_type = match normalise_type(event_type).as_str() {
            "*" => None,
            other => Some(other.to_string()),
        };
        reg.listeners.push(Listener {
            id,
            event_type,
            func,
        });
        self.count.store(reg.listeners.len(), Ordering::Release);
        id
    }

    /// Remove a listener; returns whether it was registered.
    pub fn remove(&self, id: u64) -> bool {
        let mut reg = self.registry.borrow_mut();
        let before = reg.listeners.len();
        reg.listeners.retain(|l| l.id != id);
        self.count.store(reg.listeners.len(), Ordering::Release);
        reg.listeners.len() != before
    }

    /// The engine-side sink: stamp `atMs`, encode and queue a non-blocking call; events are
    /// dropped without encoding while nobody listens.
    pub fn sink(&self) -> EventSink {
        let tsfn = self.tsfn.clone();
        let count = self.count.clone();
        let clock = self.clock.clone();
        Arc::new(move |event: Event| {
            if count.load(Ordering::Acquire) == 0 {
                return;
            }
            if let Ok(mut value) = serde_json::to_value(&event) {
                if let Some(obj) = value.as_object_mut() {
                    obj.insert("atMs".into(), json!(clock.now_ms() as f64));
                }
                tsfn.call(value, ThreadsafeFunctionCallMode::NonBlocking);
            }
        })
    }
}

/// Give `event` to every listener of its type and of `'*'`. Runs on the JS thread.
fn dispatch(env: &Env, registry: &Rc<RefCell<Registry>>, event: &Value) {
    let event_type = event.get("type").and_then(Value::as_str).unwrap_or("");
    for (id, func) in matching(env, registry, event_type) {
        let outcome = func.call(event.clone());
        contain(env, registry, id, event_type, outcome);
    }
}

/// The listeners for `event_type`, borrowed back as callable functions (the registry is not
/// borrowed while they run, so a listener may add or remove listeners).
fn matching<'env>(
    env: &'env Env,
    registry: &Rc<RefCell<Registry>>,
    event_type: &str,
) -> Vec<(u64, Function<'env, Value, Unknown<'static>>)> {
    registry
        .borrow()
        .listeners
        .iter()
        .filter(|l| l.event_type.as_deref().is_none_or(|t| t == event_type))
        .filter_map(|l| l.func.borrow_back(env).ok().map(|f| (l.id, f)))
        .collect()
}

/// Turn a listener's throw or rejected promise into a `listener_error` report.
fn contain(
    env: &Env,
    registry: &Rc<RefCell<Registry>>,
    id: u64,
    event_type: &str,
    outcome: napi::Result<Unknown<'static>>,
) {
    match outcome {
        Err(e) => {
            clear_pending_exception(env);
            report(env, registry, id, event_type, &e.reason);
        }
        Ok(value) => {
            if !value.is_promise().unwrap_or(false) {
                return;
            }
            let promise: PromiseRaw<'_, Unknown<'_>> = PromiseRaw::new(env.raw(), value.raw());
            let registry = registry.clone();
            let event_type = event_type.to_string();
            let caught = promise.catch(move |ctx: CallbackContext<Unknown<'_>>| {
                let message = describe(&ctx.env, ctx.value);
                report(&ctx.env, &registry, id, &event_type, &message);
                Ok(())
            });
            if caught.is_err() {
                clear_pending_exception(env);
            }
        }
    }
}

/// Emit `listener_error` to every other listener of it (or of `'*'`). One process warning
/// follows when nobody listens for `listener_error` itself or when one of these listeners
/// failed too (their failures only add to the warning: no recursion).
fn report(env: &Env, registry: &Rc<RefCell<Registry>>, failed: u64, event_type: &str, msg: &str) {
    let msg = if msg.is_empty() { UNPRINTABLE } else { msg };
    let message = format!("a retry-engine listener for `{event_type}` failed: {msg}");
    let event = json!({
        "type": LISTENER_ERROR,
        "atMs": registry.borrow().clock.now_ms() as f64,
        "eventType": event_type,
        "message": message,
    });
    let dedicated = registry
        .borrow()
        .listeners
        .iter()
        .any(|l| l.id != failed && l.event_type.as_deref() == Some(LISTENER_ERROR));
    let mut also_failed = Vec::new();
    for (id, func) in matching(env, registry, LISTENER_ERROR) {
        if id == failed {
            continue;
        }
        match func.call(event.clone()) {
            Err(e) => {
                clear_pending_exception(env);
                also_failed.push(if e.reason.is_empty() {
                    UNPRINTABLE.into()
                } else {
                    e.reason
                });
            }
            Ok(v) if v.is_promise().unwrap_or(false) => {
                let p: PromiseRaw<'_, Unknown<'_>> = PromiseRaw::new(env.raw(), v.raw());
                let base = message.clone();
                if p.catch(move |ctx: CallbackContext<Unknown<'_>>| {
                    let m = describe(&ctx.env, ctx.value);
                    warn(
                        &ctx.env,
                        &format!("{base}; a listener_error listener failed too: {m}"),
                    );
                    Ok(())
                })
                .is_err()
                {
                    clear_pending_exception(env);
                }
            }
            Ok(_) => {}
        }
    }
    if !also_failed.is_empty() {
        let more = also_failed.join("; ");
        warn(
            env,
            &format!("{message}; a listener_error listener failed too: {more}"),
        );
    } else if !dedicated {
        warn(env, &message);
    }
}

/// `process.emitWarning(message, { code: 'RETRY_ENGINE_LISTENER_ERROR' })`, best effort.
fn warn(env: &Env, message: &str) {
    let emitted = (|| -> napi::Result<()> {
        let process: napi::bindgen_prelude::Object =
            env.get_global()?.get_named_property("process")?;
        let emit: Function<'_, napi::bindgen_prelude::FnArgs<(String, Value)>, Unknown<'_>> =
            process.get_named_property("emitWarning")?;
        let options =
            json!({ "code": "RETRY_ENGINE_LISTENER_ERROR", "type": "RetryEngineWarning" });
        emit.apply(process, (message.to_string(), options).into())?;
        Ok(())
    })();
    if emitted.is_err() {
        clear_pending_exception(env);
    }
}

/// A thrown or rejected value as text (`String(value)`), never throwing.
fn describe(env: &Env, value: Unknown<'_>) -> String {
    let text = value
        .coerce_to_string()
        .and_then(|s| s.into_utf8())
        .and_then(|s| s.into_owned());
    match text {
        Ok(t) => t,
        Err(_) => {
            clear_pending_exception(env);
            UNPRINTABLE.to_string()
        }
    }
}

/// Clear an exception left pending by a failed call, so later N-API calls work.
pub(super) fn clear_pending_exception(env: &Env) {
    let mut pending = false;
    // SAFETY: plain N-API calls on the live env of the JS thread this runs on.
    unsafe {
        napi::sys::napi_is_exception_pending(env.raw(), &mut pending);
        if pending {
            let mut exception = std::ptr::null_mut();
            napi::sys::napi_get_and_clear_last_exception(env.raw(), &mut exception);
        }
    }
}
