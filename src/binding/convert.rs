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

/// Run an engine future on tokio and settle a JS promise with its serialised result, or
/// reject with a coded error.
pub fn promise<'env, T, F>(env: &'env Env, fut: F) -> napi::Result<PromiseRaw<'env, Unknown<'env>>>
where
    T: Serialize + Send + 'static,
    F: Future<Output = EngineResult<T>> + Send + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, r| to_js(env, r))
}

/// A JS `now` argument (epoch ms) to an integer, rejecting NaN/Infinity.
pub fn now_arg(now_ms: Option<f64>) -> EngineResult<Option<i64>> {
    match now_ms {
        None => Ok(None),
        Some(n) if n.is_finite() && n >= 0.0 => Ok(Some(n as i64)),
        Some(n) => Err(EngineError::input(
            "nowMs",
            format!("expected epoch milliseconds (a finite number >= 0), got {n}"),
        )),
    }
}
