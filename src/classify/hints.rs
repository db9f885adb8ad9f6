//! Picks the retry hint for a classified failure, in a fixed precedence:
//!
//! 1. for `quota` only: an explicit absolute reset (Anthropic reset headers, a
//!    `usage limit reached|<epoch>` suffix, a reset time written with its zone: "resets at
//!    00:00 UTC", see `written_reset.rs`) beats everything, because a relative `retry-after`
//!    on a long window is usually a short probe interval;
//! 2. `retry-after-ms`; 3. `retry-after` (seconds or HTTP-date), then the same value relayed
//!    by the OpenClaw gateway as a text suffix `; Retry-After: N seconds`;
//! 4. OpenAI `x-ratelimit-reset-*`; 5. Anthropic `anthropic-ratelimit-*-reset`;
//! 6. a generic `x-ratelimit-reset`; 7. Gemini `RetryInfo.retryDelay`;
//! 8. text ("Please try again in 1.146s", "retry after 6 seconds");
//! 9. for `quota` only: the configured budget window.

use super::ascii::{boundary_before, eq_at, is_space};
use super::durations::{
    parse_epoch_seconds, parse_go_duration, parse_human_duration, parse_seconds,
};
use super::headers::Hint;
use super::input::FailureView;
use super::written_reset::written_reset;
use crate::reason::Reason;
use regex::Regex;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::{Anchored, Input};
use std::cell::RefCell;
use std::sync::LazyLock;

/// "try again in 1.146s", "Please retry in 3.700s", "retry after 6 seconds", "try again in
/// 2 minutes", "retrying in 6m0s".
const TEXT_DELAY_PATTERN: &str = r"(?i-u)^(?:try(?:ing)?\s+again|retry(?:ing)?)\s+(?:in|after)\s+(?:about\s+|approximately\s+|~)?([0-9]+(?:\.[0-9]+)?(?:(?:[a-z]|µ|μ)+(?:[0-9]+(?:\.[0-9]+)?(?:[a-z]|µ|μ)+)*)?)(?:\s+([a-z]+))?";

/// [`TEXT_DELAY_PATTERN`] as a lazy DFA, run anchored at each place a delay can start: one
/// forward pass gives the end of the (leftmost-first) match, whose start is that place, so no
/// general regex search (and its reverse pass) is needed.
static TEXT_DELAY: LazyLock<DFA> =
    LazyLock::new(|| DFA::new(TEXT_DELAY_PATTERN).expect("text delay pattern must compile"));

thread_local! {
    /// This thread's search cache for [`TEXT_DELAY`] (made on first use).
    static TEXT_DELAY_CACHE: RefCell<Option<Cache>> = const { RefCell::new(None) };
}

/// The length of the [`TEXT_DELAY_PATTERN`] match at the very start of `rest`, if any.
fn delay_match_len(rest: &str) -> Option<usize> {
    let dfa = &*TEXT_DELAY;
    let input = Input::new(rest).anchored(Anchored::Yes);
    let search = |cache: &mut Cache| dfa.try_search_fwd(cache, &input).ok().flatten();
    let found = TEXT_DELAY_CACHE.with(|slot| match slot.try_borrow_mut() {
        Ok(mut slot) => search(slot.get_or_insert_with(|| dfa.create_cache())),
        // Re-entered on this thread (cannot happen today): a cache of its own.
        Err(_) => search(&mut dfa.create_cache()),
    });
    found.map(|m| m.offset())
}

/// The suffix the OpenClaw gateway appends to a provider's message when the provider sent a
/// `retry-after` header: `…; Retry-After: 30 seconds` (seconds, integer or decimal).
static RELAYED_RETRY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\bretry-after:\s*([0-9]+(?:\.[0-9]+)?)\s*(?:seconds?|secs?|s)?\b")
        .expect("relayed retry-after pattern must compile")
});

