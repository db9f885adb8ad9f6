//! The fast path of reading the queue files: a `put` line exactly as this code writes it
//! (fields in [`ParkedEntry`]'s order, compact JSON) is read straight into [`EntryParts`]
//! without building a JSON tree; `meta` is kept as its JSON text, unparsed. Any line of
//! another shape (hand edited, an older writer, escapes in a field this path does not
//! unescape) gets `None`, and the caller reads it with `serde_json` instead, so both paths
//! accept exactly the same lines.
//!
//! [`ParkedEntry`]: crate::state::ParkedEntry

use super::entry_map::EntryParts;
use crate::reason::Reason;
use crate::state::entry::EntryStatus;
use std::borrow::Cow;

/// `,"crc":"` + 8 hex digits + `"}`, the tail of every checksummed line.
const CRC_TAIL_LEN: usize = 18;

/// Read the body (without its newline) of a checksum-verified `put` line.
pub(crate) fn decode_put(body: &[u8]) -> Option<EntryParts<'_>> {
    let end = body.len().checked_sub(CRC_TAIL_LEN + 1)?;
    if body[end] != b'}' || !body[end + 1..].starts_with(b",\"crc\":\"") {
        return None;
    }
    // One UTF-8 check for the whole line; strings are then sliced at their quotes, which are
    // character boundaries.
    let mut r = Reader {
        text: std::str::from_utf8(&body[..end]).ok()?,
        at: 0,
    };
    r.lit(b"{\"op\":\"put\",\"entry\":{\"sessionKey\":")?;
    let session_key = r.string()?;
    r.lit(b",\"reason\":")?;
    let reason = r.string()?.parse::<Reason>().ok()?;
    r.lit(b",\"attempts\":")?;
    let attempts = u32::try_from(r.int()?).ok()?;
    r.lit(b",\"firstFailedAtMs\":")?;
    let first_failed_at_ms = r.int()?;
    r.lit(b",\"lastFailedAtMs\":")?;
    let last_failed_at_ms = r.int()?;
    r.lit(b",\"retryAtMs\":")?;
    let retry_at_ms = r.int()?;
    r.lit(b",\"lastError\":")?;
    let last_error = r.string()?;
    r.lit(b",\"group\":")?;
    let group = r.string()?;
    r.lit(b",\"status\":")?;
    let status = status(&r.string()?)?;
    r.lit(b",\"statusSinceMs\":")?;
    let status_since_ms = r.int()?;
    r.lit(b",\"meta\":")?;
    // the rest is the meta value; the map checks it is JSON when it first sees it
    let meta = &r.text[r.at..];
    if meta.is_empty() || meta.starts_with(|c: char| c.is_ascii_whitespace()) {
        return None;
    }
    Some(EntryParts {
        session_key,
        reason,
        attempts,
        first_failed_at_ms,
        last_failed_at_ms,
        retry_at_ms,
        last_error,
        group,
        status,
        status_since_ms,
        meta_json: Cow::Borrowed(meta),
    })
}

fn status(name: &str) -> Option<EntryStatus> {
    Some(match name {
        "parked" => EntryStatus::Parked,
        "probing" => EntryStatus::Probing,
        "released" => EntryStatus::Released,
        "awaiting_result" => EntryStatus::AwaitingResult,
        _ => return None,
    })
}

