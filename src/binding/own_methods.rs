//! Own methods: fast entry points for the hottest calls of a `RetryEngine` instance.
//!
//! A napi-rs class method pays, on every call, for unwrapping `this`, checking its type tag
//! and registering the borrow in a process-wide table (≈ 0.2–0.3 µs together, more than a
//! breaker decision itself). So each instance also gets `breakerAcquire`, `breakerRecord` and
//! `classify` as own, non-enumerable function properties ([`install`], called by the
//! constructor) that carry the engine in their own data: they shadow the prototype methods of
//! the same name and do exactly what they do (the same functions serve both), without the
//! three steps. They work whatever `this` is (`const { classify } = engine` works too).
//! `classify` is a JS function around its native half (see `classification_js`), so that the
//! result object is built by JS object literals.

use super::breaker_calls;
use super::classification_js;
use super::errors::{error_value, to_napi};
use super::js;
use crate::engine::Engine;
use crate::error::EngineError;
use napi::{sys, Env};
use std::ffi::{c_void, CStr};
use std::ptr;
use std::sync::Arc;

/// Why a call failed: an engine error (thrown with its `err.code`) or a napi failure.
pub enum CallError {
    /// Thrown as a JS `Error` with `code`.
    Engine(EngineError),
    /// A failed napi call (should not happen).
    Napi(napi::Error),
}

impl From<EngineError> for CallError {
    fn from(e: EngineError) -> Self {
        CallError::Engine(e)
    }
}

impl From<napi::Error> for CallError {
    fn from(e: napi::Error) -> Self {
        CallError::Napi(e)
    }
}

/// `e` as the napi error a class method returns (thrown with the engine's `err.code`).
pub fn to_napi_error(env: &Env, e: CallError) -> napi::Error {
    match e {
        CallError::Engine(e) => to_napi(env, &e),
        CallError::Napi(e) => e,
    }
}

/// Throw `e` in `env` (an engine error with its `err.code`, as the class methods throw it);
/// returns the null value a callback returns after throwing.
fn throw(env: sys::napi_env, e: CallError) -> sys::napi_value {
    match e {
        CallError::Engine(e) => {
            let value = error_value(&Env::from_raw(env), e.code(), &e.to_string());
            if !value.is_null() {
                // SAFETY: `value` is an error object just created in `env`.
                unsafe { sys::napi_throw(env, value) };
            }
        }
        // SAFETY: `env` is the live environment of the JS thread this runs on.
        CallError::Napi(e) => unsafe { napi::JsError::from(e).throw_into(env) },
    }
    ptr::null_mut()
}

/// The arguments (missing ones are `undefined`) and the engine of a fast call.
///
/// # Safety
/// `info` is the callback info of a function made by [`install`]; the engine pointer is valid
/// for the rest of the call (its box is freed only by the function's finalizer, which cannot
/// run while the function is being called).
pub unsafe fn call_args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<([sys::napi_value; N], *const Engine)> {
    // SAFETY: `info` is the info of the call now running (the caller's contract).
    let (argv, data) = unsafe { js::callback_args::<N>(env, info) }?;
    if data.is_null() {
        return None;
    }
    // SAFETY: `data` is the `Arc<Engine>` boxed by `function`.
    let engine: &Arc<Engine> = unsafe { &*data.cast::<Arc<Engine>>() };
    Some((argv, Arc::as_ptr(engine)))
}

/// Run `f`, turning a panic into a thrown internal error instead of an abort.
pub fn guarded(
    env: sys::napi_env,
    f: impl FnOnce() -> Result<sys::napi_value, CallError>,
) -> sys::napi_value {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => throw(env, e),
        Err(_) => throw(
            env,
            CallError::Napi(napi::Error::from_reason("an engine call panicked")),
        ),
    }
}

unsafe extern "C" fn drop_engine(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    if !data.is_null() {
        // SAFETY: `data` is the box made by `function`, finalized once.
        drop(unsafe { Box::from_raw(data.cast::<Arc<Engine>>()) });
    }
}

/// A JS function `name` calling `cb` with its own reference to `engine` (dropped when the
/// function is collected).
fn function(
    env: sys::napi_env,
    name: &CStr,
    cb: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
    engine: &Arc<Engine>,
) -> napi::Result<sys::napi_value> {
    let data = Box::into_raw(Box::new(engine.clone())).cast::<c_void>();
    // `data` stays valid until the finalizer below.
    let Some(func) = js::Js::new(env).create_function(name, cb, data) else {
        // SAFETY: not handed to napi.
        drop(unsafe { Box::from_raw(data.cast::<Arc<Engine>>()) });
        return Err(napi::Error::from_reason(
            "could not create an engine function",
        ));
    };
    // SAFETY: `func` is a live function of `env`; the finalizer frees `data` once.
    let status = unsafe {
        sys::napi_add_finalizer(
            env,
            func,
            data,
            Some(drop_engine),
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok {
        // The function may still be called, so `data` stays (leaked, one engine reference).
        return Err(napi::Error::from_reason(
            "could not attach an engine function",
        ));
    }
    Ok(func)
}

/// Give the new instance `this` its own `breakerAcquire`, `breakerRecord` and `classify`
/// (writable, configurable, not enumerable, like methods).
pub fn install(
    env: sys::napi_env,
    this: sys::napi_value,
    engine: &Arc<Engine>,
) -> napi::Result<()> {
    let acquire = function(env, c"breakerAcquire", breaker_calls::acquire_cb, engine)?;
    let record = function(env, c"breakerRecord", breaker_calls::record_cb, engine)?;
    let raw_classify = function(env, c"classify", classification_js::classify_raw_cb, engine)?;
    let classify = classification_js::own_classify(env, raw_classify)?;
    let attributes = sys::PropertyAttributes::writable | sys::PropertyAttributes::configurable;
    let descriptor = |name: &CStr, value| sys::napi_property_descriptor {
        utf8name: name.as_ptr(),
        name: ptr::null_mut(),
        method: None,
        getter: None,
        setter: None,
        value,
        attributes,
        data: ptr::null_mut(),
    };
    let props = [
        descriptor(c"breakerAcquire", acquire),
        descriptor(c"breakerRecord", record),
        descriptor(c"classify", classify),
    ];
    // SAFETY: `this` is the object under construction; the descriptors point at static names.
    let status = unsafe { sys::napi_define_properties(env, this, props.len(), props.as_ptr()) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason(
            "could not install the engine functions",
        ));
    }
    Ok(())
}
