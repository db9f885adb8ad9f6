//! Turning engine errors into JS errors whose `err.code` is the engine's stable code.

use crate::error::EngineError;
use crate::redact::known_formats;
use napi::bindgen_prelude::Unknown;
use napi::{Env, JsError};

/// A napi error that, when thrown or used to reject, is a JS `Error` with `code` set to
/// [`EngineError::code`] and the engine's message.
pub fn to_napi(env: &Env, e: &EngineError) -> napi::Error {
    coded(env, e.code(), &e.to_string())
}

/// A JS `Error` value with `err.code = code`; known credential shapes are masked in `message`.
pub fn error_value(env: &Env, code: &str, message: &str) -> napi::sys::napi_value {
    let message = known_formats(message);
    let err: napi::Error<String> = napi::Error::new(code.to_string(), message.into_owned());
    // SAFETY: `env` is the live environment of the JS thread this runs on.
    unsafe { JsError::from(err).into_value(env.raw()) }
}

/// A JS `Error` with the given `code` and `message`, wrapped as a napi error.
pub fn coded(env: &Env, code: &str, message: &str) -> napi::Error {
    let raw = error_value(env, code, message);
    if raw.is_null() {
        return napi::Error::from_reason(format!("{code}: {message}"));
    }
    // SAFETY: `raw` was just created in `env`.
    let unknown = unsafe { Unknown::from_raw_unchecked(env.raw(), raw) };
    napi::Error::from(unknown)
}
