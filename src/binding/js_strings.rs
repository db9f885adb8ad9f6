//! JS values made once per JS thread: property names and fixed values of the hot results
//! (`classify()`), so a call neither creates nor looks up a string for them, and small
//! compiled helper functions.
//!
//! Node 20 can reference objects but not strings, so each set of strings lives in one JS array
//! held by a strong reference for the environment's lifetime (one per JS thread; a new
//! environment on the same thread, e.g. a worker restarted, makes a new array).

use super::js::Js;
use napi::sys;
use std::cell::RefCell;
use std::ptr;
use std::thread::LocalKey;

/// The array of one environment (`holder` is null when it could not be made).
#[derive(Clone, Copy)]
pub struct Held {
    env: sys::napi_env,
    holder: sys::napi_ref,
}

/// The per-thread slot of one set of strings.
pub type Slot = LocalKey<RefCell<Option<Held>>>;

/// A fixed set of strings, or one compiled function, made on first use in each environment.
pub struct JsStrings {
    slot: &'static Slot,
    texts: &'static [&'static str],
    /// When set, the one value held is this source compiled (`napi_run_script`).
    script: Option<&'static str>,
}

/// The live strings of one call: index them in the order of the texts.
#[derive(Clone, Copy)]
pub struct Strings {
    env: sys::napi_env,
    array: sys::napi_value,
}

impl JsStrings {
    /// The set `texts`, kept in `slot` (a `thread_local!` of its own).
    pub const fn new(slot: &'static Slot, texts: &'static [&'static str]) -> Self {
        JsStrings {
            slot,
            texts,
            script: None,
        }
    }

    /// One value: `source` (a JS expression, e.g. a function) run once per environment, kept
    /// in `slot`; read it with `get(env)?.at(0)`.
    pub const fn compiled(slot: &'static Slot, source: &'static str) -> Self {
        JsStrings {
            slot,
            texts: &[],
            script: Some(source),
        }
    }

    fn make(&self, env: sys::napi_env) -> Option<sys::napi_ref> {
        let js = Js::new(env);
        if let Some(source) = self.script {
            let value = js.run_script(source)?;
            return hold(env, &[value]);
        }
        let mut array = ptr::null_mut();
        // SAFETY: plain array creation in `env`.
        if unsafe { sys::napi_create_array_with_length(env, self.texts.len(), &mut array) }
            != sys::Status::napi_ok
        {
            return None;
        }
        for (i, text) in self.texts.iter().enumerate() {
            let value = js.create_string(text)?;
            // SAFETY: `array` and `value` are live values of `env`.
            if unsafe { sys::napi_set_element(env, array, i as u32, value) } != sys::Status::napi_ok
            {
                return None;
            }
        }
        let mut holder = ptr::null_mut();
        // SAFETY: `array` is an object of `env`; the reference lives as long as the env.
        let status = unsafe { sys::napi_create_reference(env, array, 1, &mut holder) };
        (status == sys::Status::napi_ok).then_some(holder)
    }

    /// The strings of `env` (made on first use; `None` for good if they cannot be made, and
    /// the caller takes its general path).
    pub fn get(&self, env: sys::napi_env) -> Option<Strings> {
        let holder = self.slot.with(|cell| {
            if let Some(held) = *cell.borrow() {
                if held.env == env {
                    return held.holder;
                }
            }
            let holder = self.make(env).unwrap_or(ptr::null_mut());
            *cell.borrow_mut() = Some(Held { env, holder });
            holder
        });
        if holder.is_null() {
            return None;
        }
        let mut array = ptr::null_mut();
        // SAFETY: `holder` is a strong reference created in `env`.
        let status = unsafe { sys::napi_get_reference_value(env, holder, &mut array) };
        (status == sys::Status::napi_ok && !array.is_null()).then_some(Strings { env, array })
    }
}

/// `values` in a new array held by a strong reference for the env's lifetime.
fn hold(env: sys::napi_env, values: &[sys::napi_value]) -> Option<sys::napi_ref> {
    let mut array = ptr::null_mut();
    // SAFETY: plain array creation in `env`.
    if unsafe { sys::napi_create_array_with_length(env, values.len(), &mut array) }
        != sys::Status::napi_ok
    {
        return None;
    }
    for (i, value) in values.iter().enumerate() {
        // SAFETY: `array` and `value` are live values of `env`.
        if unsafe { sys::napi_set_element(env, array, i as u32, *value) } != sys::Status::napi_ok {
            return None;
        }
    }
    let mut holder = ptr::null_mut();
    // SAFETY: `array` is an object of `env`; the reference lives as long as the env.
    let status = unsafe { sys::napi_create_reference(env, array, 1, &mut holder) };
    (status == sys::Status::napi_ok).then_some(holder)
}

impl Strings {
    /// String `i` of the set.
    pub fn at(self, i: usize) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `array` is the live strings array of `env`.
        let status = unsafe { sys::napi_get_element(self.env, self.array, i as u32, &mut out) };
        (status == sys::Status::napi_ok).then_some(out)
    }
}
