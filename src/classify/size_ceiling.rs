//! OpenAI's "Request too large" shape: a tokens-per-minute error whose stated request is bigger
//! than the stated limit can never succeed by waiting, so it is not a rate limit.
//!
//! The shape is OpenClaw's `STATED_TOKEN_SIZES_RE`:
//! `(?:\btpm\b|tokens per min(?:ute)?)[\t -\-/-~]*?\blimit\s+([\d,]+)[\t -\-/-~]*?\brequested\s+([\d,]+)`
//! (ASCII, any case): within one sentence of printable ASCII, `… tokens per min (TPM): Limit
//! 30000, Requested 50000`. It runs on every TPM message, so it is read by a direct scan with
//! the same leftmost-first, lazy-then-greedy semantics (checked against the pattern itself in
//! the tests) instead of a capture search.

use super::ascii::{eq_at, is_word, skip_space, word_at};

/// A byte the pattern allows between its words: tab and printable ASCII but `.`.
fn in_sentence(b: u8) -> bool {
    b == b'\t' || (b' '..=b'~').contains(&b) && b != b'.'
}

fn is_count_byte(b: u8) -> bool {
    b.is_ascii_digit() || b == b','
}

/// `word\s+([\d,]+)` at `i` (after a word boundary): the digits' range.
fn sized_word_at(bytes: &[u8], i: usize, word: &[u8]) -> Option<(usize, usize)> {
    if !word_at(bytes, i, word) {
        return None;
    }
    let after = i + word.len();
    let digits = skip_space(bytes, after);
    let end = digits
        + bytes[digits..]
            .iter()
            .take_while(|b| is_count_byte(**b))
            .count();
    (digits > after && end > digits).then_some((digits, end))
}

/// Each `word\s+digits` reachable from `from` through sentence bytes, earliest first (the
/// lazy `*?` tries them in this order).
fn sized_words<'a>(
    bytes: &'a [u8],
    from: usize,
    word: &'static [u8],
) -> impl Iterator<Item = (usize, usize)> + 'a {
    let run = bytes[from..]
        .iter()
        .take_while(|b| in_sentence(**b))
        .count();
    (from..from + run).filter_map(move |i| sized_word_at(bytes, i, word))
}

/// Where a match can start and where its `tpm` / `tokens per min` prefix ends.
fn prefixes(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr2_iter(b't', b'T', bytes).filter_map(|i| {
        let tpm = word_at(bytes, i, b"tpm") && bytes.get(i + 3).is_none_or(|b| !is_word(*b));
        let long = eq_at(bytes, i, b"tokens per min");
        if tpm {
            Some(i + 3)
        } else if long {
            Some(i + 14)
        } else {
            None
        }
    })
}

/// The stated limit and requested size (digit runs, commas kept) of the leftmost match.
fn stated_sizes(text: &str) -> Option<(&str, &str)> {
    let bytes = text.as_bytes();
    prefixes(bytes).find_map(|from| {
        sized_words(bytes, from, b"limit").find_map(|(l0, l1)| {
            let (r0, r1) = sized_words(bytes, l1, b"requested").next()?;
            Some((&text[l0..l1], &text[r0..r1]))
        })
    })
}

fn count(digits: &str) -> Option<u64> {
    digits.replace(',', "").parse().ok().filter(|n| *n > 0)
}

/// Whether `text` states a per-minute token limit and a larger requested size.
pub(crate) fn requested_exceeds_stated_limit(text: &str) -> bool {
    stated_sizes(text).is_some_and(
        |(limit, requested)| match (count(limit), count(requested)) {
            (Some(limit), Some(requested)) => requested > limit,
            _ => false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn compares_stated_sizes() {
        assert!(requested_exceeds_stated_limit(
            "Request too large for gpt-4o on tokens per min (TPM): Limit 30,000, Requested 50,000."
        ));
        assert!(!requested_exceeds_stated_limit(
            "Rate limit reached on tokens per min (TPM): Limit 50000, Used 47949, Requested 3006."
        ));
        assert!(!requested_exceeds_stated_limit("Requested 5 tokens"));
        assert!(requested_exceeds_stated_limit(
            "TPM limit exceeded, Limit 30000 Used 1, requested 50,001"
        ));
        assert!(!requested_exceeds_stated_limit(
            "TPM: Limit 30000. Requested 50000"
        ));
    }

    /// OpenClaw's pattern, as the reference the scan must agree with.
    fn reference(text: &str) -> Option<(String, String)> {
        static RE: std::sync::LazyLock<Regex> = std::sync::LazyLock::new(|| {
            Regex::new(
                r"(?i-u)(?:\btpm\b|tokens per min(?:ute)?)[\t -\-/-~]*?\blimit\s+([\d,]+)[\t -\-/-~]*?\brequested\s+([\d,]+)",
            )
            .unwrap()
        });
        RE.captures(text)
            .map(|c| (c[1].to_string(), c[2].to_string()))
    }

    fn scanned(text: &str) -> Option<(String, String)> {
        stated_sizes(text).map(|(a, b)| (a.to_string(), b.to_string()))
    }

    #[test]
    fn reads_the_same_sizes_as_the_pattern() {
        for t in [
            "tokens per min (TPM): Limit 50000, Used 47949, Requested 3006.",
            "TPM limit reached; limit 1,000 requested 2,000,000 tokens",
            "tokens per minute: limitless Limit 10 Requested 11",
            "x tpm limit  \t 7 and requested 8",
            "TPM limit 5, limit\n9 requested 10",
            "xtokens per min limit 1 requested 2",
            "tpms limit 1 requested 2",
            "TPM. limit 1 requested 2",
        ] {
            assert_eq!(scanned(t), reference(t), "{t:?}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_support::proptest_cases(5_000))]
        #[test]
        fn the_scan_agrees_with_the_pattern(
            text in crate::test_support::texts_from(vec![
                "TPM", "tpm", "tokens per min", "ute", "Limit", "limit", "Requested", "requested",
                " ", "\t", "\n", ".", ",", "5", "30,000", "x", "_", ":", "(", "é", "s",
            ], 12)
        ) {
            proptest::prop_assert_eq!(scanned(&text), reference(&text), "{:?}", text);
        }
    }
}
