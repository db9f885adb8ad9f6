//! `queue`, `profiles` and `gateway` options.

use super::reader::OptionReader;
use crate::error::{EngineError, EngineResult};
use crate::gateway::GatewayConfig;
use crate::profiles::ProfileConfig;
use std::path::PathBuf;

const DAY_MS: i64 = 86_400_000;

/// Park-queue settings read from `queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    /// Most parked sessions; parking a new one beyond it fails with `E_QUEUE_FULL`.
    /// Default 10 000.
    pub max_entries: usize,
    /// Attempts after which a session is abandoned (event `abandoned`). Default 5.
    pub max_attempts: u32,
    /// An old `@cheapestinference/openclaw-ratelimit-retry` `queue.json` to import once.
    /// Default none.
    pub import_path: Option<PathBuf>,
    /// Journal records before compaction (at least twice the live entries). Default 1 000.
    pub compact_min_records: usize,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            max_entries: crate::state::file::queue::DEFAULT_MAX_ENTRIES,
            max_attempts: 5,
            import_path: None,
            compact_min_records: crate::state::file::queue::DEFAULT_COMPACT_MIN_RECORDS,
        }
    }
}

/// Read `queue`.
pub fn read_queue(r: &OptionReader<'_>) -> EngineResult<QueueSettings> {
    r.deny_unknown(&[
        "maxEntries",
        "maxAttempts",
        "importPath",
        "compactMinRecords",
    ])?;
    let mut s = QueueSettings::default();
    if let Some(v) = r.int("maxEntries", 1, 100_000_000)? {
        s.max_entries = v as usize;
    }
    if let Some(v) = r.int("maxAttempts", 1, 1_000_000)? {
        s.max_attempts = v as u32;
    }
    if let Some(v) = r.string("importPath")? {
        s.import_path = Some(PathBuf::from(v));
    }
    if let Some(v) = r.int("compactMinRecords", 1, 100_000_000)? {
        s.compact_min_records = v as usize;
    }
    Ok(s)
}

/// Read `profiles`.
pub fn read_profiles(r: &OptionReader<'_>) -> EngineResult<ProfileConfig> {
    r.deny_unknown(&[
        "rateLimitBaseMs",
        "rateLimitMaxMs",
        "billingBaseMs",
        "billingMaxMs",
        "authCooldownsMs",
    ])?;
    let mut c = ProfileConfig::default();
    if let Some(v) = r.int("rateLimitBaseMs", 1, 365 * DAY_MS)? {
        c.rate_limit_base_ms = v;
    }
    if let Some(v) = r.int("rateLimitMaxMs", 1, 365 * DAY_MS)? {
        c.rate_limit_max_ms = v;
    }
    if let Some(v) = r.int("billingBaseMs", 1, 365 * DAY_MS)? {
        c.billing_base_ms = v;
    }
    if let Some(v) = r.int("billingMaxMs", 1, 365 * DAY_MS)? {
        c.billing_max_ms = v;
    }
    if let Some(v) = r.int_list("authCooldownsMs", 1, 365 * DAY_MS)? {
        c.auth_cooldowns_ms = v;
    }
    c.validate()?;
    Ok(c)
}

/// Read `gateway`. `deviceIdentity: true` keeps the identity in `<stateDir>/device-identity.json`;
/// a string is a path of its own.
pub fn read_gateway(
    r: &OptionReader<'_>,
    state_dir: &std::path::Path,
) -> EngineResult<GatewayConfig> {
    r.deny_unknown(&[
        "url",
        "token",
        "password",
        "deviceIdentity",
        "clientId",
        "clientMode",
        "scopes",
        "requestTimeoutMs",
        "connectBudgetMs",
    ])?;
    let mut c = GatewayConfig::default();
    if let Some(v) = r.string("url")? {
        c.url = v;
    }
    c.token = r.string("token")?;
    c.password = r.string("password")?;
    match r.raw("deviceIdentity") {
        None | Some(serde_json::Value::Bool(false)) => {}
        Some(serde_json::Value::Bool(true)) => {
            c.device_identity = Some(state_dir.join("device-identity.json"))
        }
        Some(_) => c.device_identity = r.string("deviceIdentity")?.map(PathBuf::from),
    }
    if let Some(v) = r.string("clientId")? {
        c.client_id = v;
    }
    if let Some(v) = r.string("clientMode")? {
        c.client_mode = v;
    }
    if let Some(v) = r.raw("scopes") {
        let list = v.as_array().filter(|a| a.iter().all(|s| s.is_string()));
        let list = list.ok_or_else(|| {
            EngineError::option(r.child_path("scopes"), "expected an array of strings")
        })?;
        c.scopes = list
            .iter()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect();
    }
    if let Some(v) = r.int("requestTimeoutMs", 1, DAY_MS)? {
        c.request_timeout_ms = v as u64;
    }
    if let Some(v) = r.int("connectBudgetMs", 1, DAY_MS)? {
        c.connect_budget_ms = v as u64;
    }
    c.validate()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gateway_token_never_in_errors() {
        let v = json!({"url": "http://x", "token": "sekret-token-123"});
        let e = read_gateway(
            &OptionReader::new("gateway", Some(&v)).unwrap(),
            std::path::Path::new("/tmp"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("gateway.url"), "{e}");
        assert!(!e.to_string().contains("sekret"));
        let v = json!({"deviceIdentity": true});
        let c = read_gateway(
            &OptionReader::new("gateway", Some(&v)).unwrap(),
            std::path::Path::new("/st"),
        )
        .unwrap();
        assert_eq!(
            c.device_identity,
            Some(PathBuf::from("/st/device-identity.json"))
        );
    }

    #[test]
    fn queue_and_profiles() {
        let v = json!({"maxEntries": 2, "maxAttempts": 3});
        let q = read_queue(&OptionReader::new("queue", Some(&v)).unwrap()).unwrap();
        assert_eq!((q.max_entries, q.max_attempts), (2, 3));
        let v = json!({"maxEntries": -1});
        let e = read_queue(&OptionReader::new("queue", Some(&v)).unwrap()).unwrap_err();
        assert!(e.to_string().contains("queue.maxEntries"));
        let v = json!({"authCooldownsMs": []});
        let e = read_profiles(&OptionReader::new("profiles", Some(&v)).unwrap()).unwrap_err();
        assert!(e.to_string().contains("profiles.authCooldownsMs"));
    }
}
