//! Small conversions shared by the binding's methods.

use super::errors::to_napi;
use crate::error::{EngineError, EngineResult};
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;

/// Serialise an engine result to JS, or throw a coded error. Every JSON number becomes a JS
/// number (napi would turn unsigned 64-bit integers, e.g. epoch ms inside gateway payloads,
/// into `BigInt`, which `JSON.stringify` cannot handle).
pub fn to_js<'env, T: Serialize>(
    env: &'env Env,
    r: EngineResult<T>,
) -> napi::Result<Unknown<'env>> {
    match r {
        Ok(v) => {
            let json = serde_json::to_value(&v).map_err(|e| {
                napi::Error::from_reason(format!("could not encode the result: {e}"))
            })?;
            env.to_js_value(&as_js_numbers(json))
        }
        Err(e) => Err(to_napi(env, &e)),
    }
}

/// Serialise a result straight to JS, without a `serde_json::Value` in between: the fast
/// path of the hot methods. Only for result types without `u64` fields (napi would make
/// those `BigInt`s); every `i64`/`u32`/`u16` becomes a plain JS number.
pub fn to_js_direct<'env, T: Serialize>(
    env: &'env Env,
    r: EngineResult<T>,
) -> napi::Result<Unknown<'env>> {
    match r {
        Ok(v) => env.to_js_value(&v),
        Err(e) => Err(to_napi(env, &e)),
    }
}

/// Replace integer JSON numbers by floats so napi makes plain JS numbers of them.
pub fn as_js_numbers(v: Value) -> Value {
    match v {
        Value::Number(n) if !n.is_f64() => n
            .as_f64()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Number(n), Value::Number),
        Value::Array(items) => Value::Array(items.into_iter().map(as_js_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, as_js_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A promise already rejected with the coded error `e` (async methods never throw).
pub fn rejected<'env>(
    env: &'env Env,
    e: &EngineError,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>> {
    let mut deferred = std::ptr::null_mut();
    let mut raw_promise = std::ptr::null_mut();
    // SAFETY: `env` is the live environment of this call.
    let status =
        unsafe { napi::sys::napi_create_promise(env.raw(), &mut deferred, &mut raw_promise) };
    if status != napi::sys::Status::napi_ok {
        return Err(to_napi(env, e));
    }
    let error = super::errors::error_value(env, e.code(), &e.to_string());
    // SAFETY: `deferred` was just created and is settled exactly once.
    unsafe { napi::sys::napi_reject_deferred(env.raw(), deferred, error) };
    Ok(PromiseRaw::new(env.raw(), raw_promise))
}

/// Check the arguments, then run the engine future: a bad argument is a rejected promise.
pub fn settle<'env, A, T, F>(
    env: &'env Env,
    args: EngineResult<A>,
    run: impl FnOnce(A) -> F,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = EngineResult<T>> + Send + 'static,
{
    settle_with(env, args, run, to_js)
}

/// [`settle`] with the result conversion of your choice ([`to_js_direct`] for the hot async
/// methods whose results have no `u64`).
pub fn settle_with<'env, A, T, F>(
    env: &'env Env,
    args: EngineResult<A>,
    run: impl FnOnce(A) -> F,
    convert: for<'e> fn(&'e Env, EngineResult<T>) -> napi::Result<Unknown<'e>>,
) -> napi::Result<PromiseRaw<'env, Unknown<'env>>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = EngineResult<T>> + Send + 'static,
{
    match args {
        Ok(a) => {
            let fut = run(a);
            // Parks staged in this JS turn start first: calls start in the order made.
            super::park_batch::flush(env);
            env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, r| {
                convert(env, r)
            })
        }
        Err(e) => rejected(env, &e),
    }
}

/// Run an engine future on tokio and settle a JS promise with its serialised result, or
/// reject with a coded error.
pub fn promise<'env, T, F>(env: &'env Env, fut: F) -> napi::Result<PromiseRaw<'env, Unknown<'env>>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = EngineResult<T>> + Send + 'static,
{
    settle_with(env, Ok(()), |()| fut, to_js)
}
