//! A thin, exception-safe view of raw N-API calls for reading JS values.
//!
//! Every call that can run JS (getters, Proxy traps, `entries()`) may throw; each method here
//! clears the pending exception and answers `None`, so a hostile value reads as "absent" and
//! never leaves an exception behind that would surface as a napi error code.

use napi::sys;
use std::ffi::{c_void, CStr};
use std::ptr;

/// The first `N` arguments of a native callback (missing ones are `undefined`) and the data
/// its function was made with; `None` if napi cannot tell.
///
/// # Safety
/// `info` is the callback info of the call now running in `env`.
pub unsafe fn callback_args<const N: usize>(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> Option<([sys::napi_value; N], *mut c_void)> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    let mut data: *mut c_void = ptr::null_mut();
    // SAFETY: `argv` has room for `argc` values; `this` is not asked for.
    let status = unsafe {
        sys::napi_get_cb_info(
            env,
            info,
            &mut argc,
            argv.as_mut_ptr(),
            ptr::null_mut(),
            &mut data,
        )
    };
    (status == sys::Status::napi_ok).then_some((argv, data))
}

/// The JS type of a value (`typeof`, with `null` apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `undefined` (also a missing argument).
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// A symbol.
    Symbol,
    /// An object (arrays, errors, proxies, class instances...).
    Object,
    /// A function.
    Function,
    /// A napi external.
    External,
    /// A BigInt.
    BigInt,
}

impl Kind {
    /// How an argument error names the kind: `number`, `null`, `an object`...
    pub fn name(self) -> &'static str {
        match self {
            Kind::Undefined => "undefined",
            Kind::Null => "null",
            Kind::Boolean => "boolean",
            Kind::Number => "number",
            Kind::String => "string",
            Kind::Symbol => "symbol",
            Kind::Object => "object",
            Kind::Function => "function",
            Kind::External => "external",
            Kind::BigInt => "bigint",
        }
    }
}

/// The raw environment of the JS thread a binding method runs on.
#[derive(Clone, Copy)]
pub struct Js {
    env: sys::napi_env,
}

impl Js {
    /// Wrap the environment of the current call.
    pub fn new(env: sys::napi_env) -> Self {
        Self { env }
    }

    /// The environment this wraps.
    pub fn env(self) -> sys::napi_env {
        self.env
    }

    /// `true` when `status` is ok; otherwise clears any pending JS exception.
    fn ok(self, status: sys::napi_status) -> bool {
        if status == sys::Status::napi_ok {
            return true;
        }
        self.clear_exception();
        false
    }

    /// Drop a pending JS exception (a throwing getter or trap), if any.
    pub fn clear_exception(self) {
        let mut pending = false;
        // SAFETY: `env` is the live environment of this call.
        unsafe { sys::napi_is_exception_pending(self.env, &mut pending) };
        if pending {
            let mut ignored = ptr::null_mut();
            // SAFETY: as above.
            unsafe { sys::napi_get_and_clear_last_exception(self.env, &mut ignored) };
        }
    }

    /// `typeof v`.
    pub fn kind(self, v: sys::napi_value) -> Kind {
        let mut t = 0;
        // SAFETY: `v` is a value of this env.
        if !self.ok(unsafe { sys::napi_typeof(self.env, v, &mut t) }) {
            return Kind::Undefined;
        }
        match t {
            sys::ValueType::napi_null => Kind::Null,
            sys::ValueType::napi_boolean => Kind::Boolean,
            sys::ValueType::napi_number => Kind::Number,
            sys::ValueType::napi_string => Kind::String,
            sys::ValueType::napi_symbol => Kind::Symbol,
            sys::ValueType::napi_object => Kind::Object,
            sys::ValueType::napi_function => Kind::Function,
            sys::ValueType::napi_external => Kind::External,
            sys::ValueType::napi_bigint => Kind::BigInt,
            _ => Kind::Undefined,
        }
    }

