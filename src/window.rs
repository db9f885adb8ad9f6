//! Budget windows (`"5h"`, `"1d"`, `"7d"`, `"30d"`, `"1mo"`, ...): when a fixed window resets
//! next, and when a rolling window frees its oldest use.
//!
//! Fixed windows follow LiteLLM's `get_next_standardized_reset_time`
//! (`litellm/litellm_core_utils/duration_parser.py`), evaluated in a fixed UTC offset
//! (default 0 = UTC); the reset is always strictly after `now`:
//! - `Ns`: the next second-of-minute that is a multiple of N (`"30s"` at 10:00:40 → 10:01:00).
//! - `Nm`: the next minute-of-hour that is a multiple of N (`"5m"` at 10:07 → 10:10).
//! - `Nh`: the next hour-of-day that is a multiple of N (`"5h"` at 22:10 → 01:00 next day,
//!   since 22 + 5 - 22 % 5 = 25).
//! - `1d`: next midnight. `7d` (and `1w`): next Monday midnight (a Monday goes to the
//!   following Monday). `30d`: the 1st of next month at midnight. Any other `Nd`: today's
//!   midnight + N days.
//! - `Nw`: as `(7N)d`.
//! - `1mo`: the 1st of next month at midnight. `Nmo` (N > 1, which LiteLLM rejects) is the
//!   1st of the month N months ahead.
//!
//! Two deliberate differences from LiteLLM: a zero value (`"0d"`) is rejected instead of meaning
//! "now", and an alignment that passes more than one parent unit adds instead of wrapping
//! (LiteLLM wraps `"50h"` to the next day; here it is two days later).

use crate::error::{EngineError, EngineResult};
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveDateTime, Timelike};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Safety margin added to a window reset before resuming work, in ms. Default `250`: providers'
/// clocks and counters lag a little, but the probe should reach the provider well within a
/// second of the reset (a failed probe only costs one call).
pub const DEFAULT_RESET_MARGIN_MS: i64 = 250;

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// The unit of a [`Window`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WindowUnit {
    /// `s`
    Second,
    /// `m`
    Minute,
    /// `h`
    Hour,
    /// `d`
    Day,
    /// `w`
    Week,
    /// `mo` (calendar month)
    Month,
}

impl WindowUnit {
    fn suffix(self) -> &'static str {
        match self {
            WindowUnit::Second => "s",
            WindowUnit::Minute => "m",
            WindowUnit::Hour => "h",
            WindowUnit::Day => "d",
            WindowUnit::Week => "w",
            WindowUnit::Month => "mo",
        }
    }
}

/// A budget window such as `"5h"` or `"1mo"`. Serialised as its string form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Window {
    value: u32,
    unit: WindowUnit,
}

