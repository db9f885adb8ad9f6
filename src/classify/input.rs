//! Turns any input (string, Error-like object, HTTP-like response, `agent_end` event, chat text)
//! into one normalised [`FailureView`].
//!
//! Huge inputs stay cheap: every string is scanned only through its first and last
//! [`EDGE_BYTES`] (64 KiB each), string bodies longer than [`JSON_PARSE_LIMIT`] are not parsed as
//! JSON, the walk stops at [`MAX_DEPTH`] and after [`TEXT_BUDGET`] bytes of collected text, so a
//! 10 MB input costs about the same as a 256 KiB one.

use super::headers::Headers;
use serde_json::{Map, Value};

/// Bytes kept from each end of a long string.
pub(crate) const EDGE_BYTES: usize = 64 * 1024;
/// String bodies up to this size are parsed as JSON when they look like JSON.
pub(crate) const JSON_PARSE_LIMIT: usize = 256 * 1024;
/// Maximum nesting depth walked.
pub(crate) const MAX_DEPTH: usize = 12;
/// Maximum bytes of text collected for pattern matching.
pub(crate) const TEXT_BUDGET: usize = 512 * 1024;
/// Maximum array items walked per array.
const MAX_ITEMS: usize = 64;

/// Keys whose content is noise or may hold secrets/prompts, never failure text.
const SKIPPED_KEYS: &[&str] = &[
    "stack",
    "config",
    "request",
    "requestoptions",
    "options",
    "messages",
    "prompt",
];
/// Keys holding an HTTP status.
const STATUS_KEYS: &[&str] = &[
    "status",
    "statuscode",
    "status_code",
    "httpstatus",
    "http_status",
    "errorstatus",
];
/// Keys holding a human error message.
const MESSAGE_KEYS: &[&str] = &["message", "errormessage", "error_message", "detail"];

/// What the classifier sees of one input.
#[derive(Debug, Default)]
pub(crate) struct FailureView {
    /// The HTTP status from a structured field (shallowest wins; a numeric `code` only as fallback).
    pub status: Option<u16>,
    /// All headers found (top level, `response.headers`, `error.headers`, ...).
    pub headers: Headers,
    /// Collected text, bounded, pieces separated by newlines.
    pub text: String,
    /// The best human message (shallowest `message`-like field), unbounded copy not kept.
    pub message: Option<String>,
    /// Gemini `RetryInfo.retryDelay`, if present.
    pub retry_delay: Option<String>,
    /// When the provider answered (epoch ms): the failed assistant message's `timestamp` of an
    /// OpenClaw `agent_end` event. `None` means "now".
    pub received_at_ms: Option<i64>,
}

/// The shape of an input.
#[derive(Debug)]
pub(crate) enum Normalised {
    /// Not a failure at all (success event, 2xx response without an error body, null).
    NotFailure,
    /// An ordinary outgoing chat message (`{kind: "chat_text", text}`).
    ChatText(String),
    /// Something that failed.
    Failure(FailureView),
}

/// Keeps the first and last [`EDGE_BYTES`] of a long string (cut on char boundaries).
pub(crate) fn bounded(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() <= 2 * EDGE_BYTES {
        return s.into();
    }
    let mut head = EDGE_BYTES;
    while !s.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = s.len() - EDGE_BYTES;
    while !s.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}\n...\n{}", &s[..head], &s[tail..]).into()
}

/// Normalises any input value.
pub(crate) fn normalise(input: &Value) -> Normalised {
    match input {
        Value::Null | Value::Bool(_) => Normalised::NotFailure,
        Value::String(s) if s.trim().is_empty() => Normalised::NotFailure,
        Value::Object(map) => normalise_object(map),
        other => Normalised::Failure(view_of(other)),
    }
}

fn normalise_object(map: &Map<String, Value>) -> Normalised {
    match map.get("kind").and_then(Value::as_str) {
        Some("chat_text") => {
            let text = map.get("text").and_then(Value::as_str).unwrap_or_default();
            return Normalised::ChatText(text.to_owned());
        }
        Some("agent_end") => {
            return match map.get("event") {
                Some(Value::Object(ev)) => agent_end(ev),
                _ => Normalised::NotFailure,
            };
        }
        _ => {}
    }
    if map.get("messages").is_some_and(Value::is_array) && map.contains_key("success") {
        return agent_end(map);
    }
    let view = view_of_object(map);
    let http_ok = view.status.is_some_and(|s| s < 400);
    if http_ok && !has_error_body(map) {
        return Normalised::NotFailure;
    }
    Normalised::Failure(view)
}

