//! Backoff schedules: how long to wait after the n-th consecutive failure.
//!
//! Jitter is applied by the caller with [`crate::jitter::Jitter::spread`] and
//! [`DEFAULT_JITTER_RATIO`] (±10%), so the schedule itself stays deterministic.

use crate::error::{EngineError, EngineResult};
use serde::{Deserialize, Serialize};

/// Default jitter ratio applied around a backoff step: `0.1` means 90%..110% of the step.
pub const DEFAULT_JITTER_RATIO: f64 = 0.1;

/// The default steps, OpenClaw cron's: 30 s, 1 min, 5 min, 15 min, 60 min.
pub const DEFAULT_STEPS_MS: [i64; 5] = [30_000, 60_000, 300_000, 900_000, 3_600_000];

/// A backoff schedule: the n-th consecutive failure waits `steps_ms[n - 1]`, and every
/// failure past the last step waits the last step.
/// Default `[30_000, 60_000, 300_000, 900_000, 3_600_000]` (OpenClaw cron's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackoffSchedule {
    steps_ms: Vec<i64>,
}

impl Default for BackoffSchedule {
    fn default() -> Self {
        Self {
            steps_ms: DEFAULT_STEPS_MS.to_vec(),
        }
    }
}

impl BackoffSchedule {
    /// A schedule from explicit steps. They must be non-empty, each > 0, and non-decreasing;
    /// otherwise `EngineError::InvalidOption` naming `backoff`.
    pub fn new(steps_ms: Vec<i64>) -> EngineResult<Self> {
        Self::validate_steps("backoff", &steps_ms)?;
        Ok(Self { steps_ms })
    }

    /// Same as [`BackoffSchedule::new`] but errors name `field` (e.g. `policy.rateLimit.backoff`).
    pub fn new_for(field: &str, steps_ms: Vec<i64>) -> EngineResult<Self> {
        Self::validate_steps(field, &steps_ms)?;
        Ok(Self { steps_ms })
    }

    fn validate_steps(field: &str, steps: &[i64]) -> EngineResult<()> {
        if steps.is_empty() {
            return Err(EngineError::option(
                field,
                "expected at least one step in milliseconds, e.g. [30000, 60000]",
            ));
        }
        if let Some((i, v)) = steps.iter().enumerate().find(|(_, v)| **v <= 0) {
            return Err(EngineError::option(
                field,
                format!("step {i} is {v}; every step must be a positive number of milliseconds"),
            ));
        }
        if let Some(i) = steps.windows(2).position(|w| w[1] < w[0]) {
            return Err(EngineError::option(
                field,
                format!(
                    "steps must not decrease, but step {} ({}) is below step {} ({})",
                    i + 1,
                    steps[i + 1],
                    i,
                    steps[i]
                ),
            ));
        }
        Ok(())
    }

    /// Re-check the invariants (used when a schedule arrives through deserialisation).
    pub fn validate(&self, field: &str) -> EngineResult<()> {
        Self::validate_steps(field, &self.steps_ms)
    }

    /// The steps in milliseconds.
    pub fn steps_ms(&self) -> &[i64] {
        &self.steps_ms
    }

    /// The wait after `consecutive_errors` failures in a row (counting the current one):
    /// 1 → first step, 2 → second, ...; clamps to the last step. `0` is treated as `1`.
    pub fn delay_for(&self, consecutive_errors: u32) -> i64 {
        let idx = (consecutive_errors.max(1) - 1) as usize;
        let idx = idx.min(self.steps_ms.len() - 1);
        self.steps_ms[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jitter::Jitter;

    #[test]
    fn default_is_openclaw_cron_schedule_and_clamps() {
        let s = BackoffSchedule::default();
        assert_eq!(s.delay_for(0), 30_000);
        assert_eq!(s.delay_for(1), 30_000);
        assert_eq!(s.delay_for(2), 60_000);
        assert_eq!(s.delay_for(3), 300_000);
        assert_eq!(s.delay_for(4), 900_000);
        assert_eq!(s.delay_for(5), 3_600_000);
        assert_eq!(s.delay_for(6), 3_600_000);
        assert_eq!(s.delay_for(u32::MAX), 3_600_000);
    }

    #[test]
    fn validation_rejects_bad_schedules_with_field_name() {
        let e = BackoffSchedule::new(vec![]).unwrap_err();
        assert_eq!(e.code(), "E_INVALID_OPTION");
        assert!(e.to_string().contains("at least one step"));
        let e = BackoffSchedule::new_for("policy.quota.backoff", vec![1_000, 0]).unwrap_err();
        assert!(e.to_string().contains("policy.quota.backoff"));
        assert!(e.to_string().contains("positive"));
        let e = BackoffSchedule::new(vec![1_000, 500]).unwrap_err();
        assert!(e.to_string().contains("must not decrease"));
        assert!(BackoffSchedule::new(vec![1_000, 1_000, 2_000]).is_ok());
    }

    #[test]
    fn caller_jitter_stays_within_ratio() {
        let s = BackoffSchedule::new(vec![10_000]).unwrap();
        let j = Jitter::seeded(7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = j.spread(s.delay_for(3), DEFAULT_JITTER_RATIO);
            assert!((9_000..=11_000).contains(&d), "{d}");
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter should spread the delays");
    }
}