impl Window {
    /// Parse `"<positive integer><unit>"` with unit `s`, `m`, `h`, `d`, `w` or `mo`
    /// (`"30s"`, `"5m"`, `"5h"`, `"12h"`, `"1d"`, `"7d"`, `"30d"`, `"1mo"`). Surrounding
    /// whitespace is ignored. Anything else → `EngineError::InvalidOption` (field `window`).
    pub fn parse(text: &str) -> EngineResult<Window> {
        let s = text.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, unit) = s.split_at(split);
        let bad = |why: &str| {
            EngineError::option(
                "window",
                format!(
                    "{text:?} {why}; expected a positive number followed by s, m, h, d, w or mo, \
                     e.g. \"5h\", \"1d\", \"7d\", \"1mo\""
                ),
            )
        };
        if digits.is_empty() {
            return Err(bad("does not start with a number"));
        }
        let value: u32 = digits
            .parse()
            .map_err(|_| bad("has a number that is too large"))?;
        if value == 0 {
            return Err(bad("is zero"));
        }
        let unit = match unit {
            "s" => WindowUnit::Second,
            "m" => WindowUnit::Minute,
            "h" => WindowUnit::Hour,
            "d" => WindowUnit::Day,
            "w" => WindowUnit::Week,
            "mo" => WindowUnit::Month,
            "" => return Err(bad("has no unit")),
            _ => return Err(bad("has an unknown unit")),
        };
        Ok(Window { value, unit })
    }

    /// The number in front of the unit.
    pub fn value(&self) -> u32 {
        self.value
    }

    /// The unit.
    pub fn unit(&self) -> WindowUnit {
        self.unit
    }

    /// The fixed length in ms, or `None` for calendar months (whose length varies).
    pub fn fixed_len_ms(&self) -> Option<i64> {
        let v = self.value as i64;
        match self.unit {
            WindowUnit::Second => Some(v * SECOND_MS),
            WindowUnit::Minute => Some(v * MINUTE_MS),
            WindowUnit::Hour => Some(v * HOUR_MS),
            WindowUnit::Day => Some(v * DAY_MS),
            WindowUnit::Week => Some(v * 7 * DAY_MS),
            WindowUnit::Month => None,
        }
    }

    /// When the fixed window containing `now_ms` resets (epoch ms, strictly after `now_ms`),
    /// with the calendar taken in the fixed UTC offset `offset_minutes` (default 0 = UTC;
    /// e.g. `-300` for UTC-5, `330` for India). LiteLLM semantics; see the module docs.
    pub fn next_reset(&self, now_ms: i64, offset_minutes: i32) -> i64 {
        let offset_ms = offset_minutes as i64 * MINUTE_MS;
        let local = to_naive(now_ms + offset_ms);
        let midnight = local.date().and_hms_opt(0, 0, 0).expect("midnight exists");
        let v = self.value as i64;
        let local_reset = match self.unit {
            WindowUnit::Second => {
                let minute_start = midnight
                    + chrono::Duration::hours(local.hour() as i64)
                    + chrono::Duration::minutes(local.minute() as i64);
                let next = (local.second() as i64 / v + 1) * v;
                minute_start + chrono::Duration::seconds(next)
            }
            WindowUnit::Minute => {
                let hour_start = midnight + chrono::Duration::hours(local.hour() as i64);
                let next = (local.minute() as i64 / v + 1) * v;
                hour_start + chrono::Duration::minutes(next)
            }
            WindowUnit::Hour => {
                let next = (local.hour() as i64 / v + 1) * v;
                midnight + chrono::Duration::hours(next)
            }
            WindowUnit::Day => day_reset(local, midnight, v),
            WindowUnit::Week => day_reset(local, midnight, v * 7),
            WindowUnit::Month => first_of_month_ahead(local.date(), self.value),
        };
        local_reset.and_utc().timestamp_millis() - offset_ms
    }

    /// When a rolling window frees the use made at `oldest_use_ms`: that time plus the window
    /// length (calendar months are added in UTC, clamping to the month's last day).
    pub fn rolling_reset(&self, oldest_use_ms: i64) -> i64 {
        match self.fixed_len_ms() {
            Some(len) => oldest_use_ms.saturating_add(len),
            None => {
                let t = to_naive(oldest_use_ms);
                t.checked_add_months(Months::new(self.value))
                    .map(|d| d.and_utc().timestamp_millis())
                    .unwrap_or(i64::MAX)
            }
        }
    }
}

/// The reset to act on: the provider's explicit reset time when given (it beats any computed
/// one), else `computed_ms`, plus `margin_ms` (see [`DEFAULT_RESET_MARGIN_MS`]).
pub fn effective_reset(explicit_reset_ms: Option<i64>, computed_ms: i64, margin_ms: i64) -> i64 {
    explicit_reset_ms
        .unwrap_or(computed_ms)
        .saturating_add(margin_ms)
}

fn to_naive(ms: i64) -> NaiveDateTime {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .naive_utc()
}

fn day_reset(local: NaiveDateTime, midnight: NaiveDateTime, days: i64) -> NaiveDateTime {
    match days {
        1 => midnight + chrono::Duration::days(1),
        7 => {
            let weekday = local.weekday().num_days_from_monday() as i64;
            let mut until_monday = (7 - weekday) % 7;
            if until_monday == 0 {
                until_monday = 7;
            }
            midnight + chrono::Duration::days(until_monday)
        }
        30 => first_of_month_ahead(local.date(), 1),
        n => midnight + chrono::Duration::days(n),
    }
}

