//! JS values made once per JS thread and handed out again on every call: the property names
//! and fixed values of the hot results (breaker permits), shared frozen objects,
//! small compiled helper functions. A call then neither creates nor looks up any of them.
//!
//! Node 20 can reference objects but not strings, so each set lives in one JS array held by a
//! strong reference for the environment's lifetime (one per JS thread; a new environment on
//! the same thread, e.g. a worker restarted, makes a new array).

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

/// The per-thread slot of one set (a `thread_local!` of its own).
pub type Slot = LocalKey<RefCell<Option<Held>>>;

/// Makes the values of a set in a new environment (`None` if napi failed).
pub type Maker = fn(Js) -> Option<Vec<sys::napi_value>>;

/// A fixed set of JS values, made by its [`Maker`] on first use in each environment.
pub struct JsValues {
    slot: &'static Slot,
    make: Maker,
}

/// The live values of one call: index them in the order the maker made them.
#[derive(Clone, Copy)]
pub struct Values {
    js: Js,
    array: sys::napi_value,
}

impl JsValues {
    /// The set made by `make`, kept in `slot`.
    pub const fn new(slot: &'static Slot, make: Maker) -> Self {
        JsValues { slot, make }
    }

    fn hold(&self, env: sys::napi_env) -> Option<sys::napi_ref> {
        let js = Js::new(env);
        let values = (self.make)(js)?;
        let mut array = ptr::null_mut();
        // SAFETY: plain array creation in `env`.
        if unsafe { sys::napi_create_array_with_length(env, values.len(), &mut array) }
            != sys::Status::napi_ok
        {
            return None;
        }
        for (i, value) in values.iter().enumerate() {
            // SAFETY: `array` and `value` are live values of `env`.
            if unsafe { sys::napi_set_element(env, array, i as u32, *value) }
                != sys::Status::napi_ok
            {
                return None;
            }
        }
        let mut holder = ptr::null_mut();
        // SAFETY: `array` is an object of `env`; the reference lives as long as the env.
        let status = unsafe { sys::napi_create_reference(env, array, 1, &mut holder) };
        (status == sys::Status::napi_ok).then_some(holder)
    }

    /// The values of `env` (made on first use; `None` for good if they cannot be made, and
    /// the caller takes its general path).
    pub fn get(&self, env: sys::napi_env) -> Option<Values> {
        let holder = self.slot.with(|cell| {
            if let Some(held) = *cell.borrow() {
                if held.env == env {
                    return held.holder;
                }
            }
            let holder = self.hold(env).unwrap_or(ptr::null_mut());
            *cell.borrow_mut() = Some(Held { env, holder });
            holder
        });
        if holder.is_null() {
            return None;
        }
        let mut array = ptr::null_mut();
        // SAFETY: `holder` is a strong reference created in `env`.
        let status = unsafe { sys::napi_get_reference_value(env, holder, &mut array) };
        (status == sys::Status::napi_ok && !array.is_null()).then_some(Values {
            js: Js::new(env),
            array,
        })
    }
}

impl Values {
    /// Value `i` of the set.
    pub fn at(self, i: usize) -> Option<sys::napi_value> {
        self.js.element(self.array, i as u32)
    }
}

/// A maker's part: `texts` as JS strings, in order.
pub fn strings(js: Js, texts: &[&str]) -> Option<Vec<sys::napi_value>> {
    texts.iter().map(|text| js.create_string(text)).collect()
}