/// Whether a 2xx/3xx response still carries an error body (`{error: ...}` or `{type: "error"}`).
fn has_error_body(map: &Map<String, Value>) -> bool {
    fn is_error_map(m: &Map<String, Value>) -> bool {
        m.get("error").is_some_and(|e| !e.is_null())
            || m.get("type").and_then(Value::as_str) == Some("error")
    }
    if is_error_map(map) {
        return true;
    }
    match map.get("body").or_else(|| map.get("data")) {
        Some(Value::Object(m)) => is_error_map(m),
        Some(Value::String(s)) if looks_like_json(s) => {
            matches!(serde_json::from_str::<Value>(s), Ok(Value::Object(m)) if is_error_map(&m))
        }
        _ => false,
    }
}

fn agent_end(ev: &Map<String, Value>) -> Normalised {
    let success = ev.get("success").and_then(Value::as_bool);
    let has_error = ev.get("error").is_some_and(|e| !e.is_null());
    if success == Some(false) || (success.is_none() && has_error) {
        return match ev.get("error") {
            None | Some(Value::Null) => {
                Normalised::Failure(view_of(&Value::String("agent run failed".into())))
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                Normalised::Failure(view_of(&Value::String("agent run failed".into())))
            }
            Some(err) => Normalised::Failure(view_of(err)),
        };
    }
    let Some(messages) = ev.get("messages").and_then(Value::as_array) else {
        return Normalised::NotFailure;
    };
    let last_assistant = messages
        .iter()
        .rev()
        .find(|m| m.get("role").and_then(Value::as_str) == Some("assistant"));
    let Some(Value::Object(msg)) = last_assistant else {
        return Normalised::NotFailure;
    };
    if msg.get("stopReason").and_then(Value::as_str) != Some("error") {
        return Normalised::NotFailure;
    }
    let mut err = Map::new();
    for (from, to) in [
        ("errorMessage", "message"),
        ("errorCode", "code"),
        ("errorType", "type"),
        ("errorBody", "body"),
        ("errorStatus", "status"),
        ("status", "status"),
        ("statusCode", "statusCode"),
        ("headers", "headers"),
    ] {
        if let Some(v) = msg.get(from) {
            err.entry(to.to_owned()).or_insert_with(|| v.clone());
        }
    }
    if err.is_empty() {
        err.insert("message".into(), Value::String("provider error".into()));
    }
    let mut view = view_of_object(&err);
    view.received_at_ms = msg.get("timestamp").and_then(epoch_ms);
    Normalised::Failure(view)
}

/// A positive epoch-ms number (integer or float).
fn epoch_ms(v: &Value) -> Option<i64> {
    let ms = v
        .as_f64()
        .filter(|ms| ms.is_finite() && *ms > 0.0 && *ms < 1e15)?;
    Some(ms.round() as i64)
}

/// The view of a plain text (an error string or an outgoing chat message).
pub(crate) fn normalise_text(text: &str) -> FailureView {
    view_of(&Value::String(text.to_owned()))
}

fn view_of(v: &Value) -> FailureView {
    let mut c = Collector::default();
    c.walk(v, None, 0);
    c.finish()
}

fn view_of_object(map: &Map<String, Value>) -> FailureView {
    let mut c = Collector::default();
    c.walk_object(map, 0);
    c.finish()
}

#[derive(Default)]
struct Collector {
    view: FailureView,
    status_depth: usize,
    code_status: Option<u16>,
    message_depth: usize,
}

fn as_status(v: &Value) -> Option<u16> {
    let n = match v {
        Value::Number(n) => n.as_u64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (100..=599).contains(&n).then_some(n as u16)
}

fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with('{') || t.starts_with('[')) && s.len() <= JSON_PARSE_LIMIT
}

impl Collector {
    fn push_text(&mut self, s: &str) {
        if self.view.text.len() >= TEXT_BUDGET || s.trim().is_empty() {
            return;
        }
        if !self.view.text.is_empty() {
            self.view.text.push('\n');
        }
        self.view.text.push_str(&bounded(s));
    }

    fn walk(&mut self, v: &Value, key: Option<&str>, depth: usize) {
        if depth > MAX_DEPTH || self.view.text.len() >= TEXT_BUDGET {
            return;
        }
        match v {
            Value::Object(map) => self.walk_object(map, depth),
            Value::Array(items) => {
                for item in items.iter().take(MAX_ITEMS) {
                    self.walk(item, key, depth + 1);
                }
            }
            Value::String(s) => {
                if looks_like_json(s) {
                    if let Ok(parsed @ (Value::Object(_) | Value::Array(_))) =
                        serde_json::from_str::<Value>(s)
                    {
                        self.walk(&parsed, key, depth + 1);
                        return;
                    }
                }
                self.push_text(s);
            }
            Value::Number(n) if key.is_none() && depth == 0 => {
                self.view.status = as_status(v);
                self.push_text(&n.to_string());
            }
            _ => {}
        }
    }