fn first_of_month_ahead(date: NaiveDate, months: u32) -> NaiveDateTime {
    let first = date.with_day(1).expect("day 1 exists");
    first
        .checked_add_months(Months::new(months))
        .unwrap_or(NaiveDate::MAX)
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

impl FromStr for Window {
    type Err = EngineError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Window::parse(s)
    }
}

impl TryFrom<String> for Window {
    type Error = EngineError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Window::parse(&s)
    }
}

impl From<Window> for String {
    fn from(w: Window) -> String {
        w.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_millis()
    }

    fn reset(w: &str, now: &str) -> i64 {
        Window::parse(w).unwrap().next_reset(utc(now), 0)
    }

    #[test]
    fn parses_and_prints() {
        for s in [
            "30s", "5m", "2h", "5h", "12h", "1d", "7d", "30d", "1w", "1mo", "3mo",
        ] {
            assert_eq!(Window::parse(s).unwrap().to_string(), s);
        }
        let w = Window::parse(" 5h ").unwrap();
        assert_eq!((w.value(), w.unit()), (5, WindowUnit::Hour));
        assert_eq!(w.fixed_len_ms(), Some(5 * HOUR_MS));
        assert_eq!(Window::parse("1mo").unwrap().fixed_len_ms(), None);
        for bad in [
            "",
            "h",
            "5",
            "0d",
            "5x",
            "5 h",
            "-1d",
            "1month",
            "99999999999s",
        ] {
            let e = Window::parse(bad).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_OPTION", "{bad}");
            assert!(e.to_string().contains("e.g. \"5h\""), "{bad}");
        }
        let json = serde_json::to_string(&Window::parse("7d").unwrap()).unwrap();
        assert_eq!(json, "\"7d\"");
        let back: Window = serde_json::from_str("\"12h\"").unwrap();
        assert_eq!(back.to_string(), "12h");
        assert!(serde_json::from_str::<Window>("\"12q\"").is_err());
    }

