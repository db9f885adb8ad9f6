//! Keeping secrets out of everything that leaves the engine: state files, events, errors,
//! classification summaries, stats and `pending()`.
//!
//! Two layers: [`known_formats`] removes the common credential shapes from any text (OpenAI
//! `sk-…`/`sk-proj-…`, Anthropic `sk-ant-…`, Groq `gsk_…`, xAI `xai-…`, Google `AIza…`, GitHub
//! and Slack tokens, `Bearer …`, user info in URLs, `apiKey=…`-style pairs), and a [`Redactor`]
//! additionally removes every configured secret (gateway token and password, device key).
//! [`is_secret_key`] tells which object keys hold secrets (their values are never read).

use crate::error::EngineError;
use crate::events::{Event, EventSink};
use crate::resender::{ResendFuture, ResendRequest, Resender};
use regex::{Regex, RegexSet};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::{Arc, LazyLock};

/// What a removed secret is replaced by.
pub const REDACTED: &str = "[redacted]";

/// Secrets shorter than this are not configured secrets (too likely to match ordinary text).
const MIN_SECRET_LEN: usize = 4;

/// Credential shapes, each with its replacement; applied in order.
const FORMAT_TABLE: &[(&str, &str)] = &[
    (
        r"(?i)(?-u:\b)bearer\s+[A-Za-z0-9._~+/=\-]{4,}",
        "Bearer ***",
    ),
    (r"(?-u:\b)sk-ant-[A-Za-z0-9_\-]{3,}", "sk-ant-***"),
    (r"(?-u:\b)(sk|pk|rk)-[A-Za-z0-9_\-*.]{3,}", "$1-***"),
    (r"(?-u:\b)gsk_[A-Za-z0-9]{8,}", "gsk_***"),
    (r"(?-u:\b)xai-[A-Za-z0-9]{8,}", "xai-***"),
    (r"(?-u:\b)AIza[0-9A-Za-z_\-]{10,}", "AIza***"),
    (
        r"(?-u:\b)eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{3,}",
        "eyJ***",
    ),
    (
        r"(?-u:\b)(?:gh[pousr]|xox[abpr])[-_][A-Za-z0-9_\-]{6,}",
        "***",
    ),
    (
        r"(?i)(?-u:\b)([a-z][a-z0-9+.\-]*://)[^\s/@:]*:[^\s/@]*@",
        "$1***@",
    ),
    (
        r#"(?i)(?-u:\b)(api[_-]?key|x-api-key|access[_-]?token|auth[_-]?token|token|password|passwd|secret|authorization|key)(["']?\s*[:=]\s*["']?)(?:(?:bearer|basic)\s+)?[^\s"',&;}]+"#,
        "$1$2***",
    ),
];

/// The compiled shapes, with their replacements.
static FORMATS: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    FORMAT_TABLE
        .iter()
        .map(|(p, r)| (Regex::new(p).expect("redaction pattern must compile"), *r))
        .collect()
});

/// All shapes at once: one pass tells which (if any) need replacing.
static FORMAT_SET: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new(FORMAT_TABLE.iter().map(|(p, _)| *p)).expect("redaction set must compile")
});

/// Words a `key=value`-style secret pair can end its key with (every name in the last row of
/// [`FORMAT_TABLE`] ends with one of them).
const PAIR_KEY_ENDINGS: &[&[u8]] = &[
    b"key",
    b"token",
    b"password",
    b"passwd",
    b"secret",
    b"authorization",
];

/// Whether the `:` or `=` at `at` of ASCII `bytes` follows a secret-pair key: one of
/// [`PAIR_KEY_ENDINGS`] (any case), then an optional quote and whitespace.
fn follows_pair_key(bytes: &[u8], at: usize) -> bool {
    let mut end = at;
    while end > 0 && matches!(bytes[end - 1], b' ' | b'\t'..=b'\r') {
        end -= 1;
    }
    if end > 0 && matches!(bytes[end - 1], b'"' | b'\'') {
        end -= 1;
    }
    let before = &bytes[..end];
    // Every ending ends with `y`, `n`, `d` or `t`.
    let may_end_one = before
        .last()
        .is_some_and(|b| matches!(b | 0x20, b'y' | b'n' | b'd' | b't'));
    may_end_one
        && PAIR_KEY_ENDINGS.iter().any(|word| {
            before.len() >= word.len()
                && before[before.len() - word.len()..].eq_ignore_ascii_case(word)
        })
}

