//! Breaker thresholds and limits.

use crate::error::{EngineError, EngineResult};

/// Configuration of a [`super::BreakerRegistry`] (and of the [`super::MessageGuard`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a closed breaker. Default 5.
    pub failure_threshold: u32,
    /// First cooldown before an open breaker goes half-open, in ms. Default 30 000.
    pub cooldown_ms: i64,
    /// Cap of the cooldown, which doubles on each failed probe, in ms. Default 600 000.
    pub max_cooldown_ms: i64,
    /// A half-open probe that reports nothing for this long is presumed lost and another probe
    /// is allowed, in ms. Default 60 000.
    pub probe_timeout_ms: i64,
    /// Forget a key untouched for this long, whatever its state, in ms. Default 3 600 000.
    pub idle_evict_ms: i64,
    /// Most keys tracked; past it the least recently used is forgotten. Default 100 000.
    pub max_keys: usize,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            cooldown_ms: 30_000,
            max_cooldown_ms: 600_000,
            probe_timeout_ms: 60_000,
            idle_evict_ms: 3_600_000,
            max_keys: 100_000,
        }
    }
}

impl BreakerConfig {
    /// Check ranges; errors name `<prefix>.<field>` (e.g. `breaker.failureThreshold`).
    pub fn validate(&self, prefix: &str) -> EngineResult<()> {
        let field = |f: &str| format!("{prefix}.{f}");
        if self.failure_threshold == 0 {
            return Err(EngineError::option(
                field("failureThreshold"),
                "expected an integer >= 1",
            ));
        }
        if self.cooldown_ms <= 0 {
            return Err(EngineError::option(
                field("cooldownMs"),
                "expected a number of milliseconds > 0",
            ));
        }
        if self.max_cooldown_ms < self.cooldown_ms {
            return Err(EngineError::option(
                field("maxCooldownMs"),
                format!("expected milliseconds >= cooldownMs ({})", self.cooldown_ms),
            ));
        }
        if self.probe_timeout_ms <= 0 {
            return Err(EngineError::option(
                field("probeTimeoutMs"),
                "expected a number of milliseconds > 0",
            ));
        }
        if self.idle_evict_ms <= 0 {
            return Err(EngineError::option(
                field("idleEvictMs"),
                "expected a number of milliseconds > 0",
            ));
        }
        if self.max_keys == 0 {
            return Err(EngineError::option(
                field("maxKeys"),
                "expected an integer >= 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_name_the_field() {
        BreakerConfig::default().validate("breaker").unwrap();
        let bad = |c: BreakerConfig, f: &str| {
            let e = c.validate("breaker").unwrap_err();
            assert!(e.to_string().contains(f), "{e}");
        };
        let d = BreakerConfig::default;
        bad(
            BreakerConfig {
                failure_threshold: 0,
                ..d()
            },
            "breaker.failureThreshold",
        );
        bad(
            BreakerConfig {
                cooldown_ms: 0,
                ..d()
            },
            "breaker.cooldownMs",
        );
        bad(
            BreakerConfig {
                max_cooldown_ms: 1,
                ..d()
            },
            "breaker.maxCooldownMs",
        );
        bad(
            BreakerConfig {
                probe_timeout_ms: 0,
                ..d()
            },
            "breaker.probeTimeoutMs",
        );
        bad(
            BreakerConfig {
                idle_evict_ms: -1,
                ..d()
            },
            "breaker.idleEvictMs",
        );
        bad(BreakerConfig { max_keys: 0, ..d() }, "breaker.maxKeys");
    }
}