struct Reader<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Reader<'a> {
    fn rest(&self) -> &'a [u8] {
        &self.text.as_bytes()[self.at..]
    }

    fn lit(&mut self, expected: &[u8]) -> Option<()> {
        self.rest()
            .starts_with(expected)
            .then(|| self.at += expected.len())
    }

    /// A JSON string: borrowed when it has no escapes, unescaped by `serde_json` otherwise.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let rest = self.rest();
        if rest.first() != Some(&b'"') {
            return None;
        }
        let mut i = 1;
        let mut escaped = false;
        loop {
            i += memchr::memchr2(b'"', b'\\', rest.get(i..)?)?;
            if rest[i] == b'"' {
                break;
            }
            escaped = true;
            i += 2;
        }
        // control characters must be escaped (counted without stopping early: vectorised)
        let controls = rest[1..i].iter().fold(0u8, |n, &b| n | u8::from(b < 0x20));
        if controls != 0 {
            return None;
        }
        let start = self.at;
        self.at += i + 1;
        if escaped {
            let quoted = &self.text[start..self.at];
            return serde_json::from_str::<String>(quoted).ok().map(Cow::Owned);
        }
        Some(Cow::Borrowed(&self.text[start + 1..start + i]))
    }

    /// An integer as `serde_json` writes one (no sign but `-`, no leading zeros, no
    /// fraction) of up to 18 digits (longer ones take the general path).
    fn int(&mut self) -> Option<i64> {
        let rest = self.rest();
        let negative = rest.first() == Some(&b'-');
        let digits = &rest[usize::from(negative)..];
        // 18 digits cannot overflow: no checks needed
        let mut n: i64 = 0;
        let mut len = 0;
        while let Some(&d) = digits.get(len) {
            if !d.is_ascii_digit() {
                break;
            }
            if len == 18 {
                return None;
            }
            n = n * 10 + i64::from(d - b'0');
            len += 1;
        }
        if len == 0 || (len > 1 && digits[0] == b'0') {
            return None;
        }
        if matches!(digits.get(len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += usize::from(negative) + len;
        Some(if negative { -n } else { n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::entry::{ParkedEntry, QueueOp};
    use crate::state::file::queue::journal;
    use serde_json::json;

    fn line(e: &ParkedEntry) -> Vec<u8> {
        let mut buf = Vec::new();
        journal::encode_op(&mut buf, &QueueOp::Put(e.clone()));
        buf.pop();
        buf
    }

    #[test]
    fn reads_what_the_writer_writes_including_escapes_and_extremes() {
        let mut e = ParkedEntry::new(
            "agent:main:\"q\"\\ é",
            Reason::ContextOverflow,
            -5,
            i64::MAX,
            "line one\nline two\t\u{1}",
        );
        e.attempts = u32::MAX;
        e.last_failed_at_ms = i64::MIN;
        e.group = "open\u{7f}ai".into();
        e.status = EntryStatus::AwaitingResult;
        e.meta = json!({"runId": "r", "x": [1.25, -0.0, null, {"y": "},\"crc\":"}]});
        let bytes = line(&e);
        assert!(
            decode_put(&bytes).is_none(),
            "19-digit times take the general path"
        );
        e.retry_at_ms = 999_999_999_999_999_999;
        e.last_failed_at_ms = -999_999_999_999_999_999;
        let bytes = line(&e);
        let p = decode_put(&bytes).expect("the fast path reads it");
        assert_eq!(p.session_key, e.session_key);
        assert_eq!(p.last_error, e.last_error);
        assert_eq!(p.group, e.group);
        assert_eq!(
            (p.reason, p.attempts, p.status),
            (e.reason, e.attempts, e.status)
        );
        assert_eq!(
            (p.first_failed_at_ms, p.last_failed_at_ms, p.retry_at_ms),
            (e.first_failed_at_ms, e.last_failed_at_ms, e.retry_at_ms)
        );
        let meta: serde_json::Value = serde_json::from_str(&p.meta_json).unwrap();
        assert_eq!(meta, e.meta);
        assert_eq!(EntryParts::of(&e), p);
    }

    #[test]
    fn other_shapes_fall_back() {
        let e = ParkedEntry::new("k", Reason::RateLimit, 1, 2, "x");
        let good = String::from_utf8(line(&e)).unwrap();
        for bad in [
            good.replace("\"attempts\":1", "\"attempts\":1.0"),
            good.replace("\"attempts\":1", "\"attempts\":01"),
            good.replace("\"attempts\":1", "\"attempts\": 1"),
            good.replace("\"reason\":\"rate_limit\"", "\"reason\":\"slow\""),
            good.replace("\"status\":\"parked\"", "\"status\":\"gone\""),
            good.replace(",\"group\":\"default\"", ""),
            good.replace("\"meta\":null", "\"meta\": null"),
            good.replace("{\"op\":\"put\",", "{\"op\":\"del\","),
            good.replace("\"k\"", "\"k\u{1}\""),
            good[..good.len() - 3].to_string(),
        ] {
            assert!(decode_put(bad.as_bytes()).is_none(), "{bad}");
        }
    }
}
