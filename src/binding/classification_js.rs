//! `classify()` across the boundary, built for its hot path.
//!
//! A native call that builds the result object costs more than classifying a 200-byte
//! message: setting properties from native code takes V8's slow path, and even handing the
//! fields to a JS factory (`napi_call_function`, a number or string created per field, the
//! fixed strings looked up in a held array) cost ≈ 5k instructions a call. So the native part
//! only classifies: it writes the fields as numbers into a small `Float64Array` shared with a
//! JS helper compiled once per JS thread ([`SLOT_COUNT`] slots, layout below), and returns the
//! `message` only when it differs from the input string (`undefined` otherwise: a one-line
//! provider message is usually its own summary). The helper's object literals, built from
//! those slots with reason names and rule ids it holds, get fixed V8 shapes; the object has
//! the same keys, in the same order, as the serde form of [`Classification`], hint fields
//! left out when absent.
//!
//! Each instance's own `classify` (see [`own_methods`]) is the helper's `wrap(raw)`: a JS
//! function `input => fromSlots(raw(input), input)` around a native function carrying the
//! engine. The prototype method does the native part and calls `fromSlots` itself.

use super::args;
use super::js::{Js, Kind};
use super::own_methods;
use crate::classify::{fixed_ids, Classification, RuleId};
use crate::engine::Engine;
use crate::reason::Reason;
use napi::sys;
use serde_json::Value;
use std::cell::RefCell;
use std::ffi::c_void;
use std::ptr;

/// Slots: reason index in [`Reason::ALL`] (`-1`: not a failure), retryable (`0`/`1`), status
/// (`-1`: none), `retryAfterMs` and `resetAtMs` (`NaN`: absent), the rule (its index in
/// [`fixed_ids`], `-1` for `status-<code>`, `-2` for `custom:<index>`, `-3` for none), and the
/// status code or custom index of such a rule.
const SLOT_COUNT: usize = 7;

/// The helper's source, after `REASONS` and `RULES` (array literals, put in front of it by
/// [`helper_source`]): a function called with the slots that returns `[fromSlots, wrap]`.
const HELPER_BODY: &str = "
  const STATUS_RULES = [];
  const statusRule = (code) => STATUS_RULES[code] ?? (STATUS_RULES[code] = 'status-' + code);
  function fromSlots(summary, input) {
    const r = slots[0];
    if (r < 0) return { reason: null, retryable: false, status: null, message: '', rule: null };
    const reason = REASONS[r];
    const retryable = slots[1] === 1;
    const status = slots[2] < 0 ? null : slots[2];
    const k = slots[5];
    const rule =
      k >= 0 ? RULES[k] : k === -1 ? statusRule(slots[6]) : k === -2 ? 'custom:' + slots[6] : null;
    const message = summary === undefined ? input : summary;
    const retryAfterMs = slots[3];
    const resetAtMs = slots[4];
    if (retryAfterMs !== retryAfterMs) {
      return resetAtMs !== resetAtMs
        ? { reason, retryable, status, message, rule }
        : { reason, retryable, status, resetAtMs, message, rule };
    }
    return resetAtMs !== resetAtMs
      ? { reason, retryable, status, retryAfterMs, message, rule }
      : { reason, retryable, status, retryAfterMs, resetAtMs, message, rule };
  }
  const wrap = (raw) => function classify(input) { return fromSlots(raw(input), input); };
  return [fromSlots, wrap];
})";

/// The helper's whole source: the reason names of [`Reason::ALL`] and the rule ids of
/// [`fixed_ids`] as array literals, then [`HELPER_BODY`].
fn helper_source() -> String {
    let json = |names: Vec<&str>| serde_json::to_string(&names).unwrap_or_default();
    let reasons = json(Reason::ALL.iter().map(|r| r.as_str()).collect());
    let rules = json(fixed_ids().collect());
    format!(
        "(function (slots) {{\n  'use strict';\n  const REASONS = {reasons};\n  const RULES = {rules};{HELPER_BODY}"
    )
}

