//! `policy`, `breaker` and `messageGuard` options.

use super::reader::OptionReader;
use crate::backoff::BackoffSchedule;
use crate::breaker::{BreakerConfig, MessageGuard};
use crate::error::{EngineError, EngineResult};
use crate::policy::{Mode, PolicyConfig, ReasonPolicy};
use crate::reason::Reason;
use crate::window::Window;

const DAY_MS: i64 = 86_400_000;
const YEAR_MS: i64 = 365 * DAY_MS;

/// Read `policy` (with per-reason overrides under `policy.reasons.<reason>`).
pub fn read_policy(r: &OptionReader<'_>) -> EngineResult<PolicyConfig> {
    r.deny_unknown(&[
        "jitter",
        "idleEvictMs",
        "maxKeys",
        "utcOffsetMinutes",
        "resetMarginMs",
        "hintMarginMs",
        "reasons",
    ])?;
    let mut cfg = PolicyConfig::default();
    if let Some(j) = r.number("jitter", 0.0, 1.0)? {
        cfg.jitter_ratio = j;
    }
    if let Some(v) = r.int("idleEvictMs", 1, 10 * YEAR_MS)? {
        cfg.idle_evict_ms = v;
    }
    if let Some(v) = r.int("maxKeys", 1, 100_000_000)? {
        cfg.max_keys = v as usize;
    }
    if let Some(v) = r.int("utcOffsetMinutes", -14 * 60, 14 * 60)? {
        cfg.utc_offset_minutes = v as i32;
    }
    if let Some(v) = r.int("resetMarginMs", 0, DAY_MS)? {
        cfg.reset_margin_ms = v;
    }
    if let Some(v) = r.int("hintMarginMs", 0, DAY_MS)? {
        cfg.hint_margin_ms = v;
    }
    let mut path = String::new();
    let reasons = r.object("reasons", &mut path)?;
    let names: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
    reasons.deny_unknown(&names)?;
    for reason in Reason::ALL {
        let mut p = String::new();
        let one = reasons.object(reason.as_str(), &mut p)?;
        if one.keys().is_empty() {
            continue;
        }
        let current = cfg.policy(reason);
        cfg = cfg.with_policy(reason, read_reason_policy(&one, current)?);
    }
    cfg.validate()?;
    Ok(cfg)
}

fn read_reason_policy(r: &OptionReader<'_>, mut p: ReasonPolicy) -> EngineResult<ReasonPolicy> {
    r.deny_unknown(&[
        "mode",
        "stopAfter",
        "backoffMs",
        "honourHint",
        "alertWindowMs",
        "disableMs",
        "disableMaxMs",
        "budgetWindow",
    ])?;
    if let Some(mode) = r.string("mode")? {
        p.mode = match mode.as_str() {
            "backoff" => Mode::Backoff,
            "park" => Mode::Park,
            "stop" => Mode::Stop,
            other => {
                return Err(EngineError::option(
                    r.child_path("mode"),
                    format!("expected \"backoff\", \"park\" or \"stop\", got {other:?}"),
                ))
            }
        };
    }
    if let Some(n) = r.int("stopAfter", 0, 1_000_000)? {
        p.stop_after = n as u32;
    }
    if let Some(steps) = r.int_list("backoffMs", 1, 10 * YEAR_MS)? {
        p.backoff = BackoffSchedule::new_for(&r.child_path("backoffMs"), steps)?;
    }
    if let Some(b) = r.bool("honourHint")? {
        p.honour_hint = b;
    }
    if let Some(v) = r.int("alertWindowMs", 0, 10 * YEAR_MS)? {
        p.alert_window_ms = v;
    }
    if let Some(v) = r.int("disableMs", 1, 10 * YEAR_MS)? {
        p.disable_ms = Some(v);
    }
    if let Some(v) = r.int("disableMaxMs", 1, 10 * YEAR_MS)? {
        p.disable_max_ms = v;
    }
    if let Some(w) = r.string("budgetWindow")? {
        p.budget_window = Some(parse_window(r, "budgetWindow", &w)?);
    }
    Ok(p)
}

/// Parse a window string, naming the field on error.
pub fn parse_window(r: &OptionReader<'_>, key: &str, text: &str) -> EngineResult<Window> {
    Window::parse(text).map_err(|e| EngineError::option(r.child_path(key), e.to_string()))
}

