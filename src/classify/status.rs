//! HTTP status codes: finding one in prose (only in status-like contexts, so "14290 tokens" or
//! "the 429 project" never count) and the reason a bare status implies.

use super::ascii::{eq_at, is_space, is_word, skip_space};
use crate::reason::Reason;
use regex::Regex;
use std::sync::LazyLock;

/// Status-like contexts: `HTTP 429`, `HTTP/1.1 503`, `http_status=429`, `status 429`,
/// `status code: 429`, `status-code 429`, `response_code=429`, `code: 402` / `error 402` (402 only),
/// `Error code: 429`, `"code": 429`, `429 Too Many Requests` (and other reason phrases), a
/// leading `429 {…}` (Anthropic/OpenAI SDK messages), `failed (500)`.
pub(crate) const STATUS_CONTEXT_PATTERN: &str = concat!(
    r"(?im-u)(?:(?-u:\b)http(?:/[\d.]+)?\s*(?:[_-]?status\s*)?(?:[_-]?code\s*)?[:=]?\s*",
    r#"|(?-u:\b)(?:status(?:[ _-]?code)?|response[ _-]?code)["']?\s*[:=]?\s*"#,
    r"|(?-u:\b)error\s+code\s*[:=]?\s*",
    r#"|["']code["']\s*[:=]\s*)"#,
    r"([1-5]\d\d)(?-u:\b)",
    r"|^\s*(?:error:?\s*)?([1-5]\d\d)\s*(?:[{\[(-]|$)",
    // A payment status as OpenClaw's 402 markers write it: `code: 402`, `error 402`.
    r"|(?-u:\b)(?:code\s*[:=]|error\s*[:=]?)\s*(402)(?-u:\b)",
    r"|\(\s*([1-5]\d\d)\s*\)",
    r"|(?-u:\b)([1-5]\d\d)\s+status code(?-u:\b)",
    r"|(?-u:\b)(?:api\s*error|returned|received|got)\s*(?:an?\s+)?\(?([1-5]\d\d)(?-u:\b)",
    r"|(?-u:\b)([1-5]\d\d)\s+(?:too many requests|unauthorized|forbidden|not found|payment required|request timeout|bad request|internal server error|bad gateway|service unavailable|gateway timeout|overloaded|unprocessable)(?-u:\b)",
);

/// [`STATUS_CONTEXT_PATTERN`], compiled.
static STATUS_IN_TEXT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(STATUS_CONTEXT_PATTERN).expect("status pattern must compile"));

/// Whether `text` has a status-shaped number in a place one of [`STATUS_IN_TEXT`]'s contexts
/// could hold it: a cheap one-pass prefilter that every match passes (a property test holds
/// it so), so the pattern runs only when it may find something. (The classifier's own scan
/// carries the pattern itself in its rule automaton; this serves texts it does not scan.)
/// A candidate is a digit 1–5 and two more digits, not followed by a word byte (every context
/// ends its number so), with around it one of: a `)`, `{`, `[`, `(`, `-`, line end or text end
/// after it (`(500)`, `429 {…}`); a reason phrase after it (`502 bad gateway`); or a context
/// word before it (`http`, `status`, `code` with or without a `:`/`=`; `returned`,
/// `received`, `got`, `a`, `an` without one; `error` before a `402`, or before any status
/// after `api`; an `http/1.1` version).
fn has_status_shaped_number(text: &str) -> bool {
    let bytes = text.as_bytes();
    // A candidate is the last three digits of a run of digits (a word byte may not follow
    // it), so only the ends of digit runs are looked at.
    let mut from = 0;
    while let Some(start) = bytes[from..].iter().position(u8::is_ascii_digit) {
        let start = from + start;
        let end = bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |n| start + n);
        let candidate = end - start >= 3
            && (b'1'..=b'5').contains(&bytes[end - 3])
            && bytes.get(end).is_none_or(|b| !is_word(*b));
        if candidate && (context_after(bytes, end) || context_before(bytes, end - 3)) {
            return true;
        }
        from = end;
    }
    false
}

