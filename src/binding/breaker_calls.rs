//! `breakerAcquire` / `breakerRecord`, the two calls of every breaker decision: shared by the
//! class methods and the instance's own fast functions ([`super::own_methods`]).

use super::args;
use super::js::Js;
use super::own_methods::{self, CallError};
use super::permit_js;
use crate::engine::Engine;
use napi::{sys, Env};
use std::ptr;

/// `breakerAcquire(key, nowMs?)`: the permit as a JS object (see [`permit_js`]).
pub fn acquire(
    env: sys::napi_env,
    engine: &Engine,
    key: sys::napi_value,
    now_ms: sys::napi_value,
) -> Result<sys::napi_value, CallError> {
    let js = Js::new(env);
    let acquire = |key: &str| {
        let now = args::now(js, now_ms)?;
        engine.breaker_acquire(key, now)
    };
    let permit = match permit_js::with_short_string(env, key, acquire) {
        Some(r) => r,
        None => args::string(js, key, "key").and_then(|key| acquire(&key)),
    }?;
    if let Some(obj) = permit_js::permit_to_js(env, permit) {
        return Ok(obj);
    }
    let env = Env::from_raw(env);
    Ok(napi::JsValue::raw(&env.to_js_value(&permit)?))
}

/// `breakerRecord(key, ok, nowMs?)`.
pub fn record(
    env: sys::napi_env,
    engine: &Engine,
    key: sys::napi_value,
    ok: sys::napi_value,
    now_ms: sys::napi_value,
) -> Result<(), CallError> {
    let js = Js::new(env);
    let record = |key: &str| {
        // A boolean reads in one call; anything else takes the general path (its error).
        let ok = match js.bool(ok) {
            Some(b) => b,
            None => args::boolean(js, ok, "ok")?,
        };
        let now = args::now(js, now_ms)?;
        engine.breaker_record(key, ok, now)
    };
    match permit_js::with_short_string(env, key, record) {
        Some(r) => r,
        None => args::string(js, key, "key").and_then(|key| record(&key)),
    }?;
    Ok(())
}

pub unsafe extern "C" fn acquire_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    own_methods::guarded(env, || {
        // SAFETY: this callback is only installed by `install`.
        let Some(([key, now_ms], engine)) = (unsafe { own_methods::call_args::<2>(env, info) })
        else {
            return Err(napi::Error::from_reason("breakerAcquire: bad call").into());
        };
        // SAFETY: see `call_args`.
        acquire(env, unsafe { &*engine }, key, now_ms)
    })
}

pub unsafe extern "C" fn record_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    own_methods::guarded(env, || {
        // SAFETY: this callback is only installed by `install`.
        let Some(([key, ok, now_ms], engine)) = (unsafe { own_methods::call_args::<3>(env, info) })
        else {
            return Err(napi::Error::from_reason("breakerRecord: bad call").into());
        };
        // SAFETY: see `call_args`.
        record(env, unsafe { &*engine }, key, ok, now_ms)?;
        // Node-API returns `undefined` for a callback that returns NULL.
        Ok(ptr::null_mut())
    })
}
