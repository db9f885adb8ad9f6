//! The one JS → engine reader. Every method that takes a failure, meta, params or options reads
//! it through [`read`]: it walks the JS value itself (no blind serde conversion), bounded in
//! depth, nodes and bytes, so no JS value can crash, hang or exhaust memory.
//!
//! - Cycles are skipped (an object already on the path reads as absent); shared objects are
//!   read again only within the node budget.
//! - Arrays: at most [`Limits::max_items`] elements, the first and last halves, read tail first
//!   (the last assistant message of an `agent_end` is what matters); holes are absent and a
//!   sparse array is read by its present indices only, never by its `length`.
//! - Throwing getters and Proxy traps read as absent (the exception is cleared). Symbols,
//!   functions and externals are absent; a BigInt becomes a number when exact, else a string;
//!   a `Date` its epoch ms; a `Buffer`/`Uint8Array` its UTF-8 text; a boxed primitive
//!   (`new String("…")`, `new Number(…)`, `new Boolean(…)`) the primitive inside it.
//! - Native types: anything with an `entries()` method (WHATWG `Headers`, `Map`,
//!   `URLSearchParams`) becomes an object of its entries; a header bag with only `get()` is
//!   asked for the retry-hint headers; class instances (`Error`s, `Response`,
//!   `IncomingMessage`) also expose the well-known fields found on their prototypes (`message`,
//!   `status`, `statusText`, `headers`, `cause`, `errors` of an `AggregateError`...).
//! - Long strings keep their first and last [`Limits::edge_bytes`]; in [`Mode::Options`] an
//!   over-long string, a function or a cycle is a [`Problem`] instead (options must be exact).

use super::js::{Js, Kind};
use super::plain_json;
use crate::redact::is_secret_key;
use napi::sys;
use serde_json::{Map, Number, Value};
use std::ffi::CStr;

/// What is being read; decides the budgets and what counts as a problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A failure input (`classify`, `recordFailure`, `park`, `markProfile`): noisy transport
    /// fields (`config`, `request`, `socket`, `_private`...) are skipped, values under
    /// secret-named keys are replaced by `[redacted]`, long strings keep both ends.
    Failure,
    /// `park` meta, stored in the queue: values under secret-named keys are replaced by
    /// `[redacted]`; strings are exact (longer than [`MAX_DATA_STRING`]: a [`Problem`]).
    Meta,
    /// Values forwarded as given (`gatewayRequest` params, method options): nothing redacted,
    /// strings exact (longer than [`MAX_DATA_STRING`]: a [`Problem`]).
    Params,
    /// Constructor options: nothing is skipped or redacted, and anything that cannot be read
    /// exactly (functions, symbols, cycles, strings over [`MAX_OPTION_STRING`]) is a [`Problem`].
    Options,
}

/// Budgets of one read.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deepest nesting read. Default 32.
    pub max_depth: usize,
    /// Objects, arrays and values read in total. Default 20 000.
    pub max_nodes: usize,
    /// Elements read per array. Default 256.
    pub max_items: usize,
    /// Keys read per object. Default 1 000.
    pub max_keys: usize,
    /// String bytes read in total. Default 4 MiB.
    pub max_total_bytes: usize,
    /// Bytes kept from each end of a long string. Default 64 KiB.
    pub edge_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_nodes: 20_000,
            max_items: 256,
            max_keys: 1_000,
            max_total_bytes: 4 << 20,
            edge_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// The budgets for `mode`: failure inputs are sampled (256 items per array, 1 000 keys per
    /// object); meta, params and options must be read whole, so they may hold up to 10 000
    /// items per array or keys per object, and more is a [`Problem`].
    pub fn for_mode(mode: Mode) -> Self {
        match mode {
            Mode::Failure => Self::default(),
            Mode::Meta | Mode::Params | Mode::Options => Self {
                max_items: 10_000,
                max_keys: 10_000,
                ..Self::default()
            },
        }
    }
}

/// Longest string accepted in an option (code units); patterns have their own, smaller limit.
pub const MAX_OPTION_STRING: usize = 64 << 10;
/// Longest string accepted in meta or params (code units): 1 Mi.
pub const MAX_DATA_STRING: usize = 1 << 20;

/// Something in an options object that cannot be read exactly: `path` is the dotted field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted path, e.g. `patterns[0].pattern`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Transport noise skipped in failure inputs (never failure text, may hold secrets or sockets).
pub const NOISE_KEYS: &[&str] = &[
    "stack",
    "config",
    "request",
    "req",
    "socket",
    "client",
    "agent",
    "connection",
    "options",
    "requestOptions",
    "rawHeaders",
    "rawTrailers",
];