/// The reason phrases [`STATUS_IN_TEXT`] reads after a status (and `status code`).
const PHRASES_AFTER: &[&[u8]] = &[
    b"status code",
    b"too many requests",
    b"unauthorized",
    b"forbidden",
    b"not found",
    b"payment required",
    b"request timeout",
    b"bad request",
    b"internal server error",
    b"bad gateway",
    b"service unavailable",
    b"gateway timeout",
    b"overloaded",
    b"unprocessable",
];

/// Whether what follows a status ending at `end` may close one of the contexts.
fn context_after(bytes: &[u8], end: usize) -> bool {
    let at = skip_space(bytes, end);
    if bytes[end..at].contains(&b'\n') {
        return true; // a line end (multi-line `$`)
    }
    match bytes.get(at) {
        None => true,
        Some(b')' | b'{' | b'[' | b'(' | b'-' | b'\n') => true,
        Some(_) => at > end && PHRASES_AFTER.iter().any(|p| eq_at(bytes, at, p)),
    }
}

/// Whether what precedes a status starting at `start` may open one of the contexts.
fn context_before(bytes: &[u8], start: usize) -> bool {
    let back_space = |mut j: usize| {
        while j > 0 && is_space(bytes[j - 1]) {
            j -= 1;
        }
        j
    };
    let mut j = back_space(start);
    if j > 0 && bytes[j - 1] == b'(' {
        j = back_space(j - 1);
    }
    let separated = j > 0 && matches!(bytes[j - 1], b':' | b'=');
    if separated {
        j = back_space(j - 1);
    }
    if j > 0 && matches!(bytes[j - 1], b'"' | b'\'') {
        j -= 1;
    }
    // `http/1.1`: digits and dots after a `/`.
    let mut v = j;
    while v > 0 && (bytes[v - 1].is_ascii_digit() || bytes[v - 1] == b'.') {
        v -= 1;
    }
    if v < j && v > 0 && bytes[v - 1] == b'/' {
        return true;
    }
    let ends_with = |at: usize, word: &[u8]| {
        at >= word.len() && bytes[at - word.len()..at].eq_ignore_ascii_case(word)
    };
    let stated: &[&[u8]] = &[b"http", b"status", b"code"];
    let worded: &[&[u8]] = &[b"returned", b"received", b"got", b"a", b"an"];
    // `error` opens a context for a 402 (`error: 402`, `error 402`), or for any status
    // after `api` (`API error 429`); so `Error: 429 Rate limit…` needs no pattern run.
    let after_error = ends_with(j, b"error")
        && (&bytes[start..start + 3] == b"402"
            || (!separated && ends_with(back_space(j - 5), b"api")));
    stated.iter().any(|w| ends_with(j, w))
        || after_error
        || (!separated && worded.iter().any(|w| ends_with(j, w)))
}

/// Whether `w` (three bytes) is `[1-5]\d\d`.
fn is_status_digits(w: &[u8]) -> bool {
    (b'1'..=b'5').contains(&w[0]) && w[1].is_ascii_digit() && w[2].is_ascii_digit()
}

/// The first HTTP status found in a status-like context of `text`.
pub(crate) fn status_in_text(text: &str) -> Option<u16> {
    if !has_status_shaped_number(text) {
        return None;
    }
    status_in_context(text)
}

/// The first HTTP status in a status-like context of `text`, for a caller that already knows
/// [`STATUS_CONTEXT_PATTERN`] matches somewhere in it (or wants the pattern run regardless).
pub(crate) fn status_in_context(text: &str) -> Option<u16> {
    STATUS_IN_TEXT.captures_iter(text).find_map(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| m.as_str().parse().ok())
    })
}