/// The `Retry-After: N seconds` suffix relayed by the gateway, in milliseconds.
pub(crate) fn relayed_retry_after(text: &str) -> Option<i64> {
    if !mentions_retry_after(text) {
        return None;
    }
    RELAYED_RETRY_AFTER
        .captures(text)
        .and_then(|c| parse_seconds(c.get(1)?.as_str()))
}

/// Claude's `usage limit reached|1760000000` (epoch seconds after the bar).
static TEXT_EPOCH_RESET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)limit reached\|(\d{9,11})\b").expect("epoch reset pattern must compile")
});

/// Where a text delay can start: each `try` or `retry` (any case) after a word boundary, the
/// words every delay starts with (the pattern's leading `\b`, checked here because the
/// pattern is run anchored at each of these), in ascending order.
///
/// Both words hold `try`, so only the places of a `t` are looked at (`memchr`): a `try` there
/// starts a word itself, or is the end of a `retry` that does.
fn delay_starts(text: &str) -> impl Iterator<Item = usize> + '_ {
    let bytes = text.as_bytes();
    memchr::memchr2_iter(b't', b'T', bytes).filter_map(move |i| {
        if !eq_at(bytes, i, b"try") {
            return None;
        }
        if boundary_before(bytes, i) {
            return Some(i);
        }
        let start = i.checked_sub(2)?;
        (eq_at(bytes, start, b"re") && boundary_before(bytes, start)).then_some(start)
    })
}

/// Whether `text` has `retry-after` (any case), which the relayed suffix starts with. Hyphens
/// are rare in prose, so this looks at a handful of places (`memchr`).
fn mentions_retry_after(text: &str) -> bool {
    let bytes = text.as_bytes();
    memchr::memchr_iter(b'-', bytes)
        .any(|i| i >= 5 && eq_at(bytes, i - 5, b"retry") && eq_at(bytes, i + 1, b"after"))
}

/// A relative delay written in `text`, in milliseconds: the first match (leftmost, then each
/// next one after the previous match's end) that parses.
pub(crate) fn text_delay(text: &str) -> Option<i64> {
    let mut after = 0;
    delay_starts(text).find_map(|start| {
        if start < after {
            return None;
        }
        let len = delay_match_len(&text[start..])?;
        after = start + len;
        let (token, unit) = delay_parts(&text[start..after])?;
        parse_human_duration(token, unit)
    })
}

/// The two groups of a [`TEXT_DELAY`] match, read off its span without a capture search: the
/// delay starts at the span's first digit (the words before it have none) and has no
/// whitespace in it, so a whitespace run then ASCII letters at the end is the unit word.
fn delay_parts(span: &str) -> Option<(&str, Option<&str>)> {
    let delay = &span[span.find(|c: char| c.is_ascii_digit())?..];
    let letters = delay
        .bytes()
        .rev()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let (rest, unit) = delay.split_at(delay.len() - letters);
    let number = rest.trim_end_matches(|c: char| c.is_ascii() && is_space(c as u8));
    Some(if letters > 0 && number.len() < rest.len() {
        (number, Some(unit))
    } else {
        (delay, None)
    })
}

/// An absolute reset written in `text` (`…|<epoch seconds>`), in epoch milliseconds.
pub(crate) fn text_reset(text: &str) -> Option<i64> {
    if !text.contains('|') {
        return None;
    }
    TEXT_EPOCH_RESET
        .captures(text)
        .and_then(|c| parse_epoch_seconds(c.get(1)?.as_str()))
}

