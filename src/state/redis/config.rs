//! [`RedisConfig`]: where the shared coordination state lives and how it is used.

use crate::error::{EngineError, EngineResult};

/// Default prefix of every key and channel the engine uses.
pub const DEFAULT_KEY_PREFIX: &str = "openclaw-retry-engine:";

/// The Redis backend of the coordination state (`state.redis` option).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://[user[:password]@]host[:port][/db]`, `rediss://…` (TLS) or
    /// `redis+unix:///path/to/redis.sock`. Required. Never logged: see [`RedisConfig::redacted_url`].
    pub url: String,
    /// Prefix of every key and channel, so several fleets can share one Redis.
    /// Default [`DEFAULT_KEY_PREFIX`].
    pub key_prefix: String,
    /// Lifetime of a probe lease; the holder renews it every third of it while the probe is
    /// out, so a dead holder is replaced within this time. Default 15 000 ms.
    pub lease_ttl_ms: i64,
    /// Polled fallback: how often an engine waiting on another's probe re-reads the group, and
    /// how often a degraded engine tries Redis again. Default 1 000 ms.
    pub poll_ms: i64,
    /// Longest wait for one Redis call before the engine decides locally (degraded).
    /// Default 1 000 ms.
    pub timeout_ms: i64,
    /// How long a group's outcome is kept in Redis. Default 86 400 000 ms (24 h).
    pub outcome_ttl_ms: i64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
            lease_ttl_ms: 15_000,
            poll_ms: 1_000,
            timeout_ms: 1_000,
            outcome_ttl_ms: 86_400_000,
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("lease_ttl_ms", &self.lease_ttl_ms)
            .field("poll_ms", &self.poll_ms)
            .field("timeout_ms", &self.timeout_ms)
            .field("outcome_ttl_ms", &self.outcome_ttl_ms)
            .finish()
    }
}

impl RedisConfig {
    /// The URL with any password replaced by `***` (user names stay), safe for messages.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// `text` with the URL's password (raw and percent-decoded) replaced by `***`: for error
    /// messages from the Redis client, which may quote what it was given.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.url, &self.redacted_url());
        if let Some(pw) = password_of(&self.url) {
            for secret in [pw.clone(), percent_decode(&pw)] {
                if !secret.is_empty() {
                    out = out.replace(&secret, "***");
                }
            }
        }
        out
    }

    /// Check the URL (scheme, syntax); errors name `state.redis.url` and never show a password.
    pub fn validate(&self) -> EngineResult<()> {
        let scheme_ok = ["redis://", "rediss://", "redis+unix://", "unix://"]
            .iter()
            .any(|s| self.url.starts_with(s));
        if !scheme_ok {
            return Err(EngineError::option(
                "state.redis.url",
                format!(
                    "expected a redis://, rediss://, redis+unix:// or unix:// URL, got {}",
                    self.redacted_url()
                ),
            ));
        }
        if let Err(e) = redis::Client::open(self.url.as_str()) {
            return Err(EngineError::option(
                "state.redis.url",
                format!(
                    "{} is not a usable Redis URL ({})",
                    self.redacted_url(),
                    self.scrub(&e.to_string())
                ),
            ));
        }
        Ok(())
    }
}

/// `scheme://user:secret@host…` → `scheme://user:***@host…`; a URL without a password is kept.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return "(unparsable URL)".to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_string();
    };
    let userinfo = &authority[..at];
    let user = match userinfo.find(':') {
        Some(colon) => &userinfo[..colon],
        None if userinfo.is_empty() => "",
        // `redis://secret@host`: Redis treats a lone user-info as the password.
        None => "",
    };
    format!("{}{}:***@{}", &url[..scheme_end], user, &rest[at + 1..])
}

/// The password part of a URL's user-info, if any (as written, percent-encoded).
fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(match userinfo.find(':') {
        Some(colon) => userinfo[colon + 1..].to_string(),
        None => userinfo.to_string(),
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive_redaction() {
        for (url, want) in [
            ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
            ("redis://:hunter2@h:1/0", "redis://:***@h:1/0"),
            ("rediss://alice:hunter2@h/2", "rediss://alice:***@h/2"),
            ("redis://hunter2@h", "redis://:***@h"),
            ("redis://a:p%40ss@h?x=1", "redis://a:***@h?x=1"),
            ("redis+unix:///tmp/r.sock", "redis+unix:///tmp/r.sock"),
            ("nonsense", "(unparsable URL)"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
        let cfg = RedisConfig {
            url: "redis://bob:s3cret@h".into(),
            ..RedisConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("s3cret"));
        let cfg = RedisConfig {
            url: "redis://bob:p%40ss@h".into(),
            ..RedisConfig::default()
        };
        let msg = cfg.scrub("failed redis://bob:p%40ss@h: auth p@ss rejected");
        assert_eq!(msg, "failed redis://bob:***@h: auth *** rejected");
    }

    #[test]
    fn validation_names_the_field_without_the_password() {
        let bad = RedisConfig {
            url: "http://u:topsecret@h".into(),
            ..RedisConfig::default()
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("state.redis.url"), "{e}");
        assert!(!e.to_string().contains("topsecret"), "{e}");
        let ok = RedisConfig {
            url: "redis+unix:///tmp/x.sock".into(),
            ..RedisConfig::default()
        };
        ok.validate().unwrap();
    }
}
