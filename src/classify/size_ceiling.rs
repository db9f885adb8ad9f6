//! OpenAI's "Request too large" shape: a tokens-per-minute error whose stated request is bigger
//! than the stated limit can never succeed by waiting, so it is not a rate limit.

use regex::Regex;
use std::sync::LazyLock;

/// `… tokens per min (TPM): Limit 30000, Requested 50000` (OpenClaw's `STATED_TOKEN_SIZES_RE`),
/// within one sentence of printable ASCII.
static STATED_TOKEN_SIZES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i-u)(?:\btpm\b|tokens per min(?:ute)?)[\t -\-/-~]*?\blimit\s+([\d,]+)[\t -\-/-~]*?\brequested\s+([\d,]+)",
    )
    .expect("stated token sizes pattern must compile")
});

fn count(digits: &str) -> Option<u64> {
    digits.replace(',', "").parse().ok().filter(|n| *n > 0)
}

/// Whether `text` states a per-minute token limit and a larger requested size.
pub(crate) fn requested_exceeds_stated_limit(text: &str) -> bool {
    STATED_TOKEN_SIZES
        .captures(text)
        .is_some_and(|c| match (count(&c[1]), count(&c[2])) {
            (Some(limit), Some(requested)) => requested > limit,
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_stated_sizes() {
        assert!(requested_exceeds_stated_limit(
            "Request too large for gpt-4o on tokens per min (TPM): Limit 30,000, Requested 50,000."
        ));
        assert!(!requested_exceeds_stated_limit(
            "Rate limit reached on tokens per min (TPM): Limit 50000, Used 47949, Requested 3006."
        ));
        assert!(!requested_exceeds_stated_limit("Requested 5 tokens"));
    }
}
