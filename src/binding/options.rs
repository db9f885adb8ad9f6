//! Reading the constructor's options object: plain values go to the engine's normaliser;
//! the `onEvent` and `resend` functions become threadsafe callbacks.

use super::event_sink::ListenerFn;
use super::input::js_to_json;
use super::js_resender::{Controllers, JsResender};
use crate::error::EngineError;
use napi::bindgen_prelude::{Function, JsObjectValue, Object, Unknown};
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
    options: Option<Unknown<'_>>,
    controllers: &Controllers,
) -> napi::Result<Result<RawOptions, EngineError>> {
    let mut out = RawOptions {
        json: None,
        on_event: None,
        resend: None,
    };
    let Some(options) = options else {
        return Ok(Ok(out));
    };
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
    let names = obj.get_property_names()?;
    let mut map = Map::new();
    for i in 0..names.get_array_length()? {
        let name: String = names.get_element(i)?;
        let value: Unknown = obj.get_named_property(&name)?;
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
                let f: Function<'_, Value, Unknown<'static>> = unsafe { value.cast()? };
                out.on_event = Some(f.create_ref()?);
            }
            "resend" => {
                // SAFETY: checked to be a function above.
                let f = unsafe { value.cast()? };
                out.resend = Some(JsResender::from_function(env, f, controllers)?);
            }
            _ => {
                match js_to_json(env, value) {
                    Ok(v) => {
                        map.insert(name, v);
                    }
                    Err(_) => return Ok(Err(EngineError::option(
                        name,
                        "could not be read as JSON (functions, symbols and cycles are not options)",
                    ))),
                }
            }
        }
    }
    out.json = Some(Value::Object(map));
    Ok(Ok(out))
}
