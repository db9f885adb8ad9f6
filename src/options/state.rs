//! The `state` option: `{ redis: { url, keyPrefix, leaseTtlMs, pollMs, timeoutMs } }`.

use super::reader::OptionReader;
use crate::error::{EngineError, EngineResult};
use crate::state::redis::RedisConfig;
use crate::state::StateConfig;

/// Read `state`. The Redis URL is required when `state.redis` is given; error messages never
/// repeat it (it may hold a password).
pub fn read_state(r: &OptionReader<'_>) -> EngineResult<StateConfig> {
    r.deny_unknown(&["redis"])?;
    let mut path = String::new();
    let redis = r.object("redis", &mut path)?;
    if r.raw("redis").is_none() {
        return Ok(StateConfig::default());
    }
    redis.deny_unknown(&["url", "keyPrefix", "leaseTtlMs", "pollMs", "timeoutMs"])?;
    let mut c = RedisConfig {
        url: redis
            .string("url")?
            .ok_or_else(|| EngineError::option(redis.child_path("url"), "is required"))?,
        ..RedisConfig::default()
    };
    if let Some(p) = redis.string("keyPrefix")? {
        c.key_prefix = p;
    }
    if let Some(v) = redis.int("leaseTtlMs", 100, 3_600_000)? {
        c.lease_ttl_ms = v;
    }
    if let Some(v) = redis.int("pollMs", 10, 600_000)? {
        c.poll_ms = v;
    }
    if let Some(v) = redis.int("timeoutMs", 10, 600_000)? {
        c.timeout_ms = v;
    }
    c.validate()?;
    Ok(StateConfig { redis: Some(c) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(v: serde_json::Value) -> EngineResult<StateConfig> {
        read_state(&OptionReader::new("state", Some(&v))?)
    }

    #[test]
    fn redis_is_opt_in_and_checked_without_echoing_secrets() {
        assert_eq!(read(json!({})).unwrap(), StateConfig::default());
        let c = read(
            json!({"redis": {"url": "rediss://u:pw@h:6380/1", "keyPrefix": "p:",
            "leaseTtlMs": 2000, "pollMs": 100, "timeoutMs": 300}}),
        )
        .unwrap()
        .redis
        .unwrap();
        assert_eq!(
            (
                c.key_prefix.as_str(),
                c.lease_ttl_ms,
                c.poll_ms,
                c.timeout_ms
            ),
            ("p:", 2000, 100, 300)
        );
        for (bad, field) in [
            (json!({"redis": {}}), "state.redis.url"),
            (json!({"redis": {"url": 5}}), "state.redis.url"),
            (
                json!({"redis": {"url": "http://u:hunter2@h"}}),
                "state.redis.url",
            ),
            (
                json!({"redis": {"url": "redis://h", "pollMs": 0}}),
                "state.redis.pollMs",
            ),
            (
                json!({"redis": {"url": "redis://h", "nope": 1}}),
                "state.redis.nope",
            ),
            (json!({"redis": "redis://h"}), "state.redis"),
            (json!({"file": {}}), "state.file"),
        ] {
            let e = read(bad).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_OPTION");
            let text = e.to_string();
            assert!(text.contains(&format!("`{field}`")), "{field}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
    }
}
