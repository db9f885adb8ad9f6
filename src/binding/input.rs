//! Converting a JS failure input (string, `Error`, `{status, headers, body}`, `agent_end` event)
//! into JSON for the classifier. JS `Error`s keep their non-enumerable `message`/`name` and the
//! fields SDK errors carry (`status`, `code`, `headers`, `body`, `error`, `cause`, `response`).

use napi::bindgen_prelude::{JsObjectValue, JsValue, Object, Unknown};
use napi::{Env, ValueType};
use serde_json::{Map, Value};

/// Fields read from a JS `Error` in addition to its enumerable ones.
const ERROR_FIELDS: [&str; 11] = [
    "name",
    "message",
    "status",
    "statusCode",
    "code",
    "type",
    "headers",
    "body",
    "error",
    "cause",
    "response",
];

/// How deep nested errors (`cause`, `error`, `response`) are followed.
const MAX_DEPTH: usize = 4;

/// Convert any JS value into JSON, expanding `Error` objects.
pub fn js_to_json(env: &Env, value: Unknown<'_>) -> napi::Result<Value> {
    convert(env, value, 0)
}

fn convert(env: &Env, value: Unknown<'_>, depth: usize) -> napi::Result<Value> {
    match value.get_type()? {
        ValueType::Undefined | ValueType::Null => Ok(Value::Null),
        ValueType::Object if value.is_error()? => {
            // SAFETY: checked to be an object just above.
            let obj: Object = unsafe { value.cast()? };
            let mut map: Map<String, Value> = match env.from_js_value::<Value, _>(value) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            for field in ERROR_FIELDS {
                if depth >= MAX_DEPTH && matches!(field, "cause" | "error" | "response") {
                    continue;
                }
                if !obj.has_named_property(field)? {
                    continue;
                }
                let v: Unknown = obj.get_named_property(field)?;
                let json = convert(env, v, depth + 1)?;
                if !json.is_null() {
                    map.insert(field.to_string(), json);
                }
            }
            Ok(Value::Object(map))
        }
        ValueType::Function | ValueType::Symbol | ValueType::External => Ok(Value::Null),
        ValueType::BigInt => Ok(Value::String(
            value.coerce_to_string()?.into_utf8()?.into_owned()?,
        )),
        _ => env.from_js_value::<Value, _>(value),
    }
}
