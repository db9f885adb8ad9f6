//! The breaker's hot path to JS: a [`Permit`] as a `{ permit, retryAtMs? }` object, and the key
//! argument read without a heap allocation when it is short. `allowed` and `probe` are one
//! frozen object each per JS thread, handed out again on every call (nothing is created per
//! call); `rejected` is a fresh object (it carries `retryAtMs`) built from property names and
//! values made once per JS thread.

use super::js::Js;
use super::js_values::{self, Held, JsValues};
use crate::breaker::Permit;
use napi::sys;
use std::cell::RefCell;

thread_local! {
    static SLOT: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The names a permit object is made of; the set holds them, then the shared frozen
/// `{permit: "allowed"}` and `{permit: "probe"}`.
const TEXTS: [&str; 5] = ["permit", "retryAtMs", "allowed", "probe", "rejected"];
const PERMIT: usize = 0;
const RETRY_AT_MS: usize = 1;
const ALLOWED: usize = 2;
const PROBE: usize = 3;
const REJECTED: usize = 4;
/// Where the shared frozen permits are in the set (`probe`'s is next).
const SHARED_ALLOWED: usize = TEXTS.len();

static VALUES: JsValues = JsValues::new(&SLOT, make);

fn make(js: Js) -> Option<Vec<sys::napi_value>> {
    let mut values = js_values::strings(js, &TEXTS)?;
    for kind in [ALLOWED, PROBE] {
        let obj = js.create_object()?;
        js.set_by_key(obj, values[PERMIT], values[kind])?;
        js.freeze(obj)?;
        values.push(obj);
    }
    Some(values)
}

/// `permit` as a JS object: the shared frozen one for `allowed` / `probe`, a new one for
/// `rejected` (`None` if napi failed; the caller falls back to serde).
pub fn permit_to_js(env: sys::napi_env, permit: Permit) -> Option<sys::napi_value> {
    let js = Js::new(env);
    let values = VALUES.get(env)?;
    let retry_at_ms = match permit {
        Permit::Allowed => return values.at(SHARED_ALLOWED),
        Permit::Probe => return values.at(SHARED_ALLOWED + 1),
        Permit::Rejected { retry_at_ms } => retry_at_ms,
    };
    let obj = js.create_object()?;
    js.set_by_key(obj, values.at(PERMIT)?, values.at(REJECTED)?)?;
    let at = js.create_number(retry_at_ms as f64)?;
    js.set_by_key(obj, values.at(RETRY_AT_MS)?, at)?;
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