    /// A boolean's value.
    pub fn bool(self, v: sys::napi_value) -> Option<bool> {
        let mut b = false;
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_get_value_bool(self.env, v, &mut b) })
            .then_some(b)
    }

    /// A number's value.
    pub fn number(self, v: sys::napi_value) -> Option<f64> {
        let mut n = 0.0;
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_get_value_double(self.env, v, &mut n) })
            .then_some(n)
    }

    /// A BigInt as `i64` when it fits exactly.
    pub fn bigint_i64(self, v: sys::napi_value) -> Option<i64> {
        let (mut n, mut lossless) = (0i64, false);
        // SAFETY: `v` is a value of this env.
        let ok = self
            .ok(unsafe { sys::napi_get_value_bigint_int64(self.env, v, &mut n, &mut lossless) });
        (ok && lossless).then_some(n)
    }

    /// A string's length in UTF-16 code units (constant time).
    pub fn string_units(self, v: sys::napi_value) -> Option<usize> {
        let mut len = 0usize;
        // SAFETY: a null buffer asks for the length only.
        self.ok(unsafe {
            sys::napi_get_value_string_utf16(self.env, v, ptr::null_mut(), 0, &mut len)
        })
        .then_some(len)
    }

    /// A string of at most `units` UTF-16 code units, as UTF-8 (lone surrogates replaced).
    pub fn string_with_units(self, v: sys::napi_value, units: usize) -> Option<String> {
        let cap = units.saturating_mul(3) + 1;
        let mut buf: Vec<u8> = Vec::with_capacity(cap);
        let mut written = 0usize;
        // SAFETY: `buf` has room for `cap` bytes; napi writes at most `cap - 1` plus a NUL.
        let ok = self.ok(unsafe {
            sys::napi_get_value_string_utf8(self.env, v, buf.as_mut_ptr().cast(), cap, &mut written)
        });
        if !ok {
            return None;
        }
        // SAFETY: napi initialised `written` bytes.
        unsafe { buf.set_len(written.min(cap)) };
        Some(
            String::from_utf8(buf)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        )
    }

    /// The first at most `max_bytes` bytes of a string, as UTF-8, cut on a character boundary.
    pub fn string_head(self, v: sys::napi_value, max_bytes: usize) -> Option<String> {
        let mut buf: Vec<u8> = Vec::with_capacity(max_bytes + 1);
        let mut written = 0usize;
        // SAFETY: `buf` has room for `max_bytes + 1` bytes.
        let ok = self.ok(unsafe {
            sys::napi_get_value_string_utf8(
                self.env,
                v,
                buf.as_mut_ptr().cast(),
                max_bytes + 1,
                &mut written,
            )
        });
        if !ok {
            return None;
        }
        // SAFETY: napi initialised `written` bytes.
        unsafe { buf.set_len(written.min(max_bytes)) };
        let s = match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let mut b = e.into_bytes();
                b.truncate(valid);
                String::from_utf8(b).unwrap_or_default()
            }
        };
        Some(s)
    }

    /// A new JS string.
    pub fn create_string(self, s: &str) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `s` is valid UTF-8 of the given length.
        self.ok(unsafe {
            sys::napi_create_string_utf8(self.env, s.as_ptr().cast(), s.len() as isize, &mut out)
        })
        .then_some(out)
    }

    /// A new JS number.
    pub fn create_number(self, n: f64) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: plain value creation.
        self.ok(unsafe { sys::napi_create_double(self.env, n, &mut out) })
            .then_some(out)
    }

    /// JS `true` or `false`.
    pub fn boolean(self, b: bool) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: plain value lookup.
        self.ok(unsafe { sys::napi_get_boolean(self.env, b, &mut out) })
            .then_some(out)
    }

    /// A JS function `name` calling `cb`, which gets `data` back through [`callback_args`]
    /// (null: none). Keeping `data` valid is the caller's part.
    pub fn create_function(
        self,
        name: &CStr,
        cb: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
        data: *mut c_void,
    ) -> Option<sys::napi_value> {
        /// `NAPI_AUTO_LENGTH`: the name is NUL-terminated.
        const NAME_LENGTH: isize = -1;
        let mut out = ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; napi only hands `data` back to `cb`.
        self.ok(unsafe {
            sys::napi_create_function(
                self.env,
                name.as_ptr(),
                NAME_LENGTH,
                Some(cb),
                data,
                &mut out,
            )
        })
        .then_some(out)
    }

    /// JS `undefined`.
    pub fn undefined(self) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: plain value lookup.
        self.ok(unsafe { sys::napi_get_undefined(self.env, &mut out) })
            .then_some(out)
    }

    /// `source` compiled and run as a script (a throw reads as `None`).
    pub fn run_script(self, source: &str) -> Option<sys::napi_value> {
        let script = self.create_string(source)?;
        let mut out = ptr::null_mut();
        // SAFETY: `script` is a string of this env.
        self.ok(unsafe { sys::napi_run_script(self.env, script, &mut out) })
            .then_some(out)
    }

    /// `obj[name]` (runs getters and Proxy traps; a throw reads as `None`).
    pub fn get(self, obj: sys::napi_value, name: &CStr) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `obj` is an object of this env, `name` NUL-terminated.
        self.ok(unsafe { sys::napi_get_named_property(self.env, obj, name.as_ptr(), &mut out) })
            .then_some(out)
    }

    /// `obj[key]` for a JS key value.
    pub fn get_by_key(self, obj: sys::napi_value, key: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: both are values of this env.
        self.ok(unsafe { sys::napi_get_property(self.env, obj, key, &mut out) })
            .then_some(out)
    }

    /// `obj[key] = value` (runs setters and Proxy traps; a throw reads as `None`).
    pub fn set_by_key(
        self,
        obj: sys::napi_value,
        key: sys::napi_value,
        value: sys::napi_value,
    ) -> Option<()> {
        // SAFETY: all three are values of this env.
        self.ok(unsafe { sys::napi_set_property(self.env, obj, key, value) })
            .then_some(())
    }

    /// `Object.freeze(obj)`.
    pub fn freeze(self, obj: sys::napi_value) -> Option<()> {
        // SAFETY: `obj` is an object of this env.
        self.ok(unsafe { sys::napi_object_freeze(self.env, obj) })
            .then_some(())
    }

    /// A new plain object.
    pub fn create_object(self) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: plain object creation.
        self.ok(unsafe { sys::napi_create_object(self.env, &mut out) })
            .then_some(out)
    }

    /// `arr[i]`.
    pub fn element(self, arr: sys::napi_value, i: u32) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `arr` is an object of this env.
        self.ok(unsafe { sys::napi_get_element(self.env, arr, i, &mut out) })
            .then_some(out)
    }

    /// `Array.isArray(v)` (false for a Proxy of an array).
    pub fn is_array(self, v: sys::napi_value) -> bool {
        let mut b = false;
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_is_array(self.env, v, &mut b) }) && b
    }

    /// The `length` of a real array.
    pub fn array_len(self, arr: sys::napi_value) -> Option<u32> {
        let mut n = 0u32;
        // SAFETY: `arr` was checked to be an array.
        self.ok(unsafe { sys::napi_get_array_length(self.env, arr, &mut n) })
            .then_some(n)
    }

    /// `v instanceof Error` (native check, no JS runs).
    pub fn is_error(self, v: sys::napi_value) -> bool {
        let mut b = false;
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_is_error(self.env, v, &mut b) }) && b
    }

    /// Whether `v` is a promise.
    pub fn is_promise(self, v: sys::napi_value) -> bool {
        let mut b = false;
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_is_promise(self.env, v, &mut b) }) && b
    }

    /// A `Date`'s epoch ms.
    pub fn date_ms(self, v: sys::napi_value) -> Option<f64> {
        let mut b = false;
        // SAFETY: `v` is a value of this env.
        if !(self.ok(unsafe { sys::napi_is_date(self.env, v, &mut b) }) && b) {
            return None;
        }
        let mut ms = 0.0;
        // SAFETY: checked to be a Date.
        self.ok(unsafe { sys::napi_get_date_value(self.env, v, &mut ms) })
            .then_some(ms)
    }

    /// The bytes of a `Buffer` or `Uint8Array` (at most `max` of them), or `None` for other values.
    pub fn bytes(self, v: sys::napi_value, max: usize) -> Option<Vec<u8>> {
        let mut is_typed = false;
        // SAFETY: `v` is a value of this env.
        if !(self.ok(unsafe { sys::napi_is_typedarray(self.env, v, &mut is_typed) }) && is_typed) {
            return None;
        }
        let (mut ty, mut len, mut data) = (0, 0usize, ptr::null_mut());
        let (mut buffer, mut offset) = (ptr::null_mut(), 0usize);
        // SAFETY: checked to be a typed array.
        let ok = self.ok(unsafe {
            sys::napi_get_typedarray_info(
                self.env,
                v,
                &mut ty,
                &mut len,
                &mut data,
                &mut buffer,
                &mut offset,
            )
        });
        if !ok || ty != sys::TypedarrayType::uint8_array || data.is_null() {
            return Some(Vec::new());
        }
        // SAFETY: napi reports `len` readable bytes at `data` for the lifetime of this call.
        let slice = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
        Some(slice[..len.min(max)].to_vec())
    }

    /// `Object.getPrototypeOf(v)` (runs a Proxy trap; a throw reads as `None`).
    pub fn prototype(self, v: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `v` is an object of this env.
        self.ok(unsafe { sys::napi_get_prototype(self.env, v, &mut out) })
            .then_some(out)
    }

    /// `globalThis`.
    pub fn global(self) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `env` is the live environment of this call.
        self.ok(unsafe { sys::napi_get_global(self.env, &mut out) })
            .then_some(out)
    }

    /// `Object(v)`: a primitive's wrapper object (to reach its prototype's methods).
    pub fn to_object(self, v: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `v` is a value of this env.
        self.ok(unsafe { sys::napi_coerce_to_object(self.env, v, &mut out) })
            .then_some(out)
    }

    /// The own enumerable string keys of `obj`, as a JS array (numbers as strings).
    pub fn own_keys(self, obj: sys::napi_value) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `obj` is an object of this env.
        self.ok(unsafe {
            sys::napi_get_all_property_names(
                self.env,
                obj,
                sys::KeyCollectionMode::own_only,
                sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
                sys::KeyConversion::numbers_to_strings,
                &mut out,
            )
        })
        .then_some(out)
    }

    /// `a === b`.
    pub fn same(self, a: sys::napi_value, b: sys::napi_value) -> bool {
        let mut eq = false;
        // SAFETY: both are values of this env.
        self.ok(unsafe { sys::napi_strict_equals(self.env, a, b, &mut eq) }) && eq
    }

    /// `f.call(this, ...args)`; a throw reads as `None`.
    pub fn call(
        self,
        this: sys::napi_value,
        f: sys::napi_value,
        args: &[sys::napi_value],
    ) -> Option<sys::napi_value> {
        let mut out = ptr::null_mut();
        // SAFETY: `f` was checked to be a function; `args` are values of this env.
        self.ok(unsafe {
            sys::napi_call_function(self.env, this, f, args.len(), args.as_ptr(), &mut out)
        })
        .then_some(out)
    }

    /// The method `obj[name]` when it is a function.
    pub fn method(self, obj: sys::napi_value, name: &CStr) -> Option<sys::napi_value> {
        let f = self.get(obj, name)?;
        (self.kind(f) == Kind::Function).then_some(f)
    }
}
