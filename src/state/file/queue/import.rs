//! Reading the `queue.json` left by `@cheapestinference/openclaw-ratelimit-retry` (1.0.0): a
//! JSON array of `{sessionKey, errorTime, retryAfter, errorMessage, attempts}`, times as epoch
//! ms (ISO 8601 strings are accepted too). Its `attempts` counts retries already made (0 after
//! the first failure), so an imported entry gets `attempts + 1` failed attempts.

use crate::reason::Reason;
use crate::state::entry::{EntryStatus, ParkedEntry};
use serde_json::Value;

/// `meta` of an imported entry.
pub const IMPORTED_FROM: &str = "@cheapestinference/openclaw-ratelimit-retry";

/// Entries read from an old queue file.
#[derive(Debug, Default)]
pub(crate) struct OldQueue {
    /// Readable entries, one per session key (the last one wins, at the first one's place).
    pub entries: Vec<ParkedEntry>,
    /// Items that could not be read.
    pub invalid: usize,
}

/// Parse an old queue file. `Err` says why the whole file is unusable.
pub(crate) fn parse_old_queue(bytes: &[u8], now_ms: i64) -> Result<OldQueue, String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON ({e})"))?;
    let Value::Array(items) = value else {
        return Err("expected a JSON array of queue entries".to_string());
    };
    let mut out = OldQueue::default();
    let mut position = std::collections::HashMap::new();
    for item in &items {
        match old_entry(item, now_ms) {
            Some(e) => match position.get(&e.session_key) {
                Some(&at) => out.entries[at] = e,
                None => {
                    position.insert(e.session_key.clone(), out.entries.len());
                    out.entries.push(e);
                }
            },
            None => out.invalid += 1,
        }
    }
    Ok(out)
}

fn old_entry(item: &Value, now_ms: i64) -> Option<ParkedEntry> {
    let key = item.get("sessionKey")?.as_str()?.trim();
    if key.is_empty() {
        return None;
    }
    let error_time = time_ms(item.get("errorTime")?)?;
    let retry_after = match item.get("retryAfter") {
        Some(v) => time_ms(v)?,
        None => error_time,
    };
    let attempts = match item.get("attempts") {
        None | Some(Value::Null) => 0,
        Some(v) => u32::try_from(v.as_u64()?).ok()?,
    };
    let message = item
        .get("errorMessage")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Some(ParkedEntry {
        session_key: key.to_string(),
        reason: Reason::RateLimit,
        attempts: attempts.saturating_add(1),
        first_failed_at_ms: error_time,
        last_failed_at_ms: error_time,
        retry_at_ms: retry_after,
        last_error: message.to_string(),
        group: "default".to_string(),
        status: EntryStatus::Parked,
        status_since_ms: now_ms,
        meta: serde_json::json!({ "importedFrom": IMPORTED_FROM }),
    })
}

/// Epoch ms from a number (ms) or an RFC 3339 / ISO 8601 string.
fn time_ms(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        Value::String(s) => {
            let s = s.trim();
            if let Ok(ms) = s.parse::<i64>() {
                return Some(ms);
            }
            chrono::DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|d| d.timestamp_millis())
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_real_plugin_shape_and_iso_times() {
        let old = br#"[
          {"sessionKey":"agent:main:a","errorTime":1700000000000,"retryAfter":1700018000000,
           "errorMessage":"429 rate limit","attempts":0},
          {"sessionKey":"agent:main:b","errorTime":"2026-01-02T03:04:05.000Z",
           "retryAfter":"2026-01-02T08:00:00Z","errorMessage":"x","attempts":2},
          {"sessionKey":"","errorTime":1,"retryAfter":2},
          {"errorTime":1},
          {"sessionKey":"agent:main:c","errorTime":"yesterday","retryAfter":2},
          {"sessionKey":"agent:main:a","errorTime":1700000001000,"retryAfter":1700018000000,
           "errorMessage":"again","attempts":1}
        ]"#;
        let q = parse_old_queue(old, 99).unwrap();
        assert_eq!(q.invalid, 3);
        assert_eq!(q.entries.len(), 2);
        let b = &q.entries[1];
        assert_eq!(b.session_key, "agent:main:b");
        assert_eq!(b.attempts, 3);
        assert_eq!(b.first_failed_at_ms, 1_767_323_045_000);
        assert_eq!(b.retry_at_ms, 1_767_340_800_000);
        let a = &q.entries[0];
        assert_eq!(a.last_error, "again");
        assert_eq!(a.attempts, 2);
        assert_eq!(a.reason, Reason::RateLimit);
        assert_eq!(a.status_since_ms, 99);
        assert_eq!(a.meta["importedFrom"], IMPORTED_FROM);
    }

    #[test]
    fn a_file_that_is_not_an_array_is_refused_with_a_reason() {
        assert!(parse_old_queue(b"{}", 0).unwrap_err().contains("array"));
        assert!(parse_old_queue(b"[{", 0).unwrap_err().contains("not JSON"));
    }
}