/// A status at the very start of a message: `429 temporary provider response`, `HTTP 503:`,
/// `Error: 500 …`, a bare `410` — what `(?i)^\s*(?:error:?\s*)?(?:http\s*)?([1-5]\d\d)(?:\s*:|\s|$)`
/// matches (ASCII `\s`), read by a direct scan: every part of that pattern is taken greedily
/// or not at all (a test holds the two equal). The caller decides whether a bare leading
/// `402` counts (only with a billing or rate-limit wording: "402 items found" is not a status).
pub(crate) fn leading_status(text: &str) -> Option<u16> {
    let bytes = text.as_bytes();
    let mut i = skip_space(bytes, 0);
    if eq_at(bytes, i, b"error") {
        i += 5;
        if bytes.get(i) == Some(&b':') {
            i += 1;
        }
        i = skip_space(bytes, i);
    }
    if eq_at(bytes, i, b"http") {
        i = skip_space(bytes, i + 4);
    }
    let is_status = bytes.get(i..i + 3).is_some_and(is_status_digits)
        && bytes.get(i + 3).is_none_or(|b| is_space(*b) || *b == b':');
    is_status.then(|| text[i..i + 3].parse().ok()).flatten()
}

/// What a status means: its default reason, and the text reasons that may refine it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusRow {
    /// The reason when the text says nothing the row allows.
    pub default: Reason,
    /// Text reasons that win over the default under this status.
    pub refined_by: &'static [Reason],
}

use Reason::*;

/// Every reason but the transient ones a 4xx cannot mean.
const CLIENT_REFINEMENTS: &[Reason] = &[
    RateLimit,
    Quota,
    Billing,
    Auth,
    AuthPermanent,
    Overloaded,
    Format,
    ContextOverflow,
    ModelNotFound,
];
const ALL_REFINEMENTS: &[Reason] = &[
    RateLimit,
    Quota,
    Billing,
    Auth,
    AuthPermanent,
    Overloaded,
    ServerError,
    Timeout,
    Network,
    Format,
    ContextOverflow,
    ModelNotFound,
];