/// The hint for `view` classified as `reason`, by the precedence in the module doc.
pub(crate) fn find_hint(
    view: &FailureView,
    reason: Reason,
    budget_window_ms: Option<i64>,
    received_ms: i64,
) -> Option<Hint> {
    let h = &view.headers;
    let absolute = || {
        h.anthropic_reset()
            .or_else(|| text_reset(&view.text).map(Hint::At))
            .or_else(|| written_reset(&view.text, received_ms).map(Hint::At))
    };
    if reason == Reason::Quota {
        if let Some(hint) = absolute() {
            return Some(hint);
        }
    }
    h.retry_after_ms()
        .or_else(|| h.retry_after())
        .or_else(|| relayed_retry_after(&view.text).map(Hint::After))
        .or_else(|| h.openai_reset())
        .or_else(absolute)
        .or_else(|| h.generic_reset())
        .or_else(|| {
            view.retry_delay
                .as_deref()
                .and_then(parse_go_duration)
                .map(Hint::After)
        })
        .or_else(|| text_delay(&view.text).map(Hint::After))
        .or_else(|| {
            budget_window_ms
                .filter(|ms| reason == Reason::Quota && *ms >= 0)
                .map(Hint::After)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The delay pattern as one unanchored search with a leading `\b` (the reference that the
    /// anchored runs at [`delay_starts`] must agree with).
    static UNANCHORED: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(&TEXT_DELAY_PATTERN.replacen("^", "\\b", 1)).unwrap());

    #[test]
    fn text_delays() {
        let cases = [
            ("Please try again in 1.146s. Visit", 1_146),
            ("Please try again in 20ms.", 20),
            ("Please retry after 6 seconds.", 6_000),
            ("Please retry in 3.700s.", 3_700),
            ("try again in 2 minutes", 120_000),
            ("Please try again in 6m0s.", 360_000),
            ("Retrying in 30s", 30_000),
            ("retry after 10", 10_000),
            ("Try again in about 1 hour", 3_600_000),
            ("retrying in 1.5µs", 0),
            ("try again in 5m later", 300_000),
            ("Please try again in\x0b2\tminutes", 120_000),
        ];
        for (text, want) in cases {
            assert_eq!(text_delay(text), Some(want), "{text}");
        }
        for (text, _) in cases {
            let m = UNANCHORED.find(text).unwrap();
            let c = UNANCHORED.captures(text).unwrap();
            let groups = (&c[1], c.get(2).map(|g| g.as_str()));
            assert_eq!(delay_parts(m.as_str()), Some(groups), "{text}");
        }
        for text in [
            "Retry your request with the ID of an inference profile",
            "try again later",
            "retry 3 times",
        ] {
            assert_eq!(text_delay(text), None, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_support::proptest_cases(5_000))]
        /// Reading the groups off the span gives what the capture search gives.
        #[test]
        fn delay_parts_agree_with_the_capture_search(
            text in crate::test_support::texts_from(vec![
                "try again", "Retrying", "retry", " in ", " after ", "about ", "~", "1", ".5",
                "s", "M", "0", " ", "\t", "\n", "minutes", "µ", "μs", "x", ".", "3", "h", "en",
                "_", "again in 2 again",
            ], 10)
        ) {
            let fast: Vec<_> = UNANCHORED
                .find_iter(&text)
                .map(|m| delay_parts(m.as_str()))
                .collect();
            let slow: Vec<_> = UNANCHORED
                .captures_iter(&text)
                .map(|c| Some((c.get(1).unwrap().as_str(), c.get(2).map(|g| g.as_str()))))
                .collect();
            proptest::prop_assert_eq!(fast, slow, "{:?}", text);
            let first_parsed = UNANCHORED.find_iter(&text).find_map(|m| {
                let (token, unit) = delay_parts(m.as_str())?;
                parse_human_duration(token, unit)
            });
            proptest::prop_assert_eq!(text_delay(&text), first_parsed, "{:?}", text);
        }
    }

    #[test]
    fn relayed_retry_after_suffix() {
        let t = "429 Rate limit reached for requests per min; Retry-After: 30 seconds";
        assert_eq!(relayed_retry_after(t), Some(30_000));
        assert_eq!(
            relayed_retry_after("x; Retry-After: 1.5 seconds"),
            Some(1_500)
        );
        assert_eq!(relayed_retry_after("retry after 30 seconds"), None);
    }

    #[test]
    fn text_resets() {
        assert_eq!(
            text_reset("Claude AI usage limit reached|1760000000"),
            Some(1_760_000_000_000)
        );
        assert_eq!(text_reset("usage limit reached"), None);
    }
}
