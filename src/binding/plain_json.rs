//! The fast path of the input reader for plain data: objects whose prototype is
//! `Object.prototype` or `null`, arrays, strings, numbers and booleans, such as
//! `{ status, headers, body }` or `{ provider }`. Reading those key by key through Node-API
//! costs 5–10 native calls a key; a JS helper compiled once per JS thread walks them instead
//! and hands back one JSON text, which is parsed here. It reads exactly what
//! [`super::input::read`] reads from such a value (a test compares the two on many shapes).
//!
//! The helper gives up (and the native reader reads the value instead) on anything else or
//! anything unusual: a class instance, `Error`, `Date`, boxed primitive, `Buffer`, `Map`,
//! `Headers` or a Proxy of an array; a `BigInt`; an integer beyond 2^53; a cycle; a lone
//! surrogate (the JSON parse refuses it); a throwing getter or Proxy trap; more than
//! [`MAX_ITEMS`] items in an array, [`MAX_KEYS`] keys in an object, [`MAX_NODES`] values,
//! [`MAX_STRING`] code units in a string or [`MAX_UNITS`] in all; nesting deeper than
//! [`MAX_DEPTH`]. Getters of a value that is then read natively run twice.
//!
//! What the helper cannot read but the value holds (a function, a symbol, `NaN`, `±Infinity`)
//! comes back as `null`: it is dropped, or becomes `[redacted]` under a secret-named key, as
//! the native reader does; `undefined` and `null` values are left out.

use super::input::{Limits, Mode, NOISE_KEYS};
use super::js::{self, Js};
use super::js_values::{Held, JsValues};
use super::permit_js::with_short_string;
use crate::redact::{is_secret_key, SECRET_KEY_MAX_BYTES};
use napi::sys;
use serde_json::Value;
use std::cell::RefCell;
use std::ptr;

/// Most items read from one array (more: the native reader samples or refuses it).
pub const MAX_ITEMS: usize = 256;
/// Most keys read from one object.
pub const MAX_KEYS: usize = 1_000;
/// Most values read in all.
pub const MAX_NODES: usize = 4_000;
/// Deepest nesting read (the top value is depth 0).
pub const MAX_DEPTH: usize = 30;
/// Longest string read (code units); a longer one is cut to its ends by the native reader.
pub const MAX_STRING: usize = 32 << 10;
/// Code units of strings and keys read in all.
pub const MAX_UNITS: usize = 256 << 10;
/// Longest key read; the native reader skips longer keys, and so does the helper.
const MAX_KEY: usize = 1_024;