/// The row for `status` (OpenClaw's `classifyFailoverClassificationFromHttpStatus`, with our
/// `quota` split); `None` below 400.
pub(crate) fn status_row(status: u16) -> Option<StatusRow> {
    let row = |default, refined_by| {
        Some(StatusRow {
            default,
            refined_by,
        })
    };
    match status {
        0..=399 => None,
        400 | 422 => row(Format, CLIENT_REFINEMENTS),
        401 | 407 => row(Auth, &[AuthPermanent, Billing]),
        402 => row(Billing, &[RateLimit, Quota]),
        403 => row(AuthPermanent, &[Auth, Billing]),
        404 => row(
            ModelNotFound,
            &[Billing, Auth, AuthPermanent, Format, ContextOverflow],
        ),
        408 => row(Timeout, &[]),
        410 => row(
            Timeout,
            &[Billing, Auth, AuthPermanent, ModelNotFound, Format],
        ),
        // A 413 worded as a tokens-per-minute limit the request fits in is a rate limit.
        413 => row(ContextOverflow, &[RateLimit, Format]),
        415 => row(Format, CLIENT_REFINEMENTS),
        429 => row(RateLimit, &[Quota, Billing, ContextOverflow]),
        499 => row(Timeout, &[Overloaded, Format, ContextOverflow]),
        529 => row(Overloaded, &[ContextOverflow, Format]),
        500..=599 => row(
            ServerError,
            &[
                Overloaded,
                ServerError,
                Timeout,
                Network,
                Format,
                ContextOverflow,
            ],
        ),
        _ => row(Unknown, ALL_REFINEMENTS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_status_in_status_like_contexts() {
        let cases = [
            ("HTTP 429", 429),
            ("(rate limited, HTTP 429).", 429),
            ("HTTP/1.1 503 Service Unavailable", 503),
            ("status 429", 429),
            ("Status code: 401", 401),
            ("Error code: 503", 503),
            ("Error code: 429 - {'error': {}}", 429),
            ("{\"code\": 429, \"message\": \"x\"}", 429),
            ("429 {\"type\":\"error\"}", 429),
            ("Error: 429 Too Many Requests", 429),
            ("got 502 bad gateway from upstream", 502),
            ("LLM request failed (500)", 500),
            ("statusCode=404", 404),
        ];
        for (text, want) in cases {
            assert_eq!(status_in_text(text), Some(want), "{text}");
        }
    }

    #[test]
    fn ignores_numbers_that_are_not_statuses() {
        for text in [
            "you requested 14290 tokens",
            "The budget for the 429 project is $4,290",
            "the team has used 429 tokens",
            "Limit 50000, Used 47949, Requested 3006",
            "port 4290",
            "error 4291",
        ] {
            assert_eq!(status_in_text(text), None, "{text}");
        }
    }

    proptest::proptest! {
        #![proptest_config(crate::test_support::proptest_cases(20_000))]
        /// The prefilter never hides a status the full pattern would find.
        #[test]
        fn the_prefilter_passes_every_text_the_pattern_matches(
            text in crate::test_support::texts_from(vec![
                "HTTP", "http/1.1", " ", "\n", ":", "=", "status", "_code", "code", "error",
                "Error:", "\"code\"", "'", "(", ")", "{", "[", "-", "429", "5", "03", "6", "0",
                "x", "_", "returned", "got an", "api error", "too many requests", "overloaded",
                "status code", ".", "1", "received", "got", " a ", "an", "\r", "bad gateway",
                "Status_Code", "\t", "API Error", "Returned", "not found", "é",
                "402", "response_code", "http_status", "status-code", "error:", "code=",
            ], 8)
        ) {
            if STATUS_IN_TEXT.is_match(&text) {
                proptest::prop_assert!(has_status_shaped_number(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn status_rows() {
        let default = |s| status_row(s).map(|r| r.default);
        assert_eq!(default(200), None);
        assert_eq!(default(429), Some(Reason::RateLimit));
        assert_eq!(default(402), Some(Reason::Billing));
        assert_eq!(default(504), Some(Reason::ServerError));
        assert_eq!(default(529), Some(Reason::Overloaded));
        assert_eq!(default(418), Some(Reason::Unknown));
        assert!(status_row(429)
            .unwrap()
            .refined_by
            .contains(&Reason::Billing));
        assert!(!status_row(503)
            .unwrap()
            .refined_by
            .contains(&Reason::Billing));
    }

    #[test]
    fn leading_statuses() {
        assert_eq!(leading_status("429 temporary provider response"), Some(429));
        assert_eq!(leading_status("HTTP 503: x"), Some(503));
        assert_eq!(leading_status("Error: 500 boom"), Some(500));
        assert_eq!(leading_status("410"), Some(410));
        assert_eq!(leading_status("4290 tokens"), None);
        assert_eq!(leading_status("Book a 402 room"), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::test_support::proptest_cases(5_000))]
        /// The scan finds what the pattern it stands for finds.
        #[test]
        fn leading_status_scan_is_the_pattern(
            text in crate::test_support::texts_from(vec![
                " ", "\t", "\n", "error", "Error", "ERROR:", ":", "http", "HTTP", "Http/1.1",
                "429", "4", "29", "600", "099", "500", "x", "_", "0", "é", "{", "-",
            ], 6)
        ) {
            static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
                Regex::new(r"(?i-u)^\s*(?:error:?\s*)?(?:http\s*)?([1-5]\d\d)(?:\s*:|\s|$)").unwrap()
            });
            let want = PATTERN.captures(&text).and_then(|c| c[1].parse().ok());
            proptest::prop_assert_eq!(leading_status(&text), want, "{:?}", text);
        }
    }
}