/// The helper of one JS environment.
#[derive(Clone, Copy)]
struct Helper {
    env: sys::napi_env,
    from_slots: sys::napi_ref,
    wrap: sys::napi_ref,
    /// The slots: the backing store of the `Float64Array` the helper's closure holds (alive as
    /// long as the helper is; ArrayBuffer stores never move).
    slots: *mut f64,
}

thread_local! {
    /// This thread's helper; cleared by an environment cleanup hook when its env goes away.
    static HELPER: RefCell<Option<Helper>> = const { RefCell::new(None) };
}

/// A strong reference to `value` (an object) for the rest of the environment's life.
fn hold(env: sys::napi_env, value: sys::napi_value) -> Option<sys::napi_ref> {
    let mut r = ptr::null_mut();
    // SAFETY: `value` is an object of `env`.
    (unsafe { sys::napi_create_reference(env, value, 1, &mut r) } == sys::Status::napi_ok)
        .then_some(r)
}

/// Makes `env`'s helper: the slots array, then the helper compiled and called with it.
fn make_helper(env: sys::napi_env) -> Option<Helper> {
    let js = Js::new(env);
    let mut data: *mut c_void = ptr::null_mut();
    let mut buffer = ptr::null_mut();
    let bytes = SLOT_COUNT * std::mem::size_of::<f64>();
    // SAFETY: plain ArrayBuffer creation in `env`; `data` receives its backing store.
    if unsafe { sys::napi_create_arraybuffer(env, bytes, &mut data, &mut buffer) }
        != sys::Status::napi_ok
        || data.is_null()
    {
        return None;
    }
    let mut slots = ptr::null_mut();
    // SAFETY: `buffer` holds exactly `SLOT_COUNT` doubles.
    let status = unsafe {
        sys::napi_create_typedarray(
            env,
            sys::TypedarrayType::float64_array,
            SLOT_COUNT,
            buffer,
            0,
            &mut slots,
        )
    };
    if status != sys::Status::napi_ok {
        return None;
    }
    let make = js.run_script(&helper_source())?;
    let pair = js.call(js.undefined()?, make, &[slots])?;
    let helper = Helper {
        env,
        from_slots: hold(env, js.element(pair, 0)?)?,
        wrap: hold(env, js.element(pair, 1)?)?,
        slots: data.cast::<f64>(),
    };
    // SAFETY: the hook runs once, on this thread, when `env` is torn down.
    let status =
        unsafe { sys::napi_add_env_cleanup_hook(env, Some(forget_helper), env.cast::<c_void>()) };
    (status == sys::Status::napi_ok).then_some(helper)
}

/// Env cleanup hook: the helper of the env going away (`arg`) is never used again.
unsafe extern "C" fn forget_helper(arg: *mut c_void) {
    let _ = HELPER.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_some_and(|h| h.env.cast::<c_void>() == arg) {
            *slot = None;
        }
    });
}

/// Runs `f` with `env`'s helper (made on first use); `None` if it cannot be made. The slot is
/// not borrowed while `f` runs: reading the input may run a getter that classifies too.
fn with_helper<T>(env: sys::napi_env, f: impl FnOnce(&Helper) -> Option<T>) -> Option<T> {
    let helper = HELPER.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.as_ref().is_none_or(|h| h.env != env) {
            *slot = Some(make_helper(env)?);
        }
        *slot
    })?;
    f(&helper)
}

/// The value a reference holds.
fn held(env: sys::napi_env, r: sys::napi_ref) -> Option<sys::napi_value> {
    let mut v = ptr::null_mut();
    // SAFETY: `r` is a strong reference made in `env`.
    (unsafe { sys::napi_get_reference_value(env, r, &mut v) } == sys::Status::napi_ok
        && !v.is_null())
    .then_some(v)
}