/// Fields read through the prototype chain of class instances (errors, responses).
const WELL_KNOWN: &[&CStr] = &[
    c"name",
    c"message",
    c"status",
    c"statusCode",
    c"statusText",
    c"statusMessage",
    c"code",
    c"headers",
    c"body",
    c"data",
    c"error",
    c"cause",
    c"response",
    c"errors",
];

/// Header names asked of a header bag that has `get()` but no `entries()`.
const HINT_HEADERS: &[&str] = &[
    "retry-after",
    "retry-after-ms",
    "x-ratelimit-reset-requests",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-remaining-tokens",
    "anthropic-ratelimit-unified-reset",
    "anthropic-ratelimit-requests-reset",
    "anthropic-ratelimit-tokens-reset",
    "anthropic-ratelimit-input-tokens-reset",
    "anthropic-ratelimit-output-tokens-reset",
    "anthropic-ratelimit-requests-remaining",
    "anthropic-ratelimit-tokens-remaining",
    "content-type",
];

/// Read `v` as JSON (plain data through [`plain_json`], anything else natively). Unreadable
/// parts are absent; `Ok(None)` when nothing could be read.
/// In [`Mode::Options`] the first unreadable part is returned as a [`Problem`].
pub fn read(
    js: Js,
    v: sys::napi_value,
    mode: Mode,
    limits: Limits,
) -> Result<Option<Value>, Problem> {
    let kind = js.kind(v);
    if kind == Kind::Object {
        if let Some(value) = plain_json::read(js, v, mode, &limits) {
            return Ok(Some(value));
        }
    }
    let mut r = Reader {
        js,
        mode,
        limits,
        nodes: 0,
        bytes: 0,
        ancestors: Vec::new(),
        path: Vec::new(),
        problem: None,
        wrapper_prototypes: None,
    };
    let out = r.value_of_kind(v, kind);
    match r.problem {
        Some(p) => Err(p),
        None => Ok(out),
    }
}

struct Reader {
    js: Js,
    mode: Mode,
    limits: Limits,
    nodes: usize,
    bytes: usize,
    ancestors: Vec<sys::napi_value>,
    path: Vec<String>,
    problem: Option<Problem>,
    /// `String.prototype`, `Number.prototype`, `Boolean.prototype`, looked up on first need.
    wrapper_prototypes: Option<Vec<sys::napi_value>>,
}

enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// An object's prototype, as the reader tells objects apart by it.
#[derive(Clone, Copy)]
enum Proto {
    /// It could not be read.
    Unreadable,
    /// `null` (`Object.create(null)`).
    Null,
    /// One whose own prototype is `null`, such as `Object.prototype`.
    Root(sys::napi_value),
    /// Any other (a class's prototype, `String.prototype`, `Array.prototype`...).
    Other(sys::napi_value),
}

impl Reader {
    /// Record a problem: `exactness` problems (sizes) count in every mode but `Failure`;
    /// the others (functions, symbols, cycles) only in `Options`.
    fn fail(&mut self, exactness: bool, message: impl Into<String>) {
        let counts = match self.mode {
            Mode::Failure => false,
            Mode::Meta | Mode::Params => exactness,
            Mode::Options => true,
        };
        if !counts || self.problem.is_some() {
            return;
        }
        let mut path = String::new();
        for seg in &self.path {
            if seg.starts_with('[') || path.is_empty() {
                path.push_str(seg);
            } else {
                path.push('.');
                path.push_str(seg);
            }
        }
        self.problem = Some(Problem {
            path,
            message: message.into(),
        });
    }

    fn tracks_path(&self) -> bool {
        self.mode != Mode::Failure
    }

    fn push(&mut self, seg: Seg<'_>) {
        if self.tracks_path() {
            self.path.push(match seg {
                Seg::Key(k) => k.to_owned(),
                Seg::Index(i) => format!("[{i}]"),
            });
        }
    }

    fn pop(&mut self) {
        if self.tracks_path() {
            self.path.pop();
        }
    }

    fn value(&mut self, v: sys::napi_value) -> Option<Value> {
        let kind = self.js.kind(v);
        self.value_of_kind(v, kind)
    }