thread_local! {
    static SLOT: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The helper's readers, one per [`Mode`] it reads.
static VALUES: JsValues = JsValues::new(&SLOT, make);
const FAILURE_READER: usize = 0;
const META_READER: usize = 1;
const PARAMS_READER: usize = 2;
/// Secret-key verdicts the helper caches per JS thread (keys past that are asked each time).
const MAX_VERDICTS: usize = 4_096;

/// The helper's source after its constants: a function of `isSecretKey` (the engine's own
/// [`is_secret_key`]) that returns `[failure, meta, params]` readers, each
/// `value => json | undefined`. A value under a secret-named key (failure and meta) is never
/// read: it comes back as `null` when present. A reader writes the JSON text as it walks
/// (copying the value into fresh objects and stringifying those in one call cost ≈ 7k
/// instructions for the stringify alone). The builtins it calls are captured when it is
/// compiled, so a later monkey-patch of `Object.keys` or `JSON.stringify` changes nothing;
/// property reads run getters and Proxy traps, and any throw gives up. (A patched builtin it
/// does not hold, such as `String.prototype.charCodeAt`, can only make text that fails to
/// parse, which leaves the value to the native reader, or text the caller could have passed.)
const HELPER_BODY: &str = r#"
  const keysOf = Object.keys;
  const protoOf = Object.getPrototypeOf;
  const isArray = Array.isArray;
  const stringify = JSON.stringify;
  const isInteger = Number.isInteger;
  const isSafeInteger = Number.isSafeInteger;
  const create = Object.create;
  const OBJECT_PROTO = Object.prototype;
  let isProxy = null;
  try {
    const types = process.getBuiltinModule('node:util').types;
    if (typeof types.isProxy === 'function') isProxy = types.isProxy;
  } catch {}
  const NOISE = create(null);
  for (let i = 0; i < noiseKeys.length; i++) NOISE[noiseKeys[i]] = true;
  // Verdicts of `isSecretKey` (the engine's own test), cached for up to MAX_VERDICTS keys.
  const verdicts = create(null);
  let cachedVerdicts = 0;
  function secret(k) {
    // Longer in code units is longer in UTF-8 bytes: never a secret, never cached.
    if (k.length > SECRET_KEY_MAX_BYTES) return false;
    let s = verdicts[k];
    if (s === undefined) {
      s = isSecretKey(k) === true;
      if (cachedVerdicts < MAX_VERDICTS) {
        verdicts[k] = s;
        cachedVerdicts++;
      }
    }
    return s;
  }
  const GIVE_UP = Symbol('give up');
  const stack = [];
  let failure = false;
  let redact = false;
  let nodes = 0;
  let units = 0;

  // `s` as a JSON string: most keys and values need no escape, and are quoted here without a
  // call into the engine's stringifier (which costs more than the whole walk of a small input).
  function quoted(s) {
    const n = s.length;
    if (n > 64) return stringify(s);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return stringify(s);
    }
    return '"' + s + '"';
  }

  // `v` as JSON text (`undefined`: left out; `null`: unreadable).
  function item(v, depth) {
    if (++nodes > MAX_NODES) throw GIVE_UP;
    switch (typeof v) {
      case 'string':
        if (v.length > MAX_STRING || (units += v.length) > MAX_UNITS) throw GIVE_UP;
        return quoted(v);
      case 'number':
        if (v !== v || v === Infinity || v === -Infinity) return 'null';
        if (isInteger(v) && !isSafeInteger(v)) throw GIVE_UP;
        return '' + v;
      case 'boolean':
        return v ? 'true' : 'false';
      case 'undefined':
        return undefined;
      case 'object':
        return v === null ? undefined : object(v, depth);
      case 'function':
      case 'symbol':
        return 'null';
      default:
        throw GIVE_UP;
    }
  }

  function object(o, depth) {
    if (depth >= MAX_DEPTH) throw GIVE_UP;
    for (let i = 0; i < depth; i++) if (stack[i] === o) throw GIVE_UP;
    stack[depth] = o;
    let out;
    let first = true;
    if (isArray(o)) {
      if (isProxy === null || isProxy(o)) throw GIVE_UP;
      const n = o.length;
      if (n > MAX_ITEMS) throw GIVE_UP;
      out = '[';
      for (let i = 0; i < n; i++) {
        const x = item(o[i], depth + 1);
        if (x === undefined) continue;
        out += first ? x : ',' + x;
        first = false;
      }
      out += ']';
    } else {
      const proto = protoOf(o);
      if (proto !== OBJECT_PROTO && proto !== null) throw GIVE_UP;
      const keys = keysOf(o);
      const n = keys.length;
      if (n > MAX_KEYS) throw GIVE_UP;
      out = '{';
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        if (k.length > MAX_KEY) continue;
        if (failure && (k[0] === '_' || NOISE[k] === true)) continue;
        if ((units += k.length) > MAX_UNITS) throw GIVE_UP;
        let x;
        if (redact && secret(k)) {
          // Never read: marked present, and the engine writes `[redacted]` in its place.
          const v = o[k];
          if (v === undefined || v === null) continue;
          x = 'null';
        } else {
          x = item(o[k], depth + 1);
          if (x === undefined) continue;
        }
        out += (first ? '' : ',') + quoted(k) + ':' + x;
        first = false;
      }
      out += '}';
    }
    stack[depth] = undefined;
    return out;
  }

  // A getter may call into the engine, which reads its own input: that nested read gives up
  // (the native reader keeps its state per call) rather than clobber this one's.
  let busy = false;
  function reader(skipNoise, redactSecrets) {
    return function read(v) {
      if (busy) return undefined;
      busy = true;
      failure = skipNoise;
      redact = redactSecrets;
      nodes = 0;
      units = 0;
      try {
        return item(v, 0);
      } catch {
        return undefined;
      } finally {
        stack.length = 0;
        busy = false;
      }
    };
  }
  return [reader(true, true), reader(false, true), reader(false, false)];
})"#;

/// The helper's whole source: the noise keys and its limits as constants, then
/// [`HELPER_BODY`].
fn helper_source() -> String {
    let noise = serde_json::to_string(NOISE_KEYS).unwrap_or_else(|_| "[]".into());
    format!(
        "(function (isSecretKey) {{\n  'use strict';\n  const noiseKeys = {noise};\n  const MAX_ITEMS = {MAX_ITEMS};\n  \
         const MAX_KEYS = {MAX_KEYS};\n  const MAX_NODES = {MAX_NODES};\n  \
         const MAX_DEPTH = {MAX_DEPTH};\n  const MAX_STRING = {MAX_STRING};\n  \
         const MAX_UNITS = {MAX_UNITS};\n  const MAX_KEY = {MAX_KEY};\n  \
         const MAX_VERDICTS = {MAX_VERDICTS};\n  \
         const SECRET_KEY_MAX_BYTES = {SECRET_KEY_MAX_BYTES};{HELPER_BODY}"
    )
}

fn make(js: Js) -> Option<Vec<sys::napi_value>> {
    let is_secret = js.create_function(c"isSecretKey", is_secret_key_cb, ptr::null_mut())?;
    let helper = js.run_script(&helper_source())?;
    let readers = js.call(js.undefined()?, helper, &[is_secret])?;
    (0..=PARAMS_READER)
        .map(|i| js.element(readers, i as u32))
        .collect()
}

