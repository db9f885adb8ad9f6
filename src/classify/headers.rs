//! Response headers normalised to lower-case names, and the provider reset headers read from them.

use super::durations::{
    parse_epoch_seconds, parse_go_duration, parse_http_date, parse_millis, parse_rfc3339,
    parse_seconds,
};
use serde_json::Value;

/// Response headers with lower-cased names. Values that were numbers or arrays are turned into
/// strings (arrays joined with `, `).
#[derive(Debug, Default, Clone)]
pub(crate) struct Headers(Vec<(String, String)>);

/// Anthropic's per-limit `(reset, remaining)` header names, for requests, tokens, input tokens
/// and output tokens.
const ANTHROPIC_LIMITS: [(&str, &str); 4] = [
    (
        "anthropic-ratelimit-requests-reset",
        "anthropic-ratelimit-requests-remaining",
    ),
    (
        "anthropic-ratelimit-tokens-reset",
        "anthropic-ratelimit-tokens-remaining",
    ),
    (
        "anthropic-ratelimit-input-tokens-reset",
        "anthropic-ratelimit-input-tokens-remaining",
    ),
    (
        "anthropic-ratelimit-output-tokens-reset",
        "anthropic-ratelimit-output-tokens-remaining",
    ),
];

/// A retry hint read from somewhere in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// Wait this many milliseconds from now.
    After(i64),
    /// Wait until this absolute epoch millisecond.
    At(i64),
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(value_to_string).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        _ => None,
    }
}

