//! Small pure parsers for the duration and time formats providers use in retry hints.

use chrono::DateTime;

/// Upper bound for any parsed delay (10 years in ms), so absurd inputs cannot overflow.
const MAX_MS: f64 = 10.0 * 365.0 * 24.0 * 3_600_000.0;

fn clamp_ms(ms: f64) -> Option<i64> {
    if !ms.is_finite() || ms < 0.0 {
        return None;
    }
    Some(ms.min(MAX_MS).round() as i64)
}

/// Milliseconds in one Go duration unit (`ns`, `us`, `µs`, `ms`, `s`, `m`, `h`).
fn go_unit_ms(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1e-6,
        "us" | "µs" | "μs" => 1e-3,
        "ms" => 1.0,
        "s" => 1_000.0,
        "m" => 60_000.0,
        "h" => 3_600_000.0,
        _ => return None,
    })
}

/// Parses a Go `time.Duration` string (`6m0s`, `1s`, `12ms`, `1h2m3.5s`, `0`) into milliseconds.
/// Returns `None` for anything else, including negative durations.
pub(crate) fn parse_go_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return None;
        }
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        total += value * go_unit_ms(&rest[..unit_len])?;
        rest = &rest[unit_len..];
    }
    clamp_ms(total)
}

/// Milliseconds in one human unit word (`ms`, `second(s)`, `sec`, `minute(s)`, `min`, `hour(s)`,
/// `day(s)`, and the Go unit letters).
fn human_unit_ms(word: &str) -> Option<f64> {
    let w = word.to_ascii_lowercase();
    Some(match w.as_str() {
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => 1.0,
        "s" | "sec" | "secs" | "second" | "seconds" => 1_000.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60_000.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3_600_000.0,
        "d" | "day" | "days" => 86_400_000.0,
        _ => return None,
    })
}

/// Parses a duration written in prose: a Go duration token (`1.146s`, `6m0s`, `20ms`), a number
/// glued to a unit word (`10min`), or a number followed by a separate unit word (`6 seconds`,
/// `2 minutes`). A bare number is seconds. `word` is the word after the number, if any.
pub(crate) fn parse_human_duration(token: &str, word: Option<&str>) -> Option<i64> {
    let token = token.trim().trim_end_matches('.');
    if token.chars().all(|c| c.is_ascii_digit() || c == '.') {
        let value: f64 = token.parse().ok()?;
        let unit = word.and_then(human_unit_ms).unwrap_or(1_000.0);
        return clamp_ms(value * unit);
    }
    if let Some(ms) = parse_go_duration(token) {
        return Some(ms);
    }
    let split = token.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let value: f64 = token[..split].parse().ok()?;
    clamp_ms(value * human_unit_ms(&token[split..])?)
}

/// Parses a decimal number of seconds (`17`, `1.5`) into milliseconds.
pub(crate) fn parse_seconds(s: &str) -> Option<i64> {
    let v: f64 = s.trim().parse().ok()?;
    clamp_ms(v * 1_000.0)
}

/// Parses a decimal number of milliseconds (`retry-after-ms: 250`).
pub(crate) fn parse_millis(s: &str) -> Option<i64> {
    let v: f64 = s.trim().parse().ok()?;
    clamp_ms(v)
}

/// Parses an HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`) into epoch milliseconds.
pub(crate) fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

/// Parses an RFC 3339 timestamp (`2026-11-22T21:00:00Z`) into epoch milliseconds.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Parses an epoch timestamp given in seconds (`1800003600`) into epoch milliseconds.
pub(crate) fn parse_epoch_seconds(s: &str) -> Option<i64> {
    let v: f64 = s.trim().parse().ok()?;
    if !(0.0..1e11).contains(&v) {
        return None;
    }
    Some((v * 1_000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("6m0s"), Some(360_000));
        assert_eq!(parse_go_duration("1s"), Some(1_000));
        assert_eq!(parse_go_duration("12ms"), Some(12));
        assert_eq!(parse_go_duration("1h2m3.5s"), Some(3_723_500));
        assert_eq!(parse_go_duration("3.700s"), Some(3_700));
        assert_eq!(parse_go_duration("0"), Some(0));
        assert_eq!(parse_go_duration("2m59.56s"), Some(179_560));
        assert_eq!(parse_go_duration("1500us"), Some(2));
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("12"), None);
        assert_eq!(parse_go_duration("5x"), None);
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("s"), None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(parse_human_duration("1.146s", None), Some(1_146));
        assert_eq!(parse_human_duration("20ms", None), Some(20));
        assert_eq!(parse_human_duration("6", Some("seconds")), Some(6_000));
        assert_eq!(parse_human_duration("2", Some("minutes")), Some(120_000));
        assert_eq!(parse_human_duration("1", Some("hour")), Some(3_600_000));
        assert_eq!(parse_human_duration("10min", None), Some(600_000));
        assert_eq!(parse_human_duration("3.700s.", None), Some(3_700));
        assert_eq!(parse_human_duration("30", None), Some(30_000));
        assert_eq!(parse_human_duration("30", Some("and")), Some(30_000));
        assert_eq!(parse_human_duration("5parsecs", None), None);
    }

    #[test]
    fn numbers_and_dates() {
        assert_eq!(parse_seconds("17"), Some(17_000));
        assert_eq!(parse_seconds("1.5"), Some(1_500));
        assert_eq!(parse_seconds("-3"), None);
        assert_eq!(parse_seconds("soon"), None);
        assert_eq!(parse_millis("250"), Some(250));
        assert_eq!(
            parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(1_445_412_480_000)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            parse_rfc3339("2026-11-22T21:00:00Z"),
            Some(1_795_381_200_000)
        );
        assert_eq!(
            parse_rfc3339("2026-11-22T22:00:00+01:00"),
            Some(1_795_381_200_000)
        );
        assert_eq!(parse_rfc3339("nope"), None);
        assert_eq!(parse_epoch_seconds("1800003600"), Some(1_800_003_600_000));
        assert_eq!(parse_epoch_seconds("abc"), None);
    }
}
