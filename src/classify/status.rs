//! HTTP status codes: finding one in prose (only in status-like contexts, so "14290 tokens" or
//! "the 429 project" never count) and the reason a bare status implies.

use crate::reason::Reason;
use regex::Regex;
use std::sync::LazyLock;

/// Status-like contexts: `HTTP 429`, `HTTP/1.1 503`, `status 429`, `status code: 429`,
/// `Error code: 429`, `"code": 429`, `429 Too Many Requests` (and other reason phrases), a
/// leading `429 {…}` (Anthropic/OpenAI SDK messages), `failed (500)`.
static STATUS_IN_TEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?im)(?:(?-u:\b)http(?:/[\d.]+)?\s*(?:status\s*)?(?:code\s*)?[:=]?\s*",
        r#"|(?-u:\b)status(?:[ _]?code)?["']?\s*[:=]?\s*"#,
        r"|(?-u:\b)error\s+code\s*[:=]?\s*",
        r#"|["']code["']\s*[:=]\s*)"#,
        r"([1-5]\d\d)(?-u:\b)",
        r"|^\s*(?:error:?\s*)?([1-5]\d\d)\s*(?:[{\[(-]|$)",
        r"|\(\s*([1-5]\d\d)\s*\)",
        r"|(?-u:\b)([1-5]\d\d)\s+(?:too many requests|unauthorized|forbidden|not found|payment required|request timeout|bad request|internal server error|bad gateway|service unavailable|gateway timeout|overloaded|unprocessable)(?-u:\b)",
    ))
    .expect("status pattern must compile")
});

/// The first HTTP status found in a status-like context of `text`.
pub(crate) fn status_in_text(text: &str) -> Option<u16> {
    STATUS_IN_TEXT.captures_iter(text).find_map(|c| {
        c.iter()
            .skip(1)
            .flatten()
            .next()
            .and_then(|m| m.as_str().parse().ok())
    })
}

/// The reason a status implies when no pattern matched; `None` for statuses below 400.
pub(crate) fn reason_for_status(status: u16) -> Option<Reason> {
    Some(match status {
        0..=399 => return None,
        400 | 413 | 415 | 422 => Reason::Format,
        401 => Reason::Auth,
        402 => Reason::Billing,
        403 => Reason::AuthPermanent,
        404 => Reason::ModelNotFound,
        408 => Reason::Timeout,
        429 => Reason::RateLimit,
        529 => Reason::Overloaded,
        500..=599 => Reason::ServerError,
        _ => Reason::Unknown,
    })
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

    #[test]
    fn status_reasons() {
        assert_eq!(reason_for_status(200), None);
        assert_eq!(reason_for_status(429), Some(Reason::RateLimit));
        assert_eq!(reason_for_status(402), Some(Reason::Billing));
        assert_eq!(reason_for_status(504), Some(Reason::ServerError));
        assert_eq!(reason_for_status(529), Some(Reason::Overloaded));
        assert_eq!(reason_for_status(418), Some(Reason::Unknown));
    }
}
