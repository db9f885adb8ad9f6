//! The Lua scripts behind every shared transition. Each runs atomically inside Redis, so two
//! engines can never both win a lease or overwrite a newer outcome with an older one.
//!
//! Keys (under the configured prefix): `lease:<group>` holds the prober's engine id with a
//! Redis-side expiry (`SET NX PX`, so leases do not depend on the engines' clocks);
//! `group:<group>` is a hash `{outcome, at_ms, retry_at_ms, by}` with the latest probe outcome.

use redis::Script;
use std::sync::LazyLock;

/// Claim a group's probe.
///
/// KEYS: lease, group. ARGV: engine id, lease TTL ms, since ms, now ms.
/// Returns `{"known", outcome, at_ms, retry_at_ms}` when the group has an outcome that is still
/// news to the caller (an `ok` at or after `since`, or a `failed` whose retry time is ahead),
/// `{"mine"}` when the caller now holds the lease (taken, or already its own: renewed), else
/// `{"elsewhere", pttl}`.
pub static CLAIM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local g = redis.call('HMGET', KEYS[2], 'outcome', 'at_ms', 'retry_at_ms')
if g[1] == 'ok' and tonumber(g[2]) >= tonumber(ARGV[3]) then
  return {'known', g[1], g[2], g[3] or '0'}
end
if g[1] == 'failed' and tonumber(g[2]) >= tonumber(ARGV[3])
   and tonumber(g[3]) > tonumber(ARGV[4]) then
  return {'known', g[1], g[2], g[3]}
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return {'mine'}
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {'mine'}
end
return {'elsewhere', tostring(redis.call('PTTL', KEYS[1]))}
"#,
    )
});

/// Renew a lease the caller holds. KEYS: lease. ARGV: engine id, TTL ms. Returns 1 if renewed,
/// 0 if the lease is gone or someone else's.
pub static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#,
    )
});

/// Record a probe outcome, give the lease back and publish the outcome.
///
/// KEYS: lease, group. ARGV: engine id, outcome (`ok`/`failed`), at ms, retry-at ms, record TTL
/// ms, channel, message. An outcome older than the recorded one is not written (but is still
/// published: listeners compare times themselves). Only the holder's lease is deleted.
/// Returns 1 when the record was written.
pub static FINISH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local written = 0
local cur = tonumber(redis.call('HGET', KEYS[2], 'at_ms') or '-1')
if tonumber(ARGV[3]) >= cur then
  redis.call('HSET', KEYS[2], 'outcome', ARGV[2], 'at_ms', ARGV[3], 'retry_at_ms', ARGV[4],
             'by', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  written = 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return written
"#,
    )
});

/// Share one decision record and announce it.
///
/// KEYS: the table's hash (`decisions:<table>`). ARGV: key, record JSON (empty: the key is
/// gone), record TTL ms, channel, message. Returns 1.
pub static SHARE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"#,
    )
});