    #[test]
    fn seconds_and_minutes_align_within_parent_unit() {
        assert_eq!(
            reset("30s", "2026-11-22T10:00:40Z"),
            utc("2026-11-22T10:01:00Z")
        );
        assert_eq!(
            reset("30s", "2026-11-22T10:00:10.500Z"),
            utc("2026-11-22T10:00:30Z")
        );
        // exactly on a boundary: strictly after now
        assert_eq!(
            reset("30s", "2026-11-22T10:00:30Z"),
            utc("2026-11-22T10:01:00Z")
        );
        // 45s at second 50: 50 + 45 - 5 = 90 → one minute and 30 seconds on
        assert_eq!(
            reset("45s", "2026-11-22T10:00:50Z"),
            utc("2026-11-22T10:01:30Z")
        );
        assert_eq!(
            reset("5m", "2026-11-22T10:07:12Z"),
            utc("2026-11-22T10:10:00Z")
        );
        assert_eq!(
            reset("5m", "2026-11-22T23:58:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            reset("30s", "2026-12-31T23:59:45Z"),
            utc("2027-01-01T00:00:00Z")
        );
    }

    #[test]
    fn hours_align_to_multiples_of_the_hour_of_day() {
        assert_eq!(
            reset("5h", "2026-11-22T07:30:00Z"),
            utc("2026-11-22T10:00:00Z")
        );
        assert_eq!(
            reset("5h", "2026-11-22T10:00:00Z"),
            utc("2026-11-22T15:00:00Z")
        );
        // LiteLLM: 22 + 5 - 2 = 25 → 01:00 next day
        assert_eq!(
            reset("5h", "2026-11-22T22:10:00Z"),
            utc("2026-11-23T01:00:00Z")
        );
        assert_eq!(
            reset("2h", "2026-11-22T13:59:59Z"),
            utc("2026-11-22T14:00:00Z")
        );
        assert_eq!(
            reset("12h", "2026-11-22T12:00:01Z"),
            utc("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            reset("1h", "2026-11-22T23:15:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        // 23 + 2 - 1 = 24 → midnight of the next day, as in LiteLLM
        assert_eq!(
            reset("2h", "2026-11-22T23:30:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        // 30h at 03:00: 3 + 30 - 3 = 30 → 06:00 the next day
        assert_eq!(
            reset("30h", "2026-11-22T03:00:00Z"),
            utc("2026-11-23T06:00:00Z")
        );
    }

    #[test]
    fn days_weeks_and_months() {
        // 2026-11-22 is a Sunday
        assert_eq!(
            reset("1d", "2026-11-22T15:00:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            reset("7d", "2026-11-22T15:00:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            reset("1w", "2026-11-22T15:00:00Z"),
            utc("2026-11-23T00:00:00Z")
        );
        // a Monday goes to the following Monday
        assert_eq!(
            reset("7d", "2026-11-23T00:00:00Z"),
            utc("2026-11-30T00:00:00Z")
        );
        // a Wednesday
        assert_eq!(
            reset("7d", "2026-11-25T08:00:00Z"),
            utc("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            reset("30d", "2026-11-22T15:00:00Z"),
            utc("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            reset("30d", "2026-12-31T23:00:00Z"),
            utc("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            reset("1mo", "2026-12-15T00:00:00Z"),
            utc("2027-01-01T00:00:00Z")
        );
        assert_eq!(
            reset("1mo", "2026-01-31T12:00:00Z"),
            utc("2026-02-01T00:00:00Z")
        );
        assert_eq!(
            reset("3mo", "2026-11-22T12:00:00Z"),
            utc("2027-02-01T00:00:00Z")
        );
        // other day counts: today's midnight + N days
        assert_eq!(
            reset("3d", "2026-11-22T15:00:00Z"),
            utc("2026-11-25T00:00:00Z")
        );
        assert_eq!(
            reset("2w", "2026-11-22T15:00:00Z"),
            utc("2026-12-06T00:00:00Z")
        );
    }

    #[test]
    fn fixed_offsets_shift_the_calendar() {
        let d = Window::parse("1d").unwrap();
        // 22:00 UTC is 03:30 next day in India (+5:30): next local midnight is 18:30 UTC that day
        assert_eq!(
            d.next_reset(utc("2026-11-22T22:00:00Z"), 330),
            utc("2026-11-23T18:30:00Z")
        );
        // 03:00 UTC is 22:00 the previous day in UTC-5: local midnight is 05:00 UTC
        assert_eq!(
            d.next_reset(utc("2026-11-22T03:00:00Z"), -300),
            utc("2026-11-22T05:00:00Z")
        );
        // 2026-11-23T02:00Z is Sunday 21:00 in UTC-5 → local Monday midnight = 05:00Z on the 23rd
        let w = Window::parse("7d").unwrap();
        assert_eq!(
            w.next_reset(utc("2026-11-23T02:00:00Z"), -300),
            utc("2026-11-23T05:00:00Z")
        );
        let m = Window::parse("1mo").unwrap();
        // 2026-11-30T20:00Z is already December 1st 01:00 at +5:00
        assert_eq!(
            m.next_reset(utc("2026-11-30T20:00:00Z"), 300),
            utc("2026-12-31T19:00:00Z")
        );
        let h = Window::parse("5h").unwrap();
        // 07:30 local at +01:00 → 10:00 local = 09:00Z
        assert_eq!(
            h.next_reset(utc("2026-11-22T06:30:00Z"), 60),
            utc("2026-11-22T09:00:00Z")
        );
    }

    #[test]
    fn rolling_windows_add_their_length() {
        let t = utc("2026-01-31T10:00:00Z");
        assert_eq!(
            Window::parse("5h").unwrap().rolling_reset(t),
            t + 5 * HOUR_MS
        );
        assert_eq!(
            Window::parse("7d").unwrap().rolling_reset(t),
            t + 7 * DAY_MS
        );
        assert_eq!(
            Window::parse("1mo").unwrap().rolling_reset(t),
            utc("2026-02-28T10:00:00Z")
        );
    }

    #[test]
    fn explicit_reset_beats_computed_and_margin_is_added() {
        assert_eq!(effective_reset(Some(5_000), 9_000, 1_000), 6_000);
        assert_eq!(effective_reset(Some(12_000), 9_000, 0), 12_000);
        assert_eq!(effective_reset(None, 9_000, DEFAULT_RESET_MARGIN_MS), 9_250);
    }
}