/// Read a breaker config (`breaker` or `messageGuard`) over `base`.
pub fn read_breaker(r: &OptionReader<'_>, mut cfg: BreakerConfig) -> EngineResult<BreakerConfig> {
    r.deny_unknown(&[
        "failureThreshold",
        "cooldownMs",
        "maxCooldownMs",
        "probeTimeoutMs",
        "idleEvictMs",
        "maxKeys",
    ])?;
    if let Some(v) = r.int("failureThreshold", 1, 1_000_000)? {
        cfg.failure_threshold = v as u32;
    }
    if let Some(v) = r.int("cooldownMs", 1, 10 * YEAR_MS)? {
        cfg.cooldown_ms = v;
    }
    if let Some(v) = r.int("maxCooldownMs", 1, 10 * YEAR_MS)? {
        cfg.max_cooldown_ms = v;
    }
    if let Some(v) = r.int("probeTimeoutMs", 1, 10 * YEAR_MS)? {
        cfg.probe_timeout_ms = v;
    }
    if let Some(v) = r.int("idleEvictMs", 1, 10 * YEAR_MS)? {
        cfg.idle_evict_ms = v;
    }
    if let Some(v) = r.int("maxKeys", 1, 100_000_000)? {
        cfg.max_keys = v as usize;
    }
    cfg.validate(r.path())?;
    Ok(cfg)
}

/// The message guard's defaults (threshold 1).
pub fn message_guard_defaults() -> BreakerConfig {
    MessageGuard::default_config()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overrides_one_reason_and_names_bad_fields() {
        let v = json!({"reasons": {"billing": {"stopAfter": 3, "backoffMs": [1000, 2000]}}, "jitter": 0.2});
        let r = OptionReader::new("policy", Some(&v)).unwrap();
        let cfg = read_policy(&r).unwrap();
        assert_eq!(cfg.policy(Reason::Billing).stop_after, 3);
        assert_eq!(
            cfg.policy(Reason::Billing).backoff.steps_ms(),
            &[1000, 2000]
        );
        assert_eq!(cfg.jitter_ratio, 0.2);
        assert_eq!(cfg.policy(Reason::Auth).stop_after, 1);

        let bad = json!({"reasons": {"billing": {"stopAfter": "x"}}});
        let e = read_policy(&OptionReader::new("policy", Some(&bad)).unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("policy.reasons.billing.stopAfter"),
            "{e}"
        );
        let bad = json!({"reasons": {"billng": {}}});
        let e = read_policy(&OptionReader::new("policy", Some(&bad)).unwrap()).unwrap_err();
        assert!(e.to_string().contains("policy.reasons.billng"), "{e}");
        let bad = json!({"reasons": {"quota": {"budgetWindow": "5x"}}});
        let e = read_policy(&OptionReader::new("policy", Some(&bad)).unwrap()).unwrap_err();
        assert!(
            e.to_string().contains("policy.reasons.quota.budgetWindow"),
            "{e}"
        );
    }

    #[test]
    fn cross_field_errors_name_the_option_path() {
        for (bad, field) in [
            (
                json!({"reasons": {"billing": {"stopAfter": 0}}}),
                "`policy.reasons.billing.stopAfter`",
            ),
            (
                json!({"reasons": {"auth": {"disableMs": 10, "disableMaxMs": 5}}}),
                "`policy.reasons.auth.disableMaxMs`",
            ),
        ] {
            let e = read_policy(&OptionReader::new("policy", Some(&bad)).unwrap()).unwrap_err();
            assert_eq!(e.code(), "E_INVALID_OPTION");
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
    }

    #[test]
    fn breaker_fields() {
        let v = json!({"failureThreshold": 2, "cooldownMs": 100});
        let cfg = read_breaker(
            &OptionReader::new("breaker", Some(&v)).unwrap(),
            BreakerConfig::default(),
        )
        .unwrap();
        assert_eq!(cfg.failure_threshold, 2);
        assert_eq!(cfg.cooldown_ms, 100);
        let v = json!({"failureThreshold": 0});
        let e = read_breaker(
            &OptionReader::new("breaker", Some(&v)).unwrap(),
            BreakerConfig::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("breaker.failureThreshold"));
    }
}