    /// [`Reader::value`] of a value whose kind is known.
    fn value_of_kind(&mut self, v: sys::napi_value, kind: Kind) -> Option<Value> {
        if self.problem.is_some() {
            return None;
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            self.fail(
                true,
                format!("is too large (more than {} values)", self.limits.max_nodes),
            );
            return None;
        }
        match kind {
            Kind::Undefined | Kind::Null => None,
            Kind::Boolean => self.js.bool(v).map(Value::Bool),
            Kind::Number => self.js.number(v).and_then(number),
            Kind::String => self.string(v).map(Value::String),
            Kind::BigInt => self.bigint(v),
            Kind::Symbol | Kind::External => {
                self.fail(false, "a symbol cannot be read here");
                None
            }
            Kind::Function => {
                self.fail(false, "a function cannot be read here");
                None
            }
            Kind::Object => self.object(v),
        }
    }

    fn bigint(&mut self, v: sys::napi_value) -> Option<Value> {
        if let Some(n) = self.js.bigint_i64(v) {
            return Some(Value::from(n));
        }
        // Wider than 64 bits: its digits, bounded like any string.
        let to_string = self.js.method(v, c"toString")?;
        let s = self.js.call(v, to_string, &[])?;
        self.string(s).map(Value::String)
    }

    fn string(&mut self, v: sys::napi_value) -> Option<String> {
        let units = self.js.string_units(v)?;
        let edge = self.limits.edge_bytes;
        let exact = match self.mode {
            Mode::Failure => None,
            Mode::Meta | Mode::Params => Some(MAX_DATA_STRING),
            Mode::Options => Some(MAX_OPTION_STRING),
        };
        let left = self.limits.max_total_bytes.saturating_sub(self.bytes);
        if let Some(max) = exact {
            if units > max {
                self.fail(
                    true,
                    format!("is {units} characters long; at most {max} are accepted"),
                );
                return None;
            }
            if units > left {
                self.fail(
                    true,
                    format!(
                        "is too large (more than {} bytes of text)",
                        self.limits.max_total_bytes
                    ),
                );
                return None;
            }
        }
        if left == 0 {
            return None;
        }
        let s = if exact.is_some() || units.saturating_mul(3) <= 2 * edge {
            self.js.string_with_units(v, units)?
        } else {
            let head = self.js.string_head(v, edge.min(left))?;
            let tail = self.string_tail(v, units, edge).unwrap_or_default();
            if tail.is_empty() {
                head
            } else {
                format!("{head}\n...\n{tail}")
            }
        };
        self.bytes += s.len();
        Some(s)
    }

    /// The last `edge` code units of a long string, via `String.prototype.slice`.
    fn string_tail(&mut self, v: sys::napi_value, units: usize, edge: usize) -> Option<String> {
        let from = self.js.create_number(-(edge.min(units) as f64))?;
        let slice = self.js.method(self.js.to_object(v)?, c"slice")?;
        let tail = self.js.call(v, slice, &[from])?;
        let n = self.js.string_units(tail)?;
        self.js.string_with_units(tail, n)
    }

