//! Small conversions shared by the binding's methods.

use super::errors::to_napi;
use crate::error::{EngineError, EngineResult};
use napi::bindgen_prelude::{PromiseRaw, Unknown};
use napi::Env;
use serde::Serialize;
use std::future::Future;

/// Serialise an engine result to JS, or throw a coded error.
pub fn to_js<'env, T: Serialize>(
    env: &'env Env,
    r: EngineResult<T>,
) -> napi::Result<Unknown<'env>> {
    match r {
        Ok(v) => env.to_js_value(&v),
        Err(e) => Err(to_napi(env, &e)),
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