/// The slot values of `c`, in the layout of [`SLOT_COUNT`].
fn slot_values(c: &Classification) -> [f64; SLOT_COUNT] {
    let Some(reason) = c.reason else {
        return [-1.0, 0.0, -1.0, f64::NAN, f64::NAN, -1.0, 0.0];
    };
    let hint = |n: Option<i64>| n.map_or(f64::NAN, |n| n as f64);
    let (rule, rule_arg) = match c.rule {
        Some(RuleId::Status(code)) => (-1.0, f64::from(code)),
        Some(RuleId::Custom(i)) => (-2.0, i as f64),
        Some(id) => (id.fixed_index().map_or(-3.0, |i| i as f64), 0.0),
        None => (-3.0, 0.0),
    };
    [
        reason_index(reason) as f64,
        f64::from(u8::from(c.retryable)),
        c.status.map_or(-1.0, f64::from),
        hint(c.retry_after_ms),
        hint(c.reset_at_ms),
        rule,
        rule_arg,
    ]
}

/// Classifies `input` and writes the slots of `env`'s helper; returns the summary to hand to
/// `fromSlots` (`undefined` when it is the input string itself).
fn classify_into_slots(
    env: sys::napi_env,
    helper: &Helper,
    engine: &Engine,
    input: sys::napi_value,
) -> Option<sys::napi_value> {
    let js = Js::new(env);
    let v = args::failure(js, input);
    let c = engine.classify(&v, None);
    let values = slot_values(&c);
    // SAFETY: `helper.slots` is the live backing store of `SLOT_COUNT` doubles of this env's
    // helper (only this thread touches it, and no JS runs during the copy).
    unsafe { ptr::copy_nonoverlapping(values.as_ptr(), helper.slots, SLOT_COUNT) };
    // Only a primitive string is handed back as it is (a `new String(…)` reads as its text).
    let same_as_input =
        matches!(&v, Value::String(s) if *s == c.message) && js.kind(input) == Kind::String;
    if c.reason.is_none() || same_as_input {
        js.undefined()
    } else {
        js.create_string(&c.message)
    }
}

/// `classify(input)` as the prototype method runs it: the classification of `input` as a JS
/// object; a failing napi call becomes a thrown error.
pub fn classify(
    env: sys::napi_env,
    engine: &Engine,
    input: sys::napi_value,
) -> napi::Result<sys::napi_value> {
    with_helper(env, |helper| {
        let summary = classify_into_slots(env, helper, engine, input)?;
        let js = Js::new(env);
        js.call(
            js.undefined()?,
            held(env, helper.from_slots)?,
            &[summary, input],
        )
    })
    .ok_or_else(|| napi::Error::from_reason("could not build the classification object"))
}

/// The native half of an instance's own `classify` (see [`own_classify`]): classifies, fills
/// the slots, returns the summary or `undefined`.
///
/// # Safety
/// Called by Node-API only, as the callback of a function made by [`own_methods::install`].
pub unsafe extern "C" fn classify_raw_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    own_methods::guarded(env, || {
        // SAFETY: this callback is only installed by `own_methods::install`.
        let Some(([input], engine)) = (unsafe { own_methods::call_args::<1>(env, info) }) else {
            return Err(napi::Error::from_reason("classify: bad call").into());
        };
        // SAFETY: see `own_methods::call_args`.
        let engine = unsafe { &*engine };
        with_helper(env, |helper| {
            classify_into_slots(env, helper, engine, input)
        })
        .ok_or_else(|| napi::Error::from_reason("classify: could not classify").into())
    })
}

/// An instance's own `classify`: the helper's `wrap(raw)`, `raw` being a function made by
/// [`own_methods`] around [`classify_raw_cb`].
pub fn own_classify(env: sys::napi_env, raw: sys::napi_value) -> napi::Result<sys::napi_value> {
    with_helper(env, |helper| {
        let js = Js::new(env);
        js.call(js.undefined()?, held(env, helper.wrap)?, &[raw])
    })
    .ok_or_else(|| napi::Error::from_reason("could not make the classify function"))
}

fn reason_index(r: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|x| *x == r)
        .expect("Reason::ALL lists every reason")
}