/// The bytes [`may_hold_secret`] looks around.
fn is_shape_byte(b: u8) -> bool {
    matches!(b, b'-' | b'_' | b':' | b'=' | b'I' | b'J' | b'b' | b'B')
}

/// Bit `k` set when byte `k` of `chunk` [`is_shape_byte`]: sixteen compares at once.
#[cfg(target_arch = "x86_64")]
fn shape_bits(chunk: &[u8; 16]) -> u32 {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of the x86_64 baseline; the load reads exactly `chunk`'s 16 bytes.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
        let b_any_case = _mm_cmpeq_epi8(_mm_or_si128(v, _mm_set1_epi8(0x20)), _mm_set1_epi8(0x62));
        let punct = _mm_or_si128(
            _mm_or_si128(eq(b'-'), eq(b'_')),
            _mm_or_si128(eq(b':'), eq(b'=')),
        );
        let letters = _mm_or_si128(_mm_or_si128(eq(b'I'), eq(b'J')), b_any_case);
        _mm_movemask_epi8(_mm_or_si128(punct, letters)) as u32
    }
}

/// Bit `k` set when byte `k` of `chunk` [`is_shape_byte`].
#[cfg(not(target_arch = "x86_64"))]
fn shape_bits(chunk: &[u8; 16]) -> u32 {
    chunk
        .iter()
        .enumerate()
        .fold(0, |bits, (k, &b)| bits | (u32::from(is_shape_byte(b)) << k))
}

/// Whether `text` may hold one of the shapes of [`FORMAT_TABLE`]: a cheap check that every
/// match of any shape passes, so texts without any skip the scan. Each shape has a byte this
/// looks around ([`is_shape_byte`]): the `-`/`_` of `sk-`, `pk-`, `rk-`, `gsk_`, `xai-`,
/// `gh?_`, `xox?-`; the `b` of `bearer`; the `I` of `AIza`; the `J` of `eyJ`; the `:` of `://`
/// (with an `@` after it); the `:`/`=` after a secret-pair key. Those bytes are found sixteen
/// at a time. Non-ASCII text always takes the scan (Unicode case folding, e.g. `K` for `k`).
fn may_hold_secret(text: &str) -> bool {
    if !text.is_ascii() {
        return true;
    }
    let bytes = text.as_bytes();
    let ends_with = |i: usize, s: &[u8]| i >= s.len() && &bytes[i - s.len()..i] == s;
    let one_of = |i: usize, back: usize, set: &[u8]| i >= back && set.contains(&bytes[i - back]);
    let hit = |i: usize| match bytes[i] {
        b'-' | b'_' => {
            let dash = bytes[i] == b'-';
            (dash && ends_with(i, b"k") && one_of(i, 2, b"spr"))
                || (!dash && ends_with(i, b"gsk"))
                || (dash && ends_with(i, b"xai"))
                || (one_of(i, 1, b"pousr") && ends_with(i - 1, b"gh"))
                || (one_of(i, 1, b"abpr") && ends_with(i - 1, b"xox"))
        }
        b'b' | b'B' => bytes[i..].len() >= 6 && bytes[i..i + 6].eq_ignore_ascii_case(b"bearer"),
        b'I' => ends_with(i, b"A") && bytes[i + 1..].starts_with(b"za"),
        b'J' => ends_with(i, b"ey"),
        b':' => {
            (bytes[i..].starts_with(b"://") && memchr::memchr(b'@', &bytes[i..]).is_some())
                || follows_pair_key(bytes, i)
        }
        _ => follows_pair_key(bytes, i),
    };
    let mut chunks = bytes.chunks_exact(16);
    for (n, chunk) in (&mut chunks).enumerate() {
        let mut bits = shape_bits(chunk.try_into().expect("a chunk of 16 bytes"));
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            if hit(16 * n + k) {
                return true;
            }
        }
    }
    let rest = bytes.len() - chunks.remainder().len();
    (rest..bytes.len()).any(|i| is_shape_byte(bytes[i]) && hit(i))
}

/// `text` with every known credential shape replaced (borrowed when nothing matched).
pub fn known_formats(text: &str) -> Cow<'_, str> {
    if !may_hold_secret(text) {
        return Cow::Borrowed(text);
    }
    let hits = FORMAT_SET.matches(text);
    if !hits.matched_any() {
        return Cow::Borrowed(text);
    }
    let mut out = Cow::Borrowed(text);
    for i in hits.iter() {
        let (re, rep) = &FORMATS[i];
        if let Cow::Owned(s) = re.replace_all(&out, *rep) {
            out = Cow::Owned(s);
        }
    }
    out
}

