//! `isRetryEngineError(err)`: the type guard for errors the engine throws or rejects with.

use super::event_sink::clear_pending_exception;
use crate::error::CALLER_ERROR_CODES;
use napi::bindgen_prelude::{JsObjectValue, JsValue, Object, Unknown};
use napi::{Env, ValueType};
use napi_derive::napi;

/// Whether `err` is an `Error` whose `code` is one of the engine's `ErrorCode`s. Never
/// throws, whatever `err` is (a throwing `code` getter answers `false`).
#[napi(
    ts_args_type = "err: unknown",
    ts_return_type = "err is RetryEngineError"
)]
pub fn is_retry_engine_error(env: Env, err: Unknown<'_>) -> bool {
    let answer = (|| -> napi::Result<bool> {
        if err.get_type()? != ValueType::Object || !err.is_error()? {
            return Ok(false);
        }
        // SAFETY: checked to be an object above.
        let obj: Object = unsafe { err.cast()? };
        let code: Unknown = obj.get_named_property("code")?;
        if code.get_type()? != ValueType::String {
            return Ok(false);
        }
        let code: String = obj.get_named_property("code")?;
        Ok(CALLER_ERROR_CODES.contains(&code.as_str()))
    })();
    answer.unwrap_or_else(|_| {
        clear_pending_exception(&env);
        false
    })
}