    fn object(&mut self, v: sys::napi_value) -> Option<Value> {
        if self.ancestors.len() >= self.limits.max_depth {
            self.fail(
                true,
                format!("is nested more than {} levels deep", self.limits.max_depth),
            );
            return None;
        }
        if self.ancestors.iter().any(|a| self.js.same(*a, v)) {
            self.fail(false, "contains a cycle");
            return None;
        }
        if self.js.is_promise(v) {
            self.fail(false, "a promise cannot be read here");
            return None;
        }
        if let Some(ms) = self.js.date_ms(v) {
            return number(ms);
        }
        let proto = self.proto(v);
        if let Some(primitive) = self.unboxed(v, proto) {
            return self.value(primitive);
        }
        if let Some(bytes) = self.js.bytes(v, self.limits.edge_bytes) {
            self.bytes += bytes.len();
            return Some(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        }
        self.ancestors.push(v);
        let out = if self.js.is_array(v) {
            self.array(v).map(Value::Array)
        } else {
            Some(Value::Object(self.map(v, proto)))
        };
        self.ancestors.pop();
        out
    }

    fn array(&mut self, arr: sys::napi_value) -> Option<Vec<Value>> {
        let len = self.js.array_len(arr)? as usize;
        let max = self.limits.max_items;
        if len > max && self.mode != Mode::Failure {
            self.fail(true, format!("has {len} items; at most {max} are accepted"));
            return None;
        }
        let mut indices: Vec<u32> = if len <= max {
            (0..len as u32).collect()
        } else {
            let half = (max / 2) as u32;
            let mut v: Vec<u32> = (0..half).collect();
            v.extend(len as u32 - half..len as u32);
            v
        };
        let mut present = 0usize;
        let mut items: Vec<(u32, Value)> = Vec::with_capacity(indices.len().min(64));
        // Tail first, so the budget goes to the latest entries.
        for &i in indices.iter().rev() {
            self.push(Seg::Index(i as usize));
            if let Some(item) = self.js.element(arr, i) {
                if self.js.kind(item) != Kind::Undefined {
                    present += 1;
                }
                if let Some(x) = self.value(item) {
                    items.push((i, x));
                }
            }
            self.pop();
        }
        if len > max && present < indices.len() {
            // Holes: a sparse array. Read its present indices instead of its length.
            indices = self.present_indices(arr, max);
            items.clear();
            for &i in indices.iter().rev() {
                self.push(Seg::Index(i as usize));
                if let Some(x) = self.js.element(arr, i).and_then(|e| self.value(e)) {
                    items.push((i, x));
                }
                self.pop();
            }
        }
        items.sort_by_key(|(i, _)| *i);
        Some(items.into_iter().map(|(_, v)| v).collect())
    }

    /// The first and last present indices of a sparse array, at most `max` in all.
    fn present_indices(&mut self, arr: sys::napi_value, max: usize) -> Vec<u32> {
        let Some(keys) = self.js.own_keys(arr) else {
            return Vec::new();
        };
        let n = self.js.array_len(keys).unwrap_or(0) as usize;
        let pick: Vec<usize> = if n <= max {
            (0..n).collect()
        } else {
            (0..max / 2).chain(n - max / 2..n).collect()
        };
        pick.into_iter()
            .filter_map(|k| {
                let key = self.js.element(keys, k as u32)?;
                let units = self.js.string_units(key)?;
                self.js.string_with_units(key, units.min(16))?.parse().ok()
            })
            .collect()
    }

    fn map(&mut self, obj: sys::napi_value, proto: Proto) -> Map<String, Value> {
        let mut map = Map::new();
        let plain = self.is_plain(obj, proto);
        if !plain {
            self.entries(obj, &mut map);
        }
        if let Some(keys) = self.js.own_keys(obj) {
            let all = self.js.array_len(keys).unwrap_or(0) as usize;
            if all > self.limits.max_keys && self.mode != Mode::Failure {
                let max = self.limits.max_keys;
                self.fail(true, format!("has {all} keys; at most {max} are accepted"));
            }
            let n = all.min(self.limits.max_keys);
            for k in 0..n {
                let Some(key) = self.js.element(keys, k as u32) else {
                    continue;
                };
                let Some(name) = self.key_name(key) else {
                    continue;
                };
                if self.skipped(&name) {
                    continue;
                }
                let Some(child) = self.js.get_by_key(obj, key) else {
                    continue;
                };
                self.insert(&mut map, name, child);
                if self.problem.is_some() {
                    break;
                }
            }
        }
        if !plain {
            for field in WELL_KNOWN {
                let name = field.to_str().unwrap_or_default();
                if map.contains_key(name) || self.skipped(name) {
                    continue;
                }
                if let Some(child) = self.js.get(obj, field) {
                    self.insert(&mut map, name.to_owned(), child);
                }
            }
        }
        map
    }

    fn insert(&mut self, map: &mut Map<String, Value>, name: String, child: sys::napi_value) {
        if matches!(self.mode, Mode::Failure | Mode::Meta) && is_secret_key(&name) {
            if !matches!(self.js.kind(child), Kind::Undefined | Kind::Null) {
                map.insert(name, Value::String("[redacted]".into()));
            }
            return;
        }
        self.push(Seg::Key(&name));
        let v = self.value(child);
        self.pop();
        if let Some(v) = v {
            map.insert(name, v);
        }
    }

    fn skipped(&self, name: &str) -> bool {
        self.mode == Mode::Failure && (name.starts_with('_') || NOISE_KEYS.contains(&name))
    }

    fn key_name(&mut self, key: sys::napi_value) -> Option<String> {
        if self.js.kind(key) != Kind::String {
            return None;
        }
        let units = self.js.string_units(key)?;
        if units > 1024 {
            return None;
        }
        self.js.string_with_units(key, units)
    }

    /// The primitive inside a `new String(…)`, `new Number(…)` or `new Boolean(…)`: read with
    /// its class's own `valueOf` from `globalThis` (a wrapper's own or inherited override is
    /// never asked), and only kept when that really gives a primitive of the class's kind.
    fn unboxed(&mut self, obj: sys::napi_value, proto: Proto) -> Option<sys::napi_value> {
        let js = self.js;
        // The usual case, a plain object, is told without looking up the wrapper classes:
        // `String.prototype` and the others have `Object.prototype` as their own prototype.
        let Proto::Other(proto) = proto else {
            return None;
        };
        let prototypes = self.wrapper_prototypes.get_or_insert_with(|| {
            let Some(global) = js.global() else {
                return Vec::new();
            };
            [c"String", c"Number", c"Boolean"]
                .iter()
                .filter_map(|class| js.get(js.get(global, class)?, c"prototype"))
                .collect()
        });
        let class = prototypes.iter().position(|p| js.same(*p, proto))?;
        let value_of = js.method(prototypes[class], c"valueOf")?;
        let primitive = js.call(obj, value_of, &[])?;
        let want = [Kind::String, Kind::Number, Kind::Boolean];
        (prototypes.len() == want.len() && js.kind(primitive) == want[class]).then_some(primitive)
    }

    /// Plain objects (`{...}`, `Object.create(null)`) are read by their own keys only.
    fn is_plain(&mut self, obj: sys::napi_value, proto: Proto) -> bool {
        if self.js.is_error(obj) {
            return false;
        }
        match proto {
            Proto::Unreadable | Proto::Other(_) => false,
            Proto::Null => true,
            Proto::Root(p) => self.js.method(p, c"hasOwnProperty").is_some(),
        }
    }

    /// What `obj`'s prototype is, read once for [`Reader::unboxed`] and [`Reader::is_plain`].
    fn proto(&self, obj: sys::napi_value) -> Proto {
        let js = self.js;
        match js.prototype(obj) {
            None => Proto::Unreadable,
            Some(p) if js.kind(p) == Kind::Null => Proto::Null,
            Some(p) if js.prototype(p).is_some_and(|pp| js.kind(pp) == Kind::Null) => {
                Proto::Root(p)
            }
            Some(p) => Proto::Other(p),
        }
    }

    /// `entries()` of a `Headers`/`Map`-like object, or `get()` of the hint headers.
    fn entries(&mut self, obj: sys::napi_value, map: &mut Map<String, Value>) {
        if let Some(entries) = self.js.method(obj, c"entries") {
            let Some(iter) = self.js.call(obj, entries, &[]) else {
                return;
            };
            if self.js.kind(iter) != Kind::Object {
                return;
            }
            let Some(next) = self.js.method(iter, c"next") else {
                return;
            };
            for _ in 0..self.limits.max_keys {
                self.nodes += 1;
                if self.nodes > self.limits.max_nodes || self.problem.is_some() {
                    return;
                }
                let Some(step) = self.js.call(iter, next, &[]) else {
                    return;
                };
                if self.js.kind(step) != Kind::Object {
                    return;
                }
                let done = self.js.get(step, c"done").and_then(|d| self.js.bool(d));
                if done != Some(false) {
                    return;
                }
                let Some(pair) = self.js.get(step, c"value") else {
                    return;
                };
                if self.js.kind(pair) != Kind::Object {
                    continue;
                }
                let (Some(k), Some(val)) = (self.js.element(pair, 0), self.js.element(pair, 1))
                else {
                    continue;
                };
                let name = match self.js.kind(k) {
                    Kind::String => self.key_name(k),
                    Kind::Number => self.js.number(k).map(|n| n.to_string()),
                    _ => None,
                };
                if let Some(name) = name {
                    if !map.contains_key(&name) {
                        self.insert(map, name, val);
                    }
                }
            }
        } else if let Some(get) = self.js.method(obj, c"get") {
            for name in HINT_HEADERS {
                let Some(arg) = self.js.create_string(name) else {
                    continue;
                };
                if let Some(val) = self.js.call(obj, get, &[arg]) {
                    if self.js.kind(val) == Kind::String {
                        self.insert(map, (*name).to_owned(), val);
                    }
                }
            }
        }
    }
}

/// A finite JS number as JSON: integers stay integers (an HTTP status must read as one).
fn number(n: f64) -> Option<Value> {
    if !n.is_finite() {
        return None;
    }
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Some(Value::from(n as i64));
    }
    Number::from_f64(n).map(Value::Number)
}
