//! Tunables for auth-profile cooldowns and disables.

use crate::error::{EngineError, EngineResult};

/// How long a profile rests after a failure. Every field has the default shown; the defaults
/// match OpenClaw's built-in auth-profile behaviour (rate-limit cooldown base 30 s max 24 h,
/// billing base 10 min, auth cooldown 30 s / 60 s / 300 s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileConfig {
    /// First cooldown after a `rate_limit`/`quota` failure without a provider hint; doubles per
    /// further rate-limit failure since the last success. Default `30_000` (30 s).
    pub rate_limit_base_ms: i64,
    /// Cap of the rate-limit cooldown. Default `86_400_000` (24 h).
    pub rate_limit_max_ms: i64,
    /// First disable after a `billing`/`auth_permanent` failure without a hint; doubles per
    /// further such failure since the last success. Default `600_000` (10 min).
    pub billing_base_ms: i64,
    /// Cap of the billing disable. Default `86_400_000` (24 h).
    pub billing_max_ms: i64,
    /// Cooldowns after the 1st, 2nd, 3rd… `auth` failure since the last success; the last step
    /// repeats. Default `[30_000, 60_000, 300_000]`.
    pub auth_cooldowns_ms: Vec<i64>,
}

impl Default for ProfileConfig {
    fn default() -> Self {
        Self {
            rate_limit_base_ms: 30_000,
            rate_limit_max_ms: 86_400_000,
            billing_base_ms: 600_000,
            billing_max_ms: 86_400_000,
            auth_cooldowns_ms: vec![30_000, 60_000, 300_000],
        }
    }
}

impl ProfileConfig {
    /// Check ranges: bases > 0, caps >= bases, at least one auth step, every step > 0.
    pub fn validate(&self) -> EngineResult<()> {
        positive("profiles.rateLimitBaseMs", self.rate_limit_base_ms)?;
        at_least(
            "profiles.rateLimitMaxMs",
            self.rate_limit_max_ms,
            self.rate_limit_base_ms,
            "profiles.rateLimitBaseMs",
        )?;
        positive("profiles.billingBaseMs", self.billing_base_ms)?;
        at_least(
            "profiles.billingMaxMs",
            self.billing_max_ms,
            self.billing_base_ms,
            "profiles.billingBaseMs",
        )?;
        if self.auth_cooldowns_ms.is_empty() {
            return Err(EngineError::option(
                "profiles.authCooldownsMs",
                "expected at least one cooldown step in ms, e.g. [30000, 60000, 300000]",
            ));
        }
        for (i, step) in self.auth_cooldowns_ms.iter().enumerate() {
            positive(&format!("profiles.authCooldownsMs[{i}]"), *step)?;
        }
        Ok(())
    }
}

fn positive(field: &str, value: i64) -> EngineResult<()> {
    if value > 0 {
        Ok(())
    } else {
        Err(EngineError::option(
            field,
            format!("expected a number of milliseconds > 0, got {value}"),
        ))
    }
}

fn at_least(field: &str, value: i64, min: i64, min_field: &str) -> EngineResult<()> {
    if value >= min {
        Ok(())
    } else {
        Err(EngineError::option(
            field,
            format!("expected >= `{min_field}` ({min} ms), got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_field() {
        ProfileConfig::default().validate().unwrap();
        let bad = ProfileConfig {
            rate_limit_max_ms: 10,
            ..ProfileConfig::default()
        };
        let e = bad.validate().unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("profiles.rateLimitMaxMs"), "{e}");
        let bad = ProfileConfig {
            auth_cooldowns_ms: vec![],
            ..ProfileConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("authCooldownsMs"));
        let bad = ProfileConfig {
            auth_cooldowns_ms: vec![5, 0],
            ..ProfileConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("authCooldownsMs[1]"));
        let bad = ProfileConfig {
            billing_base_ms: -1,
            ..ProfileConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("billingBaseMs"));
    }
}