    fn walk_object(&mut self, map: &Map<String, Value>, depth: usize) {
        for (k, child) in map {
            let key = k.to_ascii_lowercase();
            let key = key.as_str();
            if SKIPPED_KEYS.contains(&key) {
                continue;
            }
            if key == "headers" {
                self.view.headers.merge(child);
                continue;
            }
            if STATUS_KEYS.contains(&key) {
                if let Some(s) = as_status(child) {
                    if self.view.status.is_none() || depth < self.status_depth {
                        self.view.status = Some(s);
                        self.status_depth = depth;
                    }
                    continue;
                }
            }
            if key == "code" {
                match as_status(child) {
                    Some(s) if self.code_status.is_none() => {
                        self.code_status = Some(s);
                        continue;
                    }
                    // Provider codes that are not statuses (Zhipu's `1113`) stay readable
                    // to the rules in their JSON shape, `"code":1113`.
                    None if child.is_number() => {
                        self.push_text(&format!("\"code\":{child}"));
                        continue;
                    }
                    _ => {}
                }
            }
            if key == "retrydelay" {
                if let Some(s) = child.as_str() {
                    self.view.retry_delay.get_or_insert_with(|| s.to_owned());
                }
                continue;
            }
            if MESSAGE_KEYS.contains(&key) {
                if let Some(s) = child.as_str().filter(|s| !s.trim().is_empty()) {
                    if !looks_like_json(s)
                        && (self.view.message.is_none() || depth < self.message_depth)
                    {
                        self.view.message = Some(bounded(s).into_owned());
                        self.message_depth = depth;
                    }
                }
            }
            self.walk(child, Some(key), depth + 1);
        }
    }

    fn finish(mut self) -> FailureView {
        if self.view.status.is_none() {
            self.view.status = self.code_status;
        }
        self.view
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failure(v: Value) -> FailureView {
        match normalise(&v) {
            Normalised::Failure(f) => f,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    #[test]
    fn http_like_with_string_json_body() {
        let f = failure(json!({
            "status": 429,
            "headers": {"Retry-After": "3"},
            "body": "{\"error\":{\"message\":\"slow down\",\"code\":429}}"
        }));
        assert_eq!(f.status, Some(429));
        assert_eq!(f.headers.get("retry-after"), Some("3"));
        assert_eq!(f.message.as_deref(), Some("slow down"));
        assert!(f.text.contains("slow down"));
    }

    #[test]
    fn sdk_error_shapes() {
        let f = failure(json!({
            "name": "Error",
            "message": "Request failed",
            "stack": "at timeout (x.js:1)",
            "config": {"headers": {"Authorization": "Bearer secret"}},
            "response": {"status": "503", "headers": {"x-a": "1"}, "data": {"error": "busy"}}
        }));
        assert_eq!(f.status, Some(503));
        assert_eq!(f.headers.get("x-a"), Some("1"));
        assert!(!f.text.contains("timeout"));
        assert!(!f.text.contains("secret"));
        assert!(f.text.contains("busy"));
        let f = failure(json!({"error": {"code": 402, "message": "no credits"}}));
        assert_eq!(f.status, Some(402));
    }

    #[test]
    fn ok_responses_are_not_failures() {
        assert!(matches!(
            normalise(&json!({"status": 200, "body": {"id": "x"}})),
            Normalised::NotFailure
        ));
        assert!(matches!(
            normalise(&json!({"status": 200, "body": "{\"type\":\"error\",\"error\":{}}"})),
            Normalised::Failure(_)
        ));
        assert!(matches!(normalise(&json!(null)), Normalised::NotFailure));
        assert!(matches!(normalise(&json!("  ")), Normalised::NotFailure));
    }

    #[test]
    fn agent_end_shapes() {
        let ok =
            json!({"messages": [{"role": "assistant", "stopReason": "stop"}], "success": true});
        assert!(matches!(normalise(&ok), Normalised::NotFailure));
        let err = json!({"kind": "agent_end", "event": {"success": true, "messages": [
            {"role": "assistant", "stopReason": "error", "errorMessage": "boom",
             "errorBody": {"status": 429, "headers": {"retry-after": "2"}}},
            {"role": "user", "content": "hi"}
        ]}});
        let f = failure(err);
        assert_eq!(f.status, Some(429));
        assert_eq!(f.message.as_deref(), Some("boom"));
        assert_eq!(f.headers.get("retry-after"), Some("2"));
        let failed = json!({"messages": [], "success": false, "error": "ETIMEDOUT"});
        assert!(failure(failed).text.contains("ETIMEDOUT"));
    }

    #[test]
    fn bounded_keeps_both_ends() {
        let s = format!("HEAD{}TAIL", "é".repeat(200_000));
        let b = bounded(&s);
        assert!(b.len() < 2 * EDGE_BYTES + 16);
        assert!(b.starts_with("HEAD") && b.ends_with("TAIL"));
    }
}
