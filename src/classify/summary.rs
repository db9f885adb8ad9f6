//! The short, secret-free `message` of a classification.

/// Longest summary, in characters.
pub(crate) const MAX_SUMMARY_CHARS: usize = 500;
/// Bytes of raw text looked at before redaction (the summary is shorter anyway).
const SCAN_BYTES: usize = 4096;

use super::ascii::is_space;
use std::borrow::Cow;

/// Removes anything that looks like a secret from `text` (see [`crate::redact`]).
#[cfg(test)]
fn redact(text: &str) -> String {
    crate::redact::known_formats(text).into_owned()
}

/// Whether `text` already leads with the status (`429 …`, `Error: 429 …`) or says `HTTP 429`.
fn mentions_status(text: &str, status: u16) -> bool {
    let mut buf = [0u8; 8];
    let code = status_digits(status, &mut buf);
    let lead = text.strip_prefix("Error: ").unwrap_or(text);
    lead.starts_with(code)
        || text
            .match_indices("HTTP ")
            .any(|(i, m)| text[i + m.len()..].starts_with(code))
}

/// The decimal digits of `status`, written into `buf` (no allocation).
fn status_digits(status: u16, buf: &mut [u8; 8]) -> &str {
    let mut n = status;
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).expect("ASCII digits")
}

/// Whether `text` is ASCII with no whitespace but single spaces between other bytes. Each
/// test is a whole-slice pass the compiler vectorises (no early exit), so a usual one-line
/// provider message is checked in a few nanoseconds per 64 bytes.
fn is_collapsed_ascii(text: &str) -> bool {
    let bytes = text.as_bytes();
    // `\t`, `\n`, `\v`, `\f`, `\r`: the ASCII whitespace that is not a space.
    let has_control_space = bytes
        .iter()
        .fold(false, |any, b| any | (b.wrapping_sub(9) < 5));
    text.is_ascii()
        && !has_control_space
        && bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
        && memchr::memmem::find(bytes, b"  ").is_none()
}

/// `text` with every whitespace run collapsed to one space and no leading or trailing
/// whitespace (what `split_whitespace().join(" ")` gives, built in one buffer). ASCII text
/// that is already collapsed (the usual one-line provider message) is copied as it is; other
/// ASCII text is copied byte by byte.
fn collapse_whitespace(text: &str) -> String {
    if is_collapsed_ascii(text) {
        return text.to_owned();
    }
    if text.is_ascii() {
        let mut out = Vec::with_capacity(text.len());
        let mut pending_space = false;
        for &b in text.as_bytes() {
            if is_space(b) {
                pending_space = !out.is_empty();
            } else {
                if pending_space {
                    out.push(b' ');
                    pending_space = false;
                }
                out.push(b);
            }
        }
        // ASCII in, ASCII out: the check cannot fail.
        return String::from_utf8(out).unwrap_or_default();
    }
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// A one-paragraph summary: `status` prefix when the text does not already start with it,
/// whitespace collapsed, secrets redacted, at most [`MAX_SUMMARY_CHARS`] characters.
pub(crate) fn summarise(status: Option<u16>, text: &str) -> String {
    let mut end = text.len().min(SCAN_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut body = collapse_whitespace(&text[..end]);
    if let Cow::Owned(redacted) = crate::redact::known_formats(&body) {
        body = redacted;
    }
    if let Some(s) = status.filter(|s| !mentions_status(&body, *s)) {
        body = if body.is_empty() {
            format!("HTTP {s}")
        } else {
            format!("HTTP {s}: {body}")
        };
    }
    // Fewer bytes than the limit means fewer characters too.
    if body.len() <= MAX_SUMMARY_CHARS || body.chars().count() <= MAX_SUMMARY_CHARS {
        return body;
    }
    let mut out: String = body.chars().take(MAX_SUMMARY_CHARS - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_shapes() {
        let s = redact(
            "Incorrect API key provided: sk-proj-abcDEF123. Authorization: Bearer eyJhbGci.x.y \
             url ?key=AIzaSyA1234567890abcdef and api_key=\"hunter2\" token: ghp_abcdefghijkl",
        );
        for secret in [
            "abcDEF123",
            "eyJhbGci",
            "AIzaSyA1234567890",
            "hunter2",
            "ghp_abcdefghijkl",
        ] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert!(s.contains("sk-***"));
    }

    #[test]
    fn summary_prefixes_status_and_truncates() {
        assert_eq!(summarise(Some(502), "Bad Gateway"), "HTTP 502: Bad Gateway");
        assert_eq!(summarise(Some(429), "429 Too Many"), "429 Too Many");
        assert_eq!(summarise(Some(500), ""), "HTTP 500");
        assert_eq!(
            summarise(Some(429), "you requested 14290 tokens"),
            "HTTP 429: you requested 14290 tokens"
        );
        assert_eq!(
            summarise(Some(429), "Error: 429 Too Many"),
            "Error: 429 Too Many"
        );
        for messy in ["  a \t b\n", "a\u{a0}b", "a\x0bb", "a  b", " a", "a "] {
            let want = messy.split_whitespace().collect::<Vec<_>>().join(" ");
            assert_eq!(collapse_whitespace(messy), want, "{messy:?}");
        }
        assert_eq!(collapse_whitespace("one line, as is"), "one line, as is");
        let long = "x ".repeat(5_000);
        let s = summarise(None, &long);
        assert_eq!(s.chars().count(), MAX_SUMMARY_CHARS);
        assert!(s.ends_with('…'));
    }

    proptest::proptest! {
        #[test]
        fn collapses_as_split_whitespace_does(text in "[ a\t\n\r\x0b\x0c\u{a0}é]{0,12}") {
            let want = text.split_whitespace().collect::<Vec<_>>().join(" ");
            proptest::prop_assert_eq!(&collapse_whitespace(&text), &want);
            proptest::prop_assert_eq!(is_collapsed_ascii(&text), text.is_ascii() && want == text);
        }

        #[test]
        fn collapses_ascii_as_split_whitespace_does(text in "[ a\t\n\r\x0b\x0c\x1c\x08.]{0,70}") {
            let want = text.split_whitespace().collect::<Vec<_>>().join(" ");
            proptest::prop_assert_eq!(&collapse_whitespace(&text), &want);
            proptest::prop_assert_eq!(is_collapsed_ascii(&text), want == text);
        }
    }
}
