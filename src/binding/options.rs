//! Reading the constructor's options object: plain values go to the engine's normaliser;
//! the `onEvent` and `resend` functions become threadsafe callbacks.

use super::event_sink::ListenerFn;
use super::input::{self, Limits, Mode};
use super::js::Js;
use super::js_resender::{Controllers, JsResender};
use crate::error::EngineError;
use napi::bindgen_prelude::{Function, Object, Unknown};
use napi::JsValue;
use napi::{Env, ValueType};
use serde_json::{Map, Value};

/// What the constructor got.
pub struct RawOptions {
    /// Everything but the functions, as JSON.
    pub json: Option<Value>,
    /// `onEvent`, when given (a listener for every event type).
    pub on_event: Option<ListenerFn>,
    /// `resend`, when given.
    pub resend: Option<JsResender>,
}

/// Split `options` into JSON and callbacks. Errors are engine errors (`E_INVALID_OPTION`).
pub fn read(
    env: &Env,
    options: Unknown<'_>,
    controllers: &Controllers,
) -> napi::Result<Result<RawOptions, EngineError>> {
    let mut out = RawOptions {
        json: None,
        on_event: None,
        resend: None,
    };
    let js = Js::new(env.raw());
    match options.get_type()? {
        ValueType::Undefined | ValueType::Null => return Ok(Ok(out)),
        ValueType::Object => {}
        other => {
            return Ok(Err(EngineError::option(
                "options",
                format!("expected an object, got {other}"),
            )))
        }
    }
    // SAFETY: checked to be an object above.
    let obj: Object = unsafe { options.cast()? };
    let Some(names) = js.own_keys(obj.raw()) else {
        return Ok(Err(EngineError::option(
            "options",
            "could not be read (its keys threw)",
        )));
    };
    let mut map = Map::new();
    for i in 0..js.array_len(names).unwrap_or(0).min(1000) {
        let Some(key) = js.element(names, i) else {
            continue;
        };
        let Some(units) = js.string_units(key).filter(|n| *n <= 1024) else {
            continue;
        };
        let Some(name) = js.string_with_units(key, units) else {
            continue;
        };
        let Some(raw_value) = js.get_by_key(obj.raw(), key) else {
            return Ok(Err(EngineError::option(
                name,
                "could not be read (its getter threw)",
            )));
        };
        // SAFETY: `raw_value` is a value of this env, alive for this call.
        let value = unsafe { Unknown::from_raw_unchecked(env.raw(), raw_value) };
        let ty = value.get_type()?;
        match name.as_str() {
            "onEvent" | "resend" if matches!(ty, ValueType::Undefined | ValueType::Null) => {}
            "onEvent" | "resend" if ty != ValueType::Function => {
                return Ok(Err(EngineError::option(
                    name,
                    format!("expected a function, got {ty}"),
                )))
            }
            "onEvent" => {
                // SAFETY: checked to be a function above.
                let f: Function<'_, Value, napi::bindgen_prelude::Unknown<'static>> =
                    unsafe { value.cast()? };
                out.on_event = Some(f.create_ref()?);
            }
            "resend" => {
                // SAFETY: checked to be a function above.
                let f = unsafe { value.cast()? };
                out.resend = Some(JsResender::from_function(env, f, controllers)?);
            }
            _ => match input::read(
                js,
                raw_value,
                Mode::Options,
                Limits::for_mode(Mode::Options),
            ) {
                Ok(Some(v)) => {
                    map.insert(name, v);
                }
                Ok(None) => {}
                Err(p) => {
                    let field = match p.path.as_str() {
                        "" => name,
                        rest if rest.starts_with('[') => format!("{name}{rest}"),
                        rest => format!("{name}.{rest}"),
                    };
                    return Ok(Err(EngineError::option(field, p.message)));
                }
            },
        }
    }
    out.json = Some(Value::Object(map));
    Ok(Ok(out))
}