impl Headers {
    /// Adds the headers of a JSON object (`{"Retry-After": "3"}`) or an array of `[name, value]`
    /// pairs.
    pub(crate) fn merge(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                for (k, val) in map {
                    if let Some(s) = value_to_string(val) {
                        self.0.push((k.to_ascii_lowercase(), s));
                    }
                }
            }
            Value::Array(pairs) => {
                for pair in pairs {
                    if let Some([k, val]) = pair.as_array().map(Vec::as_slice) {
                        if let (Some(k), Some(s)) = (k.as_str(), value_to_string(val)) {
                            self.0.push((k.to_ascii_lowercase(), s));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    /// The first value of a header, by lower-case name.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `retry-after-ms` as a relative hint.
    pub(crate) fn retry_after_ms(&self) -> Option<Hint> {
        self.get("retry-after-ms")
            .and_then(parse_millis)
            .map(Hint::After)
    }

    /// `retry-after` as seconds (integer or float) or an HTTP-date.
    pub(crate) fn retry_after(&self) -> Option<Hint> {
        let v = self.get("retry-after")?;
        parse_seconds(v)
            .map(Hint::After)
            .or_else(|| parse_http_date(v).map(Hint::At))
    }

    /// OpenAI/Groq `x-ratelimit-reset-{requests,tokens}` Go durations: the latest of the
    /// exhausted limits (`x-ratelimit-remaining-* == 0`), or the latest of all when none is
    /// reported exhausted.
    pub(crate) fn openai_reset(&self) -> Option<Hint> {
        let limits = [
            (
                "x-ratelimit-reset-requests",
                "x-ratelimit-remaining-requests",
            ),
            ("x-ratelimit-reset-tokens", "x-ratelimit-remaining-tokens"),
        ]
        .map(|(reset, remaining)| {
            let reset = self.get(reset).and_then(parse_go_duration);
            let exhausted = self.get(remaining).is_some_and(|r| r.trim() == "0");
            (reset, exhausted)
        });
        latest(&limits).map(Hint::After)
    }

    /// Anthropic reset headers, all absolute: `anthropic-ratelimit-unified-reset` (epoch
    /// seconds) first; else the latest `anthropic-ratelimit-unified-*-reset`; else the latest
    /// exhausted (or, if none is exhausted, the latest) RFC 3339
    /// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`.
    pub(crate) fn anthropic_reset(&self) -> Option<Hint> {
        if let Some(at) = self
            .get("anthropic-ratelimit-unified-reset")
            .and_then(parse_epoch_seconds)
        {
            return Some(Hint::At(at));
        }
        let unified = self
            .0
            .iter()
            .filter(|(k, _)| k.starts_with("anthropic-ratelimit-unified-") && k.ends_with("-reset"))
            .filter_map(|(_, v)| parse_epoch_seconds(v))
            .max();
        if let Some(at) = unified {
            return Some(Hint::At(at));
        }
        let limits = ANTHROPIC_LIMITS.map(|(reset, remaining)| {
            let reset = self.get(reset).and_then(parse_rfc3339);
            let exhausted = self.get(remaining).is_some_and(|r| r.trim() == "0");
            (reset, exhausted)
        });
        latest(&limits).map(Hint::At)
    }

    /// Whether Anthropic reports the unified (subscription 5-hour/weekly) limit as rejected.
    pub(crate) fn anthropic_unified_rejected(&self) -> bool {
        self.get("anthropic-ratelimit-unified-status")
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("rejected"))
    }

    /// A generic `x-ratelimit-reset` / `ratelimit-reset` number: epoch ms (> 1e12), epoch
    /// seconds (> 1e9), or else seconds from now.
    pub(crate) fn generic_reset(&self) -> Option<Hint> {
        let v = self
            .get("x-ratelimit-reset")
            .or_else(|| self.get("ratelimit-reset"))?;
        let n: f64 = v.trim().parse().ok()?;
        if !n.is_finite() || n < 0.0 {
            None
        } else if n > 1e12 {
            Some(Hint::At(n.round() as i64))
        } else if n > 1e9 {
            parse_epoch_seconds(v).map(Hint::At)
        } else {
            parse_seconds(v).map(Hint::After)
        }
    }
}

/// The latest value among the exhausted entries, or among all when none is exhausted.
fn latest(limits: &[(Option<i64>, bool)]) -> Option<i64> {
    let exhausted = limits
        .iter()
        .filter(|(_, e)| *e)
        .filter_map(|(r, _)| *r)
        .max();
    exhausted.or_else(|| limits.iter().filter_map(|(r, _)| *r).max())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(v: Value) -> Headers {
        let mut h = Headers::default();
        h.merge(&v);
        h
    }

    #[test]
    fn names_are_case_insensitive_and_values_flattened() {
        let h = headers(json!({"Retry-After": 3, "X-Multi": ["a", "b"]}));
        assert_eq!(h.get("retry-after"), Some("3"));
        assert_eq!(h.get("x-multi"), Some("a, b"));
        let h = headers(json!([["Retry-After-Ms", "250"]]));
        assert_eq!(h.retry_after_ms(), Some(Hint::After(250)));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(
            headers(json!({"retry-after": "17"})).retry_after(),
            Some(Hint::After(17_000))
        );
        assert_eq!(
            headers(json!({"retry-after": "0.5"})).retry_after(),
            Some(Hint::After(500))
        );
        assert_eq!(
            headers(json!({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})).retry_after(),
            Some(Hint::At(1_445_412_480_000))
        );
        assert_eq!(headers(json!({"retry-after": "later"})).retry_after(), None);
    }

    #[test]
    fn openai_takes_latest_exhausted() {
        let h = headers(json!({
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-remaining-tokens": "100"
        }));
        assert_eq!(h.openai_reset(), Some(Hint::After(1_000)));
        let h = headers(json!({
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "12ms"
        }));
        assert_eq!(h.openai_reset(), Some(Hint::After(1_000)));
        assert_eq!(headers(json!({})).openai_reset(), None);
    }

    #[test]
    fn anthropic_resets() {
        let h = headers(json!({
            "anthropic-ratelimit-requests-reset": "2026-11-22T21:00:00Z",
            "anthropic-ratelimit-tokens-reset": "2026-11-22T21:05:00Z",
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-tokens-remaining": "5000"
        }));
        assert_eq!(h.anthropic_reset(), Some(Hint::At(1_795_381_200_000)));
        let h = headers(json!({"anthropic-ratelimit-unified-reset": "1800003600"}));
        assert_eq!(h.anthropic_reset(), Some(Hint::At(1_800_003_600_000)));
        let h = headers(json!({
            "anthropic-ratelimit-unified-5h-reset": "1800000000",
            "anthropic-ratelimit-unified-7d-reset": "1800500000",
            "anthropic-ratelimit-unified-status": "Rejected"
        }));
        assert_eq!(h.anthropic_reset(), Some(Hint::At(1_800_500_000_000)));
        assert!(h.anthropic_unified_rejected());
    }

    #[test]
    fn generic_reset_forms() {
        let h = |v: &str| headers(json!({"X-RateLimit-Reset": v})).generic_reset();
        assert_eq!(h("1800000000000"), Some(Hint::At(1_800_000_000_000)));
        assert_eq!(h("1800000000"), Some(Hint::At(1_800_000_000_000)));
        assert_eq!(h("30"), Some(Hint::After(30_000)));
        assert_eq!(h("x"), None);
    }
}
