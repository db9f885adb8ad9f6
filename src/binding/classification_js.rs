//! A [`Classification`] as a plain JS object, built directly (the hot path of `classify()`):
//! one object, one property set per field with static names, absent hint fields not created.
//! The object has the same keys, in the same order, as the serde form of the type.

use crate::classify::Classification;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env};
use std::ffi::CStr;
use std::ptr;

/// Builds the JS object for `c`; a failing napi call becomes a thrown error.
pub fn classification_to_js<'env>(
    env: &'env Env,
    c: &Classification,
) -> napi::Result<Unknown<'env>> {
    let raw = env.raw();
    let obj = Builder::new(raw)?;
    match c.reason {
        Some(r) => obj.string(c"reason", r.as_str())?,
        None => obj.null(c"reason")?,
    }
    obj.boolean(c"retryable", c.retryable)?;
    match c.status {
        Some(s) => obj.number(c"status", f64::from(s))?,
        None => obj.null(c"status")?,
    }
    if let Some(ms) = c.retry_after_ms {
        obj.number(c"retryAfterMs", ms as f64)?;
    }
    if let Some(at) = c.reset_at_ms {
        obj.number(c"resetAtMs", at as f64)?;
    }
    obj.string(c"message", &c.message)?;
    match &c.rule {
        Some(rule) => obj.string(c"rule", rule)?,
        None => obj.null(c"rule")?,
    }
    // SAFETY: `obj.obj` is a live object of this env, created above.
    Ok(unsafe { Unknown::from_raw_unchecked(raw, obj.obj) })
}

/// A new JS object being filled in.
struct Builder {
    env: sys::napi_env,
    obj: sys::napi_value,
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(
            "could not build the classification object",
        ))
    }
}

impl Builder {
    fn new(env: sys::napi_env) -> napi::Result<Self> {
        let mut obj = ptr::null_mut();
        // SAFETY: plain object creation in the live env of this call.
        check(unsafe { sys::napi_create_object(env, &mut obj) })?;
        Ok(Builder { env, obj })
    }

    fn set(&self, name: &CStr, value: sys::napi_value) -> napi::Result<()> {
        // SAFETY: `obj` and `value` belong to this env; `name` is NUL-terminated.
        check(unsafe { sys::napi_set_named_property(self.env, self.obj, name.as_ptr(), value) })
    }

    fn string(&self, name: &CStr, s: &str) -> napi::Result<()> {
        let mut v = ptr::null_mut();
        // SAFETY: `s` is valid UTF-8 of the given length.
        check(unsafe {
            sys::napi_create_string_utf8(self.env, s.as_ptr().cast(), s.len() as isize, &mut v)
        })?;
        self.set(name, v)
    }

    fn number(&self, name: &CStr, n: f64) -> napi::Result<()> {
        let mut v = ptr::null_mut();
        // SAFETY: plain value creation.
        check(unsafe { sys::napi_create_double(self.env, n, &mut v) })?;
        self.set(name, v)
    }

    fn boolean(&self, name: &CStr, b: bool) -> napi::Result<()> {
        let mut v = ptr::null_mut();
        // SAFETY: plain value lookup.
        check(unsafe { sys::napi_get_boolean(self.env, b, &mut v) })?;
        self.set(name, v)
    }

    fn null(&self, name: &CStr) -> napi::Result<()> {
        let mut v = ptr::null_mut();
        // SAFETY: plain value lookup.
        check(unsafe { sys::napi_get_null(self.env, &mut v) })?;
        self.set(name, v)
    }
}
