//! Checking method arguments ourselves (they arrive as raw JS values), so that every mistake
//! is an `E_INVALID_INPUT` naming the argument — never a napi `StringExpected`.

use super::input::{self, Limits, Mode};
use super::js::{Js, Kind};
use crate::error::{EngineError, EngineResult};
use napi::bindgen_prelude::Unknown;
use napi::sys;
use napi::JsValue;
use serde_json::Value;

/// Longest string argument accepted (code units): keys are checked to 1024 bytes by the
/// engine; messages may be long.
const MAX_STRING_ARG: usize = 1 << 20;

/// A raw argument (undefined when missing).
pub fn raw(v: &Unknown<'_>) -> sys::napi_value {
    v.raw()
}

fn wrong(name: &str, expected: &str, kind: Kind) -> EngineError {
    EngineError::input(name, format!("expected {expected}, got {}", kind.name()))
}

/// A required string argument (a key, a method name, a message).
pub fn string(js: Js, v: sys::napi_value, name: &str) -> EngineResult<String> {
    match js.kind(v) {
        Kind::String => read_string(js, v, name),
        k => Err(wrong(name, "a non-empty string", k)),
    }
}

fn read_string(js: Js, v: sys::napi_value, name: &str) -> EngineResult<String> {
    let units = js.string_units(v).unwrap_or(0);
    if units > MAX_STRING_ARG {
        return Err(EngineError::input(
            name,
            format!("is {units} characters long; at most {MAX_STRING_ARG} are accepted"),
        ));
    }
    js.string_with_units(v, units)
        .ok_or_else(|| EngineError::input(name, "could not be read as a string"))
}

/// A required free-text argument (a chat message to check): like [`string`], but a text
/// longer than the argument limit is kept by its first and last 64 KiB instead of refused.
pub fn text(js: Js, v: sys::napi_value, name: &str) -> EngineResult<String> {
    match js.kind(v) {
        Kind::String if js.string_units(v).unwrap_or(0) > MAX_STRING_ARG => match failure(js, v) {
            Value::String(s) => Ok(s),
            _ => Err(EngineError::input(name, "could not be read as a string")),
        },
        Kind::String => read_string(js, v, name),
        k => Err(wrong(name, "a string", k)),
    }
}

/// An optional string argument (`undefined`/`null` = absent).
pub fn opt_string(js: Js, v: sys::napi_value, name: &str) -> EngineResult<Option<String>> {
    match js.kind(v) {
        Kind::Undefined | Kind::Null => Ok(None),
        Kind::String => read_string(js, v, name).map(Some),
        k => Err(wrong(name, "a string or undefined", k)),
    }
}

/// A required boolean argument.
pub fn boolean(js: Js, v: sys::napi_value, name: &str) -> EngineResult<bool> {
    match js.kind(v) {
        Kind::Boolean => js
            .bool(v)
            .ok_or_else(|| EngineError::input(name, "could not be read as a boolean")),
        k => Err(wrong(name, "a boolean", k)),
    }
}

/// An optional `nowMs` (epoch ms): a finite number >= 0, or `undefined`/`null`.
pub fn now(js: Js, v: sys::napi_value) -> EngineResult<Option<i64>> {
    match js.kind(v) {
        Kind::Undefined | Kind::Null => Ok(None),
        Kind::Number => match js.number(v) {
            Some(n) if n.is_finite() && (0.0..=8.64e15).contains(&n) => Ok(Some(n as i64)),
            Some(n) => Err(EngineError::input(
                "nowMs",
                format!("expected epoch milliseconds (a finite number >= 0), got {n}"),
            )),
            None => Err(EngineError::input("nowMs", "could not be read as a number")),
        },
        k => Err(wrong(
            "nowMs",
            "epoch milliseconds (a number) or undefined",
            k,
        )),
    }
}

/// An optional whole number in `1..=max` (`undefined`/`null` = `default`).
pub fn opt_count(
    js: Js,
    v: sys::napi_value,
    name: &str,
    default: u64,
    max: u64,
) -> EngineResult<u64> {
    match js.kind(v) {
        Kind::Undefined | Kind::Null => Ok(default),
        Kind::Number => match js.number(v) {
            Some(n) if n.fract() == 0.0 && (1.0..=max as f64).contains(&n) => Ok(n as u64),
            Some(n) => Err(EngineError::input(
                name,
                format!("expected an integer from 1 to {max}, got {n}"),
            )),
            None => Err(EngineError::input(name, "could not be read as a number")),
        },
        k => Err(wrong(name, "an integer or undefined", k)),
    }
}

/// An optional list of strings (`undefined`/`null` = absent), at most 1000 items.
pub fn opt_string_list(
    js: Js,
    v: sys::napi_value,
    name: &str,
) -> EngineResult<Option<Vec<String>>> {
    const MAX: u32 = 1000;
    match js.kind(v) {
        Kind::Undefined | Kind::Null => return Ok(None),
        Kind::Object if js.is_array(v) => {}
        k => return Err(wrong(name, "an array of strings or undefined", k)),
    }
    let len = js.array_len(v).unwrap_or(0);
    if len > MAX {
        return Err(EngineError::input(
            name,
            format!("has {len} items; at most {MAX} are accepted"),
        ));
    }
    (0..len)
        .map(|i| {
            let item_name = format!("{name}[{i}]");
            let item = js
                .element(v, i)
                .ok_or_else(|| EngineError::input(item_name.as_str(), "could not be read"))?;
            string(js, item, &item_name)
        })
        .collect::<EngineResult<Vec<_>>>()
        .map(Some)
}

/// A failure input read with the bounded reader (unreadable parts are absent).
pub fn failure(js: Js, v: sys::napi_value) -> Value {
    input::read(js, v, Mode::Failure, Limits::default())
        .ok()
        .flatten()
        .unwrap_or(Value::Null)
}

/// An optional object argument (`meta`, `params`, `opts`): `undefined`/`null` = `Value::Null`;
/// anything but an object is an error naming `name`; too large or too long parts are errors
/// naming the field (`meta.message`).
pub fn opt_object(js: Js, v: sys::napi_value, name: &str, mode: Mode) -> EngineResult<Value> {
    match js.kind(v) {
        Kind::Undefined | Kind::Null => return Ok(Value::Null),
        Kind::Object if !js.is_array(v) => {}
        Kind::Object => return Err(EngineError::input(name, "expected an object, got an array")),
        k => return Err(wrong(name, "an object or undefined", k)),
    }
    match input::read(js, v, mode, Limits::for_mode(mode)) {
        Ok(value) => Ok(value.unwrap_or_else(|| Value::Object(Default::default()))),
        Err(p) => Err(EngineError::input(
            if p.path.is_empty() {
                name.to_owned()
            } else if p.path.starts_with('[') {
                format!("{name}{}", p.path)
            } else {
                format!("{name}.{}", p.path)
            },
            p.message,
        )),
    }
}

/// An argument read with napi calls that may run JS (getters, Proxy traps): a throw becomes
/// `E_INVALID_INPUT` naming `name` (the pending exception is cleared), never a napi code.
pub fn readable<T>(js: Js, r: napi::Result<EngineResult<T>>, name: &str) -> EngineResult<T> {
    match r {
        Ok(x) => x,
        Err(_) => {
            js.clear_exception();
            Err(EngineError::input(
                name,
                "could not be read (a getter or Proxy trap threw)",
            ))
        }
    }
}
