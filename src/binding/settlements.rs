//! Settling the promises of the async methods from tokio: one threadsafe function per JS
//! environment for all of them, and results that finish close together delivered to the JS
//! thread in one wake-up.
//!
//! napi's own `spawn_future_with_callback` creates (and later releases) a threadsafe function
//! for every promise and wakes the JS thread once per settlement: about 20 µs of CPU per call
//! on 2 cores, more than most of the engine's methods cost. Here a finished future pushes its
//! settlement onto its environment's queue and wakes the JS thread only when the queue was
//! empty; the JS thread settles everything queued in one go. While any promise is pending the
//! threadsafe function is referenced (Node stays alive for it, as it does for napi's);
//! otherwise it is not (a process with nothing pending exits as before).

use napi::bindgen_prelude::{ToNapiValue, Unknown};
use napi::{sys, Env, JsError, JsValue};
use std::cell::RefCell;
use std::ffi::c_void;
use std::future::Future;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Settles one promise on the JS thread: converts the result and resolves or rejects.
type Settle = Box<dyn FnOnce(&Env, sys::napi_deferred) + Send>;

/// A promise's deferred handle, moved to tokio and back; only ever used on the JS thread.
struct Deferred(sys::napi_deferred);

// SAFETY: the handle is only carried by other threads; it is dereferenced (settled) on the JS
// thread of its environment alone, in `deliver`.
unsafe impl Send for Deferred {}

/// The threadsafe function, shared with tokio; `None` once its environment is gone.
struct Tsfn(Option<sys::napi_threadsafe_function>);

// SAFETY: calling a threadsafe function from any thread is its purpose; it is released and
// cleared under the same mutex that guards every call, so no call races its release.
unsafe impl Send for Tsfn {}

#[derive(Default)]
struct Queue {
    settlements: Vec<(Deferred, Settle)>,
}

/// What tokio threads share with the JS thread of one environment.
struct Shared {
    queue: Mutex<Queue>,
    tsfn: Mutex<Tsfn>,
    /// Promises created and not yet settled (the threadsafe function is referenced while > 0).
    pending: AtomicUsize,
}

fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Queue a settlement; wake the JS thread if nothing was queued (it would not otherwise
    /// look). After the environment is gone the settlement is dropped (no JS to settle).
    fn push(&self, deferred: Deferred, settle: Settle) {
        let was_empty = {
            let mut q = guard(&self.queue);
            let was_empty = q.settlements.is_empty();
            q.settlements.push((deferred, settle));
            was_empty
        };
        if was_empty {
            let tsfn = guard(&self.tsfn);
            if let Some(f) = tsfn.0 {
                // SAFETY: `f` is live: it is released only under this same lock, then cleared.
                unsafe {
                    sys::napi_call_threadsafe_function(
                        f,
                        ptr::null_mut(),
                        sys::ThreadsafeFunctionCallMode::nonblocking,
                    )
                };
            }
        }
    }
}

/// The settlements of one environment, held by its JS thread.
struct Settlements {
    env: sys::napi_env,
    shared: Arc<Shared>,
    tsfn: sys::napi_threadsafe_function,
}

thread_local! {
    /// This thread's settlements; cleared by an environment cleanup hook.
    static SETTLEMENTS: RefCell<Option<Settlements>> = const { RefCell::new(None) };
}

/// The threadsafe function's JS-thread callback: settle everything queued. `env` is null
/// when the function is being torn down (the settlements are dropped then).
unsafe extern "C" fn deliver(
    env: sys::napi_env,
    _js_callback: sys::napi_value,
    context: *mut c_void,
    _data: *mut c_void,
) {
    // SAFETY: `context` is the `Shared` that `make` leaked for the function's lifetime.
    let shared = unsafe { &*context.cast::<Shared>() };
    let settlements = std::mem::take(&mut guard(&shared.queue).settlements);
    if env.is_null() {
        return;
    }
    let js = Env::from_raw(env);
    let count = settlements.len();
    for (deferred, settle) in settlements {
        let mut scope = ptr::null_mut();
        // SAFETY: on the JS thread of `env`, inside its callback.
        let opened =
            unsafe { sys::napi_open_handle_scope(env, &mut scope) } == sys::Status::napi_ok;
        settle(&js, deferred.0);
        if opened {
            // SAFETY: the scope opened just above.
            unsafe { sys::napi_close_handle_scope(env, scope) };
        }
    }
    if count > 0 && shared.pending.fetch_sub(count, Ordering::AcqRel) == count {
        // SAFETY: the function is live while its env calls back into it.
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn_of(env)) };
    }
}

/// This thread's threadsafe function for `env` (null if none).
fn tsfn_of(env: sys::napi_env) -> sys::napi_threadsafe_function {
    SETTLEMENTS
        .try_with(|s| {
            s.borrow()
                .as_ref()
                .filter(|s| s.env == env)
                .map_or(ptr::null_mut(), |s| s.tsfn)
        })
        .unwrap_or(ptr::null_mut())
}

