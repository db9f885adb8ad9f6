//! Recognises error copy that OpenClaw or a bot surfaced into an outgoing chat message
//! ("⚠️ LLM request failed (rate limited, HTTP 429)…", "API rate limit reached. Please try again
//! later.", "Error: 429 Too Many Requests").
//!
//! Deliberately conservative, because a false positive suppresses a real reply: the message must
//! be short, start with an error head, contain no question, code block or explanatory phrasing,
//! and name a failure cause (checked by the caller with the classifier's own patterns).

use regex::Regex;
use std::sync::LazyLock;

/// Longest message that can still be a surfaced error line, in characters.
pub(crate) const MAX_SURFACED_CHARS: usize = 400;
/// Most non-empty lines a surfaced error can have.
const MAX_SURFACED_LINES: usize = 4;

/// The error head a surfaced message starts with: an optional warning emoji, then an error
/// marker or a canonical error phrase.
static HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)^(?:(?:⚠️|⚠|❌|🚫|⛔|🛑|❗|‼️|🔴)\s*)?(?:\*\*)?(?:",
        r"error\s*(?:\*\*)?\s*(?:[:\-—–]|\d{3}(?-u:\b))|\[error\]",
        r"|(?:",
        r"llm request failed|(?:the )?request failed|api (?:request )?(?:error|failed)",
        r"|agent (?:run )?failed|run failed|provider error|model error|failed to (?:get|generate) (?:a )?(?:response|reply)",
        r"|(?:api )?rate[ -]limit(?:ed| reached| exceeded| hit)|(?:\d{3} )?too many requests",
        r"|(?:the )?(?:ai |llm |model )?(?:service|provider|model) is (?:temporarily )?(?:overloaded|unavailable)",
        r"|service (?:temporarily )?unavailable|overloaded|quota exceeded|usage limit reached|request timed out|connection error",
        r"|the model request (?:was rate[ -]limited|failed|timed out)|you(?:'ve| have)? exceeded your (?:current )?quota",
        r")(?:\*\*)?\s*(?:[.!:,(—–\-]|$))",
        // OpenClaw's own copy: "⚠️ <provider> (<model>) returned a billing error — ...".
        r"|^(?:⚠️|⚠)\s*[^\n]{1,80}? returned an? (?:billing|auth(?:entication)?|rate[ -]limit|quota|overload(?:ed)?|server|provider|api) error(?:\s*(?:[.!:,(—–\-]|$))",
    ))
    .expect("surfaced head pattern must compile")
});

/// Phrasing that belongs to explanations and ordinary replies, never to an error line.
static EXPLANATORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?-u:\b)(?:how to|here(?:'s| is| are)|you (?:can|could|might|may|need to|should)|to (?:handle|avoid|fix|prevent|deal with)",
        r"|for example|e\.g\.|means|because|why|when you|if you|tips?|best practices?|strateg\w*|implement\w*|exponential|explain\w*)(?-u:\b)",
    ))
    .expect("explanatory pattern must compile")
});

/// Whether `text` has the shape of a surfaced error line (head, short, no explanation). The
/// caller still requires a recognised failure cause.
pub(crate) fn has_surfaced_shape(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() || t.chars().count() > MAX_SURFACED_CHARS {
        return false;
    }
    if t.lines().filter(|l| !l.trim().is_empty()).count() > MAX_SURFACED_LINES {
        return false;
    }
    if t.contains('?') || t.contains("```") {
        return false;
    }
    HEAD.is_match(t) && !EXPLANATORY.is_match(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_of_error_lines() {
        for t in [
            "⚠️ LLM request failed (rate limited, HTTP 429). This is usually temporary — try again shortly.",
            "API rate limit reached. Please try again later.",
            "Error: 429 Too Many Requests",
            "❌ Request failed: overloaded_error",
            "LLM request failed.\n\nRequest timed out before a response was generated. Please try again, or increase `agents.defaults.timeoutSeconds` in your config.",
            // Copy read off a real OpenClaw 2026.9.6 gateway.
            "⚠️ The model request was rate-limited. Please try again in a few minutes.",
            "⚠️ fake (fake-model) returned a billing error — check your provider account.",
            "⚠️ You exceeded your current quota: daily usage limit reached.",
        ] {
            assert!(has_surfaced_shape(t), "{t}");
        }
    }

    #[test]
    fn ordinary_replies_have_no_error_shape() {
        for t in [
            "Here is how to handle API rate limits: back off when you get HTTP 429 and read the Retry-After header.",
            "Rate limit exceeded errors happen when you send too many requests; you can fix them with backoff.",
            "Error handling in Rust uses Result. For example: fn f() -> Result<(), E>.",
            "Error: why do I get 429?",
            "Sure! The API returned 429 yesterday.",
            "Error handling is tricky with rate limits.",
            "Overloaded servers are a common problem with rate limits.",
            "Rate limited APIs return 429 Too Many Requests.",
            "> Error: 429 Too Many Requests",
            "",
        ] {
            assert!(!has_surfaced_shape(t), "{t}");
        }
        assert!(!has_surfaced_shape(&format!(
            "Error: rate limit {}",
            "x".repeat(500)
        )));
    }
}