/// The longest key (UTF-8 bytes) [`is_secret_key`] can call a secret; longer keys never are.
pub const SECRET_KEY_MAX_BYTES: usize = 64;

/// Whether an object key names a secret (`apiKey`, `x-api-key`, `token`, `accessToken`,
/// `secret`, `clientSecret`, `password`, `authorization`, `cookie`, `privateKey`...).
/// Rate-limit header names such as `x-ratelimit-remaining-tokens` are not secrets.
pub fn is_secret_key(key: &str) -> bool {
    if key.len() > SECRET_KEY_MAX_BYTES {
        return false;
    }
    // The key's ASCII letters and digits, lowercased (no allocation).
    let mut buf = [0u8; SECRET_KEY_MAX_BYTES];
    let mut len = 0;
    for b in key.bytes().filter(u8::is_ascii_alphanumeric) {
        buf[len] = b.to_ascii_lowercase();
        len += 1;
    }
    let norm = &buf[..len];
    const EXACT: &[&str] = &[
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "credentials",
        "credential",
    ];
    const SUFFIXES: &[&str] = &[
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "passphrase",
        "privatekey",
        "secretkey",
        "devicekey",
    ];
    EXACT.iter().any(|e| e.as_bytes() == norm)
        || SUFFIXES.iter().any(|s| norm.ends_with(s.as_bytes()))
}

/// Removes configured secrets and known credential shapes from text and JSON.
/// Default: no configured secrets (known shapes only).
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// A redactor for these configured secrets (empty and very short ones are skipped).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .map(|s| s.as_ref().to_owned())
            .filter(|s| s.trim().len() >= MIN_SECRET_LEN)
            .collect();
        // Longest first, so a secret containing another is removed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Self { secrets }
    }

    /// Add a secret learnt later (e.g. a device key loaded on first use).
    pub fn add(&mut self, secret: &str) {
        if secret.trim().len() >= MIN_SECRET_LEN && !self.secrets.iter().any(|s| s == secret) {
            self.secrets.push(secret.to_owned());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// `text` with every configured secret replaced by `[redacted]` and every known
    /// credential shape masked.
    pub fn scrub(&self, text: &str) -> String {
        self.scrub_cow(text).into_owned()
    }

    /// Like [`Redactor::scrub`], borrowing when nothing had to change.
    pub fn scrub_cow<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
        match out {
            Cow::Borrowed(t) => known_formats(t),
            Cow::Owned(t) => Cow::Owned(known_formats(&t).into_owned()),
        }
    }

    /// Replace only the configured secrets in place: for text whose known key formats were
    /// already masked (classification summaries), so the hot path runs no regex twice.
    pub fn scrub_configured_in_place(&self, text: &mut String) {
        for s in &self.secrets {
            if text.contains(s.as_str()) {
                *text = text.replace(s.as_str(), REDACTED);
            }
        }
    }

    /// Scrub a string in place.
    pub fn scrub_in_place(&self, text: &mut String) {
        if let Cow::Owned(s) = self.scrub_cow(text) {
            *text = s;
        }
    }

    /// Scrub every string of a JSON value in place, and blank values under secret-named keys.
    pub fn scrub_value(&self, v: &mut Value) {
        match v {
            Value::String(s) => self.scrub_in_place(s),
            Value::Array(items) => items.iter_mut().for_each(|x| self.scrub_value(x)),
            Value::Object(map) => {
                for (k, x) in map.iter_mut() {
                    if is_secret_key(k) && !x.is_null() {
                        *x = Value::String(REDACTED.into());
                    } else {
                        self.scrub_value(x);
                    }
                }
            }
            _ => {}
        }
    }
}

/// An event sink that scrubs every event's text before passing it on.
pub fn scrubbing_sink(inner: EventSink, redactor: Arc<Redactor>) -> EventSink {
    Arc::new(move |mut event: Event| {
        event.scrub_text(|t| redactor.scrub_in_place(t));
        inner(event)
    })
}

/// A [`Resender`] whose errors are scrubbed (a JS callback may throw a message holding a
/// token; it becomes `last_error` in the queue and the text of `resend-failed` events).
pub struct ScrubbedResender {
    inner: Arc<dyn Resender>,
    redactor: Arc<Redactor>,
}

