//! A [`Classification`] as a plain JS object (the hot path of `classify()`), absent hint
//! fields not created; the object has the same keys, in the same order, as the serde form of
//! the type.
//!
//! Setting properties one by one from native code takes V8's slow path (a map transition
//! looked up per property, about three quarters of the call's boundary cost), so the object is
//! made by a small JS factory compiled once per JS thread, whose object literals V8 builds
//! with fixed shapes; property names and reason values are strings made once per thread
//! ([`JsStrings`]). If the factory cannot be made, the object is filled in property by
//! property.

use super::js::Js;
use super::js_strings::{Held, JsStrings, Strings};
use crate::classify::Classification;
use crate::reason::Reason;
use napi::bindgen_prelude::Unknown;
use napi::{sys, Env};
use std::cell::RefCell;
use std::ptr;

thread_local! {
    static SLOT: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The property names, in key order, then every reason name in [`Reason::ALL`] order.
const NAMES: [&str; 7] = [
    "reason",
    "retryable",
    "status",
    "retryAfterMs",
    "resetAtMs",
    "message",
    "rule",
];
const TEXTS: [&str; NAMES.len() + Reason::ALL.len()] = {
    let mut texts = [""; NAMES.len() + Reason::ALL.len()];
    let mut i = 0;
    while i < NAMES.len() {
        texts[i] = NAMES[i];
        i += 1;
    }
    let mut r = 0;
    while r < Reason::ALL.len() {
        texts[NAMES.len() + r] = Reason::ALL[r].as_str();
        r += 1;
    }
    texts
};
static STRINGS: JsStrings = JsStrings::new(&SLOT, &TEXTS);

thread_local! {
    static FACTORY: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The factory's source: the hint fields present decide the literal, so each result shape is
/// one of four fixed ones.
const FACTORY_SOURCE: &str =
    "(function (reason, retryable, status, retryAfterMs, resetAtMs, message, rule) {
  'use strict';
  if (retryAfterMs === undefined) {
    return resetAtMs === undefined
      ? { reason, retryable, status, message, rule }
      : { reason, retryable, status, resetAtMs, message, rule };
  }
  return resetAtMs === undefined
    ? { reason, retryable, status, retryAfterMs, message, rule }
    : { reason, retryable, status, retryAfterMs, resetAtMs, message, rule };
})";

static FACTORY_HOLDER: JsStrings = JsStrings::compiled(&FACTORY, FACTORY_SOURCE);

/// Builds the JS object for `c`; a failing napi call becomes a thrown error.
pub fn classification_to_js<'env>(
    env: &'env Env,
    c: &Classification,
) -> napi::Result<Unknown<'env>> {
    let raw = env.raw();
    let obj = build(raw, c)
        .ok_or_else(|| napi::Error::from_reason("could not build the classification object"))?;
    // SAFETY: `obj` is a live object of this env, created by `build`.
    Ok(unsafe { Unknown::from_raw_unchecked(raw, obj) })
}

fn build(env: sys::napi_env, c: &Classification) -> Option<sys::napi_value> {
    let js = Js::new(env);
    let strings = STRINGS.get(env)?;
    if let Some(factory) = FACTORY_HOLDER.get(env).and_then(|f| f.at(0)) {
        return by_factory(js, strings, factory, c);
    }
    let mut obj = ptr::null_mut();
    // SAFETY: plain object creation in the live env of this call.
    if unsafe { sys::napi_create_object(env, &mut obj) } != sys::Status::napi_ok {
        return None;
    }
    let set = |name: usize, value: sys::napi_value| set(env, strings, obj, name, value);
    let reason = match c.reason {
        Some(r) => strings.at(NAMES.len() + reason_index(r))?,
        None => js.null()?,
    };
    set(0, reason)?;
    set(1, js.boolean(c.retryable)?)?;
    set(2, number_or_null(js, c.status.map(f64::from))?)?;
    if let Some(ms) = c.retry_after_ms {
        set(3, js.create_number(ms as f64)?)?;
    }
    if let Some(at) = c.reset_at_ms {
        set(4, js.create_number(at as f64)?)?;
    }
    set(5, js.create_string(&c.message)?)?;
    let rule = match &c.rule {
        Some(rule) => js.create_string(rule)?,
        None => js.null()?,
    };
    set(6, rule)?;
    Some(obj)
}

fn by_factory(
    js: Js,
    strings: Strings,
    factory: sys::napi_value,
    c: &Classification,
) -> Option<sys::napi_value> {
    let undefined = js.undefined()?;
    let optional = |n: Option<i64>| match n {
        Some(n) => js.create_number(n as f64),
        None => Some(undefined),
    };
    let args = [
        match c.reason {
            Some(r) => strings.at(NAMES.len() + reason_index(r))?,
            None => js.null()?,
        },
        js.boolean(c.retryable)?,
        number_or_null(js, c.status.map(f64::from))?,
        optional(c.retry_after_ms)?,
        optional(c.reset_at_ms)?,
        js.create_string(&c.message)?,
        match &c.rule {
            Some(rule) => js.create_string(rule)?,
            None => js.null()?,
        },
    ];
    js.call(undefined, factory, &args)
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|x| *x == r)
        .expect("Reason::ALL lists every reason")
}

fn number_or_null(js: Js, n: Option<f64>) -> Option<sys::napi_value> {
    match n {
        Some(n) => js.create_number(n),
        None => js.null(),
    }
}

fn set(
    env: sys::napi_env,
    strings: Strings,
    obj: sys::napi_value,
    name: usize,
    value: sys::napi_value,
) -> Option<()> {
    let key = strings.at(name)?;
    // SAFETY: `obj`, `key` and `value` are live values of `env`; `obj` is a plain object.
    let status = unsafe { sys::napi_set_property(env, obj, key, value) };
    (status == sys::Status::napi_ok).then_some(())
}
