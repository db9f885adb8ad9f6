//! A reset time written out in a provider's message: "Your limit will reset at
//! 2026-03-06T22:19:54Z", "quota resets at 00:00 UTC", "resets on 2026-12-01 08:00 +08:00".
//!
//! Only a time whose zone is stated counts (`Z`, `UTC`, `GMT`, or a numeric offset): a
//! zone-less "2026-03-06 22:19:54" may be any zone, and read in the wrong one it would resend
//! hours early, so it is no hint. A time of day alone ("00:00 UTC") is its next occurrence at
//! or after the moment the provider answered.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use regex::Regex;
use std::sync::LazyLock;

/// `reset(s)/resetting at|on <date>?<time><zone>`: group 1 the date (`YYYY-MM-DD`, optional),
/// 2–4 hour, minute, second, 5 the zone.
static WRITTEN_RESET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i-u)\breset(?:s|ting)?\s+(?:at|on)\s+",
        r"(?:(\d{4}-\d{2}-\d{2})(?:\s+|t))?",
        r"(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?",
        r"\s*\(?((?:utc|gmt)\s*[+-]\d{1,2}(?::?\d{2})?|z|utc|gmt|[+-]\d{2}:?\d{2})(?:\)|\b)",
    ))
    .expect("written reset pattern must compile")
});

/// The reset written in `text`, in epoch ms; `received_ms` is when the provider answered (the
/// reference for a time of day alone).
pub(crate) fn written_reset(text: &str, received_ms: i64) -> Option<i64> {
    if !mentions_reset(text) {
        return None;
    }
    let c = WRITTEN_RESET.captures(text)?;
    let number = |i: usize| c.get(i).map_or(Some(0), |m| m.as_str().parse::<u32>().ok());
    let time = NaiveTime::from_hms_opt(number(2)?, number(3)?, number(4)?)?;
    let zone = zone_offset(c.get(5)?.as_str())?;
    match c.get(1) {
        Some(date) => {
            let date = NaiveDate::parse_from_str(date.as_str(), "%Y-%m-%d").ok()?;
            let at = zone
                .from_local_datetime(&NaiveDateTime::new(date, time))
                .single()?;
            Some(at.timestamp_millis())
        }
        None => next_time_of_day(time, zone, received_ms),
    }
}

/// Whether `text` has `reset` (any case): the pattern runs only then.
fn mentions_reset(text: &str) -> bool {
    memchr::memmem::find_iter(text.as_bytes(), b"eset")
        .any(|i| i >= 1 && text.as_bytes()[i - 1].eq_ignore_ascii_case(&b'r'))
}

/// The offset a zone is written as: `Z`/`UTC`/`GMT`, `+08:00`, `-0500`, `UTC+8`, `GMT-03:30`.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let z = zone.trim();
    let rest = ["utc", "gmt", "z"]
        .iter()
        .find_map(|name| {
            z.get(..name.len())
                .filter(|head| head.eq_ignore_ascii_case(name))
                .map(|_| z[name.len()..].trim())
        })
        .unwrap_or(z);
    if rest.is_empty() {
        return FixedOffset::east_opt(0);
    }
    let (sign, digits) = match rest.as_bytes()[0] {
        b'+' => (1, &rest[1..]),
        b'-' => (-1, &rest[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        3 | 4 => {
            let split = digits.len() - 2;
            (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
        }
        _ => return None,
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

/// The first moment at or after `received_ms` that is `time` o'clock in `zone`, in epoch ms.
fn next_time_of_day(time: NaiveTime, zone: FixedOffset, received_ms: i64) -> Option<i64> {
    let received: DateTime<FixedOffset> = Utc
        .timestamp_millis_opt(received_ms)
        .single()?
        .with_timezone(&zone);
    let today = zone
        .from_local_datetime(&received.date_naive().and_time(time))
        .single()?;
    let at = if today >= received {
        today
    } else {
        today + Duration::days(1)
    };
    Some(at.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-03T13:30:00Z.
    const RECEIVED: i64 = 1_796_304_600_000;

    /// Each text's reset is the RFC 3339 time paired with it.
    fn check(cases: &[(&str, &str)]) {
        for (text, want) in cases {
            let want = DateTime::parse_from_rfc3339(want)
                .unwrap()
                .timestamp_millis();
            assert_eq!(written_reset(text, RECEIVED), Some(want), "{text}");
        }
    }

    #[test]
    fn a_date_and_time_with_a_zone() {
        check(&[
            (
                "Your limit will reset at 2026-03-06T22:19:54Z.",
                "2026-03-06T22:19:54Z",
            ),
            (
                "quota resets at 2026-03-06 22:19 UTC",
                "2026-03-06T22:19:00Z",
            ),
            (
                "Limit resets on 2026-12-04 08:00:00 +08:00 (Beijing)",
                "2026-12-04T00:00:00Z",
            ),
            (
                "resetting at 2026-12-04 08:00 (GMT-0500)",
                "2026-12-04T13:00:00Z",
            ),
            ("Resets at 2026-12-04T00:00:00.000Z", "2026-12-04T00:00:00Z"),
            ("resets at 2026-12-04 09:30 UTC+8", "2026-12-04T01:30:00Z"),
        ]);
    }

    #[test]
    fn a_time_of_day_is_its_next_occurrence() {
        check(&[
            ("It resets at 00:00 UTC.", "2026-12-04T00:00:00Z"),
            ("daily quota resets at 14:00 UTC", "2026-12-03T14:00:00Z"),
            ("resets at 13:30 UTC", "2026-12-03T13:30:00Z"),
            ("resets at 13:29 UTC", "2026-12-04T13:29:00Z"),
            ("resets at 08:00 +08:00", "2026-12-04T00:00:00Z"),
        ]);
    }

    #[test]
    fn no_zone_or_no_reset_is_no_hint() {
        for text in [
            "Your limit will reset at 2026-03-06 22:19:54 (request_id: 2026030314154761)",
            "resets at 14:00",
            "resets at 14:00 local time",
            "at 00:00 UTC the job runs",
            "the preset at 10:00 UTC",
            "resets at 25:00 UTC",
            "resets at 2026-02-30 10:00 UTC",
            "resets at 10:00 +15:00",
        ] {
            assert_eq!(written_reset(text, RECEIVED), None, "{text}");
        }
    }
}
