//! Cancelling async calls: an `AbortSignal` in a call's options bag (`{ signal }`) rejects it
//! with `E_ABORTED`; `close()` rejects calls still waiting on the gateway with `E_CLOSED`, so
//! nothing lingers after it. Cancelling stops the wait; a request already written to the
//! gateway may still run there (`chat.send` is idempotent per `idempotencyKey`).

use crate::error::{EngineError, EngineResult};
use napi::bindgen_prelude::{
    FnArgs, Function, FunctionRef, JsObjectValue, Object, ObjectRef, Unknown,
};
use napi::{Env, ValueType};
use serde_json::json;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Flag {
    fired: AtomicBool,
    notify: Notify,
}

/// A one-shot cancellation flag that any thread can wait on.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Flag>);

impl Cancel {
    /// Fire it (idempotent); every waiter wakes.
    pub fn fire(&self) {
        self.0.fired.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether it has fired.
    pub fn is_fired(&self) -> bool {
        self.0.fired.load(Ordering::SeqCst)
    }

    /// Resolves once it has fired.
    pub async fn fired(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_fired() {
                return;
            }
            notified.await;
        }
    }
}

/// Run `fut` unless `abort` (`E_ABORTED`) or `closing` (`E_CLOSED`) fires first.
pub async fn race<T>(
    fut: impl Future<Output = EngineResult<T>>,
    abort: Option<Cancel>,
    closing: Cancel,
) -> EngineResult<T> {
    let aborted = async {
        match abort {
            Some(c) => c.fired().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        biased;
        _ = aborted => Err(EngineError::Aborted),
        _ = closing.fired() => Err(EngineError::Closed),
        r = fut => r,
    }
}

type AbortHandler = FunctionRef<(), ()>;
/// `signal.removeEventListener('abort', handler)`.
type RemoveListener<'a> = Function<'a, FnArgs<(String, Function<'a, (), ()>)>, Unknown<'a>>;
/// `signal.addEventListener('abort', handler, { once: true })`.
type AddListener<'a> =
    Function<'a, FnArgs<(String, Function<'a, (), ()>, serde_json::Value)>, Unknown<'a>>;

/// An `abort` listener added to a caller's `AbortSignal`; [`SignalWatch::detach`] removes it
/// when the call settles, so long-lived signals do not collect listeners.
pub struct SignalWatch {
    /// Fires when the signal aborts.
    pub cancel: Cancel,
    signal: ObjectRef<false>,
    handler: AbortHandler,
}

impl SignalWatch {
    /// Remove the listener (JS thread, when the call settled). Best effort.
    pub fn detach(self, env: &Env) {
        let _ = (|| -> napi::Result<()> {
            let signal = self.signal.get_value(env)?;
            let remove: RemoveListener<'_> = signal.get_named_property("removeEventListener")?;
            let handler = self.handler.borrow_back(env)?;
            remove.apply(signal, ("abort".to_string(), handler).into())?;
            Ok(())
        })();
        let _ = self.signal.unref(env);
    }
}

/// What `{ signal }` in an options bag asked for.
pub enum Signal {
    /// No signal given.
    None,
    /// Already aborted: reject at once with `E_ABORTED`.
    Aborted,
    /// Watching it.
    Watch(SignalWatch),
}

impl Signal {
    /// The cancel flag to race the call against.
    pub fn cancel(&self) -> Option<Cancel> {
        match self {
            Signal::Watch(w) => Some(w.cancel.clone()),
            _ => None,
        }
    }

    /// Detach the listener, if any.
    pub fn detach(self, env: &Env) {
        if let Signal::Watch(w) = self {
            w.detach(env)
        }
    }
}

/// Read `opts.signal` (`field` names it in errors). `undefined`/`null` options or signal:
/// [`Signal::None`]; anything that is not an `AbortSignal`-like object (`aborted` boolean and
/// `addEventListener`) is `E_INVALID_INPUT`.
pub fn read_signal(
    env: &Env,
    opts: Option<&Object<'_>>,
    field: &str,
) -> napi::Result<EngineResult<Signal>> {
    let Some(opts) = opts else {
        return Ok(Ok(Signal::None));
    };
    let value: Unknown = opts.get_named_property("signal")?;
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(Ok(Signal::None)),
        ValueType::Object => {}
        other => {
            return Ok(Err(EngineError::input(
                field,
                format!("expected an AbortSignal, got {other}"),
            )))
        }
    }
    // SAFETY: checked to be an object just above.
    let signal: Object = unsafe { value.cast()? };
    let aborted: Unknown = signal.get_named_property("aborted")?;
    let add: Unknown = signal.get_named_property("addEventListener")?;
    if aborted.get_type()? != ValueType::Boolean || add.get_type()? != ValueType::Function {
        return Ok(Err(EngineError::input(
            field,
            "expected an AbortSignal (an object with `aborted` and `addEventListener`)",
        )));
    }
    if signal.get_named_property::<bool>("aborted")? {
        return Ok(Ok(Signal::Aborted));
    }
    let cancel = Cancel::default();
    let fire = cancel.clone();
    let handler: Function<'_, (), ()> = env.create_function_from_closure("onAbort", move |_| {
        fire.fire();
        Ok(())
    })?;
    // SAFETY: checked to be a function above.
    let add: AddListener<'_> = unsafe { add.cast()? };
    add.apply(
        signal,
        ("abort".to_string(), handler, json!({ "once": true })).into(),
    )?;
    Ok(Ok(Signal::Watch(SignalWatch {
        cancel,
        signal: signal.create_ref::<false>()?,
        handler: handler.create_ref()?,
    })))
}

/// An options bag argument: `undefined`/`null` → `None`, an object → `Some`, anything else
/// → `E_INVALID_INPUT` naming `field`.
pub fn options_bag<'a>(
    value: Option<Unknown<'a>>,
    field: &str,
) -> napi::Result<EngineResult<Option<Object<'a>>>> {
    let Some(value) = value else {
        return Ok(Ok(None));
    };
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(Ok(None)),
        // SAFETY: checked to be an object.
        ValueType::Object => Ok(Ok(Some(unsafe { value.cast()? }))),
        other => Ok(Err(EngineError::input(
            field,
            format!("expected an options object, got {other}"),
        ))),
    }
}
