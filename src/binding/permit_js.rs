//! The breaker's hot path to JS: a [`Permit`] as a `{ permit, retryAtMs? }` object, and the key
//! argument read without a heap allocation when it is short. `allowed` and `probe` are one
//! frozen object each per JS thread, handed out again on every call (nothing is created per
//! call); `rejected` is a fresh object (it carries `retryAtMs`) built from property names and
//! values made once per JS thread.

use super::js::Js;
use crate::breaker::Permit;
use napi::sys;
use std::cell::RefCell;
use std::ptr;

/// The strings a permit object is made of, kept alive for the thread's environment in one
/// array (Node 20 can reference objects but not strings).
#[derive(Clone, Copy)]
struct Names {
    env: sys::napi_env,
    /// `["permit", "retryAtMs", "allowed", "probe", "rejected", {permit: "allowed"},
    /// {permit: "probe"}]` (the two objects frozen); null if it could not be made.
    holder: sys::napi_ref,
    /// The two frozen permits of the array, referenced directly (one napi call per permit).
    shared: [sys::napi_ref; 2],
}

thread_local! {
    static NAMES: RefCell<Option<Names>> = const { RefCell::new(None) };
}

const TEXTS: [&str; 5] = ["permit", "retryAtMs", "allowed", "probe", "rejected"];
/// Where the shared `{permit: "allowed"}` is in the names array (`"probe"` is next).
const SHARED_ALLOWED: u32 = 5;

/// A frozen `{permit: <TEXTS[kind]>}` (`kind` 2 or 3) in `env`.
fn frozen_permit(env: sys::napi_env, array: sys::napi_value, kind: u32) -> Option<sys::napi_value> {
    let mut obj = ptr::null_mut();
    // SAFETY: plain object creation in `env`.
    if unsafe { sys::napi_create_object(env, &mut obj) } != sys::Status::napi_ok {
        return None;
    }
    set(env, obj, name(env, array, 0)?, name(env, array, kind)?)?;
    // SAFETY: `obj` is a plain object of `env`.
    (unsafe { sys::napi_object_freeze(env, obj) } == sys::Status::napi_ok).then_some(obj)
}

/// A strong reference to the object `value`, kept for the env's lifetime (one per JS thread).
fn keep(env: sys::napi_env, value: sys::napi_value) -> Option<sys::napi_ref> {
    let mut r = ptr::null_mut();
    // SAFETY: `value` is an object of `env`.
    let status = unsafe { sys::napi_create_reference(env, value, 1, &mut r) };
    (status == sys::Status::napi_ok).then_some(r)
}

fn make_names(env: sys::napi_env) -> Option<Names> {
    let js = Js::new(env);
    let mut array = ptr::null_mut();
    // SAFETY: plain array creation in `env`.
    if unsafe { sys::napi_create_array_with_length(env, TEXTS.len(), &mut array) }
        != sys::Status::napi_ok
    {
        return None;
    }
    for (i, text) in TEXTS.iter().enumerate() {
        let value = js.create_string(text)?;
        // SAFETY: `array` and `value` are live values of `env`.
        if unsafe { sys::napi_set_element(env, array, i as u32, value) } != sys::Status::napi_ok {
            return None;
        }
    }
    let mut shared = [ptr::null_mut(); 2];
    for (slot, kind) in shared.iter_mut().zip([2, 3]) {
        let obj = frozen_permit(env, array, kind)?;
        // SAFETY: `array` and `obj` are live values of `env`.
        let status = unsafe { sys::napi_set_element(env, array, SHARED_ALLOWED + kind - 2, obj) };
        if status != sys::Status::napi_ok {
            return None;
        }
        *slot = keep(env, obj)?;
    }
    Some(Names {
        env,
        holder: keep(env, array)?,
        shared,
    })
}

/// The names of `env` (made on first use; `None` for good if they cannot be made).
fn names_of(env: sys::napi_env) -> Option<Names> {
    let names = NAMES.with(|cell| {
        if let Some(n) = *cell.borrow() {
            if n.env == env {
                return n;
            }
        }
        let n = make_names(env).unwrap_or(Names {
            env,
            holder: ptr::null_mut(),
            shared: [ptr::null_mut(); 2],
        });
        *cell.borrow_mut() = Some(n);
        n
    });
    (!names.holder.is_null()).then_some(names)
}

/// The value of a reference made by [`keep`].
fn value_of(env: sys::napi_env, r: sys::napi_ref) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: `r` is a strong reference created in `env`.
    let status = unsafe { sys::napi_get_reference_value(env, r, &mut out) };
    (status == sys::Status::napi_ok && !out.is_null()).then_some(out)
}

fn name(env: sys::napi_env, names: sys::napi_value, i: u32) -> Option<sys::napi_value> {
    let mut out = ptr::null_mut();
    // SAFETY: `names` is the live names array of `env`.
    let status = unsafe { sys::napi_get_element(env, names, i, &mut out) };
    (status == sys::Status::napi_ok).then_some(out)
}

fn set(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: sys::napi_value,
    value: sys::napi_value,
) -> Option<()> {
    // SAFETY: all three are live values of `env`; `obj` is a plain object.
    let status = unsafe { sys::napi_set_property(env, obj, key, value) };
    (status == sys::Status::napi_ok).then_some(())
}

/// `permit` as a JS object: the shared frozen one for `allowed` / `probe`, a new one for
/// `rejected` (`None` if napi failed; the caller falls back to serde).
pub fn permit_to_js(env: sys::napi_env, permit: Permit) -> Option<sys::napi_value> {
    let refs = names_of(env)?;
    match permit {
        Permit::Allowed => return value_of(env, refs.shared[0]),
        Permit::Probe => return value_of(env, refs.shared[1]),
        Permit::Rejected { .. } => {}
    }
    let names = value_of(env, refs.holder)?;
    let mut obj = ptr::null_mut();
    // SAFETY: plain object creation in `env`.
    if unsafe { sys::napi_create_object(env, &mut obj) } != sys::Status::napi_ok {
        return None;
    }
    set(env, obj, name(env, names, 0)?, name(env, names, 4)?)?;
    if let Permit::Rejected { retry_at_ms } = permit {
        let at = Js::new(env).create_number(retry_at_ms as f64)?;
        set(env, obj, name(env, names, 1)?, at)?;
    }
    Some(obj)
}

/// Longest key read into the stack buffer (bytes); longer keys take the general path.
const SHORT: usize = 256;

/// Run `f` on the string `v` when it is a string of fewer than `SHORT - 4` UTF-8 bytes, read
/// into a stack buffer; `None` otherwise (not a string, longer, or not valid UTF-8), and the
/// caller reads it the general way (which also words the errors). (napi stops a cut string
/// before a character that does not fit, so only a string that ends more than a character's
/// width before the buffer's end is known whole.)
pub fn with_short_string<T>(
    env: sys::napi_env,
    v: sys::napi_value,
    f: impl FnOnce(&str) -> T,
) -> Option<T> {
    let mut buf = [0u8; SHORT];
    let mut written = 0usize;
    // SAFETY: `buf` has room for `SHORT` bytes; napi writes at most `SHORT - 1` plus a NUL.
    let status = unsafe {
        sys::napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), SHORT, &mut written)
    };
    if status != sys::Status::napi_ok || written + 4 >= SHORT {
        return None;
    }
    let s = std::str::from_utf8(&buf[..written]).ok()?;
    Some(f(s))
}