/// The helper's `isSecretKey(key)`: [`is_secret_key`] of a string key, `false` for anything
/// else. The key is read into a stack buffer; one too long for it is far past
/// [`SECRET_KEY_MAX_BYTES`], so not a secret.
unsafe extern "C" fn is_secret_key_cb(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    // SAFETY: Node-API calls this only as the callback of the function made in `make`.
    let args = unsafe { js::callback_args::<1>(env, info) };
    let Some(([key], _)) = args else {
        return ptr::null_mut();
    };
    let secret = with_short_string(env, key, is_secret_key).unwrap_or(false);
    Js::new(env).boolean(secret).unwrap_or(ptr::null_mut())
}

/// Whether the helper's budgets are within `limits` (every preset of [`Limits::for_mode`];
/// a caller with smaller budgets reads natively).
fn within(limits: &Limits) -> bool {
    limits.max_depth > MAX_DEPTH
        && limits.max_nodes >= MAX_NODES
        && limits.max_items >= MAX_ITEMS
        && limits.max_keys >= MAX_KEYS
        && limits.max_total_bytes >= 3 * MAX_UNITS
        && limits.edge_bytes.saturating_mul(2) >= 3 * MAX_STRING
}

/// `v` (an object) read by the helper, as [`super::input::read`] would read it; `None` when
/// the helper gives up or cannot run, and the native reader reads it. Never used for
/// [`Mode::Options`], whose problems the native reader words.
pub fn read(js: Js, v: sys::napi_value, mode: Mode, limits: &Limits) -> Option<Value> {
    if mode == Mode::Options || !within(limits) {
        return None;
    }
    let values = VALUES.get(js.env())?;
    let reader = values.at(match mode {
        Mode::Failure => FAILURE_READER,
        Mode::Meta => META_READER,
        Mode::Params | Mode::Options => PARAMS_READER,
    })?;
    let text = js.call(js.undefined()?, reader, &[v])?;
    let units = js.string_units(text)?;
    let text = js.string_with_units(text, units)?;
    let mut value: Value = serde_json::from_str(&text).ok()?;
    settle(&mut value, matches!(mode, Mode::Failure | Mode::Meta));
    Some(value)
}

/// Drops the helper's `null`s (values it could not read), or, with `redact`, makes a
/// secret-named key's value `[redacted]` whatever it is (the helper gives those as `null`,
/// unread; checked here again so that no helper text can carry a secret past this point).
fn settle(value: &mut Value, redact: bool) {
    match value {
        Value::Array(items) => {
            items.retain(|x| !x.is_null());
            items.iter_mut().for_each(|x| settle(x, redact));
        }
        Value::Object(map) => map.retain(|key, x| {
            if redact && is_secret_key(key) {
                *x = Value::String("[redacted]".into());
                return true;
            }
            if x.is_null() {
                return false;
            }
            settle(x, redact);
            true
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settle_drops_unreadable_values_and_redacts_marked_secrets() {
        let mut v = json!({
            "a": null, "list": [1, null, {"b": null, "c": 2}], "apiKey": null,
            "nested": {"password": null, "keep": "x"}
        });
        settle(&mut v, true);
        assert_eq!(
            v,
            json!({
                "list": [1, {"c": 2}], "apiKey": "[redacted]",
                "nested": {"password": "[redacted]", "keep": "x"}
            })
        );
    }

    #[test]
    fn settle_redacts_a_secret_keys_value_whatever_the_text_says() {
        let mut v = json!({"token": "sk-live-1", "x": {"password": {"deep": 1}}});
        settle(&mut v, true);
        assert_eq!(
            v,
            json!({"token": "[redacted]", "x": {"password": "[redacted]"}})
        );
    }

    #[test]
    fn settle_without_redaction_drops_a_secret_keys_null_too() {
        let mut v = json!({"token": null, "token2": "kept", "x": [null]});
        settle(&mut v, false);
        assert_eq!(v, json!({"token2": "kept", "x": []}));
    }

    #[test]
    fn every_reader_preset_covers_the_helpers_budgets() {
        for mode in [Mode::Failure, Mode::Meta, Mode::Params] {
            assert!(within(&Limits::for_mode(mode)), "{mode:?}");
        }
        let small = Limits {
            max_items: MAX_ITEMS - 1,
            ..Limits::default()
        };
        assert!(!within(&small));
    }

    #[test]
    fn the_helper_source_names_every_noise_key_and_limit() {
        let src = helper_source();
        for key in NOISE_KEYS {
            assert!(src.contains(&format!("\"{key}\"")), "{key}");
        }
        assert!(src.contains(&format!("const MAX_NODES = {MAX_NODES};")));
    }
}