impl ScrubbedResender {
    /// Wrap `inner`.
    pub fn new(inner: Arc<dyn Resender>, redactor: Arc<Redactor>) -> Self {
        Self { inner, redactor }
    }
}

impl Resender for ScrubbedResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async move {
            self.inner.resend(req).await.map_err(|e| match e {
                EngineError::ResendFailed(m) => EngineError::ResendFailed(self.redactor.scrub(&m)),
                EngineError::GatewayRequest {
                    method,
                    code,
                    message,
                } => EngineError::GatewayRequest {
                    method,
                    code,
                    message: self.redactor.scrub(&message),
                },
                other => other,
            })
        })
    }

    fn prepare(&self) -> crate::resender::PrepareFuture<'_> {
        self.inner.prepare()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn known_formats_are_masked() {
        let text =
            "Incorrect API key provided: sk-proj-abcDEF123. Authorization: Bearer eyJhbGci.x.y \
             url ?key=AIzaSyA1234567890abcdef and api_key=\"hunter2\" token: ghp_abcdefghijkl \
             groq gsk_abcdefgh12345678 xai xai-abcdefgh12345678 anthropic sk-ant-api03-xyzXYZ_1 \
             proxy http://user:pa55word@proxy.local:8080/x jwt eyJhbGciOiJIUzI1NiJ9.payload.sig";
        let s = known_formats(text);
        for secret in [
            "abcDEF123",
            "eyJhbGci",
            "AIzaSyA1234567890",
            "eyJhbGciOiJIUzI1NiJ9.payload",
            "hunter2",
            "ghp_abcdefghijkl",
            "gsk_abcdefgh12345678",
            "xai-abcdefgh12345678",
            "api03-xyzXYZ_1",
            "pa55word",
        ] {
            assert!(!s.contains(secret), "{secret} leaked in {s}");
        }
        assert!(s.contains("sk-***") && s.contains("http://***@proxy.local"));
        assert!(matches!(
            known_formats("HTTP 429: slow down"),
            Cow::Borrowed(_)
        ));
    }

    proptest::proptest! {
        #![proptest_config(crate::test_support::proptest_cases(20_000))]
        /// The cheap gate never skips a text the full scan would change: texts built from
        /// pieces of every shape, their near misses and filler.
        #[test]
        fn the_gate_passes_every_text_a_shape_matches(
            text in crate::test_support::texts_from(vec![
                "Bearer ", "bEaReR\t", "abcd1234", "sk-", "pk-", "rk-", "s", "k-", "gsk_", "xai-",
                "AIza", "eyJ", "eyJhbGciOiJI.eyJz.sig", "ghp_", "gho-", "xoxb-", "xox", "://", "http", "@", ":", "=", "\"",
                "'", " ", "\n", "api_key", "x-api-key", "Token", "PASSWD", "secret", "key",
                "authorization", "basic ", ".", "-", "_", "0123456789", "é", "\u{212A}ey", "\u{b}",
                "filler words here ",
            ], 8)
        ) {
            if FORMAT_SET.is_match(&text) {
                proptest::prop_assert!(may_hold_secret(&text), "{text:?}");
            }
        }
    }

    #[test]
    fn configured_secrets_are_removed_everywhere() {
        let r = Redactor::new(["gw-token-0123456789", "", "ab"]);
        assert_eq!(
            r.scrub("bad gw-token-0123456789 and gw-token-0123456789"),
            "bad [redacted] and [redacted]"
        );
        assert_eq!(
            r.scrub("ab is too short to be a secret"),
            "ab is too short to be a secret"
        );
        let mut v = json!({"a": ["x gw-token-0123456789"], "apiKey": "k1", "n": 1, "headers": {"Authorization": "Basic Zm9v"}});
        r.scrub_value(&mut v);
        assert_eq!(
            v,
            json!({"a": ["x [redacted]"], "apiKey": "[redacted]", "n": 1, "headers": {"Authorization": "[redacted]"}})
        );
    }

    #[test]
    fn secret_keys_are_recognised_but_rate_limit_headers_are_not() {
        for k in [
            "apiKey",
            "api_key",
            "x-api-key",
            "token",
            "accessToken",
            "client_secret",
            "password",
            "Authorization",
            "cookie",
            "privateKey",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "x-ratelimit-remaining-tokens",
            "max_tokens",
            "anthropic-ratelimit-tokens-reset",
            "type",
            "message",
            "key",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