/// Env cleanup hook: the environment going away (`arg`) settles nothing more; its
/// threadsafe function is released and no tokio thread calls it again.
unsafe extern "C" fn forget(arg: *mut c_void) {
    let _ = SETTLEMENTS.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_some_and(|s| s.env.cast::<c_void>() == arg) {
            if let Some(s) = slot.take() {
                let mut tsfn = guard(&s.shared.tsfn);
                if let Some(f) = tsfn.0.take() {
                    // SAFETY: live until this release; cleared under the lock every call takes.
                    unsafe {
                        sys::napi_release_threadsafe_function(
                            f,
                            sys::ThreadsafeFunctionReleaseMode::abort,
                        )
                    };
                }
            }
        }
    });
}

/// The function's finalizer: frees the `Shared` that `make` leaked for it.
unsafe extern "C" fn finalize(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: `data` is the `Arc<Shared>` leaked by `make`, finalized once.
    drop(unsafe { Arc::from_raw(data.cast::<Shared>()) });
}

fn make(env: sys::napi_env) -> Option<Settlements> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        tsfn: Mutex::new(Tsfn(None)),
        pending: AtomicUsize::new(0),
    });
    let context = Arc::into_raw(shared.clone()).cast_mut().cast::<c_void>();
    let mut name = ptr::null_mut();
    let label = "retry-engine settlements";
    let mut tsfn = ptr::null_mut();
    // SAFETY: `env` is the live environment of this JS thread; `context` outlives the function
    // (freed by its finalizer).
    let created = unsafe {
        sys::napi_create_string_utf8(env, label.as_ptr().cast(), label.len() as isize, &mut name)
            == sys::Status::napi_ok
            && sys::napi_create_threadsafe_function(
                env,
                ptr::null_mut(),
                ptr::null_mut(),
                name,
                0,
                1,
                context,
                Some(finalize),
                context,
                Some(deliver),
                &mut tsfn,
            ) == sys::Status::napi_ok
    };
    if !created {
        // SAFETY: the function does not exist, so its finalizer never frees this.
        drop(unsafe { Arc::from_raw(context.cast::<Shared>()) });
        return None;
    }
    // SAFETY: the function was just created on this thread.
    unsafe { sys::napi_unref_threadsafe_function(env, tsfn) };
    guard(&shared.tsfn).0 = Some(tsfn);
    // SAFETY: registered once per environment; `forget` checks which env it is called for.
    unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget), env.cast::<c_void>()) };
    Some(Settlements { env, shared, tsfn })
}

/// The shared state of `env`'s settlements, created on first use; counts one more pending
/// promise (referencing the threadsafe function on the first).
fn begin(env: sys::napi_env) -> Option<Arc<Shared>> {
    SETTLEMENTS.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_none_or(|s| s.env != env) {
            *slot = Some(make(env)?);
        }
        let s = slot.as_ref()?;
        if s.shared.pending.fetch_add(1, Ordering::AcqRel) == 0 {
            // SAFETY: on the JS thread of `env`, whose function this is.
            unsafe { sys::napi_ref_threadsafe_function(env, s.tsfn) };
        }
        Some(s.shared.clone())
    })
}

/// One pending promise fewer without a settlement (its creation failed).
fn cancel(env: sys::napi_env, shared: &Shared) {
    if shared.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
        // SAFETY: on the JS thread of `env`, whose function this is.
        unsafe { sys::napi_unref_threadsafe_function(env, tsfn_of(env)) };
    }
}

/// Run `fut` on tokio and settle a new promise with `on_js` of its output, on the JS thread:
/// resolved with the value it returns, rejected with the error it returns. Gives `fut` back
/// if the promise or the shared function could not be made (the caller takes napi's path).
pub fn spawn<T, F>(
    env: &Env,
    fut: F,
    on_js: for<'e> fn(&'e Env, T) -> napi::Result<Unknown<'e>>,
) -> Result<sys::napi_value, F>
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let raw = env.raw();
    let Some(shared) = begin(raw) else {
        return Err(fut);
    };
    let mut deferred = ptr::null_mut();
    let mut promise = ptr::null_mut();
    // SAFETY: `raw` is the live environment of this call.
    if unsafe { sys::napi_create_promise(raw, &mut deferred, &mut promise) } != sys::Status::napi_ok
    {
        cancel(raw, &shared);
        return Err(fut);
    }
    let deferred = Deferred(deferred);
    napi::bindgen_prelude::spawn(async move {
        let out = fut.await;
        let settle: Settle = Box::new(move |env, deferred| settle(env, deferred, on_js(env, out)));
        shared.push(deferred, settle);
    });
    Ok(promise)
}

/// Resolve `deferred` with `r`'s value, or reject it with its error.
fn settle(env: &Env, deferred: sys::napi_deferred, r: napi::Result<Unknown<'_>>) {
    let raw = env.raw();
    match r {
        // SAFETY: `deferred` is settled exactly once, here, on its JS thread.
        Ok(v) => unsafe {
            sys::napi_resolve_deferred(raw, deferred, v.raw());
        },
        Err(e) => {
            // SAFETY: on the JS thread of `raw`; `deferred` is settled exactly once, here.
            unsafe {
                let value = ToNapiValue::to_napi_value(raw, e).unwrap_or_else(|_| {
                    JsError::from(napi::Error::from_reason("could not settle the call"))
                        .into_value(raw)
                });
                sys::napi_reject_deferred(raw, deferred, value);
            }
        }
    }
}
