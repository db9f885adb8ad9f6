//! [`SchedulerConfig`]: timings and limits of the resume scheduler.

use crate::error::{EngineError, EngineResult};

/// How a probe (and every resend) is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbeConfirm {
    /// The resender's `Ok` (the gateway acknowledged `chat.send`) is success; the entry leaves
    /// the queue at once. Default.
    #[default]
    Ack,
    /// Success only when `SchedulerHandle::resolved(key)` is called. `failed(key, ..)` or no
    /// answer within `timeout_ms` of the probe's ack is a probe failure. Released entries
    /// wait in `AwaitingResult` for up to `SchedulerConfig::await_timeout_ms`.
    Resolve {
        /// How long a probe may wait for `resolved` after its ack (ms).
        timeout_ms: i64,
    },
    /// As [`ProbeConfirm::Resolve`], but the engine learns each resend's outcome itself: the
    /// gateway resender asks the gateway how the run its `chat.send` started ended
    /// (`agent.wait`) and the engine calls `resolve` (the run succeeded) or parks the session
    /// again with the run's error (it failed; its retry hint decides the next time). For an
    /// engine without the plugin's hooks (`scheduler.confirm: "run"`).
    Run {
        /// How long a probe may wait for its run's outcome after its ack (ms).
        timeout_ms: i64,
    },
}

impl ProbeConfirm {
    /// How long a probe waits for its outcome after its ack (ms); `None` in `Ack` mode.
    pub fn probe_timeout_ms(&self) -> Option<i64> {
        match *self {
            ProbeConfirm::Ack => None,
            ProbeConfirm::Resolve { timeout_ms } | ProbeConfirm::Run { timeout_ms } => {
                Some(timeout_ms)
            }
        }
    }
}

/// Scheduler settings. Every field has a default (see [`SchedulerConfig::default`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerConfig {
    /// How resends are confirmed. Default [`ProbeConfirm::Ack`].
    pub confirm: ProbeConfirm,
    /// After a probe succeeds, each other entry of its group gets a random start delay in
    /// `[0, release_spread_ms]`, on top of the adaptive release rate. Default 0: release at
    /// once, paced by `max_concurrent` and the rate.
    pub release_spread_ms: i64,
    /// When a probe succeeds, parked entries of its group due within this many ms are released
    /// with it (their due times differ from the probe's only by jitter, so each need not probe
    /// again); entries due later wait for their own window. Default 60_000.
    pub release_ahead_ms: i64,
    /// Most resends in flight at once, over all groups (entries waiting for a result do not
    /// count). Default 4.
    pub max_concurrent: usize,
    /// First wait before a group probes again after a failed probe that gave no retry time;
    /// doubles per consecutive failed probe of that group. Default 60_000.
    pub reprobe_backoff_ms: i64,
    /// Cap of the doubling reprobe wait. Default 3_600_000 (1 h).
    pub max_reprobe_backoff_ms: i64,
    /// How long a released entry waits in `AwaitingResult` (resolve mode) before it counts as
    /// failed. Default 600_000 (10 min).
    pub await_timeout_ms: i64,
    /// Most attempts per session, counting the original failed send; an entry that reaches it
    /// is removed with an `Abandoned` event. Default 5.
    pub max_attempts: u32,
    /// Message sent into a session when its entry's `meta.message` is not a string.
    /// Default `"Continue where you left off."`.
    pub resume_message: String,
    /// Wait before retrying after the queue store returned an error. Default 1_000.
    pub store_retry_ms: i64,
    /// When compare-and-send finds the failed run still running (the gateway retries it
    /// itself), check again after this many ms, counting no attempt. Default 5_000.
    pub still_running_recheck_ms: i64,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            confirm: ProbeConfirm::Ack,
            release_spread_ms: 0,
            release_ahead_ms: 60_000,
            max_concurrent: 4,
            reprobe_backoff_ms: 60_000,
            max_reprobe_backoff_ms: 3_600_000,
            await_timeout_ms: 600_000,
            max_attempts: 5,
            resume_message: "Continue where you left off.".to_string(),
            store_retry_ms: 1_000,
            still_running_recheck_ms: 5_000,
        }
    }
}

impl SchedulerConfig {
    /// Check ranges; the error names the offending `scheduler.*` option.
    pub fn validate(&self) -> EngineResult<()> {
        let non_negative = [
            ("scheduler.releaseSpreadMs", self.release_spread_ms),
            ("scheduler.releaseAheadMs", self.release_ahead_ms),
            ("scheduler.awaitTimeoutMs", self.await_timeout_ms),
        ];
        for (field, v) in non_negative {
            if v < 0 {
                return Err(EngineError::option(
                    field,
                    format!("expected ms >= 0, got {v}"),
                ));
            }
        }
        let positive = [
            ("scheduler.reprobeBackoffMs", self.reprobe_backoff_ms),
            ("scheduler.maxReprobeBackoffMs", self.max_reprobe_backoff_ms),
            ("scheduler.storeRetryMs", self.store_retry_ms),
            (
                "scheduler.stillRunningRecheckMs",
                self.still_running_recheck_ms,
            ),
        ];
        for (field, v) in positive {
            if v <= 0 {
                return Err(EngineError::option(
                    field,
                    format!("expected ms > 0, got {v}"),
                ));
            }
        }
        if self.max_reprobe_backoff_ms < self.reprobe_backoff_ms {
            return Err(EngineError::option(
                "scheduler.maxReprobeBackoffMs",
                "must be >= scheduler.reprobeBackoffMs",
            ));
        }
        if self.max_concurrent == 0 {
            return Err(EngineError::option(
                "scheduler.maxConcurrent",
                "expected an integer >= 1",
            ));
        }
        if self.max_attempts == 0 {
            return Err(EngineError::option(
                "scheduler.maxAttempts",
                "expected an integer >= 1",
            ));
        }
        if let Some(timeout_ms) = self.confirm.probe_timeout_ms() {
            if timeout_ms <= 0 {
                return Err(EngineError::option(
                    "scheduler.probeTimeoutMs",
                    format!("expected ms > 0, got {timeout_ms}"),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_option() {
        SchedulerConfig::default().validate().unwrap();
        let bad = SchedulerConfig {
            max_concurrent: 0,
            ..Default::default()
        };
        let err = bad.validate().unwrap_err();
        assert_eq!(err.code(), "E_INVALID_OPTION");
        assert!(err.to_string().contains("scheduler.maxConcurrent"));
        let bad = SchedulerConfig {
            confirm: ProbeConfirm::Resolve { timeout_ms: 0 },
            ..Default::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("probeTimeoutMs"));
        let bad = SchedulerConfig {
            max_reprobe_backoff_ms: 10,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
