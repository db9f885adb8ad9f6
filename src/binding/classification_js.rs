//! A [`Classification`] as a plain JS object (the hot path of `classify()`), absent hint
//! fields not created; the object has the same keys, in the same order, as the serde form of
//! the type.
//!
//! Setting properties one by one from native code takes V8's slow path (a map transition
//! looked up per property, about three quarters of the call's boundary cost), so the object is
//! made by a small JS factory compiled once per JS thread, whose object literals V8 builds
//! with fixed shapes; property names and reason values are strings made once per thread
//! ([`JsValues`]). If the factory cannot be made, the object is filled in property by
//! property.

use super::args;
use super::js::Js;
use super::js_values::{self, Held, JsValues};
use super::own_methods;
use crate::classify::Classification;
use crate::engine::Engine;
use crate::reason::Reason;
use napi::sys;
use std::cell::RefCell;

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
static STRINGS: JsValues = JsValues::new(&SLOT, |js| js_values::strings(js, &TEXTS));

thread_local! {
    static FACTORY_SLOT: RefCell<Option<Held>> = const { RefCell::new(None) };
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

static FACTORY: JsValues = JsValues::new(&FACTORY_SLOT, |js| {
    Some(vec![js.run_script(FACTORY_SOURCE)?])
});

/// `classify(input)`: the classification of `input` as a JS object (the class method and the
/// instance's own function both run this); a failing napi call becomes a thrown error.
pub fn classify(
    env: sys::napi_env,
    engine: &Engine,
    input: sys::napi_value,
) -> napi::Result<sys::napi_value> {
    let v = args::failure(Js::new(env), input);
    build(env, &engine.classify(&v, None))
        .ok_or_else(|| napi::Error::from_reason("could not build the classification object"))
}

/// The instance's own `classify` (see [`own_methods`]).
///
/// # Safety
/// Called by Node-API only, as the callback of a function made by [`own_methods::install`].
pub unsafe extern "C" fn classify_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    own_methods::guarded(env, || {
        // SAFETY: this callback is only installed by `own_methods::install`.
        let Some(([input], engine)) = (unsafe { own_methods::call_args::<1>(env, info) }) else {
            return Err(napi::Error::from_reason("classify: bad call").into());
        };
        // SAFETY: see `own_methods::call_args`.
        Ok(classify(env, unsafe { &*engine }, input)?)
    })
}

/// The object for `c`: the factory called with the field values in key order (`undefined`
/// for an absent hint), or, without a factory, the present fields set one by one.
fn build(env: sys::napi_env, c: &Classification) -> Option<sys::napi_value> {
    let js = Js::new(env);
    let strings = STRINGS.get(env)?;
    let undefined = js.undefined()?;
    let optional = |n: Option<i64>| match n {
        Some(n) => js.create_number(n as f64),
        None => Some(undefined),
    };
    let values: [sys::napi_value; NAMES.len()] = [
        match c.reason {
            Some(r) => strings.at(NAMES.len() + reason_index(r))?,
            None => js.null()?,
        },
        js.boolean(c.retryable)?,
        match c.status {
            Some(s) => js.create_number(f64::from(s))?,
            None => js.null()?,
        },
        optional(c.retry_after_ms)?,
        optional(c.reset_at_ms)?,
        js.create_string(&c.message)?,
        match &c.rule {
            Some(rule) => js.create_string(rule)?,
            None => js.null()?,
        },
    ];
    if let Some(factory) = FACTORY.get(env).and_then(|f| f.at(0)) {
        return js.call(undefined, factory, &values);
    }
    let absent = |i: usize| match i {
        3 => c.retry_after_ms.is_none(),
        4 => c.reset_at_ms.is_none(),
        _ => false,
    };
    let obj = js.create_object()?;
    for (i, value) in values.into_iter().enumerate() {
        if !absent(i) {
            js.set_by_key(obj, strings.at(i)?, value)?;
        }
    }
    Some(obj)
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|x| *x == r)
        .expect("Reason::ALL lists every reason")
}
