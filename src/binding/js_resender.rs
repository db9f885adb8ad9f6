//! A [`Resender`] backed by a JS callback `(request) => Promise<void> | void`.
//!
//! Each call gets `request.signal`, the signal of a fresh `AbortController` that is aborted
//! when the engine stops waiting for it: `close()` (after its `timeoutMs` grace) or any other
//! cancellation of the resend. The callback is held weakly: it never keeps Node alive.

use crate::error::EngineError;
use crate::resender::{ResendFuture, ResendOutcome, ResendRequest, Resender};
use napi::bindgen_prelude::{
    Either, Function, JsObjectValue, Null, Object, ObjectRef, Promise, ToNapiValue, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, JsValue, Status};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type ResendReturn = Either<Promise<Null>, Null>;
/// `(id, request)` in; the callback gets the request object with `signal`.
type ResendCallback =
    ThreadsafeFunction<(u64, Value), ResendReturn, RequestArg, Status, false, true>;

/// The request object handed to the callback (created on the JS thread just before the call).
struct RequestArg(napi::sys::napi_value);

impl ToNapiValue for RequestArg {
    unsafe fn to_napi_value(
        _env: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        Ok(val.0)
    }
}
/// `(id, abort)`: forget the controller of resend `id`, aborting it first when `abort`.
type SettleCallback = ThreadsafeFunction<(u64, bool), (), (), Status, false, true>;

/// The `AbortController`s of resends in flight. JS thread only.
#[derive(Clone, Default)]
pub struct Controllers(Rc<RefCell<HashMap<u64, ObjectRef<false>>>>);

impl Controllers {
    fn insert(&self, id: u64, controller: ObjectRef<false>) {
        self.0.borrow_mut().insert(id, controller);
    }

    /// Forget resend `id`'s controller, aborting it first when `abort`.
    fn settle(&self, env: &Env, id: u64, abort: bool) {
        let controller = self.0.borrow_mut().remove(&id);
        if let Some(c) = controller {
            if abort {
                abort_controller(env, &c);
            }
            let _ = c.unref(env);
        }
    }

    /// Abort every resend still in flight (`close()`).
    pub fn abort_all(&self, env: &Env) {
        let ids: Vec<u64> = self.0.borrow().keys().copied().collect();
        for id in ids {
            self.settle(env, id, true);
        }
    }
}

fn abort_controller(env: &Env, controller: &ObjectRef<false>) {
    let _ = (|| -> napi::Result<()> {
        let c = controller.get_value(env)?;
        let abort: Function<'_, (), Unknown<'_>> = c.get_named_property("abort")?;
        abort.apply(c, ())?;
        Ok(())
    })();
}

/// `new AbortController()`, its request object with `signal`, both on the JS thread.
fn request_with_signal(
    env: &Env,
    controllers: &Controllers,
    id: u64,
    request: &Value,
) -> napi::Result<RequestArg> {
    let ctor: Function<'_, (), Unknown<'_>> =
        env.get_global()?.get_named_property("AbortController")?;
    let controller: Object = ctor.new_instance(())?.coerce_to_object()?;
    let signal: Unknown = controller.get_named_property("signal")?;
    let mut obj: Object = env.to_js_value(request)?.coerce_to_object()?;
    obj.set_named_property("signal", signal)?;
    controllers.insert(id, controller.create_ref::<false>()?);
    Ok(RequestArg(obj.raw()))
}

/// Calls the user's `resend(request)` callback; a rejected promise or a throw is a failed resend.
#[derive(Clone)]
pub struct JsResender {
    callback: Arc<Mutex<Option<Arc<ResendCallback>>>>,
    settle: Arc<SettleCallback>,
    next_id: Arc<AtomicU64>,
}

impl JsResender {
    /// Wrap a JS function; `controllers` records the signals of resends in flight.
    pub fn from_function(
        env: &Env,
        f: Function<'_, Value, ResendReturn>,
        controllers: &Controllers,
    ) -> napi::Result<Self> {
        let on_call = controllers.clone();
        let tsfn = f
            .build_threadsafe_function::<(u64, Value)>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                request_with_signal(&ctx.env, &on_call, ctx.value.0, &ctx.value.1)
            })?;
        let on_settle = controllers.clone();
        let noop: Function<'_, (), ()> =
            env.create_function_from_closure("retryEngineResendSettled", |_| Ok(()))?;
        let settle = noop
            .build_threadsafe_function::<(u64, bool)>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx| {
                on_settle.settle(&ctx.env, ctx.value.0, ctx.value.1);
                Ok(())
            })?;
        Ok(Self {
            callback: Arc::new(Mutex::new(Some(Arc::new(tsfn)))),
            settle: Arc::new(settle),
            next_id: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Stop calling the callback (after `close()`); later resends fail with `E_CLOSED`.
    pub fn release(&self) {
        self.callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}

/// Tells the JS thread that resend `id` is over; aborts its signal unless it completed.
struct SettleOnDrop {
    id: u64,
    completed: bool,
    settle: Arc<SettleCallback>,
}

impl Drop for SettleOnDrop {
    fn drop(&mut self) {
        self.settle.call(
            (self.id, !self.completed),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }
}

impl Resender for JsResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        let callback = self
            .callback
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let settle = self.settle.clone();
        Box::pin(async move {
            let cb = callback.ok_or(EngineError::Closed)?;
            let value = serde_json::to_value(&req)
                .map_err(|e| EngineError::ResendFailed(format!("could not encode request: {e}")))?;
            let mut guard = SettleOnDrop {
                id,
                completed: false,
                settle,
            };
            let returned = cb
                .call_async_catch((id, value))
                .await
                .map_err(|e| EngineError::ResendFailed(e.reason.clone()));
            let result = match returned {
                Ok(Either::A(promise)) => promise
                    .await
                    .map(|_| ())
                    .map_err(|e| EngineError::ResendFailed(e.reason.clone())),
                Ok(Either::B(_)) => Ok(()),
                Err(e) => Err(e),
            };
            guard.completed = true;
            // The callback reports no run id; a probe is then confirmed by a `resolve` whose
            // runId is the request's idempotency key (what the gateway uses as runId).
            result.map(|()| ResendOutcome::Sent { run_id: None })
        })
    }
}
